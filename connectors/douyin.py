"""抖店 (Douyin shop open platform): signed order pulls, token refresh, pushed messages, normalised orders."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from json.decoder import scanstring
from typing import Any
from urllib.parse import urlencode

import orjson

from app.domain.errors import InvalidValue
from app.domain.intake import InboundOrder, Line, Receiver
from app.domain.money import fen
from app.domain.status import OrderStatus
from connectors.base import (Connector, Known, PayloadError, PlatformError, PushMessage, RawOrder, http, loads_exact,
                             with_retries)

log = logging.getLogger(__name__)

PLATFORM = "douyin"
GMT8 = timezone(timedelta(hours=8))
OK = 10000
RETRYABLE = {20000, 20001, 60000}  # service unavailable, internal timeout, rate limited
TOKEN_EXPIRED = "isv.access-token-expired"

# order_status (SDK comments) → hub stage. 101 部分发货: the rest of the order still has to leave the
# warehouse, so the hub keeps it open (paid) rather than calling it shipped.
STAGES = {1: OrderStatus.PENDING_PAYMENT, 105: OrderStatus.PAID, 2: OrderStatus.PAID, 101: OrderStatus.PAID,
          3: OrderStatus.SHIPPED, 4: OrderStatus.CANCELLED, 5: OrderStatus.COMPLETED}

# Message tags → topic names. 100/101/103/200/201 are in a third-party SDK's constants; 105 and
# 106 match the official message classes trade_TradeAddressChanged / trade_TradeCanceled but their
# numbers are not in the public material we have (research notes §4), so unknown tags still re-read the order.
PUSH_TOPICS = {"100": "trade_TradeCreate", "101": "trade_TradePaid", "103": "trade_TradeSuccess",
               "105": "trade_TradeAddressChanged", "106": "trade_TradeCanceled",
               "200": "refund_RefundCreated", "201": "refund_RefundAgreed"}

_SCAN = json.JSONDecoder()
_WS = " \t\n\r"
_WS_BYTES = (b" ", b"\t", b"\n", b"\r")  # one byte each; b"" (past the end) is not among them


def canonical_json(params: dict[str, Any]) -> str:
    """``param_json`` as the official SDK builds it: sorted keys, compact, non-ASCII raw, ``& < >`` unescaped."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sign(app_key: str, app_secret: str, method: str, param_json: str, timestamp: str, *, v: str = "2",
         sign_method: str = "hmac-sha256") -> str:
    """The request signature: secret + "app_key…method…param_json…timestamp…v…" + secret, hashed.

    Args:
        sign_method: ``hmac-sha256`` (keyed with the secret; what the SDK sends) or legacy ``md5``.
    """
    pattern = f"{app_secret}app_key{app_key}method{method}param_json{param_json}timestamp{timestamp}v{v}{app_secret}"
    if sign_method == "md5":
        return hashlib.md5(pattern.encode()).hexdigest()
    return hmac.new(app_secret.encode(), pattern.encode(), hashlib.sha256).hexdigest()


def push_sign(app_key: str, app_secret: str, body: bytes, sign_method: str = "md5") -> str:
    """The ``event-sign`` header of a pushed message: MD5(app_key + body + app_secret), as the official SDK checks.

    ``hmac-sha256`` (keyed with the secret) is accepted when the push says so in ``sign-method``; that
    variant is not in the public material we could read.
    """
    data = app_key.encode() + body + app_secret.encode()
    if sign_method == "hmac-sha256":
        return hmac.new(app_secret.encode(), data, hashlib.sha256).hexdigest()
    return hashlib.md5(data).hexdigest()


