"""What an after-sales step does, by action name: the runners behind the flows' ``actions`` lists.

Each runner works inside the step's transaction, so a step either happens with all its effects
(lines frozen, exchange order reserved, SMS queued, invoice marked 待重开) or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db.after_sales_models import AfterSalesCaseExtra, AfterSalesEvent
from app.db.models import AfterSalesCase, Order, Sku, Stock, Warehouse
from app.domain.actor import Actor
from app.domain.after_sales_flow import Flow, gift_still_earned
from app.domain.clock import local
from app.domain.money import CENT
from app.domain.status import OrderStatus
from app.services import outbox, red_letter, routing, writeback

MOBILE = re.compile(r"^1[3-9]\d{9}$")


@dataclass
class StepContext:
    """What the runners share during one step."""

    session: Session
    case: AfterSalesCase
    extra: AfterSalesCaseExtra
    order: Order
    flow: Flow
    actor: Actor
    seq: int  # the step's number in the case's history (dedupes SMS and notices per event)
    params: Mapping[str, Any]
    detail: dict[str, Any] = field(default_factory=dict)  # what happened, for the step's record

    def note(self, key: str, value: Any) -> None:
        self.detail.setdefault(key, []).append(value)

    def context(self, **values: Any) -> None:
        self.extra.context = {**self.extra.context, **values}


def _items(order: Order) -> list[dict[str, Any]]:
    return [dict(it) for it in order.items]


def set_lines(ctx: StepContext, action: Mapping[str, Any]) -> None:
    """Give the case's lines (only those) a line status: frozen, exchanged, refunding, refunded, normal."""
    wanted = {int(ln["line_no"]) for ln in ctx.case.lines if not ln.get("gift_return")}
    items = _items(ctx.order)
    for it in items:
        if int(it["line_no"]) in wanted:
            it["line_status"] = action["status"]
    ctx.order.items = items
    ctx.note("lines", {"lines": sorted(wanted), "status": action["status"]})


def stock_free(s: Session, sku_codes: list[str], *, lock: bool) -> dict[str, int]:
    """Free units per SKU across enabled warehouses (on hand − reserved − safety), rows locked if asked.

    Locking in id order makes two exchanges racing for the last unit take turns: the second sees
    the first one's reservation.
    """
    if not sku_codes:
        return {}
    q = (sa.select(Stock.id, Sku.sku_code, Stock.on_hand, Stock.reserved, Stock.safety_stock)
         .join(Sku, Sku.id == Stock.sku_id).join(Warehouse, Warehouse.id == Stock.warehouse_id)
         .where(Sku.sku_code.in_(sku_codes), Warehouse.enabled.is_(True)).order_by(Stock.id))
    if lock:
        q = q.with_for_update(of=Stock)
    free: dict[str, int] = dict.fromkeys(sku_codes, 0)
    for _, code, on_hand, reserved, safety in s.execute(q):
        free[code] += max(0, on_hand - reserved - safety)
    return free


def _next_id(s: Session, table: str) -> int:
    return int(s.scalar(sa.text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))")))


