"""订单健康度 from the database: the four health numbers, their time series and bars, read from rollups.

The sums in ``health_rollup`` are kept by triggers (migration 0012) in the writer's transaction, so
a view reads a few thousand hourly rows whatever the number of orders. Ranges are whole hours
(the rollup's grain); days and weeks are China days and weeks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.health import HEADLINE, TRACE_SECONDS, Counts, Grain, Rating, consistent, ratio
from app.services.permissions import require
from app.services.unit_of_work import UnitOfWork

COUNTERS = tuple(f.name for f in fields(Counts))
_SUMS = ", ".join(f"sum({c})::bigint AS {c}" for c in COUNTERS)
DIMENSIONS = {"shop": "r.shop_id", "warehouse": "r.warehouse_id", "platform": "r.platform"}
TRUNC = {Grain.HOUR: "date_trunc('hour', {c}, 'UTC')", Grain.DAY: "date_trunc('day', {c}, 'Asia/Shanghai')",
         Grain.WEEK: "date_trunc('week', {c}, 'Asia/Shanghai')"}


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def hour_ceil(moment: datetime) -> datetime:
    floor = hour_floor(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open range of whole hours [start, end)."""

    start: datetime
    end: datetime

    @classmethod
    def of(cls, start: datetime, end: datetime) -> Span:
        """Widened to whole hours.

        Raises:
            BusinessError: HEALTH_RANGE when ``start`` is not before ``end``.
        """
        if start >= end:
            raise BusinessError("HEALTH_RANGE", start=start.isoformat(), end=end.isoformat())
        return cls(hour_floor(start), hour_ceil(end))

    @classmethod
    def last_days(cls, now: datetime, days: int) -> Span:
        return cls.of(now - timedelta(days=days), now)

    @property
    def params(self) -> dict[str, datetime]:
        return {"s": self.start, "e": self.end}


