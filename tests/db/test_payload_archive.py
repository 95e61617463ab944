"""Raw payload archive (issue #18): old payload bytes move to checked files, the story and the audit chain keep them."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.domain import clock
from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.services import audit, payload_archive
from app.services.trace import order_story, render_story
from tests.conftest import STAFF_PASSWORD
from tests.support.factories import make_order

REPO = Path(__file__).resolve().parents[2]
ADMIN = Actor("liu.gong", "归档测试", "10.20.9.9")


def _payloads(hub, ages_days: list[int], order_no: str | None = None, status: str = "parsed") -> dict[int, bytes]:
    """Raw payloads received ``ages_days`` ago (linked to ``order_no``); returns id → body."""
    made = {}
    with hub.engine.begin() as conn:
        oid = conn.scalar(sa.text("SELECT id FROM orders WHERE order_no = :n"), {"n": order_no}) if order_no else None
        for n, age in enumerate(ages_days):
            body = json.dumps({"tid": f"T{age}-{n}", "note": "买家留言：周末送货", "pad": "x" * (n % 7)},
                              ensure_ascii=False).encode()
            pid = conn.scalar(sa.text(
                "INSERT INTO raw_payloads (source, kind, body, sha256, status, order_id, received_at)"
                " VALUES ('douyin', 'order', :b, :h, :s, :o, :at) RETURNING id"),
                {"b": body, "h": hashlib.sha256(body).hexdigest(), "s": status, "o": oid,
                 "at": clock.now() - timedelta(days=age, minutes=n)})
            made[pid] = body
    return made


def _state(hub) -> dict[int, tuple[bytes, str | None]]:
    with hub.engine.connect() as conn:
        return {r.id: (bytes(r.body), r.archive_file) for r in conn.execute(
            sa.text("SELECT id, body, archive_file FROM raw_payloads"))}


def _every_body_is_somewhere(hub, folder: Path, bodies: dict[int, bytes]) -> None:
    """Each payload is either still in the table or in the checked file its row names."""
    for pid, (body, file) in _state(hub).items():
        if file is None:
            assert body == bodies[pid]
        else:
            assert body == b""
            assert payload_archive.read_archived(hub.uow(), ADMIN, pid, folder) == bodies[pid]


def test_old_payloads_move_to_files_the_story_says_where_and_one_comes_back(hub, tmp_path):
    order_no, _ = make_order(hub)
    old = _payloads(hub, [200, 150, 120], order_no)
    young = _payloads(hub, [30, 1], order_no)
    quarantined = _payloads(hub, [300], status="quarantined")
    folder = tmp_path / "archive"
    run = payload_archive.archive(hub.uow, ADMIN, before=clock.now(), retention_days=90, folder=folder, batch=2)
    assert run.archived == 3 and len(run.files) == 2 and run.skipped == 0  # batches of two: two files
    state = _state(hub)
    assert all(state[p] [0] == b"" and state[p][1] for p in old)
    assert all(state[p] == (young[p], None) for p in young)  # within the retention: stays
    assert all(state[p] == (quarantined[p], None) for p in quarantined)  # quarantined: stays until resolved
    assert {f.name for f in run.files} == {state[p][1] for p in old}
    for f in run.files:  # each file's sha256 is the one the audit record keeps
        assert hashlib.sha256((folder / f.name).read_bytes()).hexdigest() == f.sha256
    _every_body_is_somewhere(hub, folder, old | young | quarantined)
    assert audit.verify(hub.uow()).ok
    records = audit.history(hub.uow(), "payload_archive", run.files[0].name)
    assert records[0]["after"]["file_sha256"] == run.files[0].sha256 and records[0]["after"]["count"] == 2

    story = render_story(order_story(hub.uow(), order_no))
    first = min(old)
    assert f"原始报文已归档（文件 {state[first][1]}" in story
    assert story.count("收到平台原始报文") == 5
    assert "Raw payload archived (file" in render_story(order_story(hub.uow(), order_no), "en")

    again = payload_archive.archive(hub.uow, ADMIN, before=clock.now(), retention_days=90, folder=folder)
    assert again.archived == 0 and again.files == []  # a second run finds nothing more to move
    assert _state(hub) == state

    assert payload_archive.restore(hub.uow(), ADMIN, first, folder) == state[first][1]
    assert _state(hub)[first] == (old[first], None)
    assert "原始报文已归档" not in render_story(order_story(hub.uow(), order_no)).split(f"#{first}")[1].split("\n")[1]
    with pytest.raises(BusinessError) as caught:
        payload_archive.restore(hub.uow(), ADMIN, first, folder)
    assert caught.value.code == "PAYLOAD_NOT_ARCHIVED"
    assert audit.verify(hub.uow()).ok


def test_before_and_the_retention_both_bound_what_moves(hub, tmp_path):
    bodies = _payloads(hub, [400, 200, 100])
    folder = tmp_path / "archive"
    run = payload_archive.archive(hub.uow, ADMIN, before=clock.now() - timedelta(days=300), retention_days=90,
                                  folder=folder)
    assert run.archived == 1  # only the one older than the date asked for
    run = payload_archive.archive(hub.uow, ADMIN, before=clock.now(), retention_days=150, folder=folder)
    assert run.archived == 1  # the 100-day-old one is inside a 150-day retention
    assert [pid for pid, (_, f) in _state(hub).items() if f is None] == [max(bodies)]


def test_a_payload_whose_bytes_do_not_match_its_hash_stays_and_the_rest_still_move(hub, tmp_path):
    bodies = _payloads(hub, [300, 299, 298, 297, 296])
    spoilt = sorted(bodies)[:2]  # the two oldest: a whole first batch of two that cannot be archived
    with hub.engine.begin() as conn:
        conn.execute(sa.text("UPDATE raw_payloads SET body = 'changed'::bytea WHERE id = ANY(:i)"), {"i": spoilt})
    run = payload_archive.archive(hub.uow, ADMIN, before=clock.now(), retention_days=90, folder=tmp_path / "a",
                                  batch=2)
    assert (run.archived, run.skipped) == (3, 2)
    assert {pid for pid, (_, f) in _state(hub).items() if f is None} == set(spoilt)


def test_only_a_role_holding_the_permission_archives_and_a_refusal_changes_nothing(hub, tmp_path):
    bodies = _payloads(hub, [200])
    for login in ("xiaomei", "zhou.zj"):  # customer service, supervisor
        with pytest.raises(BusinessError) as caught:
            payload_archive.archive(hub.uow, Actor(login, "站"), before=clock.now(), retention_days=90,
                                    folder=tmp_path / "a")
        assert caught.value.code == "NOT_PERMITTED"
        assert "归档与取回原始报文" in caught.value.message("zh")
    assert _state(hub) == {pid: (b, None) for pid, b in bodies.items()}
    assert not (tmp_path / "a").exists()


def test_a_damaged_archive_file_is_refused_on_restore_and_the_row_keeps_its_place(hub, tmp_path):
    bodies = _payloads(hub, [200])
    folder = tmp_path / "archive"
    run = payload_archive.archive(hub.uow, ADMIN, before=clock.now(), retention_days=90, folder=folder)
    (pid,) = bodies
    path = folder / run.files[0].name
    entry = json.loads(gzip.decompress(path.read_bytes()))
    entry["body"] = "dGFtcGVyZWQ="  # "tampered": no longer the bytes the sha256 names
    path.write_bytes(gzip.compress(json.dumps(entry).encode() + b"\n"))
    with pytest.raises(BusinessError) as caught:
        payload_archive.restore(hub.uow(), ADMIN, pid, folder)
    assert caught.value.code == "PAYLOAD_ARCHIVE_MISMATCH" and run.files[0].name in caught.value.message("zh")
    path.unlink()
    with pytest.raises(BusinessError) as caught:
        payload_archive.restore(hub.uow(), ADMIN, pid, folder)
    assert caught.value.code == "PAYLOAD_ARCHIVE_UNREADABLE"
    assert _state(hub)[pid] == (b"", run.files[0].name)


_KILLED_RUN = """
import sys, time
from pathlib import Path
from app.bootstrap import bootstrap
from app.domain.actor import Actor
from app.domain import clock
from app.services import payload_archive
from app.settings import Settings
url, folder, stop_at, after = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
hub = bootstrap(Settings(database_url=url, data_dir=folder.parent), upgrade=False)
seen = []
def step(name, file):
    seen.append(name)
    if name == stop_at and seen.count(name) == after:
        print("STOPPED", file, flush=True)
        time.sleep(600)
