"""Whether the hub can reach its database: said once per outage in business words, and once when it is back (issue #19).

The hub's threads (pollers, the claimer, the outbox and write-back rounds, the daily anchor, the
status line) all meet a stopped or restarted PostgreSQL the same way. Each hands the failure here:
a lost database is one warning sentence (数据库不可用 …) for the whole outage instead of a traceback
per thread and round, and the first success afterwards says how long it lasted. Anything else is
not ours to judge and the caller logs it as before.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg
from sqlalchemy import exc as sa_exc

from app.domain.messages import render
from app.services.unit_of_work import DatabaseUnavailable, first_line

log = logging.getLogger(__name__)
LOST = (DatabaseUnavailable, sa_exc.OperationalError, sa_exc.InterfaceError, psycopg.OperationalError,
        psycopg.InterfaceError)


def is_lost_database(err: BaseException) -> bool:
    """A stopped, restarted or unreachable server, or a session it terminated (not a bug, not bad data)."""
    return isinstance(err, LOST) or bool(getattr(err, "connection_invalidated", False))


class DatabaseStatus:
    """The hub process's view of its database; thread-safe, one per process (:data:`HUB_DATABASE`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_since: float | None = None

    @property
    def down_for(self) -> float | None:
        """Seconds since the outage began, or None while the database answers."""
        with self._lock:
            return None if self._down_since is None else time.monotonic() - self._down_since

    def failed(self, err: BaseException, where: str) -> bool:
        """Note a failure of ``where`` (a business name: 「店铺 X 的订单拉取」); True when it was the database."""
        if not is_lost_database(err):
            return False
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = time.monotonic()
        if first:
            driver = err.__cause__ if isinstance(err, DatabaseUnavailable) and err.__cause__ is not None else err
            log.warning("%s", render("HUB_DB_DOWN", detail=first_line(driver), where=where))
        return True

    def ok(self) -> None:
        """Something just worked against the database: say so once if it had been away."""
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            log.warning("%s", render("HUB_DB_BACK", seconds=f"{time.monotonic() - since:.1f}"))


HUB_DATABASE = DatabaseStatus()
