"""Ship confirmations (发货回传) from the outbox to each platform's simulator: every call and every answer."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from app.hub.writeback_dispatch import dispatch_ship
from app.services import writeback

def _outbox(hub, key):
    with hub.uow() as uow:
        return uow.session.execute(sa.text("SELECT status, attempts, last_error FROM outbox WHERE dedupe_key = :k"),
                                   {"k": key}).one()


def _due_now(hub):
    """Make every queued write-back due (the backoff is the outbox's, tested there)."""
    with hub.uow() as uow:
        uow.session.execute(sa.text("UPDATE outbox SET next_attempt_at = now() - interval '1 second'"
                                    " WHERE status = 'pending'"))
        uow.commit()


@pytest.mark.parametrize("platform, call", [
    ("taobao", "taobao.logistics.offline.send"), ("tmall", "taobao.logistics.offline.send"),
    ("douyin", "order.logisticsAdd"), ("pdd", "pdd.logistics.online.send"),
    ("wechat", "/channels/ec/order/delivery/send")])
def test_a_shipped_order_is_confirmed_to_its_platform_and_the_next_pull_sees_it_shipped(hub, channel, platform, call):
    ch = channel(platform)
    sim, order_no = ch.take_order()
    ch.ship(order_no, "SF1400000000001")
    report = dispatch_ship(hub, ch.connector_for)
    assert (report.sent, report.failed, report.retry) == (1, 0, 0)
    assert ch.world.orders[sim.order_id].status == "shipped"
    assert ch.world.shipments_applied == [(sim.order_id, "SF1400000000001")]
    assert _outbox(hub, "ship:SF1400000000001")[0] == "sent"
    [attempt] = writeback.attempts(hub.uow(), order_no)
    assert (attempt["kind"], attempt["call"], attempt["outcome"]) == ("ship", call, "done")
    connector = ch.connector()
    assert connector.normalise(connector.fetch(sim.order_id)).status.value == "shipped"


@pytest.mark.parametrize("platform, carrier_code", [("taobao", "SF"), ("douyin", "shunfeng"), ("pdd", "44"),
                                                    ("wechat", "SF")])
def test_the_carrier_goes_out_as_the_platforms_own_code_from_the_one_carrier_table(hub, channel, platform, carrier_code):
    ch = channel(platform)
    _, order_no = ch.take_order()
    ch.ship(order_no, "SF1400000000002")
    dispatch_ship(hub, ch.connector_for)
    bodies = [r.body.decode() + str(r.query) for r in ch.server.requests]
    assert any(carrier_code in b and "SF1400000000002" in b for b in bodies)


def test_an_unknown_carrier_is_refused_before_anything_is_sent_in_words(hub, channel):
    ch = channel("douyin")
    _, order_no = ch.take_order()
    ch.server.requests.clear()
    ch.ship(order_no, "ZZ9900000001", carrier="其他快递")
    report = dispatch_ship(hub, ch.connector_for)
    assert report.failed == 1 and ch.server.requests == []
    [attempt] = writeback.attempts(hub.uow(), order_no)
    assert attempt["outcome"] == "refused"
    assert "承运商「其他快递」在承运商表里没有抖店的物流公司编码" in attempt["message"]
    assert _outbox(hub, "ship:ZZ9900000001")[0] == "failed"


@pytest.mark.parametrize("platform", ["taobao", "douyin", "pdd", "wechat"])
def test_a_lost_answer_after_the_platform_shipped_is_not_shipped_twice(hub, channel, platform):
    ch = channel(platform)
    sim, order_no = ch.take_order()
    ch.ship(order_no, "SF1400000000003")
    ch.world.faults.lost_answer_next = 1
    first = dispatch_ship(hub, ch.connector_for)
    assert first.retry == 1 and ch.world.orders[sim.order_id].status == "shipped"
    _due_now(hub)
    second = dispatch_ship(hub, ch.connector_for)
    assert second.already == 1
    assert ch.world.shipments_applied == [(sim.order_id, "SF1400000000003")]  # applied once, never twice
    outcomes = [(a["call"], a["outcome"]) for a in writeback.attempts(hub.uow(), order_no)]
    assert outcomes[0][1] == "retry" and outcomes[-1] == ("查询平台订单", "already")
    assert _outbox(hub, "ship:SF1400000000003")[:2] == ("sent", 2)


@pytest.mark.parametrize("platform", ["taobao", "douyin", "wechat", "pdd"])
def test_the_platforms_already_shipped_answer_counts_as_success(hub, channel, platform):
    ch = channel(platform)
    sim, order_no = ch.take_order()
    ch.world.confirm_shipment(sim.order_id, "SF1400000000004", "顺丰速运")  # shipped by hand in the platform's backend
    ch.ship(order_no, "SF1400000000004")
    report = dispatch_ship(hub, ch.connector_for)
    assert report.already + report.sent == 1 and report.failed == 0
    assert writeback.attempts(hub.uow(), order_no)[-1]["outcome"] == "already"


@pytest.mark.parametrize("platform", ["taobao", "douyin", "pdd", "wechat"])
def test_a_refund_racing_the_ship_confirmation_stops_the_parcel_and_tells_customer_service(hub, channel, platform):
    ch = channel(platform)
    sim, order_no = ch.take_order()
    ch.ship(order_no, "SF1400000000005")
    ch.world.cancel(sim.order_id)  # the buyer's refund went through on the platform meanwhile
    report = dispatch_ship(hub, ch.connector_for)
    assert report.failed == 1 and ch.world.shipments_applied == []
    attempt = writeback.attempts(hub.uow(), order_no)[-1]
    assert attempt["outcome"] == "stopped"
    with hub.uow() as uow:
        notice = uow.session.execute(sa.text("SELECT payload FROM outbox WHERE topic = 'cs.notice'")).scalar_one()
        watch = uow.session.execute(sa.text("SELECT intercept_state FROM shipment_watch")).scalar_one()
        intercept = uow.session.execute(sa.text("SELECT dedupe_key FROM outbox WHERE topic = 'carrier.intercept'")).scalar_one()
    assert notice["message"] in ("WB_CS_CANCELLED", "WB_CS_REFUNDED") and notice["params"]["tracking_no"] == "SF1400000000005"
    assert (watch, intercept) == ("requested", "intercept:SF1400000000005")


@pytest.mark.parametrize("platform", ["douyin", "wechat", "taobao"])
def test_a_refund_waiting_for_the_seller_holds_the_confirmation_for_customer_service(hub, channel, platform):
    ch = channel(platform)
    sim, order_no = ch.take_order()
    ch.ship(order_no, "SF1400000000006")
    ch.world.request_refund(sim.order_id)
    report = dispatch_ship(hub, ch.connector_for)
    assert report.failed == 1 and ch.world.shipments_applied == []
    assert writeback.attempts(hub.uow(), order_no)[-1]["outcome"] == "refund_pending"


@pytest.mark.parametrize("platform, fault", [("taobao", "rate_limit_next"), ("douyin", "rate_limit_next"),
                                             ("pdd", "error_5xx_next"), ("wechat", "error_5xx_next")])
def test_rate_limits_and_outages_go_back_in_the_queue_with_backoff_and_then_get_through(hub, channel, platform, fault):
    ch = channel(platform)
    sim, order_no = ch.take_order()
    ch.ship(order_no, "SF1400000000007")
    setattr(ch.world.faults, fault, 1)
    assert dispatch_ship(hub, ch.connector_for).retry == 1
    status, attempts, error = _outbox(hub, "ship:SF1400000000007")
    assert (status, attempts) == ("pending", 1) and error
    assert dispatch_ship(hub, ch.connector_for).sent == 0  # not due yet: backing off
    _due_now(hub)
    time.sleep(1.05)  # the platform's one-second ban is over by the retry
    assert dispatch_ship(hub, ch.connector_for).sent == 1
    assert ch.world.orders[sim.order_id].status == "shipped"
    assert [a["outcome"] for a in writeback.attempts(hub.uow(), order_no)] == ["retry", "done"]


def test_a_split_parcel_on_douyin_goes_out_as_a_multi_pack_with_its_sub_orders(hub, channel):
    ch = channel("douyin")
    sim, order_no = ch.take_order(lines=2)
    first = (sim.lines[0].line_id,)
    ch.ship(order_no, "SF1400000000008", line_ids=first)
    assert dispatch_ship(hub, ch.connector_for).sent == 1
    assert writeback.attempts(hub.uow(), order_no)[-1]["call"] == "order.logisticsAddMultiPack"
    shipped = {ln.line_id: ln.shipped_in for ln in ch.world.orders[sim.order_id].lines}
    assert shipped[first[0]] == "SF1400000000008" and list(shipped.values()).count(None) == len(sim.lines) - 1


def test_a_split_parcel_on_taobao_names_its_sub_orders(hub, channel):
    ch = channel("taobao")
    sim, order_no = ch.take_order(lines=2)
    ch.ship(order_no, "SF1400000000009", line_ids=(sim.lines[0].line_id,))
    assert dispatch_ship(hub, ch.connector_for).sent == 1
    call = next(r for r in ch.sim.calls if r["method"] == "taobao.logistics.offline.send")
    assert (call["sub_tid"], call["is_split"]) == (sim.lines[0].line_id, "1")


def test_a_store_pos_sale_has_nothing_to_send_and_says_so(hub, channel):
    from app.db.models import Order, Shipment, Shop
    with hub.uow() as uow:
        s = uow.session
        shop = Shop(code="POS-1", name="杭州门店", platform="pos")
        s.add(shop)
        s.flush()
        order = Order(order_no="OHPOS0001", platform="pos", platform_order_no="POS-0001", shop_id=shop.id,
                      ordered_at=sa.func.now(), customer_id="walk-in", items=[], original_amount=0, paid_amount=0,
                      status="shipped")
        s.add(order)
        s.flush()
        shipment = Shipment(order_id=order.id, carrier="顺丰速运", tracking_no="SF1400000000010", status="created")
        s.add(shipment)
        s.flush()
        writeback.on_shipped(s, order, shipment)
        uow.commit()
    [attempt] = writeback.attempts(hub.uow(), "OHPOS0001")
    assert attempt["outcome"] == "nothing" and "门店POS" in attempt["message"]
    with hub.uow() as uow:
        assert uow.session.scalar(sa.text("SELECT count(*) FROM outbox WHERE topic = 'platform.ship'")) == 0


def test_a_taobao_shop_printing_cainiao_e_sheets_confirms_with_online_send(hub, channel):
    ch = channel("taobao")
    with hub.uow() as uow:
        uow.session.execute(sa.text("UPDATE shops SET settings = '{\"cainiao_esheet\": true}' WHERE id = :s"),
                            {"s": ch.shop.id})
        uow.commit()
    sim, order_no = ch.take_order()
    ch.ship(order_no, "SF1400000000011")
    assert dispatch_ship(hub, ch.connector_for).sent == 1
    assert writeback.attempts(hub.uow(), order_no)[-1]["call"] == "taobao.logistics.online.send"
    assert ch.world.orders[sim.order_id].status == "shipped"
