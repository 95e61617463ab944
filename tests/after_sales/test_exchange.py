"""尺码调换 end to end through the service layer, as the user's story tells it."""

from __future__ import annotations

import threading

import pytest

from app.domain.after_sales_flow import StepNotAllowed
from app.domain.errors import BasisRequired
from app.domain.messages import render
from app.services import after_sales, outbox
from tests.after_sales.conftest import CS, CS2, PHONE, Company

TEE_110, TEE_120 = "T2601-01-110", "T2601-01-120"
HOODIE = "W2602-01-120"


def _exchange(company: Company, order_no: str, *, actor=CS, phone: str | None = PHONE) -> after_sales.CaseView:
    return after_sales.open_case(company.hub.uow(), order_no, "exchange", [{"line_no": 1, "qty": 1, "new_size": "120"}],
                                 actor=actor, reason="尺码偏小，想换大一码", basis="抖店售后单 7001 聊天记录",
                                 contact_phone=phone)


def test_in_stock_exchange_creates_a_linked_reserved_order_with_the_gift_sms_and_invoice_to_reissue(company: Company):
    order_no = company.order([(TEE_110, 1, "170.00"), (HOODIE, 1, "159.00")], gift=True)  # ¥329: earned the socks
    company.stock(TEE_120, 3)
    case = _exchange(company, order_no)

    # Only the exchanged line is frozen; the hoodie and the socks are untouched; the order is 售后中.
    items = company.items(order_no)
    assert [it["line_status"] for it in items] == ["frozen", "normal", "normal"]
    assert company.scalar("SELECT status FROM orders WHERE order_no = :o", o=order_no) == "after_sales"
    assert case.state == "requested" and case.flow_version == 1 and case.allowed_steps == ("check_stock", "reject")

    done = after_sales.step(company.hub.uow(), case.case_no, "check_stock", expected_version=case.version, actor=CS)
    assert done.state == "exchange_created" and done.linked_order_no

    new = company.rows("SELECT status, items, paid_amount, warehouse_id, ship_by FROM orders WHERE order_no = :o",
                       o=done.linked_order_no)[0]
    assert new["status"] == "allocating" and new["warehouse_id"] is not None  # routed and reserved
    assert [(it["sku"], it["qty"], it["is_gift"]) for it in new["items"]][:1] == [(TEE_120, 1, False)]
    assert any(it["is_gift"] and it.get("carried_over") for it in new["items"])  # the socks come along
    assert company.free(TEE_120) == (3, 1)
    assert [it["line_status"] for it in company.items(order_no)] == ["exchanged", "normal", "normal"]
    assert company.scalar("SELECT invoice_status FROM orders WHERE order_no = :o", o=order_no) == "reissue_pending"
    assert company.scalar("SELECT reissue_pending FROM invoices i JOIN orders o ON o.id = i.order_id "
                          "WHERE o.order_no = :o", o=order_no) is True

    sms = [m for m in outbox.listing(company.hub.uow(), topics=("sms",)) if m["payload"]["case_no"] == case.case_no]
    assert len(sms) == 1 and sms[0]["payload"]["phone"] == PHONE
    assert sms[0]["payload"]["params"]["new_order_no"] == done.linked_order_no
    assert "月" in sms[0]["payload"]["params"]["ship_by"]

    # Each step audited with operator, station and basis; the case keeps its history.
    trail = company.rows("SELECT operator, station, basis, action FROM audit_log WHERE entity_id IN (:o, :c) ORDER BY id",
                         o=order_no, c=case.case_no)
    assert [(r["action"], r["operator"], r["station"]) for r in trail] == [
        ("after_sales.open", "xiaomei", "客服工作台-01"), ("after_sales.transition", "xiaomei", "客服工作台-01")]
    assert trail[0]["basis"] == "抖店售后单 7001 聊天记录"
    assert [(e["step"], e["to"]) for e in done.events] == [("open", "requested"), ("check_stock", "exchange_created")]


