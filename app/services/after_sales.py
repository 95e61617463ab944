"""After-sales cases: open one on an order's lines, take steps along its flow version, read its story.

A case runs on the flow version current when it was opened, whatever an admin saves later. A
step is refused (nothing changed) unless the case's state allows it and one branch's conditions
hold; it is audited with operator, time, station and basis, and kept as the case's history.
Opening touches only the lines the customer named: a size exchange freezes one line, not the order.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db.after_sales_models import AfterSalesCaseExtra, AfterSalesEvent
from app.db.models import AfterSalesCase, Order, Sku
from app.domain.actor import Actor
from app.domain.after_sales_flow import Flow, StepNotAllowed, choose
from app.domain.clock import local
from app.domain.errors import BusinessError, InvalidValue, NotFound
from app.domain.fields import code_label
from app.domain.money import CENT
from app.domain.status import OrderStatus
from app.services import after_sales_actions as actions
from app.services import after_sales_flows as flows
from app.services import audit, red_letter, routing
from app.services.unit_of_work import UnitOfWork
from app.services.permissions import require

OPEN_STATES_EXCLUDED = ("closed", "rejected")
#: The order stages a case may be opened from; shipped/completed orders move to 售后中 meanwhile.
OPENABLE = {"exchange": ("shipped", "completed", "after_sales"), "return_refund": ("shipped", "completed", "after_sales"),
            "reship": ("shipped", "completed", "after_sales"),
            "refund_only": ("paid", "allocating", "shipped", "completed", "after_sales")}
FIRST_RESPONSE_TARGET_S = 112  # the brand's target for the median first response


class CaseChanged(BusinessError):
    """Someone else took a step on the case since the caller looked; nothing changed."""

    code = "AS_CASE_CHANGED"


class LineUnknown(BusinessError):
    code = "AS_LINE_UNKNOWN"


class SizeUnknown(BusinessError):
    code = "AS_SIZE_UNKNOWN"


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case as stations and the CLI see it: plain values and what may happen next."""

    case_no: str
    order_no: str
    kind: str
    state: str
    flow_version: int
    lines: tuple[dict[str, Any], ...]
    reason: str | None
    refund_amount: Decimal | None
    linked_order_no: str | None
    requested_at: datetime
    first_response_at: datetime | None
    closed_at: datetime | None
    version: int
    allowed_steps: tuple[str, ...]
    events: tuple[dict[str, Any], ...]
    red_letters: tuple[dict[str, Any], ...]


def _order(s: Session, order_no: str) -> Order:
    order = s.scalars(sa.select(Order).where(Order.order_no == order_no).with_for_update()).first()
    if order is None:
        raise NotFound(what="order", key=order_no)
    return order