def create_linked_order(ctx: StepContext, action: Mapping[str, Any]) -> None:
    """An exchange (new size) or re-ship (same item) order linked to the original, reserved by routing.

    The exchange carries over the gifts the original earned (满299赠袜子): the new order is free of
    charge, so the rule would not fire on it again, but the customer keeps what they were given.
    """
    s, case, original = ctx.session, ctx.case, ctx.order
    mode = action.get("mode", "exchange")
    skus = {r.sku_code: r for r in s.scalars(sa.select(Sku).where(
        Sku.sku_code.in_([ln.get("new_sku") or ln["sku"] for ln in case.lines])))}
    items: list[dict[str, Any]] = []
    for ln in case.lines:
        if ln.get("gift_return"):
            continue
        sku = skus[ln.get("new_sku") or ln["sku"]] if mode == "exchange" else skus[ln["sku"]]
        items.append({"line_no": len(items) + 1, "sku": sku.sku_code, "name": sku.name, "color": sku.color,
                      "size": sku.size, "qty": int(ln["qty"]), "unit_price": str(sku.price), "paid": "0.00",
                      "is_gift": False, "line_status": "normal",
                      "replaces": {"order_no": original.order_no, "line_no": int(ln["line_no"])}})
    if mode == "exchange":
        for gift in (it for it in original.items if it.get("is_gift") and it.get("line_status") != "refunded"):
            items.append(dict(gift, line_no=len(items) + 1, line_status="normal", paid="0.00", carried_over=True))
            ctx.note("gifts_carried_over", gift["sku"])
    now = s.scalar(sa.select(sa.func.now()))
    oid = _next_id(s, "orders")
    tag = "HH" if mode == "exchange" else "BF"
    label = "尺码调换" if mode == "exchange" else "补发"
    new = Order(id=oid, order_no=f"OH{local(now):%y%m%d}{oid:06d}", platform=original.platform,
                platform_order_no=f"{original.platform_order_no}-{tag}{case.id}", shop_id=original.shop_id,
                ordered_at=now, paid_at=now, customer_id=original.customer_id, items=items,
                original_amount=Decimal("0.00"), paid_amount=Decimal("0.00"), status=OrderStatus.PAID.value,
                invoice_status="none", receiver_name=original.receiver_name, receiver_phone=original.receiver_phone,
                receiver_phone_tail=original.receiver_phone_tail, receiver_address=original.receiver_address,
                receiver_token=original.receiver_token, receiver_fingerprint=original.receiver_fingerprint,
                province=original.province, city=original.city, district=original.district,
                ship_by=now + timedelta(hours=int(action.get("ship_within_hours", 24))),
                buyer_note=None, seller_note=f"{label}：原订单 {original.order_no}，售后单 {case.case_no}", version=1)
    s.add(new)
    s.flush()
    case.exchange_order_id = new.id
    result = routing.route_in(s, [new.order_no], ctx.actor, trigger="new")[0]
    s.refresh(new)
    ctx.note("linked_order", {"order_no": new.order_no, "mode": mode, "routing": result.outcome,
                              "warehouses": list(result.warehouses)})
    ctx.context(new_order_no=new.order_no, new_ship_by=(new.ship_by or now).isoformat())


def invoice_reissue(ctx: StepContext, action: Mapping[str, Any]) -> None:
    """The original's blue invoice is to be re-issued (待重开): its lines or amounts will change."""
    s, order = ctx.session, ctx.order
    blue = red_letter.blue_invoice(s, order.id)
    if blue is None:
        ctx.note("invoice", "none")
        return
    blue.reissue_pending = True
    order.invoice_status = "reissue_pending"
    ctx.note("invoice", {"reissue_pending": blue.invoice_no})


def stock_need(case: AfterSalesCase) -> dict[str, int]:
    """What a case asks of stock: an exchange the new size, a re-ship the same item again."""
    need: dict[str, int] = {}
    for ln in case.lines:
        sku = ln.get("new_sku") or (ln["sku"] if case.kind == "reship" and not ln.get("gift_return") else None)
        if sku:
            need[sku] = need.get(sku, 0) + int(ln["qty"])
    return need


def procurement_alert(ctx: StepContext, action: Mapping[str, Any]) -> None:
    """Ask procurement for the missing SKU (once per case and SKU, however often stock is checked)."""
    need = stock_need(ctx.case)
    free = stock_free(ctx.session, list(need), lock=False)
    for sku, qty in need.items():
        if free.get(sku, 0) < qty:
            outbox.enqueue(ctx.session, "procurement.alert", f"procure:{ctx.case.case_no}:{sku}", {
                "message": "AS_PROCUREMENT_ALERT", "case_no": ctx.case.case_no, "order_no": ctx.order.order_no,
                "params": {"sku": sku, "case_no": ctx.case.case_no, "qty": qty, "free": free.get(sku, 0)}})
            ctx.note("procurement_alert", sku)


