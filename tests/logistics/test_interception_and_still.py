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
    dispatch_intercepts(hub, carriers.sf, kd100=_with_interception(carriers))
    state, message = _watch(hub, "YT7800000000001")
    assert state == "unsupported" and "圆通速递 没有可用的拦截接口" in message and "致电" in message
    attempt = writeback.attempts(hub.uow(), order_no)[-1]
    assert (attempt["kind"], attempt["outcome"]) == ("intercept", "refused") and "致电" in attempt["message"]
    notice = _notices(hub)[-1]
    assert notice["message"] == "LOGI_INTERCEPT_UNSUPPORTED_CS" and "致电" in notice["params"]["detail"]


def _with_interception(carriers, **partners):
    """The 快递100 account with its enterprise secret (and the shop's carrier accounts) as the hub holds it."""
    from connectors.kuaidi100 import Kuaidi100

    kd = carriers.kd100
    return Kuaidi100(kd.base_url, kd.key, kd.salt, kd.callback_url, label_url=kd.base_url,
                     label_secret=carriers.kd100_sim.secret, partners=partners)


def test_a_jd_parcel_is_intercepted_through_kuaidi100_signed_and_waits_for_the_carriers_word(hub, carriers):
    order_no = carriers.shipped_order("JDV000000000101", "京东物流")
    carriers.road.parcel("JDV000000000101")
    writeback.intercept_for_order(hub.uow(), order_no, CS)
    kd = _with_interception(carriers, jd="JD-SHOP-0571")
    carriers.kd100_sim.results_released.clear()  # the carrier's result push comes later (test_kuaidi100_intercept_result)
    report = dispatch_intercepts(hub, carriers.sf, kd100=kd)
    assert report.intercepted == 1 and carriers.kd100_sim.intercepts == ["JDV000000000101"]
    state, message = _watch(hub, "JDV000000000101")
    assert state == "accepted" and "快递100已受理" in message  # accepted, not pretended intercepted
    attempt = writeback.attempts(hub.uow(), order_no)[-1]
    assert (attempt["call"], attempt["outcome"]) == ("kuaidi100 interceptOrder", "done")
    assert _notices(hub)[-1]["message"] == "LOGI_INTERCEPT_ACCEPTED"
    assert carriers.road.advance("JDV000000000101") == []  # the simulated carrier holds it
    carriers.kd100_sim.results_released.set()
    carriers.kd100_sim.wait_results()
    kd.close()


def test_a_kuaidi100_interception_with_a_wrong_secret_or_no_account_is_refused_in_words(hub, carriers):
    from connectors.kuaidi100 import Kuaidi100

    first = carriers.shipped_order("JDV000000000102", "京东物流")
    carriers.road.parcel("JDV000000000102")
    writeback.intercept_for_order(hub.uow(), first, CS)
    no_account = _with_interception(carriers)  # no partner_jd: 京东 needs the shop's 商家编码
    assert dispatch_intercepts(hub, carriers.sf, kd100=no_account).failed == 1
    state, message = _watch(hub, "JDV000000000102")
    assert state == "unsupported" and "partner_jd" in message and "致电" in message
    second = carriers.shipped_order("JDV000000000103", "京东物流")
    carriers.road.parcel("JDV000000000103")
    writeback.intercept_for_order(hub.uow(), second, CS)
    kd = carriers.kd100
    forged = Kuaidi100(kd.base_url, kd.key, kd.salt, kd.callback_url, label_url=kd.base_url, label_secret="wrong",
                       partners={"jd": "JD-SHOP-0571"})
    assert dispatch_intercepts(hub, carriers.sf, kd100=forged).failed == 1
    state, message = _watch(hub, "JDV000000000103")
    assert state == "failed" and "签名" in message and carriers.kd100_sim.intercepts == []
    for client in (no_account, forged):
        client.close()


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


def test_a_carrier_given_its_own_still_limit_is_flagged_on_it_and_the_rest_on_the_default(hub, carriers):
    from app.domain import clock
    from app.domain.carriers import still_limits

    carriers.shipped_order("SF7800000000011", "顺丰速运", shipped_hours_ago=1)
    carriers.shipped_order("YT7800000000012", "圆通速递", shipped_hours_ago=1)
    limits, unread = still_limits(48, "sf=24, 不存在的快递=5, jd=abc")
    assert limits.by_carrier == {"sf": 24.0} and unread == ["不存在的快递=5", "jd=abc"]
    start = datetime.now(UTC)
    with clock.set_to(start + timedelta(hours=30)):  # the business clock moves on, not the machine's
        assert tracking.flag_still(hub.uow(), hours=limits, now=clock.now()) == ["SF7800000000011"]
    with clock.set_to(start + timedelta(hours=50)):
        assert tracking.flag_still(hub.uow(), hours=limits, now=clock.now()) == ["YT7800000000012"]


def test_the_still_limits_are_settings_read_from_the_config_file_and_the_environment(tmp_path):
    from app.settings import load_settings

    config = tmp_path / "config.toml"
    config.write_text('[orderhub]\nstill_hours = 36\nstill_hours_by_carrier = "jd=72"\n', encoding="utf-8")
    read = load_settings({}, config)
    assert (read.still_hours, read.still_hours_by_carrier) == (36, "jd=72")
    env = load_settings({"ORDERHUB_STILL_HOURS": "12.5", "ORDERHUB_STILL_HOURS_BY_CARRIER": "顺丰=6"}, config)
    assert (env.still_hours, env.still_hours_by_carrier) == (12.5, "顺丰=6")
