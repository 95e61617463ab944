"""Scans a warehouse station took while the database was away: kept on disk, in order, until answered.

A scan is validated against the server's order (right item? one too many? cancelled meanwhile?), so
it cannot be answered offline; but it must not be lost either. The station keeps it here (SQLite,
WAL, synchronous=FULL: on disk before the picker is told "kept") and sends the held scans one by one,
in scan order, when the link is back; each then gets its real answer on screen.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from app.domain import clock


@dataclass(frozen=True, slots=True)
class HeldScan:
    seq: int
    code: str
    box_no: str | None
    warehouse_id: int | None


class HeldScans:
    """An ordered, durable list of scans waiting for the database (``path=None``: in memory)."""

    def __init__(self, path: Path | str | None = None) -> None:
        target = str(path) if path else ":memory:"
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            if path:
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("CREATE TABLE IF NOT EXISTS held_scans (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                               "code TEXT NOT NULL, box_no TEXT, warehouse_id INTEGER, held_at TEXT NOT NULL)")

    def add(self, code: str, box_no: str | None, warehouse_id: int | None) -> int:
        """Keep a scan at the end of the line; returns how many are waiting."""
        with self._lock:
            self._conn.execute("INSERT INTO held_scans (code, box_no, warehouse_id, held_at) VALUES (?, ?, ?, ?)",
                               (code, box_no, warehouse_id, clock.now().isoformat()))
            return int(self._conn.execute("SELECT count(*) FROM held_scans").fetchone()[0])

    def first(self) -> HeldScan | None:
        with self._lock:
            row = self._conn.execute("SELECT seq, code, box_no, warehouse_id FROM held_scans ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else HeldScan(*row)

    def drop(self, seq: int) -> None:
        """A held scan got its answer from the server."""
        with self._lock:
            self._conn.execute("DELETE FROM held_scans WHERE seq = ?", (seq,))

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM held_scans").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
