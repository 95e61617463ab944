"""微信小店 / 视频号小店 (channels ec): stable access token, next_key order list, order/get details, JSON callbacks.

Protocol (research doc 2.3, developers.weixin.qq.com/doc/store): ``POST /cgi-bin/stable_token`` issues the
access token; ``POST /channels/ec/order/list/get?access_token=…`` lists order ids changed in an
``update_time_range`` (Unix seconds, at most 7 days) with ``page_size`` ≤ 100 and a ``next_key`` cursor;
``POST /channels/ec/order/get`` returns one order with amounts in fen. Every answer carries the
``{"errcode", "errmsg"}`` envelope. Pushes are WeChat server callbacks: a JSON body, verified by
``signature = sha1(sorted(token, timestamp, nonce))`` in the query string (plain-text mode).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote

from app.domain.errors import InvalidValue
from app.domain.intake import InboundOrder, Line, Receiver
from app.domain.money import fen
from app.domain.status import OrderStatus
from connectors.base import (CLOCK_SKEW, Connector, Known, PayloadError, PlatformError, PushMessage, RawOrder, http,
                             loads_exact, platform_behind, with_retries)

log = logging.getLogger(__name__)

PLATFORM = "wechat"
TOKEN_PATH = "/cgi-bin/stable_token"
LIST_PATH = "/channels/ec/order/list/get"
DETAIL_PATH = "/channels/ec/order/get"
PAGE_SIZE = 100

AUTH_EXPIRED = frozenset({40001, 40014, 42001})  # invalid / not latest / expired access_token
DAILY_QUOTA, MINUTE_QUOTA = 45009, 45011

S = OrderStatus
STATUS: dict[int, OrderStatus] = {
    10: S.PENDING_PAYMENT,  # 待付款
    12: S.PENDING_PAYMENT,  # 礼物待收下: paid by the giver, not yet shippable
    13: S.PENDING_PAYMENT,  # 凑单买凑团中: not yet shippable
    20: S.PAID,  # 待发货
    21: S.SHIPPED,  # 部分发货: a parcel is out; the rest is the warehouse's own work
    30: S.SHIPPED,  # 待收货
    100: S.COMPLETED,
    200: S.CANCELLED,  # 全部商品售后之后订单取消
    250: S.CANCELLED,  # 取消 (also after payment, so paid_at comes from pay_info, not from this code)
}

# channels_ec_order_ext_info_update types that concern the delivery address.
ADDRESS_TYPES = frozenset({2, 4, 16, 19})


def callback_signature(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's server-callback signature: sha1 of the three values sorted and joined."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce))).encode()).hexdigest()


def _wechat_error(code: int, errmsg: str) -> PlatformError:
    """The errcode envelope as a PlatformError with the right retry semantics."""
    msg = f"微信小店接口返回错误：{errmsg}"
    if code == -1:
        return PlatformError(PLATFORM, "-1", f"微信服务器繁忙，稍后重试（{errmsg}）", retryable=True)
    if code in AUTH_EXPIRED:
        return PlatformError(PLATFORM, str(code), f"接口凭证已失效（{errmsg}）", auth_expired=True)
    if code == MINUTE_QUOTA:  # "must slower retry next minute": WeChat names the wait itself
        return PlatformError(PLATFORM, str(code), f"接口每分钟调用次数已达上限（{errmsg}）", retryable=True,
                             retry_after=60.0)
    if code == DAILY_QUOTA:  # no ban seconds in the answer: back off and let the next poll catch up
        return PlatformError(PLATFORM, str(code), f"接口调用次数已达上限（{errmsg}）", retryable=True)
    return PlatformError(PLATFORM, str(code), msg)


def _parse(body: bytes) -> Any:
    return loads_exact(body)


def _check(body: bytes) -> dict[str, Any]:
    """An API answer as a dict; a garbled page or an errcode ≠ 0 raises PlatformError."""
    try:
        data = _parse(body)
    except (ValueError, UnicodeDecodeError):
        raise PlatformError(PLATFORM, "malformed", "微信小店返回的内容不是完整的 JSON", retryable=True) from None
    if not isinstance(data, dict):
        raise PlatformError(PLATFORM, "malformed", "微信小店返回的内容格式不对", retryable=True)
    code = data.get("errcode", 0)
    if code not in (0, None):
        raise _wechat_error(int(code), str(data.get("errmsg", "")))
    return data


def _split(start: datetime, end: datetime, width: timedelta) -> Iterator[tuple[datetime, datetime]]:
    while start < end:
        stop = min(start + width, end)
        yield start, stop
        start = stop


class WechatConnector(Connector):
    """One 微信小店 shop: ``credentials.app_key`` = AppID, ``app_secret`` = AppSecret.

    ``credentials.extra``: ``push_token`` (the 消息推送 Token; defaults to the AppSecret) and
    ``encode_sensitive_info`` (``"true"`` asks order/get for masked receivers).
    """

    platform = PLATFORM
    max_window = timedelta(days=7)
    #: how far WeChat's clock was surely behind ours at the latest answer (its HTTP Date), if it was
    behind: timedelta | None = None
    _agreed = True
    push_ack = b"success"  # WeChat resends a callback (up to 10 times) unless it reads "success"

    # --- transport ----------------------------------------------------------------------------------
    def _post(self, path: str, body: dict[str, Any], *, token: bool = True) -> bytes:
        """POST JSON; the token is read at call time so a refreshed one is used on the retry."""
        if token and not self.credentials.access_token:
            self.refresh_token()
        url = f"{self.base_url}{path}"
        if token:
            url += f"?access_token={quote(self.credentials.access_token, safe='')}"
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        sent = self.clock()
        response = http(self.session, PLATFORM, "POST", url, timeout=self.timeout, data=data,
                        headers={"Content-Type": "application/json; charset=utf-8"})
        self.behind = platform_behind(sent, response.headers.get("Date"))
        return response.content

    def _api(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return with_retries(self.policy, lambda: _check(self._post(path, body)), on_auth_expired=self.refresh_token)

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One API call with the access token (write-backs use it)."""
        return self._api(path, body)

    def refresh_token(self) -> None:
        """Get the stable access token (normal mode: the current one while valid, else a new one).

        Raises:
            PlatformError: WeChat refused the AppID/AppSecret (``40013``, ``40125``…) or is unreachable.
        """
        body = {"grant_type": "client_credential", "appid": self.credentials.app_key,
                "secret": self.credentials.app_secret, "force_refresh": False}
        data = with_retries(self.policy, lambda: _check(self._post(TOKEN_PATH, body, token=False)))
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise PlatformError(PLATFORM, "auth", "微信没有返回 access_token")
        self.credentials.access_token = token
        if self.on_credentials_changed is not None:
            self.on_credentials_changed(self.credentials)

    # --- pulling ------------------------------------------------------------------------------------
    def changed_orders(self, start: datetime, end: datetime, known: Known | None = None) -> Iterator[RawOrder]:
        """Every order updated in [start, end]: id pages by ``next_key``, then order/get per id.

        The id list (order/list/get) gives no modification time. With ``known``, the window is listed as
        the smaller windows ``known.cuts`` names, and each page's ids are asked about with the end of the
        window that listed them (``exact=False``): an id listed in a window that ended before this hub
        last read that order (by a margin) needs no detail (app/hub/pollers.py, the comment at the top).
        Both lean on WeChat's clock being at most ``CLOCK_SKEW`` behind ours: while an answer's HTTP Date
        says it is surely further behind, nothing is skipped (every listed id is fetched, as without ``known``).
        """
        seen: set[str] = set()  # the same id on two pages or windows (platform repeats, shared ends) is asked once
        for lo, hi in _split(start, end, self.max_window):
            bounds = [lo, *(known.cuts(lo, hi) if known is not None and self._clock_agrees(known) else ()), hi]
            for a, b in zip(bounds, bounds[1:], strict=False):
                for ids in self._listed(a, b):
                    fresh = [i for i in dict.fromkeys(ids) if i not in seen]
                    seen.update(fresh)
                    ask = known is not None and fresh and self._clock_agrees(known)
                    skip = known([(i, b) for i in fresh], exact=False) if ask else set()
                    for order_id in fresh:
                        if order_id not in skip:
                            yield self.fetch(order_id)

    def _clock_agrees(self, known: Known) -> bool:
        """Whether WeChat's clock, at the latest answer, was at most CLOCK_SKEW behind ours (said once a change);
        if not, ``known`` forgets what it remembered: reads made while the clocks disagree prove nothing."""
        agrees = self.behind is None or self.behind <= CLOCK_SKEW
        if not agrees:
            known.distrust()
        if agrees != self._agreed:
            self._agreed = agrees
            if agrees:
                log.info("wechat: the platform's clock agrees with ours again; re-listed unchanged orders are skipped")
            else:
                log.warning("wechat: the platform's clock is %s behind ours (HTTP Date): every re-listed order is "
                            "fetched again until it agrees (check this machine's time sync)", self.behind)
        return agrees

    def _listed(self, lo: datetime, hi: datetime) -> Iterator[list[str]]:
        """The order ids updated in [lo, hi], page by page (``next_key``)."""
        next_key = ""
        while True:
            body: dict[str, Any] = {"update_time_range": {"start_time": int(lo.timestamp()),
                                                          "end_time": int(hi.timestamp())},
                                    "page_size": PAGE_SIZE}
            if next_key:
                body["next_key"] = next_key
            page = self._api(LIST_PATH, body)
            yield [str(order_id) for order_id in page.get("order_id_list") or []]
            if not page.get("has_more"):
                return
            cursor = str(page.get("next_key") or "")
            if not cursor or cursor == next_key:  # a cursor that does not move would loop forever
                raise PlatformError(PLATFORM, "paging", "微信小店订单列表的翻页游标没有前进")
            next_key = cursor

    def fetch(self, platform_order_no: str) -> RawOrder:
        """order/get for one id; a garbled answer is kept as-is for quarantine, an error is raised."""
        body = {"order_id": platform_order_no,
                "encode_sensitive_info": self.credentials.extra.get("encode_sensitive_info") == "true"}

        def call() -> bytes:
            raw = self._post(DETAIL_PATH, body)
            try:
                data = _parse(raw)
            except (ValueError, UnicodeDecodeError):
                return raw  # normalise() quarantines it with a reason
            if isinstance(data, dict) and data.get("errcode") not in (0, None):
                raise _wechat_error(int(data["errcode"]), str(data.get("errmsg", "")))
            return raw

        raw = with_retries(self.policy, call, on_auth_expired=self.refresh_token)
        return RawOrder(platform_order_no, raw, "order.get")

    # --- normalising --------------------------------------------------------------------------------
    def normalise(self, raw: RawOrder) -> InboundOrder:
        """An order/get answer in the hub's shape (fen → exact yuan, line after-sales → line status).

        Raises:
            PayloadError: malformed JSON, an error answer, missing or impossible fields.
        """
        try:
            doc = _parse(raw.body)
        except (ValueError, UnicodeDecodeError) as err:
            raise PayloadError(f"微信小店订单详情不是有效的 JSON：{err}") from None
        if not isinstance(doc, dict):
            raise PayloadError("微信小店订单详情格式不对")
        if doc.get("errcode") not in (0, None):
            raise PayloadError(f"微信小店订单详情是错误应答：{doc.get('errcode')} {doc.get('errmsg', '')}")
        order = doc.get("order")
        if not isinstance(order, dict):
            raise PayloadError("微信小店订单详情缺少订单内容")
        try:
            return _normalise(order)
        except PayloadError:
            raise
        except InvalidValue as err:
            raise PayloadError(str(err)) from None
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise PayloadError(f"微信小店订单字段缺失或格式错误：{err}") from None

    # --- pushes -------------------------------------------------------------------------------------
    def parse_push(self, headers: dict[str, str], body: bytes) -> PushMessage:
        """Verify a callback (signature/timestamp/nonce from the query) and name the order it concerns.

        The query reaches us as ``headers[":query"]`` (the raw query string) or as ``signature``,
        ``timestamp`` and ``nonce`` entries.

        Raises:
            PlatformError: code ``sign`` for a bad signature, ``push`` for an event without an order.
        """
        query = dict(parse_qsl(headers.get(":query", ""), keep_blank_values=True))
        sig, stamp, nonce = (query.get(k) or headers.get(k, "") for k in ("signature", "timestamp", "nonce"))
        token = self.credentials.extra.get("push_token") or self.credentials.app_secret
        if not sig or not hmac.compare_digest(callback_signature(token, stamp, nonce), sig):
            raise PlatformError(PLATFORM, "sign", "微信小店推送消息签名不正确")
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise PlatformError(PLATFORM, "push", "微信小店推送消息不是有效的 JSON") from None
        name = str(event.get("Event", "")) if isinstance(event, dict) else ""
        info = event.get("order_info") or event.get("finder_shop_aftersale_status_update") or {}
        order_id = str(info.get("order_id") or "") if isinstance(info, dict) else ""
        if not name or not order_id:
            raise PlatformError(PLATFORM, "push", f"微信小店推送「{name or '未知事件'}」不涉及订单")
        topic = name
        if name == "channels_ec_order_ext_info_update":  # the type says what changed (19 = 买家改地址…)
            topic = f"{name}:{info.get('type', '')}"
        key = f"{name}:{order_id}:{info.get('type', info.get('status', ''))}:{event.get('CreateTime', '')}:" \
              f"{event.get('FromUserName', '')}"  # WeChat: dedupe events on FromUserName + CreateTime
        msg_id = key if len(key) <= 128 else hashlib.sha1(key.encode()).hexdigest()
        return PushMessage(msg_id=msg_id, topic=topic, platform_order_no=order_id)