class DouyinConnector(Connector):
    """One 抖店 shop: pulls by update time, pages backwards, refreshes its token once when told it expired.

    Wire format (research notes §2.2, from the official Go SDK): ``POST {base}/order/searchList`` with
    ``app_key, method, timestamp (Unix s), v=2, sign_method, sign, access_token`` in the query and the
    canonical ``param_json`` as the body; answers are ``{code, msg, sub_code, sub_msg, log_id, data}``,
    ``code`` 10000 for success. Amounts are integer fen, times Unix seconds.
    """

    platform = PLATFORM
    # The official SDK answers pushes with this; anything else makes 抖店 resend.
    push_ack = b'{"code":0,"msg":"success"}'
    # The docs name no window limit for order.searchList; 30 min keeps each result set small.
    max_window = timedelta(minutes=30)
    # A window that ends a second in the past means an order changed while we page leaves the window
    # (it is read by the next one) instead of jumping to page 0 and pushing another order past us.
    lag = timedelta(seconds=1)
    page_size = 100
    max_passes = 3

    # --- transport -------------------------------------------------------------------------------
    def _once(self, method: str, params: dict[str, Any], *, token: bool) -> tuple[dict[str, Any], str, bytes]:
        creds = self.credentials
        param_json = canonical_json(params)
        stamp = str(int(self.clock().timestamp()))
        query = {"app_key": creds.app_key, "method": method, "timestamp": stamp, "v": "2",
                 "sign_method": "hmac-sha256", "sign": sign(creds.app_key, creds.app_secret, method, param_json, stamp)}
        if token:
            query["access_token"] = creds.access_token
        # The query encoded here as requests would (urlencode): its generic encoder costs a pushed detail's fetch ~5 %.
        response = http(self.session, PLATFORM, "POST", f"{self.base_url}/{method.replace('.', '/')}",
                        timeout=self.timeout, params=urlencode(query), data=param_json.encode(),
                        headers={"Content-Type": "application/json;charset=UTF-8", "x-open-no-old-err-code": "1"})
        if response.status_code >= 400:
            raise PlatformError(PLATFORM, f"http-{response.status_code}", f"抖店接口拒绝了请求（HTTP {response.status_code}）")
        try:
            text = response.content.decode("utf-8")
            answer = loads_exact(response.content)
        except ValueError:  # a cut-off answer: the next attempt normally gets the whole one
            raise PlatformError(PLATFORM, "malformed", "抖店返回的内容不完整，无法解析", retryable=True) from None
        code = answer.get("code") if isinstance(answer, dict) else None
        if not isinstance(code, int):
            raise PlatformError(PLATFORM, "malformed", "抖店返回的内容缺少 code", retryable=True)
        if code != OK:
            sub = str(answer.get("sub_code") or "")
            after = response.headers.get("Retry-After", "")
            raise PlatformError(PLATFORM, str(code), str(answer.get("sub_msg") or answer.get("msg") or ""), sub_code=sub,
                                retryable=code in RETRYABLE, auth_expired=sub == TOKEN_EXPIRED,
                                retry_after=float(after) if after.isdigit() else None)
        return answer, text, response.content

    def _call(self, method: str, params: dict[str, Any], *, token: bool = True) -> tuple[dict[str, Any], str, bytes]:
        return with_retries(self.policy, lambda: self._once(method, params, token=token),
                            on_auth_expired=self.refresh_token if token else None)

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One signed API call (write-backs use it); the whole answer envelope."""
        return self._call(method, params)[0]

    def refresh_token(self) -> None:
        """Exchange the refresh token for a new pair (``token.refresh``, as the official SDK does).

        Raises:
            PlatformError: no refresh token, or the platform refused it: the shop must be authorised again.
        """
        old = self.credentials
        if not old.refresh_token:
            raise PlatformError(PLATFORM, "auth", "抖店授权已过期且没有刷新令牌，请在配置中重新授权店铺")
        answer, *_ = with_retries(self.policy, lambda: self._once(
            "token.refresh", {"grant_type": "refresh_token", "refresh_token": old.refresh_token}, token=False))
        data = answer.get("data") or {}
        if not data.get("access_token"):
            raise PlatformError(PLATFORM, "auth", "抖店刷新授权没有返回新的令牌，请重新授权店铺")
        self.credentials = dataclasses.replace(old, access_token=str(data["access_token"]),
                                               refresh_token=str(data.get("refresh_token") or old.refresh_token))
        log.info("douyin shop %s: access token refreshed", self.shop_id or old.app_key)
        if self.on_credentials_changed is not None:
            self.on_credentials_changed(self.credentials)

    # --- pulls -------------------------------------------------------------------------------------
    def changed_orders(self, start: datetime, end: datetime, known: Known | None = None) -> Iterator[RawOrder]:
        """Every order updated in [start, end], each once, split into windows of at most ``max_window``.

        ``known`` is not asked: the list already carries whole orders, so there is no detail call to spare.
        """
        seen: set[str] = set()
        cursor = start
        while cursor < end:
            stop = min(cursor + self.max_window, end)
            yield from self._window(cursor, stop, seen)
            cursor = stop

    def _window(self, start: datetime, end: datetime, seen: set[str]) -> Iterator[RawOrder]:
        # Newest first and read from the last page back to page 0: an order that changes meanwhile
        # leaves the window, which only shifts already-read orders onto the next page (read twice,
        # yielded once). If the total grows (a late platform commit), the window is read again.
        params = {"order_by": "update_time", "size": self.page_size,
                  "update_time_start": int(start.timestamp()), "update_time_end": int(end.timestamp())}
        for _ in range(self.max_passes):
            total, orders = self._page(params, 0)
            if total <= self.page_size:  # one page: nothing can shift under us
                yield from self._unseen(orders, seen)
                return
            grew = False
            for page in range((total - 1) // self.page_size, -1, -1):
                now_total, orders = self._page(params, page)
                grew = grew or now_total > total
                yield from self._unseen(orders, seen)
            if not grew:
                return
        log.warning("douyin: window %s–%s kept growing while paging; the next poll's overlap re-reads it", start, end)

    @staticmethod
    def _unseen(orders: list[tuple[str, bytes, Any]], seen: set[str]) -> Iterator[RawOrder]:
        for order_no, body, item in orders:
            key = order_no or hashlib.sha256(body).hexdigest()
            if key not in seen:
                seen.add(key)
                yield RawOrder(order_no, body, "order.searchList", item)

    def _page(self, params: dict[str, Any], page: int) -> tuple[int, list[tuple[str, bytes, Any]]]:
        answer, text, raw = self._call("order.searchList", {**params, "page": page})
        data = answer.get("data")
        total = data.get("total") if isinstance(data, dict) else None
        if not isinstance(total, int) or isinstance(total, bool):
            raise PlatformError(PLATFORM, "malformed", "抖店订单列表缺少 total", retryable=True)
        items = data.get("shop_order_list") or []
        bodies = _spans(text, ("data", "shop_order_list"), items if isinstance(items, list) else None, raw)
        if len(bodies) != len(items):
            raise PlatformError(PLATFORM, "malformed", "抖店订单列表无法逐单切分", retryable=True)
        # Each item was decoded from exactly its span (same text, same Decimal parsing as
        # ``normalise``): it goes along with the bytes so they are not parsed again.
        return total, [(str(item.get("order_id") or "") if isinstance(item, dict) else "", body, item)
                       for item, body in zip(items, bodies, strict=True)]

    def fetch(self, platform_order_no: str) -> RawOrder:
        """The order's current detail from ``order.orderDetail``, exactly as sent."""
        answer, text, _ = self._call("order.orderDetail", {"shop_order_id": platform_order_no})
        data = answer.get("data")
        # The detail as read with the answer (the same text, read the same exact way): it finds its own span,
        # and normalise needs no second reading.
        parsed = data.get("shop_order_detail") if isinstance(data, dict) else None
        bodies = _spans(text, ("data", "shop_order_detail"), [parsed] if parsed is not None else None)
        if not bodies:
            raise PlatformError(PLATFORM, "malformed", f"抖店订单详情缺少订单「{platform_order_no}」", retryable=True)
        return RawOrder(platform_order_no, bodies[0], "order.orderDetail", parsed=parsed)

    # --- pushes ------------------------------------------------------------------------------------
    def parse_push(self, headers: dict[str, str], body: bytes) -> PushMessage:
        """The first message of a verified push (抖店 posts a JSON array of ``{tag, msg_id, data}``).

        Raises:
            PlatformError: code ``sign`` for a wrong app or signature, ``push`` for an unreadable message.
        """
        return self.parse_pushes(headers, body)[0]

    def parse_pushes(self, headers: dict[str, str], body: bytes) -> list[PushMessage]:
        """Every message of a verified push, in order."""
        low = {k.lower(): v for k, v in headers.items()}
        creds = self.credentials
        if low.get("app-id", "") != creds.app_key:
            raise PlatformError(PLATFORM, "sign", "抖店推送消息的应用标识与本店铺不符")
        expected = push_sign(creds.app_key, creds.app_secret, body, low.get("sign-method", "md5").lower())
        if not hmac.compare_digest(expected, low.get("event-sign", "").lower()):
            raise PlatformError(PLATFORM, "sign", "抖店推送消息签名不正确")
        try:
            records = json.loads(body)
            messages = []
            for rec in records:
                data = rec["data"]
                data = json.loads(data) if isinstance(data, str) else data
                tag = str(rec["tag"])
                order_no = str(data.get("p_id") or "")
                if not order_no or not rec.get("msg_id"):
                    raise ValueError(rec)
                messages.append(PushMessage(str(rec["msg_id"]), PUSH_TOPICS.get(tag, f"doudian_tag_{tag}"), order_no))
        except (ValueError, TypeError, KeyError, AttributeError):
            raise PlatformError(PLATFORM, "push", "抖店推送消息无法识别：不是带订单号的消息数组") from None
        if not messages:
            raise PlatformError(PLATFORM, "push", "抖店推送消息为空")
        return messages

    # --- normalise ---------------------------------------------------------------------------------
    def normalise(self, raw: RawOrder) -> InboundOrder:
        """A shop order (``shop_order_detail`` / a ``shop_order_list`` item, or a whole answer) in the hub's shape.

        Raises:
            PayloadError: malformed JSON, missing or impossible fields, in business language.
        """
        doc = raw.parsed
        if doc is None:
            try:
                doc = loads_exact(raw.body)
            except (ValueError, UnicodeDecodeError):
                raise PayloadError("抖店订单报文不是完整的 JSON") from None
        try:
            return _order(_unwrap(doc))
        except (TypeError, AttributeError, KeyError, ValueError):  # a field of the wrong JSON type
            raise PayloadError("抖店订单字段的类型与接口文档不符") from None


