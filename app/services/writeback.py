"""Write-backs to the platforms, on our side: queued with the change that caused them, settled per answer.

A parcel leaving the warehouse queues its ship confirmation (topic ``platform.ship``, one per
parcel: ``ship:<tracking no>``) and its tracking subscription in the same transaction as the
shipment. A refund decided in an after-sales flow queues the platform's answer
(``platform.refund``). The hub sends them (app/hub/writeback_dispatch.py) and hands each
platform answer to :func:`settle`, which records the attempt on the order's story and does what
the answer means: done; retry with backoff; or stop the parcel (interception) and tell customer
service when the order was cancelled or refunded meanwhile.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.db.models import Order, OutboxMessage, Shipment, Shop
from app.db.writeback_models import ShipmentWatch, WritebackAttempt
from app.domain.actor import Actor
from app.domain.carriers import carrier_named
from app.domain.errors import NotFound
from app.domain.fields import code_label
from app.domain.messages import render
from app.services import outbox
from app.services.outbox import Claimed
from app.services.permissions import require
from app.services.unit_of_work import UnitOfWork

SHIP, REFUND, INTERCEPT, SUBSCRIBE = "platform.ship", "platform.refund", "carrier.intercept", "carrier.subscribe"


def record(session: Session, order_id: int, kind: str, call: str, outcome: str, *, outbox_id: int | None = None,
           code: str | None = None, message: str | None = None, tracking_no: str | None = None) -> None:
    """One attempt, for the order's story."""
    session.add(WritebackAttempt(order_id=order_id, outbox_id=outbox_id, kind=kind, call=call[:80], outcome=outcome,
                                 code=(code or None) and code[:120], message=message, tracking_no=tracking_no))


def on_shipped(session: Session, order: Order, shipment: Shipment, *, line_ids: tuple[str, ...] = (),
               split: bool = False, first_parcel: bool = True) -> None:
    """The parcel left: queue its ship confirmation and tracking subscription (the caller's transaction).

    A split parcel (``split``) names the sub-orders it completes (``line_ids``). One that completes
    none (part of a sub-order's pieces) has nothing the platform could be told — platforms split by
    sub-order — except on 拼多多, which takes every parcel after the first as an extra waybill.
    """
    session.add(ShipmentWatch(shipment_id=shipment.id))
    if order.platform == "pos":
        record(session, order.id, "ship", "-", "nothing", message=render("WB_POS_NOTHING"), tracking_no=shipment.tracking_no)
    elif split and not line_ids and order.platform != "pdd":
        record(session, order.id, "ship", "-", "nothing", message=render("WB_PARCEL_PART_ONLY"),
               tracking_no=shipment.tracking_no)
    else:
        settings = session.scalar(sa.select(Shop.settings).where(Shop.id == order.shop_id)) or {}
        outbox.enqueue(session, SHIP, f"ship:{shipment.tracking_no}", {
            "order_id": order.id, "order_no": order.order_no, "shop_id": order.shop_id, "platform": order.platform,
            "platform_order_no": order.platform_order_no, "shipment_id": shipment.id,
            "tracking_no": shipment.tracking_no, "carrier": shipment.carrier, "line_ids": list(line_ids),
            "split": split, "first_parcel": first_parcel,
            # 淘宝/天猫 shops printing 菜鸟 e-sheets confirm with online.send (shop setting ``cainiao_esheet``)
            "online": bool(settings.get("cainiao_esheet"))})
    outbox.enqueue(session, SUBSCRIBE, f"subscribe:{shipment.tracking_no}", {
        "order_id": order.id, "order_no": order.order_no, "shipment_id": shipment.id,
        "tracking_no": shipment.tracking_no, "carrier": shipment.carrier})


def subscribe_open_parcels(uow: UnitOfWork) -> int:
    """Queue a tracking subscription for every parcel still on the road that has none (first start, imports)."""
    with uow:
        s = uow.session
        queued_before = sa.exists().where(OutboxMessage.dedupe_key == sa.literal("subscribe:") + Shipment.tracking_no)
        rows = s.execute(sa.select(Shipment, Order.order_no).join(Order, Order.id == Shipment.order_id)
                         .where(Shipment.status.in_(("created", "in_transit", "delivering")), ~queued_before)).all()
        for sh, order_no in rows:
            outbox.enqueue(s, SUBSCRIBE, f"subscribe:{sh.tracking_no}", {
                "order_id": sh.order_id, "order_no": order_no, "shipment_id": sh.id, "tracking_no": sh.tracking_no,
                "carrier": sh.carrier})
        if rows:  # watched from now on (the still-parcel sweep looks at watched parcels)
            s.execute(pg_insert(ShipmentWatch).values([{"shipment_id": sh.id} for sh, _ in rows])
                      .on_conflict_do_nothing(index_elements=["shipment_id"]))
        uow.commit()
        return len(rows)


