"""What the ERP tells OrderHub, applied once: ERP-side order status and numbers (``erp_order_status``), stock levels.

The receiver verifies the signature first and only then hands the raw body here. One
transaction per request: the raw body is kept (``raw_payloads``, like platform payloads), the
message key is claimed (a partial unique index: a replay or a resend after a lost answer finds it
taken and changes nothing), and the report is applied unless a newer one on the same subject was
applied already. A body that cannot be read is quarantined with its reason and can be retried.
Refusals (bad signature, stale time stamp …) are recorded by :func:`refused`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.db.erp_models import ErpInbound, ErpOrderStatus
from app.db.models import Order, RawPayload, Sku, Stock, Warehouse
from app.domain.actor import Actor
from app.domain.erp import ErpReport, UnreadableMessage, frappe_key, read_frappe, read_standard
from app.domain.errors import NotFound
from app.domain.messages import render
from app.services import audit
from app.services.permissions import require
from app.services.unit_of_work import UnitOfWork

SYSTEM = Actor("system:erp", "hub")


@dataclass(frozen=True, slots=True)
class Received:
    """The answer to give the ERP: HTTP status, verdict code (``erp_inbound_verdict``), reason if any."""

    status: int
    verdict: str
    reason: str | None = None
    subject: str | None = None


def refused(uow: UnitOfWork, endpoint_id: int | None, scheme: str, message_key: str | None, status: int,
            reason: str) -> Received:
    """Record a request that was refused before anything was read (signature, time stamp, headers)."""
    with uow:
        uow.session.add(ErpInbound(endpoint_id=endpoint_id, scheme=scheme, message_key=(message_key or None) and
                                   message_key[:200], verdict="refused", http_status=status, reason=reason[:2000]))
        uow.commit()
    return Received(status, "refused", reason)


def _keep_raw(s: Session, source: str, kind: str, body: bytes, *, status: str, error: str | None) -> int:
    sha = hashlib.sha256(body).hexdigest()
    stmt = pg_insert(RawPayload).values(source=source, kind=kind, body=body, sha256=sha, status=status, error=error)
    got = s.execute(stmt.on_conflict_do_nothing(constraint="uq_raw_payloads_source_sha256").returning(RawPayload.id)).first()
    if got is not None:
        return got[0]
    return s.scalar(sa.select(RawPayload.id).where(RawPayload.source == source, RawPayload.sha256 == sha))


def _claim_key(s: Session, endpoint_id: int, scheme: str, key: str, verdict: str, status: int, raw_id: int,
               report: ErpReport | None, reason: str | None) -> int | None:
    stmt = pg_insert(ErpInbound).values(
        endpoint_id=endpoint_id, scheme=scheme, message_key=key[:200], verdict=verdict, http_status=status,
        reason=reason, raw_payload_id=raw_id, subject=report.subject if report else None,
        reported_at=report.reported_at if report else None)
    stmt = stmt.on_conflict_do_nothing(index_elements=["endpoint_id", "message_key"],
                                       index_where=sa.text("verdict IN ('applied', 'quarantined', 'stale')"))
    got = s.execute(stmt.returning(ErpInbound.id)).first()
    return got[0] if got else None


def receive(uow: UnitOfWork, *, endpoint_id: int, endpoint_code: str, scheme: str, message_id: str | None,
            text: str, body: bytes) -> Received:
    """Apply one verified request from the ERP at most once (see the module docstring)."""
    source = f"erp:{endpoint_code}"[:40]
    try:
        key = message_id if scheme == "standard" else frappe_key(text)
        report = read_standard(text) if scheme == "standard" else read_frappe(text)
        problem = None
    except UnreadableMessage as err:
        report, problem = None, str(err)
        key = message_id or f"sha256:{hashlib.sha256(body).hexdigest()}"
    with uow:
        s = uow.session
        if report is not None and report.order_no is not None:
            if s.scalar(sa.select(Order.id).where(Order.order_no == report.order_no)) is None:
                report, problem = None, render("ERP_ORDER_UNKNOWN", order_no=report.order_no)
        if report is not None and report.kind == "stock" and _stock_rows(s, report) is None:
            report, problem = None, render("ERP_STOCK_UNKNOWN", sku=report.sku, warehouse=report.warehouse)
        if report is None:
            raw_id = _keep_raw(s, source, f"erp.{scheme}", body, status="quarantined", error=problem)
            if _claim_key(s, endpoint_id, scheme, key, "quarantined", 422, raw_id, None, problem) is None:
                return _duplicate(uow, endpoint_id, scheme, key)
            uow.commit()
            return Received(422, "quarantined", problem)
        raw_id = _keep_raw(s, source, f"erp.{scheme}", body, status="parsed", error=None)
        newer = _newer_applied(s, report)
        verdict = "stale" if newer else "applied"
        if _claim_key(s, endpoint_id, scheme, key, verdict, 200, raw_id, report,
                      "已有更新的消息" if newer else None) is None:
            return _duplicate(uow, endpoint_id, scheme, key)
        if not newer:
            _apply(s, report)
        uow.commit()
        return Received(200, verdict, subject=report.subject)


def _duplicate(uow: UnitOfWork, endpoint_id: int, scheme: str, key: str) -> Received:
    """The key was taken before: record the repeat; answer as the first time was answered (2xx stops resends)."""
    uow.session.rollback()
    first = uow.session.scalars(sa.select(ErpInbound).where(
        ErpInbound.endpoint_id == endpoint_id, ErpInbound.message_key == key[:200],
        ErpInbound.verdict.in_(("applied", "quarantined", "stale")))).first()
    status = first.http_status if first is not None and first.verdict == "quarantined" else 200
    uow.session.add(ErpInbound(endpoint_id=endpoint_id, scheme=scheme, message_key=key[:200], verdict="duplicate",
                               http_status=status, reason=f"与第 {first.id if first else '?'} 条重复"))
    uow.commit()
    return Received(status, "duplicate")


def _newer_applied(s: Session, report: ErpReport) -> bool:
    return bool(s.scalar(sa.select(sa.exists().where(
        ErpInbound.subject == report.subject, ErpInbound.verdict == "applied",
        ErpInbound.reported_at > report.reported_at))))


def _stock_rows(s: Session, report: ErpReport) -> list[Stock] | None:
    sku_id = s.scalar(sa.select(Sku.id).where(Sku.sku_code == report.sku))
    wh_id = s.scalar(sa.select(Warehouse.id).where(sa.or_(Warehouse.code == report.warehouse,
                                                          Warehouse.name == report.warehouse)))
    if sku_id is None or wh_id is None:
        return None
    return list(s.scalars(sa.select(Stock).where(Stock.sku_id == sku_id, Stock.warehouse_id == wh_id)
                          .order_by(Stock.id).with_for_update()))


def _apply(s: Session, report: ErpReport) -> None:
    if report.kind == "stock":
        rows = _stock_rows(s, report) or []
        before = sum(r.on_hand for r in rows)
        if not rows:
            sku_id = s.scalar(sa.select(Sku.id).where(Sku.sku_code == report.sku))
            wh_id = s.scalar(sa.select(Warehouse.id).where(sa.or_(Warehouse.code == report.warehouse,
                                                                  Warehouse.name == report.warehouse)))
            s.add(Stock(sku_id=sku_id, warehouse_id=wh_id, on_hand=report.on_hand))
        else:
            # The ERP knows a warehouse total; the difference goes to the first bin (a count correction),
            # never below what is reserved for orders.
            delta = report.on_hand - before
            for row in rows:
                change = max(delta, row.reserved - row.on_hand, -row.on_hand)
                row.on_hand += change
                delta -= change
                if delta == 0:
                    break
        audit.record(s, SYSTEM, "erp.stock_level", "stock", f"{report.sku}@{report.warehouse}", basis="ERP库存同步",
                     before={"on_hand": before}, after={"on_hand": report.on_hand})
        return
    order_id = s.scalar(sa.select(Order.id).where(Order.order_no == report.order_no))
    values: dict[str, object] = {"order_id": order_id, "reported_at": report.reported_at}
    if report.kind == "order_status":
        values |= {"erp_status": report.stage, "erp_raw_status": report.raw_status}
    if report.erp_order_no:
        values["erp_order_no"] = report.erp_order_no
    stmt = pg_insert(ErpOrderStatus).values(**values)
    update = {k: stmt.excluded[k] for k in values if k != "order_id"} | {"updated_at": sa.func.now()}
    s.execute(stmt.on_conflict_do_update(index_elements=["order_id"], set_=update))


def retry_quarantined(uow: UnitOfWork, payload_id: int, actor: Actor) -> Received:
    """Read a quarantined ERP message again (its order has arrived since, or the reader was fixed).

    It was verified when it arrived; applying it now follows the same rules (once, newest wins).
    Permission: ``quarantine.retry``.

    Raises:
        NotFound: no quarantined ERP message has this number.
    """
    with uow:
        require(uow, actor, "quarantine.retry")
        s = uow.session
        payload = s.get(RawPayload, payload_id, with_for_update=True)
        first = s.scalars(sa.select(ErpInbound).where(ErpInbound.raw_payload_id == payload_id,
                                                      ErpInbound.verdict == "quarantined").with_for_update()).first()
        if payload is None or payload.status != "quarantined" or first is None:
            raise NotFound(what="隔离报文", key=str(payload_id))
        text = payload.body.decode("utf-8")
        try:
            report = read_standard(text) if first.scheme == "standard" else read_frappe(text)
            if report.order_no and s.scalar(sa.select(Order.id).where(Order.order_no == report.order_no)) is None:
                raise UnreadableMessage(render("ERP_ORDER_UNKNOWN", order_no=report.order_no))
            if report.kind == "stock" and _stock_rows(s, report) is None:
                raise UnreadableMessage(render("ERP_STOCK_UNKNOWN", sku=report.sku, warehouse=report.warehouse))
        except UnreadableMessage as err:
            payload.attempts += 1
            payload.error = str(err)[:2000]
            uow.commit()
            return Received(422, "quarantined", str(err))
        newer = _newer_applied(s, report)
        first.verdict, first.http_status = ("stale" if newer else "applied"), 200
        first.subject, first.reported_at = report.subject, report.reported_at
        payload.status, payload.error = "parsed", None
        if not newer:
            _apply(s, report)
        audit.record(s, actor, "erp.quarantine_retry", "raw_payload", str(payload_id), basis=None,
                     before={"status": "quarantined"}, after={"verdict": first.verdict, "subject": report.subject})
        uow.commit()
        return Received(200, first.verdict, subject=report.subject)


@dataclass(frozen=True, slots=True)
class InboundRow:
    id: int
    scheme: str
    message_key: str | None
    verdict: str
    http_status: int
    reason: str | None
    subject: str | None
    raw_payload_id: int | None
    received_at: datetime


def inbound_log(uow: UnitOfWork, *, limit: int = 200) -> list[InboundRow]:
    """Everything the ERP sent, accepted or refused, newest first."""
    with uow:
        rows = uow.session.scalars(sa.select(ErpInbound).order_by(ErpInbound.id.desc()).limit(limit))
        return [InboundRow(r.id, r.scheme, r.message_key, r.verdict, r.http_status, r.reason, r.subject,
                           r.raw_payload_id, r.received_at) for r in rows]
