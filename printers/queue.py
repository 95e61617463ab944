"""The station's print queue: slips wait in a local SQLite file until the printer has taken them.

A job is written to disk (WAL, synchronous=FULL) before anything is sent, so a crash or a power
cut never loses a slip. A job is sent whole, then the printer is asked for its status on the
same link: TCP/USB deliver in order, so an answer proves every byte before it arrived, and only
then is the job marked printed — a retry after a failure we saw never doubles a slip. The one
window left (the station dies after sending, before writing "printed") is reported as
「可能已打出」 instead of guessed. Printer faults (paper out, cover open, offline, unreachable,
link dropped) leave the job queued with a coded, plain-words problem and a backoff; the queue
keeps slip order, so later slips wait behind the one that could not print.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.domain.messages import render
from printers.backends import Backend, PrinterIOError, PrinterStatus

SCHEMA = """
CREATE TABLE IF NOT EXISTS print_jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    dedupe_key TEXT NOT NULL UNIQUE,
    order_no TEXT NOT NULL,
    data BLOB NOT NULL,
    reprint INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'printed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    problem_code TEXT,
    problem_params TEXT,
    created_at REAL NOT NULL,
    printed_at REAL
);
CREATE INDEX IF NOT EXISTS print_jobs_waiting ON print_jobs (state, seq);
CREATE TABLE IF NOT EXISTS print_failures (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    order_no TEXT NOT NULL,
    problem_code TEXT NOT NULL,
    problem_params TEXT NOT NULL,
    failed_at REAL NOT NULL,
    reported INTEGER NOT NULL DEFAULT 0,
    UNIQUE (job_id, attempt)
);
CREATE INDEX IF NOT EXISTS print_failures_unreported ON print_failures (reported, seq);
"""


@dataclass(frozen=True, slots=True)
class PrintJob:
    """One slip (or reprint) in the queue, as stored."""

    id: str
    order_no: str
    reprint: bool
    state: str
    attempts: int
    problem_code: str | None
    problem_params: dict[str, Any]
    next_attempt_at: float
    printed_at: float | None

    def problem(self, lang: str = "zh") -> str | None:
        """The job's current problem in plain words, or None."""
        if not self.problem_code:
            return None
        params = dict(self.problem_params)
        if str(params.get("detail", "")).startswith("PRINTER_DETAIL_"):
            params["detail"] = render(params["detail"], lang)
        return render(self.problem_code, lang, **params)


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt, kept until the station has handed it on to the server (the supervisor counts them)."""

    seq: int
    job_id: str
    attempt: int
    order_no: str
    problem_code: str
    problem_params: dict[str, Any]
    failed_at: float


@dataclass(frozen=True, slots=True)
class Submitted:
    job_id: str
    duplicate: bool  # the same slip (dedupe key) was already queued or printed: nothing added

    @property
    def message_code(self) -> str:
        return "PRINT_JOB_DUPLICATE" if self.duplicate else "PRINT_JOB_QUEUED"


class PrintQueue:
    """Jobs for one printer, kept in ``path`` (the station's data folder)."""

    def __init__(self, path: Path | str, backend: Backend, *, clock: Callable[[], float] = time.time,
                 base_delay: float = 2.0, max_delay: float = 60.0) -> None:
        self.backend = backend
        self.clock = clock
        self.base_delay, self.max_delay = base_delay, max_delay
        self.warning: str | None = None  # e.g. PRINTER_PAPER_LOW: prints on, but say it
        self.on_failure: Callable[[], None] | None = None  # told (on the printing thread) after a failure is kept
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        # A job left "sending" means the station stopped mid-job: print it again, but say so.
        self._db.execute(
            "UPDATE print_jobs SET state = 'queued', problem_code = 'PRINTER_JOB_IN_DOUBT', "
            "problem_params = json_object('order_no', order_no) WHERE state = 'sending'")

    def close(self) -> None:
        self._db.close()

    # ---- submitting -------------------------------------------------------------------------

    def submit(self, order_no: str, data: bytes, *, dedupe_key: str | None = None, reprint: bool = False) -> Submitted:
        """Queue ``data`` for ``order_no``; the same dedupe key twice queues it once.

        The default key is the order and the exact bytes, so submitting the same slip again (a
        double click, a retried command) is a no-op; a reprint is always a new, explicit job.
        """
        if dedupe_key is None:
            digest = hashlib.sha256(data).hexdigest()[:24]
            dedupe_key = f"reprint:{uuid.uuid4()}" if reprint else f"slip:{order_no}:{digest}"
        job_id = str(uuid.uuid4())
        now = self.clock()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO print_jobs (id, dedupe_key, order_no, data, reprint, state, next_attempt_at, created_at) "
                "VALUES (?, ?, ?, ?, ?, 'queued', ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
                (job_id, dedupe_key, order_no, data, int(reprint), now, now))
            if cur.rowcount:
                return Submitted(job_id, False)
            (existing,) = self._db.execute("SELECT id FROM print_jobs WHERE dedupe_key = ?", (dedupe_key,)).fetchone()
            return Submitted(existing, True)

    # ---- reading ------------------------------------------------------------------------------

    _COLUMNS = "id, order_no, reprint, state, attempts, problem_code, problem_params, next_attempt_at, printed_at"

    def _job(self, row) -> PrintJob:
        return PrintJob(row[0], row[1], bool(row[2]), row[3], row[4], row[5], json.loads(row[6] or "{}"), row[7], row[8])

    def job(self, job_id: str) -> PrintJob:
        with self._lock:
            row = self._db.execute(f"SELECT {self._COLUMNS} FROM print_jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return self._job(row)

    def waiting(self) -> list[PrintJob]:
        """Jobs not yet printed, in the order they will print."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLUMNS} FROM print_jobs WHERE state IN ('queued', 'sending') ORDER BY seq").fetchall()
        return [self._job(r) for r in rows]

    def problem(self, lang: str = "zh") -> str | None:
        """What holds the queue up, in plain words (for the station's status bar), or None."""
        first = next(iter(self.waiting()), None)
        return first.problem(lang) if first else None

    # ---- printing -----------------------------------------------------------------------------

    def run_once(self) -> list[PrintJob]:
        """Send every due job, in order, until one cannot print; returns the jobs printed now."""
        printed: list[PrintJob] = []
        with self._lock:
            due = self._db.execute(
                "SELECT id, order_no, data FROM print_jobs WHERE state = 'queued' ORDER BY seq").fetchall()
            if not due or self.job(due[0][0]).next_attempt_at > self.clock():
                return printed
            try:
                self.backend.open()
            except PrinterIOError as exc:
                self._fail(due[0][0], "PRINTER_UNREACHABLE", printer=self.backend.name, detail=str(exc),
                           order_no=due[0][1])
                return printed
            try:
                # The answer that proves slip N arrived is also the printer's state just before slip N+1:
                # nothing is sent in between, so it is that slip's check (paper, cover, offline) too.
                # One status round per slip instead of two; still exactly one check before each slip.
                before: PrinterStatus | None | bool = False  # False: not asked yet on this link
                for job_id, order_no, data in due:
                    sent, before = self._send(job_id, order_no, data, before)
                    if not sent:
                        break
                    printed.append(self.job(job_id))
            finally:
                self.backend.close()
        return printed

    def _send(self, job_id: str, order_no: str, data: bytes,
              known: PrinterStatus | None | bool = False) -> tuple[bool, PrinterStatus | None]:
        """Send one job; ``known`` is the status answered right after the previous job on this link
        (``False``: ask now). Returns whether it printed and the status answered after it."""
        if known is False:
            try:
                status = self.backend.status()
            except PrinterIOError as exc:
                self._fail(job_id, "PRINTER_UNREACHABLE", printer=self.backend.name, detail=str(exc),
                           order_no=order_no)
                return False, None
        else:
            status = known
        if status is not None and status.problem:
            self._fail(job_id, status.problem, order_no=order_no)
            return False, status
        self.warning = "PRINTER_PAPER_LOW" if status is not None and status.paper_near_end else None
        self._db.execute("UPDATE print_jobs SET state = 'sending', attempts = attempts + 1 WHERE id = ?", (job_id,))
        try:
            self.backend.write(data)
            # The answer to a status query sent after the job proves the job arrived (in-order link).
            after = self.backend.status()
        except PrinterIOError:
            self._fail(job_id, "PRINTER_CONNECTION_LOST", order_no=order_no, counted=False)
            return False, None
        self._db.execute(
            "UPDATE print_jobs SET state = 'printed', printed_at = ?, problem_code = NULL, problem_params = NULL "
            "WHERE id = ?", (self.clock(), job_id))
        return True, after

    def _fail(self, job_id: str, code: str, *, counted: bool = True, **params: Any) -> None:
        """Leave the job queued with its problem and the next try after a growing pause."""
        (attempts,) = self._db.execute("SELECT attempts FROM print_jobs WHERE id = ?", (job_id,)).fetchone()
        if counted:
            attempts += 1
        delay = min(self.base_delay * 2 ** max(attempts - 1, 0), self.max_delay)
        encoded, at = json.dumps(params, ensure_ascii=False), self.clock()
        with self._db:  # the job's problem and the failure kept for the server: both or neither
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "UPDATE print_jobs SET state = 'queued', attempts = ?, problem_code = ?, problem_params = ?, "
                "next_attempt_at = ? WHERE id = ?", (attempts, code, encoded, at + delay, job_id))
            # an uncounted failure (link lost mid-job) shares its attempt number with the send: seq tells them apart
            (order_no,) = self._db.execute("SELECT order_no FROM print_jobs WHERE id = ?", (job_id,)).fetchone()
            self._db.execute(
                "INSERT INTO print_failures (job_id, attempt, order_no, problem_code, problem_params, failed_at) "
                "VALUES (?, (SELECT count(*) + 1 FROM print_failures WHERE job_id = ?), ?, ?, ?, ?)",
                (job_id, job_id, order_no, code, encoded, at))
        if self.on_failure is not None:
            self.on_failure()

    def unreported_failures(self, limit: int = 200) -> list[Failure]:
        """Failures not yet handed on to the server, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, job_id, attempt, order_no, problem_code, problem_params, failed_at FROM print_failures "
                "WHERE reported = 0 ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [Failure(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6]) for r in rows]

    def mark_reported(self, seqs: list[int]) -> None:
        """These failures are in the station's outbox now (which delivers them): not handed on again."""
        with self._lock:
            self._db.executemany("UPDATE print_failures SET reported = 1 WHERE seq = ?", [(s,) for s in seqs])

    def retry_now(self) -> None:
        """The person fixed the printer and pressed 重试: try at once instead of after the pause."""
        with self._lock:
            self._db.execute("UPDATE print_jobs SET next_attempt_at = ? WHERE state = 'queued'", (self.clock(),))

    def run_forever(self, stop: threading.Event, poll: float = 0.5) -> None:
        """For a station worker thread: keep printing until ``stop`` is set."""
        while not stop.is_set():
            self.run_once()
            stop.wait(poll)