def _unwrap(doc: Any) -> dict[str, Any]:
    """A recorded whole answer is accepted too: the order inside it."""
    if isinstance(doc, dict) and "code" in doc and "data" in doc:
        if doc["code"] != OK:
            raise PayloadError(f"抖店返回的是错误（{doc['code']} {doc.get('sub_msg') or doc.get('msg') or ''}），不是订单")
        doc = (doc["data"] or {}).get("shop_order_detail")
    if not isinstance(doc, dict):
        raise PayloadError("抖店订单报文不是一个订单对象")
    return doc


def _order(o: dict[str, Any]) -> InboundOrder:
    order_no = str(o.get("order_id") or "")
    if not order_no:
        raise PayloadError("缺少订单号")
    status = o.get("order_status")
    if status not in STAGES or isinstance(status, bool):
        raise PayloadError(f"订单状态「{status}」无法识别")
    created, updated = _when(o.get("create_time"), "下单时间"), _when(o.get("update_time"), "更新时间")
    if created is None or updated is None:
        raise PayloadError("缺少下单时间或更新时间")
    if updated < created:
        raise PayloadError("订单更新时间早于下单时间")
    customer = str(o.get("doudian_open_id") or "")
    if not customer:
        raise PayloadError("缺少买家标识（doudian_open_id）")
    skus = o.get("sku_order_list")
    if not isinstance(skus, list) or not skus:
        raise PayloadError("订单没有商品明细")
    lines = tuple(_line(s) for s in skus)
    tracking = next((str(p["tracking_no"]) for p in o.get("logistics_info") or [] if p.get("tracking_no")), None)
    return InboundOrder(
        platform=PLATFORM, platform_order_no=order_no, status=STAGES[status], platform_status=str(status),
        ordered_at=created, platform_updated_at=updated, customer_id=customer, lines=lines,
        original_amount=_money(o.get("order_amount"), "订单金额"), paid_amount=_money(o.get("pay_amount"), "实付金额"),
        receiver=_receiver(o, customer), paid_at=_when(o.get("pay_time"), "支付时间"),
        ship_by=_when(o.get("exp_ship_time"), "预计发货时间"), tracking_no=tracking,
        buyer_note=o.get("buyer_words") or None, seller_note=o.get("seller_words") or None, ext=_ext(skus))


