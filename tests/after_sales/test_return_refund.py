"""退货退款, 仅退款 and 补发 through every path, with the 红字确认单 and its 72-hour timer."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.domain.after_sales_flow import StepNotAllowed, red_flush_plan
from app.domain.errors import BusinessError
from app.services import after_sales, outbox, red_letter
from tests.after_sales.conftest import CS, PHONE, Company

TEE, HOODIE, JEANS = "T2601-01-110", "W2602-01-120", "J2603-02-130"


def _open(company: Company, order_no: str, kind: str, lines: list[dict], **kw) -> after_sales.CaseView:
    return after_sales.open_case(company.hub.uow(), order_no, kind, lines, actor=CS, reason="颜色与图片不符",
                                 contact_phone=PHONE, **kw)


def _go(company: Company, case: after_sales.CaseView, *steps: str, **kw) -> after_sales.CaseView:
    for name in steps:
        case = after_sales.step(company.hub.uow(), case.case_no, name, expected_version=case.version, actor=CS, **kw)
    return case


def _invoices(company: Company, order_no: str) -> list[dict]:
    return company.rows("SELECT kind, amount, red_confirmation_no, reissue_pending FROM invoices i JOIN orders o "
                        "ON o.id = i.order_id WHERE o.order_no = :o ORDER BY i.id", o=order_no)


def test_return_full_path_restocks_refunds_and_red_flushes_without_the_buyer(company: Company):
    order_no = company.order([(TEE, 1, "69.00"), (HOODIE, 1, "129.00")])
    company.stock(TEE, 5)
    case = _open(company, order_no, "return_refund", [{"line_no": 1, "qty": 1}])
    assert [it["line_status"] for it in company.items(order_no)] == ["refunding", "normal"]
    case = _go(company, case, "approve")
    assert case.state == "awaiting_return"
    case = _go(company, case, "receive", "inspect")
    assert case.state == "inspected" and company.free(TEE) == (6, 0)  # back on the shelf
    case = _go(company, case, "refund")
    assert case.state == "refunded" and case.refund_amount == pytest.approx(69)
    assert [it["line_status"] for it in company.items(order_no)] == ["refunded", "normal"]

    # The buyer never confirmed the invoice: the whole invoice is flushed (01 无需确认), the red
    # invoice is out at once, and the rest of the order is re-issued (待重开).
    (conf,) = case.red_letters
    assert conf["state"] == "01" and conf["partial"] is False
    kinds = _invoices(company, order_no)
    assert [(i["kind"], str(i["amount"])) for i in kinds] == [("blue", "198.00"), ("red", "-198.00")]
    assert company.scalar("SELECT invoice_status FROM orders WHERE order_no = :o", o=order_no) == "reissue_pending"

    sms = [m["payload"]["template"] for m in outbox.listing(company.hub.uow(), topics=("sms",))
           if m["payload"].get("case_no") == case.case_no]
    assert sorted(sms) == ["refunded", "return_approved"]
    closed = _go(company, case, "close")
    assert closed.state == "closed"
    assert company.scalar("SELECT status FROM orders WHERE order_no = :o", o=order_no) == "shipped"


def test_partial_red_flush_waits_for_the_buyer_and_voids_after_72_hours(company: Company):
    order_no = company.order([(TEE, 1, "69.00"), (HOODIE, 1, "129.00")], buyer_confirmed=True)
    case = _go(company, _open(company, order_no, "return_refund", [{"line_no": 1, "qty": 1}]),
               "approve", "receive", "inspect", "refund")
    (conf,) = case.red_letters
    assert conf["state"] == "02" and conf["partial"] is True and str(conf["red_amount"]) == "69.00"
    assert case.allowed_steps == ()  # waiting for the buyer: nothing to do but wait (or chase them)
    with pytest.raises(StepNotAllowed):  # not settled: the case cannot close yet
        _go(company, case, "close")

    created = company.scalar("SELECT created_at FROM red_letter_confirmations WHERE confirm_no = :c", c=conf["confirm_no"])
    assert red_letter.sweep(company.hub.uow(), now=created + timedelta(hours=47)) == {"escalated": 0, "voided": 0}
    assert red_letter.sweep(company.hub.uow(), now=created + timedelta(hours=49)) == {"escalated": 1, "voided": 0}
    assert red_letter.sweep(company.hub.uow(), now=created + timedelta(hours=60)) == {"escalated": 0, "voided": 0}
    assert red_letter.sweep(company.hub.uow(), now=created + timedelta(hours=72, seconds=1)) == {"escalated": 0, "voided": 1}
    notices = [n["payload"]["message"] for n in outbox.listing(company.hub.uow(), topics=("cs.notice",))
               if n["payload"].get("case_no") == case.case_no]
    assert sorted(notices) == ["AS_CS_RED_ESCALATE", "AS_CS_RED_VOIDED"]

    case = after_sales.case(company.hub.uow(), case.case_no)
    assert case.allowed_steps == ("redo_red_flush",)  # 完结 waits until a red invoice is out
    with pytest.raises(StepNotAllowed):
        _go(company, case, "close")
    case = _go(company, case, "redo_red_flush")
    new = case.red_letters[-1]
    assert new["state"] == "02" and new["confirm_no"] != conf["confirm_no"]
    with pytest.raises(BusinessError) as bad:  # the void one cannot come back
        red_letter.move(company.hub.uow(), conf["confirm_no"], "04", CS)
    assert "未做任何更改" in bad.value.message("zh")

    red_letter.move(company.hub.uow(), new["confirm_no"], "04", CS, basis="购方已在电子税务局确认")
    kinds = _invoices(company, order_no)
    assert [(i["kind"], str(i["amount"])) for i in kinds] == [("blue", "198.00"), ("red", "-69.00")]
    assert company.scalar("SELECT invoice_status FROM orders WHERE order_no = :o", o=order_no) == "issued"
    assert _go(company, after_sales.case(company.hub.uow(), case.case_no), "close").state == "closed"


def test_red_flush_rules_full_only_for_invoicing_errors_and_without_buyer_confirmation():
    from decimal import Decimal as D
    assert red_flush_plan(blue_amount=D("198"), refund=D("69"), buyer_confirmed=True, reason="02") == (True, "02")
    assert red_flush_plan(blue_amount=D("198"), refund=D("69"), buyer_confirmed=True, reason="04") == (True, "02")
    assert red_flush_plan(blue_amount=D("198"), refund=D("69"), buyer_confirmed=True, reason="01") == (False, "02")
    assert red_flush_plan(blue_amount=D("198"), refund=D("69"), buyer_confirmed=False, reason="02") == (False, "01")
    assert red_flush_plan(blue_amount=D("198"), refund=D("198"), buyer_confirmed=True, reason="02") == (False, "02")


def test_failed_inspection_rejects_with_a_basis_and_gives_the_line_back(company: Company):
    order_no = company.order([(TEE, 1, "69.00")])
    case = _go(company, _open(company, order_no, "return_refund", [{"line_no": 1, "qty": 1}]), "approve", "receive")
    with pytest.raises(BusinessError):  # rejection is a key change: no basis, no step
        _go(company, case, "inspect", params={"passed": False})
    case = _go(company, case, "inspect", params={"passed": False}, basis="吊牌已剪、有穿着痕迹（验货照片 IMG_2231）")
    assert case.state == "rejected" and company.items(order_no)[0]["line_status"] == "normal"
    assert _invoices(company, order_no)[-1]["kind"] == "blue"  # nothing flushed


def test_returning_below_the_gift_threshold_brings_the_gift_back_too(company: Company):
    order_no = company.order([(TEE, 1, "69.00"), (HOODIE, 1, "260.00")], gift=True)  # ¥329 ≥ 299: socks
    case = _go(company, _open(company, order_no, "return_refund", [{"line_no": 1, "qty": 1}]), "approve")
    assert [ln.get("gift_return", False) for ln in case.lines] == [False, True]
    (notice,) = [n for n in outbox.listing(company.hub.uow(), topics=("cs.notice",))
                 if n["payload"].get("case_no") == case.case_no]
    assert notice["payload"]["message"] == "AS_CS_GIFT_RETURN" and notice["payload"]["params"]["remaining"] == "260.00"
    case = _go(company, case, "receive", "inspect", "refund")
    assert str(case.refund_amount) == "69.00"  # the gift is returned, not charged

    keeps = company.order([(TEE, 1, "69.00"), (HOODIE, 1, "300.00")], gift=True)  # keeps ¥300: still earned
    kept = _go(company, _open(company, keeps, "return_refund", [{"line_no": 1, "qty": 1}]), "approve")
    assert not any(ln.get("gift_return") for ln in kept.lines)


def test_near_expiry_goods_are_refunded_and_written_off_without_a_return_parcel(company: Company):
    order_no = company.order([(TEE, 2, "138.00")])
    company.stock(TEE, 4)
    soon = company.scalar("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date + 10")
    case = _open(company, order_no, "return_refund", [{"line_no": 1, "qty": 2, "best_before": str(soon)}])
    case = _go(company, case, "approve")
    assert case.state == "inspected"  # no awaiting_return, no receive
    case = _go(company, case, "refund")
    assert str(case.refund_amount) == "138.00" and company.free(TEE) == (4, 0)  # not restocked
    assert any(n["payload"]["message"] == "AS_CS_NEAR_EXPIRY" for n in outbox.listing(company.hub.uow(), topics=("cs.notice",)))


def test_refund_only_before_shipping_gives_the_reservation_back(company: Company):
    from app.domain.actor import Actor
    from app.services import routing
    order_no = company.order([(TEE, 1, "69.00"), (HOODIE, 1, "129.00")], status="paid", invoice=False)
    company.stock(TEE, 2)
    company.stock(HOODIE, 2)
    routing.route_order(company.hub.uow(), order_no, Actor("system:hub", "hub"))
    assert company.free(TEE) == (2, 1) and company.free(HOODIE) == (2, 1)
    case = _open(company, order_no, "refund_only", [{"line_no": 2, "qty": 1}])
    case = _go(company, case, "refund", basis="未发货，客户申请仅退款（抖店售后单 8812）")
    assert case.state == "refunded" and str(case.refund_amount) == "129.00"
    assert company.free(HOODIE) == (2, 0) and company.free(TEE) == (2, 1)  # only the refunded line let go
    assert company.scalar("SELECT status FROM orders WHERE order_no = :o", o=order_no) == "allocating"
    assert _go(company, case, "close").state == "closed"  # nothing to red-flush: no invoice


def test_reship_sends_the_missing_item_again_or_waits_for_stock(company: Company):
    order_no = company.order([(JEANS, 1, "109.00")])
    company.stock(JEANS, 0)
    case = _open(company, order_no, "reship", [{"line_no": 1, "qty": 1}])
    case = _go(company, case, "approve")
    assert case.state == "out_of_stock"
    assert len(outbox.listing(company.hub.uow(), topics=("procurement.alert",))) == 1
    company.stock(JEANS, 1)
    case = _go(company, case, "approve")
    assert case.state == "reshipped" and case.linked_order_no
    new = company.rows("SELECT status, items FROM orders WHERE order_no = :o", o=case.linked_order_no)[0]
    assert new["status"] == "allocating" and new["items"][0]["sku"] == JEANS
    assert company.free(JEANS) == (1, 1)
    assert _go(company, case, "close").state == "closed"


def test_first_response_median_against_the_112_second_target(company: Company):
    base = company.scalar("SELECT now()")
    for wait in (60, 100, 140):
        order_no = company.order([(TEE, 1, "69.00")])
        system = __import__("app.domain.actor", fromlist=["Actor"]).Actor("system:douyin", "hub")
        case = after_sales.open_case(company.hub.uow(), order_no, "refund_only", [{"line_no": 1}], actor=system,
                                     reason="平台售后申请", basis="抖店售后推送", requested_at=base)
        assert case.first_response_at is None  # the platform opened it: nobody has answered yet
        after_sales.respond(company.hub.uow(), case.case_no, CS, at=base + timedelta(seconds=wait))
    measured = after_sales.first_response(company.hub.uow(), since=base)
    assert measured.cases == 3 and measured.median_seconds == 100 and measured.met is True


def test_history_is_append_only(company: Company):
    order_no = company.order([(TEE, 1, "69.00")])
    _open(company, order_no, "return_refund", [{"line_no": 1}])
    with company.hub.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="append-only"):
        conn.execute(sa.text("UPDATE after_sales_events SET operator = 'someone'"))


@pytest.mark.parametrize("kind", ["exchange", "return_refund", "refund_only", "reship"])
def test_every_kind_can_be_rejected_at_the_request_with_a_basis_and_the_line_goes_back(company: Company, kind):
    order_no = company.order([(TEE, 1, "69.00")])
    line = {"line_no": 1, "qty": 1} | ({"new_size": "120"} if kind == "exchange" else {})
    case = _open(company, order_no, kind, [line])
    with pytest.raises(BusinessError):
        _go(company, case, "reject")  # a refusal is a key change: it needs its basis
    case = _go(company, case, "reject", basis="超过售后期限（签收后第 16 天）")
    assert case.state == "rejected" and case.allowed_steps == () and case.closed_at is not None
    assert company.items(order_no)[0]["line_status"] == "normal"
    assert company.scalar("SELECT status FROM orders WHERE order_no = :o", o=order_no) == "shipped"
    assert company.scalar("SELECT basis FROM after_sales_events e JOIN after_sales_cases c ON c.id = e.case_id "
                          "WHERE c.case_no = :c AND e.step = 'reject'", c=case.case_no) == "超过售后期限（签收后第 16 天）"


def test_an_exchange_closes_once_its_order_exists_and_the_original_goes_back(company: Company):
    order_no = company.order([(TEE, 1, "69.00")])
    company.stock("T2601-01-120", 1)
    case = _go(company, _open(company, order_no, "exchange", [{"line_no": 1, "new_size": "120"}]), "check_stock")
    closed = _go(company, case, "close")
    assert closed.state == "closed" and closed.allowed_steps == ()
    assert company.scalar("SELECT status FROM orders WHERE order_no = :o", o=order_no) == "shipped"
    assert company.items(order_no)[0]["line_status"] == "exchanged"


def test_refund_only_after_shipping_red_flushes_as_a_sales_allowance(company: Company):
    order_no = company.order([(TEE, 1, "69.00"), (HOODIE, 1, "129.00")], buyer_confirmed=True)
    case = _go(company, _open(company, order_no, "refund_only", [{"line_no": 1}]), "refund", basis="少发一件，协商仅退款")
    (conf,) = case.red_letters
    assert conf["state"] == "02" and conf["partial"] is True  # 销售折让 (04) may be partial once the buyer confirmed
    assert company.scalar("SELECT reason FROM red_letter_confirmations WHERE confirm_no = :c", c=conf["confirm_no"]) == "04"
    red_letter.move(company.hub.uow(), conf["confirm_no"], "05", CS, basis="购方否认")
    case = after_sales.case(company.hub.uow(), case.case_no)
    assert case.allowed_steps == ("redo_red_flush",)
    assert _go(company, case, "redo_red_flush").red_letters[-1]["state"] == "02"
