"""拦截件 after a cancel or refund once shipped, through the carrier's API; parcels that stop moving flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.domain.actor import Actor
from app.hub.carrier_dispatch import dispatch_intercepts, dispatch_subscriptions
from app.services import tracking, writeback

CS = Actor("xiaomei", "客服工作台-01", "10.20.1.17")  # 客服: may cancel, so may stop the parcels


def _watch(hub, tracking_no):
    with hub.uow() as uow:
        return uow.session.execute(sa.text(
            "SELECT w.intercept_state, w.intercept_message FROM shipment_watch w JOIN shipments s ON s.id = w.shipment_id"
            " WHERE s.tracking_no = :t"), {"t": tracking_no}).one()


def _notices(hub):
    with hub.uow() as uow:
        return [r[0] for r in uow.session.execute(sa.text(
            "SELECT payload FROM outbox WHERE topic = 'cs.notice' ORDER BY id"))]


def test_an_sf_parcel_of_a_cancelled_order_is_intercepted_through_sf_and_the_result_is_on_the_order(hub, carriers):
    order_no = carriers.shipped_order("SF1600000000001")
    carriers.sf_sim.advance("SF1600000000001", 2)
    assert writeback.intercept_for_order(hub.uow(), order_no, CS) == 1
    assert _watch(hub, "SF1600000000001")[0] == "requested"
    report = dispatch_intercepts(hub, carriers.sf)
    assert report.intercepted == 1 and carriers.sf_sim.intercepts == ["SF1600000000001"]
    assert _watch(hub, "SF1600000000001") == ("succeeded", "拦截成功，快件将退回寄件人")
    attempt = writeback.attempts(hub.uow(), order_no)[-1]
    assert (attempt["kind"], attempt["call"], attempt["outcome"]) == ("intercept", "EXP_RECE_WANTED_INTERCEPT", "done")
    assert _notices(hub)[-1]["message"] == "LOGI_INTERCEPT_SUCCEEDED"
    assert carriers.road.advance("SF1600000000001") == []  # it moves no further towards the buyer


def test_a_delivered_parcel_cannot_be_intercepted_and_the_order_says_so(hub, carriers):
    order_no = carriers.shipped_order("SF1600000000002")
    carriers.road.parcel("SF1600000000002")
    carriers.road.advance("SF1600000000002", 6)  # delivered before anyone asked
    writeback.intercept_for_order(hub.uow(), order_no, CS)
    assert dispatch_intercepts(hub, carriers.sf).failed == 1
    state, message = _watch(hub, "SF1600000000002")
    assert state == "failed" and "已签收" in message


def test_carriers_without_an_interception_api_are_marked_for_a_phone_call(hub, carriers):
    order_no = carriers.shipped_order("YT7800000000001", "圆通速递")
    writeback.intercept_for_order(hub.uow(), order_no, CS)
    dispatch_intercepts(hub, carriers.sf)
    state, message = _watch(hub, "YT7800000000001")
    assert state == "unsupported" and "圆通速递 没有可用的拦截接口" in message


def test_a_parcel_without_movement_for_n_hours_is_flagged_once_for_customer_service(hub, carriers):
    carriers.shipped_order("YT7800000000002", "圆通速递", shipped_hours_ago=30)
    carriers.shipped_order("YT7800000000003", "圆通速递", shipped_hours_ago=1)
    now = datetime.now(UTC)
    assert tracking.flag_still(hub.uow(), hours=24, now=now) == ["YT7800000000002"]
    assert tracking.flag_still(hub.uow(), hours=24, now=now + timedelta(minutes=5)) == []  # once, not every sweep
    notice = _notices(hub)[-1]
    assert notice["message"] == "LOGI_STILL" and notice["params"]["hours"] == 30


def test_a_parcel_that_moves_again_can_be_flagged_again_later(hub, carriers):
    carriers.shipped_order("YT7800000000004", "圆通速递", shipped_hours_ago=30)
    dispatch_subscriptions(hub, carriers.kd100)
    assert tracking.flag_still(hub.uow(), hours=24, now=datetime.now(UTC)) == ["YT7800000000004"]
    carriers.kd100_sim.advance("YT7800000000004")  # its first node: stamped now
    assert tracking.flag_still(hub.uow(), hours=24, now=datetime.now(UTC)) == []
    later = datetime.now(UTC) + timedelta(hours=25)
    assert tracking.flag_still(hub.uow(), hours=24, now=later) == ["YT7800000000004"]


def test_parcels_already_on_the_road_are_subscribed_and_watched_once(hub, carriers):
    carriers.shipped_order("YT7800000000005", "圆通速递", shipped_hours_ago=50)
    with hub.uow() as uow:  # as imported or seeded: no subscription, no watch
        uow.session.execute(sa.text("DELETE FROM outbox"))
        uow.session.execute(sa.text("DELETE FROM shipment_watch"))
        uow.commit()
    assert writeback.subscribe_open_parcels(hub.uow()) == 1
    assert writeback.subscribe_open_parcels(hub.uow()) == 0
    assert dispatch_subscriptions(hub, carriers.kd100).subscribed == 1
    assert tracking.flag_still(hub.uow(), hours=48, now=datetime.now(UTC)) == ["YT7800000000005"]