def _line(s: Any) -> Line:
    if not isinstance(s, dict):
        raise PayloadError("商品明细不是对象")
    name = str(s.get("product_name") or "")
    sku = str(s.get("code") or s.get("out_sku_id") or "")
    if not sku:
        raise PayloadError(f"商品「{name}」缺少商家编码")
    qty = s.get("item_num")
    if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0:
        raise PayloadError(f"商品「{name}」数量「{qty}」不是正整数")
    spec = {str(x.get("name")): str(x.get("value")) for x in s.get("spec") or [] if isinstance(x, dict)}
    return Line(platform_line_id=str(s.get("order_id") or ""), sku=sku, name=name, qty=qty,
                unit_price=_money(s.get("origin_amount"), f"商品「{name}」单价"),
                paid=_money(s.get("pay_amount"), f"商品「{name}」实付"), is_gift=s.get("given_product_type") == "FREE",
                color=next((v for k, v in spec.items() if "颜色" in k), ""),
                size=next((v for k, v in spec.items() if "尺" in k), ""),
                line_status=_line_status(s.get("after_sale_info") or {}), platform_status=str(s.get("order_status", "")))


def _line_status(info: dict[str, Any]) -> str:
    """Field-dictionary line status from ``after_sale_info`` (codes from the SDK comments)."""
    kind, state, refund = (info.get(k) or 0 for k in ("after_sale_type", "after_sale_status", "refund_status"))
    if state in (0, 27, 28, 29):  # none, refused, failed/withdrawn, refused after return
        return "normal"
    if kind == 3:  # exchange: the line is held until the new size has gone out
        return "exchanged" if state in (12, 13, 14) else "frozen"
    if kind in (6, 7):  # price protection, re-ship: the goods still go
        return "normal"
    if refund == 3 or state in (12, 53):
        return "refunded"
    if state == 51:  # cancelled before payment: nothing to refund
        return "normal"
    return "refunding"


