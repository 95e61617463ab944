"""拼多多 (PDD open platform): signed POST /api/router, increment list paged from the last page, order details.

Protocol (research doc 2.4, open.pinduoduo.com): every call is ``POST /api/router`` with a JSON body
of common parameters (``type``, ``client_id``, ``access_token``, ``timestamp`` in Unix seconds within
10 min of PDD's clock, ``data_type``) plus business parameters, signed
``UPPER(MD5(secret + Σ key+value (ASCII-sorted, all but sign) + secret))``. We send every value as a
string, so the signed text is exactly what is on the wire. ``pdd.order.number.list.increment.get``
takes windows of at most 30 min that must end 3 min behind PDD's clock and must be paged from the
last page backwards; ``pdd.order.information.get`` gives one order with yuan amounts and GMT+8 times.
Errors come as ``{"error_response": {error_code, error_msg, sub_code, sub_msg, request_id}}``.
Pushes come from PDD's message service (WebSocket frames ``{"id", "commandType", "message": {"type",
"mallID", "content"}}``); a bridge POSTs each frame to the hub with the connection's own signature
``base64(md5hex(client_id + time_ms + client_secret))`` in ``X-Pdd-Client-Id/-Time/-Sign`` headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from app.domain.errors import InvalidValue
from app.domain.intake import InboundOrder, Line, Receiver
from app.domain.money import apportion, yuan
from app.domain.status import OrderStatus
from connectors.base import (Connector, Known, PayloadError, PlatformError, PushMessage, RawOrder, http, json_span,
                             with_retries)

PLATFORM = "pdd"
ROUTER = "/api/router"
LIST_API = "pdd.order.number.list.increment.get"
DETAIL_API = "pdd.order.information.get"
DETAIL_KEY = "order_info_get_response"  # the answer's key around order_info (and request_id)
REFRESH_API = "pdd.pop.auth.token.refresh"
PAGE_SIZE = 100
GMT8 = timezone(timedelta(hours=8))
MAX_SKEW_MS = 10 * 60 * 1000

# error_code values. 20004 (签名验证失败) and 10019 (access_token已过期) are seen in public SDK issues;
# PDD publishes no list for the rest, so the rate-limit and parameter codes here are our best reading.
SIGN_ERROR, TOKEN_EXPIRED, PARAM_ERROR, RATE_LIMITED = 20004, 10019, 10000, 70031
_BAN = re.compile(r"(\d+)\s*(?:秒|s\b|seconds)")

S = OrderStatus


def sign(params: dict[str, str], secret: str) -> str:
    """PDD's request signature over every parameter except ``sign`` (values as sent)."""
    text = secret + "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign") + secret
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def push_sign(client_id: str, time_ms: str, secret: str) -> str:
    """The message-service connection signature: base64 of the lowercase hex MD5."""
    return base64.b64encode(hashlib.md5(f"{client_id}{time_ms}{secret}".encode()).hexdigest().encode()).decode()


def _pdd_error(err: dict[str, Any]) -> PlatformError:
    try:
        code: Any = int(err.get("error_code"))  # documented as a number; tolerate "10019"
    except (TypeError, ValueError):
        code = err.get("error_code")
    sub_code, msg = str(err.get("sub_code") or ""), str(err.get("sub_msg") or err.get("error_msg") or "")
    if code == TOKEN_EXPIRED:
        return PlatformError(PLATFORM, str(code), f"授权已过期（{msg}）", sub_code=sub_code, auth_expired=True)
    if code == RATE_LIMITED:
        ban = _BAN.search(f"{err.get('sub_msg', '')} {err.get('error_msg', '')}")
        return PlatformError(PLATFORM, str(code), f"接口调用已被限流（{msg}）", sub_code=sub_code, retryable=True,
                             retry_after=float(ban.group(1)) + 1 if ban else None)
    if code == SIGN_ERROR:
        return PlatformError(PLATFORM, str(code), f"签名验证失败，请检查应用密钥（{msg}）", sub_code=sub_code)
    return PlatformError(PLATFORM, str(code), f"拼多多接口返回错误：{msg}", sub_code=sub_code)