@dataclass(frozen=True, slots=True)
class Point:
    """One bucket of a time series: its start and the sums in it."""

    at: datetime
    counts: Counts
    response_median: float | None = None


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: a shop, warehouse, platform or agent with its sums."""

    key: str
    counts: Counts
    response_median: float | None = None
    agent_orders_per_day: float | None = None


@dataclass(frozen=True, slots=True)
class Headline:
    """One of the four health numbers with its rating."""

    key: str
    value: float | None
    rating: Rating
    detail: dict[str, Any] = field(default_factory=dict)


def _counts(row: Any) -> Counts:
    return Counts(**{c: int(row[c] or 0) for c in COUNTERS})


def totals(session: Session, span: Span) -> Counts:
    row = session.execute(sa.text(f"SELECT {_SUMS} FROM health_rollup r WHERE bucket >= :s AND bucket < :e"),
                          span.params).mappings().one()
    return _counts(row)


def timeline(uow: UnitOfWork, actor: Actor, span: Span, grain: Grain) -> list[Point]:
    """The sums per hour/day/week in ``span``, each with the after-sales first-response median."""
    with uow:
        require(uow, actor, "health.view")
        return _timeline(uow.session, span, grain)


def _timeline(s: Session, span: Span, grain: Grain) -> list[Point]:
    trunc = TRUNC[grain]
    rows = s.execute(sa.text(f"SELECT {trunc.format(c='bucket')} AS at, {_SUMS} FROM health_rollup r "
                             "WHERE bucket >= :s AND bucket < :e GROUP BY 1 ORDER BY 1"), span.params).mappings()
    return _with_medians(s, span, grain, {r["at"]: Point(r["at"], _counts(r)) for r in rows})


def _with_medians(s: Session, span: Span, grain: Grain, points: dict[datetime, Point]) -> list[Point]:
    """The buckets in time order, each with the after-sales first-response median of its cases."""
    trunc = TRUNC[grain]
    medians = s.execute(sa.text(
        f"SELECT {trunc.format(c='requested_at')} AS at, percentile_cont(0.5) WITHIN GROUP "
        "(ORDER BY extract(epoch FROM first_response_at - requested_at)) FROM after_sales_cases "
        "WHERE requested_at >= :s AND requested_at < :e AND first_response_at IS NOT NULL GROUP BY 1"), span.params)
    for at, med in medians:
        points[at] = replace(points.get(at) or Point(at, Counts()), response_median=float(med))
    return [points[k] for k in sorted(points)]


def bars(uow: UnitOfWork, actor: Actor, span: Span, dimension: str) -> list[Bar]:
    """The sums per shop / warehouse / platform, or per agent (客服: first response and orders per day)."""
    with uow:
        require(uow, actor, "health.view")
        return _bars(uow.session, span, dimension)


def _bars(s: Session, span: Span, dimension: str) -> list[Bar]:
    if dimension == "agent":
        return _agent_bars(s, span)
    column = DIMENSIONS[dimension]
    rows = s.execute(sa.text(f"SELECT {column}::text AS key, {_SUMS} FROM health_rollup r "
                             "WHERE bucket >= :s AND bucket < :e GROUP BY 1 ORDER BY 1"), span.params).mappings()
    return [Bar(r["key"], _counts(r)) for r in rows if any(r[c] for c in COUNTERS)]


def _agent_bars(s: Session, span: Span) -> list[Bar]:
    responses = dict(s.execute(sa.text(
        "SELECT created_by, percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_response_at - "
        "requested_at)) FROM after_sales_cases WHERE requested_at >= :s AND requested_at < :e "
        "AND first_response_at IS NOT NULL GROUP BY 1"), span.params).all())
    days = s.execute(sa.text(
        "SELECT operator, count(*)::float / count(DISTINCT day) FROM health_agent_orders "
        "WHERE day >= (:s AT TIME ZONE 'Asia/Shanghai')::date AND day < (:e AT TIME ZONE 'Asia/Shanghai')::date + "
        "CASE WHEN (:e AT TIME ZONE 'Asia/Shanghai')::time > '00:00' THEN 1 ELSE 0 END GROUP BY 1"), span.params).all()
    per_day = dict(days)
    return [Bar(agent, Counts(), float(responses[agent]) if agent in responses else None, per_day.get(agent))
            for agent in sorted(set(responses) | set(per_day))]


# --- 状态一致性: outside sources of truth -------------------------------------------------------------
# A source is one function: given the session and the range, the (order no., our stage, its stage,
# its raw status) of every order it reported on in the range. The platform's comes from
# order_outside_status (written by a trigger when intake applies a platform version); an ERP bridge
# that upserts rows with source 'erp' into the same table is counted by the rollup with no change here.

OutsideRows = list[tuple[str, str, str, str, str | None]]  # (order no., source, ours, theirs, raw)


def _stored_sources(s: Session, span: Span, limit: int) -> OutsideRows:
    rows = s.execute(sa.text(
        "SELECT o.order_no, x.source, o.status, x.stage, x.raw_status FROM health_order_facts f "
        "JOIN orders o ON o.id = f.order_id JOIN order_outside_status x ON x.order_id = f.order_id "
        "WHERE f.bucket >= :s AND f.bucket < :e AND f.mismatched ORDER BY o.ordered_at DESC LIMIT :n"),
        span.params | {"n": limit})
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


OUTSIDE_SOURCES: list[Callable[[Session, Span, int], OutsideRows]] = [_stored_sources]


@dataclass(frozen=True, slots=True)
class Mismatch:
    order_no: str
    source: str
    ours: str
    theirs: str
    raw_status: str | None


def mismatches(uow: UnitOfWork, actor: Actor, span: Span, limit: int = 200) -> list[Mismatch]:
    """The orders whose stage here disagrees with an outside source, with both stages."""
    with uow:
        require(uow, actor, "health.view")
        found = [Mismatch(*row) for source in OUTSIDE_SOURCES for row in source(uow.session, span, limit)]
    return [m for m in found if not consistent(m.ours, m.theirs)][:limit]


# --- 规则可追溯性 ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Traceability:
    """Exception orders and whether each one's story resolves; the slowest story timed."""

    exceptions: int
    resolved: int
    unresolved: tuple[str, ...]
    slowest_seconds: float | None
    sampled: int

    @property
    def share(self) -> float | None:
        return ratio(self.resolved, self.exceptions)


