"""Counting what a station sends to the server: every statement and every BEGIN/COMMIT/ROLLBACK is a round trip."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event


class RoundTrips:
    """Statements and transaction commands sent over ``engine`` since it was made (or ``n`` was reset)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.n = 0
        event.listen(engine, "before_cursor_execute", self._one)
        for name in ("begin", "commit", "rollback"):
            event.listen(engine, name, self._one)

    def _one(self, *_: object, **__: object) -> None:
        self.n += 1