def _decode(body: bytes) -> Any:
    return json.loads(body, parse_float=Decimal)


def _split(start: datetime, end: datetime, width: timedelta) -> Iterator[tuple[datetime, datetime]]:
    while start < end:
        stop = min(start + width, end)
        yield start, stop
        start = stop


class PddConnector(Connector):
    """One 拼多多 shop: ``credentials.app_key`` = client_id, ``app_secret`` = client_secret."""

    platform = PLATFORM
    max_window = timedelta(minutes=30)
    lag = timedelta(minutes=3)

    # --- transport ----------------------------------------------------------------------------------
    def _send(self, api: str, params: dict[str, Any], *, token: bool = True) -> bytes:
        """One signed call; timestamp, token and sign are made at call time (fresh on every retry)."""
        p = {"type": api, "client_id": self.credentials.app_key, "data_type": "JSON",
             "timestamp": str(int(self.clock().timestamp()))}
        if token:
            p["access_token"] = self.credentials.access_token
        p.update({k: ("true" if v is True else "false" if v is False else str(v)) for k, v in params.items()})
        p["sign"] = sign(p, self.credentials.app_secret)
        body = json.dumps(p, ensure_ascii=False, separators=(",", ":")).encode()
        return http(self.session, PLATFORM, "POST", self.base_url + ROUTER, timeout=self.timeout, data=body,
                    headers={"Content-Type": "application/json; charset=utf-8"}).content

    def _api(self, api: str, params: dict[str, Any], key: str, *, token: bool = True) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            try:
                doc = _decode(self._send(api, params, token=token))
            except (ValueError, UnicodeDecodeError):
                raise PlatformError(PLATFORM, "malformed", "拼多多返回的内容不是完整的 JSON", retryable=True) from None
            if isinstance(doc, dict) and isinstance(doc.get("error_response"), dict):
                raise _pdd_error(doc["error_response"])
            if not isinstance(doc, dict) or not isinstance(doc.get(key), dict):
                raise PlatformError(PLATFORM, "malformed", f"拼多多返回的内容缺少 {key}", retryable=True)
            return doc[key]

        return with_retries(self.policy, call, on_auth_expired=self.refresh_token if token else None)

    def call(self, api: str, params: dict[str, Any], key: str) -> dict[str, Any]:
        """One signed API call (write-backs use it); the answer's ``key`` object."""
        return self._api(api, params, key)

    def refresh_token(self) -> None:
        """Exchange the refresh token for a new access token (pdd.pop.auth.token.refresh).

        Raises:
            PlatformError: no refresh token, or PDD refused it (the merchant must authorise again).
        """
        if not self.credentials.refresh_token:
            raise PlatformError(PLATFORM, "auth", "拼多多授权已过期且没有 refresh_token，请商家重新授权")
        got = self._api(REFRESH_API, {"refresh_token": self.credentials.refresh_token},
                        "pop_auth_token_refresh_response", token=False)
        if not got.get("access_token"):
            raise PlatformError(PLATFORM, "auth", "拼多多没有返回新的 access_token")
        self.credentials.access_token = str(got["access_token"])
        self.credentials.refresh_token = str(got.get("refresh_token") or self.credentials.refresh_token)
        if self.on_credentials_changed is not None:
            self.on_credentials_changed(self.credentials)

    # --- pulling ------------------------------------------------------------------------------------
    def _page(self, lo: datetime, hi: datetime, page: int, *, has_next: bool) -> dict[str, Any]:
        return self._api(LIST_API, {"start_updated_at": int(lo.timestamp()), "end_updated_at": int(hi.timestamp()),
                                    "order_status": 5, "refund_status": 5, "is_lucky_flag": 0, "page": page,
                                    "page_size": PAGE_SIZE, "use_has_next": has_next},
                         "order_sn_increment_get_response")

    def _window_pages(self, lo: datetime, hi: datetime) -> Iterator[list[dict[str, Any]]]:
        """The window's pages, last page first (PDD: 必须采用倒序的分页方式才能避免漏单)."""
        first = self._page(lo, hi, 1, has_next=False)  # asks for total_count
        last = max(1, math.ceil(int(first.get("total_count") or 0) / PAGE_SIZE))
        if last == 1:
            yield first.get("order_sn_list") or []
            return
        # If more orders arrived than were counted (late commits), walk on to the real last page first.
        page = last
        while True:
            got = self._page(lo, hi, page, has_next=True)
            yield got.get("order_sn_list") or []
            if not got.get("has_next"):
                break
            page += 1
        for page in range(last - 1, 0, -1):
            yield self._page(lo, hi, page, has_next=True).get("order_sn_list") or []

    def changed_orders(self, start: datetime, end: datetime, known: Known | None = None) -> Iterator[RawOrder]:
        """Every order updated in [start, end] (end should be ≥ 3 min old: use ``lag``), with details.

        Each entry of the increment list carries the order's ``updated_at`` (Beijing time, to the
        second); with ``known``, a page's orders the hub already stores at that time get no
        ``pdd.order.information.get`` (one question per page). An entry without a readable
        ``updated_at`` is fetched: its detail decides.
        """
        seen: set[str] = set()
        for lo, hi in _split(start, end, self.max_window):
            for orders in self._window_pages(lo, hi):
                listed: list[tuple[str, datetime | None]] = []
                for item in orders:
                    sn = str(item.get("order_sn") or "") if isinstance(item, dict) else ""
                    if sn and sn not in seen:
                        seen.add(sn)
                        listed.append((sn, _listed_time(item.get("updated_at"))))
                stamped = [(sn, at) for sn, at in listed if at is not None]
                skip = known(stamped) if known is not None and stamped else set()
                for sn, _ in listed:
                    if sn not in skip:
                        yield self.fetch(sn)

    def fetch(self, platform_order_no: str) -> RawOrder:
        """pdd.order.information.get: the ``order_info`` object's bytes exactly as sent.

        The envelope is left behind: its ``request_id`` changes on every call, and the hub tells a
        repeated version from a new one by the payload's hash (so a re-read of an unchanged order is a
        duplicate, not a new version). A garbled answer is kept whole for quarantine; an error is raised.
        """
        def call() -> bytes:
            raw = self._send(DETAIL_API, {"order_sn": platform_order_no})
            try:
                text = raw.decode("utf-8")
                doc = _decode(text)
            except (ValueError, UnicodeDecodeError):
                return raw
            if isinstance(doc, dict) and isinstance(doc.get("error_response"), dict):
                raise _pdd_error(doc["error_response"])
            answer = doc.get(DETAIL_KEY) if isinstance(doc, dict) else None
            info = answer.get("order_info") if isinstance(answer, dict) else None
            found = json_span(text, "order_info", info) if isinstance(info, dict) else None
            return found.encode("utf-8") if found is not None else raw  # no order in it: quarantined whole

        return RawOrder(platform_order_no, with_retries(self.policy, call, on_auth_expired=self.refresh_token),
                        "order.information.get")

    # --- normalising --------------------------------------------------------------------------------
    def normalise(self, raw: RawOrder) -> InboundOrder:
        """An order-information answer in the hub's shape (yuan numbers → exact Decimals, GMT+8 → UTC).

        Raises:
            PayloadError: malformed JSON, an error answer, missing or impossible fields.
        """
        try:
            doc = _decode(raw.body)
        except (ValueError, UnicodeDecodeError) as err:
            raise PayloadError(f"拼多多订单详情不是有效的 JSON：{err}") from None
        if not isinstance(doc, dict):
            raise PayloadError("拼多多订单详情格式不对")
        if isinstance(doc.get("error_response"), dict):
            err = doc["error_response"]
            raise PayloadError(f"拼多多订单详情是错误应答：{err.get('error_code')} {err.get('error_msg', '')}")
        info: Any = doc  # fetch() keeps the order_info object; a whole answer (stored before) is unwrapped
        if DETAIL_KEY in doc:
            answer = doc[DETAIL_KEY]
            info = answer.get("order_info") if isinstance(answer, dict) else None
        if not isinstance(info, dict) or not info:
            raise PayloadError("拼多多订单详情缺少订单内容")
        try:
            return _normalise(info)
        except PayloadError:
            raise
        except InvalidValue as err:
            raise PayloadError(str(err)) from None
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise PayloadError(f"拼多多订单字段缺失或格式错误：{err}") from None

    # --- pushes -------------------------------------------------------------------------------------
    def parse_push(self, headers: dict[str, str], body: bytes) -> PushMessage:
        """Verify a forwarded message-service frame and name the order it concerns.

        Raises:
            PlatformError: ``sign`` (bad signature or another app), ``timestamp`` (over 10 min old),
                ``push`` (not an order message).
        """
        cid, stamp, given = (headers.get(k, "") for k in ("x-pdd-client-id", "x-pdd-time", "x-pdd-sign"))
        if cid != self.credentials.app_key or not hmac.compare_digest(
                push_sign(cid, stamp, self.credentials.app_secret), given):
            raise PlatformError(PLATFORM, "sign", "拼多多推送消息签名不正确")
        if not stamp.isdigit() or abs(self.clock().timestamp() * 1000 - int(stamp)) > MAX_SKEW_MS:
            raise PlatformError(PLATFORM, "timestamp", "拼多多推送消息时间与服务器相差超过 10 分钟")
        try:
            frame = json.loads(body)
            message = frame["message"]
            content = json.loads(message["content"]) if isinstance(message["content"], str) else message["content"]
            topic, tid = str(message["type"]), str(content.get("tid") or "")
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            raise PlatformError(PLATFORM, "push", "拼多多推送消息格式不对") from None
        if not tid:
            raise PlatformError(PLATFORM, "push", f"拼多多推送「{topic}」不涉及订单")
        return PushMessage(msg_id=str(frame.get("id") or f"{topic}:{tid}:{frame.get('sendTime', '')}"),
                           topic=topic, platform_order_no=tid)