def on_refund_decided(session: Session, order: Order, case_no: str, seq: int, lines: list[dict[str, Any]], *,
                      agree: bool, reason: str = "") -> None:
    """An after-sales step agreed to or refused a refund: queue the platform's answer, one per line."""
    if order.platform == "pos":
        return
    for ln in lines:
        line_id = ln.get("platform_line_id") or next(
            (it.get("platform_line_id") for it in order.items if int(it["line_no"]) == int(ln["line_no"])), None)
        if not line_id:
            continue
        outbox.enqueue(session, REFUND, f"refund:{case_no}:{seq}:{line_id}", {
            "order_id": order.id, "order_no": order.order_no, "shop_id": order.shop_id, "platform": order.platform,
            "platform_order_no": order.platform_order_no, "line_id": str(line_id), "agree": agree, "reason": reason,
            "amount_fen": int(round(float(ln.get("paid", 0)) * 100)), "case_no": case_no})


def platform_code(platform: str, carrier_name: str) -> str | None:
    """The carrier's code on ``platform`` from the one carrier table, or None (refused before sending)."""
    carrier = carrier_named(carrier_name)
    return carrier.code_for(platform) if carrier else None


def _notify(session: Session, msg: Claimed, notice: str, **params: Any) -> None:
    p = msg.payload
    outbox.enqueue(session, "cs.notice", f"cs:{msg.dedupe_key}:{notice}", {
        "message": notice, "order_no": p["order_no"], "params": {"order_no": p["order_no"], **params}})


def settle(uow: UnitOfWork, msg: Claimed, kind: str, call: str, outcome: str, *, code: str = "", message: str = "",
           retry_after: float | None = None) -> str:
    """Record one platform answer for a claimed write-back and act on it; returns the outbox status.

    ``done``/``already``: sent. ``retry``: back in the queue with backoff. ``stopped``: the order was
    cancelled or refunded after the parcel left — interception is requested and customer service
    told. ``refund_pending``/``refused``: failed visibly, customer service told (an admin may retry).
    """
    p = msg.payload
    tracking = p.get("tracking_no")
    with uow:
        s = uow.session
        row = s.get(OutboxMessage, msg.id, with_for_update=True)
        if row is not None and row.attempts == msg.attempts and row.status != "pending":
            return row.status  # settled already: a repeat after a commit whose answer the database lost
        record(s, p["order_id"], kind, call, outcome, outbox_id=msg.id, code=code, message=message, tracking_no=tracking)
        if row is not None and row.attempts != msg.attempts:  # our lease ran out and another round took it over:
            uow.commit()  # the call is on the story, the message is that round's to settle
            return row.status
        if outcome in ("done", "already", "nothing"):
            status = outbox.settle(s, msg.id, sent=True)
        elif outcome == "retry":
            status = outbox.settle(s, msg.id, sent=False, error=f"{code} {message}".strip()[:500], retry_after=retry_after)
        else:
            status = outbox.settle(s, msg.id, sent=False, final=True, error=f"{code} {message}".strip()[:500])
            if outcome == "stopped":
                _notify(s, msg, "WB_CS_CANCELLED" if message.startswith("cancelled") else "WB_CS_REFUNDED",
                        tracking_no=tracking)
                request_interception(s, p["shipment_id"], p["order_id"], p["order_no"], tracking, p["carrier"])
            elif outcome == "refund_pending":
                _notify(s, msg, "WB_CS_REFUND_PENDING", tracking_no=tracking or "-")
            else:
                _notify(s, msg, "WB_CS_REFUSED", kind=code_label("writeback_kind", kind), message=message)
        uow.commit()
    return status


def request_interception(session: Session, shipment_id: int, order_id: int, order_no: str, tracking_no: str,
                         carrier: str) -> None:
    """Queue a 拦截件 request to the carrier (once per parcel) and show it as requested on the order."""
    watch = session.get(ShipmentWatch, shipment_id, with_for_update=True)
    if watch is None:
        watch = ShipmentWatch(shipment_id=shipment_id)
        session.add(watch)
    if watch.intercept_state in ("requested", "accepted", "succeeded"):
        return
    watch.intercept_state = "requested"
    outbox.enqueue(session, INTERCEPT, f"intercept:{tracking_no}", {
        "order_id": order_id, "order_no": order_no, "shipment_id": shipment_id, "tracking_no": tracking_no,
        "carrier": carrier})


def intercept_for_order(uow: UnitOfWork, order_no: str, actor: Actor) -> int:
    """The order was cancelled or refunded after its parcels left: request interception of each; how many.

    Permission: ``order.cancel`` — stopping the parcels is the rest of cancelling the order, whether a
    person asks (客服) or the hub does on the platform's word (``system:hub``, the service account).

    Raises:
        NotFound: no order has this number.
    """
    with uow:
        require(uow, actor, "order.cancel")
        s = uow.session
        order = s.scalars(sa.select(Order).where(Order.order_no == order_no)).first()
        if order is None:
            raise NotFound(what="order", key=order_no)
        parcels = s.scalars(sa.select(Shipment).where(Shipment.order_id == order.id,
                                                      Shipment.status != "delivered")).all()
        for sh in parcels:
            request_interception(s, sh.id, order.id, order.order_no, sh.tracking_no, sh.carrier)
        uow.commit()
        return len(parcels)


def attempts(uow: UnitOfWork, order_no: str) -> list[dict[str, Any]]:
    """Every write-back attempt of an order, oldest first (for tests, the CLI and the story)."""
    with uow:
        return [dict(r) for r in uow.session.execute(sa.text(
            "SELECT a.* FROM writeback_attempts a JOIN orders o ON o.id = a.order_id WHERE o.order_no = :n"
            " ORDER BY a.id"), {"n": order_no}).mappings()]
