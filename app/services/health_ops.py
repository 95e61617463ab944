"""Operational health beside the index: sync delay and last pulls per shop, SLA breaches, after-sales
handling, outbox backlog, reprints and station activity — and the rollups checked against a recount."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.domain.actor import Actor
from app.domain.health import Counts, percentile
from app.services import stations
from app.services.health import COUNTERS, Span
from app.services.permissions import require
from app.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class ShopSync:
    """One shop's intake: delay from the platform's change to our copy, last good pull, last error in words."""

    shop_id: int
    shop: str
    platform: str
    delay_p50: float | None
    delay_p95: float | None
    samples: int
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int


@dataclass(frozen=True, slots=True)
class Operations:
    shops: tuple[ShopSync, ...]
    breaches: dict[str, dict[str, int]]  # dimension → key → late shipped + overdue unshipped
    handling_median_s: float | None
    handling_cases: int
    outbox_backlog: int
    dead_letters: int
    reprints: int
    stations_active: tuple[str, ...]  # a heartbeat within two of the station's intervals
    stations_quiet: tuple[str, ...]  # beat once, silent since
    print_failures: int  # failed print attempts the stations reported in the range




def operations(uow: UnitOfWork, actor: Actor, span: Span, now: datetime) -> Operations:
    """Operational health over ``span``; "now" decides what is overdue and which stations are active."""
    with uow:
        require(uow, actor, "health.view")
        s = uow.session
        p = span.params | {"now": now}
        delays: dict[int, list[float]] = {}
        # sync delay: when the hub first stored an order minus the platform's time stamp on that version
        # (orders the platform changed since carry a later stamp and are left out); the newest 20,000
        for shop_id, delay in s.execute(sa.text(
                "SELECT shop_id, extract(epoch FROM created_at - platform_updated_at) FROM orders "
                "WHERE ordered_at >= :s AND ordered_at < :e AND platform_updated_at IS NOT NULL "
                "AND created_at >= platform_updated_at ORDER BY ordered_at DESC LIMIT 20000"), p):
            delays.setdefault(shop_id, []).append(float(delay))
        shops = tuple(ShopSync(
            r["id"], r["name"], r["platform"], percentile(delays.get(r["id"], []), 50),
            percentile(delays.get(r["id"], []), 95), len(delays.get(r["id"], [])), r["last_success_at"],
            r["last_error"], r["last_error_at"], int(r["consecutive_failures"] or 0))
            for r in s.execute(sa.text(
                "SELECT sh.id, sh.name, sh.platform, st.last_success_at, st.last_error, st.last_error_at, "
                "st.consecutive_failures FROM shops sh LEFT JOIN shop_sync_state st ON st.shop_id = sh.id "
                "ORDER BY sh.id")).mappings())
        breaches: dict[str, dict[str, int]] = {}
        for dim, col, key in (("shop", "shop_id", "shop_id::text"), ("platform", "platform", "platform"),
                              ("warehouse", "warehouse_id", "coalesce(warehouse_id, 0)::text")):
            late = dict(s.execute(sa.text(f"SELECT {col}::text, sum(late) FROM health_rollup "
                                          f"WHERE bucket >= :s AND bucket < :e GROUP BY 1"), p).all())
            overdue = dict(s.execute(sa.text(
                f"SELECT {key}, count(*) FROM orders WHERE status IN ('paid', 'allocating') "
                f"AND ship_by < :now AND ordered_at >= :s AND ordered_at < :e GROUP BY 1"), p).all())
            breaches[dim] = {k: int(late.get(k) or 0) + int(overdue.get(k) or 0)
                             for k in set(late) | set(overdue) if int(late.get(k) or 0) + int(overdue.get(k) or 0)}
        handling = s.execute(sa.text(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - requested_at)), "
            "count(*) FROM after_sales_cases WHERE closed_at IS NOT NULL AND requested_at >= :s "
            "AND requested_at < :e"), p).one()
        backlog, dead = s.execute(sa.text(
            "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'failed') "
            "FROM outbox")).one()
        reprints = int(s.scalar(sa.text("SELECT count(*) FROM slip_prints WHERE reprint AND printed_at >= :s "
                                        "AND printed_at < :e"), p) or 0)
        failures = int(s.scalar(sa.text("SELECT count(*) FROM print_failures WHERE failed_at >= :s "
                                        "AND failed_at < :e"), p) or 0)
    seen = stations.stations(uow, actor, now)
    return Operations(
        shops, breaches, float(handling[0]) if handling[0] is not None else None, int(handling[1]),
        int(backlog), int(dead), reprints, tuple(x.station for x in seen if x.online),
        tuple(x.station for x in seen if not x.online), failures)


# --- rollups against a recount ----------------------------------------------------------------------

Key = tuple[datetime, int, int, str]


def stored_rollup(uow: UnitOfWork) -> dict[Key, Counts]:
    """The sums as the triggers kept them (rows that went to zero left out)."""
    with uow:
        rows = uow.session.execute(sa.text(
            f"SELECT bucket, shop_id, warehouse_id, platform, {', '.join(COUNTERS)} FROM health_rollup")).mappings()
        out = {(r["bucket"], r["shop_id"], r["warehouse_id"], r["platform"]): Counts(**{c: r[c] for c in COUNTERS})
               for r in rows}
    return {k: v for k, v in out.items() if v != Counts()}


def recomputed_rollup(uow: UnitOfWork) -> dict[Key, Counts]:
    """The sums recounted from every order, ignoring the stored facts: what the triggers must equal."""
    sums = ("count(*), count(*) FILTER (WHERE shipped), count(*) FILTER (WHERE on_time), "
            "count(*) FILTER (WHERE on_time AND rescues = 0), count(*) FILTER (WHERE rescues > 0), "
            "coalesce(sum(rescues), 0), count(*) FILTER (WHERE late), count(*) FILTER (WHERE checked), "
            "count(*) FILTER (WHERE mismatched), count(*) FILTER (WHERE exception), "
            "count(*) FILTER (WHERE exception AND untraceable)")
    with uow:
        rows = uow.session.execute(sa.text(
            f"SELECT bucket, shop_id, warehouse_id, platform, {sums} FROM health_fact_source "
            "GROUP BY 1, 2, 3, 4")).all()
    return {(r[0], r[1], r[2], r[3]): Counts(*(int(v) for v in r[4:])) for r in rows}


def rebuild(uow: UnitOfWork) -> int:
    """Recount every order's facts and sums from scratch (after a restore); returns the orders counted."""
    with uow:
        s = uow.session
        s.execute(sa.text("DELETE FROM health_order_facts"))
        s.execute(sa.text("DELETE FROM health_rollup"))
        s.execute(sa.text("SELECT health_refresh(ARRAY(SELECT id FROM orders))"))
        n = int(s.scalar(sa.text("SELECT count(*) FROM health_order_facts")) or 0)
        uow.commit()
    return n


def as_plain(value: Any) -> Any:
    """Dataclasses and datetimes as JSON-ready values (for ``orderhub health --json``)."""
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        return as_plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): as_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
