"""红字确认单 (red-letter confirmation): the only way to a red 数电票, with its states and 72-hour timer.

A case's red-flush starts one against the order's blue invoice. If the buyer has not confirmed use
of the invoice, the seller flushes all of it without them (01 无需确认) and the tax system issues
the red invoice at once; the rest of the order is then re-issued (待重开). If the buyer has
confirmed, they must confirm the red-flush too (02, voided after 72 hours as 07), and only then
may it be partial, and only for 销货退回/销售折让. A confirmation that runs out tells customer
service, and the case can start the red-flush again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from app.db.after_sales_models import RedLetterConfirmation
from app.db.models import AfterSalesCase, Invoice, Order
from app.domain.actor import Actor
from app.domain.after_sales_flow import (
    CONFIRM_DONE,
    CONFIRM_OPEN,
    CONFIRM_VOID,
    confirm_move,
    red_flush_plan,
    void_due,
)
from app.domain.clock import local
from app.domain.errors import NotFound
from app.domain.money import CENT
from app.services import audit, outbox
from app.services.unit_of_work import UnitOfWork
from app.services.permissions import require

SYSTEM = Actor("system:red-letter", "hub")
STATES = ("01", "02", "03", "04", "05", "06", "07", "08", "09", "10")
CONFIRM_VOID_STATES = CONFIRM_VOID
ESCALATE_BEFORE = timedelta(hours=24)  # tell customer service a day before a confirmation voids


def _now(s: Session) -> datetime:
    return s.scalar(sa.select(sa.func.now()))


def _next_id(s: Session, table: str) -> int:
    return int(s.scalar(sa.text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))")))


def blue_invoice(s: Session, order_id: int) -> Invoice | None:
    """The order's newest blue invoice that is not flushed in full already."""
    red = aliased(Invoice)
    flushed_full = sa.exists().where(red.red_flush_of_id == Invoice.id, red.amount == -Invoice.amount)
    return s.scalars(sa.select(Invoice).where(Invoice.order_id == order_id, Invoice.kind == "blue", ~flushed_full)
                     .order_by(Invoice.issued_at.desc()).limit(1).with_for_update(of=Invoice)).first()


def start(s: Session, case: AfterSalesCase, order: Order, *, reason: str, refund: Decimal,
          actor: Actor) -> RedLetterConfirmation | None:
    """Start the red-flush of a case's refund against the order's blue invoice (None: nothing to flush)."""
    blue = blue_invoice(s, order.id)
    if blue is None or refund <= 0:
        return None
    partial, state = red_flush_plan(blue_amount=blue.amount, refund=refund, buyer_confirmed=blue.buyer_confirmed,
                                    reason=reason)
    amount = refund if partial else blue.amount
    tax = (blue.tax_amount * amount / blue.amount).quantize(CENT) if blue.amount else Decimal("0.00")
    now = _now(s)
    cid = _next_id(s, "red_letter_confirmations")
    from app.services import einvoice

    via_provider = einvoice.provider_of(s) is not None
    # With a 数电票 provider our number is only the application no. (billId); the provider's 红字确认单
    # number replaces it once known, and the provider (not we) decides 01/02 and issues the red invoice.
    confirm_no = f"RC{local(now):%Y%m%d}{cid:010d}" if via_provider else f"{local(now):%Y%m%d}33{cid:010d}"
    conf = RedLetterConfirmation(
        id=cid, confirm_no=confirm_no, blue_invoice_id=blue.id, case_id=case.id, state=state,
        reason=reason, initiator="0", partial=partial, red_amount=amount, red_tax=tax,
        lines=[{"line_no": ln["line_no"], "sku": ln["sku"], "qty": ln["qty"]} for ln in case.lines] if partial else [],
        created_at=now, void_due_at=void_due(now) if state in CONFIRM_OPEN else None)
    s.add(conf)
    s.flush()
    audit.record(s, actor, "red_letter.change", "red_letter", conf.confirm_no, basis=f"售后单 {case.case_no}",
                 before=None, after={"state": state, "partial": partial, "red_amount": str(amount),
                                     "blue_invoice": blue.invoice_no})
    if via_provider:
        einvoice.request_red(s, conf, order)
    elif state in CONFIRM_DONE:
        _issue_red(s, conf, blue, order, actor)
    return conf


def issue_red(s: Session, conf: RedLetterConfirmation, blue: Invoice, order: Order, actor: Actor, *,
              invoice_no: str | None = None, issued_at: datetime | None = None) -> Invoice:
    """The red invoice of a settled confirmation (01 or 04): the provider's number, or (no provider) a local one."""
    now = _now(s)
    iid = _next_id(s, "invoices")
    red = Invoice(id=iid, order_id=order.id, invoice_no=invoice_no or f"{local(now):%y}44{iid:016d}", kind="red",
                  amount=-conf.red_amount, tax_amount=-conf.red_tax, title=blue.title, buyer_tax_no=blue.buyer_tax_no,
                  issued_at=issued_at or now, red_flush_of_id=blue.id, red_confirmation_no=conf.confirm_no)
    s.add(red)
    s.flush()
    conf.red_invoice_id, conf.settled_at = red.id, now
    before = {"invoice_status": order.invoice_status}
    if not conf.partial:  # a partial red-flush leaves the blue invoice valid for what the buyer keeps
        refunded = s.scalar(sa.select(sa.func.coalesce(sa.func.sum(AfterSalesCase.refund_amount), 0)).where(
            AfterSalesCase.order_id == order.id, AfterSalesCase.refund_amount.is_not(None))) or Decimal(0)
        keeps = order.paid_amount - Decimal(refunded)
        blue.reissue_pending = keeps > 0
        order.invoice_status = "reissue_pending" if keeps > 0 else "red_flushed"
    audit.record(s, actor, "invoice.red_flush", "order", order.order_no, basis=f"红字确认单 {conf.confirm_no}",
                 before=before | {"blue_invoice": blue.invoice_no},
                 after={"invoice_status": order.invoice_status, "red_invoice": red.invoice_no,
                        "red_amount": str(conf.red_amount), "partial": conf.partial})
    return red


