"""Carrier tracking over real HTTP: 快递100 subscriptions and signed pushes, 顺丰 route pushes, into the shipment."""

from __future__ import annotations

import json
import requests
import sqlalchemy as sa

from app.hub.carrier_dispatch import dispatch_subscriptions
from app.services import writeback
from connectors import kuaidi100, sf_express


def _nodes(hub, tracking_no):
    with hub.uow() as uow:
        return [dict(r) for r in uow.session.execute(sa.text(
            "SELECT t.* FROM tracking_events t JOIN shipments s ON s.id = t.shipment_id WHERE s.tracking_no = :t"
            " ORDER BY t.occurred_at"), {"t": tracking_no}).mappings()]


def _one(hub, sql, **params):
    with hub.uow() as uow:
        return uow.session.execute(sa.text(sql), params).one()


def test_a_shipped_parcel_is_subscribed_at_kuaidi100_and_its_pushes_land_on_the_shipment(hub, carriers):
    order_no = carriers.shipped_order("YT7700000000001", "圆通速递")
    report = dispatch_subscriptions(hub, carriers.kd100)
    assert report.subscribed == 1 and "YT7700000000001" in carriers.kd100_sim.subscriptions
    assert carriers.kd100_sim.subscriptions["YT7700000000001"].company == "yuantong"
    assert carriers.kd100_sim.advance("YT7700000000001", 2) == 200
    number, status, reply = carriers.kd100_sim.pushes[-1]
    assert (number, status) == ("YT7700000000001", 200)
    assert json.loads(reply) == {"result": True, "returnCode": "200", "message": "成功"}  # exactly what 快递100 wants
    nodes = _nodes(hub, "YT7700000000001")
    assert [n["location"] for n in nodes] == ["杭州市", "杭州转运中心"]
    assert all(n["lon"] is not None and n["lat"] is not None for n in nodes)
    assert _one(hub, "SELECT status FROM shipments WHERE tracking_no = 'YT7700000000001'")[0] == "in_transit"
    assert [a["kind"] for a in writeback.attempts(hub.uow(), order_no)] == ["subscribe"]


def test_the_courier_on_the_delivering_node_comes_with_name_and_phone_and_delivery_completes_the_order(hub, carriers):
    order_no = carriers.shipped_order("YT7700000000002", "圆通速递")
    dispatch_subscriptions(hub, carriers.kd100)
    carriers.kd100_sim.advance("YT7700000000002", 5)
    delivering = _nodes(hub, "YT7700000000002")[-1]
    assert delivering["description"].startswith("【") and delivering["courier_name"] and delivering["courier_phone"]
    assert _one(hub, "SELECT status FROM orders WHERE order_no = :n", n=order_no)[0] == "shipped"
    carriers.kd100_sim.advance("YT7700000000002")
    assert _one(hub, "SELECT status, delivered_at IS NOT NULL FROM shipments WHERE tracking_no = 'YT7700000000002'") \
        == ("delivered", True)
    assert _one(hub, "SELECT status FROM orders WHERE order_no = :n", n=order_no)[0] == "completed"


def test_a_push_repeated_or_overlapping_adds_no_node_twice(hub, carriers):
    carriers.shipped_order("YT7700000000003", "圆通速递")
    dispatch_subscriptions(hub, carriers.kd100)
    carriers.kd100_sim.advance("YT7700000000003", 3)
    carriers.kd100_sim.push("YT7700000000003")  # 快递100 pushes the whole history again
    assert len(_nodes(hub, "YT7700000000003")) == 3
    assert _one(hub, "SELECT count(*) FROM carrier_pushes WHERE accepted")[0] == 2


def test_a_kuaidi100_push_with_a_wrong_signature_is_refused_recorded_and_not_applied(hub, carriers):
    carriers.shipped_order("YT7700000000004", "圆通速递")
    dispatch_subscriptions(hub, carriers.kd100)
    carriers.road.advance("YT7700000000004", 2)
    status = carriers.kd100_sim.push("YT7700000000004", salt="not-our-salt")
    assert status == 401
    assert json.loads(carriers.kd100_sim.pushes[-1][2])["result"] is False  # so 快递100 knows it failed
    assert _nodes(hub, "YT7700000000004") == []
    accepted, reason = _one(hub, "SELECT bool_or(accepted), max(reason) FROM carrier_pushes")
    assert accepted is False and "签名不正确" in reason


