"""Live logistics on our side: carrier pushes land on the shipment, move the order on, flag parcels that stand still.

A push's nodes are stored once each (a repeated or overlapping push adds nothing: the node's
moment and text are unique per parcel); the parcel's state follows its newest node and never
goes back from 已签收; a delivered parcel completes its order once every parcel of it is
delivered (as the status machine allows: 已发货 → 已完成). Every push is recorded — refused ones
too, with why — so a carrier that signs wrongly is visible, not silently dropped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.db.models import Order, Shipment, TrackingEvent
from app.db.writeback_models import CarrierPush, ShipmentWatch
from app.domain.actor import SYSTEM
from app.domain.carriers import StillLimits
from app.domain.errors import BusinessError
from app.domain.status import OrderStatus
from app.domain.tracking import TrackingPush
from app.services import orders, outbox, writeback
from app.services.unit_of_work import UnitOfWork

SHIPMENT_STATE = {"collected": "in_transit", "in_transit": "in_transit", "delivering": "delivering",
                  "delivered": "delivered", "exception": "exception"}


@dataclass(frozen=True, slots=True)
class PushOutcome:
    tracking_no: str
    known: bool
    new_nodes: int
    delivered: bool
    order_no: str | None


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def refused(uow: UnitOfWork, carrier: str, body: bytes, reason: str, tracking_no: str | None = None) -> None:
    """A push that failed its signature or could not be read: kept with the reason, nothing applied."""
    with uow:
        uow.session.add(CarrierPush(carrier=carrier, accepted=False, tracking_no=tracking_no, reason=reason,
                                    body_sha256=sha256(body)))
        uow.commit()


def record_push(uow: UnitOfWork, push: TrackingPush, body: bytes) -> PushOutcome:
    """Store a verified push's nodes on its parcel (see the module docstring); then complete the order if due."""
    with uow:
        s = uow.session
        shipment = s.execute(sa.select(Shipment).where(Shipment.tracking_no == push.tracking_no)
                             .with_for_update()).scalar_one_or_none()
        if shipment is None:
            s.add(CarrierPush(carrier=push.carrier, accepted=True, tracking_no=push.tracking_no, nodes=len(push.nodes),
                              reason="系统中没有这个运单", body_sha256=sha256(body)))
            uow.commit()
            return PushOutcome(push.tracking_no, False, 0, False, None)
        new = 0
        for n in push.nodes:
            new += s.execute(pg_insert(TrackingEvent).values(
                shipment_id=shipment.id, occurred_at=n.at, location=n.place[:120], description=n.action,
                courier_name=n.courier_name, courier_phone=n.courier_phone, lon=n.lon, lat=n.lat)
                .on_conflict_do_nothing(constraint="uq_tracking_events_node")).rowcount
        watch = s.get(ShipmentWatch, shipment.id, with_for_update=True)
        if watch is None:
            watch = ShipmentWatch(shipment_id=shipment.id)
            s.add(watch)
        if push.nodes:
            newest = max(push.nodes, key=lambda n: n.at)
            if watch.last_node_at is None or newest.at >= watch.last_node_at:
                watch.last_node_at = newest.at
                if shipment.status != "delivered":
                    shipment.status = SHIPMENT_STATE[newest.state]
            delivered = next((n for n in push.nodes if n.state == "delivered"), None)
            if delivered is not None and shipment.delivered_at is None:
                shipment.status, shipment.delivered_at = "delivered", delivered.at
            if new:
                watch.stale_flagged_at = None  # it moves again
        s.add(CarrierPush(carrier=push.carrier, accepted=True, tracking_no=push.tracking_no, nodes=len(push.nodes),
                          body_sha256=sha256(body)))
        order = s.get_one(Order, shipment.order_id)
        pending = s.scalar(sa.select(sa.func.count()).where(Shipment.order_id == order.id,
                                                           Shipment.status != "delivered"))
        order_no, version, status = order.order_no, order.version, order.status
        uow.commit()
    all_delivered = pending == 0
    if all_delivered and status == OrderStatus.SHIPPED.value:
        try:
            orders.change_status(uow, order_no, OrderStatus.COMPLETED, expected_version=version, actor=SYSTEM)
        except BusinessError:  # changed meanwhile (after-sales, a person): the next push or a person decides
            pass
    return PushOutcome(push.tracking_no, True, new, all_delivered, order_no)