def _receiver(o: dict[str, Any], buyer: str) -> Receiver:
    """Masked values as given (the ciphertexts stay in the raw payload); names of regions from ``post_addr``.

    The token is ``open_address_id`` ("收件人唯一id", the same for the same receiver and address, used to
    merge orders; older orders without it fall back to the buyer's ``doudian_open_id``). A masked detail
    can hide a changed house number, so ``ciphertext`` (what the hub fingerprints) is that id too: it is
    stable by design, whereas the docs do not say whether re-encrypting the same address gives the same
    ``encrypt_*`` text. Only without the id do the ciphertexts themselves stand in.
    """
    addr = o.get("post_addr") or {}
    masked = o.get("mask_post_addr") or {}
    names = [str((addr.get(k) or masked.get(k) or {}).get("name") or "") for k in ("province", "city", "town", "street")]
    detail = str(masked.get("detail") or addr.get("detail") or "")
    street = names[3] if names[3] and not detail.startswith(names[3]) else ""
    address = "".join(names[:3]) + street + detail
    handle = str(o.get("open_address_id") or "")
    ciphers = "|".join(str(c) for c in (o.get("encrypt_post_receiver"), o.get("encrypt_post_tel"),
                                        addr.get("encrypt_detail")) if c)
    return Receiver(name=o.get("mask_post_receiver") or o.get("post_receiver") or None,
                    phone=o.get("mask_post_tel") or o.get("post_tel") or None, address=address or None,
                    province=names[0] or None, city=names[1] or None, district=names[2] or None,
                    token=handle or buyer, ciphertext=handle or ciphers or None)


def _ext(skus: list[dict[str, Any]]) -> dict[str, str]:
    """Content attribution (sku-level in 抖店). 达人佣金比例 is not in the order API (settlement APIs only)."""
    def first(*keys: str) -> str:
        return next((str(s[k]) for s in skus for k in keys if str(s.get(k) or "") not in ("", "0")), "")

    found = {"video_id": first("video_id"), "live_room_id": first("room_id_str", "room_id"),
             "author_name": first("author_name")}
    return {k: v for k, v in found.items() if v}


def _money(value: Any, label: str) -> Decimal:
    if value is None:
        raise PayloadError(f"缺少{label}")
    try:
        amount = fen(value)
    except InvalidValue:
        raise PayloadError(f"{label}「{value}」不是以分为单位的整数") from None
    if amount < 0:
        raise PayloadError(f"{label}「{value}」不能为负数")
    return amount


def _when(value: Any, label: str) -> datetime | None:
    """Unix seconds (what the API sends) or, from older API versions, "yyyy-MM-dd HH:mm:ss" in GMT+8."""
    if value in (None, "", 0, "0"):
        return None
    if isinstance(value, int | str) and not isinstance(value, bool) and str(value).isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    try:
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=GMT8).astimezone(UTC)
    except ValueError:
        raise PayloadError(f"{label}「{value}」不是有效时间") from None