def _local(value: Any, label: str) -> datetime | None:
    """PDD's ``yyyy-MM-dd HH:mm:ss`` (Beijing time) as UTC; empty means not set."""
    if value in (None, ""):
        return None
    try:
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=GMT8).astimezone(UTC)
    except ValueError:
        raise PayloadError(f"{label}「{value}」不是有效时间") from None


def _listed_time(value: Any) -> datetime | None:
    """A list entry's ``updated_at``, or None where it is missing or unreadable (the order is fetched)."""
    try:
        return _local(value, "更新时间")
    except PayloadError:
        return None


def _required(value: Any, label: str, order_sn: str) -> datetime:
    at = _local(value, label)
    if at is None:
        raise PayloadError(f"拼多多订单 {order_sn} 缺少{label}")
    return at


def _status(order_status: int, confirm: int, refund: int) -> OrderStatus:
    if refund == 4 or confirm == 2:  # 退款成功 / 已取消: PDD orders hold one goods, a full refund ends it
        return S.CANCELLED
    if confirm == 0:  # 未成交 (拼团中): paid, but not yet an order the shop may ship
        return S.PENDING_PAYMENT
    try:
        return {1: S.PAID, 2: S.SHIPPED, 3: S.COMPLETED}[order_status]
    except KeyError:
        raise PayloadError(f"拼多多订单状态「{order_status}」无法识别") from None