def test_an_unreadable_push_is_refused_in_words_and_recorded(hub, carriers):
    answer = requests.post(f"{carriers.receiver.url}/carrier/kuaidi100", data={"param": "{broken", "sign": "x"})
    assert answer.status_code == 401
    answer = requests.post(f"{carriers.receiver.url}/carrier/sf", data=b"\xff\xfe", timeout=5)
    assert answer.status_code == 401 and json.loads(answer.content) == {"return_code": "1000", "return_msg": "系统异常"}
    assert _one(hub, "SELECT count(*) FROM carrier_pushes WHERE NOT accepted")[0] == 2


def test_kuaidi100_subscriptions_twice_are_fine_and_a_wrong_key_is_refused_in_words(hub, carriers):
    assert carriers.kd100.subscribe("yuantong", "YT7700000000005") == "subscribed"
    assert carriers.kd100.subscribe("yuantong", "YT7700000000005") == "already"
    carriers.kd100.key = "wrong"
    try:
        carriers.kd100.subscribe("yuantong", "YT7700000000006")
        raise AssertionError("a wrong key must be refused")
    except Exception as err:  # noqa: BLE001
        assert getattr(err, "code", "") == "600" and not err.retryable


def test_sf_route_pushes_are_checked_by_msgdigest_and_answered_as_sf_expects(hub, carriers):
    order_no = carriers.shipped_order("SF1500000000001")
    assert dispatch_subscriptions(hub, carriers.kd100).subscribed == 1  # 顺丰 pushes by itself: nothing to subscribe
    assert carriers.kd100_sim.subscriptions == {}
    assert carriers.sf_sim.advance("SF1500000000001", 2) == 200
    assert json.loads(carriers.sf_sim.pushes[-1][2]) == {"return_code": "0000", "return_msg": "成功"}
    assert [n["location"] for n in _nodes(hub, "SF1500000000001")] == ["杭州市", "杭州转运中心"]
    carriers.sf_sim.advance("SF1500000000001", 4)
    assert _one(hub, "SELECT status FROM orders WHERE order_no = :n", n=order_no)[0] == "completed"


def test_an_sf_push_with_a_wrong_digest_is_refused_recorded_and_not_applied(hub, carriers):
    carriers.shipped_order("SF1500000000002")
    carriers.road.parcel("SF1500000000002")
    legs = carriers.road.advance("SF1500000000002", 2)
    assert carriers.sf_sim.push("SF1500000000002", legs, check_word="forged") == 401
    assert json.loads(carriers.sf_sim.pushes[-1][2])["return_code"] == "1000"
    assert _nodes(hub, "SF1500000000002") == []
    reason, tries = _one(hub, "SELECT max(reason), count(*) FROM carrier_pushes WHERE NOT accepted")
    assert "数字签名不正确" in reason and tries == 3  # SF resends what is not answered 0000: each try recorded


def test_msgdigest_follows_javas_urlencoder_not_pythons_quote():
    # Java keeps '*' and escapes '~'; space is '+': the two encoders differ exactly there
    assert sf_express.java_urlencode("a b*c~d-e.f_g") == "a+b*c%7Ed-e.f_g"
    same = sf_express.msg_digest('{"orderId":"QIAO-20200618-004"}', "12312334453453", "fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci")
    import base64
    import hashlib
    from urllib.parse import quote_plus
    expected = base64.b64encode(hashlib.md5(quote_plus('{"orderId":"QIAO-20200618-004"}12312334453453'
                                                      'fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci').encode()).digest()).decode()
    assert same == expected  # no '*' or '~' in it: both encoders agree


def test_kuaidi100_signs_pushes_with_upper_case_md5_of_param_then_salt():
    import hashlib
    assert kuaidi100.sign('{"a":1}', "salt") == hashlib.md5(b'{"a":1}salt').hexdigest().upper()
    assert kuaidi100.sign('{"a":1}', "salt") != kuaidi100.sign('{"a":1}', "tlas")
