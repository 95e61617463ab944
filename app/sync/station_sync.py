"""A station's sync worker: replays the outbox, listens for changes, pulls them, reports its state.

Everything that touches the network runs on one worker thread; the GUI only writes commands
to the local outbox (durable, milliseconds) and reads the local cache. A watchdog cuts the
worker's sockets when a call hangs longer than ``op_timeout`` (a stalled link answers
nothing and errors nothing), so a dead network becomes "offline" within seconds and the
worker reconnects with backoff on its own.
"""

from __future__ import annotations

import logging
import os
import queue
import select
import socket
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from filelock import FileLock, Timeout
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.orm import sessionmaker

from app.db.engine import normalise_url
from app.domain import clock
from app.domain.actor import Actor
from app.domain.messages import render
from app.services.unit_of_work import DatabaseUnavailable, UnitOfWork
from app.sync import applier
from app.sync.cache import OrderCache, Scope
from app.sync.commands import Command
from app.sync.feed import ChangeFeed, FeedNotSettled
from app.sync.local_db import LocalDb
from app.sync.outbox import Outbox, OutboxEntry

log = logging.getLogger(__name__)

ONLINE, OFFLINE, SYNCING, LOCKED = "online", "offline", "syncing", "locked"
LOCK_FILE, OWNER_FILE = "station.lock", "station.owner"
# a station clock this far from the server's is corrected (closer is measurement noise)
CLOCK_TOLERANCE = timedelta(seconds=2)
NETWORK_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, DatabaseUnavailable, psycopg.OperationalError,
                  psycopg.InterfaceError, OSError)


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What the status bar shows: the link, the commands waiting, the refusals not yet seen."""

    state: str
    pending: int = 0
    rejected: int = 0
    holder: str = ""  # LOCKED: the other program holding the data folder

    def text(self, lang: str = "zh") -> str:
        line = render(f"SYNC_STATUS_{self.state.upper()}", lang, pending=self.pending, holder=self.holder or "?")
        if self.rejected:
            line += ("；" if lang == "zh" else "; ") + render("SYNC_REJECTED_COUNT", lang, count=self.rejected)
        return line


def libpq_conninfo(url: URL) -> str:
    """The SQLAlchemy URL as a libpq URI (socket folder as ``host=`` query, as libpq expects)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class StationSync:
    """Owns the station's SQLite file and the worker thread; callbacks run on the worker thread."""

    REPLAY_BATCH = 100  # commands per server transaction when replaying (see replay(); 25 cost ~20% more CPU each)
    # How long a replay waits for an order another transaction holds (the hub routing it, a picker's
    # scan) before it steps aside for this round: the one worker thread also pulls the colleagues'
    # changes, and a replay queued behind a busy order kept them waiting for seconds (issue #18's
    # peak day: 8–14 s at load 20). The commands stay pending and go again a moment later.
    REPLAY_LOCK_WAIT_MS = 150
    REPLAY_RETRY_S = 0.25

    def __init__(self, database_url: URL | str, data_dir: Path, scope: Scope = Scope(), *,
                 pull_interval: float = 2.0, op_timeout: float = 5.0, connect_timeout: int = 3,
                 max_backoff: float = 3.0, min_backoff: float = 0.25, file_name: str = "station.sqlite3",
                 replay_batch: int = REPLAY_BATCH,
                 on_status: Callable[[SyncStatus], None] | None = None,
                 on_orders_changed: Callable[[set[str]], None] | None = None,
                 on_command_finished: Callable[[OutboxEntry, applier.Outcome], None] | None = None,
                 heartbeat: Callable[[int], Any] | None = None, heartbeat_every: float = 30.0) -> None:
        self.url = normalise_url(database_url) if isinstance(database_url, str) else database_url
        self.db = LocalDb(Path(data_dir) / file_name)
        # One program drains a data folder's outbox: a second one on the same folder (two windows, a
        # copied shortcut) would send the same commands at once (odoo/odoo#152259). The OS lock goes
        # with the process, so a killed program never leaves the folder locked.
        self._folder_lock = FileLock(Path(data_dir) / LOCK_FILE, thread_local=False)  # taken by the worker, freed by stop()
        self._owner_file = Path(data_dir) / OWNER_FILE
        self.outbox, self.cache = Outbox(self.db), OrderCache(self.db, scope)
        self.feed = ChangeFeed(self.db, self.cache, progress=self._touch)
        self.pull_interval, self.op_timeout, self.max_backoff = pull_interval, op_timeout, max_backoff
        self.min_backoff = min_backoff
        self.replay_batch = max(1, replay_batch)  # commands per server transaction when replaying
        self.on_status, self.on_orders_changed, self.on_command_finished = on_status, on_orders_changed, on_command_finished
        # heartbeat(pending outbox size) -> stations.Heartbeat; recorded on the server every ``heartbeat_every`` s
        self.heartbeat, self.heartbeat_every = heartbeat, heartbeat_every
        self._last_beat: float | None = None
        # per round: {"woke", "pulling", "done" (time.time()), "by": "notify" | "wake" | "timer" | "start"} —
        # what a change waited on before its pull began (benchmarks); None costs nothing
        self.on_round: Callable[[dict[str, Any]], None] | None = None
        self._woke: tuple[float, str] = (time.time(), "start")
        self._replay_deferred = False  # an order was busy: the next round comes after REPLAY_RETRY_S
        self.replay_stats: Counter[str] = Counter()  # batches sent, and stepped aside for a busy order
        # no pre-ping: any failure disposes the whole pool and the round starts over on fresh connections
        self._engine = sa.create_engine(self.url, pool_pre_ping=False, pool_size=2, max_overflow=2,
                                        connect_args={"connect_timeout": connect_timeout})
        self._sockets: weakref.WeakSet[Any] = weakref.WeakSet()
        event.listen(self._engine, "connect", lambda dbapi, _rec: self._sockets.add(dbapi))
        self.session_factory = sessionmaker(self._engine, expire_on_commit=False)
        # a command replayed alone (after a refusal in its batch) waits for a busy order no longer than a batch
        self._replay_sessions = sessionmaker(self._engine, expire_on_commit=False)
        event.listen(self._replay_sessions, "after_begin", self._bound_lock_wait)
        self._connect_timeout = connect_timeout
        self._listener: psycopg.Connection | None = None
        self._requests: queue.Queue[tuple[Callable[[Callable[[], UnitOfWork]], Any], Callable[[Any], None] | None]] = queue.Queue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._stop = threading.Event()
        self._closed = False
        self._busy_since: float | None = None
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        # "syncing" until the first round has answered: a station starting up is not yet known to be offline
        self.status = SyncStatus(SYNCING, *self.outbox.waiting())

    # --- the GUI side: never touches the network ------------------------------------------------
    def submit(self, actor: Actor, name: str, args: dict[str, Any]) -> OutboxEntry:
        """Queue a command; when this returns it is saved on this station and will reach the server."""
        return self.submit_command(Command.made_by(actor, name, args))

    def submit_command(self, command: Command) -> OutboxEntry:
        """Queue a command made elsewhere (its id chosen by the maker, e.g. to make it idempotent)."""
        entry = self.outbox.add(command)
        self._report(self.status.state if self.status.state in (OFFLINE, LOCKED) else SYNCING)
        self.wake()
        return entry

    def acknowledge(self, command_id: Any) -> None:
        """The person has seen a refusal; it leaves the list and the count."""
        self.outbox.acknowledge(command_id)
        self._report(self.status.state)

    def request_search(self, term: str) -> None:
        """Ask the server for ``term`` too; hits land in the cache and are announced as changes."""
        self.call(lambda _uow: self._announce(self.feed.search(self._engine, term)))

    def call(self, work: Callable[[Callable[[], UnitOfWork]], Any], done: Callable[[Any], None] | None = None) -> None:
        """Run ``work(uow_factory)`` on the worker when online; ``done`` gets the result or the error."""
        self._requests.put((work, done))
        self.wake()

    def wake(self) -> None:
        if self._closed:
            return
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="station-sync", daemon=True)
        self._watchdog = threading.Thread(target=self._watch, name="station-sync-watchdog", daemon=True)
        self._thread.start()
        self._watchdog.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the worker and close its pipe; a second call does nothing (the pipe's descriptor numbers
        may already belong to another file, which a second write or close would damage)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._watchdog is not None:
            self._watchdog.join(timeout)
        self._disconnect()
        self._engine.dispose()
        if self._folder_lock.is_locked:
            self._folder_lock.release()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._wake_r = self._wake_w = -1

    # --- one round, also usable synchronously (tests, command line) ----------------------------
    def sync_once(self) -> set[str]:
        """Connect if needed, replay the outbox, serve requests, pull changes. Raises on network errors.

        With commands waiting, the colleagues' changes are pulled first as well: the replay costs a few
        round trips per batch and may meet an order busy elsewhere (a wave being made, the hub routing
        it), and on the one worker thread everything announced to this station waited behind it (issue
        #18's peak day: the slowest changes waited 1–14 s on the reader's own replay). The pull after the
        replay brings this station's own changes back as the server stored them, as before.
        """
        if self._listener is None:
            self._connect()
        self._beat()
        if self.feed.cursor is None:  # a new station: the newest orders on screen before the whole scope loads
            with self._guard():
                self._announce(self.feed.preload(self._engine))
        first_pull = time.time()
        changed: set[str] = set()
        if self.feed.cursor is not None and self.outbox.waiting()[0]:
            pulled = self._pull()
            if pulled is None:
                return set()
            changed |= pulled
        replaying = time.time()
        self.replay()
        replayed = time.time()
        self._serve_requests()
        pulling = time.time()
        pulled = self._pull()
        if pulled is None:
            return changed
        changed |= pulled
        if self.on_round is not None:
            self.on_round({"woke": self._woke[0], "by": self._woke[1], "first_pull": first_pull, "replaying": replaying,
                           "replayed": replayed, "pulling": pulling, "done": time.time()})
        self._report(ONLINE, online_if_drained=True)
        return changed

    def _pull(self) -> set[str] | None:
        """Pull and announce the changes; None when the feed cannot settle yet (shown as syncing)."""
        try:
            with self._guard():
                changed = self.feed.pull(self._engine)
        except FeedNotSettled:  # a long transaction elsewhere: connected, just not caught up yet
            self._report(SYNCING)
            return None
        return self._announce(changed)

    def replay(self) -> int:
        """Send every waiting command, oldest first, several to a transaction, recording each outcome.

        A batch of up to ``replay_batch`` commands shares one server transaction and commits once;
        only then are the outcomes recorded here (see :meth:`_apply_batch` for refusals). If the link
        dies before the answer, the whole batch is in doubt and the next round looks each command up
        first (the server's record says whether it landed; never applied twice).
        """
        done = 0
        in_doubt = self.replay_batch  # the first batch after (re)connecting: its commands may have landed unheard
        self._replay_deferred = False
        while not self._stop.is_set():
            batch = self.outbox.pending(max(200, self.replay_batch))
            if not batch:
                return done
            self._beat()  # a long replay after a day offline: still online, the backlog shrinking
            self._report(SYNCING)
            while batch:
                try:
                    with self._guard():  # the outcomes of the group's first commands, at least one
                        outcomes = self._apply_batch(batch[:self.replay_batch], look_first=in_doubt > 0)
                except NETWORK_ERRORS as err:
                    if not _order_busy(err):
                        raise
                    # rolled back whole: nothing of it landed, so the same commands go again, in order
                    log.debug("station replay: an order is busy elsewhere; pulling first, replaying again soon")
                    self.replay_stats["stepped_aside"] += 1
                    self._replay_deferred = True
                    return done
                self.replay_stats["batches"] += 1
                in_doubt -= len(outcomes)
                group, batch = batch[:len(outcomes)], batch[len(outcomes):]
                self.outbox.finish_many([(entry.command.id, o.outcome, o.result) for entry, o in zip(group, outcomes)])
                done += len(group)
                if self.on_command_finished is not None:
                    for entry, outcome in zip(group, outcomes):
                        self.on_command_finished(entry, outcome)
                if self._stop.is_set():
                    return done
        return done

    def _bound_lock_wait(self, _session: Any, _transaction: Any, connection: Any) -> None:
        """A replay transaction waits at most REPLAY_LOCK_WAIT_MS for a row lock (then steps aside)."""
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {int(self.REPLAY_LOCK_WAIT_MS)}")

    def _beat(self) -> None:
        """Tell the server this station is alive, at most every ``heartbeat_every`` seconds (monotonic)."""
        if self.heartbeat is None:
            return
        if self._last_beat is not None and time.monotonic() - self._last_beat < self.heartbeat_every:
            return
        from app.services import stations

        beat = self.heartbeat(self.outbox.waiting()[0])
        with self._guard():
            stations.record_heartbeat(UnitOfWork(self.session_factory), beat)
        self._last_beat = time.monotonic()

    def _apply_batch(self, group: list[OutboxEntry], *, look_first: bool) -> list[applier.Outcome]:
        """Apply ``group`` in one transaction; returns the outcomes of its first commands (at least one).

        The batch costs about one round trip per command plus a handful for the whole group
        (:class:`applier.ReplayBatch`: the look-up of a batch in doubt, the orders locked together, the
        grants, the records written together, the commit). Inside it the commands share the
        transaction with no savepoint each (a savepoint costs two more round trips per command).

        A refusal may have written part of its change before refusing, so the batch is rolled back;
        the commands before the refused one go again as a batch and that is all this call returns
        (the caller records them, then goes on from the refused one). A refused first command is
        applied alone, in its own transaction, where its refusal is recorded. So one refusal costs
        about one batch more, not the whole group one command at a time, and every accepted command
        still lands exactly once. An unexpected failure of the batch itself replays the whole group
        one command at a time.
        """
        outcomes: list[applier.Outcome] = []
        refused_at: int | None = None
        raced = False
        with self._engine.connect() as conn:
            conn.begin()
            self._bound_lock_wait(None, None, conn)
            batch = applier.ReplayBatch(conn)
            known: dict[str, dict[str, Any]] = {}
            try:
                seen = batch.recorded(e.command.id for e in group) if look_first else {}
                batch.lock_orders(e.order_no for e in group if e.command.id not in seen)
                for at, entry in enumerate(group):
                    outcome = seen.get(entry.command.id)
                    if outcome is None:
                        outcome = batch.apply(replace(entry.command, args=self.outbox.resolved_args(entry, known)))
                    if not outcome.accepted and not outcome.duplicate:
                        refused_at = at
                        break
                    known[str(entry.command.id)] = {"state": outcome.outcome, "result": outcome.result}
                    outcomes.append(outcome)
                    self._touch()  # a batch making progress is not a hung call
                else:
                    if batch.record():
                        conn.commit()
                        return outcomes
                    raced = True  # another replay recorded some of these first: each is looked up alone
            except NETWORK_ERRORS:
                raise  # nothing of the batch is known to have landed: the next round looks each one up
            except Exception:  # noqa: BLE001 - an unexpected failure: isolate it by replaying one by one
                log.exception("station replay batch failed; replaying its commands one at a time")
            conn.rollback()
        if refused_at:  # the commands before the refused one, without it
            return self._apply_batch(group[:refused_at], look_first=look_first)
        singles: list[applier.Outcome] = []
        for entry in group[:1] if refused_at == 0 else group:  # each in its own transaction, a failure raising as alone
            command = replace(entry.command, args=self.outbox.resolved_args(entry))
            try:
                outcome = applier.apply(self._replay_sessions, command, look_first=look_first or raced)
            except NETWORK_ERRORS as err:
                if singles and _order_busy(err):
                    return singles  # those went through (recorded here); the busy one goes again next round
                raise
            self.outbox.finish(command.id, outcome.outcome, outcome.result)
            singles.append(outcome)
            self._touch()
        return singles

    # --- the worker ---------------------------------------------------------------------------------
    def _run(self) -> None:
        # The worker only records outcomes and cache rows here: losing its last commits to a power
        # cut costs a re-pull or a replay the server answers from its record, so no fsync per row.
        # Commands themselves are added with synchronous=FULL (see Outbox.add).
        self.db.connect().execute("PRAGMA synchronous=NORMAL")
        if not self._hold_folder():
            return
        backoff = self.min_backoff
        while not self._stop.is_set():
            try:
                self.sync_once()
                backoff = self.min_backoff
                while not self._stop.is_set():
                    self._wait(self._next_wait())
                    self.sync_once()
            except NETWORK_ERRORS as err:
                log.info("station sync offline: %s", err)
            except Exception:  # a bug must not kill the worker: show offline, keep trying
                log.exception("station sync round failed")
            self._disconnect()
            self._report(OFFLINE)  # searches and calls stay queued for the next connection
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.max_backoff)
        self.db.close()  # the worker's own connection: the last one closed folds the WAL into the file

    def _next_wait(self) -> float:
        """The periodic pull, or sooner when the next heartbeat is due first or a replay stepped aside."""
        wait = min(self.pull_interval, self.REPLAY_RETRY_S) if self._replay_deferred else self.pull_interval
        if self.heartbeat is None or self._last_beat is None:
            return wait
        due = self._last_beat + self.heartbeat_every - time.monotonic()
        return max(0.0, min(wait, due))

    def _hold_folder(self) -> bool:
        """Wait until this program holds the data folder (or is stopped); says who holds it meanwhile."""
        while not self._stop.is_set():
            try:
                self._folder_lock.acquire(timeout=0)
            except Timeout:
                holder = _read(self._owner_file)
                if self.status.state != LOCKED:
                    log.warning("%s", render("SYNC_STATUS_LOCKED", "zh", holder=holder))
                self._report(LOCKED, holder)
                self._stop.wait(1.0)
                continue
            self._owner_file.write_text(f"{os.getpid()}@{socket.gethostname()}", encoding="utf-8")
            return True
        return False

    def _connect(self) -> None:
        with self._guard():
            conn = psycopg.connect(libpq_conninfo(self.url), autocommit=True, connect_timeout=self._connect_timeout)
            self._sockets.add(conn)
            self._follow_server_clock(conn)
            conn.execute("LISTEN order_changes")  # last, so the server lists this connection as the listener
        self._listener = conn

    @staticmethod
    def _follow_server_clock(conn: psycopg.Connection) -> None:
        """Take the server's time as this station's business time (order follows the server, not this PC)."""
        before = datetime.now(UTC)
        row = conn.execute("SELECT clock_timestamp()").fetchone()
        after = datetime.now(UTC)
        if row is None:
            return
        offset = row[0] - (before + (after - before) / 2)
        clock.follow(offset if abs(offset) > CLOCK_TOLERANCE else timedelta(0))

    def _disconnect(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            except Exception:  # noqa: BLE001 - closing a dead connection may fail any way it likes
                pass
            self._listener = None
        self._engine.dispose()

    def _wait(self, timeout: float) -> None:
        """Sleep until a notification, a local request, or ``timeout`` (the periodic pull)."""
        assert self._listener is not None
        readable, _, _ = select.select([self._listener.fileno(), self._wake_r], [], [], timeout)
        self._woke = (time.time(), "notify" if self._listener.fileno() in readable else
                      "wake" if self._wake_r in readable else "timer")
        if self._wake_r in readable:
            try:
                while os.read(self._wake_r, 4096):
                    pass
            except (BlockingIOError, OSError):
                pass
        if self._listener.fileno() in readable:
            with self._guard():
                for _ in self._listener.notifies(timeout=0.0):
                    pass

    def _serve_requests(self) -> None:
        while True:
            try:
                work, done = self._requests.get_nowait()
            except queue.Empty:
                return
            try:
                with self._guard():
                    result = work(lambda: UnitOfWork(self.session_factory))
            except NETWORK_ERRORS as err:
                self._requests.put((work, done))  # not served: keep it for the next connection
                raise err
            except Exception as err:  # noqa: BLE001 - handed to the caller, who shows it
                result = err
            if done is not None:
                done(result)

    def _announce(self, changed: set[str]) -> set[str]:
        if changed and self.on_orders_changed is not None:
            self.on_orders_changed(changed)
        return changed

    def _report(self, state: str, holder: str = "", *, online_if_drained: bool = False) -> None:
        """Show ``state`` with the commands waiting (one read of the outbox's index); with
        ``online_if_drained``, ONLINE only once nothing is pending, SYNCING until then."""
        pending, rejected = self.outbox.waiting()
        if online_if_drained and pending:
            state = SYNCING
        status = SyncStatus(state, pending, rejected, holder or (self.status.holder if state == LOCKED else ""))
        if status != self.status:
            self.status = status
            if self.on_status is not None:
                self.on_status(status)

    # --- the watchdog -------------------------------------------------------------------------------
    @contextmanager
    def _guard(self) -> Iterator[None]:
        self._busy_since = time.monotonic()
        try:
            yield
        finally:
            self._busy_since = None

    def _touch(self) -> None:
        """A long call that is making progress (a page arrived) is not a hung one."""
        if self._busy_since is not None:
            self._busy_since = time.monotonic()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            since = self._busy_since
            if since is not None and time.monotonic() - since > self.op_timeout:
                log.warning("database call hung for %.1f s: cutting the connection", self.op_timeout)
                self._busy_since = None
                for conn in _snapshot(self._sockets):
                    _cut(conn)


def _order_busy(err: BaseException) -> bool:
    """The replay's ``lock_timeout`` ran out (SQLSTATE 55P03) — an order held elsewhere, not a lost link."""
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, psycopg.errors.LockNotAvailable):
            return True
        seen.add(id(cause))
        cause = getattr(cause, "orig", None) or cause.__cause__
    return False


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _snapshot(sockets: weakref.WeakSet[Any]) -> list[Any]:
    while True:
        try:
            return list(sockets)
        except RuntimeError:  # the worker added a connection meanwhile
            continue


def _cut(conn: Any) -> None:
    """Shut the socket under a connection down, so a read blocked on it returns an error at once."""
    try:
        fd = conn.fileno()
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except Exception:  # noqa: BLE001 - already closed is fine
        pass
