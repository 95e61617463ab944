"""微信小店 connector against its simulator over real loopback HTTP: token, paging, windows, faults, pushes."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from app.domain.status import OrderStatus
from connectors.base import Credentials, PayloadError, PlatformError, RawOrder, RetryPolicy, plan_windows
from connectors.simulators.server import Request, Response, SimServer
from connectors.simulators.wechat import make_simulator, push_event
from connectors.simulators.world import SimWorld
from connectors.wechat import LIST_PATH, TOKEN_PATH, WechatConnector, callback_signature

DATA = Path(__file__).resolve().parents[1] / "data" / "wechat"
APPID, SECRET = "wx5e7d1c9a3f2b6a10", "0f6c2b9d4e8a1357c9e2b4d6f8a0c1e3"


def _serve(handler) -> SimServer:
    server = SimServer(handler)
    # Answer without Nagle's delay (headers and body go out as two writes): 230 orders in ~1 s, not ~10 s.
    server.httpd.RequestHandlerClass.disable_nagle_algorithm = True
    return server.start()


def _shop(*, secret: str = SECRET, token: str = "", timeout: float = 5.0, **sim_kw):
    world = SimWorld("wechat", seed=5)
    sim = make_simulator(world, Credentials(APPID, SECRET, access_token=token), **sim_kw)
    server = _serve(sim.handle)
    creds, sleeps, saved = Credentials(APPID, secret, access_token=token), [], []
    con = WechatConnector(server.url, creds, timeout=timeout, policy=RetryPolicy(sleep=sleeps.append),
                          on_credentials_changed=lambda c: saved.append(c.access_token))
    return SimpleNamespace(world=world, sim=sim, server=server, creds=creds, con=con, sleeps=sleeps, saved=saved)


@pytest.fixture
def shop():
    s = _shop()
    yield s
    s.con.close()
    s.server.stop()


@pytest.fixture
def offline() -> WechatConnector:
    """A connector for what needs no server (normalising, verifying pushes)."""
    return WechatConnector("http://127.0.0.1:9", Credentials(APPID, SECRET))


def _calls(shop, path: str) -> list[Request]:
    return [r for r in shop.server.requests if r.path == path]


def _window(shop, minutes: int = 60):
    now = shop.world.now()
    return now - timedelta(minutes=minutes), now


def _raw(name: str) -> RawOrder:
    return RawOrder("", (DATA / name).read_bytes(), "order.get")


def test_the_connector_fetches_a_stable_token_first_and_wechat_accepts_its_calls(shop):
    shop.world.create(3, at=shop.world.now() - timedelta(minutes=5))
    raws = list(shop.con.changed_orders(*_window(shop)))
    assert len(raws) == 3
    [token_call] = _calls(shop, TOKEN_PATH)
    assert json.loads(token_call.body) == {"grant_type": "client_credential", "appid": APPID, "secret": SECRET,
                                           "force_refresh": False}
    assert shop.saved == [shop.creds.access_token] and shop.creds.access_token
    assert all(r.query["access_token"] == shop.creds.access_token for r in _calls(shop, LIST_PATH))


def test_a_wrong_app_secret_is_refused_with_wechats_own_code_and_not_retried():
    s = _shop(secret="not-the-secret")
    try:
        with pytest.raises(PlatformError) as err:
            list(s.con.changed_orders(*_window(s)))
        assert err.value.code == "40125" and not err.value.retryable
        assert len(_calls(s, TOKEN_PATH)) == 1 and s.sleeps == []
    finally:
        s.server.stop()


def test_the_callback_signature_is_sha1_of_the_three_values_sorted_and_joined():
    token, timestamp, nonce = "weixin", "1409304348", "1320562132"
    joined = "13205621321409304348weixin"  # sorted as strings: nonce, timestamp, token
    assert callback_signature(token, timestamp, nonce) == hashlib.sha1(joined.encode()).hexdigest()
    assert callback_signature(token, timestamp, nonce) == callback_signature(nonce, token, timestamp)


def test_an_expired_token_is_refreshed_once_and_the_call_then_succeeds(shop):
    shop.world.create(2, at=shop.world.now() - timedelta(minutes=5))
    list(shop.con.changed_orders(*_window(shop)))
    first = shop.creds.access_token
    shop.world.faults.expire_token_next = 1
    assert len(list(shop.con.changed_orders(*_window(shop)))) == 2
    assert shop.creds.access_token != first and shop.saved == [first, shop.creds.access_token]
    assert len(_calls(shop, TOKEN_PATH)) == 2 and shop.sleeps == []


def test_a_token_still_refused_after_one_refresh_fails_instead_of_looping(shop):
    shop.world.create(1, at=shop.world.now() - timedelta(minutes=5))
    list(shop.con.changed_orders(*_window(shop)))
    shop.world.faults.expire_token_next = 2
    with pytest.raises(PlatformError) as err:
        list(shop.con.changed_orders(*_window(shop)))
    assert err.value.code == "42001" and err.value.auth_expired
    assert len(_calls(shop, TOKEN_PATH)) == 2  # the first token plus exactly one refresh


def test_230_orders_over_three_pages_come_back_exactly_once_though_one_changes_mid_paging(shop):
    made = shop.world.create(230, at=shop.world.now() - timedelta(minutes=20))
    pages: list[list[str]] = []

    def between_pages(ids: list[str]) -> None:
        pages.append(ids)
        if len(pages) == 1:  # a buyer edits an order already listed, while we page on
            shop.world.note(ids[0], "改为周末送货")

    shop.sim.on_list_page = between_pages
    start, now = _window(shop)
    raws = list(shop.con.changed_orders(start, now - timedelta(seconds=1)))  # the change lands after the window
    assert sorted(r.platform_order_no for r in raws) == sorted(o.order_id for o in made)
    assert [len(p) for p in pages] == [100, 100, 30]
    assert all(json.loads(r.body)["page_size"] == 100 for r in _calls(shop, LIST_PATH))


def test_an_order_changed_on_a_page_not_yet_read_moves_to_the_end_and_is_still_read_once(shop):
    made = shop.world.create(230, at=shop.world.now() - timedelta(minutes=20))
    pages: list[list[str]] = []
    late = sorted(made, key=lambda o: (o.updated, o.order_id))[-1].order_id  # would be on page 3

    def between_pages(ids: list[str]) -> None:
        pages.append(ids)
        if len(pages) == 1:
            shop.world.change_address(late, "解放路88号")

    shop.sim.on_list_page = between_pages
    start, now = _window(shop)
    raws = list(shop.con.changed_orders(start, now + timedelta(minutes=1)))
    assert sorted(r.platform_order_no for r in raws) == sorted(o.order_id for o in made)
    fresh = next(shop.con.normalise(r) for r in raws if r.platform_order_no == late)
    assert fresh.receiver.address.endswith("解放路88号")


def test_the_simulator_refuses_a_window_over_seven_days_and_the_connector_splits_one(shop):
    shop.world.create(2, at=shop.world.now() - timedelta(days=9))
    shop.world.create(3, at=shop.world.now() - timedelta(days=1))
    list(shop.con.changed_orders(*_window(shop)))  # gets a token
    now = int(shop.world.now().timestamp())
    too_wide = requests.post(f"{shop.server.url}{LIST_PATH}", params={"access_token": shop.creds.access_token},
                             json={"update_time_range": {"start_time": now - 8 * 86400, "end_time": now},
                                   "page_size": 100}, timeout=5).json()
    assert too_wide["errcode"] == 10020055 and "7 days" in too_wide["errmsg"]
    before = len(_calls(shop, LIST_PATH))
    raws = list(shop.con.changed_orders(shop.world.now() - timedelta(days=10), shop.world.now()))
    assert len(raws) == 5
    ranges = [json.loads(r.body)["update_time_range"] for r in _calls(shop, LIST_PATH)[before:]]
    assert len(ranges) == 2 and all(r["end_time"] - r["start_time"] <= 7 * 86400 for r in ranges)
    windows = plan_windows(None, shop.world.now(), max_window=WechatConnector.max_window, overlap=timedelta(0),
                           first_lookback=timedelta(days=20))
    assert len(windows) == 3 and all(e - s <= timedelta(days=7) for s, e in windows)


def test_the_simulator_refuses_a_page_size_over_100(shop):
    list(shop.con.changed_orders(*_window(shop)))
    now = int(shop.world.now().timestamp())
    answer = requests.post(f"{shop.server.url}{LIST_PATH}", params={"access_token": shop.creds.access_token},
                           json={"update_time_range": {"start_time": now - 60, "end_time": now}, "page_size": 101},
                           timeout=5).json()
    assert answer["errcode"] == 10020055 and "page_size" in answer["errmsg"]


def test_a_quota_answer_is_retried_after_a_backoff_and_the_minute_quota_waits_a_minute(shop):
    shop.world.create(2, at=shop.world.now() - timedelta(minutes=5))
    shop.world.faults.rate_limit_next = 1
    assert len(list(shop.con.changed_orders(*_window(shop)))) == 2
    [pause] = shop.sleeps
    assert 0.375 <= pause <= 0.625  # no ban seconds in 45009: the policy's first backoff step
    s = _shop(rate_limit_errcode=45011)
    try:
        s.world.create(1, at=s.world.now() - timedelta(minutes=5))
        s.world.faults.rate_limit_next = 1
        assert len(list(s.con.changed_orders(*_window(s)))) == 1
        assert s.sleeps == [60.0]
    finally:
        s.server.stop()


def test_a_busy_wechat_is_retried_exactly_three_times_then_reported_as_retryable(shop):
    list(shop.con.changed_orders(*_window(shop)))
    before = len(_calls(shop, LIST_PATH))
    shop.world.faults.error_5xx_next = 4
    with pytest.raises(PlatformError) as err:
        list(shop.con.changed_orders(*_window(shop)))
    assert err.value.code == "-1" and err.value.retryable
    assert len(shop.sleeps) == 3 and len(_calls(shop, LIST_PATH)) - before == 4


def test_an_answer_slower_than_the_timeout_is_retried():
    s = _shop(timeout=0.3)
    try:
        s.world.create(1, at=s.world.now() - timedelta(minutes=5))
        list(s.con.changed_orders(*_window(s)))
        s.world.faults.slow_next, s.world.faults.slow_seconds = 1, 0.8
        assert len(list(s.con.changed_orders(*_window(s)))) == 1
        assert len(s.sleeps) == 1
    finally:
        s.server.stop()


def test_a_truncated_list_page_is_retried_and_a_truncated_detail_is_quarantined(shop):
    [order] = shop.world.create(1, at=shop.world.now() - timedelta(minutes=5))
    list(shop.con.changed_orders(*_window(shop)))
    shop.world.faults.malformed_next = 1
    assert len(list(shop.con.changed_orders(*_window(shop)))) == 1 and len(shop.sleeps) == 1
    shop.world.faults.malformed_next = 1
    raw = shop.con.fetch(order.order_id)  # a detail is not retried: its bytes are kept for quarantine
    assert raw.platform_order_no == order.order_id and len(shop.sleeps) == 1
    with pytest.raises(PayloadError, match="不是有效的 JSON"):
        shop.con.normalise(raw)


def test_a_recorded_order_normalises_to_exact_yuan_line_states_gift_masked_receiver_and_ext(offline):
    order = offline.normalise(_raw("order_get_masked_gift_refund.json"))
    assert order.platform_order_no == "3718427093364531712"
    assert order.status == OrderStatus.PAID and order.platform_status == "20"
    assert order.original_amount == Decimal("566.00") and order.paid_amount == Decimal("536.00")
    assert [(ln.sku, ln.qty, ln.unit_price, ln.paid, ln.is_gift, ln.line_status) for ln in order.lines] == [
        ("D2605-01-120", 1, Decimal("299.00"), Decimal("283.15"), False, "normal"),
        ("W2602-02-110", 1, Decimal("129.00"), Decimal("122.16"), False, "refunded"),
        ("T2601-02-100", 2, Decimal("69.00"), Decimal("130.69"), False, "refunding"),
        ("GIFT-SOCK-01-M", 1, Decimal("0.00"), Decimal("0.00"), True, "normal"),
    ]
    assert order.lines[1].platform_status == "on_aftersale=0,finish_aftersale=1"
    assert (order.lines[0].color, order.lines[0].size) == ("樱花粉", "120")
    r = order.receiver
    assert (r.name, r.phone, r.address) == ("陈*", "139****6621", "浙江省杭州市西湖区文三路****")
    assert (r.province, r.city, r.district, r.token) == ("浙江省", "杭州市", "西湖区", "6c1f0a9e4b7d2c85e3a0f9d17b4e6a21")
    assert order.customer_id == "o3fTq5Jd8K2mXyZ1vB7nQpR4sW6u"
    assert order.ext == {"finder_id": "sphAbC1234x", "sharer_openid": "oZ3x-5Hk2LqP9sDf7GhJkLm0NbVc"}
    assert order.ship_by == datetime(2025, 11, 29, 8, 0, 30, tzinfo=UTC)  # the earliest line deadline
    assert order.paid_at == datetime(2025, 11, 28, 8, 0, 30, tzinfo=UTC)
    assert order.platform_updated_at == datetime(2025, 11, 28, 9, 0, tzinfo=UTC)
    assert order.buyer_note == "请尽快发货，谢谢"


def test_status_250_after_payment_is_a_cancellation_that_keeps_its_payment_time(offline):
    order = offline.normalise(_raw("order_get_cancelled_after_payment.json"))
    assert order.status == OrderStatus.CANCELLED and order.platform_status == "250"
    assert order.paid_at == datetime(2025, 11, 27, 8, 0, 30, tzinfo=UTC)
    assert order.paid_amount == Decimal("165.00") and order.lines[0].line_status == "refunded"
    assert order.seller_note == "买家要求取消" and order.ext == {}


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda o: o.pop("order_id"), "缺少订单号"),
    (lambda o: o.update(status=77), "状态「77」无法识别"),
    (lambda o: o["order_detail"]["product_infos"][0].update(sale_price="abc"), "「abc」无效"),
    (lambda o: o["order_detail"]["product_infos"][0].update(sku_cnt=0), "不是正数"),
    (lambda o: o["order_detail"]["price_info"].pop("order_price"), "字段缺失"),
    (lambda o: o["order_detail"].update(product_infos=[]), "没有商品"),
])
def test_an_impossible_order_is_refused_in_plain_words(offline, edit, reason):
    doc = json.loads((DATA / "order_get_masked_gift_refund.json").read_text(encoding="utf-8"))
    edit(doc["order"])
    with pytest.raises(PayloadError, match=reason):
        offline.normalise(RawOrder("", json.dumps(doc).encode(), "order.get"))
    with pytest.raises(PayloadError, match="错误应答"):
        offline.normalise(RawOrder("", b'{"errcode":-1,"errmsg":"system error"}', "order.get"))


def test_a_signed_callback_is_read_and_a_forged_one_refused(shop):
    [order] = shop.world.create(1)
    body = json.dumps(push_event("address_changed", order, shop.world.now())).encode()
    query = shop.sim.sign_push()
    msg = shop.con.parse_push({":query": "&".join(f"{k}={v}" for k, v in query.items())}, body)
    assert (msg.topic, msg.platform_order_no) == ("channels_ec_order_ext_info_update:19", order.order_id)
    assert shop.con.parse_push(dict(query), body) == msg  # a repeat carries the same id: the hub dedupes it
    refund = json.dumps(push_event("refund_created", order, shop.world.now())).encode()
    assert shop.con.parse_push(dict(query), refund).topic == "channels_ec_aftersale_update"
    with pytest.raises(PlatformError) as err:
        shop.con.parse_push(shop.sim.sign_push(token="someone-else"), body)
    assert err.value.code == "sign"


def test_the_simulator_pushes_a_cancellation_to_the_hub_as_a_signed_callback():
    got: list[Request] = []

    def receive(req: Request) -> Response:
        got.append(req)
        return Response(200, b"success", {"Content-Type": "text/plain"})

    hub = _serve(receive)
    s = _shop(push_url=f"{hub.url}/push/S1")
    try:
        [order] = s.world.create(1, at=s.world.now() - timedelta(minutes=5))
        s.world.cancel(order.order_id)
        deadline = time.time() + 5
        while not got and time.time() < deadline:
            time.sleep(0.02)
        [req] = got
        msg = s.con.parse_push(req.query | req.headers, req.body)
        assert (msg.topic, msg.platform_order_no) == ("channels_ec_order_cancel", order.order_id)
    finally:
        s.server.stop()
        hub.stop()