def _at(value: Any, label: str) -> datetime:
    seconds = int(value)
    if seconds <= 0:
        raise PayloadError(f"{label}「{value}」不是有效时间")
    return datetime.fromtimestamp(seconds, UTC)


def _line(n: int, p: dict[str, Any]) -> Line:
    cnt = int(p["sku_cnt"])
    if cnt <= 0:
        raise PayloadError(f"商品数量「{p['sku_cnt']}」不是正数")
    unit = fen(p.get("sale_price", 0))
    paid = fen(p["real_price"]) if "real_price" in p else unit * cnt
    if unit < 0 or paid < 0:
        raise PayloadError(f"商品「{p.get('title', '')}」金额为负数")
    on, done = int(p.get("on_aftersale_sku_cnt") or 0), int(p.get("finish_aftersale_sku_cnt") or 0)
    # A line in after-sales is 退款中; one whose after-sales finished is 已退款 (even if only part of it).
    status = "refunding" if on > 0 else "refunded" if done > 0 else "normal"
    attrs = {str(a.get("attr_key")): str(a.get("attr_value", "")) for a in p.get("sku_attrs") or []}
    sku = p.get("sku_code") or p.get("out_sku_id") or p.get("sku_id")
    if not sku:
        raise PayloadError(f"第 {n} 个商品缺少商品编码")
    return Line(platform_line_id=str(p.get("product_unique_id") or p.get("sku_id") or n), sku=str(sku),
                name=str(p.get("title", "")), qty=cnt, unit_price=unit, paid=paid,
                is_gift=bool(p.get("is_free_gift")), color=attrs.get("颜色", ""), size=attrs.get("尺码", ""),
                line_status=status, platform_status=f"on_aftersale={on},finish_aftersale={done}")