def test_out_of_stock_alerts_procurement_once_and_tells_customer_service(company: Company):
    order_no = company.order([(TEE_110, 1, "69.00")])
    company.stock(TEE_120, 0)
    case = _exchange(company, order_no)
    case = after_sales.step(company.hub.uow(), case.case_no, "check_stock", expected_version=case.version, actor=CS)
    assert case.state == "out_of_stock" and case.linked_order_no is None
    case = after_sales.step(company.hub.uow(), case.case_no, "check_stock", expected_version=case.version, actor=CS)
    assert case.state == "out_of_stock"

    alerts = outbox.listing(company.hub.uow(), topics=("procurement.alert",))
    assert len(alerts) == 1  # asked again, not alerted again
    text = render(alerts[0]["payload"]["message"], "zh", **alerts[0]["payload"]["params"])
    assert TEE_120 in text and case.case_no in text
    notices = outbox.listing(company.hub.uow(), topics=("cs.notice",))
    assert [n["payload"]["message"] for n in notices] == ["AS_CS_OUT_OF_STOCK", "AS_CS_OUT_OF_STOCK"]
    assert outbox.listing(company.hub.uow(), topics=("sms",), statuses=("pending",)) == []

    company.stock(TEE_120, 1)  # the restock arrives
    case = after_sales.step(company.hub.uow(), case.case_no, "check_stock", expected_version=case.version, actor=CS)
    assert case.state == "exchange_created" and company.free(TEE_120) == (1, 1)


def test_two_exchanges_racing_for_the_last_unit_get_one_exchange_and_one_wait(company: Company):
    company.stock(TEE_120, 1)
    cases = [_exchange(company, company.order([(TEE_110, 1, "69.00")]), actor=a) for a in (CS, CS2)]
    barrier, results, errors = threading.Barrier(2), [], []

    def run(case: after_sales.CaseView, actor) -> None:
        barrier.wait()
        try:
            results.append(after_sales.step(company.hub.uow(), case.case_no, "check_stock",
                                            expected_version=case.version, actor=actor))
        except Exception as err:  # pragma: no cover - shown by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(c, a)) for c, a in zip(cases, (CS, CS2), strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(r.state for r in results) == ["exchange_created", "out_of_stock"]
    assert company.free(TEE_120) == (1, 1)  # reserved once, never oversold


def test_a_step_the_state_does_not_allow_is_refused_and_nothing_changes(company: Company):
    order_no = company.order([(TEE_110, 1, "69.00")])
    case = _exchange(company, order_no)
    audits = company.scalar("SELECT count(*) FROM audit_log")
    with pytest.raises(StepNotAllowed) as refused:
        after_sales.step(company.hub.uow(), case.case_no, "close", expected_version=case.version, actor=CS)
    message = refused.value.message("zh")
    assert "客户已申请" in message and "完结" in message and "查库存并处理" in message and "未做任何更改" in message
    again = after_sales.case(company.hub.uow(), case.case_no)
    assert (again.state, again.version, len(again.events)) == ("requested", case.version, 1)
    assert company.scalar("SELECT count(*) FROM audit_log") == audits


def test_a_stale_view_and_a_missing_basis_are_refused(company: Company):
    order_no = company.order([(TEE_110, 1, "69.00")])
    company.stock(TEE_120, 0)
    case = _exchange(company, order_no)
    with pytest.raises(BasisRequired):
        after_sales.step(company.hub.uow(), case.case_no, "reject", expected_version=case.version, actor=CS)
    moved = after_sales.step(company.hub.uow(), case.case_no, "check_stock", expected_version=case.version, actor=CS)
    with pytest.raises(after_sales.CaseChanged) as stale:
        after_sales.step(company.hub.uow(), case.case_no, "reject", expected_version=case.version, actor=CS2,
                         basis="客户撤销")
    assert "请刷新后重试" in stale.value.message("zh")
    rejected = after_sales.step(company.hub.uow(), case.case_no, "reject", expected_version=moved.version, actor=CS2,
                                basis="客户改为退货")
    assert rejected.state == "rejected" and rejected.closed_at is not None
    assert company.items(order_no)[0]["line_status"] == "normal"  # unfrozen
    assert company.scalar("SELECT status FROM orders WHERE order_no = :o", o=order_no) == "shipped"  # given back


def test_wrong_size_or_a_line_already_in_a_case_is_refused(company: Company):
    order_no = company.order([(TEE_110, 1, "69.00")])
    with pytest.raises(after_sales.SizeUnknown):
        after_sales.open_case(company.hub.uow(), order_no, "exchange", [{"line_no": 1, "new_size": "999"}],
                              actor=CS, reason="换码")
    _exchange(company, order_no)
    with pytest.raises(after_sales.LineUnknown) as busy:
        _exchange(company, order_no)
    assert "已在其他售后单中处理" in busy.value.message("zh")
    assert company.scalar("SELECT count(*) FROM after_sales_cases c JOIN orders o ON o.id = c.order_id "
                          "WHERE o.order_no = :o", o=order_no) == 1