def flag_still(uow: UnitOfWork, *, hours: float | StillLimits, now: datetime) -> list[str]:
    """Parcels on the road with no movement for their carrier's limit (``hours``: one limit for all, or
    :class:`StillLimits` per carrier): one customer-service notice each (until they move)."""
    limits = hours if isinstance(hours, StillLimits) else StillLimits(float(hours))
    limit = now - timedelta(hours=limits.shortest)
    with uow:
        s = uow.session
        rows = s.execute(
            sa.select(Shipment, Order.order_no, ShipmentWatch)
            .join(Order, Order.id == Shipment.order_id)
            .join(ShipmentWatch, ShipmentWatch.shipment_id == Shipment.id)
            .where(Shipment.status.notin_(("delivered",)), ShipmentWatch.stale_flagged_at.is_(None),
                   ShipmentWatch.intercept_state.is_(None),
                   sa.func.coalesce(ShipmentWatch.last_node_at, Shipment.shipped_at) < limit)
            .order_by(Shipment.id).with_for_update(of=ShipmentWatch)).all()
        flagged = []
        for shipment, order_no, watch in rows:
            since = watch.last_node_at or shipment.shipped_at
            if since >= now - timedelta(hours=limits.hours_for(shipment.carrier)):
                continue  # this carrier is given longer
            outbox.enqueue(s, "cs.notice", f"still:{shipment.tracking_no}:{since.isoformat()}", {
                "message": "LOGI_STILL", "order_no": order_no,
                "params": {"order_no": order_no, "tracking_no": shipment.tracking_no,
                           "hours": int((now - since).total_seconds() // 3600)}})
            watch.stale_flagged_at = now
            flagged.append(shipment.tracking_no)
        uow.commit()
        return flagged


FINAL_INTERCEPT = ("succeeded", "failed")


@dataclass(frozen=True, slots=True)
class InterceptOutcome:
    tracking_no: str
    applied: bool  # False: unknown parcel, or this result was already on it
    order_no: str | None


def intercept_result(uow: UnitOfWork, carrier: str, call: str, tracking_no: str, state: str, reason: str,
                     body: bytes, *, code: str = "") -> InterceptOutcome:
    """The carrier's final word on an interception (``succeeded`` / ``failed``), pushed later: on the parcel,
    the order's story and to customer service — once: a repeated push changes nothing (same dedupe key)."""
    with uow:
        s = uow.session
        shipment = s.execute(sa.select(Shipment).where(Shipment.tracking_no == tracking_no)).scalar_one_or_none()
        watch = s.get(ShipmentWatch, shipment.id, with_for_update=True) if shipment is not None else None
        if shipment is None or watch is None:
            s.add(CarrierPush(carrier=carrier, accepted=True, tracking_no=tracking_no, reason="系统中没有这个运单的拦截",
                              body_sha256=sha256(body)))
            uow.commit()
            return InterceptOutcome(tracking_no, False, None)
        order_no = s.scalar(sa.select(Order.order_no).where(Order.id == shipment.order_id))
        if watch.intercept_state in FINAL_INTERCEPT:
            s.add(CarrierPush(carrier=carrier, accepted=True, tracking_no=tracking_no, body_sha256=sha256(body),
                              reason=f"重复的拦截结果，已有结果：{watch.intercept_message or watch.intercept_state}"))
            uow.commit()
            return InterceptOutcome(tracking_no, False, order_no)
        watch.intercept_state, watch.intercept_message = state, reason
        writeback.record(s, shipment.order_id, "intercept", call, "done" if state == "succeeded" else "refused",
                         code=code, message=reason, tracking_no=tracking_no)
        outbox.enqueue(s, "cs.notice", f"cs:intercept:{tracking_no}:{state}", {
            "message": "LOGI_INTERCEPT_SUCCEEDED" if state == "succeeded" else "LOGI_INTERCEPT_FAILED",
            "order_no": order_no, "params": {"order_no": order_no, "tracking_no": tracking_no, "detail": reason}})
        s.add(CarrierPush(carrier=carrier, accepted=True, tracking_no=tracking_no, body_sha256=sha256(body)))
        uow.commit()
        return InterceptOutcome(tracking_no, True, order_no)


def intercept_settled(uow: UnitOfWork, msg: outbox.Claimed, state: str, call: str, *, code: str = "",
                      message: str = "") -> None:
    """The carrier's answer to a 拦截件 request, on the parcel and the order's story; customer service told."""
    p = msg.payload
    with uow:
        s = uow.session
        watch = s.get(ShipmentWatch, p["shipment_id"], with_for_update=True)
        if watch is not None and not (state == "accepted" and watch.intercept_state in FINAL_INTERCEPT):
            # the carrier's final word may land (push) before the "accepted" answer is saved: keep the final word
            watch.intercept_state, watch.intercept_message = state, message or None
        outcome = {"succeeded": "done", "accepted": "done", "failed": "refused", "unsupported": "refused"}.get(state, "retry")
        writeback.record(s, p["order_id"], "intercept", call, outcome, outbox_id=msg.id, code=code, message=message,
                         tracking_no=p["tracking_no"])
        if state == "requested":
            outbox.settle(s, msg.id, sent=False, error=message[:500])
        else:
            outbox.settle(s, msg.id, sent=True)
            outbox.enqueue(s, "cs.notice", f"cs:{msg.dedupe_key}:{state}", {
                "message": {"succeeded": "LOGI_INTERCEPT_SUCCEEDED", "failed": "LOGI_INTERCEPT_FAILED",
                            "accepted": "LOGI_INTERCEPT_ACCEPTED"}.get(
                    state, "LOGI_INTERCEPT_UNSUPPORTED_CS"), "order_no": p["order_no"],
                "params": {"order_no": p["order_no"], "tracking_no": p["tracking_no"], "detail": message}})
        uow.commit()
