"""淘宝/天猫 via TOP (淘宝开放平台): signed router calls, increment pull paged backwards, fullinfo, TMC pushes."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from app.domain.errors import InvalidValue
from app.domain.intake import InboundOrder, Line, Receiver
from app.domain.money import yuan
from app.domain.status import OrderStatus
from connectors.base import (Connector, Credentials, Known, PayloadError, PlatformError, PushMessage, RawOrder, http,
                             json_span, loads_exact, with_retries)

GATEWAY = "https://eco.taobao.com/router/rest"
CST = timezone(timedelta(hours=8))  # TOP stamps and expects GMT+8 wall-clock times
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_SKEW = timedelta(minutes=10)
PAGE_SIZE = 100  # the trades.sold.* maximum
LIST_FIELDS = "tid,tid_str,modified"
# buyer_nick must be asked for, or TOP leaves out buyer_open_uid (the buyer token we key customers on)
FULLINFO_FIELDS = ",".join((
    "tid", "tid_str", "status", "type", "created", "modified", "pay_time", "consign_time", "end_time", "total_fee",
    "payment", "post_fee", "discount_fee", "adjust_fee", "buyer_nick", "buyer_open_uid", "buyer_message",
    "seller_memo", "receiver_name", "receiver_state", "receiver_city", "receiver_district", "receiver_town",
    "receiver_address", "receiver_zip", "receiver_mobile", "receiver_phone", "oaid", "promotion_details", "orders"))
# extension attributes per platform (resources/demo/company.json "ext_fields"); what fullinfo cannot give
# (淘客ID from 淘宝联盟, 会员等级 from the CRM APIs) is filled later by other calls
EXT_KEYS = {"taobao": ("taoke_pid", "coupon_id", "oaid"), "tmall": ("taoke_pid", "coupon_id", "oaid", "member_level")}

STATUS = {
    "TRADE_NO_CREATE_PAY": OrderStatus.PENDING_PAYMENT, "WAIT_BUYER_PAY": OrderStatus.PENDING_PAYMENT,
    "PAY_PENDING": OrderStatus.PENDING_PAYMENT, "WAIT_PRE_AUTH_CONFIRM": OrderStatus.PENDING_PAYMENT,
    "WAIT_SELLER_SEND_GOODS": OrderStatus.PAID, "PAID_FORBID_CONSIGN": OrderStatus.PAID,
    # part-shipped: lines are still waiting for the warehouse, so the order is still work to do
    "SELLER_CONSIGNED_PART": OrderStatus.PAID,
    "WAIT_BUYER_CONFIRM_GOODS": OrderStatus.SHIPPED, "TRADE_BUYER_SIGNED": OrderStatus.SHIPPED,
    "TRADE_FINISHED": OrderStatus.COMPLETED,
    "TRADE_CLOSED": OrderStatus.CANCELLED, "TRADE_CLOSED_BY_TAOBAO": OrderStatus.CANCELLED,
}
REFUND = {"NO_REFUND": "normal", "CLOSED": "normal", "SELLER_REFUSE_BUYER": "normal", "WAIT_SELLER_AGREE": "refunding",
          "WAIT_BUYER_RETURN_GOODS": "refunding", "WAIT_SELLER_CONFIRM_GOODS": "refunding", "SUCCESS": "refunded"}
RATE_LIMIT_CODES = {"4", "5", "6", "7", "8"}  # user/session/partner/app call limits
BAN = re.compile(r"ban will last for (\d+) more seconds", re.IGNORECASE)
RELATIVE = re.compile(r"付款后\s*(\d+)\s*(天|小时)")


def sign(params: dict[str, str], secret: str, method: str = "md5") -> str:
    """The TOP signature of ``params`` (everything but ``sign``; empty keys or values are skipped).

    Args:
        params: the request parameters as sent, not URL-encoded.
        secret: the app secret.
        method: ``md5``, ``hmac`` (HMAC-MD5) or ``hmac-sha256``.

    Raises:
        ValueError: an unknown sign method.
    """
    text = "".join(f"{k}{v}" for k, v in sorted(params.items()) if k != "sign" and k and v).encode()
    key = secret.encode()
    if method == "md5":
        digest = hashlib.md5(key + text + key).hexdigest()
    elif method == "hmac":
        digest = hmac.new(key, text, hashlib.md5).hexdigest()
    elif method == "hmac-sha256":
        digest = hmac.new(key, text, hashlib.sha256).hexdigest()
    else:
        raise ValueError(f"unknown TOP sign method {method!r}")
    return digest.upper()


def top_time(at: datetime) -> str:
    """A moment as TOP writes it: GMT+8 wall clock to the second."""
    return at.astimezone(CST).strftime(TIME_FORMAT)


def parse_top_time(value: Any, what: str = "时间") -> datetime:
    """A TOP ``yyyy-MM-dd HH:mm:ss`` (GMT+8) as an aware UTC datetime.

    Raises:
        PayloadError: missing or not in that format.
    """
    if value in (None, ""):
        raise PayloadError(f"缺少{what}")
    try:
        return datetime.strptime(str(value), TIME_FORMAT).replace(tzinfo=CST).astimezone(UTC)
    except ValueError:
        raise PayloadError(f"{what}「{value}」格式不对，应为 yyyy-MM-dd HH:mm:ss") from None


def platform_error(platform: str, err: dict[str, Any]) -> PlatformError:
    """An ``error_response`` as a PlatformError: retryable for limits and ``isp.*``, auth_expired for 27."""
    code, sub_code = str(err.get("code", "")), str(err.get("sub_code") or "")
    detail = " ".join(str(x) for x in (err.get("msg"), err.get("sub_msg")) if x)
    if code in RATE_LIMIT_CODES:
        found = BAN.search(str(err.get("sub_msg") or ""))
        seconds = int(found.group(1)) + 1 if found else None  # whole-second bans: +1 so we do not land in its tail
        if seconds is not None and seconds > 60:  # a daily quota: retrying within this poll is pointless
            return PlatformError(platform, code, f"接口调用量已用完，约 {math.ceil(seconds / 60)} 分钟后恢复（{detail}）",
                                 sub_code=sub_code, retry_after=float(seconds))
        return PlatformError(platform, code, f"接口调用太频繁，平台要求暂停（{detail}）", sub_code=sub_code,
                             retryable=True, retry_after=float(seconds) if seconds else None)
    transient = code == "10" or sub_code.startswith("isp.")  # isp.*: the platform's side, "隔一段时间再重试"
    words = {"27": "店铺授权已失效", "25": "签名错误，请核对 App Key 与 App Secret",
             "31": "时间戳无效：本机时钟与平台相差超过 10 分钟，请校准时间"}.get(
        code, "平台服务暂时不可用" if transient else "平台拒绝了请求")
    return PlatformError(platform, code, f"{words}（{detail}）", sub_code=sub_code, retryable=transient,
                         auth_expired=code == "27")


def _stamped(listed: list[tuple[str, Any]]) -> list[tuple[str, datetime]]:
    """The listed (tid, modified) whose time reads as TOP's: the pairs worth asking the hub about."""
    pairs = []
    for tid, modified in listed:
        try:
            pairs.append((tid, parse_top_time(modified)))
        except PayloadError:
            continue  # no readable stamp: fetched, and the detail judged as always
    return pairs


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _money(value: Any, what: str) -> Decimal:
    if value is None or value == "":
        raise PayloadError(f"缺少{what}")
    try:
        amount = yuan(value)
    except InvalidValue:
        raise PayloadError(f"{what}「{value}」不是数字") from None
    if amount < 0:
        raise PayloadError(f"{what}「{value}」不能为负数")
    return amount


