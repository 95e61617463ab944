"""The after-sales flow decides a refund; the platform's answer is queued with that step (issue #15)."""

from __future__ import annotations

import sqlalchemy as sa

from app.services import after_sales
from tests.after_sales.conftest import CS, PHONE, Company

TEE = "T2601-01-110"


def _with_platform_lines(company: Company, order_no: str) -> None:
    with company.hub.uow() as uow:
        uow.session.execute(sa.text(
            "UPDATE orders SET items = (SELECT jsonb_agg(i || jsonb_build_object('platform_line_id', 'L' || (i->>'line_no')))"
            " FROM jsonb_array_elements(items) i) WHERE order_no = :o"), {"o": order_no})
        uow.commit()


def _answers(company: Company) -> list[dict]:
    with company.hub.uow() as uow:
        return [r[0] for r in uow.session.execute(sa.text(
            "SELECT payload FROM outbox WHERE topic = 'platform.refund' ORDER BY id"))]


def test_a_refund_step_queues_the_platforms_agree_in_the_same_step(company: Company):
    order_no = company.order([(TEE, 1, "69.00")], status="paid", invoice=False)
    _with_platform_lines(company, order_no)
    case = after_sales.open_case(company.hub.uow(), order_no, "refund_only", [{"line_no": 1}], actor=CS,
                                 reason="不想要了", contact_phone=PHONE)
    assert _answers(company) == []
    after_sales.step(company.hub.uow(), case.case_no, "refund", expected_version=case.version, actor=CS,
                     basis="客户申请仅退款（抖店售后单 8812）")
    [answer] = _answers(company)
    assert (answer["agree"], answer["line_id"], answer["amount_fen"], answer["order_no"]) == (True, "L1", 6900, order_no)


def test_a_rejected_refund_queues_the_platforms_refusal_with_the_basis(company: Company):
    order_no = company.order([(TEE, 1, "69.00")], status="paid", invoice=False)
    _with_platform_lines(company, order_no)
    case = after_sales.open_case(company.hub.uow(), order_no, "refund_only", [{"line_no": 1}], actor=CS,
                                 reason="不想要了", contact_phone=PHONE)
    after_sales.step(company.hub.uow(), case.case_no, "reject", expected_version=case.version, actor=CS,
                     basis="商品已使用，不符合退款条件")
    [answer] = _answers(company)
    assert answer["agree"] is False and answer["reason"] == "商品已使用，不符合退款条件"
