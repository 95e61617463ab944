"""When a signed-in station has been left alone long enough to sign its person out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from app.domain import clock


class IdleWatch:
    """Counts from the last thing the person did; ``clock`` is the business clock unless a test passes its own."""

    def __init__(self, minutes: int, clock_now: Callable[[], datetime] = clock.now) -> None:
        self.limit = timedelta(minutes=minutes)
        self._now = clock_now
        self.last_activity = clock_now()

    def touch(self) -> None:
        """The person did something (a key, a click, a scan)."""
        self.last_activity = self._now()

    def expired(self) -> bool:
        return self.limit > timedelta(0) and self._now() - self.last_activity >= self.limit