def traceability(uow: UnitOfWork, actor: Actor, span: Span, *, sample: int = 3, listed: int = 200) -> Traceability:
    """Share of exception orders (late, rescued, split, held, intercepted) whose story resolves: every
    routing decision names rule versions that exist (an edited rule keeps the version that decided),
    every manual rescue names who and on what basis, and a shipped order has its parcel on record.

    The counts come from the rollup; the unresolved orders (up to ``listed``) from the facts' partial
    index; ``sample`` of the newest exception orders have their story built by the trace service and
    timed against the 30 s limit.
    """
    with uow:
        require(uow, actor, "health.view")
        rows = _trace_rows(uow.session, span, totals(uow.session, span), sample, listed)
    return _timed(uow, rows)


@dataclass(frozen=True, slots=True)
class _TraceRows:
    counts: Counts
    unresolved: tuple[str, ...]
    newest: list[str]


def _trace_rows(s: Session, span: Span, counts: Counts, sample: int, listed: int) -> _TraceRows:
    bad = tuple(s.scalars(sa.text(
        "SELECT o.order_no FROM health_order_facts f JOIN orders o ON o.id = f.order_id "
        "WHERE f.exception AND f.untraceable AND f.bucket >= :s AND f.bucket < :e "
        "ORDER BY f.bucket DESC, f.order_id DESC LIMIT :n"), span.params | {"n": listed}))
    newest = list(s.scalars(sa.text(
        "SELECT o.order_no FROM health_order_facts f JOIN orders o ON o.id = f.order_id "
        "WHERE f.exception AND f.bucket >= :s AND f.bucket < :e ORDER BY f.bucket DESC, f.order_id DESC "
        "LIMIT :n"), span.params | {"n": sample})) if sample else []
    return _TraceRows(counts, bad, newest)


def _timed(uow: UnitOfWork, rows: _TraceRows) -> Traceability:
    from app.services import trace

    slowest = None
    for order_no in rows.newest:
        slowest = max(slowest or 0.0, trace.order_story(uow, order_no).seconds)
    resolved = rows.counts.exceptions - rows.counts.untraceable
    if slowest is not None and slowest > TRACE_SECONDS:  # a story that takes longer than 30 s does not count
        resolved = 0
    return Traceability(rows.counts.exceptions, resolved, rows.unresolved, slowest, len(rows.newest))


# --- the summary row --------------------------------------------------------------------------------

def response_median(s: Session, span: Span) -> tuple[float | None, int]:
    row = s.execute(sa.text(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_response_at - requested_at)), "
        "count(*) FROM after_sales_cases WHERE requested_at >= :s AND requested_at < :e "
        "AND first_response_at IS NOT NULL"), span.params).one()
    return (float(row[0]) if row[0] is not None else None), int(row[1])


@dataclass(frozen=True, slots=True)
class Summary:
    span: Span
    counts: Counts
    headlines: tuple[Headline, ...]

    def headline(self, key: str) -> Headline:
        return next(h for h in self.headlines if h.key == key)


def summary(uow: UnitOfWork, actor: Actor, span: Span, *, trace_sample: int = 3) -> Summary:
    """The four health numbers in ``span``, each rated green/amber/red against its threshold."""
    with uow:
        require(uow, actor, "health.view")
        counts, med, rows = _summary_rows(uow.session, span, trace_sample)
    return _summary(span, counts, med, _timed(uow, rows))


def _summary_rows(s: Session, span: Span, trace_sample: int) -> tuple[Counts, tuple[float | None, int], _TraceRows]:
    counts = totals(s, span)
    return counts, response_median(s, span), _trace_rows(s, span, counts, trace_sample, 200)


