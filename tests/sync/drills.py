"""The station ↔ database fault drills, written once: the suite runs them small, tests/benchmarks/drill_station.py at full size.

Each drill returns its figures (counts, seconds); ``lost``, ``doubled``, ``out_of_order`` and
``divergent`` must be 0. The caller owns the database, the server and the station factory.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.domain.actor import Actor
from app.sync.cache import OrderCache, Scope
from app.sync.commands import Command
from app.sync.local_db import LocalDb
from app.sync.outbox import Outbox
from app.sync.station_sync import OFFLINE, ONLINE, StationSync
from tests.sync.divergence import applied_counts, divergent_rows, note_lines

CS = Actor("xiaomei", "客服工作台-01", "10.20.1.17")
REPO = Path(__file__).resolve().parents[2]
Placed = list[tuple[str, int]]


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> float:
    """Poll until ``condition`` holds; the seconds it took (real time: the worker runs on its own)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Notes:
    """Numbered warehouse notes spread over a few orders: what was made, to compare with what landed."""

    def __init__(self, placed: Placed) -> None:
        self.placed, self.made = placed, 0

    def args(self) -> dict[str, Any]:
        order_no, version = self.placed[self.made % len(self.placed)]
        text = f"第{self.made:05d}条"
        self.made += 1
        return {"order_no": order_no, "expected_version": version, "text": text}

    def submit(self, station: StationSync, n: int) -> list[float]:
        """``n`` notes through the station; the seconds each took to be saved on the station."""
        took = []
        for _ in range(n):
            start = time.perf_counter()
            station.submit(CS, "order.add_warehouse_note", self.args())
            took.append(time.perf_counter() - start)
        return took

    def verdict(self, engine: sa.Engine, cache: OrderCache) -> dict[str, int]:
        """Lost, doubled, out of order (per order, against the order made) and divergent cache rows."""
        lost = doubled = out_of_order = 0
        for k, (order_no, _) in enumerate(self.placed):
            want = [f"第{n:05d}条" for n in range(k, self.made, len(self.placed))]
            have = note_lines(engine, order_no)
            lost += len(set(want) - set(have))
            doubled += len(have) - len(set(have))
            out_of_order += int(list(dict.fromkeys(have)) != [w for w in want if w in have])
        records, distinct = applied_counts(engine)
        return {"commands": self.made, "applied": records, "lost": lost, "doubled": doubled + records - distinct,
                "out_of_order": out_of_order, "divergent": converge(cache, engine)}


def converge(cache: OrderCache, engine: sa.Engine, timeout: float = 30.0) -> int:
    """Divergent rows left after waiting up to ``timeout`` for the station's pulls to catch up."""
    deadline = time.monotonic() + timeout
    while (rows := divergent_rows(cache, engine)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return len(rows)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else (values[0] if values else 0.0)


# --- the server fails: stopped hard, its backends terminated, frozen -------------------------------------------
def postgres_processes(pgdata: Path) -> list[int]:
    """The postmaster and every process it started (to freeze the whole server, not just its door)."""
    postmaster = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(entry.name))
    return [postmaster, *children]


