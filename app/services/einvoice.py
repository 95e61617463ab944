"""数电票 through the provider: blue invoices, 红字确认单 with their red invoices, re-issues; each a request in the outbox.

A request is written in the transaction of what caused it: an order bound to an invoice
(「小程序订单自动绑定电子发票」, by trigger, migration 0013), a case's red-flush (``red_letter.start``),
the rest of an order re-issued after a full red-flush. The hub's e-invoice sender
(``app/hub/einvoice_dispatch.py``) moves each request along with the provider and records each
answer here; the invoice numbers stored are the provider's. The functions here are the steps:
what to send, and what an answer changes — one transaction each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db.after_sales_models import RedLetterConfirmation
from app.db.erp_models import EinvoiceProvider, EinvoiceRequest
from app.db.models import Invoice, Order, OutboxMessage
from app.domain.actor import Actor
from app.domain.clock import local
from app.domain.messages import render
from app.domain.money import CENT, apportion
from app.services import audit, outbox
from app.services.permissions import require
from app.services.unit_of_work import UnitOfWork
from connectors.base import Credentials

TOPIC = "einvoice"
SYSTEM = Actor("system:einvoice", "hub")
POLL = 3.0  # seconds between result queries while the provider is issuing
WAIT_FOR_BUYER = 300.0  # a confirmation waiting for the buyer is looked at every 5 minutes
# Our 冲红原因 (the tax bureau's: 01 开票有误 02 销货退回 03 服务中止 04 销售折让) → 诺诺's redReason
# (1 销货退回 2 开票有误 3 服务中止 4 销售折让).
NUONUO_RED_REASON = {"01": "2", "02": "1", "03": "3", "04": "4"}


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    code: str
    name: str
    api_url: str
    token_url: str
    secret_ref: str
    seller_tax_no: str
    seller_name: str
    clerk: str
    invoice_line: str
    goods_code: str
    tax_rate: Decimal


def _config(row: EinvoiceProvider) -> ProviderConfig:
    return ProviderConfig(row.code, row.name, row.api_url, row.token_url, row.secret_ref, row.seller_tax_no,
                          row.seller_name, row.clerk, row.invoice_line, row.goods_code, row.tax_rate)


def save_provider(uow: UnitOfWork, cfg: ProviderConfig, *, actor: Actor, enabled: bool = True,
                  store: Any = None, credentials: Credentials | None = None) -> ProviderConfig:
    """Set up (or change) the provider account; its app secret goes to the credential store under ``secret_ref``.

    Permission: ``erp.manage`` (the ERP and the tax provider are both where order data leaves the company).
    With ``store`` and ``credentials`` they are stored after the check, before the commit: a refused
    person never replaces the account's secret.
    """
    with uow:
        require(uow, actor, "erp.manage")
        s = uow.session
        row = s.scalars(sa.select(EinvoiceProvider).where(EinvoiceProvider.code == cfg.code).with_for_update()).first()
        if row is None:
            row = EinvoiceProvider(code=cfg.code)
            s.add(row)
        for name in ProviderConfig.__slots__:  # type: ignore[attr-defined]
            setattr(row, name, getattr(cfg, name))
        row.enabled = enabled
        s.flush()
        if store is not None and credentials is not None:
            store.put(cfg.secret_ref, credentials)
        audit.record(s, actor, "einvoice.request", "einvoice_provider", cfg.code, basis=None, before=None,
                     after={"api_url": cfg.api_url, "seller_tax_no": cfg.seller_tax_no, "enabled": enabled})
        uow.commit()
        return cfg


def provider_of(s: Session) -> ProviderConfig | None:
    row = s.scalars(sa.select(EinvoiceProvider).where(EinvoiceProvider.enabled.is_(True))
                    .order_by(EinvoiceProvider.id).limit(1)).first()
    return _config(row) if row else None


def provider(uow: UnitOfWork) -> ProviderConfig | None:
    """The enabled provider, if any."""
    with uow:
        return provider_of(uow.session)


def _enqueue(s: Session, order: Order, kind: str, **links: Any) -> EinvoiceRequest:
    rid = int(s.scalar(sa.text("SELECT nextval(pg_get_serial_sequence('einvoice_requests', 'id'))")))
    now = s.scalar(sa.select(sa.func.now()))
    req = EinvoiceRequest(id=rid, order_id=order.id, kind=kind, provider_order_no=f"OH{local(now):%y%m%d}{rid:010d}",
                          **links)
    s.add(req)
    s.flush()
    outbox.enqueue(s, TOPIC, f"einvoice:{rid}", {"request_id": rid, "kind": kind, "order_no": order.order_no})
    return req


def request_red(s: Session, conf: RedLetterConfirmation, order: Order) -> EinvoiceRequest:
    """A 红字确认单 to apply for at the provider (in the red-flush's own transaction)."""
    return _enqueue(s, order, "red_confirm", confirmation_id=conf.id, blue_invoice_id=conf.blue_invoice_id,
                    detail={"bill_id": conf.confirm_no})


def request_reissue(s: Session, order: Order, amount: Decimal, blue: Invoice) -> EinvoiceRequest:
    """Re-issue what the buyer keeps after a full red-flush (in the red invoice's own transaction)."""
    return _enqueue(s, order, "reissue", blue_invoice_id=blue.id, detail={"amount": str(amount)})


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed request: what it is, where it stands, and what the provider needs to hear."""

    outbox_id: int
    attempt: int
    request_id: int
    kind: str
    state: str
    provider_order_no: str
    serial_no: str | None
    bill_id: str | None
    content: dict[str, Any]


def _tax(gross: Decimal, rate: Decimal) -> Decimal:
    return (gross - gross / (1 + rate)).quantize(CENT, ROUND_HALF_UP)


def _lines(order: Order, cfg: ProviderConfig, total: Decimal) -> list[dict[str, Any]]:
    """Invoice lines: the order's paid lines (gifts at 0 are left out), scaled to ``total`` by largest remainder."""
    paid = [it for it in order.items if Decimal(str(it.get("paid", "0"))) > 0 and
            it.get("line_status", "normal") not in ("refunded",)]
    amounts = apportion(total, [Decimal(str(it["paid"])) for it in paid]) if paid else []
    out = []
    for it, gross in zip(paid, amounts, strict=True):
        tax = _tax(gross, cfg.tax_rate)
        qty = Decimal(int(it.get("qty", 1)))
        out.append({"line_no": it.get("line_no"), "goodsName": it.get("name", "服装"), "goodsCode": cfg.goods_code,
                    "specType": it.get("size", ""),
                    "unit": "件", "withTaxFlag": "1", "num": str(qty), "price": f"{gross / qty:.8f}",
                    "taxIncludedAmount": f"{gross:.2f}", "tax": f"{tax:.2f}",
                    "taxExcludedAmount": f"{gross - tax:.2f}", "taxRate": str(cfg.tax_rate.normalize()),
                    "invoiceLineProperty": "0"})
    return out


def _billing(s: Session, req: EinvoiceRequest, order: Order, cfg: ProviderConfig, total: Decimal) -> dict[str, Any]:
    now = s.scalar(sa.select(sa.func.now()))
    return {"buyerName": "个人", "naturalPersonFlag": "1", "salerTaxNum": cfg.seller_tax_no,
            "orderNo": req.provider_order_no, "invoiceDate": f"{local(now):%Y-%m-%d %H:%M:%S}", "clerk": cfg.clerk,
            "pushMode": "-1", "invoiceType": "1", "invoiceLine": cfg.invoice_line,
            "remark": f"订单 {order.order_no}", "invoiceDetail": _lines(order, cfg, total)}


def _sendable(billing: dict[str, Any]) -> dict[str, Any]:
    """The billing as 诺诺 takes it: our order line numbers stay on our side."""
    return billing | {"invoiceDetail": [{k: v for k, v in ln.items() if k != "line_no"}
                                        for ln in billing["invoiceDetail"]]}


def _red_content(s: Session, req: EinvoiceRequest, cfg: ProviderConfig) -> dict[str, Any]:
    conf = s.get(RedLetterConfirmation, req.confirmation_id)
    blue = s.get(Invoice, req.blue_invoice_id)
    content: dict[str, Any] = {
        "billId": req.detail["bill_id"], "blueInvoiceLine": cfg.invoice_line, "applySource": "0",
        "blueElecInvoiceNumber": blue.invoice_no, "sellerTaxNo": cfg.seller_tax_no, "sellerName": cfg.seller_name,
        "buyerName": blue.title, "redReason": NUONUO_RED_REASON[conf.reason], "orderNo": req.provider_order_no}
    if blue.buyer_tax_no:
        content["buyerTaxNo"] = blue.buyer_tax_no
    if conf.partial:  # partial red-flush: the case's lines, negative, numbered as on the blue invoice
        content["detail"] = _red_lines(s, conf, blue, cfg)
    return content


def _red_lines(s: Session, conf: RedLetterConfirmation, blue: Invoice, cfg: ProviderConfig) -> list[dict[str, Any]]:
    """The lines a partial red-flush takes back, each pointing at its blue line (``blueDetailIndex``), the red
    amount apportioned over them by what they cost on the blue invoice."""
    sent = s.scalar(sa.select(EinvoiceRequest.detail).where(EinvoiceRequest.invoice_id == blue.id)) or {}
    blue_lines = {ln.get("line_no"): (i, ln) for i, ln in enumerate(sent.get("lines") or [], 1)}
    taken = [(blue_lines[ln["line_no"]], Decimal(ln["qty"])) for ln in conf.lines if ln["line_no"] in blue_lines]
    if not taken:  # the blue invoice was not issued through us: one line for the whole amount
        taken = [((1, {"goodsName": "服装", "num": "1", "taxIncludedAmount": str(conf.red_amount)}), Decimal(1))]
    weights = [Decimal(line["taxIncludedAmount"]) * qty / Decimal(line["num"]) for (_, line), qty in taken]
    out = []
    for ((index, line), qty), gross in zip(taken, apportion(conf.red_amount, weights), strict=True):
        tax = _tax(gross, cfg.tax_rate)
        out.append({"blueDetailIndex": str(index), "goodsName": line["goodsName"], "num": f"-{qty}",
                    "taxExcludedAmount": f"-{gross - tax:.2f}", "taxAmount": f"-{tax:.2f}",
                    "taxRate": str(cfg.tax_rate.normalize()), "goodsCode": cfg.goods_code})
    return out


def claim(uow: UnitOfWork, *, limit: int = 50, now: datetime | None = None) -> list[Job]:
    """Take due requests and say what each needs next (the provider's order no. is the idempotency key)."""
    jobs = []
    for msg in outbox.claim(uow, TOPIC, limit=limit, now=now):
        with uow:
            s = uow.session
            cfg = provider_of(s)
            req = s.get(EinvoiceRequest, msg.payload["request_id"])
            if cfg is None or req is None:
                outbox.settle(s, msg.id, sent=False, final=True, error=render("EINVOICE_NO_PROVIDER"))
                uow.commit()
                continue
            order = s.get(Order, req.order_id)
            content: dict[str, Any] = {}
            if req.kind in ("blue", "reissue") and req.state == "submitted":
                total = order.paid_amount if req.kind == "blue" else Decimal(req.detail["amount"])
                billing = _billing(s, req, order, cfg, total)
                req.detail = {**(req.detail or {}), "lines": billing["invoiceDetail"]}  # for a later partial red-flush
                content = _sendable(billing)
            elif req.kind == "red_confirm" and req.state == "submitted":
                content = _red_content(s, req, cfg)
            jobs.append(Job(msg.id, msg.attempts, req.id, req.kind, req.state, req.provider_order_no, req.serial_no,
                            (req.detail or {}).get("bill_id"), content))
            uow.commit()
    return jobs


def _request(s: Session, request_id: int) -> EinvoiceRequest:
    return s.get(EinvoiceRequest, request_id, with_for_update=True)


def advance(uow: UnitOfWork, job: Job, *, state: str, serial_no: str | None = None, retry_after: float = POLL,
            detail: dict[str, Any] | None = None) -> None:
    """The provider took a step (submitted, issuing, waiting for the buyer): look again after ``retry_after``."""
    with uow:
        s = uow.session
        req = _request(s, job.request_id)
        req.state, req.updated_at = state, sa.func.now()
        if serial_no:
            req.serial_no = serial_no
        if detail:
            req.detail = {**(req.detail or {}), **detail}
        req.provider_code = req.provider_message = None
        row = s.get(OutboxMessage, job.outbox_id, with_for_update=True)
        row.attempts = 0  # a step forward is not a failure: the attempt count restarts
        outbox.settle(s, job.outbox_id, sent=False, retry_after=retry_after)
        row.last_error = None
        uow.commit()


def failed(uow: UnitOfWork, job: Job, *, code: str, message: str, final: bool, retry_after: float | None = None) -> str:
    """The provider refused or could not be reached: kept with its code; retried unless ``final``."""
    with uow:
        s = uow.session
        req = _request(s, job.request_id)
        req.provider_code, req.provider_message, req.updated_at = code[:20], message[:500], sa.func.now()
        status = outbox.settle(s, job.outbox_id, sent=False, error=f"{code} {message}"[:500], final=final,
                               retry_after=retry_after)
        if status == "failed":
            req.state = "failed"
        uow.commit()
        return status


def _issued_at(ms: int | None, fallback: datetime) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else fallback


def invoice_issued(uow: UnitOfWork, job: Job, *, number: str, issued_at_ms: int | None) -> str:
    """The provider issued a blue (or re-issued) invoice: store it under the provider's 数电票号码."""
    with uow:
        s = uow.session
        req = _request(s, job.request_id)
        order = s.get(Order, req.order_id, with_for_update=True)
        cfg = provider_of(s)
        if req.invoice_id is None:
            amount = Decimal(req.detail["amount"]) if req.kind == "reissue" else order.paid_amount
            now = s.scalar(sa.select(sa.func.now()))
            inv = Invoice(order_id=order.id, invoice_no=number, kind="blue", amount=amount,
                          tax_amount=_tax(amount, cfg.tax_rate if cfg else Decimal("0.13")), title="个人",
                          issued_at=_issued_at(issued_at_ms, now))
            s.add(inv)
            s.flush()
            req.invoice_id = inv.id
            before = order.invoice_status
            order.invoice_status = "issued"
            if req.kind == "reissue" and req.blue_invoice_id:
                s.get(Invoice, req.blue_invoice_id).reissue_pending = False
            audit.record(s, SYSTEM, "einvoice.request", "order", order.order_no, basis=f"诺诺流水号 {req.serial_no}",
                         before={"invoice_status": before}, after={"invoice_status": "issued", "invoice_no": number,
                                                                   "kind": req.kind})
        req.state, req.updated_at = "issued", sa.func.now()
        outbox.settle(s, job.outbox_id, sent=True)
        uow.commit()
        return number


def confirmation_seen(uow: UnitOfWork, job: Job, *, bill_no: str, status: str, red_serial: str | None) -> str:
    """What the provider says about the 红字确认单: its number replaces ours; its state becomes the case's.

    Returns the confirmation's state now.
    """
    from app.services import red_letter

    with uow:
        s = uow.session
        req = _request(s, job.request_id)
        conf = s.get(RedLetterConfirmation, req.confirmation_id, with_for_update=True)
        before = {"confirm_no": conf.confirm_no, "state": conf.state}
        if bill_no and conf.confirm_no != bill_no:
            conf.confirm_no = bill_no
        if status in red_letter.STATES and status != conf.state:
            conf.state = status
            if status in red_letter.CONFIRM_VOID_STATES:
                red_letter.tell_void(s, conf)
        if before != {"confirm_no": conf.confirm_no, "state": conf.state}:
            audit.record(s, SYSTEM, "red_letter.change", "red_letter", conf.confirm_no, basis="诺诺红字确认单查询",
                         before=before, after={"confirm_no": conf.confirm_no, "state": conf.state})
        if red_serial:
            req.serial_no = red_serial
        req.detail = {**(req.detail or {}), "bill_no": bill_no}
        state = conf.state
        uow.commit()
        return state


def red_issued(uow: UnitOfWork, job: Job, *, number: str, issued_at_ms: int | None) -> None:
    """The red invoice exists at the provider: record it under its number; re-issue what the buyer keeps."""
    from app.services import red_letter

    with uow:
        s = uow.session
        req = _request(s, job.request_id)
        conf = s.get(RedLetterConfirmation, req.confirmation_id, with_for_update=True)
        if conf.red_invoice_id is None:
            blue = s.get(Invoice, conf.blue_invoice_id, with_for_update=True)
            order = s.get(Order, blue.order_id, with_for_update=True)
            now = s.scalar(sa.select(sa.func.now()))
            red = red_letter.issue_red(s, conf, blue, order, SYSTEM, invoice_no=number,
                                       issued_at=_issued_at(issued_at_ms, now))
            req.invoice_id = red.id
            if order.invoice_status == "reissue_pending" and not conf.partial:
                request_reissue(s, order, _kept(s, order), blue)
        req.state, req.updated_at = "issued", sa.func.now()
        outbox.settle(s, job.outbox_id, sent=True)
        uow.commit()


def _kept(s: Session, order: Order) -> Decimal:
    from app.db.models import AfterSalesCase

    refunded = s.scalar(sa.select(sa.func.coalesce(sa.func.sum(AfterSalesCase.refund_amount), 0)).where(
        AfterSalesCase.order_id == order.id, AfterSalesCase.refund_amount.is_not(None))) or Decimal(0)
    return order.paid_amount - Decimal(refunded)


@dataclass(frozen=True, slots=True)
class RequestRow:
    id: int
    order_no: str
    kind: str
    state: str
    provider_order_no: str
    serial_no: str | None
    invoice_no: str | None
    provider_code: str | None
    provider_message: str | None
    updated_at: datetime


def requests_of(uow: UnitOfWork, *, order_no: str | None = None, limit: int = 200) -> list[RequestRow]:
    """Requests newest first (all, or one order's): for the CLI and an order's story."""
    with uow:
        q = (sa.select(EinvoiceRequest.id, Order.order_no, EinvoiceRequest.kind, EinvoiceRequest.state,
                       EinvoiceRequest.provider_order_no, EinvoiceRequest.serial_no, Invoice.invoice_no,
                       EinvoiceRequest.provider_code, EinvoiceRequest.provider_message, EinvoiceRequest.updated_at)
             .join(Order, Order.id == EinvoiceRequest.order_id)
             .outerjoin(Invoice, Invoice.id == EinvoiceRequest.invoice_id)
             .order_by(EinvoiceRequest.id.desc()).limit(limit))
        if order_no:
            q = q.where(Order.order_no == order_no)
        return [RequestRow(*r) for r in uow.session.execute(q)]

