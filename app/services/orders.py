"""Order commands: change of stage, cancellation, address change and manual override, each audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db.models import Order, OutboxMessage
from app.domain.actor import Actor
from app.domain.address import parse_address
from app.domain.errors import IllegalTransition, NotFound, VersionConflict
from app.domain.fields import code_label
from app.domain.messages import Coded
from app.domain.status import WAREHOUSE_ACTIVE, OrderStatus, transition
from app.services import audit
from app.services.unit_of_work import UnitOfWork, batch_memo
from app.services.permissions import require


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as callers outside the service layer see it: plain values, never an ORM row."""

    id: int
    order_no: str
    platform: str
    platform_order_no: str
    shop_id: int
    ordered_at: datetime
    customer_id: str
    items: tuple[dict[str, Any], ...]
    original_amount: Decimal
    paid_amount: Decimal
    status: str
    tracking_no: str | None
    invoice_status: str
    receiver_name: str | None
    receiver_phone: str | None
    receiver_address: str | None
    province: str | None
    city: str | None
    district: str | None
    warehouse_id: int | None
    ship_by: datetime | None
    version: int
    change_seq: int

    @classmethod
    def of(cls, order: Order) -> OrderView:
        return cls(**{name: _value(getattr(order, name)) for name in cls.__slots__})  # type: ignore[attr-defined]


