"""抖店 connector against its loopback simulator over real HTTP: signing, tokens, paging, faults, payloads, pushes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from app.domain.status import OrderStatus
from connectors.base import Credentials, PayloadError, PlatformError, PushMessage, RawOrder, RetryPolicy, plan_windows
from connectors.douyin import DouyinConnector, canonical_json, sign
from connectors.simulators.douyin import DouyinSimulator, make_simulator
from connectors.simulators.server import Response, SimServer
from connectors.simulators.world import SimWorld

DATA = Path(__file__).resolve().parents[1] / "data" / "douyin"
APP_KEY, SECRET = "7152331588034201123", "3f6a1c0e-8d2b-4b7e-9a51-2c4d6e8f0a1b"
T0 = datetime(2025, 3, 8, 4, 0, tzinfo=UTC)


class Clock:
    """One settable clock for world, simulator and connector; sleeping moves it (no real waiting)."""

    def __init__(self, at: datetime) -> None:
        self.at, self.slept = at, []

    def __call__(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock(T0 + timedelta(hours=1))


@pytest.fixture
def world(clock):
    return SimWorld("douyin", seed=7, clock=clock)


@pytest.fixture
def sim(world):
    simulator = DouyinSimulator(world, app_key=APP_KEY, app_secret=SECRET, access_token="tok-1", refresh_token="ref-1")
    yield simulator
    simulator.close()


@pytest.fixture(scope="module")
def _http():
    """One loopback server for the module (stopping one costs half a second); each test plugs in its simulator."""
    current = {}
    srv = SimServer(lambda req: current["sim"].handle(req)).start()
    yield srv, current
    srv.stop()


@pytest.fixture
def server(_http, sim):
    srv, current = _http
    current["sim"] = sim
    srv.requests.clear()
    return srv


def _connector(server, clock, *, secret=SECRET, token="tok-1", timeout=2.0, skew=timedelta(0)):
    return DouyinConnector(server.url, Credentials(APP_KEY, secret, token, "ref-1"), timeout=timeout,
                           policy=RetryPolicy(sleep=clock.sleep), clock=lambda: clock() + skew)


@pytest.fixture
def connector(server, clock):
    conn = _connector(server, clock)
    yield conn
    conn.close()


def _place(world, n, *, every=timedelta(seconds=5), status="paid"):
    return [world.create(1, at=T0 + i * every, status=status)[0] for i in range(n)]


def _pages(server):
    return [json.loads(r.body)["page"] for r in server.requests if r.path == "/order/searchList"]


# --- signing ---------------------------------------------------------------------------------------
def test_the_signature_matches_the_documented_vectors_for_hmac_sha256_and_md5():
    param_json = '{"page":"0","size":"20","update_time_end":"1700000000","update_time_start":"1699990000"}'
    args = ("1234567890123456789", "testsecret", "order.searchList", param_json, "1700000000")
    assert sign(*args) == "0cf8f2c61acefa0fcb22e322dce84494c8be279f0f83aafdfeb5ca19d9d3828f"
    assert sign(*args, sign_method="md5") == "5f8cf8557a3106f9b170eb1575a75212"


def test_param_json_is_sorted_compact_with_chinese_and_ampersands_left_raw():
    assert canonical_json({"size": 100, "b": {"z": "&<>", "a": "童装"}}) == '{"b":{"a":"童装","z":"&<>"},"size":100}'


def test_a_signed_call_is_answered_and_a_wrong_secret_is_refused_with_the_platforms_code_at_once(server, clock, world):
    _place(world, 3)
    good = _connector(server, clock)
    assert len(list(good.changed_orders(T0, T0 + timedelta(minutes=30)))) == 3
    good.close()
    server.requests.clear()
    bad = _connector(server, clock, secret="guessed")
    with pytest.raises(PlatformError) as refused:
        list(bad.changed_orders(T0, T0 + timedelta(minutes=30)))
    bad.close()
    assert (refused.value.code, refused.value.sub_code, refused.value.retryable) == ("40003", "isv.signature-invalid", False)
    assert len(server.requests) == 1 and clock.slept == []


def test_the_simulator_verifies_the_exact_body_bytes_it_received(server, clock, world):
    order = _place(world, 1)[0]
    param_json = canonical_json({"shop_order_id": order.order_id})
    stamp = str(int(clock().timestamp()))
    query = {"app_key": APP_KEY, "method": "order.orderDetail", "timestamp": stamp, "v": "2", "sign_method": "md5",
             "sign": sign(APP_KEY, SECRET, "order.orderDetail", param_json, stamp, sign_method="md5"),
             "access_token": "tok-1"}
    url = f"{server.url}/order/orderDetail"
    assert requests.post(url, params=query, data=param_json.encode(), timeout=5).json()["code"] == 10000
    spaced = param_json.replace(":", ": ").encode()  # the same JSON, other bytes
    answer = requests.post(url, params=query, data=spaced, timeout=5).json()
    assert (answer["code"], answer["sub_code"]) == (40003, "isv.signature-invalid")


def test_a_clock_twenty_minutes_off_is_refused_as_timestamp_invalid(server, clock):
    conn = _connector(server, clock, skew=timedelta(minutes=20))
    with pytest.raises(PlatformError) as refused:
        conn.fetch("6929458731209874417")
    conn.close()
    assert (refused.value.code, refused.value.sub_code, refused.value.retryable) == ("40003", "isv.timestamp-invalid", False)


# --- tokens --------------------------------------------------------------------------------------
def test_an_expired_token_is_refreshed_once_saved_and_the_call_then_succeeds(server, connector, world, clock):
    _place(world, 2)
    saved = []
    connector.on_credentials_changed = saved.append
    world.faults.expire_token_next = 1
    assert len(list(connector.changed_orders(T0, T0 + timedelta(minutes=30)))) == 2
    assert [r.path for r in server.requests] == ["/order/searchList", "/token/refresh", "/order/searchList"]
    assert "access_token" not in server.requests[1].query and clock.slept == []
    assert saved == [connector.credentials] and saved[0].access_token not in ("", "tok-1")
    assert saved[0].refresh_token not in ("", "ref-1")
    assert server.requests[2].query["access_token"] == saved[0].access_token


def test_a_spent_refresh_token_ends_in_a_clear_request_to_authorise_again(server, connector, clock):
    connector.refresh_token()  # ref-1 is now spent; tok-1 still works until it expires
    stale = _connector(server, clock)
    with pytest.raises(PlatformError) as refused:
        stale.refresh_token()
    stale.close()
    assert (refused.value.code, refused.value.retryable) == ("50001", False)


# --- paging and windows ------------------------------------------------------------------------------
def test_230_orders_come_back_once_each_from_the_last_page_to_the_first(server, connector, world):
    placed = {o.order_id for o in _place(world, 230)}
    raws = list(connector.changed_orders(T0, T0 + timedelta(minutes=30)))
    assert sorted(r.platform_order_no for r in raws) == sorted(placed)
    assert _pages(server) == [0, 2, 1, 0]
    assert all(json.loads(r.body)["size"] <= 100 for r in server.requests)


def test_an_order_changed_while_paging_is_read_by_the_next_window_and_no_other_order_is_lost(connector, world, clock):
    placed = _place(world, 230)
    end = T0 + timedelta(minutes=30)
    pulling = connector.changed_orders(T0, end)
    got = [next(pulling)]  # page 2 (the oldest) is in; pages 1 and 0 are not yet read
    newest = placed[-1]
    clock.at += timedelta(seconds=30)
    world.change_address(newest.order_id, "解放路88号")  # leaves the window: shifts every older order up one
    got += list(pulling)
    numbers = [r.platform_order_no for r in got]
    assert len(numbers) == len(set(numbers)) == 229 and newest.order_id not in numbers
    clock.at += timedelta(seconds=15)  # the next poll
    later = {r.platform_order_no: r for r in connector.changed_orders(end, clock() - connector.lag)}
    assert connector.normalise(later[newest.order_id]).receiver.address.endswith("解放路**号")


def test_a_changed_house_number_hidden_by_the_mask_still_changes_the_receiver_token(connector, world):
    order = _place(world, 1)[0]
    world.change_address(order.order_id, "新华路1号")
    before = connector.normalise(connector.fetch(order.order_id)).receiver
    world.change_address(order.order_id, "新华路2号")
    after = connector.normalise(connector.fetch(order.order_id)).receiver
    assert before.address == after.address and before.address.endswith("新华路*号")
    assert before.token != after.token and after.token.startswith("#")
    assert before.fingerprint != after.fingerprint  # what the hub compares to raise an interception


def test_an_order_repeated_on_another_page_is_yielded_once(connector, world):
    world.faults.duplicate_rate = 1.0
    placed = _place(world, 150)
    numbers = [r.platform_order_no for r in connector.changed_orders(T0, T0 + timedelta(minutes=30))]
    assert sorted(numbers) == sorted(o.order_id for o in placed)


def test_windows_never_exceed_thirty_minutes_and_a_wider_one_is_refused(server, connector, world, clock):
    placed = _place(world, 40, every=timedelta(minutes=3))
    clock.at = T0 + timedelta(hours=3)
    found = set()
    for start, end in plan_windows(None, clock(), max_window=connector.max_window, overlap=timedelta(minutes=2),
                                   lag=connector.lag, first_lookback=timedelta(hours=3, minutes=5)):
        found |= {r.platform_order_no for r in connector.changed_orders(start, end)}
    found_direct = {r.platform_order_no for r in connector.changed_orders(T0, T0 + timedelta(hours=3))}
    assert found == found_direct == {o.order_id for o in placed}
    spans = [json.loads(r.body) for r in server.requests]
    assert max(s["update_time_end"] - s["update_time_start"] for s in spans) <= 1800
    with pytest.raises(PlatformError) as refused:
        connector._call("order.searchList", {"page": 0, "size": 100, "order_by": "update_time",
                                             "update_time_start": int(T0.timestamp()),
                                             "update_time_end": int(T0.timestamp()) + 3601})
    assert (refused.value.code, refused.value.sub_code, refused.value.retryable) == ("40004", "isv.parameter-invalid", False)


def test_a_page_of_more_than_100_orders_is_refused(connector):
    connector.page_size = 101
    with pytest.raises(PlatformError) as refused:
        list(connector.changed_orders(T0, T0 + timedelta(minutes=30)))
    assert refused.value.code == "40004" and "size" in refused.value.message


# --- faults --------------------------------------------------------------------------------------------
def test_a_rate_limit_60000_is_waited_out_until_the_ban_is_over(server, connector, world, clock):
    _place(world, 2)
    world.faults.rate_limit_next, world.faults.rate_limit_seconds = 1, 2
    assert len(list(connector.changed_orders(T0, T0 + timedelta(minutes=30)))) == 2
    assert len(clock.slept) == 3 and sum(clock.slept[:2]) < 2 <= sum(clock.slept)
    assert len(server.requests) == 4


@pytest.mark.parametrize(("fault", "code"), [("error_5xx_next", "http-503"), ("error_5xx_rate", "20000")])
def test_a_failing_platform_is_retried_three_times_then_reported_as_retryable(server, connector, world, clock, fault, code):
    setattr(world.faults, fault, 4 if fault == "error_5xx_next" else 1.0)
    with pytest.raises(PlatformError) as failed:
        connector.fetch("6929458731209874417")
    assert (failed.value.code, failed.value.retryable) == (code, True)
    assert len(server.requests) == 4 and len(clock.slept) == 3


def test_an_answer_slower_than_the_timeout_is_retried(server, world, clock):
    order = _place(world, 1)[0]
    world.faults.slow_next, world.faults.slow_seconds = 1, 0.6
    conn = _connector(server, clock, timeout=0.25)
    assert conn.fetch(order.order_id).platform_order_no == order.order_id
    conn.close()
    assert len(server.requests) == 2 and len(clock.slept) == 1


def test_a_cut_off_list_page_is_retried_and_a_cut_off_payload_is_quarantined(server, connector, world, clock):
    _place(world, 3)
    world.faults.malformed_next = 1
    raws = list(connector.changed_orders(T0, T0 + timedelta(minutes=30)))
    assert len(raws) == 3 and len(clock.slept) == 1
    with pytest.raises(PayloadError, match="不是完整的 JSON"):
        connector.normalise(RawOrder(raws[0].platform_order_no, raws[0].body[:200], "order.searchList"))


def test_list_and_detail_give_the_same_verbatim_bytes_for_an_unchanged_order(connector, world):
    _place(world, 3)
    for raw in connector.changed_orders(T0, T0 + timedelta(minutes=30)):
        assert connector.fetch(raw.platform_order_no).body == raw.body
        assert json.loads(raw.body)["order_id"] == raw.platform_order_no


# --- normalise -----------------------------------------------------------------------------------------
def test_a_recorded_detail_with_a_gift_and_a_refunded_line_normalises_exactly(connector):
    body = (DATA / "order_detail_gift_refund.json").read_bytes()
    order = connector.normalise(RawOrder("6929458731209874417", body, "order.orderDetail"))
    assert (order.status, order.platform_status) == (OrderStatus.PAID, "2")
    assert (order.original_amount, order.paid_amount) == (Decimal("327.00"), Decimal("307.00"))
    assert [(ln.sku, ln.qty, ln.unit_price, ln.paid, ln.is_gift, ln.line_status, ln.platform_status) for ln in order.lines] == [
        ("T2601-02-110", 2, Decimal("69.00"), Decimal("129.56"), False, "normal", "2"),
        ("D2607-01-120", 1, Decimal("189.00"), Decimal("177.44"), False, "refunded", "4"),
        ("GIFT-SOCK-01-M", 1, Decimal("0.00"), Decimal("0.00"), True, "normal", "2")]
    assert (order.lines[0].color, order.lines[0].size, order.lines[0].platform_line_id) == ("浅蓝", "110", "6929458731209874417")
    r = order.receiver
    assert (r.name, r.phone, r.address) == ("李***", "1********78", "浙江省杭州市西湖区文新街道文一西路***号")
    assert (r.province, r.city, r.district, r.phone_tail) == ("浙江省", "杭州市", "西湖区", None)
    assert order.customer_id == "1@#oX4q2Vb9k8Hn5Q0cT7wLmR3sYpZ1eA6dFgJhK2uNvB8="
    assert r.token == r.ciphertext == "#bXq3Zk7tY0VwQ1nL8sR2cF5hJ9dA4gK6pW3eT0yU7iO2mN5vB8xC1zS4aD6fG9hJ2kL5qW8eR1tY4uI7oP0="
    assert order.ship_by == datetime(2025, 3, 10, 12, 15, 47, tzinfo=UTC)
    assert order.platform_updated_at == datetime(2025, 3, 8, 13, 2, 10, tzinfo=UTC)
    assert order.ordered_at == datetime(2025, 3, 8, 12, 15, 32, tzinfo=UTC)
    assert order.buyer_note == "宝宝身高115，麻烦发110码 & 不要放发票"
    assert order.ext == {"live_room_id": "7478652123098761234", "author_name": "童装搭配师安安"}  # no commission here


def test_a_recorded_shipped_order_shows_the_return_the_exchange_and_the_tracking_number(connector):
    body = (DATA / "shop_order_shipped_return_exchange.json").read_bytes()
    order = connector.normalise(RawOrder("6927811903446587120", body, "order.searchList"))
    assert (order.status, order.tracking_no, order.paid_amount) == (OrderStatus.SHIPPED, "SF1408839201736", Decimal("334.00"))
    assert [ln.line_status for ln in order.lines] == ["refunding", "frozen", "normal"]
    assert order.receiver.address == "广东省深圳市南山区粤海街道科技南十二路**号"
    assert order.ext == {"video_id": "7476901234567890123", "author_name": "萌娃穿搭日记"}
    assert order.ship_by == datetime(2025, 3, 8, 2, 2, 40, tzinfo=UTC) and order.seller_note == "退货已拦截，换货等新码"


@pytest.mark.parametrize(("change", "reason"), [
    (lambda o: o.pop("order_id"), "缺少订单号"),
    (lambda o: o.update(pay_amount="abc"), "实付金额「abc」不是以分为单位的整数"),
    (lambda o: o.update(order_amount=327.5), "订单金额「327.5」不是以分为单位的整数"),
    (lambda o: o["sku_order_list"][0].update(item_num=0), "数量「0」不是正整数"),
    (lambda o: o.update(order_status=42), "订单状态「42」无法识别"),
    (lambda o: o.update(update_time=1), "更新时间早于下单时间"),
    (lambda o: o.update(post_addr="浙江省杭州市"), "字段的类型"),
])
def test_malformed_or_impossible_orders_are_refused_in_business_language(connector, change, reason):
    order = json.loads((DATA / "shop_order_shipped_return_exchange.json").read_text(encoding="utf-8"))
    change(order)
    with pytest.raises(PayloadError, match=reason):
        connector.normalise(RawOrder("x", json.dumps(order, ensure_ascii=False).encode(), ""))


def test_simulated_orders_keep_their_money_gifts_refunds_and_cancellations(connector, world):
    placed = _place(world, 40)
    world.cancel(placed[0].order_id)
    world.request_refund(placed[1].order_id)
    world.ship(placed[2].order_id, "SF1000000000001")
    orders = {o.platform_order_no: o for o in map(connector.normalise, (connector.fetch(p.order_id) for p in placed))}
    for sim_order in placed:
        order = orders[sim_order.order_id]
        assert order.paid_amount == sum((ln.paid for ln in order.lines), Decimal(0)) + sim_order.post_fee
        assert [ln.is_gift for ln in order.lines] == [ln.is_gift for ln in sim_order.lines]
        assert all(ln.paid == 0 for ln in order.lines if ln.is_gift)
    assert orders[placed[0].order_id].status == OrderStatus.CANCELLED
    assert {ln.line_status for ln in orders[placed[0].order_id].lines} == {"refunded"}
    assert orders[placed[1].order_id].lines[0].line_status == "refunding"
    assert (orders[placed[2].order_id].status, orders[placed[2].order_id].tracking_no) == (OrderStatus.SHIPPED, "SF1000000000001")
    assert any(o.ext for o in orders.values()) and any(any(ln.is_gift for ln in o.lines) for o in orders.values())


# --- pushes ----------------------------------------------------------------------------------------------
def test_a_signed_push_names_the_topic_and_order_and_a_forged_one_is_refused(sim, connector, world):
    order = _place(world, 1)[0]
    headers, body = sim.push_message("address_changed", world.change_address(order.order_id))
    low = {k.lower(): v for k, v in headers.items()}
    message = connector.parse_push(low, body)
    assert message == PushMessage(message.msg_id, "trade_TradeAddressChanged", order.order_id) and message.msg_id
    for forged_headers, forged_body in [(low, body.replace(b'"105"', b'"106"')), ({**low, "app-id": "other"}, body),
                                        ({k: v for k, v in low.items() if k != "event-sign"}, body)]:
        with pytest.raises(PlatformError) as refused:
            connector.parse_push(forged_headers, forged_body)
        assert refused.value.code == "sign"


def test_world_changes_reach_the_hub_as_signed_pushes_in_order(world, clock):
    received = []
    hub = SimServer(lambda req: received.append(req) or Response(200, b'{"code":0,"msg":"success"}')).start()
    creds = Credentials(APP_KEY, SECRET, "tok-1", "ref-1")
    sim = make_simulator(world, creds, push_url=f"{hub.url}/push/DY-FLAG", push_sign_method="hmac-sha256")
    conn = DouyinConnector("http://127.0.0.1:9", creds, clock=clock)
    try:
        a, b, c = _place(world, 3)
        world.change_address(a.order_id)
        world.cancel(b.order_id)
        world.request_refund(c.order_id)
        world.note(c.order_id, "加急")  # not a pushed topic
        assert sim.flush()
        messages = [conn.parse_push(r.headers, r.body) for r in received]
    finally:
        sim.close()
        hub.stop()
        conn.close()
    assert [(m.topic, m.platform_order_no) for m in messages] == [
        ("trade_TradeAddressChanged", a.order_id), ("trade_TradeCanceled", b.order_id), ("refund_RefundCreated", c.order_id)]
    assert len({m.msg_id for m in messages}) == 3 and [status for _, _, status in sim.pushed] == [200, 200, 200]
