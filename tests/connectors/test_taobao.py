"""淘宝/天猫 connector against the loopback TOP simulator over real HTTP: signing, paging, faults, payloads, pushes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from app.domain.status import OrderStatus
from connectors.base import Credentials, PayloadError, PlatformError, RawOrder, RetryPolicy, plan_windows
from connectors.simulators.server import Request, Response, SimServer
from connectors.simulators.taobao import TaobaoSimulator, make_simulator
from connectors.simulators.world import SimWorld
from connectors.taobao import TaobaoConnector, sign, top_time

DATA = Path(__file__).resolve().parents[1] / "data" / "taobao"
CREDS = dict(app_key="12345678", app_secret="sim-secret-0123456789", access_token="6201session",
             refresh_token="6202refresh")


class Gateway:
    """One loopback server for the whole module, routed to the current test's simulator.

    Starting and stopping a server per test costs half a second each (shutdown polling);
    the HTTP exchanges are as real either way.
    """

    def __init__(self) -> None:
        self.sim: TaobaoSimulator | None = None
        self.server = SimServer(lambda request: self.sim.handle(request))
        # answer headers and body without waiting on delayed ACKs (40 ms a call otherwise)
        self.server.httpd.RequestHandlerClass.disable_nagle_algorithm = True
        self.server.start()


class Shop:
    """A simulated TOP shop behind the gateway and a way to make connectors for it."""

    def __init__(self, gateway: Gateway, platform: str = "taobao", **sim_kw) -> None:
        self.world = SimWorld(platform, seed=5)
        self.sim: TaobaoSimulator = make_simulator(self.world, Credentials(**CREDS), **sim_kw)
        gateway.sim, self.server = self.sim, gateway.server
        self.server.requests.clear()
        self.sleeps: list[float] = []
        self.changed: list[Credentials] = []

    def connector(self, *, timeout: float = 5.0, clock=None, **creds) -> TaobaoConnector:
        kw = {"clock": clock} if clock else {}
        return TaobaoConnector(self.server.url, Credentials(**{**CREDS, **creds}), platform=self.world.platform,
                               timeout=timeout, policy=RetryPolicy(sleep=self.sleeps.append),
                               on_credentials_changed=self.changed.append, **kw)

    def methods(self) -> list[str]:
        return [_form(r).get("method", "") for r in self.server.requests]

    def list_calls(self) -> list[dict[str, str]]:
        return [c for c in self.sim.calls if c["method"] == "taobao.trades.sold.increment.get"]


def _form(request: Request) -> dict[str, str]:
    return dict(parse_qsl(request.body.decode(), keep_blank_values=True))


@pytest.fixture(scope="module")
def gateway():
    made = Gateway()
    yield made
    made.server.stop()


@pytest.fixture
def shop(gateway):
    return Shop(gateway)


def _tids(raws) -> list[str]:
    return [r.platform_order_no for r in raws]


# --- signing ---------------------------------------------------------------------------------------------
def test_the_signature_matches_the_published_top_md5_example():
    # TOP doc articleId=101617: secret "helloworld" → 66987CB115214E59E6EC978214934FB8
    params = {"method": "taobao.item.seller.get", "app_key": "12345678", "session": "test",
              "timestamp": "2016-01-01 12:00:00", "format": "json", "v": "2.0", "sign_method": "md5",
              "fields": "num_iid,title,nick,price,num", "num_iid": "11223344", "empty": ""}
    assert sign(params, "helloworld", "md5") == "66987CB115214E59E6EC978214934FB8"


def test_hmac_signatures_are_bare_hmacs_of_the_sorted_pairs_as_the_rfc_vectors_show():
    # {"Hi": " There"} concatenates to "Hi There", the RFC 2202 / RFC 4231 test message
    assert sign({"Hi": " There"}, "\x0b" * 16, "hmac") == "9294727A3638BB1C13F48EF8158BFC9D"
    assert sign({"Hi": " There"}, "\x0b" * 20, "hmac-sha256") == (
        "B0344C61D8DB38535CA8AFCEAF0BF12B881DC200C9833DA726E9376C2E32CFF7")


@pytest.mark.parametrize("method", ["md5", "hmac", "hmac-sha256"])
def test_a_correctly_signed_request_is_accepted_and_a_wrong_secret_is_refused_with_code_25_at_once(shop, method):
    [order] = shop.world.create(1)
    good = TaobaoConnector(shop.server.url, Credentials(**CREDS, extra={"sign_method": method}),
                           policy=RetryPolicy(sleep=shop.sleeps.append))
    assert good.normalise(good.fetch(order.order_id)).platform_order_no == order.order_id
    before = len(shop.server.requests)
    with pytest.raises(PlatformError) as caught:
        shop.connector(app_secret="wrong-secret").fetch(order.order_id)
    assert caught.value.code == "25" and not caught.value.retryable and "签名错误" in caught.value.message
    assert len(shop.server.requests) == before + 1 and shop.sleeps == []


def test_a_clock_more_than_ten_minutes_off_is_refused_with_code_31(shop):
    [order] = shop.world.create(1)
    late = shop.connector(clock=lambda: datetime.now(UTC) + timedelta(minutes=11))
    with pytest.raises(PlatformError) as caught:
        late.fetch(order.order_id)
    assert caught.value.code == "31" and "校准时间" in caught.value.message
    assert shop.connector(clock=lambda: datetime.now(UTC) + timedelta(minutes=9)).fetch(order.order_id)


# --- tokens ----------------------------------------------------------------------------------------------
def test_an_expired_session_is_refreshed_once_and_the_call_goes_through_with_the_new_token(shop):
    [order] = shop.world.create(1)
    connector = shop.connector()
    shop.world.faults.expire_token_next = 1
    raw = connector.fetch(order.order_id)
    assert connector.normalise(raw).platform_order_no == order.order_id
    assert shop.methods() == ["taobao.trade.fullinfo.get", "taobao.top.auth.token.refresh", "taobao.trade.fullinfo.get"]
    [renewed] = shop.changed
    assert renewed.access_token == shop.sim.session != CREDS["access_token"]
    assert renewed.refresh_token == shop.sim.refresh_token and connector.credentials == renewed
    assert shop.sleeps == []


def test_an_expired_session_without_a_refresh_token_asks_the_merchant_to_authorise_again(shop):
    [order] = shop.world.create(1)
    shop.world.faults.expire_token_next = 1
    with pytest.raises(PlatformError) as caught:
        shop.connector(refresh_token="").fetch(order.order_id)
    assert caught.value.code == "27" and "重新授权" in caught.value.message and not caught.value.retryable
    with pytest.raises(PlatformError) as refused:  # a stale refresh token: TOP refuses, the merchant must act
        shop.connector(refresh_token="6202stale").fetch(order.order_id)
    assert "重新授权" in refused.value.message and shop.changed == []


# --- paging and windows ----------------------------------------------------------------------------------
def test_230_orders_on_three_pages_come_back_once_even_when_one_changes_while_paging(shop):
    now = shop.world.now()
    made = shop.world.create(230, at=now - timedelta(minutes=20))
    ranked = [o.order_id for o in shop.world.modified_between(now - timedelta(minutes=25), now)]
    moved = ranked[150]  # on page 2, read after the change

    def change_once(page_no: int) -> None:
        if page_no == 3 and not shop.world.history:
            shop.world.change_address(moved, "解放路88号")  # modified now: leaves this past window

    shop.sim.after_page = change_once
    connector = shop.connector()
    end = now - timedelta(seconds=30)
    first = _tids(connector.changed_orders(now - timedelta(minutes=25), end))
    second = _tids(connector.changed_orders(end, shop.world.now() + timedelta(seconds=1)))
    assert len(first) == len(set(first)) == 229 and second == [moved]
    assert sorted(first + second) == sorted(o.order_id for o in made)
    pages = [int(c["page_no"]) for c in shop.list_calls()][:5]
    assert pages == [1, 3, 2, 1, 1]  # count, then from the last page backwards, then the next window
    assert all(c["page_size"] == "100" for c in shop.list_calls())


def test_an_order_changing_inside_a_window_that_reaches_now_is_still_read_exactly_once(shop):
    now = shop.world.now()
    made = shop.world.create(230, at=now - timedelta(minutes=20))
    moved = made[7].order_id
    shop.sim.after_page = lambda page_no: page_no == 3 and not shop.world.history and shop.world.note(moved, "加急")
    raws = list(shop.connector().changed_orders(now - timedelta(minutes=25), now + timedelta(minutes=1)))
    assert sorted(_tids(raws)) == sorted(o.order_id for o in made)
    assert next(r for r in raws if r.platform_order_no == moved).body.count("加急".encode()) == 1


def test_entries_repeated_on_several_pages_are_yielded_once(shop):
    now = shop.world.now()
    made = shop.world.create(150, at=now - timedelta(minutes=10))
    shop.world.faults.duplicate_rate = 1.0
    tids = _tids(shop.connector().changed_orders(now - timedelta(minutes=15), now))
    assert sorted(tids) == sorted(o.order_id for o in made)


def test_the_simulator_refuses_a_window_over_one_day_and_a_page_over_100(shop):
    connector, now = shop.connector(), shop.world.now()
    base = {"fields": "tid,modified", "end_modified": top_time(now)}
    wide = {**base, "start_modified": top_time(now - timedelta(days=1, minutes=1))}
    with pytest.raises(PlatformError) as caught:
        connector.call("taobao.trades.sold.increment.get", wide)
    assert caught.value.code == "15" and caught.value.sub_code == "isv.invalid-parameter" and not caught.value.retryable
    big = {**base, "start_modified": base["end_modified"], "page_size": "101"}
    with pytest.raises(PlatformError) as caught:
        connector.call("taobao.trades.sold.increment.get", big)
    assert caught.value.code == "41"


def test_the_connector_never_asks_for_a_window_wider_than_thirty_minutes(shop):
    now = shop.world.now()
    made = shop.world.create(40, at=now - timedelta(hours=2, minutes=50))
    connector = shop.connector()
    direct = _tids(connector.changed_orders(now - timedelta(hours=3), now))  # split inside changed_orders
    planned = [t for start, end in plan_windows(None, now, max_window=connector.max_window, overlap=timedelta(0),
                                                first_lookback=timedelta(hours=3))
               for t in _tids(connector.changed_orders(start, end))]
    assert sorted(set(direct)) == sorted(set(planned)) == sorted(o.order_id for o in made)
    for call in shop.list_calls():
        start, end = (datetime.strptime(call[k], "%Y-%m-%d %H:%M:%S") for k in ("start_modified", "end_modified"))
        assert timedelta(0) < end - start <= timedelta(minutes=30)
    assert len({(c["start_modified"], c["end_modified"]) for c in shop.list_calls()}) == 6  # 3 h in 30 min steps


# --- faults ----------------------------------------------------------------------------------------------
def test_a_rate_limit_ban_is_waited_out_for_the_seconds_the_platform_names(shop):
    [order] = shop.world.create(1)
    shop.world.faults.rate_limit_next, shop.world.faults.rate_limit_seconds = 1, 3
    assert shop.connector().fetch(order.order_id).platform_order_no == order.order_id
    assert shop.sleeps == [4.0]  # "This ban will last for 3 more seconds": whole seconds, so one more


def test_a_ban_longer_than_a_minute_is_reported_not_slept_through(shop):
    [order] = shop.world.create(1)
    shop.world.faults.rate_limit_next, shop.world.faults.rate_limit_seconds = 1, 3600
    with pytest.raises(PlatformError) as caught:
        shop.connector().fetch(order.order_id)
    assert caught.value.code == "7" and caught.value.retry_after == 3601 and not caught.value.retryable
    assert "分钟后恢复" in caught.value.message and shop.sleeps == []


def test_a_gateway_5xx_is_retried_exactly_three_times_then_reported_as_retryable(shop):
    [order] = shop.world.create(1)
    shop.world.faults.error_5xx_next = 4
    with pytest.raises(PlatformError) as caught:
        shop.connector().fetch(order.order_id)
    assert caught.value.code == "http-502" and caught.value.retryable
    assert len(shop.server.requests) == 4 and len(shop.sleeps) == 3
    assert shop.sleeps[0] < shop.sleeps[1] < shop.sleeps[2]  # backoff grows


def test_a_remote_service_error_is_retried_and_then_succeeds(shop):
    [order] = shop.world.create(1)
    shop.sim.remote_error_next = 2
    assert shop.connector().fetch(order.order_id)
    assert len(shop.sleeps) == 2


def test_a_slow_answer_past_the_timeout_is_asked_again(shop):
    [order] = shop.world.create(1)
    shop.world.faults.slow_next, shop.world.faults.slow_seconds = 1, 0.8
    started = time.monotonic()
    assert shop.connector(timeout=0.3).fetch(order.order_id).platform_order_no == order.order_id
    assert len(shop.sleeps) == 1 and time.monotonic() - started < 5


def test_a_cut_off_list_page_is_retried_and_a_detail_cut_off_every_time_is_handed_on_for_quarantine(shop):
    now = shop.world.now()
    made = shop.world.create(3, at=now - timedelta(minutes=5))
    connector = shop.connector()
    shop.world.faults.malformed_next = 1  # the first list page
    assert sorted(_tids(connector.changed_orders(now - timedelta(minutes=10), now))) == sorted(o.order_id for o in made)
    assert len(shop.sleeps) == 1
    shop.world.faults.malformed_next = 4  # every try of one detail
    raw = connector.fetch(made[0].order_id)
    with pytest.raises(PayloadError, match="不是完整的 JSON"):
        connector.normalise(raw)


# --- payloads --------------------------------------------------------------------------------------------
def _fixture(name: str) -> RawOrder:
    body = (DATA / name).read_bytes()
    tid = json.loads(body)["trade_fullinfo_get_response"]["trade"]["tid_str"]
    return RawOrder(tid, body, "taobao.trade.fullinfo.get")


def test_a_recorded_tmall_trade_gives_exact_money_line_states_the_gift_and_the_masked_receiver():
    connector = TaobaoConnector("", Credentials("k", "s"), platform="tmall")
    order = connector.normalise(_fixture("tmall_fullinfo_gift_refund.json"))
    assert order.platform == "tmall" and order.platform_order_no == "4128839201567731845"
    assert order.status == OrderStatus.PAID and order.platform_status == "WAIT_SELLER_SEND_GOODS"
    assert (order.original_amount, order.paid_amount) == (Decimal("337.00"), Decimal("317.00"))
    tee, jeans, socks = order.lines
    assert (tee.sku, tee.qty, tee.unit_price, tee.paid, tee.color, tee.size) == (
        "T2601-01-110", 2, Decimal("69.00"), Decimal("129.81"), "白色", "110")
    assert (tee.line_status, jeans.line_status, socks.line_status) == ("normal", "refunded", "normal")
    assert jeans.platform_status == "TRADE_CLOSED/SUCCESS" and jeans.platform_line_id == "4128839201569731845"
    assert socks.is_gift and not tee.is_gift and not jeans.is_gift and socks.paid == Decimal("0.00")
    assert order.receiver.name == "陈**" and order.receiver.phone == "139****4821"
    assert order.receiver.address == "文一西路969号*幢*单元" and order.receiver.phone_tail == "4821"
    assert (order.receiver.province, order.receiver.city, order.receiver.district) == ("浙江省", "杭州市", "余杭区")
    assert order.receiver.token == order.ext["oaid"] and order.customer_id == "AAGmT2xhQ7Vq3bN8YkRfW1pZ"
    assert order.ext == {"oaid": "1Ua7ypCBqz2Rk8hbT3kvSOBU4ib5PicgiawjMVpibficHwYDlR9lP1hiaz3UjDRw",
                         "coupon_id": "Tmall$shopbonus-3398120455_251209783"}
    assert order.platform_updated_at == datetime(2026, 3, 15, 1, 2, 11, tzinfo=UTC)  # GMT+8 → UTC
    assert order.paid_at == datetime(2026, 3, 14, 12, 15, 42, tzinfo=UTC)
    assert order.ship_by == datetime(2026, 3, 16, 12, 15, 42, tzinfo=UTC)  # the earliest line still to ship
    assert order.buyer_note == "麻烦发顺丰，谢谢" and order.seller_note == "牛仔裤已退款，其余照常发"


def test_a_recorded_taobao_trade_keeps_the_ciphertext_receiver_and_reads_a_relative_deadline():
    order = TaobaoConnector("", Credentials("k", "s")).normalise(_fixture("taobao_fullinfo_encrypted_shipped.json"))
    assert order.platform == "taobao" and order.status == OrderStatus.SHIPPED
    assert order.receiver.name == "~5LiK5rW35biC6Z2S5rWm5Yy65p2O5Zub~1~"
    assert order.receiver.phone == "$186$hJ7cRkR3oN2gq4VYtZp8kg==$1$" and order.receiver.province == "上海"
    [coat] = order.lines
    assert coat.line_status == "refunding" and coat.paid == Decimal("129.00") and order.paid_amount == Decimal("139.00")
    assert order.tracking_no == "78451290336521" and "coupon_id" not in order.ext
    assert order.ship_by == order.paid_at + timedelta(hours=48)


def _broken(change) -> bytes:
    doc = json.loads((DATA / "tmall_fullinfo_gift_refund.json").read_bytes())
    change(doc["trade_fullinfo_get_response"]["trade"])
    return json.dumps(doc, ensure_ascii=False).encode()


@pytest.mark.parametrize(("body", "reason"), [
    (_broken(lambda t: (t.pop("tid"), t.pop("tid_str"))), "缺少订单号"),
    (_broken(lambda t: t.update(payment="abc")), "实付金额「abc」不是数字"),
    (_broken(lambda t: t["orders"]["order"][0].update(price="-1.00")), "不能为负数"),
    (_broken(lambda t: t.update(status="SOMETHING_NEW")), "未知的订单状态"),
    (_broken(lambda t: t["orders"]["order"][0].update(num=0)), "不是正整数"),
    (_broken(lambda t: t.update(modified="2026/03/15 09:02")), "格式不对"),
    (_broken(lambda t: t["orders"].update(order=[])), "没有商品明细"),
    (_broken(lambda t: t["orders"]["order"][0].pop("outer_sku_id") and t["orders"]["order"][0].pop("outer_iid")),
     "缺少商家编码"),
    (b'{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isv.trade-not-exist"}}', "错误而不是订单"),
    ((DATA / "tmall_fullinfo_gift_refund.json").read_bytes()[:300], "不是完整的 JSON"),
])
def test_impossible_payloads_raise_payload_error_in_business_words(body, reason):
    with pytest.raises(PayloadError, match=reason):
        TaobaoConnector("", Credentials("k", "s"), platform="tmall").normalise(RawOrder("", body, ""))


def test_a_simulated_tmall_order_round_trips_with_the_worlds_amounts_gift_and_refund(gateway):
    made = Shop(gateway, "tmall")
    order = next(o for o in made.world.create(40) if any(ln.is_gift for ln in o.lines))
    made.world.request_refund(order.order_id, 0)
    got = made.connector().normalise(made.connector().fetch(order.order_id))
    assert got.platform == "tmall" and got.paid_amount == order.payment and got.original_amount == order.total
    assert [(ln.sku, ln.qty, ln.paid, ln.is_gift) for ln in got.lines] == [
        (ln.sku, ln.qty, ln.paid, ln.is_gift) for ln in order.lines]
    assert got.lines[0].line_status == "refunding" and got.ship_by == order.ship_by
    assert got.receiver.district == order.district and got.receiver.name == order.receiver_name[0] + "**"
    assert got.customer_id.endswith(order.buyer_token) and set(got.ext) <= {"oaid", "coupon_id"}


def test_an_unchanged_trade_fetched_twice_gives_the_same_bytes_so_the_hub_sees_a_repeat(shop):
    [order] = shop.world.create(1)
    connector = shop.connector()
    first, again = connector.fetch(order.order_id), connector.fetch(order.order_id)
    assert first.body == again.body and first.body.startswith(b'{"tid": ') and b"request_id" not in first.body
    shop.world.note(order.order_id, "改了备注")
    assert connector.fetch(order.order_id).body != first.body


# --- pushes ----------------------------------------------------------------------------------------------
def test_address_change_cancellation_and_refund_are_pushed_signed_and_a_tampered_one_is_refused(gateway):
    received: list[Request] = []

    def hub(request: Request) -> Response:
        received.append(request)
        return Response(200, b'{"ok":true}')

    with SimServer(hub) as receiver:
        made = Shop(gateway, push_url=f"{receiver.url}/push/TB-XSM")
        a, b, c = made.world.create(3)
        made.world.change_address(a.order_id, "新华路12号")
        made.world.cancel(b.order_id)
        made.world.request_refund(c.order_id)
        made.world.note(a.order_id, "备注不推送")
        deadline = time.time() + 10
        while len(received) < 3 and time.time() < deadline:
            time.sleep(0.02)
        made.sim.close()
        connector = made.connector()
        got = [connector.parse_push(r.headers, r.body) for r in received]
    assert [(m.topic, m.platform_order_no) for m in got] == [
        ("taobao_trade_TradeLogisticsAddressChanged", a.order_id), ("taobao_trade_TradeClose", b.order_id),
        ("taobao_refund_RefundCreated", c.order_id)]
    assert len({m.msg_id for m in got}) == 3 and received[0].path == "/push/TB-XSM"
    tampered = received[1].body.replace(b.order_id[-4:].encode(), b"0000")
    for headers, body, conn in ((received[1].headers, tampered, connector),
                                (received[1].headers, received[1].body, made.connector(app_secret="other"))):
        with pytest.raises(PlatformError) as caught:
            conn.parse_push(headers, body)
        assert caught.value.code == "sign"