def _value(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


@dataclass(frozen=True, slots=True)
class AddressChange:
    """A new delivery address, as customer service typed it."""

    receiver_name: str
    receiver_phone: str
    receiver_address: str


def _load_for_update(uow: UnitOfWork, order_no: str, expected_version: int) -> Order:
    order = _locked_by_batch(uow.session, order_no)
    if order is None:
        order = uow.session.execute(sa.select(Order).where(Order.order_no == order_no).with_for_update()).scalar_one_or_none()
    if order is None:
        raise NotFound(what="order", key=order_no)
    if order.version != expected_version:
        raise VersionConflict(order_no=order_no, expected=expected_version, actual=order.version)
    return order


def _locked_by_batch(session: Session, order_no: str) -> Order | None:
    """The order as a station's replay batch locked it (``FOR UPDATE``, earlier in this same transaction),
    taken into ``session`` without another round trip; None when there is no such batch or row to take.

    The object carries what the batch's earlier commands flushed (the version and sequence come back
    from each UPDATE). Were the row changed behind it in this transaction, the version-guarded UPDATE
    would match nothing and fail, and the station replays the batch one command at a time instead.
    """
    memo = batch_memo(session)
    order = memo.get(("order", order_no)) if memo is not None else None
    if order is None:
        return None
    state = sa.inspect(order)
    if not state.detached or state.expired_attributes or state.modified or state.key in session.identity_map:
        return None
    session.add(order)
    return order


def _snapshot(order: Order, *names: str) -> dict[str, Any]:
    return {name: getattr(order, name) for name in names}


def change_status(
    uow: UnitOfWork,
    order_no: str,
    target: OrderStatus | str,
    *,
    expected_version: int,
    actor: Actor,
    basis: str | None = None,
    permission: str | None = None,
) -> OrderView:
    """Move an order to another stage along the status machine.

    ``permission`` names the action checked when the move is part of a larger one (the ship scan
    checks 拣货扫码, not 变更订单环节); by default 取消订单 or 变更订单环节.

    Key changes (cancellation, entering after-sales) need an operator and a basis and are
    audited; ordinary steps (paid → 配货中 → 已发货) are recorded in the change feed only.

    Raises:
        NotFound, VersionConflict, IllegalTransition, BasisRequired: nothing is changed.
    """
    target = OrderStatus(target)
    with uow:
        require(uow, actor, permission or ("order.cancel" if target == OrderStatus.CANCELLED else "order.change_status"))
        order = _load_for_update(uow, order_no, expected_version)
        step = transition(order.status, target, order_no=order_no)
        action = "order.cancel" if target == OrderStatus.CANCELLED else "order.status_change"
        if target == OrderStatus.AFTER_SALES:
            action = "after_sales.open"
        if step.needs_basis:
            basis = audit.require_basis(actor, basis, code_label("audit_action", action))
        before = _snapshot(order, "status", "version")
        order.status = target.value
        uow.session.flush()
        if step.needs_basis:
            audit.record(
                uow.session, actor, action, "order", order.order_no,
                basis=basis, before=before, after=_snapshot(order, "status", "version") | {"intercept": step.intercept},
            )
        if step.intercept:
            _notify_warehouse(uow, order, kind="cancel" if target == OrderStatus.CANCELLED else "after_sales",
                              by=actor.operator)
        view = OrderView.of(order)
        uow.commit()
    if target == OrderStatus.CANCELLED:
        # Give the stock back. A separate transaction: the cancellation stands even if this has to
        # wait (the hub re-routes cancelled orders it finds still holding stock).
        from app.services import routing

        routing.release_reservation(uow, order_no, actor, trigger="cancel")
    return view


def cancel(uow: UnitOfWork, order_no: str, *, expected_version: int, actor: Actor, basis: str | None) -> OrderView:
    """Cancel an order (a key change: operator and basis required; after picking started it is an interception)."""
    return change_status(uow, order_no, OrderStatus.CANCELLED, expected_version=expected_version, actor=actor, basis=basis)


def override_status(
    uow: UnitOfWork, order_no: str, target: OrderStatus | str, *, expected_version: int, actor: Actor, basis: str | None
) -> OrderView:
    """Set an order's stage by hand, outside the normal flow (to repair a wrong stage).

    Always needs an operator and a basis, always audited; only "no change" is refused.
    """
    target = OrderStatus(target)
    with uow:
        require(uow, actor, "order.override_status")
        order = _load_for_update(uow, order_no, expected_version)
        basis = audit.require_basis(actor, basis, code_label("audit_action", "order.status_override"))
        if order.status == target.value:
            transition(order.status, target, order_no=order_no)  # raises: staying put is no change
        before = _snapshot(order, "status", "version")
        order.status = target.value
        uow.session.flush()
        audit.record(uow.session, actor, "order.status_override", "order", order.order_no,
                     basis=basis, before=before, after=_snapshot(order, "status", "version"))
        view = OrderView.of(order)
        uow.commit()
        return view


ADDRESS_FIELDS = ("receiver_name", "receiver_phone", "receiver_address", "province", "city", "district")


def change_address(
    uow: UnitOfWork, order_no: str, new: AddressChange, *, expected_version: int, actor: Actor, basis: str | None
) -> OrderView:
    """Change the delivery address (a key change). If picking has started, the warehouse gets an interception.

    Raises:
        IllegalTransition: the parcel has already left (已发货/已完成) or the order is cancelled.
    """
    with uow:
        require(uow, actor, "order.change_address")
        order = _load_for_update(uow, order_no, expected_version)
        basis = audit.require_basis(actor, basis, code_label("audit_action", "order.address_change"))
        if order.status in (OrderStatus.SHIPPED, OrderStatus.COMPLETED, OrderStatus.CANCELLED):
            raise IllegalTransition(
                "ADDRESS_CHANGE_TOO_LATE", order_no=order_no, current=Coded("order_status", order.status)
            )
        parsed = parse_address(new.receiver_address)
        before = _snapshot(order, *ADDRESS_FIELDS, "version")
        order.receiver_name = new.receiver_name.strip()
        order.receiver_phone = new.receiver_phone.strip()
        order.receiver_phone_tail = _phone_tail(order.receiver_phone)
        order.receiver_address = new.receiver_address.strip()
        order.province, order.city, order.district = parsed.province, parsed.city, parsed.district
        uow.session.flush()
        intercept = OrderStatus(order.status) in WAREHOUSE_ACTIVE
        audit.record(uow.session, actor, "order.address_change", "order", order.order_no, basis=basis,
                     before=before, after=_snapshot(order, *ADDRESS_FIELDS, "version") | {"intercept": intercept})
        if intercept:
            _notify_warehouse(uow, order, kind="address", by=actor.operator)
        view = OrderView.of(order)
        uow.commit()
        return view


def _phone_tail(phone: str | None) -> str | None:
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return digits[-4:] if len(digits) >= 4 else None


def _notify_warehouse(uow: UnitOfWork, order: Order, *, kind: str, by: str | None = None,
                      detail: str | None = None) -> None:
    """Tell the warehouse: folded into the order's one open change notice (the same function ingest
    uses for platform changes), and queued in the outbox for systems outside the hub."""
    from app.services import change_notices

    change_notices.fold(uow.session, order, [kind], interception=kind in ("cancel", "after_sales", "address"),
                        by=by, detail=detail)
    uow.session.add(
        OutboxMessage(
            topic="warehouse.interception",
            dedupe_key=f"intercept:{order.order_no}:v{order.version}",
            payload={"order_no": order.order_no, "kind": kind, "version": order.version, "warehouse_id": order.warehouse_id},
        )
    )


def add_warehouse_note(uow: UnitOfWork, order_no: str, text: str, *, expected_version: int, actor: Actor) -> OrderView:
    """A note for the people packing this order (「请勿放干燥剂」): kept on the order with who wrote it
    and when; if picking has started, the picker gets it as a change notice.

    Raises:
        InvalidValue: an empty note.
    """
    from app.domain.clock import local, now
    from app.domain.errors import InvalidValue
    from app.domain.intake import note_stamp

    text = text.strip()
    if not text:
        raise InvalidValue(field=code_label("audit_action", "order.warehouse_note"), value="", reason="备注不能为空")
    with uow:
        require(uow, actor, "order.add_warehouse_note")
        order = _load_for_update(uow, order_no, expected_version)
        stamp = note_stamp(local(now()), actor.operator, text)
        order.seller_note = f"{order.seller_note}\n{stamp}" if order.seller_note else stamp
        uow.session.flush()
        if OrderStatus(order.status) in WAREHOUSE_ACTIVE:
            _notify_warehouse(uow, order, kind="note", by=actor.operator, detail=text)
        view = OrderView.of(order)
        uow.commit()
        return view
