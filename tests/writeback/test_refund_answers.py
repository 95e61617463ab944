"""After-sales answers to the platforms: agree / refuse a buyer's refund through the outbox, checked by the simulators."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db.models import Order
from app.hub.writeback_dispatch import dispatch_refunds
from app.services import writeback
from connectors.simulators import pdd_writes


def _decide(hub, order_no, agree, reason=""):
    with hub.uow() as uow:
        order = uow.session.execute(sa.select(Order).where(Order.order_no == order_no)).scalar_one()
        writeback.on_refund_decided(uow.session, order, "AS-T-1", 1, [{"line_no": 1, "paid": order.items[0]["paid"]}],
                                    agree=agree, reason=reason)
        uow.commit()


@pytest.mark.parametrize("platform, call", [("taobao", "taobao.rp.refunds.agree"),
                                            ("wechat", "/channels/ec/aftersale/acceptapply"),
                                            ("douyin", "afterSale.operate")])
def test_an_agreed_refund_reaches_the_platform_and_the_next_pull_sees_the_line_refunded(hub, channel, platform, call):
    ch = channel(platform)
    sim, order_no = ch.take_order()
    ch.world.request_refund(sim.order_id, 0)
    _decide(hub, order_no, True)
    report = dispatch_refunds(hub, ch.connector_for)
    assert report.sent == 1
    assert ch.world.orders[sim.order_id].lines[0].refund == "refunded"
    assert writeback.attempts(hub.uow(), order_no)[-1]["call"] == call
    connector = ch.connector()
    line = connector.normalise(connector.fetch(sim.order_id)).lines[0]
    assert line.line_status == "refunded"


@pytest.mark.parametrize("platform, call", [("taobao", "taobao.refund.refuse"),
                                            ("wechat", "/channels/ec/aftersale/rejectapply"),
                                            ("douyin", "afterSale.operate")])
def test_a_refused_refund_reaches_the_platform_with_its_reason(hub, channel, platform, call):
    ch = channel(platform)
    sim, order_no = ch.take_order()
    ch.world.request_refund(sim.order_id, 0)
    _decide(hub, order_no, False, reason="商品已拆封影响二次销售")
    assert dispatch_refunds(hub, ch.connector_for).sent == 1
    assert ch.world.orders[sim.order_id].lines[0].refund == "none"
    assert writeback.attempts(hub.uow(), order_no)[-1]["call"] == call
    if platform == "taobao":
        refuse = next(c for c in ch.sim.calls if c["method"] == "taobao.refund.refuse")
        assert refuse["refuse_message"] == "商品已拆封影响二次销售"


def test_an_answer_to_a_refund_the_platform_no_longer_has_is_refused_in_words_and_customer_service_told(hub, channel):
    ch = channel("taobao")
    sim, order_no = ch.take_order()
    _decide(hub, order_no, True)  # no refund was ever requested on the platform
    assert dispatch_refunds(hub, ch.connector_for).failed == 1
    attempt = writeback.attempts(hub.uow(), order_no)[-1]
    assert attempt["outcome"] == "refused" and "找不到这条商品的退款单" in attempt["message"]
    with hub.uow() as uow:
        assert uow.session.scalar(sa.text("SELECT payload->>'message' FROM outbox WHERE topic = 'cs.notice'")) \
            == "WB_CS_REFUSED"


def test_a_pdd_refusal_has_no_public_api_and_is_refused_in_words_not_guessed(hub, channel):
    ch = channel("pdd")
    sim, order_no = ch.take_order()
    ch.world.request_refund(sim.order_id, 0)
    _decide(hub, order_no, False)
    assert dispatch_refunds(hub, ch.connector_for).failed == 1
    attempt = writeback.attempts(hub.uow(), order_no)[-1]
    after_sale = pdd_writes.refund_id(sim.lines[0].line_id)
    assert attempt["code"] == "pdd-no-refuse-api" and "商家后台" in attempt["message"] and after_sale in attempt["message"]
    assert ch.world.orders[sim.order_id].lines[0].refund == "requested"
    assert not [c for c in ch.sim_calls() if "agree" in c]  # nothing pretended on the platform
    with hub.uow() as uow:
        assert uow.session.scalar(sa.text("SELECT payload->>'message' FROM outbox WHERE topic = 'cs.notice'")) \
            == "WB_CS_REFUSED"


@pytest.mark.parametrize("kind, call, after", [("refund", "pdd.refund.agree", "refunded"),
                                               ("return", "pdd.refund.returngoods.agree", "return_agreed")])
def test_a_pdd_agree_finds_the_after_sale_by_order_and_uses_the_call_its_kind_needs(hub, channel, kind, call, after):
    ch = channel("pdd")
    sim, order_no = ch.take_order()
    ch.world.request_refund(sim.order_id, 0, kind=kind)
    _decide(hub, order_no, True)
    assert dispatch_refunds(hub, ch.connector_for).sent == 1
    attempt = writeback.attempts(hub.uow(), order_no)[-1]
    assert (attempt["call"], attempt["code"]) == (call, pdd_writes.refund_id(sim.lines[0].line_id))
    assert ch.world.orders[sim.order_id].lines[0].refund == after
    connector = ch.connector()
    assert connector.normalise(connector.fetch(sim.order_id)).lines[0].line_status == \
        ("refunded" if after == "refunded" else "refunding")
    connector.close()


def test_a_pdd_agree_whose_answer_was_lost_is_seen_done_on_the_platform_and_not_sent_again(hub, channel):
    ch = channel("pdd")
    sim, order_no = ch.take_order()
    ch.world.request_refund(sim.order_id, 0)
    _decide(hub, order_no, True)
    ch.world.faults.lost_answer_next = 1
    assert dispatch_refunds(hub, ch.connector_for).retry == 1
    with hub.uow() as uow:
        uow.session.execute(sa.text("UPDATE outbox SET next_attempt_at = now() WHERE status = 'pending'"))
        uow.commit()
    assert dispatch_refunds(hub, ch.connector_for).already == 1
    assert ch.sim_calls().count("pdd.refund.agree") == 1
    assert writeback.attempts(hub.uow(), order_no)[-1]["outcome"] == "already"


def test_a_pdd_answer_for_an_order_without_an_open_after_sale_is_refused_in_words(hub, channel):
    ch = channel("pdd")
    sim, order_no = ch.take_order()
    _decide(hub, order_no, True)
    assert dispatch_refunds(hub, ch.connector_for).failed == 1
    assert "找不到" in writeback.attempts(hub.uow(), order_no)[-1]["message"]


def test_a_refund_answer_whose_answer_was_lost_is_not_applied_twice(hub, channel):
    ch = channel("taobao")
    sim, order_no = ch.take_order()
    ch.world.request_refund(sim.order_id, 0)
    _decide(hub, order_no, True)
    ch.world.faults.lost_answer_next = 1
    assert dispatch_refunds(hub, ch.connector_for).retry == 1
    with hub.uow() as uow:
        uow.session.execute(sa.text("UPDATE outbox SET next_attempt_at = now() WHERE status = 'pending'"))
        uow.commit()
    assert dispatch_refunds(hub, ch.connector_for).sent == 1  # TOP answers the same agree again as done
    refunds = [c for c in ch.sim.calls if c["method"] == "taobao.rp.refunds.agree"]
    assert len(refunds) == 2 and ch.world.orders[sim.order_id].lines[0].refund == "refunded"


def test_a_second_enqueue_of_the_same_event_is_ignored_and_says_so(hub):
    from app.services import outbox
    with hub.uow() as uow:
        first = outbox.enqueue(uow.session, "platform.refund", "refund:AS-X:1:L1", {"n": 1})
        again = outbox.enqueue(uow.session, "platform.refund", "refund:AS-X:1:L1", {"n": 2})
        uow.commit()
    assert (first, again) == (True, False)
    with hub.uow() as uow:
        assert uow.session.execute(sa.text("SELECT payload->>'n' FROM outbox")).scalars().all() == ["1"]
