"""Split parcels: part of an order leaves in its own parcel with its own tracking number, the rest later.

The warehouse names what goes in the parcel (lines and quantities). The order becomes 部分发货
until its last piece has left, then 已发货. Each parcel queues its own ship confirmation in the
same transaction (one outbox message per tracking number, so each parcel is told exactly once);
the platform hears which sub-orders the parcel completes — platforms split by sub-order, so a
sub-order split over two parcels is confirmed with the parcel that completes it (拼多多, which ships
whole orders, hears of every later parcel as an extra waybill instead).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db.models import Order, ScanLog, Shipment, Sku, Stock
from app.db.routing_models import StockReservation
from app.db.warehouse_models import Pick
from app.domain.actor import Actor
from app.domain.carriers import carrier_of_tracking
from app.domain.errors import BusinessError, NotFound, VersionConflict
from app.domain.messages import Coded
from app.domain.status import OrderStatus, transition
from app.services import audit, waves, writeback
from app.services.pick_slips import NOT_TO_PICK, shipped_by_line
from app.services.permissions import require
from app.services.unit_of_work import UnitOfWork

TRACKING = re.compile(r"^[A-Za-z0-9]{8,32}$")
LIVE = ("picking", "confirmed")


@dataclass(frozen=True, slots=True)
class ParcelView:
    """One parcel as it left, and what of the order is still to go (line no. → pieces)."""

    order_no: str
    tracking_no: str
    carrier: str
    order_status: str
    version: int
    lines: tuple[tuple[int, int], ...]
    remaining: dict[int, int]


def remaining(order: Order, shipped: dict[int, int]) -> dict[int, int]:
    """Pieces still to ship per line (lines a picker must not pick are not owed)."""
    left = {}
    for it in order.items:
        if it.get("line_status", "normal") in NOT_TO_PICK or int(it.get("qty", 0)) <= 0:
            continue
        n = int(it["line_no"])
        left[n] = max(int(it["qty"]) - shipped.get(n, 0), 0)
    return left


def contents(order: Order, pieces: dict[int, int]) -> list[dict[str, Any]]:
    """A parcel's contents as ``shipments.lines`` stores them."""
    by_no = {int(it["line_no"]): it for it in order.items}
    return [{"line_no": n, "qty": q, "platform_line_id": by_no[n].get("platform_line_id")} for n, q in sorted(pieces.items())]


def completed_line_ids(order: Order, pieces: dict[int, int], left_after: dict[int, int]) -> tuple[str, ...]:
    """The platform sub-orders this parcel completes (their last piece is in it)."""
    by_no = {int(it["line_no"]): it for it in order.items}
    return tuple(str(by_no[n]["platform_line_id"]) for n in sorted(pieces)
                 if left_after.get(n, 0) == 0 and by_no[n].get("platform_line_id"))