def _listed(container: Any, key: str) -> list[Any]:
    """``{"order": [...]}`` (simplify=false) or a bare list (simplify=true) as a list."""
    if isinstance(container, dict):
        container = container.get(key)
    return container if isinstance(container, list) else []


def _sku_props(text: str) -> tuple[str, str]:
    """Colour and size from ``sku_properties_name`` (``颜色分类:米白;尺码:110cm``)."""
    color = size = ""
    for part in text.split(";"):
        name, _, value = part.partition(":")
        if "颜色" in name:
            color = value
        elif "尺码" in name or "尺寸" in name or "身高" in name:
            size = value
    return color, size


def _deadline(value: Any, paid_at: datetime | None) -> datetime | None:
    """``estimate_con_time`` as a moment: a date/time as written, or "付款后N天内/小时内" from payment."""
    text = str(value or "").strip()
    if not text:
        return None
    for fmt, end_of_day in ((TIME_FORMAT, False), ("%Y-%m-%d", True)):
        try:
            at = datetime.strptime(text, fmt)
        except ValueError:
            continue
        at = at.replace(hour=23, minute=59, second=59) if end_of_day else at
        return at.replace(tzinfo=CST).astimezone(UTC)
    found = RELATIVE.search(text)
    if found and paid_at is not None:
        n = int(found.group(1))
        return paid_at + (timedelta(days=n) if found.group(2) == "天" else timedelta(hours=n))
    return None


