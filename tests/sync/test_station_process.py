"""Real station processes: killed while writing its outbox, two stations on one order at once."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.sync.local_db import LocalDb
from app.sync.outbox import Outbox
from tests.support.factories import make_order
from tests.sync.conftest import wait_for, wait_online

REPO = Path(__file__).resolve().parents[2]


def _spawn(url, folder, *extra):
    return subprocess.Popen([sys.executable, "-m", "tests.sync.station_proc", "--url",
                             url.render_as_string(hide_password=False), "--dir", str(folder), *extra],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=os.environ | {"QT_QPA_PLATFORM": "offscreen"})


def _events(proc):
    for line in proc.stdout:
        yield json.loads(line)


@pytest.mark.slow
def test_a_station_killed_while_writing_its_outbox_keeps_every_saved_command(hub, tmp_path, make_station):
    order_no, version = make_order(hub, "paid")
    proc = _spawn(hub.engine.url, tmp_path / "killed", "--no-start")
    events = _events(proc)
    assert next(events)["ev"] == "ready"
    proc.stdin.write(json.dumps({"op": "burst", "n": 100000, "order_no": order_no, "version": version}) + "\n")
    proc.stdin.flush()
    saved = []
    for event in events:
        if event["ev"] != "saved":
            continue
        saved.append(event["id"])
        if len(saved) == 300:
            proc.send_signal(signal.SIGKILL)  # mid-burst: a command may be half written right now
            break
    proc.wait(10)
    tail = [json.loads(line) for line in proc.stdout.read().splitlines() if line.strip()]
    proc.stdout.close()
    proc.stdin.close()
    saved += [e["id"] for e in tail if e["ev"] == "saved"]
    path = tmp_path / "killed" / "station.sqlite3"
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = [str(e.command.id) for e in Outbox(LocalDb(path)).all()]
    assert kept[:len(saved)] == saved  # every command reported saved is there, in order
    assert len(kept) <= len(saved) + 1  # at most the one being written when the process died
    # restarted, the station replays all of them, each once
    station = make_station(hub.engine.url, name="killed")
    wait_online(station, 60)
    with hub.engine.connect() as conn:
        note, final = conn.execute(sa.text("SELECT seller_note, version FROM orders WHERE order_no = :o"),
                                   {"o": order_no}).one()
    assert final == version + len(kept) and len(note.splitlines()) == len(kept)
    assert [line.rsplit(" ", 1)[-1] for line in note.splitlines()] == [f"连发{n:05d}" for n in range(len(kept))]


@pytest.mark.slow
def test_two_stations_changing_one_order_at_once_one_wins_and_the_other_is_told(hub, make_station):
    order_no, version = make_order(hub, "paid")
    a, b = make_station(hub.engine.url, name="A", start=False), make_station(hub.engine.url, name="B", start=False)
    from tests.sync.test_commands import CS

    a.submit(CS, "order.cancel", {"order_no": order_no, "expected_version": version, "basis": "客户来电取消"})
    b.submit(CS, "order.change_address", {"order_no": order_no, "expected_version": version, "basis": "客户微信",
                                          "receiver_name": "李雷", "receiver_phone": "13900001111",
                                          "receiver_address": "浙江省杭州市西湖区文一路1号"})
    a.start(), b.start()
    wait_for(lambda: not a.status.pending and not b.status.pending, 20, "both replayed")
    outcomes = {s: s.outbox.all()[0] for s in (a, b)}
    states = sorted(e.state for e in outcomes.values())
    assert states == ["accepted", "rejected"]
    loser = next(e for e in outcomes.values() if e.state == "rejected")
    assert loser.result["code"] == "VERSION_CONFLICT" and loser.result["now"]["version"] == version + 1
    with hub.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT status, version, receiver_name FROM orders WHERE order_no = :o"),
                           {"o": order_no}).one()
        records = conn.scalar(sa.text("SELECT count(*) FROM applied_commands"))
    winner = next(e for e in outcomes.values() if e.state == "accepted")
    if winner.command.name == "order.cancel":
        assert row.status == "cancelled" and row.receiver_name != "李雷"
    else:
        assert row.status == "paid" and row.receiver_name == "李雷"
    assert records == 2
    # both stations' caches converge on the winner's state
    wait_for(lambda: a.cache.get(order_no).version == b.cache.get(order_no).version == row.version, 10, "converge")