def terminate_backends(admin_url: sa.URL, database: str) -> int:
    """``pg_terminate_backend`` on every session of ``database`` (the station's included), as an operator would."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            return int(conn.scalar(sa.text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": database}) or 0)
    finally:
        admin.dispose()


def server_faults(pg: Any, engine: sa.Engine, station: StationSync, placed: Placed, fault: str, *, cycles: int,
                  per_cycle: int = 150, offline_writes: int = 20, hold: float = 3.0) -> dict[str, Any]:
    """``cycles`` times: a replay under way, then the fault; work taken meanwhile; then recovery and drain.

    ``fault``: ``immediate`` (pg_ctl stop -m immediate, then start), ``terminate`` (pg_terminate_backend
    mid-batch) or ``freeze`` (SIGSTOP on every server process for ``hold`` seconds, then SIGCONT).
    """
    notes, states = Notes(placed), []
    station.on_status = lambda s: states.append(s.state)
    notes.submit(station, per_cycle)
    station.start()
    drain, writes, terminated, went_offline = [], [], 0, 0
    for _ in range(cycles):
        wait_for(lambda: station.outbox.counts().get("pending", 0) < notes.made - 5 or not station.status.pending,
                 60, "a replay under way")
        mark = len(states)
        if fault == "terminate":
            terminated += terminate_backends(pg.admin_url, engine.url.database)
            writes += notes.submit(station, offline_writes)
        elif fault == "immediate":
            engine.dispose()
            pg.kill()
            wait_for(lambda: station.status.state == OFFLINE, 30, "offline")
            writes += notes.submit(station, offline_writes)
            time.sleep(hold)
            pg.start()
        else:
            frozen = postgres_processes(Path(pg.server.pgdata))
            try:
                for pid in frozen:
                    os.kill(pid, signal.SIGSTOP)
                wait_for(lambda: station.status.state == OFFLINE, 30, "offline")
                writes += notes.submit(station, offline_writes)
                time.sleep(hold)
            finally:
                for pid in frozen:
                    os.kill(pid, signal.SIGCONT)
        went_offline += int(OFFLINE in states[mark:])
        drain.append(wait_for(lambda: station.status.state == ONLINE and not station.status.pending, 60,
                              "drained after recovery"))
        notes.submit(station, per_cycle)
    wait_for(lambda: station.status.state == ONLINE and not station.status.pending, 60, "drained")
    return {"fault": fault, "cycles": cycles, "went_offline": went_offline, "terminated_sessions": terminated,
            "drain_after_recovery_max_s": round(max(drain), 2), "offline_write_p95_ms": round(p95(writes) * 1000, 1),
            **notes.verdict(engine, station.cache)}


# --- the station fails: killed -9 at random points of its replay ---------------------------------------------
def spawn_station(url: sa.URL, folder: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """A real station process (tests/sync/station_proc.py) on ``folder``: JSON lines in and out."""
    return subprocess.Popen([sys.executable, "-m", "tests.sync.station_proc", "--url",
                             url.render_as_string(hide_password=False), "--dir", str(folder), *extra],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=(env or dict(os.environ)) | {"QT_QPA_PLATFORM": "offscreen"})


def next_event(proc: subprocess.Popen[str], kind: str) -> dict[str, Any]:
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if event["ev"] == kind:
            return event
    raise AssertionError(f"the station process ended before '{kind}'")


def station_kills(url: sa.URL, engine: sa.Engine, folder: Path, placed: Placed, *, kills: int, per_kill: int = 60,
                  seed: int = 19) -> dict[str, Any]:
    """Each round: ``per_kill`` more commands saved, a station started, killed -9 at a random moment of its replay.

    The replay sends up to ``StationSync.REPLAY_BATCH`` commands per server transaction, so ``per_kill`` should be
    a few batches for a kill to land between and inside them. Counted per kill: ``killed_mid_replay`` (commands
    still waiting after the kill) and ``killed_in_doubt`` (commands the server applied that the station had not
    yet recorded: the answer died with the process, and the next station must look them up, not apply again).
    """
    rng = random.Random(seed)
    path = folder / "station.sqlite3"
    outbox, notes = Outbox(LocalDb(path)), Notes(placed)
    mid_replay = in_doubt = 0
    for _ in range(kills):
        for _ in range(per_kill):
            outbox.add(Command.made_by(CS, "order.add_warehouse_note", notes.args()))
        before, landed_before = outbox.counts().get("pending", 0), applied_counts(engine)[0]
        proc = spawn_station(url, folder)
        next_event(proc, "ready")
        # into the replay: its first batch's transaction open on the server (a loaded machine takes seconds to
        # start a station, so a fixed delay from start would mostly kill it before it sends anything), then a
        # random moment: inside that batch, between batches, or inside a later one
        wait_for(lambda: _station_writing(engine) or outbox.counts().get("pending", 0) < before, 120,
                 "the replay under way")
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        for stream in (proc.stdout, proc.stdin):
            stream.close()  # type: ignore[union-attr]
        after = outbox.counts().get("pending", 0)
        mid_replay += int(after > 0)
        in_doubt += int(applied_counts(engine)[0] - landed_before > before - after)
    with sqlite3.connect(path) as check:
        intact = check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    proc = spawn_station(url, folder)
    next_event(proc, "ready")
    drained = wait_for(lambda: not outbox.counts().get("pending", 0), 1800, "the last station drained")
    cache = OrderCache(LocalDb(path), Scope("cs"))
    divergent = converge(cache, engine)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
    proc.stdin.close()
    proc.wait(30)
    proc.stdout.close()
    figures = notes.verdict(engine, cache)
    return {"kills": kills, "killed_mid_replay": mid_replay, "killed_in_doubt": in_doubt, "file_intact": intact,
            "final_drain_s": round(drained, 2), **figures, "divergent": divergent}


def _station_writing(engine: sa.Engine) -> bool:
    """Some other session of this database is inside a transaction that has written (the station's replay batch)."""
    with engine.connect() as conn:
        return bool(conn.scalar(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_xid IS NOT NULL")))


# --- two station programs on one data folder ---------------------------------------------------------------
class Events:
    """A station process's events as they arrive (a thread reads its stdout, so two processes can be watched)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        import threading

        self.proc, self.seen = proc, []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def close(self) -> None:
        """After the process has ended: the last lines read, the pipe closed."""
        self._reader.join(10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.seen.append(json.loads(line))

    def has(self, **match: Any) -> dict[str, Any] | None:
        return next((e for e in list(self.seen) if all(e.get(k) == v for k, v in match.items())), None)

    def last_status(self) -> dict[str, Any] | None:
        return next((e for e in reversed(list(self.seen)) if e["ev"] == "status"), None)


def two_programs(url: sa.URL, engine: sa.Engine, folder: Path, placed: Placed, *, commands: int = 100,
                 each_adds: int = 10) -> dict[str, Any]:
    """Two programs started on one folder: one drains, the other says why; the holder killed, the other takes over."""
    path = folder / "station.sqlite3"
    outbox, notes = Outbox(LocalDb(path)), Notes(placed)
    for _ in range(commands):
        outbox.add(Command.made_by(CS, "order.add_warehouse_note", notes.args()))
    procs = [spawn_station(url, folder, env=dict(os.environ) | {"PYTHONUNBUFFERED": "1"}) for _ in range(2)]
    events = [Events(p) for p in procs]
    wait_for(lambda: all(e.has(ev="ready") for e in events), 60, "both programs started")
    wait_for(lambda: any(e.has(ev="status", state="locked") for e in events), 30, "one program told it is locked out")
    waiting = next(n for n, e in enumerate(events) if e.has(ev="status", state="locked"))
    holder = 1 - waiting
    told = events[waiting].has(ev="status", state="locked")
    assert told is not None
    # both keep taking work; only the holder sends it
    for n in (holder, waiting):  # one after the other, so the order made is the order saved
        procs[n].stdin.write(json.dumps({"op": "notes", "args": [notes.args() for _ in range(each_adds)]}) + "\n")  # type: ignore[union-attr]
        procs[n].stdin.flush()  # type: ignore[union-attr]
        wait_for(lambda: len([e for e in events[n].seen if e["ev"] == "saved"]) == each_adds, 30, "saved")
    drained_by_holder = wait_for(lambda: not outbox.counts().get("pending", 0), 60, "the holder drained")
    still_locked = (events[waiting].last_status() or {}).get("state") == "locked"
    procs[holder].send_signal(signal.SIGKILL)  # the holder dies: the other takes the folder over
    procs[holder].wait(30)
    procs[holder].stdin.close()  # type: ignore[union-attr]
    procs[waiting].stdin.write(json.dumps({"op": "notes", "args": [notes.args() for _ in range(each_adds)]}) + "\n")  # type: ignore[union-attr]
    procs[waiting].stdin.flush()  # type: ignore[union-attr]
    took_over = wait_for(lambda: (events[waiting].last_status() or {}).get("state") not in (None, "locked")
                         and not outbox.counts().get("pending", 0), 60, "the other took over and drained")
    procs[waiting].stdin.write(json.dumps({"op": "quit"}) + "\n")  # type: ignore[union-attr]
    procs[waiting].stdin.close()  # type: ignore[union-attr]
    procs[waiting].wait(30)
    for e in events:
        e.close()
    figures = notes.verdict(engine, OrderCache(LocalDb(path), Scope("cs")))
    return {"told": told["text"], "holder_named": str(procs[holder].pid) in told["text"],
            "locked_out_until_holder_died": still_locked, "drained_by_holder_s": round(drained_by_holder, 2),
            "took_over_s": round(took_over, 2), **figures}


# --- a station clock a day off ------------------------------------------------------------------------------
def faked_clock_env(shift_hours: float) -> dict[str, str]:
    """The environment that starts a process with its clock ``shift_hours`` off this one's (libfaketime)."""
    from datetime import datetime, timedelta

    import libfaketime

    _, additions = libfaketime.get_reload_information()
    start = datetime.now() + timedelta(hours=shift_hours)  # local wall time, as libfaketime reads "@…"
    return dict(os.environ) | additions | {"FAKETIME": f"@{start:%Y-%m-%d %H:%M:%S}",
                                           "FAKETIME_DONT_FAKE_MONOTONIC": "1", "PYTHONUNBUFFERED": "1"}


def clock_skew(url: sa.URL, engine: sa.Engine, root: Path, order_no: str, *, rounds: int = 10) -> dict[str, Any]:
    """Two stations, one a day ahead and one a day behind, take turns on one order."""
    import re
    from datetime import timedelta

    from app.domain.clock import CST

    procs = {shift: spawn_station(url, root / f"skew{shift:+d}", "--name", f"skew{shift:+d}",
                                  env=faked_clock_env(shift)) for shift in (24, -24)}
    events = {shift: Events(p) for shift, p in procs.items()}
    wait_for(lambda: all(e.has(ev="status", state="online") for e in events.values()), 60, "both stations online")
    made = []
    for n in range(rounds):
        shift = 24 if n % 2 == 0 else -24
        with engine.connect() as conn:
            version = conn.scalar(sa.text("SELECT version FROM orders WHERE order_no = :o"), {"o": order_no})
        text = f"第{n:05d}条"
        procs[shift].stdin.write(json.dumps({"op": "notes", "args": [  # type: ignore[union-attr]
            {"order_no": order_no, "expected_version": version, "text": text}]}) + "\n")
        procs[shift].stdin.flush()  # type: ignore[union-attr]
        made.append(text)
        wait_for(lambda: applied_counts(engine)[0] == n + 1, 30, "the note applied")
    for p in procs.values():
        p.stdin.write(json.dumps({"op": "quit"}) + "\n")  # type: ignore[union-attr]
        p.stdin.close()  # type: ignore[union-attr]
        p.wait(30)
    for e in events.values():
        e.close()
    with engine.connect() as conn:
        server_now = conn.scalar(sa.text("SELECT now()"))
        note = conn.scalar(sa.text("SELECT seller_note FROM orders WHERE order_no = :o"), {"o": order_no}) or ""
        stamps = conn.execute(sa.text("SELECT created_at, applied_at FROM applied_commands ORDER BY applied_at")).all()
    lines = note.splitlines()
    here = server_now.astimezone(CST)
    worst = timedelta(0)
    for line in lines:  # "[MM-DD HH:MM operator] text": the time the note was written, in China time
        month, day, hour, minute = map(int, re.match(r"\[(\d\d)-(\d\d) (\d\d):(\d\d) ", line).groups())  # type: ignore[union-attr]
        written = here.replace(month=month, day=day, hour=hour, minute=minute, second=0, microsecond=0)
        worst = max(worst, abs(here - written))
    records, distinct = applied_counts(engine)
    return {"rounds": rounds, "distinct_command_ids": distinct, "applied": records,
            "order_follows_the_server": [line.rsplit("] ", 1)[-1] for line in lines] == made,
            "worst_note_stamp_off_s": round(worst.total_seconds()),
            "worst_command_stamp_off_s": round(max(abs((a - c).total_seconds()) for c, a in stamps))}


# --- a working day offline ------------------------------------------------------------------------------------
def long_offline(engine: sa.Engine, station: StationSync, proxy: Any, placed: Placed, *, commands: int,
                 hours: float = 8.0) -> dict[str, Any]:
    """The link down for ``hours`` of business time while ``commands`` are made, then back: all drain once."""
    from datetime import timedelta

    from app.domain import clock

    notes, took = Notes(placed), []
    proxy.drop()
    station.start()
    wait_for(lambda: station.status.state == OFFLINE, 30, "offline")
    start = clock.now()
    for n in range(commands):
        with clock.set_to(start + timedelta(hours=hours * n / commands)):  # the day goes by while they work
            took += notes.submit(station, 1)
    queued = station.status.pending
    with clock.set_to(start + timedelta(hours=hours)):
        proxy.resume()
        drained = wait_for(lambda: station.status.state == ONLINE and not station.status.pending, 1800,
                           "drained after reconnecting")
        figures = notes.verdict(engine, station.cache)
    return {"hours_offline": hours, "queued": queued, "drain_s": round(drained, 1),
            "drain_per_s": round(commands / drained, 1), "offline_save_p95_ms": round(p95(took) * 1000, 1), **figures}


# --- the answer lost after the commit ---------------------------------------------------------------------------
def lost_ack(engine: sa.Engine, station: StationSync, proxy: Any, placed: Placed, *, commands: int) -> dict[str, Any]:
    """Every command's first COMMIT answer dropped by ``proxy`` (a LostAckProxy): each applied exactly once."""
    notes = Notes(placed)
    notes.submit(station, commands)
    station.start()
    drained = wait_for(lambda: station.status.state == ONLINE and not station.status.pending, 600, "drained")
    return {"acks_lost": proxy.dropped, "drain_s": round(drained, 1), **notes.verdict(engine, station.cache)}
