"""Stations as the server sees them: their heartbeats (online / offline) and their printers' failures.

A station beats every N seconds from its sync worker (straight to the server: a beat kept while
offline would only say the station was alive back then); a print failure travels as a station
command (``station.print_failure``) through the station's outbox, so it reaches the server however
long the link was down, and a replay records it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from app.db.station_models import PrintFailure, StationHeartbeat
from app.domain import clock
from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.messages import Coded
from app.services.health import Span
from app.services.permissions import require
from app.services.unit_of_work import UnitOfWork

MISSED_BEATS = 2
"""A station is offline when no beat arrived for this many of its own intervals."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What a station says about itself every beat."""

    station: str
    roles: tuple[str, ...]  # the roles that may sign in there (empty: every role)
    operator: str | None  # login of the person signed in
    operator_name: str | None
    operator_role: str | None
    app_version: str
    pending_outbox: int
    every_seconds: int


def _clip(text: str | None, n: int) -> str | None:
    return None if text is None else str(text)[:n]


def record_heartbeat(uow: UnitOfWork, beat: Heartbeat) -> None:
    """Store ``beat`` as the station's latest (one row per station), seen now by the business clock."""
    now = clock.now()
    values = {"station": _clip(beat.station, 120) or "-", "roles": [str(r)[:20] for r in beat.roles],
              "operator": _clip(beat.operator, 120), "operator_name": _clip(beat.operator_name, 120),
              "operator_role": _clip(beat.operator_role, 20), "app_version": _clip(beat.app_version, 40) or "-",
              "pending_outbox": max(int(beat.pending_outbox), 0), "every_seconds": max(int(beat.every_seconds), 1),
              "seen_at": now}
    stmt = insert(StationHeartbeat).values(**values, first_seen_at=now)
    stmt = stmt.on_conflict_do_update(index_elements=[StationHeartbeat.station],
                                      set_={k: stmt.excluded[k] for k in values if k != "station"})
    with uow:
        uow.session.execute(stmt)
        uow.commit()


@dataclass(frozen=True, slots=True)
class StationState:
    """A station on the supervisor's list: its last beat and whether it still counts as online."""

    station: str
    online: bool
    roles: tuple[str, ...]
    operator: str | None
    operator_name: str | None
    operator_role: str | None
    app_version: str
    pending_outbox: int
    every_seconds: int
    seen_at: datetime
    silent_seconds: float


def stations(uow: UnitOfWork, actor: Actor, now: datetime) -> list[StationState]:
    """Every station that ever beat, online first; offline = no beat for two of its intervals before ``now``."""
    with uow:
        require(uow, actor, "health.view")
        rows = uow.session.scalars(sa.select(StationHeartbeat).order_by(StationHeartbeat.station)).all()
        out = [StationState(r.station, (now - r.seen_at) <= timedelta(seconds=MISSED_BEATS * r.every_seconds),
                            tuple(r.roles or ()), r.operator, r.operator_name, r.operator_role, r.app_version,
                            r.pending_outbox, r.every_seconds, r.seen_at, max((now - r.seen_at).total_seconds(), 0.0))
               for r in rows]
    return sorted(out, key=lambda s: (not s.online, s.station))


# --- print failures --------------------------------------------------------------------------------

def record_print_failure(uow: UnitOfWork, args: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """The ``station.print_failure`` command: keep one failed print attempt (a repeat changes nothing).

    Raises:
        BusinessError: PRINT_FAILURE_INCOMPLETE for a report without a printer, job or reason (the applier
            records it as a refused command).
    """
    for key in ("printer", "job_id", "reason"):
        if not str(args.get(key) or "").strip():
            raise BusinessError("PRINT_FAILURE_INCOMPLETE", what=Coded("print_failure_field", key))
    try:
        failed_at = datetime.fromtimestamp(float(args["failed_at"]), UTC)
        attempt = int(args.get("attempt") or 1)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise BusinessError("PRINT_FAILURE_INCOMPLETE", what=Coded("print_failure_field", "failed_at")) from None
    params = args.get("params") if isinstance(args.get("params"), dict) else {}
    stmt = insert(PrintFailure).values(
        station=_clip(actor.station, 120) or "-", printer=_clip(args["printer"], 120), job_id=_clip(args["job_id"], 40),
        attempt=attempt, order_no=_clip(args.get("order_no"), 64),
        reason=_clip(args["reason"], 60), params=params, operator=_clip(actor.operator, 120),
        failed_at=failed_at, reported_at=clock.now(),
    ).on_conflict_do_nothing(constraint="uq_print_failures_station_job_attempt")
    with uow:
        uow.session.execute(stmt)
        uow.commit()
    return {}


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """Print failures of one station's printer for one reason, in a range."""

    station: str
    printer: str
    reason: str
    count: int
    last_at: datetime


@dataclass(frozen=True, slots=True)
class FailureRow:
    station: str
    printer: str
    reason: str
    params: dict[str, Any]
    order_no: str | None
    job_id: str
    attempt: int
    operator: str
    failed_at: datetime


def print_failure_groups(uow: UnitOfWork, actor: Actor, span: Span) -> list[FailureGroup]:
    """Failures in ``span`` counted by station, printer and reason, most first."""
    f = PrintFailure
    stmt = (sa.select(f.station, f.printer, f.reason, sa.func.count(), sa.func.max(f.failed_at))
            .where(f.failed_at >= span.start, f.failed_at < span.end)
            .group_by(f.station, f.printer, f.reason).order_by(sa.func.count().desc(), f.station, f.printer, f.reason))
    with uow:
        require(uow, actor, "health.view")
        return [FailureGroup(*row) for row in uow.session.execute(stmt)]


def print_failures(uow: UnitOfWork, actor: Actor, span: Span, *, station: str | None = None, printer: str | None = None,
                   reason: str | None = None, limit: int = 500) -> list[FailureRow]:
    """The failures behind a group (or all of them in ``span``), newest first."""
    f = PrintFailure
    stmt = (sa.select(f.station, f.printer, f.reason, f.params, f.order_no, f.job_id, f.attempt, f.operator,
                      f.failed_at).where(f.failed_at >= span.start, f.failed_at < span.end)
            .order_by(f.failed_at.desc(), f.id.desc()).limit(limit))
    for column, value in ((f.station, station), (f.printer, printer), (f.reason, reason)):
        if value is not None:
            stmt = stmt.where(column == value)
    with uow:
        require(uow, actor, "health.view")
        return [FailureRow(*row) for row in uow.session.execute(stmt)]
