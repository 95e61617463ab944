"""Waves (波次): the warehouse lead groups open orders of one warehouse, most pressing first.

An order is ready for a wave when routing has reserved its stock in this warehouse (配货中), it is
in no other open wave and nobody is picking it. Orders go in by priority (加急 first), then by
ship-by deadline, then by the zone where their pick path starts, so one wave keeps pickers in as
few zones as possible. Two leads creating waves at the same moment get different orders: wave
creation takes the warehouse row's lock, so the second lead sees what the first one left, and the
database itself refuses an order in two open waves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db.models import Order, Warehouse
from app.db.warehouse_models import Pick, Wave, WaveOrder
from app.domain.actor import Actor
from app.domain.clock import local, now
from app.domain.errors import BusinessError, NotFound
from app.domain.status import OrderStatus
from app.services import audit
from app.services.pick_slips import first_zone, order_lines, packing_notes, priority_of
from app.services.unit_of_work import UnitOfWork
from app.services.permissions import require

MAX_WAVE = 500
_LATE = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class WaveRow:
    """A wave as the station and the command line list it."""

    wave_no: str
    warehouse: str
    status: str
    order_count: int
    piece_count: int
    done_count: int
    zones: tuple[str, ...]
    earliest_ship_by: datetime | None
    created_by: str
    created_at: datetime
    printed_at: datetime | None
    order_nos: tuple[str, ...] = ()


def _warehouse(session: Session, code_or_name: str) -> Warehouse:
    wh = session.execute(sa.select(Warehouse).where(sa.or_(Warehouse.code == code_or_name,
                                                           Warehouse.name == code_or_name))).scalar_one_or_none()
    if wh is None:
        raise NotFound(what="warehouse", key=code_or_name)
    return wh


def _ready(warehouse_id: int) -> list[sa.ColumnElement[bool]]:
    """An order ready for a new wave here: allocated to this warehouse, in no open wave, not being picked."""
    in_wave = sa.select(WaveOrder.order_id).where(WaveOrder.open, WaveOrder.order_id == Order.id).exists()
    picked = sa.select(Pick.id).where(Pick.order_id == Order.id, Pick.status != "stopped").exists()
    return [Order.warehouse_id == warehouse_id, Order.status == OrderStatus.ALLOCATING.value, ~in_wave, ~picked]


def _candidates(session: Session, warehouse_id: int) -> list[Order]:
    """Every ready order, read without locking: they are ranked first, and only the chosen are locked
    (:func:`_lock_chosen`). Locking all of them while each one's lines were read held every open order
    of the warehouse for the whole ranking — at the peak (issue #18) customer service's notes and the
    hub's routing queued behind each wave for seconds."""
    return list(session.execute(sa.select(Order).where(*_ready(warehouse_id)).order_by(Order.id)).scalars())


def _lock_chosen(session: Session, warehouse_id: int, ranked: list[tuple], limit: int, zone: str | None) -> list[tuple]:
    """The first ``limit`` of ``ranked`` that are still ready, locked (in id order, a few statements at most).

    Locked with SKIP LOCKED: an order another transaction holds this instant (a note being saved, the
    hub re-routing it) waits for the next wave instead of this one waiting for it; the next in rank takes
    its place. The lock re-checks readiness on the row as it now is; an order changed since it was read
    (its version moved) has its lines read again, and leaves if its zone no longer fits.
    """
    chosen: list[tuple] = []
    at = 0
    while len(chosen) < limit and at < len(ranked):
        take = ranked[at:at + limit - len(chosen)]
        at += len(take)
        read_at = {o.id: o.version for _, o, _ in take}
        locked = {o.id: o for o in session.execute(
            sa.select(Order).where(Order.id.in_(list(read_at)), *_ready(warehouse_id)).order_by(Order.id)
            .with_for_update(skip_locked=True).execution_options(populate_existing=True)).scalars()}
        for key, order, lines in take:
            if order.id not in locked:
                continue
            if locked[order.id].version != read_at[order.id]:
                lines = order_lines(session, order)
                if zone and first_zone(lines) != zone:
                    continue
            chosen.append((key, order, lines))
    return chosen


def create_wave(uow: UnitOfWork, warehouse: str, actor: Actor, *, max_orders: int | None = None,
                zone: str | None = None) -> WaveRow:
    """Make a wave of the most pressing open orders of ``warehouse`` (its code or name); audited.

    Args:
        max_orders: at most this many orders (default: all that are ready, up to 500).
        zone: only orders whose pick path starts in this zone.

    Raises:
        NotFound: no such warehouse. BusinessError WAVE_BAD_SIZE: a size outside 1–500.
        BusinessError WAVE_NOTHING_TO_PICK: no order is ready.
    """
    limit = MAX_WAVE if max_orders is None else max_orders
    if not isinstance(limit, int) or not 1 <= limit <= MAX_WAVE:
        raise BusinessError("WAVE_BAD_SIZE", limit=MAX_WAVE, found=max_orders)
    with uow:
        require(uow, actor, "wave.create")
        s = uow.session
        wh = _warehouse(s, warehouse)
        s.execute(sa.select(Warehouse.id).where(Warehouse.id == wh.id).with_for_update())  # one wave at a time here
        at = now()
        ranked = []
        for order in _candidates(s, wh.id):
            lines = order_lines(s, order)
            starts = first_zone(lines)
            if zone and starts != zone:
                continue
            urgent = priority_of(order.ship_by, packing_notes(order.buyer_note, order.seller_note), at=at) == "urgent"
            key = (not urgent, order.ship_by or _LATE, starts or "~", lines[0].pick_sequence if lines else 0,
                   order.ordered_at, order.id)
            ranked.append((key, order, lines))
        ranked.sort(key=lambda r: r[0])
        chosen = _lock_chosen(s, wh.id, ranked, limit, zone)
        if not chosen:
            raise BusinessError("WAVE_NOTHING_TO_PICK", warehouse=wh.name)
        zones = sorted({line.bin_code.split("-")[0] for _, _, lines in chosen for line in lines if line.bin_code != "—"})
        wave = Wave(wave_no="pending", warehouse_id=wh.id, max_orders=max_orders, zones=zones, created_by=actor.operator)
        s.add(wave)
        s.flush()
        wave.wave_no = f"BC{local(at):%y%m%d}-{wave.id:04d}"
        s.add_all([WaveOrder(wave_id=wave.id, order_id=o.id, position=n) for n, (_, o, _) in enumerate(chosen, 1)])
        s.flush()
        pieces = sum(line.quantity for _, _, lines in chosen for line in lines)
        audit.record(s, actor, "wave.create", "wave", wave.wave_no, basis=None, before=None,
                     after={"warehouse": wh.code, "orders": [o.order_no for _, o, _ in chosen], "pieces": pieces,
                            "zones": zones, "max_orders": max_orders, "zone": zone})
        uow.commit()
        ship_bys = [o.ship_by for _, o, _ in chosen if o.ship_by]
        return WaveRow(wave.wave_no, wh.name, "open", len(chosen), pieces, 0, tuple(zones),
                       min(ship_bys) if ship_bys else None, actor.operator, at, None,
                       tuple(o.order_no for _, o, _ in chosen))


def wave_row(uow: UnitOfWork, wave_no: str) -> WaveRow | None:
    """One wave as the list shows it (None if there is no such wave)."""
    found = list_waves(uow, wave_no=wave_no, limit=1)
    return found[0] if found else None


def list_waves(uow: UnitOfWork, *, warehouse: str | None = None, open_only: bool = False, limit: int = 100,
               wave_no: str | None = None) -> list[WaveRow]:
    """Waves newest first, with how many of their orders are picked."""
    done = sa.func.count(Pick.id.distinct()).filter(Pick.status.in_(("confirmed", "shipped")))
    with uow:
        s = uow.session
        query = (sa.select(Wave.wave_no, Warehouse.name, Wave.status, sa.func.count(WaveOrder.order_id.distinct()),
                           done, sa.func.min(Order.ship_by), Wave.created_by, Wave.created_at, Wave.printed_at,
                           Wave.zones, Wave.id)
                 .join(Warehouse, Warehouse.id == Wave.warehouse_id).join(WaveOrder, WaveOrder.wave_id == Wave.id)
                 .join(Order, Order.id == WaveOrder.order_id)
                 .outerjoin(Pick, sa.and_(Pick.order_id == Order.id, Pick.wave_id == Wave.id))
                 .group_by(Wave.id, Warehouse.name).order_by(Wave.id.desc()).limit(limit))
        if warehouse:
            query = query.where(Wave.warehouse_id == _warehouse(s, warehouse).id)
        if open_only:
            query = query.where(Wave.status == "open")
        if wave_no:
            query = query.where(Wave.wave_no == wave_no)
        rows = s.execute(query).all()
        counts = _pieces(s, [r[10] for r in rows])
        return [WaveRow(r[0], r[1], r[2], r[3], counts.get(r[10], 0), r[4], tuple(r[9] or ()), r[5], r[6], r[7], r[8])
                for r in rows]


def _pieces(session: Session, wave_ids: list[int]) -> dict[int, int]:
    if not wave_ids:
        return {}
    rows = session.execute(sa.text(
        "SELECT wo.wave_id, coalesce(sum((it->>'qty')::int), 0) FROM wave_orders wo JOIN orders o ON o.id = wo.order_id"
        " CROSS JOIN LATERAL jsonb_array_elements(o.items) it"
        " WHERE wo.wave_id = ANY(:ids) AND coalesce(it->>'line_status', 'normal') NOT IN"
        " ('refunding', 'refunded', 'frozen', 'exchanged') GROUP BY wo.wave_id"), {"ids": wave_ids})
    return {r[0]: int(r[1]) for r in rows}


def wave_orders(uow: UnitOfWork, wave_no: str) -> list[str]:
    """The order numbers of a wave in pick order."""
    with uow:
        wave_id = uow.session.scalar(sa.select(Wave.id).where(Wave.wave_no == wave_no))
        if wave_id is None:
            raise NotFound(what="wave", key=wave_no)
        return list(uow.session.scalars(sa.select(Order.order_no).join(WaveOrder, WaveOrder.order_id == Order.id)
                                        .where(WaveOrder.wave_id == wave_id).order_by(WaveOrder.position)))


def open_wave_of(session: Session, order_id: int) -> Wave | None:
    return session.execute(sa.select(Wave).join(WaveOrder, WaveOrder.wave_id == Wave.id)
                           .where(WaveOrder.order_id == order_id, WaveOrder.open)).scalar_one_or_none()


def close_if_done(session: Session, wave_id: int) -> bool:
    """Close a wave once none of its orders is left to pick or dispatch; its orders leave the open set."""
    left = session.scalar(sa.text(
        "SELECT count(*) FROM wave_orders wo JOIN orders o ON o.id = wo.order_id WHERE wo.wave_id = :w AND wo.open"
        " AND o.status = 'allocating' AND NOT EXISTS (SELECT 1 FROM picks p WHERE p.order_id = o.id"
        " AND p.status IN ('shipped', 'stopped'))"), {"w": wave_id})
    if left:
        return False
    session.execute(sa.update(WaveOrder).where(WaveOrder.wave_id == wave_id).values(open=False))
    session.execute(sa.update(Wave).where(Wave.id == wave_id, Wave.status == "open")
                    .values(status="closed", closed_at=sa.func.now()))
    return True


def warehouses(uow: UnitOfWork) -> list[tuple[int, str, str]]:
    """Enabled warehouses as (id, code, name), own warehouses first: the station's choice of where it is."""
    with uow:
        return [tuple(r) for r in uow.session.execute(  # type: ignore[misc]
            sa.select(Warehouse.id, Warehouse.code, Warehouse.name).where(Warehouse.enabled)
            .order_by(Warehouse.kind.desc(), Warehouse.id))]