def cs_notice(ctx: StepContext, action: Mapping[str, Any], **params: Any) -> None:
    """A message for customer service about this case (shown in the station's notices)."""
    message = action["message"]
    skus = ", ".join(sorted({ln.get("new_sku") or ln["sku"] for ln in ctx.case.lines}))
    values = {"case_no": ctx.case.case_no, "sku": skus, "skus": skus, **params}
    outbox.enqueue(ctx.session, "cs.notice", f"cs:{ctx.case.case_no}:{ctx.seq}:{message}", {
        "message": message, "case_no": ctx.case.case_no, "order_no": ctx.order.order_no, "params": values})
    ctx.note("cs_notice", message)


def sms_phone(ctx: StepContext) -> str | None:
    """The number to text: the one the customer gave for this case, else the order's if not masked."""
    for phone in (ctx.extra.contact_phone, ctx.order.receiver_phone):
        digits = re.sub(r"\D", "", phone or "")
        if MOBILE.match(digits):
            return digits
    return None


def sms(ctx: StepContext, action: Mapping[str, Any]) -> None:
    """Queue one SMS for this event (the outbox's key makes a second one for the same step impossible)."""
    template = ctx.flow.sms_templates[action["template"]]
    phone = sms_phone(ctx)
    if phone is None:
        cs_notice(ctx, {"message": "AS_PHONE_UNUSABLE"})
        return
    first = ctx.case.lines[0] if ctx.case.lines else {}
    ship_by = ctx.extra.context.get("new_ship_by")
    values = {"case_no": ctx.case.case_no, "order_no": ctx.order.order_no,
              "new_order_no": ctx.extra.context.get("new_order_no", ""),
              "ship_by": f"{local(datetime.fromisoformat(ship_by)):%m月%d日%H时}" if ship_by else "",
              "amount": str(ctx.case.refund_amount or ""), "item": first.get("name", ""),
              "size": first.get("new_size", first.get("size", ""))}
    key = f"sms:{ctx.case.case_no}:{ctx.seq}:{action['template']}"
    outbox.enqueue(ctx.session, "sms", key, {
        "phone": phone, "template": action["template"], "template_code": template["code"],
        "params": {name: values[name] for name in template.get("params", ())}, "case_no": ctx.case.case_no,
        "out_id": key[:64]})
    ctx.note("sms", action["template"])


def refund(ctx: StepContext, action: Mapping[str, Any]) -> None:
    """The refund: what the case's lines were paid (apportioned), less a kept gift's value if the policy says so."""
    lines = [ln for ln in ctx.case.lines if not ln.get("gift_return")]
    amount = sum((Decimal(str(ln.get("paid", "0"))) for ln in lines), Decimal("0.00"))
    deduction = Decimal(str(ctx.extra.context.get("gift_deduction", "0")))
    ctx.case.refund_amount = max(Decimal("0.00"), amount - deduction).quantize(CENT)
    ctx.note("refund", {"amount": str(ctx.case.refund_amount), "deducted": str(deduction)})
    # the platform hears the seller agreed (its refund review), through the outbox, in this transaction
    writeback.on_refund_decided(ctx.session, ctx.order, ctx.case.case_no, ctx.seq, lines, agree=True)


def platform_answer(ctx: StepContext, action: Mapping[str, Any]) -> None:
    """Tell the platform the seller's answer to the buyer's refund (``decision``: agree / refuse)."""
    lines = [ln for ln in ctx.case.lines if not ln.get("gift_return")]
    agree = action.get("decision", "agree") == "agree"
    basis = ctx.session.scalar(sa.select(AfterSalesEvent.basis).where(  # the step's own basis, just recorded
        AfterSalesEvent.case_id == ctx.case.id, AfterSalesEvent.seq == ctx.seq))
    writeback.on_refund_decided(ctx.session, ctx.order, ctx.case.case_no, ctx.seq, lines, agree=agree,
                                reason=basis or ctx.case.reason or "")
    ctx.note("platform_answer", "agree" if agree else "refuse")


