"""The after-sales red-flush through 诺诺: 红字确认单 applied for via the outbox, the provider's numbers, re-issue."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from app.db.after_sales_models import RedLetterConfirmation
from app.db.models import AfterSalesCase, Invoice, Order
from app.services import einvoice, red_letter
from tests.einvoice.conftest import ADMIN, Tax


def _case(tax: Tax, order_no: str, refund: str) -> str:
    """A refund case on the order, and its red-flush started in the case's own transaction."""
    with tax.hub.uow() as uow:
        s = uow.session
        order = s.scalars(sa.select(Order).where(Order.order_no == order_no)).one()
        case = AfterSalesCase(case_no=f"AS{order.id:012d}", order_id=order.id, kind="refund_only", state="refunded",
                              lines=[{"line_no": 1, "sku": "T2601-01-110", "qty": 1}], refund_amount=Decimal(refund),
                              requested_at=s.scalar(sa.select(sa.func.now())), created_by="xiaomei")
        s.add(case)
        s.flush()
        conf = red_letter.start(s, case, order, reason="01", refund=Decimal(refund), actor=ADMIN)
        uow.commit()
        return conf.confirm_no


def _confirmation(tax: Tax) -> RedLetterConfirmation:
    with tax.hub.uow() as uow:
        return uow.session.scalars(sa.select(RedLetterConfirmation)).one()


def test_a_full_red_flush_gets_the_providers_confirmation_and_red_invoice_numbers_and_reissues_the_rest(tax: Tax):
    order_no = tax.bound_order("299.00")
    tax.run(3)
    [(_, blue_no, _)] = tax.invoices(order_no)
    ours = _case(tax, order_no, "100.00")
    assert ours.startswith("RC") and tax.invoices(order_no) == [("blue", blue_no, Decimal("299.00"))]  # not local
    tax.run(8)
    conf = _confirmation(tax)
    [sim_conf] = tax.sim.confirmations.values()
    assert sim_conf["billId"] == ours and conf.confirm_no == sim_conf["billNo"] and conf.state == "01"
    kinds = tax.invoices(order_no)
    assert [k for k, _, _ in kinds] == ["blue", "red", "blue"]
    red_no, reissued = kinds[1][1], kinds[2]
    assert red_no in {i["number"] for i in tax.sim.invoices.values() if i["kind"] == "red"}
    assert kinds[1][2] == Decimal("-299.00") and reissued[2] == Decimal("199.00") and reissued[1] != blue_no
    with tax.hub.uow() as uow:
        s = uow.session
        red = s.scalars(sa.select(Invoice).where(Invoice.invoice_no == red_no)).one()
        assert red.red_confirmation_no == conf.confirm_no
        assert s.scalar(sa.select(Order.invoice_status).where(Order.order_no == order_no)) == "issued"
    assert [r.kind for r in einvoice.requests_of(tax.hub.uow(), order_no=order_no)] == ["reissue", "red_confirm", "blue"]


def test_when_the_buyer_booked_the_invoice_the_red_flush_waits_for_their_confirmation(tax: Tax):
    order_no = tax.bound_order("299.00")
    tax.run(3)
    [(_, blue_no, _)] = tax.invoices(order_no)
    tax.sim.booked.add(blue_no)
    ours = _case(tax, order_no, "299.00")
    tax.run(3)
    assert _confirmation(tax).state == "02" and len(tax.invoices(order_no)) == 1
    tax.sim.buyer_decides(ours, agree=True)
    tax.run(3)
    assert _confirmation(tax).state == "04"
    assert [k for k, _, _ in tax.invoices(order_no)] == ["blue", "red"]


