"""The station's outbox: every write waits here (durably) until the server has applied or refused it.

Commands replay strictly in the order they were made. A command on an order that already has
an earlier command of this station waiting is chained to it: the version it expects is the
version the earlier command leaves behind, known only when that one has been applied.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.domain.clock import now
from app.domain.errors import BusinessError
from app.sync.commands import Command, spec_for
from app.sync.local_db import LocalDb

PENDING, ACCEPTED, REJECTED, ACKNOWLEDGED = "pending", "accepted", "rejected", "acknowledged"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A command as the station keeps it, with what became of it."""

    seq: int
    command: Command
    order_no: str | None
    after_id: str | None
    base_version: int | None
    state: str
    result: dict[str, Any] | None


class Outbox:
    """Queue commands durably; hand them out in order; record each outcome."""

    def __init__(self, db: LocalDb) -> None:
        self._db = db

    def add(self, command: Command) -> OutboxEntry:
        """Store ``command``; when this returns, it is on disk (fsync'd) — the UI may say "saved".

        Raises:
            BusinessError: ``STATION_DISK_FULL`` or ``STATION_STORAGE_FAILED``: the command was not saved.
        """
        spec = spec_for(command.name)
        order_no = spec.order_no(command.args) if spec else None
        base = command.args.get("expected_version")
        try:
            return self._add(command, order_no, base)
        except sqlite3.OperationalError as err:
            # Never a silent loss: the person is told this one was not saved (and why); nothing half-written
            # stays behind, because the insert's transaction rolled back.
            if getattr(err, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:  # the disk (or the file's limit) is full
                raise BusinessError("STATION_DISK_FULL") from err
            raise BusinessError("STATION_STORAGE_FAILED", detail=str(err)[:120]) from err

    def _add(self, command: Command, order_no: str | None, base: int | None) -> OutboxEntry:
        conn = self._db.connect()
        conn.execute("PRAGMA synchronous=FULL")  # durable before "saved", whichever thread adds it
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            after = None
            if order_no is not None:
                # The maker saw version ``base``; if this station's last command on the order was made on
                # that same version (still waiting, or applied before the cache caught up), the new one
                # follows it rather than conflicting with this station's own change.
                prior = conn.execute("SELECT command_id, state, base_version FROM outbox WHERE order_no = ? "
                                     "AND state IN ('pending', 'accepted') ORDER BY seq DESC LIMIT 1",
                                     (order_no,)).fetchone()
                if prior is not None and (prior["state"] == PENDING or prior["base_version"] == base):
                    after = prior["command_id"]
            cur = conn.execute(
                "INSERT INTO outbox (command_id, name, args, order_no, after_id, base_version, operator, station, "
                "station_ip, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (str(command.id), command.name, json.dumps(command.args, ensure_ascii=False), order_no, after,
                 base, command.operator, command.station, command.station_ip, command.created_at.isoformat()))
        return OutboxEntry(int(cur.lastrowid or 0), command, order_no, after, base, PENDING, None)

    def pending(self, limit: int = 500) -> list[OutboxEntry]:
        """The oldest commands still waiting, in the order they were made."""
        rows = self._db.connect().execute("SELECT * FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT ?",
                                          (limit,)).fetchall()
        return [_entry(r) for r in rows]

    def resolved_args(self, entry: OutboxEntry, batch: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """The arguments to send: a chained command expects the version its predecessor left behind.

        A refused predecessor changed nothing, so the order is still at the version *it* expected:
        the chain is followed back to the last command that was applied (or to the version its
        maker saw). Keeping the maker's own version instead would refuse every later command of the
        station on that order as a conflict with the station's own earlier changes — one poison
        command would take all of them down with it. The server re-validates the version either way.
        ``batch`` holds outcomes of the replay batch under way (``{command_id: {"state", "result"}}``),
        not yet recorded here.
        """
        args = dict(entry.command.args)
        after = entry.after_id
        conn = self._db.connect()
        while after is not None:
            row = conn.execute("SELECT state, result, args, after_id FROM outbox WHERE command_id = ?",
                               (after,)).fetchone()
            if row is None:
                break
            state, result = row["state"], json.loads(row["result"] or "{}")
            if batch is not None and str(after) in batch:
                state, result = batch[str(after)]["state"], batch[str(after)]["result"] or {}
            if state == ACCEPTED:
                version = result.get("version")
                if version is not None:
                    args["expected_version"] = version
                break
            if state == PENDING:  # not replayed yet (replay goes oldest first, so only outside it)
                break
            base = json.loads(row["args"]).get("expected_version")  # refused: the order is where it expected
            if base is not None:
                args["expected_version"] = base
            after = row["after_id"]
        return args

    def finish(self, command_id: uuid.UUID, outcome: str, result: dict[str, Any]) -> None:
        """Record the server's answer (durably, before the next command is sent)."""
        conn = self._db.connect()
        with conn:
            conn.execute("UPDATE outbox SET state = ?, result = ?, finished_at = ? WHERE command_id = ?",
                         (outcome, json.dumps(result, ensure_ascii=False), now().isoformat(), str(command_id)))

    def finish_many(self, outcomes: list[tuple[uuid.UUID, str, dict[str, Any]]]) -> None:
        """Record a replay batch's answers in one local transaction (the server committed them together)."""
        stamp = now().isoformat()
        conn = self._db.connect()
        with conn:
            conn.executemany("UPDATE outbox SET state = ?, result = ?, finished_at = ? WHERE command_id = ?",
                             [(outcome, json.dumps(result, ensure_ascii=False), stamp, str(command_id))
                              for command_id, outcome, result in outcomes])

    def acknowledge(self, command_id: uuid.UUID | str) -> None:
        """The person has seen that their command was refused; it leaves the list."""
        conn = self._db.connect()
        with conn:
            conn.execute("UPDATE outbox SET state = 'acknowledged' WHERE command_id = ? AND state = 'rejected'",
                         (str(command_id),))

    def rejected(self) -> list[OutboxEntry]:
        """Refused commands nobody has acknowledged yet (the UI lists them)."""
        rows = self._db.connect().execute("SELECT * FROM outbox WHERE state = 'rejected' ORDER BY seq").fetchall()
        return [_entry(r) for r in rows]

    def waiting(self) -> tuple[int, int]:
        """(pending, rejected): what the status bar shows, read every sync round. Two ranges of the
        (state, seq) index, so the cost follows the commands still waiting, not the whole outbox
        (every accepted command stays in it: a GROUP BY over all of them grew through the day)."""
        row = self._db.connect().execute(
            "SELECT (SELECT count(*) FROM outbox WHERE state = 'pending'), "
            "(SELECT count(*) FROM outbox WHERE state = 'rejected')").fetchone()
        return int(row[0]), int(row[1])

    def counts(self) -> dict[str, int]:
        """Commands by state, the whole outbox (tests and reports; the sync round uses :meth:`waiting`)."""
        rows = self._db.connect().execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()
        return {state: int(n) for state, n in rows}

    def entry(self, command_id: uuid.UUID | str) -> OutboxEntry | None:
        row = self._db.connect().execute("SELECT * FROM outbox WHERE command_id = ?", (str(command_id),)).fetchone()
        return None if row is None else _entry(row)

    def all(self) -> list[OutboxEntry]:
        return [_entry(r) for r in self._db.connect().execute("SELECT * FROM outbox ORDER BY seq").fetchall()]


def _entry(row: Any) -> OutboxEntry:
    command = Command(row["name"], json.loads(row["args"]), row["operator"], row["station"], row["station_ip"],
                      uuid.UUID(row["command_id"]), datetime.fromisoformat(row["created_at"]))
    return OutboxEntry(row["seq"], command, row["order_no"], row["after_id"], row["base_version"], row["state"],
                       json.loads(row["result"]) if row["result"] else None)