def ship_parcel(uow: UnitOfWork, order_no: str, tracking_no: str, lines: list[dict[str, Any]], *,
                expected_version: int, actor: Actor) -> ParcelView:
    """Ship ``lines`` (``[{"line_no", "qty"}]``) of the order in one parcel labelled ``tracking_no``.

    Permission: ``pick.scan`` (the same warehouse work as the ship scan).

    Raises:
        NotFound, VersionConflict: nothing changed.
        BusinessError: PARCEL_NOT_READY (the order is not being picked), PICK_BAD_TRACKING,
            PICK_TRACKING_USED, PARCEL_EMPTY, PARCEL_BAD_LINE (more than is left, or no such line).
    """
    with uow:
        require(uow, actor, "pick.scan")
        s = uow.session
        order = s.execute(sa.select(Order).where(Order.order_no == order_no).with_for_update()).scalar_one_or_none()
        if order is None:
            raise NotFound(what="order", key=order_no)
        if order.version != expected_version:
            raise VersionConflict(order_no=order_no, expected=expected_version, actual=order.version)
        if order.status not in (OrderStatus.ALLOCATING.value, OrderStatus.PARTIALLY_SHIPPED.value):
            raise BusinessError("PARCEL_NOT_READY", order_no=order_no, current=Coded("order_status", order.status))
        if not TRACKING.match(tracking_no):
            raise BusinessError("PICK_BAD_TRACKING", barcode=tracking_no, order_no=order_no)
        other = s.scalar(sa.select(Order.order_no).join(Shipment, Shipment.order_id == Order.id)
                         .where(Shipment.tracking_no == tracking_no))
        if other:
            raise BusinessError("PICK_TRACKING_USED", tracking_no=tracking_no, other=other)
        shipped = shipped_by_line(s, order)
        left = remaining(order, shipped)
        pieces: dict[int, int] = {}
        for ln in lines:
            n, q = int(ln["line_no"]), int(ln["qty"])
            pieces[n] = pieces.get(n, 0) + q
        for n, q in pieces.items():
            if q <= 0 or q > left.get(n, 0):
                raise BusinessError("PARCEL_BAD_LINE", order_no=order_no, line_no=n, qty=q, left=left.get(n, 0))
        if not pieces:
            raise BusinessError("PARCEL_EMPTY", order_no=order_no)
        after = {n: left[n] - pieces.get(n, 0) for n in left}
        target = OrderStatus.SHIPPED if not any(after.values()) else OrderStatus.PARTIALLY_SHIPPED
        before = order.status
        if target.value != before:
            transition(before, target, order_no=order_no)
        order.status, order.tracking_no = target.value, order.tracking_no or tracking_no
        order.updated_at = sa.func.now()  # a second parcel changes the order too (new version, change feed)
        carrier = carrier_of_tracking(tracking_no)
        carrier_name = carrier.name_zh if carrier else "其他快递"
        parcel = contents(order, pieces)
        pick = s.execute(sa.select(Pick).where(Pick.order_id == order.id, Pick.status.in_(LIVE)).with_for_update()
                         ).scalar_one_or_none()
        shipment = Shipment(order_id=order.id, carrier=carrier_name, tracking_no=tracking_no, lines=parcel,
                            warehouse_id=pick.warehouse_id if pick else order.warehouse_id, status="created",
                            shipped_at=sa.func.clock_timestamp())
        s.add(shipment)
        consume_stock(s, order.id, pieces)
        if pick is not None:
            _take_out_of_pick(s, pick, order, pieces, done=target == OrderStatus.SHIPPED)
        if shipment.warehouse_id is not None:
            s.add(ScanLog(warehouse_id=shipment.warehouse_id, order_id=order.id, action="ship", barcode=tracking_no,
                          box_no=pick.box_no if pick else None, operator=actor.operator, station=actor.station))
        s.flush()
        first = not shipped
        whole = first and target == OrderStatus.SHIPPED
        writeback.on_shipped(s, order, shipment, line_ids=() if whole else completed_line_ids(order, pieces, after),
                             split=not whole, first_parcel=first)
        audit.record(s, actor, "pick.ship", "order", order_no, basis=None, before={"status": before},
                     after={"status": target.value, "tracking_no": tracking_no, "carrier": carrier_name, "parcel": parcel})
        s.flush()
        view = ParcelView(order_no, tracking_no, carrier_name, order.status, order.version,
                          tuple((n, q) for n, q in sorted(pieces.items())), {n: q for n, q in after.items() if q})
        uow.commit()
        return view


def consume_stock(s: Session, order_id: int, pieces: dict[int, int]) -> None:
    """The parcel's pieces leave the shelf: their reservations are used up (partly, for part of a line)."""
    for line_no, qty in pieces.items():
        left = qty
        for r in s.scalars(sa.select(StockReservation).where(
                StockReservation.order_id == order_id, StockReservation.line_no == line_no,
                StockReservation.status == "active").order_by(StockReservation.part_no).with_for_update()):
            if left <= 0:
                break
            take = min(left, r.qty)
            s.execute(sa.update(Stock).where(Stock.id == r.stock_id).values(
                on_hand=sa.func.greatest(Stock.on_hand - take, 0), reserved=sa.func.greatest(Stock.reserved - take, 0),
                updated_at=sa.func.now()))
            if take == r.qty:
                r.status, r.released_at = "consumed", sa.func.now()
            else:
                r.qty -= take
            left -= take


def _take_out_of_pick(s: Session, pick: Pick, order: Order, pieces: dict[int, int], *, done: bool) -> None:
    """Pieces that left are no longer on the picker's tally; the last parcel ends the pick."""
    by_no = {int(it["line_no"]): str(it["sku"]) for it in order.items}
    barcodes = {r.sku_code: r.barcode for r in s.execute(
        sa.select(Sku.sku_code, Sku.barcode).where(Sku.sku_code.in_(set(by_no.values()))))}
    scanned = dict(pick.scanned)
    for n, q in pieces.items():
        code = barcodes.get(by_no[n], by_no[n])
        if code in scanned:
            scanned[code] = max(int(scanned[code]) - q, 0)
    pick.scanned = {k: v for k, v in scanned.items() if v}
    if done:
        pick.status, pick.shipped_at = "shipped", sa.func.clock_timestamp()
        if pick.wave_id:
            s.flush()
            waves.close_if_done(s, pick.wave_id)
    elif pick.status == "confirmed":
        pick.status = "picking"  # the rest is picked on: the last piece scanned confirms it again