payload_archive.archive(hub.uow, Actor("liu.gong", "归档任务"), before=clock.now(), retention_days=90, folder=folder,
                        batch=3, on_step=step)
"""


@pytest.mark.parametrize("stop_at,after", [("written", 1), ("committed", 1), ("written", 2)])
def test_a_run_killed_mid_archive_loses_nothing_and_the_next_run_finishes(hub, tmp_path, stop_at, after):
    bodies = _payloads(hub, [200 + n for n in range(8)])
    folder = tmp_path / "archive"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, hub.engine.url.render_as_string(hide_password=False),
                             str(folder), stop_at, str(after)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("STOPPED"), line
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        proc.stdout.close()
    stopped_file = line.split()[1]
    assert (folder / stopped_file).exists()
    archived = {pid for pid, (_, f) in _state(hub).items() if f}
    assert len(archived) == {("written", 1): 0, ("committed", 1): 3, ("written", 2): 3}[(stop_at, after)]
    _every_body_is_somewhere(hub, folder, bodies)
    run = payload_archive.archive(hub.uow, ADMIN, before=clock.now(), retention_days=90, folder=folder, batch=3)
    assert run.archived == 8 - len(archived)
    assert all(f for _, f in _state(hub).values())
    _every_body_is_somewhere(hub, folder, bodies)
    assert not list(folder.glob("*.part"))
    assert audit.verify(hub.uow()).ok


def _cli(hub, tmp_path, *args):
    env = os.environ | {"ORDERHUB_DATABASE_URL": hub.engine.url.render_as_string(hide_password=False),
                        "ORDERHUB_DATA_DIR": str(tmp_path), "ORDERHUB_PAYLOAD_RETENTION_DAYS": "60",
                        "ORDERHUB_USER": "liu.gong", "ORDERHUB_PASSWORD": STAFF_PASSWORD}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_command_line_archives_by_date_and_restores_one(hub, tmp_path):
    bodies = _payloads(hub, [100, 90, 10])
    day = clock.local(clock.now()).date().isoformat()
    done = _cli(hub, tmp_path, "payloads", "archive", "--before", day)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "已归档 2 条原始报文" in done.stdout and str(tmp_path / "payload-archive") in done.stdout
    first = min(bodies)
    back = _cli(hub, tmp_path, "payloads", "restore", str(first))
    assert back.returncode == 0 and f"原始报文 #{first} 已从归档文件" in back.stdout, back.stdout + back.stderr
    assert _state(hub)[first] == (bodies[first], None)
    missing = _cli(hub, tmp_path, "payloads", "restore", "987654")
    assert missing.returncode == 2 and "找不到原始报文「987654」" in missing.stderr
    wrong = _cli(hub, tmp_path, "payloads", "archive", "--before", "12/01")
    assert wrong.returncode == 2 and "12/01" in wrong.stderr