def gift_threshold(ctx: StepContext, action: Mapping[str, Any]) -> None:
    """满赠 after a return: if what the customer keeps drops below the threshold, the gift comes back
    too (policy ``return``) or its value is deducted from the refund (policy ``deduct``)."""
    threshold = Decimal(str(action["threshold"]))
    order, case = ctx.order, ctx.case
    returned = sum((Decimal(str(ln.get("paid", "0"))) for ln in case.lines if not ln.get("gift_return")), Decimal(0))
    refunded_before = sum((Decimal(str(it.get("paid", "0"))) for it in order.items
                           if it.get("line_status") == "refunded"), Decimal(0))
    remaining = order.paid_amount - refunded_before - returned
    gifts = [it for it in order.items if it.get("is_gift") and it.get("line_status") != "refunded"]
    if not gifts or gift_still_earned(remaining, threshold):
        return
    gift = gifts[0]
    value = Decimal(str(ctx.session.scalar(sa.select(Sku.price).where(Sku.sku_code == gift["sku"])) or 0))
    if action.get("policy", "return") == "deduct":
        ctx.context(gift_deduction=str(value))
    else:
        case.lines = [*case.lines, {"line_no": int(gift["line_no"]), "sku": gift["sku"], "name": gift.get("name", ""),
                                    "qty": int(gift["qty"]), "paid": "0.00", "gift_return": True}]
    cs_notice(ctx, {"message": "AS_CS_GIFT_RETURN"}, remaining=str(remaining.quantize(CENT)), threshold=str(threshold),
              gift=gift.get("name", gift["sku"]), value=str(value))
    ctx.note("gift_threshold", {"remaining": str(remaining), "policy": action.get("policy", "return")})


def write_off(ctx: StepContext, action: Mapping[str, Any]) -> None:
    """Near-expiry goods: no return parcel, refunded and written off, never back to stock."""
    ctx.context(write_off=True)
    cs_notice(ctx, {"message": "AS_CS_NEAR_EXPIRY"})


def restock(ctx: StepContext, action: Mapping[str, Any]) -> None:
    """Inspected returns go back on the shelf of the warehouse that shipped them (not written-off goods)."""
    if ctx.extra.context.get("write_off") or ctx.order.warehouse_id is None:
        return
    s = ctx.session
    for ln in ctx.case.lines:
        row = s.execute(sa.select(Stock).join(Sku, Sku.id == Stock.sku_id).where(
            Sku.sku_code == ln["sku"], Stock.warehouse_id == ctx.order.warehouse_id)
            .order_by(Stock.id).limit(1).with_for_update()).scalar_one_or_none()
        if row is not None:
            row.on_hand += int(ln["qty"])
            ctx.note("restocked", {"sku": ln["sku"], "qty": int(ln["qty"])})


def red_flush(ctx: StepContext, action: Mapping[str, Any]) -> None:
    """Start the 红字确认单 for the refund (full without the buyer, partial only where the rules allow)."""
    conf = red_letter.start(ctx.session, ctx.case, ctx.order, reason=action.get("reason", "02"),
                            refund=ctx.case.refund_amount or Decimal(0), actor=ctx.actor)
    ctx.note("red_letter", None if conf is None else {"confirm_no": conf.confirm_no, "state": conf.state,
                                                      "partial": conf.partial})


RUNNERS: dict[str, Callable[[StepContext, Mapping[str, Any]], None]] = {
    "set_lines": set_lines, "create_linked_order": create_linked_order, "invoice_reissue": invoice_reissue,
    "procurement_alert": procurement_alert, "cs_notice": cs_notice, "sms": sms, "refund": refund,
    "gift_threshold": gift_threshold, "write_off": write_off, "restock": restock, "red_flush": red_flush,
    "platform_answer": platform_answer,
}


def expiry_dates(case: AfterSalesCase) -> list[date | None]:
    """Best-before dates the warehouse recorded on the case's lines (unknown: None)."""
    return [date.fromisoformat(ln["best_before"]) if ln.get("best_before") else None for ln in case.lines]
