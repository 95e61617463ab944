"""Business time: stored in UTC, shown and reasoned about in China Standard Time (UTC+8, no DST)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")

_source: Callable[[], datetime] | None = None
_offset = timedelta(0)


def local(moment: datetime) -> datetime:
    """``moment`` in China Standard Time (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CST)


def now() -> datetime:
    """The current time, timezone-aware, in UTC: the wall clock (corrected, see :func:`follow`) unless a test has set the clock."""
    return _source() if _source is not None else datetime.now(UTC) + _offset


def follow(offset: timedelta) -> None:
    """Correct the wall clock by ``offset`` from now on: a station whose own clock is wrong keeps the server's time.

    A till set a day back would otherwise stamp notes and commands with yesterday, and anything
    ordered by those stamps would disagree with the order the server applied them in.
    """
    global _offset
    _offset = offset


@contextmanager
def set_to(source: Callable[[], datetime] | datetime) -> Iterator[None]:
    """Within the block, :func:`now` answers from ``source`` (a moment, or a function giving one).

    For tests that reason about deadlines, idle sign-outs or windows: they set "now" and move it,
    instead of comparing a fixed date with the wall clock. PostgreSQL's own ``now()`` is not moved;
    what the database stamps is compared with what the database stamps.
    """
    global _source
    if isinstance(source, datetime):
        if source.tzinfo is None:
            raise ValueError("the business clock needs a timezone-aware moment")
        moment = source
        source = lambda: moment  # noqa: E731
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous
