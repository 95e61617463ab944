"""Business time: stored in UTC, shown and reasoned about in China Standard Time (UTC+8, no DST)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")


def local(moment: datetime) -> datetime:
    """``moment`` in China Standard Time (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CST)


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)
