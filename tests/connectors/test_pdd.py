"""拼多多 connector against its simulator over real loopback HTTP: signing, backward paging, windows, faults, pushes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from app.domain.status import OrderStatus
from connectors.base import Credentials, PayloadError, PlatformError, RawOrder, RetryPolicy, plan_windows, utc_now
from connectors.pdd import LIST_API, REFRESH_API, ROUTER, PddConnector, sign
from connectors.simulators.pdd import make_simulator
from connectors.simulators.server import Request, Response, SimServer
from connectors.simulators.world import SimWorld

DATA = Path(__file__).resolve().parents[1] / "data" / "pdd"
CID, SECRET = "9c2f5e81a7d34b06b1e4", "3f9a0c7e5d2b4a18c6e0f2a4b6d8e0c1a3b5d7f9"


def _serve(handler) -> SimServer:
    server = SimServer(handler)
    # Answer without Nagle's delay (headers and body go out as two writes): 230 orders in ~1 s, not ~10 s.
    server.httpd.RequestHandlerClass.disable_nagle_algorithm = True
    return server.start()


def _shop(*, secret: str = SECRET, refresh: str = "refresh-1", skew: timedelta = timedelta(0), timeout: float = 5.0,
          **sim_kw):
    world = SimWorld("pdd", seed=8)
    sim = make_simulator(world, Credentials(CID, SECRET, access_token="token-1", refresh_token="refresh-1"), **sim_kw)
    server = _serve(sim.handle)
    creds, sleeps, saved = Credentials(CID, secret, access_token="token-1", refresh_token=refresh), [], []
    con = PddConnector(server.url, creds, timeout=timeout, policy=RetryPolicy(sleep=sleeps.append),
                       clock=lambda: utc_now() + skew, on_credentials_changed=lambda c: saved.append(c.access_token))
    return SimpleNamespace(world=world, sim=sim, server=server, creds=creds, con=con, sleeps=sleeps, saved=saved)


@pytest.fixture
def shop():
    s = _shop()
    yield s
    s.con.close()
    s.server.stop()


@pytest.fixture
def offline() -> PddConnector:
    """A connector for what needs no server (normalising, verifying pushes)."""
    return PddConnector("http://127.0.0.1:9", Credentials(CID, SECRET))


def _types(shop) -> list[str]:
    return [json.loads(r.body)["type"] for r in shop.server.requests]


def _window(shop, minutes: int = 30):
    end = shop.world.now() - timedelta(minutes=3)
    return end - timedelta(minutes=minutes), end


def _router(shop, **params) -> dict:
    """A hand-made signed call, for asking the simulator what the connector never would."""
    p = {"type": LIST_API, "client_id": CID, "access_token": shop.creds.access_token, "data_type": "JSON",
         "timestamp": str(int(time.time()))} | {k: str(v) for k, v in params.items()}
    p["sign"] = sign(p, SECRET)
    return requests.post(shop.server.url + ROUTER, json=p, timeout=5).json()


def _raw(name: str) -> RawOrder:
    return RawOrder("", (DATA / name).read_bytes(), "order.information.get")


def test_the_signature_reproduces_pdds_documented_example():
    params = {"type": "pdd.order.number.list.get", "client_id": "1", "data_type": "XML",
              "access_token": "asd78172s8ds9a921j9qqwda12312w1w21211", "timestamp": "1480411125",
              "order_status": "1", "page": "1", "page_size": "10"}
    documented = ("testSecretaccess_tokenasd78172s8ds9a921j9qqwda12312w1w21211client_id1data_typeXMLorder_status1"
                  "page1page_size10timestamp1480411125typepdd.order.number.list.gettestSecret")
    assert "testSecret" + "".join(k + params[k] for k in sorted(params)) + "testSecret" == documented
    assert sign(params, "testSecret") == "E4DE3ED21002510DED352819E7AE6775"
    assert sign(params | {"sign": "ignored"}, "testSecret") == "E4DE3ED21002510DED352819E7AE6775"


def test_a_signed_call_is_accepted_and_a_wrong_secret_is_refused_with_20004_without_retrying(shop):
    shop.world.create(2, at=shop.world.now() - timedelta(minutes=10))
    assert len(list(shop.con.changed_orders(*_window(shop)))) == 2
    s = _shop(secret="not-the-secret")
    try:
        with pytest.raises(PlatformError) as err:
            list(s.con.changed_orders(*_window(s)))
        assert err.value.code == "20004" and not err.value.retryable
        assert len(s.server.requests) == 1 and s.sleeps == []
    finally:
        s.server.stop()


def test_a_clock_more_than_ten_minutes_off_is_refused_and_nine_minutes_is_accepted():
    late, fine = _shop(skew=timedelta(minutes=-11)), _shop(skew=timedelta(minutes=9))
    try:
        with pytest.raises(PlatformError) as err:
            list(late.con.changed_orders(*_window(late)))
        assert (err.value.code, err.value.sub_code) == ("10000", "timestamp_invalid") and late.sleeps == []
        assert list(fine.con.changed_orders(*_window(fine))) == []
    finally:
        late.server.stop()
        fine.server.stop()


def test_an_expired_token_is_refreshed_once_with_the_refresh_token_and_the_call_succeeds(shop):
    shop.world.create(2, at=shop.world.now() - timedelta(minutes=10))
    shop.world.faults.expire_token_next = 1
    assert len(list(shop.con.changed_orders(*_window(shop)))) == 2
    assert _types(shop).count(REFRESH_API) == 1 and shop.creds.access_token != "token-1"
    assert shop.saved == [shop.creds.access_token] and shop.sleeps == []


def test_an_expired_token_without_a_refresh_token_asks_for_a_new_authorisation():
    s = _shop(refresh="")
    try:
        s.world.faults.expire_token_next = 1
        with pytest.raises(PlatformError, match="重新授权"):
            list(s.con.changed_orders(*_window(s)))
    finally:
        s.server.stop()


def test_230_orders_are_paged_from_the_last_page_back_and_an_order_changed_meanwhile_is_not_lost(shop):
    made = shop.world.create(230, at=shop.world.now() - timedelta(minutes=20))
    pages: list[tuple[int, list[str]]] = []

    def between_pages(page: int, sns: list[str]) -> None:
        pages.append((page, sns))
        if len(pages) == 2:  # while the last page is served, a buyer edits an order on page 1
            shop.world.change_address(first_page[0], "解放路88号")

    first_page = [o.order_id for o in sorted(made, key=lambda o: (o.updated, o.order_id), reverse=True)[:100]]
    shop.sim.on_list_page = between_pages
    start, end = _window(shop)
    raws = list(shop.con.changed_orders(start, end))
    assert [p for p, _ in pages] == [1, 3, 2, 1]  # count, then last page first
    got = [r.platform_order_no for r in raws]
    assert len(got) == len(set(got)) == 229 and set(got) == {o.order_id for o in made} - {first_page[0]}
    [moved] = list(shop.con.changed_orders(end, shop.world.now() + timedelta(seconds=1)))  # the next window
    assert moved.platform_order_no == first_page[0]
    fresh = shop.con.normalise(moved)
    assert fresh.platform_updated_at > end and fresh.receiver.address.endswith("解放****")  # masked, as PDD sends


def test_a_forward_pager_would_lose_an_order_in_the_same_situation(shop):
    made = shop.world.create(230, at=shop.world.now() - timedelta(minutes=20))
    start, end = (int(t.timestamp()) for t in _window(shop))
    seen: list[str] = []
    for page in (1, 2, 3):
        got = _router(shop, start_updated_at=start, end_updated_at=end, page=page, page_size=100)
        seen += [o["order_sn"] for o in got["order_sn_increment_get_response"]["order_sn_list"]]
        if page == 1:
            shop.world.note(seen[0], "改为周末送货")  # leaves the window: everything after it moves up one
    lost = {o.order_id for o in made} - set(seen) - {seen[0]}
    assert len(lost) == 1


def test_the_simulator_refuses_a_window_over_30_minutes_and_the_connector_keeps_to_it(shop):
    now = int(time.time())
    refused = _router(shop, start_updated_at=now - 1801 - 180, end_updated_at=now - 180, page=1, page_size=100)
    assert refused["error_response"]["sub_code"] == "time_range_invalid"
    shop.world.create(3, at=shop.world.now() - timedelta(minutes=100))
    shop.world.create(2, at=shop.world.now() - timedelta(minutes=10))
    raws = list(shop.con.changed_orders(*_window(shop, minutes=120)))
    assert len(raws) == 5
    lists = [json.loads(r.body) for r in shop.server.requests[1:] if json.loads(r.body)["type"] == LIST_API]
    assert len(lists) == 4 and all(int(b["end_updated_at"]) - int(b["start_updated_at"]) <= 1800 for b in lists)
    windows = plan_windows(None, shop.world.now(), max_window=PddConnector.max_window, overlap=timedelta(minutes=2),
                           lag=PddConnector.lag, first_lookback=timedelta(hours=2))
    assert all(e - s <= timedelta(minutes=30) for s, e in windows)
    assert windows[-1][1] == shop.world.now() - timedelta(minutes=3)


def test_a_window_ending_now_misses_changes_pdd_has_not_indexed_yet():
    s = _shop(index_delay=120)
    try:
        s.world.create(1, at=s.world.now() - timedelta(minutes=10))
        s.world.create(1, at=s.world.now() - timedelta(seconds=30))
        now = s.world.now()
        assert len(list(s.con.changed_orders(now - timedelta(minutes=30), now))) == 1
    finally:
        s.server.stop()


def test_the_simulator_refuses_a_page_size_over_100(shop):
    now = int(time.time())
    refused = _router(shop, start_updated_at=now - 1200, end_updated_at=now - 180, page=1, page_size=101)
    assert refused["error_response"]["error_code"] == 10000 and "page_size" in refused["error_response"]["sub_msg"]


def test_a_rate_limit_ban_is_waited_out_for_the_seconds_pdd_names(shop):
    shop.world.create(1, at=shop.world.now() - timedelta(minutes=10))
    shop.world.faults.rate_limit_next, shop.world.faults.rate_limit_seconds = 1, 7
    assert len(list(shop.con.changed_orders(*_window(shop)))) == 1
    assert shop.sleeps == [8.0]


def test_a_gateway_5xx_is_retried_exactly_three_times_then_reported_as_retryable(shop):
    shop.world.faults.error_5xx_next = 4
    with pytest.raises(PlatformError) as err:
        list(shop.con.changed_orders(*_window(shop)))
    assert err.value.code == "http-503" and err.value.retryable
    assert len(shop.sleeps) == 3 and len(shop.server.requests) == 4


def test_an_answer_slower_than_the_timeout_is_retried():
    s = _shop(timeout=0.3)
    try:
        s.world.create(1, at=s.world.now() - timedelta(minutes=10))
        s.world.faults.slow_next, s.world.faults.slow_seconds = 1, 0.8
        assert len(list(s.con.changed_orders(*_window(s)))) == 1 and len(s.sleeps) == 1
    finally:
        s.server.stop()


def test_a_truncated_list_page_is_retried_and_a_truncated_detail_is_quarantined(shop):
    [order] = shop.world.create(1, at=shop.world.now() - timedelta(minutes=10))
    shop.world.faults.malformed_next = 1
    assert len(list(shop.con.changed_orders(*_window(shop)))) == 1 and len(shop.sleeps) == 1
    shop.world.faults.malformed_next = 1
    raw = shop.con.fetch(order.order_id)
    with pytest.raises(PayloadError, match="不是有效的 JSON"):
        shop.con.normalise(raw)


def test_a_detail_is_kept_without_its_envelope_and_a_whole_answer_stored_before_reads_the_same(shop):
    # The answer's request_id changes on every call: kept, it made each re-read a "new" payload.
    [order] = shop.world.create(1, at=shop.world.now() - timedelta(minutes=10))
    first, again = shop.con.fetch(order.order_id), shop.con.fetch(order.order_id)
    assert first.body == again.body and b"request_id" not in first.body
    assert json.loads(first.body)["order_sn"] == order.order_id
    # a payload stored whole by an earlier version (customers' databases, the audit story) still reads
    whole = json.dumps({"order_info_get_response": {"order_info": json.loads(first.body), "request_id": "7f3a"}},
                       ensure_ascii=False).encode()
    assert shop.con.normalise(RawOrder(order.order_id, whole, "order.information.get")) == shop.con.normalise(first)
    with pytest.raises(PayloadError, match="缺少订单内容"):
        shop.con.normalise(RawOrder("", b'{"order_info_get_response":{"request_id":"7f3a"}}', "x"))


def test_a_recorded_order_normalises_to_exact_yuan_gift_masked_receiver_ext_and_ship_by(offline):
    order = offline.normalise(_raw("order_information_get_masked_gift.json"))
    assert order.platform_order_no == "251128-094512938475612"
    assert order.status == OrderStatus.PAID and order.platform_status == "1/1/2"
    assert order.original_amount == Decimal("348.80") and order.paid_amount == Decimal("313.92")
    assert [(ln.sku, ln.qty, ln.unit_price, ln.paid, ln.is_gift, ln.line_status) for ln in order.lines] == [
        ("W2602-01-120", 2, Decimal("129.90"), Decimal("233.82"), False, "refunding"),
        ("F2604-02-130", 1, Decimal("89.00"), Decimal("80.10"), False, "refunding"),
        ("GIFT-SOCK-02-M", 1, Decimal("0.00"), Decimal("0.00"), True, "refunding"),
    ]
    assert (order.lines[0].color, order.lines[0].size, order.lines[0].platform_status) == (
        "燕麦色", "120", "after_sales_status=2")
    r = order.receiver
    assert (r.name, r.phone, r.address) == ("陈**", "139****6621", "浙江省杭州市西湖区文三路****")
    assert (r.province, r.city, r.district, r.token) == ("浙江省", "杭州市", "西湖区", "1c1e0d9b7a5f43f2b2b6a3d4c5e6f7a8b")
    assert order.customer_id == r.token and r.phone_tail == "6621"
    assert order.ext == {"group_order_id": "932107654321987654"}
    assert order.ship_by == datetime(2025, 11, 30, 8, 0, 30, tzinfo=UTC)  # last_ship_time is Beijing time
    assert order.paid_at == datetime(2025, 11, 28, 8, 0, 30, tzinfo=UTC)
    assert order.platform_updated_at == datetime(2025, 11, 28, 10, 42, 7, tzinfo=UTC)
    assert order.buyer_note == "麻烦发顺丰"


def test_a_refund_that_succeeded_cancels_the_order_and_refunds_its_lines(offline):
    order = offline.normalise(_raw("order_information_get_refund_success.json"))
    assert order.status == OrderStatus.CANCELLED and order.platform_status == "1/1/4"
    assert [(ln.paid, ln.line_status) for ln in order.lines] == [(Decimal("143.10"), "refunded")]
    assert order.receiver.name == "王**" and order.ext == {} and order.seller_note == "已退款"


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda o: o.pop("order_sn"), "缺少订单号"),
    (lambda o: o.update(pay_amount="abc"), "金额的值「abc」无效"),
    (lambda o: o.update(discount_amount=999), "金额不合理"),
    (lambda o: o["item_list"][0].update(goods_count=0), "数量或价格不合理"),
    (lambda o: o.update(updated_at="2025/11/28"), "更新时间「2025/11/28」不是有效时间"),
    (lambda o: o.update(confirm_status=1, order_status=9), "订单状态「9」无法识别"),
    (lambda o: o.update(item_list=[]), "没有商品"),
])
def test_an_impossible_order_is_refused_in_plain_words(offline, edit, reason):
    doc = json.loads((DATA / "order_information_get_masked_gift.json").read_text(encoding="utf-8"))
    info = doc["order_info_get_response"]["order_info"]
    info["refund_status"] = 1
    edit(info)
    with pytest.raises(PayloadError, match=reason):
        offline.normalise(RawOrder("", json.dumps(doc, ensure_ascii=False).encode(), "order.information.get"))
    with pytest.raises(PayloadError, match="错误应答"):
        offline.normalise(RawOrder("", b'{"error_response":{"error_code":10000,"error_msg":"x"}}', "x"))


def test_a_signed_message_is_read_and_a_forged_or_stale_one_refused(shop):
    [order] = shop.world.create(1)
    frame = shop.sim.push_frame("pdd_trade_TradeLogisticsAddressChanged", order)
    body = json.dumps(frame).encode()
    headers = {k.lower(): v for k, v in shop.sim.push_headers().items()}
    msg = shop.con.parse_push(headers, body)
    assert (msg.msg_id, msg.topic, msg.platform_order_no) == (
        str(frame["id"]), "pdd_trade_TradeLogisticsAddressChanged", order.order_id)
    for bad, code in ((shop.sim.push_headers(secret="not-the-secret"), "sign"),
                      (shop.sim.push_headers(time_ms=int(time.time() * 1000) - 11 * 60_000), "timestamp")):
        with pytest.raises(PlatformError) as err:
            shop.con.parse_push({k.lower(): v for k, v in bad.items()}, body)
        assert err.value.code == code


def test_the_simulator_forwards_a_refund_message_to_the_hub_signed():
    got: list[Request] = []

    def receive(req: Request) -> Response:
        got.append(req)
        return Response(200, b'{"ok":true}')

    hub = _serve(receive)
    s = _shop(push_url=f"{hub.url}/push/S1")
    try:
        [order] = s.world.create(1, at=s.world.now() - timedelta(minutes=10))
        s.world.request_refund(order.order_id)
        deadline = time.time() + 5
        while not got and time.time() < deadline:
            time.sleep(0.02)
        [req] = got
        msg = s.con.parse_push(req.headers, req.body)
        assert (msg.topic, msg.platform_order_no) == ("pdd_refund_RefundCreated", order.order_id)
        assert s.con.normalise(s.con.fetch(order.order_id)).lines[0].line_status == "refunding"
    finally:
        s.server.stop()
        hub.stop()