def test_a_buyer_refusing_voids_the_confirmation_and_customer_service_is_told(tax: Tax):
    order_no = tax.bound_order("299.00")
    tax.run(3)
    tax.sim.booked.add(tax.invoices(order_no)[0][1])
    ours = _case(tax, order_no, "299.00")
    tax.run(2)
    tax.sim.buyer_decides(ours, agree=False)
    tax.run(2)
    assert _confirmation(tax).state == "05"
    with tax.hub.uow() as uow:
        notices = uow.session.scalars(sa.text("SELECT payload->>'message' FROM outbox WHERE topic = 'cs.notice'")).all()
    assert notices == ["AS_CS_RED_VOIDED"]
    [row] = [r for r in einvoice.requests_of(tax.hub.uow(), order_no=order_no) if r.kind == "red_confirm"]
    assert row.state == "failed" and row.provider_code == "05"


def test_a_lost_answer_to_the_confirmation_application_is_found_by_our_bill_id(tax: Tax):
    order_no = tax.bound_order("299.00")
    tax.run(3)
    _case(tax, order_no, "50.00")
    tax.sim.lose_next, tax.sim.lose_seconds = 1, 1.5
    tax.run(8)
    assert tax.sim.calls.count("nuonuo.OpeMplatform.saveInvoiceRedConfirm") == 1
    assert len(tax.sim.confirmations) == 1
    assert [k for k, _, _ in tax.invoices(order_no)] == ["blue", "red", "blue"]


def test_a_partial_red_flush_after_the_buyer_confirmed_takes_back_only_the_cases_lines(tax: Tax):
    from app.db.models import Order as O

    with tax.hub.uow() as uow:  # a two-line order: T恤 170.00 + 裤子 159.00
        order_no = tax.bound_order("329.00")
        order = uow.session.scalars(sa.select(O).where(O.order_no == order_no)).one()
        order.items = [order.items[0] | {"line_no": 1, "paid": "170.00"},
                       {"line_no": 2, "sku": "W2602-01-120", "name": "弹力牛仔长裤", "size": "120", "qty": 1,
                        "unit_price": "159.00", "paid": "159.00", "is_gift": False, "line_status": "normal"}]
        uow.commit()
    tax.run(3)
    [(_, blue_no, _)] = tax.invoices(order_no)
    with tax.hub.uow() as uow:
        uow.session.execute(sa.update(Invoice).values(buyer_confirmed=True))  # the buyer booked it
        uow.commit()
    tax.sim.booked.add(blue_no)
    with tax.hub.uow() as uow:  # return the trousers (line 2): 销货退回, partial
        s = uow.session
        order = s.scalars(sa.select(Order).where(Order.order_no == order_no)).one()
        case = AfterSalesCase(case_no="AS900000000002", order_id=order.id, kind="return_refund", state="refunded",
                              lines=[{"line_no": 2, "sku": "W2602-01-120", "qty": 1}], refund_amount=Decimal("159.00"),
                              requested_at=s.scalar(sa.select(sa.func.now())), created_by="xiaomei")
        s.add(case)
        s.flush()
        conf = red_letter.start(s, case, order, reason="02", refund=Decimal("159.00"), actor=ADMIN)
        assert conf.partial
        uow.commit()
    tax.run(2)
    [sim_conf] = tax.sim.confirmations.values()
    assert sim_conf["billStatus"] == "02" and sim_conf["amount"] == "159.00"
    sent = [r for r in tax.server.requests if r.headers.get("method") == "nuonuo.OpeMplatform.saveInvoiceRedConfirm"]
    import json

    assert json.loads(sent[0].body)["redReason"] == "1"  # 诺诺's code for 销货退回
    [detail] = json.loads(sent[0].body)["detail"]
    assert (detail["blueDetailIndex"], detail["goodsName"], detail["num"]) == ("2", "弹力牛仔长裤", "-1")
    assert Decimal(detail["taxExcludedAmount"]) + Decimal(detail["taxAmount"]) == Decimal("-159.00")
    tax.sim.buyer_decides(sim_conf["billId"], agree=True)
    tax.run(3)
    assert [(k, a) for k, _, a in tax.invoices(order_no)] == [("blue", Decimal("329.00")), ("red", Decimal("-159.00"))]