def _spans(text: str, path: tuple[str, str], decoded: list[Any] | None = None, raw: bytes | None = None) -> list[bytes]:
    """The exact bytes of ``text[path[0]][path[1]]`` (each element if it is an array), kept verbatim.

    The hub stores what the platform sent and dedupes on its hash, so orders are cut out of the
    answer rather than re-serialised (the envelope's log_id changes on every call).

    ``decoded``: the array already decoded (for one object: a list of it alone). An element written
    compactly (as the platform writes it) is then found by writing it again and checking the text there
    is exactly that, instead of parsing it a second time; any other spelling is parsed as before. Either way the span is the
    platform's own bytes. ``raw``: ``text`` as the platform's UTF-8 bytes, to cut compact elements from directly.
    """
    try:
        start = _member(text, _skip(text, 0), path[0])
        at = _member(text, start, path[1]) if start is not None else None
        if at is None:
            return []
        if text[at] != "[":  # one object: ``decoded`` holds it alone
            end = _compact_end(text, at, decoded[0]) if decoded else None
            return [text[at:end or _SCAN.raw_decode(text, at)[1]].encode()]
        spans, i = [], _skip(text, at + 1)
        if decoded and raw is not None:
            i = _compact_run(text, raw, i, decoded, spans)
            if i is None:  # every element cut, and the list closes there
                return spans
        while text[i] != "]":
            end = _compact_end(text, i, decoded[len(spans)]) if decoded and len(spans) < len(decoded) else None
            end = end or _SCAN.raw_decode(text, i)[1]
            spans.append(text[i:end].encode())
            i = _skip(text, end)
            i = _skip(text, i + 1) if text[i] == "," else i
        return spans
    except (ValueError, IndexError):
        raise PlatformError(PLATFORM, "malformed", "抖店返回的内容无法逐单切分", retryable=True) from None


def _compact_run(text: str, raw: bytes, i: int, decoded: list[Any], spans: list[bytes]) -> int | None:
    """Cut compactly written elements straight from the answer's bytes, from text position ``i`` on.

    Each element is written again (``orjson.dumps``) and compared with the bytes where it should
    start; the span is then those very bytes, with no decoding and encoding of text per element.
    Returns None when every element was cut so and the list closes after them; else (an element
    written any other way) the text position to go on from.
    """
    start = at = len(text[:i].encode())  # the list's start in bytes (only the envelope's head is encoded)
    while len(spans) < len(decoded):
        value = decoded[len(spans)]
        if not isinstance(value, dict | list):
            break
        try:
            written = orjson.dumps(value)
        except TypeError:  # e.g. a Decimal: not written compactly by orjson
            break
        if not raw.startswith(written, at):
            break
        spans.append(written)  # byte for byte the answer's own
        end = at + len(written)
        while raw[end:end + 1] in _WS_BYTES:
            end += 1
        if raw[end:end + 1] == b",":
            end += 1
            while raw[end:end + 1] in _WS_BYTES:
                end += 1
        at = end
    if len(spans) == len(decoded) and raw[at:at + 1] == b"]":
        return None
    return i + len(raw[start:at].decode())


def _compact_end(text: str, at: int, value: Any) -> int | None:
    """Where ``value`` ends if the text at ``at`` is exactly its compact JSON, else None.

    Only objects and arrays: they end with their own bracket, whereas a number could go on.
    """
    if not isinstance(value, dict | list):
        return None
    try:
        written = orjson.dumps(value).decode()
    except TypeError:  # e.g. a Decimal: not written compactly by orjson, parse instead
        return None
    end = at + len(written)
    return end if text.startswith(written, at) else None


def _member(text: str, at: int, key: str) -> int | None:
    """Where the value of ``key`` starts in the object at ``at``, or None."""
    if text[at] != "{":
        return None
    i = _skip(text, at + 1)
    while text[i] != "}":
        name, i = scanstring(text, i + 1)
        i = _skip(text, _skip(text, i) + 1)  # past the colon
        if name == key:
            return i
        i = _skip(text, _SCAN.raw_decode(text, i)[1])
        i = _skip(text, i + 1) if text[i] == "," else i
    return None


def _skip(text: str, i: int) -> int:
    while text[i] in _WS:
        i += 1
    return i