def _normalise(info: dict[str, Any]) -> InboundOrder:
    sn = str(info.get("order_sn") or "")
    if not sn:
        raise PayloadError("拼多多订单缺少订单号")
    order_status, confirm, refund = (int(info.get(k, d)) for k, d in
                                     (("order_status", 0), ("confirm_status", 1), ("refund_status", 1)))
    status = _status(order_status, confirm, refund)
    # Refunds are order-level on PDD (one goods per order): every line carries the order's refund state.
    line_status = {2: "refunding", 3: "refunding", 4: "refunded"}.get(refund, "normal")
    after_sales = f"after_sales_status={info.get('after_sales_status', 0)}"
    items, gifts = info.get("item_list") or [], info.get("gift_list") or []
    if not items:
        raise PayloadError(f"拼多多订单 {sn} 没有商品")
    rows = []
    for n, it in enumerate(items + gifts, 1):
        qty, price = int(it["goods_count"]), yuan(it.get("goods_price", 0))
        if qty <= 0 or price < 0:
            raise PayloadError(f"拼多多订单 {sn} 第 {n} 个商品数量或价格不合理")
        rows.append((it, qty, price, n > len(items)))
    goods, discount = yuan(info["goods_amount"]), yuan(info.get("discount_amount", 0))
    pay_amount = yuan(info["pay_amount"])
    if pay_amount < 0 or goods < discount:
        raise PayloadError(f"拼多多订单 {sn} 金额不合理：商品 {goods}，优惠 {discount}，实付 {pay_amount}")
    # PDD gives no per-line paid amount: split goods − discount by line value, as the platform does.
    shares = apportion(goods - discount, [price * qty for _, qty, price, gift in rows if not gift])
    lines = []
    for it, qty, price, gift in rows:
        spec = [s.strip() for s in str(it.get("goods_spec") or "").split(",")]
        lines.append(Line(
            platform_line_id=("gift:" if gift else "") + str(it.get("sku_id") or it.get("goods_id") or len(lines) + 1),
            sku=str(it.get("outer_id") or it.get("sku_id") or ""), name=str(it.get("goods_name", "")), qty=qty,
            unit_price=price, paid=Decimal("0.00") if gift else shares.pop(0), is_gift=gift,
            color=spec[0] if len(spec) == 2 else "", size=spec[1] if len(spec) == 2 else "",
            line_status=line_status, platform_status=after_sales))
    if any(not ln.sku for ln in lines):
        raise PayloadError(f"拼多多订单 {sn} 有商品缺少商家编码")
    handle = str(info.get("open_address_id") or "") or None
    ext = {"group_order_id": str(info["group_order_id"])} if info.get("group_order_id") else {}
    return InboundOrder(
        platform=PLATFORM, platform_order_no=sn, status=status, platform_status=f"{order_status}/{confirm}/{refund}",
        ordered_at=_required(info.get("created_time"), "下单时间", sn),
        platform_updated_at=_required(info.get("updated_at"), "更新时间", sn),
        customer_id=handle or str(info.get("receiver_phone") or "") or f"pdd:{sn}", lines=tuple(lines),
        original_amount=sum((ln.unit_price * ln.qty for ln in lines), Decimal("0.00")), paid_amount=pay_amount,
        receiver=Receiver(name=info.get("receiver_name_mask") or info.get("receiver_name") or None,
                          phone=info.get("receiver_phone_mask") or info.get("receiver_phone") or None,
                          address=info.get("address_mask") or info.get("address") or None,
                          province=info.get("province") or None, city=info.get("city") or None,
                          district=info.get("town") or None, token=handle,
                          ciphertext="|".join(str(info.get(k) or "") for k in
                                              ("receiver_name", "receiver_phone", "address")) or None),
        paid_at=_local(info.get("pay_time"), "支付时间"), ship_by=_local(info.get("last_ship_time"), "承诺发货时间"),
        tracking_no=info.get("tracking_number") or None, buyer_note=info.get("buyer_memo") or None,
        seller_note=info.get("remark") or None, ext=ext)