def _summary(span: Span, counts: Counts, med: tuple[float | None, int], trace: Traceability) -> Summary:
    values = {"consistency": counts.mismatch_share, "response": med[0], "traceability": trace.share,
              "real_on_time": counts.real_on_time}
    details: dict[str, dict[str, Any]] = {
        "consistency": {"mismatched": counts.mismatched, "checked": counts.checked},
        "response": {"cases": med[1]},
        "traceability": {"exceptions": trace.exceptions, "resolved": trace.resolved,
                         "slowest_seconds": trace.slowest_seconds, "unresolved": list(trace.unresolved[:20])},
        "real_on_time": {"nominal": counts.nominal_on_time, "shipped": counts.shipped,
                         "rescued": counts.rescued, "rescues": counts.rescues},
    }
    return Summary(span, counts, tuple(Headline(m.key, values[m.key], m.rate(values[m.key]), details[m.key])
                                       for m in HEADLINE))


@dataclass(frozen=True, slots=True)
class Dashboard:
    """What the 主管 tab draws, read in one transaction."""

    summary: Summary
    points: list[Point]
    bars: dict[str, list[Bar]]


def _board_sums(s: Session, span: Span, grain: Grain) -> tuple[Counts, dict[datetime, Counts], dict[str, list[Bar]]]:
    """Totals, the sums per bucket and per shop / warehouse / platform from ONE read of the rollup
    (GROUPING SETS): the range's rows are read once, not five times — what a refresh costs grows with
    the rollup rows in the range, never with the orders."""
    at = TRUNC[grain].format(c="r.bucket")
    rows = s.execute(sa.text(
        f"SELECT GROUPING({at}, r.shop_id, r.warehouse_id, r.platform) AS g, {at} AS at, r.shop_id::text AS shop, "
        f"r.warehouse_id::text AS warehouse, r.platform, {_SUMS} FROM health_rollup r "
        f"WHERE r.bucket >= :s AND r.bucket < :e "
        f"GROUP BY GROUPING SETS ((), ({at}), (r.shop_id), (r.warehouse_id), (r.platform))"), span.params).mappings()
    # GROUPING's bits, left to right: at, shop, warehouse, platform (1 = not grouped by it)
    kinds = {0b1111: "total", 0b0111: "at", 0b1011: "shop", 0b1101: "warehouse", 0b1110: "platform"}
    total, points, per = Counts(), {}, {"shop": [], "warehouse": [], "platform": []}
    for r in rows:
        kind, counts = kinds[r["g"]], _counts(r)
        if kind == "total":
            total = counts
        elif kind == "at":
            points[r["at"]] = counts
        elif any(r[c] for c in COUNTERS):
            per[kind].append(Bar(r[kind], counts))
    return total, points, {k: sorted(v, key=lambda b: b.key) for k, v in per.items()}


def dashboard(uow: UnitOfWork, actor: Actor, span: Span, grain: Grain, *,
              dimensions: tuple[str, ...] = ("shop", "warehouse", "platform", "agent"), trace_sample: int = 0) -> Dashboard:
    """Summary, time series and bars for ``span`` in one transaction (one snapshot, one connection)."""
    with uow:
        require(uow, actor, "health.view")
        s = uow.session
        counts, by_bucket, bars_of = _board_sums(s, span, grain)
        med = response_median(s, span)
        rows = _trace_rows(s, span, counts, trace_sample, 200)
        points = _with_medians(s, span, grain, {at: Point(at, c) for at, c in by_bucket.items()})
        per = {d: (_agent_bars(s, span) if d == "agent" else bars_of[d]) for d in dimensions}
    return Dashboard(_summary(span, counts, med, _timed(uow, rows)), points, per)


def require_export(uow: UnitOfWork, actor: Actor) -> None:
    """Refuse before a report file is written unless ``actor`` may send the week's report out (health.export)."""
    with uow:
        require(uow, actor, "health.export")