def _lines(s: Session, order: Order, kind: str, wanted: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The case's lines from the customer's request, checked against the order and its open cases."""
    busy = {int(ln["line_no"]) for (lines,) in s.execute(sa.select(AfterSalesCase.lines).where(
        AfterSalesCase.order_id == order.id, AfterSalesCase.state.not_in(OPEN_STATES_EXCLUDED))) for ln in lines}
    by_no = {int(it["line_no"]): it for it in order.items}
    out = []
    for w in wanted or ():
        no = int(w.get("line_no", 0))
        item = by_no.get(no)
        qty = int(w.get("qty") or (item or {}).get("qty", 0))
        if item is None or no in busy or not 0 < qty <= int(item["qty"]) or item.get("line_status") == "refunded":
            raise LineUnknown(order_no=order.order_no, line_no=no)
        paid = (Decimal(str(item.get("paid", "0"))) * qty / int(item["qty"])).quantize(CENT)
        line = {"line_no": no, "sku": item["sku"], "name": item.get("name", ""), "color": item.get("color", ""),
                "size": item.get("size", ""), "qty": qty, "paid": str(paid)}
        if w.get("best_before"):
            line["best_before"] = str(w["best_before"])
        if kind == "exchange":
            size = str(w.get("new_size") or "").strip()
            style, color = s.execute(sa.select(Sku.style_code, Sku.color).where(Sku.sku_code == item["sku"])).one()
            new = s.scalar(sa.select(Sku.sku_code).where(Sku.style_code == style, Sku.color == color, Sku.size == size))
            if not size or size == item.get("size") or new is None:
                raise SizeUnknown(sku=item["sku"], size=size or "?")
            line |= {"new_sku": new, "new_size": size}
        out.append(line)
    if not out:
        raise LineUnknown(order_no=order.order_no, line_no="-")
    return out


def _event(s: Session, case: AfterSalesCase, step: str, before: str | None, after: str, actor: Actor,
           basis: str | None, detail: dict[str, Any]) -> int:
    seq = int(s.scalar(sa.select(sa.func.coalesce(sa.func.max(AfterSalesEvent.seq), 0)).where(
        AfterSalesEvent.case_id == case.id)) or 0) + 1
    s.add(AfterSalesEvent(case_id=case.id, seq=seq, step=step, from_state=before, to_state=after,
                          flow_version=case.flow_version, operator=actor.operator, station=actor.station,
                          station_ip=actor.station_ip, basis=basis, detail=audit.jsonable(detail)))
    return seq


def _run(ctx: actions.StepContext, todo: Sequence[Mapping[str, Any]]) -> None:
    for action in todo:
        actions.RUNNERS[action["action"]](ctx, action)


def _is_person(actor: Actor) -> bool:
    return not actor.operator.startswith("system:")


def open_case(uow: UnitOfWork, order_no: str, kind: str, lines: Sequence[Mapping[str, Any]], *, actor: Actor,
              reason: str, basis: str | None = None, requested_at: datetime | None = None,
              contact_phone: str | None = None) -> CaseView:
    """Open a case on some of an order's lines, on the current version of the kind's flow.

    Args:
        lines: ``{"line_no", "qty"}`` each; a size exchange adds ``"new_size"``; a return may carry
            the ``"best_before"`` date the warehouse recorded.
        requested_at: when the customer asked (default now); a person opening the case is its first response.

    Raises:
        NotFound, NoFlow, LineUnknown, SizeUnknown, BasisRequired, InvalidValue: nothing is changed.
    """
    if kind not in OPENABLE:
        raise InvalidValue(field=code_label("audit_action", "after_sales.open"), value=kind, reason="售后类型不认识")
    basis = audit.require_basis(actor, basis or reason, code_label("audit_action", "after_sales.open"))
    with uow:
        require(uow, actor, "after_sales.open")
        s = uow.session
        order = _order(s, order_no)
        if order.status not in OPENABLE[kind]:
            raise InvalidValue(field=code_label("after_sales_kind", kind), value=code_label("order_status", order.status),
                               reason="订单当前环节不能发起此类售后")
        flow = flows.load(s, kind)
        case_lines = _lines(s, order, kind, lines)
        now = s.scalar(sa.select(sa.func.now()))
        cid = int(s.scalar(sa.text("SELECT nextval(pg_get_serial_sequence('after_sales_cases', 'id'))")))
        case = AfterSalesCase(id=cid, case_no=f"AS{local(now):%y%m%d}{cid:06d}", order_id=order.id, kind=kind,
                              state=flow.initial, flow_version=flow.version, lines=case_lines, reason=reason,
                              requested_at=requested_at or now, first_response_at=now if _is_person(actor) else None,
                              created_by=actor.operator, version=1)
        s.add(case)
        s.flush()
        extra = AfterSalesCaseExtra(case_id=case.id, contact_phone=contact_phone,
                                    context={"order_status_before": order.status})
        s.add(extra)
        before = {"status": order.status, "version": order.version}
        if order.status in ("shipped", "completed"):
            order.status = OrderStatus.AFTER_SALES.value
        seq = _event(s, case, "open", None, flow.initial, actor, basis, {})
        ctx = actions.StepContext(s, case, extra, order, flow, actor, seq, {})
        _run(ctx, flow.on_open)
        s.flush()
        audit.record(s, actor, "after_sales.open", "order", order.order_no, basis=basis, before=before,
                     after={"status": order.status, "case_no": case.case_no, "kind": kind,
                            "flow_version": flow.version, "lines": [ln["line_no"] for ln in case_lines], **ctx.detail})
        view = _view(s, case, order, flow)
        uow.commit()
        return view


def step(uow: UnitOfWork, case_no: str, step_name: str, *, expected_version: int, actor: Actor,
         basis: str | None = None, params: Mapping[str, Any] | None = None) -> CaseView:
    """Take one step of a case's flow (the version it started with).

    Raises:
        NotFound; CaseChanged (someone else moved it first); StepNotAllowed (the state does not
        allow the step, or no branch's conditions hold); BasisRequired: nothing is changed.
    """
    params = dict(params or {})
    with uow:
        require(uow, actor, "after_sales.step")
        s = uow.session
        case = s.scalars(sa.select(AfterSalesCase).where(AfterSalesCase.case_no == case_no).with_for_update()).first()
        if case is None:
            raise NotFound(what="after_sales_case", key=case_no)
        if case.version != expected_version:
            raise CaseChanged(case_no=case_no, expected=expected_version, actual=case.version)
        order = s.get(Order, case.order_id, with_for_update=True)
        extra = s.get(AfterSalesCaseExtra, case.id, with_for_update=True)
        if extra is None:  # cases from before flows were data (the demo's history)
            extra = AfterSalesCaseExtra(case_id=case.id, context={})
            s.add(extra)
        flow = flows.load(s, case.kind, case.flow_version)
        facts = _facts(s, case, extra, order, flow, step_name, params)
        chosen = choose(flow, case.state, step_name, facts, case_no=case_no)
        label = code_label("audit_action", "after_sales.transition")
        if chosen.needs_basis:
            basis = audit.require_basis(actor, basis, label)
        before = case.state
        seq = _event(s, case, step_name, before, chosen.target, actor, basis, {})
        ctx = actions.StepContext(s, case, extra, order, flow, actor, seq, params)
        _run(ctx, chosen.actions)
        case.state = chosen.target
        case.version += 1
        if case.first_response_at is None and _is_person(actor):
            case.first_response_at = s.scalar(sa.select(sa.func.now()))
        if chosen.target in flow.terminal:
            case.closed_at = s.scalar(sa.select(sa.func.now()))
            _give_order_back(s, case, extra, order)
        if order.status in ("paid", "allocating") and step_name != "open":
            # 未发货仅退款: the refunded line needs nothing from stock any more; routing gives it back
            # (and re-decides the rest) in this same transaction.
            ctx.note("routing", routing.route_in(s, [order.order_no], actor, trigger="items")[0].outcome)
        s.flush()
        audit.record(s, actor, "after_sales.transition", "after_sales_case", case_no, basis=basis,
                     before={"state": before, "version": expected_version},
                     after={"state": chosen.target, "step": step_name, "flow_version": case.flow_version,
                            "seq": seq, **ctx.detail})
        view = _view(s, case, order, flow)
        uow.commit()
        return view


def _facts(s: Session, case: AfterSalesCase, extra: AfterSalesCaseExtra | None, order: Order, flow: Flow,
           step_name: str, params: Mapping[str, Any], *, lock: bool = True) -> dict[str, Any]:
    """Only the facts the candidate branches' guards read (a stock check locks the stock rows)."""
    needed = flow.guard_facts(case.state, step_name)
    facts: dict[str, Any] = {"params": params}
    if "order_status" in needed:
        facts["order_status"] = (extra.context if extra else {}).get("order_status_before", order.status)
    if "stock_need" in needed or "stock_free" in needed:
        need = actions.stock_need(case)
        facts["stock_need"], facts["stock_free"] = need, actions.stock_free(s, list(need), lock=lock)
    if "expiry_dates" in needed or "today" in needed:
        facts["expiry_dates"] = actions.expiry_dates(case)
        facts["today"] = local(s.scalar(sa.select(sa.func.now()))).date()
    if "red_letter_state" in needed:
        facts["red_letter_state"] = red_letter.latest_state(s, case.id)
    return facts


def _give_order_back(s: Session, case: AfterSalesCase, extra: AfterSalesCaseExtra, order: Order) -> None:
    """A closed case returns the order to where it was, once no other case on it is open."""
    others = s.scalar(sa.select(sa.func.count()).select_from(AfterSalesCase).where(
        AfterSalesCase.order_id == order.id, AfterSalesCase.id != case.id,
        AfterSalesCase.state.not_in(OPEN_STATES_EXCLUDED)))
    if order.status == OrderStatus.AFTER_SALES.value and not others:
        order.status = extra.context.get("order_status_before", "completed")
        if order.status == "after_sales":
            order.status = "completed"


def respond(uow: UnitOfWork, case_no: str, actor: Actor, *, at: datetime | None = None) -> CaseView:
    """Customer service answered the customer (the first answer starts the response-time clock's stop)."""
    with uow:
        require(uow, actor, "after_sales.respond")
        s = uow.session
        case = s.scalars(sa.select(AfterSalesCase).where(AfterSalesCase.case_no == case_no).with_for_update()).first()
        if case is None:
            raise NotFound(what="after_sales_case", key=case_no)
        if case.first_response_at is None:
            case.first_response_at = at or s.scalar(sa.select(sa.func.now()))
        order = s.get(Order, case.order_id)
        view = _view(s, case, order, flows.load(s, case.kind, case.flow_version))
        uow.commit()
        return view


def _allowed(s: Session, case: AfterSalesCase, order: Order, flow: Flow) -> tuple[str, ...]:
    """The steps a person can take now: allowed from the state and with a branch whose conditions hold
    (「完结」 stays hidden while a red-letter confirmation is open; 「重新发起红冲」 shows once one is void)."""
    if case.state in flow.terminal:
        return ()
    extra = s.get(AfterSalesCaseExtra, case.id)
    out = []
    for step_name in flow.steps_from(case.state):
        facts = _facts(s, case, extra, order, flow, step_name, {}, lock=False)
        try:
            choose(flow, case.state, step_name, facts)
        except StepNotAllowed:
            continue
        out.append(step_name)
    return tuple(out)


def _view(s: Session, case: AfterSalesCase, order: Order, flow: Flow) -> CaseView:
    events = s.execute(sa.select(AfterSalesEvent).where(AfterSalesEvent.case_id == case.id)
                       .order_by(AfterSalesEvent.seq)).scalars().all()
    linked = s.scalar(sa.select(Order.order_no).where(Order.id == case.exchange_order_id)) if case.exchange_order_id else None
    return CaseView(case.case_no, order.order_no, case.kind, case.state, case.flow_version,
                    tuple(dict(ln) for ln in case.lines), case.reason, case.refund_amount, linked, case.requested_at,
                    case.first_response_at, case.closed_at, case.version, _allowed(s, case, order, flow),
                    tuple({"seq": e.seq, "step": e.step, "from": e.from_state, "to": e.to_state, "operator": e.operator,
                           "station": e.station, "basis": e.basis, "at": e.occurred_at, "flow_version": e.flow_version}
                          for e in events),
                    tuple(red_letter.for_case(s, case.id)))


def case(uow: UnitOfWork, case_no: str) -> CaseView:
    with uow:
        s = uow.session
        row = s.scalars(sa.select(AfterSalesCase).where(AfterSalesCase.case_no == case_no)).first()
        if row is None:
            raise NotFound(what="after_sales_case", key=case_no)
        return _view(s, row, s.get(Order, row.order_id), flows.load(s, row.kind, row.flow_version))


def cases_of_order(uow: UnitOfWork, order_no: str) -> list[CaseView]:
    with uow:
        s = uow.session
        order = s.scalars(sa.select(Order).where(Order.order_no == order_no)).first()
        if order is None:
            raise NotFound(what="order", key=order_no)
        rows = s.scalars(sa.select(AfterSalesCase).where(AfterSalesCase.order_id == order.id)
                         .order_by(AfterSalesCase.id)).all()
        return [_view(s, r, order, flows.load(s, r.kind, r.flow_version)) for r in rows]


@dataclass(frozen=True, slots=True)
class ResponseTime:
    median_seconds: float | None
    cases: int
    target_seconds: int = FIRST_RESPONSE_TARGET_S

    @property
    def met(self) -> bool | None:
        return None if self.median_seconds is None else self.median_seconds <= self.target_seconds


def first_response(uow: UnitOfWork, *, since: datetime | None = None, until: datetime | None = None) -> ResponseTime:
    """Median seconds from the customer's request to customer service's first answer (answered cases)."""
    with uow:
        q = sa.select(sa.extract("epoch", AfterSalesCase.first_response_at - AfterSalesCase.requested_at)).where(
            AfterSalesCase.first_response_at.is_not(None))
        if since is not None:
            q = q.where(AfterSalesCase.requested_at >= since)
        if until is not None:
            q = q.where(AfterSalesCase.requested_at < until)
        waits = [float(w) for w in uow.session.scalars(q)]
        return ResponseTime(statistics.median(waits) if waits else None, len(waits))


def exchange_sizes(uow: UnitOfWork, order_no: str, line_no: int) -> list[tuple[str, int]]:
    """The sizes a line's item comes in (same style and colour, its own size left out) with free units now."""
    with uow:
        s = uow.session
        order = s.scalars(sa.select(Order).where(Order.order_no == order_no)).first()
        if order is None:
            raise NotFound(what="order", key=order_no)
        item = next((it for it in order.items if int(it["line_no"]) == line_no), None)
        if item is None:
            raise LineUnknown(order_no=order_no, line_no=line_no)
        cur = s.execute(sa.select(Sku.style_code, Sku.color, Sku.id).where(Sku.sku_code == item["sku"])).one()
        rows = s.execute(sa.select(Sku.sku_code, Sku.size).where(Sku.style_code == cur.style_code, Sku.color == cur.color,
                                                                 Sku.sku_code != item["sku"]).order_by(Sku.id)).all()
        free = actions.stock_free(s, [r.sku_code for r in rows], lock=False)
        return [(r.size, free.get(r.sku_code, 0)) for r in rows]
