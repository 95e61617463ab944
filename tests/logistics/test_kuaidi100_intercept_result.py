"""快递100's interception result push: verified, applied once, on the order's story and to customer service."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import requests
import sqlalchemy as sa

from app.domain.actor import Actor
from app.hub.carrier_dispatch import dispatch_intercepts
from app.services import trace, writeback
from app.services.story_events import story_events
from connectors.kuaidi100 import REPLY_OK, sign
from tests.logistics.conftest import SALT

CS = Actor("xiaomei", "客服工作台-01", "10.20.1.17")
RESULT_CALL = "kuaidi100 拦截结果推送"


def _watch(hub, tracking_no):
    with hub.uow() as uow:
        return uow.session.execute(sa.text(
            "SELECT w.intercept_state, w.intercept_message FROM shipment_watch w JOIN shipments s ON s.id = w.shipment_id"
            " WHERE s.tracking_no = :t"), {"t": tracking_no}).one()


def _notices(hub, tracking_no):
    with hub.uow() as uow:
        rows = uow.session.execute(sa.text("SELECT payload FROM outbox WHERE topic = 'cs.notice' ORDER BY id"))
        return [r[0] for r in rows if r[0].get("params", {}).get("tracking_no") == tracking_no]


def _pushes(hub, tracking_no):
    with hub.uow() as uow:
        return uow.session.execute(sa.text(
            "SELECT accepted, reason FROM carrier_pushes WHERE tracking_no = :t ORDER BY id"), {"t": tracking_no}).all()


def _intercepted(hub, carriers, tracking_no, *, hold=True):
    """A 京东 parcel of a cancelled order, interception accepted by 快递100 (its result held back when ``hold``)."""
    from connectors.kuaidi100 import Kuaidi100

    order_no = carriers.shipped_order(tracking_no, "京东物流")
    carriers.road.parcel(tracking_no)
    writeback.intercept_for_order(hub.uow(), order_no, CS)
    kd = carriers.kd100
    client = Kuaidi100(kd.base_url, kd.key, kd.salt, kd.callback_url, label_url=kd.base_url,
                       label_secret=carriers.kd100_sim.secret, partners={"jd": "JD-SHOP-0571"})
    carriers.kd100_sim.results_released.clear()  # the result lands after the "accepted" answer is saved
    try:
        assert dispatch_intercepts(hub, carriers.sf, kd100=client).intercepted == 1
    finally:
        client.close()
    if not hold:
        carriers.kd100_sim.results_released.set()
        carriers.kd100_sim.wait_results()
    return order_no


def test_the_interception_request_names_our_result_door_and_salt(hub, carriers):
    _intercepted(hub, carriers, "JDV000000000201")
    request = carriers.kd100_sim.intercept_requests["JDV000000000201"]
    assert request["callbackUrl"] == f"{carriers.receiver.url}/carrier/kuaidi100-intercept"
    assert request["salt"] == SALT
    carriers.kd100_sim.results_released.set()
    carriers.kd100_sim.wait_results()


def test_a_success_push_marks_the_parcel_intercepted_on_the_story_and_tells_customer_service(hub, carriers):
    order_no = _intercepted(hub, carriers, "JDV000000000202")
    assert _watch(hub, "JDV000000000202")[0] == "accepted"  # nothing pretended before the carrier's word
    carriers.kd100_sim.results_released.set()
    carriers.kd100_sim.wait_results()
    number, status, reply = carriers.kd100_sim.intercept_pushes[-1]
    assert (number, status, reply) == ("JDV000000000202", 200, REPLY_OK)  # the exact body 快递100 wants
    state, message = _watch(hub, "JDV000000000202")
    assert state == "succeeded" and message == "拦截成功，快件退回寄件地址"
    attempt = writeback.attempts(hub.uow(), order_no)[-1]
    assert (attempt["call"], attempt["outcome"], attempt["message"]) == (RESULT_CALL, "done", "拦截成功，快件退回寄件地址")
    notice = _notices(hub, "JDV000000000202")[-1]
    assert notice["message"] == "LOGI_INTERCEPT_SUCCEEDED" and notice["params"]["detail"] == "拦截成功，快件退回寄件地址"
    assert carriers.road.advance("JDV000000000202") == []  # stopped at the carrier


def test_a_failure_push_gives_the_carriers_reason_in_words_and_the_parcel_travels_on(hub, carriers):
    carriers.kd100_sim.intercept_outcomes["JDV000000000203"] = ("FAIL", "快件已到达派送网点，无法拦截")
    order_no = _intercepted(hub, carriers, "JDV000000000203", hold=False)
    carriers.kd100_sim.wait_results()
    state, message = _watch(hub, "JDV000000000203")
    assert state == "failed" and message == "快件已到达派送网点，无法拦截"
    attempt = writeback.attempts(hub.uow(), order_no)[-1]
    assert (attempt["call"], attempt["outcome"]) == (RESULT_CALL, "refused") and "无法拦截" in attempt["message"]
    notice = _notices(hub, "JDV000000000203")[-1]
    assert notice["message"] == "LOGI_INTERCEPT_FAILED" and notice["params"]["detail"] == "快件已到达派送网点，无法拦截"
    line = [e for e in story_events(trace.order_story(hub.uow(), order_no)) if e.kind == "writeback"][-1]
    assert line.failed and line.title.startswith("拦截件 京东物流") and line.details == ("快件已到达派送网点，无法拦截",)
    assert "kuaidi100" not in line.title and RESULT_CALL in line.technical  # the door's name only for IT
    assert carriers.road.advance("JDV000000000203") != []


def test_a_push_with_a_wrong_signature_is_refused_recorded_and_changes_nothing(hub, carriers):
    _intercepted(hub, carriers, "JDV000000000204")
    status = carriers.kd100_sim.push_intercept_result("JDV000000000204", salt="not-our-salt")
    assert status == 401
    reply = json.loads(carriers.kd100_sim.intercept_pushes[-1][2])
    assert reply["result"] is False and reply["returnCode"] == "500"  # so 快递100 knows it was not taken
    assert _watch(hub, "JDV000000000204")[0] == "accepted"
    refused = [r for r in _pushes(hub, "JDV000000000204") if not r.accepted]
    assert refused and all("签名不正确" in r.reason for r in refused)
    assert [n["message"] for n in _notices(hub, "JDV000000000204")] == ["LOGI_INTERCEPT_ACCEPTED"]
    carriers.kd100_sim.results_released.set()  # the genuine push still lands afterwards
    carriers.kd100_sim.wait_results()
    assert _watch(hub, "JDV000000000204")[0] == "succeeded"


def test_a_repeated_push_changes_nothing_a_second_time(hub, carriers):
    order_no = _intercepted(hub, carriers, "JDV000000000205", hold=False)
    carriers.kd100_sim.wait_results()
    assert _watch(hub, "JDV000000000205")[0] == "succeeded"
    carriers.kd100_sim.intercept_outcomes["JDV000000000205"] = ("FAIL", "迟到的相反结果")  # even a contrary repeat
    assert carriers.kd100_sim.push_intercept_result("JDV000000000205") == 200
    assert carriers.kd100_sim.push_intercept_result("JDV000000000205") == 200
    assert _watch(hub, "JDV000000000205") == ("succeeded", "拦截成功，快件退回寄件地址")
    results = [a for a in writeback.attempts(hub.uow(), order_no) if a["call"] == RESULT_CALL]
    assert len(results) == 1
    assert [n["message"] for n in _notices(hub, "JDV000000000205")] == ["LOGI_INTERCEPT_ACCEPTED",
                                                                         "LOGI_INTERCEPT_SUCCEEDED"]
    assert sum("重复的拦截结果" in (r.reason or "") for r in _pushes(hub, "JDV000000000205")) == 2


def test_a_push_for_a_parcel_we_do_not_have_is_answered_and_recorded_not_applied(hub, carriers):
    param = json.dumps({"kuaidicom": "jd", "kuaidinum": "JDV999999999999", "status": "SUCCESS", "message": "拦截成功"},
                       ensure_ascii=False)
    answer = requests.post(f"{carriers.receiver.url}/carrier/kuaidi100-intercept", timeout=10,
                           data=urlencode({"param": param, "sign": sign(param, SALT)}),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (answer.status_code, answer.content) == (200, REPLY_OK)  # answered, or 快递100 resends it for hours
    assert [(r.accepted, r.reason) for r in _pushes(hub, "JDV999999999999")] == [(True, "系统中没有这个运单的拦截")]


def test_an_unreadable_or_unknown_status_push_is_refused_in_words(hub, carriers):
    for param in ("not json", json.dumps({"kuaidinum": "JDV000000000206", "status": "MAYBE"})):
        answer = requests.post(f"{carriers.receiver.url}/carrier/kuaidi100-intercept", timeout=10,
                               data=urlencode({"param": param, "sign": sign(param, SALT)}),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert answer.status_code == 401 and answer.json()["result"] is False
    with hub.uow() as uow:
        reasons = uow.session.scalars(sa.text("SELECT reason FROM carrier_pushes WHERE NOT accepted ORDER BY id")).all()
    assert any("无法读取" in r for r in reasons) and any("MAYBE" in r for r in reasons)


def test_a_result_that_lands_before_the_accepted_answer_is_saved_is_not_overwritten(hub, carriers):
    from app.services import outbox, tracking

    order_no = carriers.shipped_order("JDV000000000207", "京东物流")
    writeback.intercept_for_order(hub.uow(), order_no, CS)
    [msg] = [m for m in outbox.claim(hub.uow(), writeback.INTERCEPT, limit=50) if m.payload["tracking_no"] == "JDV000000000207"]
    assert tracking.intercept_result(hub.uow(), "kuaidi100", RESULT_CALL, "JDV000000000207", "succeeded", "已拦截",
                                     b"param=...").applied
    tracking.intercept_settled(hub.uow(), msg, "accepted", "kuaidi100 interceptOrder", message="快递100已受理")
    assert _watch(hub, "JDV000000000207") == ("succeeded", "已拦截")