class TaobaoConnector(Connector):
    """One 淘宝 or 天猫 shop (both run on TOP; ``platform`` says which channel the orders belong to).

    Every call is a signed form POST to ``/router/rest`` (research notes §2.1).
    ``taobao.trades.sold.increment.get`` lists trades by modification time, newest first;
    ``taobao.trade.fullinfo.get`` gives each one's detail.
    """

    max_window = timedelta(minutes=30)  # the doc allows a day but recommends ≤30 min for speed and success

    def __init__(self, base_url: str, credentials: Credentials, *, platform: str = "taobao", **kwargs: Any) -> None:
        if platform not in EXT_KEYS:
            raise ValueError(f"TOP serves taobao or tmall, not {platform!r}")
        super().__init__(base_url or GATEWAY, credentials, **kwargs)
        self.platform = platform
        # a bare host (simulator, sandbox) gets the router path; a full gateway URL is used as given
        self.gateway = self.base_url if self.base_url.endswith("/router/rest") else f"{self.base_url}/router/rest"
        self.sign_method = credentials.extra.get("sign_method", "hmac-sha256")

    # --- transport ----------------------------------------------------------------------------------
    def _exchange(self, method: str, params: dict[str, str], *, with_session: bool) -> bytes:
        """One signed POST to the router; the raw answer body."""
        form = {"method": method, "app_key": self.credentials.app_key, "timestamp": top_time(self.clock()),
                "format": "json", "v": "2.0", "sign_method": self.sign_method, **params}
        if with_session:
            form["session"] = self.credentials.access_token  # read per attempt: a refresh replaces it
        form["sign"] = sign(form, self.credentials.app_secret, self.sign_method)
        response = http(self.session, self.platform, "POST", self.gateway, timeout=self.timeout, data=form,
                        headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"})
        if response.status_code != 200:
            raise PlatformError(self.platform, f"http-{response.status_code}", f"平台网关返回 HTTP {response.status_code}")
        return response.content

    def _answer(self, method: str, content: bytes) -> dict[str, Any]:
        """The method's ``…_response`` object, or the platform's error as a PlatformError."""
        try:
            doc = loads_exact(content)
        except (ValueError, UnicodeDecodeError):
            # a cut-off answer is a transport fault: asking again normally cures it
            raise PlatformError(self.platform, "malformed", "平台返回的内容不完整，无法解析", retryable=True) from None
        if not isinstance(doc, dict):
            raise PlatformError(self.platform, "malformed", "平台返回的内容不是对象", retryable=True)
        if isinstance(doc.get("error_response"), dict):
            raise platform_error(self.platform, doc["error_response"])
        key = method.removeprefix("taobao.").replace(".", "_") + "_response"
        if not isinstance(doc.get(key), dict):
            raise PlatformError(self.platform, "malformed", f"平台返回里缺少 {key}", retryable=True)
        return doc[key]

    def call(self, method: str, params: dict[str, str], *, with_session: bool = True) -> dict[str, Any]:
        """Call a TOP API with retries and one token refresh; returns its ``…_response`` object.

        Raises:
            PlatformError: the platform refused, or stayed unreachable after the retries.
        """
        return with_retries(self.policy,
                            lambda: self._answer(method, self._exchange(method, params, with_session=with_session)),
                            on_auth_expired=self.refresh_token if with_session else None)

    def refresh_token(self) -> None:
        """Renew the session with ``taobao.top.auth.token.refresh`` and tell the credential store.

        TOP renews tokens only for apps sold through 服务市场; other apps (商家后台/自用型) get
        fixed-term tokens and no refresh token, so the merchant must authorise again.

        Raises:
            PlatformError: no refresh token, or the platform refused to renew (not retryable).
        """
        refresh = self.credentials.refresh_token
        if not refresh:
            raise PlatformError(self.platform, "27", "店铺授权已过期，且没有刷新令牌，需要商家重新授权")
        try:
            answer = self.call("taobao.top.auth.token.refresh", {"refresh_token": refresh}, with_session=False)
            token = json.loads(str(answer.get("token_result") or ""))
            access = str(token["access_token"])
        except PlatformError as err:
            if err.retryable:  # the platform is down, not the grant: the next poll tries again
                raise
            raise PlatformError(self.platform, err.code, f"店铺授权已过期且无法自动续期（{err.message}），需要商家重新授权",
                                sub_code=err.sub_code) from err
        except (ValueError, KeyError, TypeError):
            raise PlatformError(self.platform, "27", "平台续期授权的返回无法识别，需要商家重新授权") from None
        self.credentials = dataclasses.replace(self.credentials, access_token=access,
                                               refresh_token=str(token.get("refresh_token") or refresh))
        if self.on_credentials_changed is not None:
            self.on_credentials_changed(self.credentials)

    # --- pulling ------------------------------------------------------------------------------------
    def _page(self, start: datetime, end: datetime, page_no: int, *, use_has_next: bool) -> dict[str, Any]:
        return self.call("taobao.trades.sold.increment.get", {
            "fields": LIST_FIELDS, "start_modified": top_time(start), "end_modified": top_time(end),
            "page_no": str(page_no), "page_size": str(PAGE_SIZE), "use_has_next": "true" if use_has_next else "false"})

    def _listed_pages(self, start: datetime, end: datetime) -> Iterator[list[tuple[str, Any]]]:
        """(trade id, ``modified`` as listed) page by page for one window, last page first, each trade once.

        Newest first means a trade changing while we page jumps to page 1 (or out of a past
        window): everything behind it moves towards page 1, which we have not read yet.
        """
        seen: set[str] = set()

        def take(page: dict[str, Any]) -> list[tuple[str, Any]]:
            found = []
            for trade in _listed(page.get("trades"), "trade"):
                tid = str(trade.get("tid_str") or trade.get("tid") or "")
                if tid and tid not in seen:  # shifting pages and repeated entries are read once
                    seen.add(tid)
                    found.append((tid, trade.get("modified")))
            return found

        first = self._page(start, end, 1, use_has_next=False)  # the count says where the last page is
        last = max(1, math.ceil(int(first.get("total_results") or 0) / PAGE_SIZE))
        if last == 1:
            yield take(first)
            return
        page_no = last
        page = self._page(start, end, page_no, use_has_next=True)
        while page.get("has_next"):  # the window grew since the count: read its new tail first
            yield take(page)
            page_no += 1
            page = self._page(start, end, page_no, use_has_next=True)
        yield take(page)
        for page_no in range(last - 1, 0, -1):
            yield take(self._page(start, end, page_no, use_has_next=True))

    def changed_orders(self, start: datetime, end: datetime, known: Known | None = None) -> Iterator[RawOrder]:
        """Every trade modified in [start, end] with its fullinfo, in windows of at most ``max_window``.

        The list answers ``tid,tid_str,modified``; with ``known``, each page's trades that the hub
        already stores at that ``modified`` get no fullinfo call (one question per page). A trade
        whose ``modified`` is missing or unreadable is fetched: its detail decides.
        """
        while start < end:
            stop = min(start + self.max_window, end)
            for listed in self._listed_pages(start, stop):
                skip = known(_stamped(listed)) if known is not None and listed else set()
                for tid, _ in listed:
                    if tid not in skip:
                        yield self.fetch(tid)
            start = stop

    def fetch(self, platform_order_no: str) -> RawOrder:
        """One trade's current fullinfo: the ``trade`` object's bytes exactly as sent.

        The envelope is left behind: its ``request_id`` changes on every call, and the hub
        tells a repeated version from a new one by the payload's hash. A body that stays
        unreadable after the retries is handed on whole, so intake quarantines that one
        trade instead of the shop stalling on it.
        """
        method = "taobao.trade.fullinfo.get"
        params = {"fields": FULLINFO_FIELDS, "tid": platform_order_no, "include_oaid": "true"}
        received: list[bytes] = []

        def once() -> bytes:
            received.append(self._exchange(method, params, with_session=True))
            trade = json_span(received[-1].decode("utf-8"), "trade", self._answer(method, received[-1]).get("trade"))
            if trade is None:
                raise PlatformError(self.platform, "malformed", "订单详情里缺少 trade", retryable=True)
            return trade.encode("utf-8")

        try:
            body = with_retries(self.policy, once, on_auth_expired=self.refresh_token)
        except PlatformError as err:
            if err.code != "malformed" or not received:
                raise
            body = received[-1]
        return RawOrder(platform_order_no, body, method)

    # --- reading --------------------------------------------------------------------------------------
    def normalise(self, raw: RawOrder) -> InboundOrder:
        """A fullinfo answer in the hub's shape.

        Raises:
            PayloadError: not JSON, an error instead of a trade, or missing/impossible fields.
        """
        try:
            doc = loads_exact(raw.body)
        except (ValueError, UnicodeDecodeError) as err:
            raise PayloadError(f"订单报文不是完整的 JSON（{str(err)[:60]}）") from None
        if isinstance(doc, dict) and isinstance(doc.get("error_response"), dict):
            err = doc["error_response"]
            raise PayloadError(f"平台返回了错误而不是订单：{err.get('code')} {err.get('sub_msg') or err.get('msg') or ''}".strip())
        trade = doc  # fetch() keeps the trade object; a whole recorded answer is unwrapped
        if isinstance(doc, dict) and "trade_fullinfo_get_response" in doc:
            trade = (doc["trade_fullinfo_get_response"] or {}).get("trade")
        if not isinstance(trade, dict):
            raise PayloadError("报文里没有订单（trade）")
        tid = _text(trade.get("tid_str") or trade.get("tid"))
        if tid is None:
            raise PayloadError("缺少订单号")
        try:
            return self._trade(tid, trade)
        except PayloadError as err:
            raise PayloadError(f"订单 {tid}：{err}") from None
        except (TypeError, ValueError, AttributeError, KeyError, ArithmeticError) as err:
            raise PayloadError(f"订单 {tid}：字段格式不对（{err}）") from None

    def _trade(self, tid: str, trade: dict[str, Any]) -> InboundOrder:
        status = STATUS.get(str(trade.get("status")))
        if status is None:
            raise PayloadError(f"未知的订单状态「{trade.get('status')}」")
        paid_at = parse_top_time(trade["pay_time"], "付款时间") if trade.get("pay_time") else None
        promotions = [p for p in _listed(trade.get("promotion_details"), "promotion_detail") if isinstance(p, dict)]
        gift_items = {str(p["gift_item_id"]) for p in promotions if p.get("gift_item_id")}
        orders = [o for o in _listed(trade.get("orders"), "order") if isinstance(o, dict)]
        if not orders:
            raise PayloadError("订单没有商品明细")
        lines, deadlines = [], []
        for order in orders:
            lines.append(self._line(order, gift_items))
            deadline = _deadline(order.get("estimate_con_time"), paid_at)
            if deadline is not None and lines[-1].line_status != "refunded":  # nothing left to ship there
                deadlines.append(deadline)
        coupons = [str(p["promotion_id"]) for p in promotions
                   if str(p.get("promotion_id") or "").split("$")[-1].startswith(("shopbonus", "coupon"))]
        found = {"oaid": _text(trade.get("oaid")), "coupon_id": coupons[0] if coupons else None}
        ext = {k: v for k, v in found.items() if v and k in EXT_KEYS[self.platform]}
        receiver = Receiver(
            name=_text(trade.get("receiver_name")),
            phone=_text(trade.get("receiver_mobile") or trade.get("receiver_phone")),
            address=_text(trade.get("receiver_address")), province=_text(trade.get("receiver_state")),
            city=_text(trade.get("receiver_city")), district=_text(trade.get("receiver_district")),
            token=_text(trade.get("oaid")),
            # OAID is derived from name, phone and address: it changes when a masked address does
            ciphertext=_text(trade.get("oaid")))
        customer = _text(trade.get("buyer_open_uid"))
        if customer is None:
            raise PayloadError("缺少买家标识（buyer_open_uid）")
        tracking = next((str(o["invoice_no"]) for o in orders if o.get("invoice_no")), None)
        return InboundOrder(
            platform=self.platform, platform_order_no=tid, status=status, platform_status=str(trade["status"]),
            ordered_at=parse_top_time(trade.get("created"), "下单时间"),
            platform_updated_at=parse_top_time(trade.get("modified"), "修改时间"), customer_id=customer,
            lines=tuple(lines), original_amount=_money(trade.get("total_fee"), "商品总额"),
            paid_amount=_money(trade.get("payment"), "实付金额"), receiver=receiver, paid_at=paid_at,
            ship_by=min(deadlines) if deadlines else None, tracking_no=tracking,
            buyer_note=_text(trade.get("buyer_message")), seller_note=_text(trade.get("seller_memo")), ext=ext)

    def _line(self, order: dict[str, Any], gift_items: set[str]) -> Line:
        oid = _text(order.get("oid_str") or order.get("oid"))
        title = str(order.get("title") or "")
        if oid is None:
            raise PayloadError(f"商品「{title}」缺少子订单号")
        sku = _text(order.get("outer_sku_id") or order.get("outer_iid"))
        if sku is None:
            raise PayloadError(f"商品「{title}」缺少商家编码（outer_sku_id），无法对应到库存")
        qty = order.get("num")
        if isinstance(qty, bool) or not isinstance(qty, int | str) or not str(qty).isdigit() or int(qty) <= 0:
            raise PayloadError(f"商品「{title}」数量「{qty}」不是正整数")
        price = _money(order.get("price"), "商品单价")
        paid = _money(order.get("divide_order_fee", order.get("payment")), "商品实付金额")
        refund = str(order.get("refund_status") or "NO_REFUND")
        if refund not in REFUND:
            raise PayloadError(f"商品「{title}」的退款状态「{refund}」无法识别")
        raw_status = str(order.get("status") or "")
        color, size = _sku_props(str(order.get("sku_properties_name") or ""))
        return Line(platform_line_id=oid, sku=sku, name=title, qty=int(qty), unit_price=price, paid=paid,
                    is_gift=str(order.get("num_iid")) in gift_items or (price == 0 and paid == 0),
                    color=color, size=size, line_status=REFUND[refund],
                    platform_status=raw_status if refund == "NO_REFUND" else f"{raw_status}/{refund}")

    # --- pushes ---------------------------------------------------------------------------------------
    def parse_push(self, headers: dict[str, str], body: bytes) -> PushMessage:
        """A TMC message delivered as a signed form POST (fields ``id``, ``topic``, ``content``…).

        Raises:
            PlatformError: ``sign`` for a bad signature, ``timestamp`` for a stale one, ``push`` for
                a message without a trade id.
        """
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise PlatformError(self.platform, "push", "推送消息不是 UTF-8 表单") from None
        method = form.get("sign_method", "md5")
        try:
            expected = sign(form, self.credentials.app_secret, method)
        except ValueError:
            raise PlatformError(self.platform, "sign", f"推送消息的签名方式「{method}」不支持") from None
        if form.get("app_key") != self.credentials.app_key or not hmac.compare_digest(expected, form.get("sign", "")):
            raise PlatformError(self.platform, "sign", "推送消息签名不正确，已拒收")
        try:
            sent = datetime.strptime(form.get("timestamp", ""), TIME_FORMAT).replace(tzinfo=CST)
        except ValueError:
            raise PlatformError(self.platform, "timestamp", "推送消息缺少有效的时间戳") from None
        if abs(self.clock() - sent) > MAX_SKEW:
            raise PlatformError(self.platform, "timestamp", "推送消息的时间与本机相差超过 10 分钟，已拒收")
        try:
            content = json.loads(form.get("content", ""))
            tid = str(content.get("tid_str") or content["tid"])
        except (ValueError, KeyError, TypeError, AttributeError):
            raise PlatformError(self.platform, "push", "推送消息里没有订单号") from None
        if not form.get("id") or not form.get("topic"):
            raise PlatformError(self.platform, "push", "推送消息缺少消息编号或主题")
        return PushMessage(msg_id=form["id"], topic=form["topic"], platform_order_no=tid)