_issue_red = issue_red


@dataclass(frozen=True, slots=True)
class Confirmation:
    confirm_no: str
    state: str
    partial: bool
    red_amount: Decimal
    void_due_at: datetime | None
    red_invoice_no: str | None


def _view(s: Session, conf: RedLetterConfirmation) -> Confirmation:
    red_no = s.scalar(sa.select(Invoice.invoice_no).where(Invoice.id == conf.red_invoice_id)) if conf.red_invoice_id else None
    return Confirmation(conf.confirm_no, conf.state, conf.partial, conf.red_amount, conf.void_due_at, red_no)


def move(uow: UnitOfWork, confirm_no: str, target: str, actor: Actor, *, basis: str | None = None) -> Confirmation:
    """The buyer confirmed (04) or denied (05), the seller withdrew (08) …: along the confirmation's machine.

    Raises:
        NotFound; BusinessError RED_CONFIRM_NOT_ALLOWED (nothing changed).
    """
    with uow:
        require(uow, actor, "red_letter.move")
        s = uow.session
        conf = s.scalars(sa.select(RedLetterConfirmation).where(RedLetterConfirmation.confirm_no == confirm_no)
                         .with_for_update()).first()
        if conf is None:
            raise NotFound(what="red_letter", key=confirm_no)
        confirm_move(conf.state, target, confirm_no=confirm_no)
        before = conf.state
        conf.state = target
        audit.record(s, actor, "red_letter.change", "red_letter", confirm_no, basis=basis,
                     before={"state": before}, after={"state": target})
        from app.services import einvoice

        if target in CONFIRM_DONE and einvoice.provider_of(s) is None:  # with a provider, it issues the red one
            blue = s.get(Invoice, conf.blue_invoice_id, with_for_update=True)
            order = s.get(Order, blue.order_id, with_for_update=True)
            _issue_red(s, conf, blue, order, actor)
        elif target not in CONFIRM_DONE and conf.case_id:
            _tell_void(s, conf)
        view = _view(s, conf)
        uow.commit()
        return view


def tell_void(s: Session, conf: RedLetterConfirmation) -> None:
    """Customer service hears that a confirmation is void (the case may start the red-flush again)."""
    if conf.case_id:
        _tell_void(s, conf)


def _tell_void(s: Session, conf: RedLetterConfirmation) -> None:
    case_no = s.scalar(sa.select(AfterSalesCase.case_no).where(AfterSalesCase.id == conf.case_id))
    outbox.enqueue(s, "cs.notice", f"cs:red-void:{conf.confirm_no}", {
        "message": "AS_CS_RED_VOIDED", "params": {"confirm_no": conf.confirm_no, "case_no": case_no},
        "case_no": case_no})


def sweep(uow: UnitOfWork, *, now: datetime | None = None) -> dict[str, int]:
    """Escalate confirmations a day before they void, and void those past 72 hours (07). Run by the hub."""
    counts = {"escalated": 0, "voided": 0}
    with uow:
        s = uow.session
        at = now or _now(s)
        rows = s.scalars(sa.select(RedLetterConfirmation).where(RedLetterConfirmation.state.in_(CONFIRM_OPEN),
                                                                RedLetterConfirmation.void_due_at <= at + ESCALATE_BEFORE)
                         .order_by(RedLetterConfirmation.id).with_for_update(skip_locked=True)).all()
        for conf in rows:
            if conf.void_due_at <= at:
                before = conf.state
                conf.state = "07"
                audit.record(s, SYSTEM, "red_letter.change", "red_letter", conf.confirm_no, basis="超72小时未确认",
                             before={"state": before}, after={"state": "07"})
                _tell_void(s, conf)
                counts["voided"] += 1
            elif conf.escalated_at is None:
                conf.escalated_at = at
                case_no = s.scalar(sa.select(AfterSalesCase.case_no).where(AfterSalesCase.id == conf.case_id))
                outbox.enqueue(s, "cs.notice", f"cs:red-escalate:{conf.confirm_no}", {
                    "message": "AS_CS_RED_ESCALATE", "case_no": case_no,
                    "params": {"confirm_no": conf.confirm_no, "due": f"{local(conf.void_due_at):%m-%d %H:%M}"}})
                counts["escalated"] += 1
        uow.commit()
    return counts


def for_case(s: Session, case_id: int) -> list[dict[str, Any]]:
    """A case's confirmations, oldest first (for the drill-down and the case view)."""
    rows = s.scalars(sa.select(RedLetterConfirmation).where(RedLetterConfirmation.case_id == case_id)
                     .order_by(RedLetterConfirmation.id)).all()
    return [{"confirm_no": r.confirm_no, "state": r.state, "partial": r.partial, "red_amount": r.red_amount,
             "void_due_at": r.void_due_at, "settled_at": r.settled_at} for r in rows]


def latest_state(s: Session, case_id: int) -> str | None:
    return s.scalar(sa.select(RedLetterConfirmation.state).where(RedLetterConfirmation.case_id == case_id)
                    .order_by(RedLetterConfirmation.id.desc()).limit(1))
