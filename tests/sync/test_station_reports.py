"""Stations report to the server: a heartbeat from a real station process, printer failures through the outbox."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.domain import clock
from app.domain.actor import Actor
from app.services import stations
from app.services.health import Span
from app.sync import applier
from app.sync.commands import Command
from app.sync.print_reports import PrintFailureReporter
from printers.backends import NetworkBackend
from printers.queue import PrintQueue
from tests.printers.fake_printer import FakePrinter
from tests.sync.conftest import wait_for
from tests.auth.conftest import actor_of

SUP = actor_of("supervisor")  # health is read by someone holding health.view

REPO = Path(__file__).resolve().parents[2]
PICKER = Actor("li.sf", "仓库工作站-01")


class StepClock:
    """The print queue's clock, moved by the test past each retry pause."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def _beats(hub, station: str) -> list:
    with hub.engine.connect() as conn:
        return conn.execute(sa.text("SELECT seen_at, operator, operator_role, roles, app_version, pending_outbox, "
                                    "every_seconds FROM station_heartbeats WHERE station = :s"), {"s": station}).all()


def test_a_station_process_beats_on_the_server_and_shows_offline_two_intervals_after_it_is_killed(hub, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "tests.sync.station_proc", "--url",
                             hub.engine.url.render_as_string(hide_password=False), "--dir", str(tmp_path / "st"),
                             "--name", "打包台-03", "--heartbeat", "1", "--operator", "li.sf", "--role", "picker"],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=os.environ | {"QT_QPA_PLATFORM": "offscreen"})
    try:
        assert json.loads(proc.stdout.readline())["ev"] == "ready"
        first = wait_for(lambda: _beats(hub, "打包台-03"), 30, "the first heartbeat")[0]
        # it keeps beating: a later beat moves "last seen" on
        later = wait_for(lambda: [b for b in _beats(hub, "打包台-03") if b.seen_at > first.seen_at], 30,
                         "a second heartbeat")[0]
        assert (later.operator, later.operator_role, later.roles, later.every_seconds) == ("li.sf", "picker",
                                                                                           ["picker"], 1)
        assert later.app_version and later.pending_outbox == 0
    finally:
        proc.send_signal(signal.SIGKILL)  # no goodbye: the server only notices the silence
        proc.wait(10)
        proc.stdin.close()
        proc.stdout.close()
    last = _beats(hub, "打包台-03")[0].seen_at
    time.sleep(1.5)  # longer than its interval: a live station would have beaten again
    assert _beats(hub, "打包台-03")[0].seen_at == last
    with clock.set_to(last + timedelta(seconds=2)):  # two intervals: still given the benefit of the doubt
        (seen,) = stations.stations(hub.uow(), SUP, clock.now())
        assert seen.online and seen.operator == "li.sf"
    with clock.set_to(last + timedelta(seconds=2.5)):
        (seen,) = stations.stations(hub.uow(), SUP, clock.now())
        assert not seen.online and seen.silent_seconds == pytest.approx(2.5)


def test_the_heartbeat_carries_the_outbox_still_waiting_and_each_station_its_own_interval(hub, make_station):
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a fixed moment for the business clock; nothing compares it with the wall
    beat = lambda name, every: lambda pending: stations.Heartbeat(  # noqa: E731
        name, ("cs", "cs_lead"), "xiaomei", "小美", "cs", "0.1.0", pending, every)
    offline = make_station("postgresql+psycopg://nobody@127.0.0.1:1/none", name="客服-07", start=False,
                           heartbeat=beat("客服-07", 30), heartbeat_every=30, connect_timeout=1)
    for n in range(3):  # made while the server cannot be reached: they wait in the outbox
        offline.submit(Actor("xiaomei", "客服-07"), "order.add_warehouse_note",
                       {"order_no": "NONE-1", "expected_version": 1, "text": f"备注{n}"})
    offline.stop()
    with clock.set_to(now):
        station = make_station(hub.engine.url, name="客服-07", start=False, heartbeat=beat("客服-07", 30),
                               heartbeat_every=30)
        station.sync_once()  # beats first (three waiting), then replays them
        quick = make_station(hub.engine.url, name="客服-08", start=False, heartbeat=beat("客服-08", 5),
                             heartbeat_every=5)
        quick.sync_once()
    (row,) = _beats(hub, "客服-07")
    assert row.pending_outbox == 3 and row.roles == ["cs", "cs_lead"]
    with clock.set_to(now + timedelta(seconds=30)):
        assert {s.station: s.online for s in stations.stations(hub.uow(), SUP, clock.now())} == {"客服-07": True,
                                                                                          "客服-08": False}
    with clock.set_to(now + timedelta(seconds=61)):
        assert [s.online for s in stations.stations(hub.uow(), SUP, clock.now())] == [False, False]


