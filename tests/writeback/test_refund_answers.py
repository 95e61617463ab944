"""After-sales answers to the platforms: agree / refuse a buyer's refund through the outbox, checked by the simulators."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db.models import Order
from app.hub.writeback_dispatch import dispatch_refunds
from app.services import writeback


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
    assert "商家后台" in writeback.attempts(hub.uow(), order_no)[-1]["message"]
    assert ch.world.orders[sim.order_id].lines[0].refund == "requested"


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