def _normalise(order: dict[str, Any]) -> InboundOrder:
    order_id = str(order.get("order_id") or "")
    if not order_id:
        raise PayloadError("微信小店订单缺少订单号")
    code = order.get("status")
    if not isinstance(code, int) or code not in STATUS:
        raise PayloadError(f"微信小店订单 {order_id} 的状态「{code}」无法识别")
    detail = order.get("order_detail") or {}
    products = detail.get("product_infos") or []
    if not products:
        raise PayloadError(f"微信小店订单 {order_id} 没有商品")
    lines = tuple(_line(n, p) for n, p in enumerate(products, 1))
    price = detail.get("price_info") or {}
    original = fen(price["product_price"]) if "product_price" in price else sum(
        (ln.unit_price * ln.qty for ln in lines), Decimal(0))
    paid_amount = fen(price["order_price"])
    if paid_amount < 0 or original < 0:
        raise PayloadError(f"微信小店订单 {order_id} 金额为负数")
    pay_time = (detail.get("pay_info") or {}).get("pay_time")
    deadlines = [int(p["delivery_deadline"]) for p, ln in zip(products, lines, strict=True)
                 if not ln.is_gift and int(p.get("delivery_deadline") or 0) > 0]
    delivery = detail.get("delivery_info") or {}
    addr = delivery.get("address_info") or {}
    parts = [addr.get(k) for k in ("province_name", "city_name", "county_name", "detail_info")]
    waybills = [d.get("waybill_id") for d in delivery.get("delivery_product_info") or [] if d.get("waybill_id")]
    ext_info, sharer = detail.get("ext_info") or {}, detail.get("sharer_info") or {}
    ext = {k: str(v) for k, v in (("finder_id", ext_info.get("finder_id")),
                                  ("sharer_openid", sharer.get("sharer_openid"))) if v}
    openid = str(order.get("openid") or "")
    return InboundOrder(
        platform=PLATFORM, platform_order_no=order_id, status=STATUS[code], platform_status=str(code),
        ordered_at=_at(order["create_time"], "下单时间"), platform_updated_at=_at(order["update_time"], "更新时间"),
        customer_id=openid or f"wechat:{order_id}", lines=lines, original_amount=original, paid_amount=paid_amount,
        receiver=Receiver(name=addr.get("user_name"), phone=addr.get("tel_number"),
                          address="".join(str(p) for p in parts if p) or None, province=addr.get("province_name"),
                          city=addr.get("city_name"), district=addr.get("county_name"),
                          token=addr.get("hash_code") or openid or None,
                          # masked on request: the address hash_code still changes with the address
                          ciphertext=addr.get("hash_code") or None),
        paid_at=_at(pay_time, "支付时间") if pay_time else None,
        ship_by=datetime.fromtimestamp(min(deadlines), UTC) if deadlines else None,
        tracking_no=str(waybills[0]) if waybills else None,
        buyer_note=ext_info.get("customer_notes") or None, seller_note=ext_info.get("merchant_notes") or None,
        ext=ext)