@pytest.fixture
def printer():
    fake = FakePrinter()
    yield fake
    fake.close()


def _failures(hub) -> list:
    with hub.engine.connect() as conn:
        return conn.execute(sa.text("SELECT station, printer, reason, order_no, attempt, operator FROM print_failures "
                                    "ORDER BY id")).all()


def test_printer_failures_reach_the_server_through_the_outbox_once_each_even_after_a_day_offline(
        hub, make_station, tmp_path, printer):
    step = StepClock()
    queue = PrintQueue(tmp_path / "print_queue.sqlite3", NetworkBackend("127.0.0.1", printer.port, timeout=5,
                                                                         name="拣货打印机"), clock=step)
    # the server cannot be reached: failures still land in the station's outbox
    cut_off = make_station("postgresql+psycopg://nobody@127.0.0.1:1/none", name="仓库工作站-01", start=False,
                           connect_timeout=1)
    reporter = PrintFailureReporter(queue, cut_off, PICKER, printer="拣货打印机")
    queue.on_failure = reporter.forward
    printer.state = "paper_out"
    queue.submit("TB2026112500001234", b"\x1b@slip-1\n")
    queue.run_once()
    step.now += 120
    queue.run_once()
    printer.state = "cover_open"
    step.now += 120
    queue.run_once()
    assert [e.command.name for e in cut_off.outbox.pending()] == ["station.print_failure"] * 3
    # the station died after writing the outbox but before marking them handed on: handed on again, no twin
    with sqlite3.connect(tmp_path / "print_queue.sqlite3") as db:
        db.execute("UPDATE print_failures SET reported = 0")
    assert reporter.forward() == 3
    assert len(cut_off.outbox.pending()) == 3
    with pytest.raises(Exception):  # noqa: B017 - any network error: offline
        cut_off.sync_once()
    cut_off.stop()
    station = make_station(hub.engine.url, name="仓库工作站-01", start=False)
    station.sync_once()
    assert [(r.reason, r.attempt) for r in _failures(hub)] == [
        ("PRINTER_PAPER_OUT", 1), ("PRINTER_PAPER_OUT", 2), ("PRINTER_COVER_OPEN", 3)]
    assert {(r.station, r.printer, r.order_no, r.operator) for r in _failures(hub)} == {
        ("仓库工作站-01", "拣货打印机", "TB2026112500001234", "li.sf")}
    # a replay of an applied command, and the same failure under another command id, change nothing
    entry = station.outbox.all()[0]
    assert applier.apply(station.session_factory, entry.command).duplicate
    twin = Command("station.print_failure", entry.command.args, "li.sf", "仓库工作站-01")
    assert applier.apply(station.session_factory, twin).accepted
    assert len(_failures(hub)) == 3
    span = Span.of(datetime.fromtimestamp(step.now, UTC) - timedelta(hours=1), datetime.fromtimestamp(step.now, UTC)
                   + timedelta(hours=1))
    groups = {(g.station, g.printer, g.reason): g.count for g in stations.print_failure_groups(hub.uow(), SUP, span)}
    assert groups == {("仓库工作站-01", "拣货打印机", "PRINTER_PAPER_OUT"): 2,
                      ("仓库工作站-01", "拣货打印机", "PRINTER_COVER_OPEN"): 1}
    listed = stations.print_failures(hub.uow(), SUP, span, station="仓库工作站-01", reason="PRINTER_PAPER_OUT")
    assert [f.attempt for f in listed] == [2, 1]  # newest first
    # the slip itself is still waiting and prints once the cover is shut (nothing lost, nothing doubled)
    printer.state = "online"
    step.now += 300
    assert [j.order_no for j in queue.run_once()] == ["TB2026112500001234"]
    queue.close()


@pytest.mark.parametrize(("args", "code"), [
    ({"printer": "拣货打印机", "job_id": "j-1", "attempt": 1, "failed_at": 1.0e9}, "PRINT_FAILURE_INCOMPLETE"),
    ({"printer": "拣货打印机", "job_id": "j-1", "attempt": 1, "reason": "PRINTER_PAPER_OUT", "failed_at": "昨天"},
     "PRINT_FAILURE_INCOMPLETE"),
])
def test_a_malformed_failure_report_is_refused_in_words_and_recorded_never_crashing_the_replay(hub, make_station,
                                                                                                args, code):
    station = make_station(hub.engine.url, name="仓库工作站-02", start=False)
    station.submit(PICKER, "station.print_failure", args)
    station.sync_once()
    (entry,) = station.outbox.rejected()
    assert entry.result["code"] == code
    text = applier.refusal_text(entry.command.name, None, entry.result, "zh")
    assert "上报打印故障" in text and "station.print_failure" not in text and "Error" not in text
    assert _failures(hub) == []
