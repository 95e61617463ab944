"""拼多多 simulator: signed /api/router, 30-min increment windows paged by page number, order details, messages."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import queue
import random
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import requests

from connectors.base import Credentials
from connectors.pdd import (DETAIL_API, GMT8, LIST_API, PARAM_ERROR, RATE_LIMITED, REFRESH_API, ROUTER, SIGN_ERROR,
                            TOKEN_EXPIRED, push_sign, sign)
from connectors.simulators import pdd_writes
from connectors.simulators.server import Request, Response
from connectors.simulators.world import SimOrder, SimWorld

log = logging.getLogger(__name__)

MAX_WINDOW = 30 * 60
MAX_SKEW = 10 * 60
ORDER_STATUS = {"pending_payment": 1, "paid": 1, "shipped": 2, "completed": 3, "cancelled": 1}
PUSH_TOPICS = {"address_changed": "pdd_trade_TradeLogisticsAddressChanged",
               "cancelled": "pdd_refund_RefundAgreeAgreement",  # a paid order is cancelled by an agreed refund
               "refund_created": "pdd_refund_RefundCreated"}


def _num(value: Decimal) -> float:
    """Yuan as the JSON number PDD sends; a two-place value survives the round trip exactly."""
    return float(value)


def _local(at: datetime | None) -> str:
    return at.astimezone(GMT8).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def _digits(seed: str, n: int) -> str:
    return str(int(hashlib.md5(seed.encode()).hexdigest(), 16))[:n].rjust(n, "7")


def _cipher(plain: str) -> str:
    """A stand-in for PDD's receiver ciphertext (only decryptable inside PDD's cloud, so opaque to us)."""
    digest = hashlib.sha256(plain.encode()).digest()
    return "~AgAAAA" + digest.hex()[:44].upper() + "~1~"


def _item(ln: Any) -> dict[str, Any]:
    style = ln.sku.split("-")[0]
    return {"goods_count": ln.qty, "goods_id": int("6" + _digits(style, 10)), "goods_img": f"https://img.pddpic.com/{style}.jpeg",
            "goods_name": ln.name, "goods_price": _num(ln.price), "goods_spec": f"{ln.color},{ln.size}",
            "outer_goods_id": style, "outer_id": ln.sku, "sku_id": int(ln.line_id)}


def render_order(o: SimOrder) -> dict[str, Any]:
    """A world order as PDD's ``order_info`` (yuan numbers, Beijing-time strings, masked + ciphertext receiver)."""
    refunding = any(ln.refund in ("requested", "return_agreed") for ln in o.lines)
    paid = o.paid_at is not None
    confirm = 0 if o.status == "pending_payment" else (2 if o.status == "cancelled" and not paid else 1)
    refund = 4 if o.status == "cancelled" and paid else 2 if refunding else 1
    order_status = ORDER_STATUS[o.status]
    to_ship = order_status == 1 and confirm == 1 and refund == 1  # PDD returns ciphertext only while 待发货
    group = int(_digits(o.order_id, 3)) % 10 < 6
    return {
        "order_sn": o.order_id, "order_status": order_status, "confirm_status": confirm, "refund_status": refund,
        "after_sales_status": 10 if refund == 4 else next((pdd_writes.after_sales_status(ln) for ln in o.lines
                                                     if ln.refund in ("requested", "return_agreed")), 0)
        if refund == 2 else 0,
        "created_time": _local(o.created), "updated_at": _local(o.updated), "pay_time": _local(o.paid_at),
        "confirm_time": _local(o.paid_at) if confirm == 1 else "", "last_ship_time": _local(o.ship_by),
        "shipping_time": _local(o.updated) if o.tracking_no else "", "receive_time": "",
        "item_list": [_item(ln) for ln in o.lines if not ln.is_gift],
        "gift_list": [_item(ln) | {"goods_price": 0.0} for ln in o.lines if ln.is_gift],
        "goods_amount": _num(o.total), "discount_amount": _num(o.discount), "seller_discount": _num(o.discount),
        "platform_discount": 0.0, "capital_free_discount": 0.0, "order_change_amount": 0.0,
        "postage": _num(o.post_fee), "pay_amount": _num(o.payment), "pay_type": "WEIXIN" if paid else "",
        "pay_no": "4200" + _digits(o.order_id, 24) if paid else "",
        "receiver_name": _cipher(o.receiver_name) if to_ship else "", "receiver_name_mask": o.receiver_name[:1] + "**",
        "receiver_phone": _cipher(o.receiver_phone) if to_ship else "",
        "receiver_phone_mask": f"{o.receiver_phone[:3]}****{o.receiver_phone[-4:]}",
        "receiver_address": _cipher(o.detail) if to_ship else "", "receiver_address_mask": o.detail[:2] + "****",
        "address": _cipher(o.address) if to_ship else "",
        "address_mask": f"{o.province}{o.city}{o.district}{o.detail[:2]}****",
        "country": "中国", "province": o.province, "city": o.city, "town": o.district,
        "open_address_id": "1" + hashlib.md5(f"{o.receiver_name}{o.receiver_phone}{o.address}".encode()).hexdigest(),
        "group_order_id": int("9" + _digits(o.order_id + "g", 17)) if group else 0,
        "group_status": 1 if confirm == 1 else 0, "group_role": 0, "is_lucky_flag": 1, "trade_type": 0,
        "risk_control_status": 0, "invoice_status": 0, "is_pre_sale": 0, "is_stock_out": 0, "free_sf": 0,
        "tracking_number": o.tracking_no or "", "logistics_id": 44 if o.tracking_no else 0,
        "buyer_memo": o.buyer_note, "remark": o.seller_note, "remark_tag": 0, "order_tag_list": [],
    }


class _Pusher(threading.Thread):
    """Forwards message frames off the world's thread, as a message-service bridge would."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="pdd-push")
        self.jobs: queue.Queue[tuple[str, dict[str, str], bytes]] = queue.Queue()
        self.session = requests.Session()

    def run(self) -> None:
        while True:
            url, headers, body = self.jobs.get()
            for pause in (0.0, 0.5, 1.0):
                time.sleep(pause)
                try:
                    if self.session.post(url, data=body, headers=headers, timeout=5).status_code < 500:
                        break
                except requests.RequestException as err:
                    log.info("pdd push to %s failed: %s", url, err)


class PddSimulator:
    """Serves one 拼多多 shop's API from ``world``; plug ``handle`` into SimServer.

    ``index_delay`` seconds: a change becomes visible to the increment list only that long after it
    happened (why PDD asks for windows ending 3 min back). ``on_list_page(page, order_sns)`` (tests)
    runs before each list page is answered, so a test can change the world between pages.
    """

    def __init__(self, world: SimWorld, *, client_id: str, client_secret: str, access_token: str | None = None,
                 refresh_token: str | None = None, page_size_max: int = 100, push_url: str | None = None,
                 mall_id: str = "77001", token_ttl: int = 86400, index_delay: float = 0.0) -> None:
        self.world, self.client_id, self.secret = world, client_id, client_secret
        self.refresh, self.page_size_max, self.mall_id = refresh_token, page_size_max, mall_id
        self.token_ttl, self.index_delay = token_ttl, index_delay
        self.rng = random.Random(11)
        self.lock = threading.Lock()
        self.tokens: dict[str, datetime] = {}
        if access_token:
            self.tokens[access_token] = world.now() + timedelta(seconds=token_ttl)
        self.on_list_page: Callable[[int, list[str]], None] | None = None
        self.calls: list[dict[str, str]] = []  # the parameters of every call that passed the gateway (tests)
        self.push_url = push_url
        self._ids = itertools.count(int(time.time() * 1000))
        if push_url:
            self.pusher = _Pusher()
            self.pusher.start()
            world.listeners.append(self._on_change)

    # --- pushes -------------------------------------------------------------------------------------
    def push_frame(self, topic: str, order: SimOrder) -> dict[str, Any]:
        """A message-service frame for one change."""
        now_ms = int(time.time() * 1000)
        content: dict[str, Any] = {"tid": order.order_id, "mall_id": int(self.mall_id)}
        if topic.startswith("pdd_refund_"):
            line = next((ln for ln in order.lines if ln.refund != "none"), order.lines[0])
            content["refund_id"] = int(pdd_writes.refund_id(line.line_id))  # the after-sale's id (pdd.refund.agree)
        return {"id": next(self._ids), "commandType": "Common", "time": now_ms, "sendTime": now_ms,
                "message": {"type": topic, "mallID": int(self.mall_id), "content": json.dumps(content)}}

    def push_headers(self, *, secret: str | None = None, time_ms: int | None = None) -> dict[str, str]:
        """The bridge's signature headers (PDD's connection signature, applied per forwarded frame)."""
        stamp = str(time_ms if time_ms is not None else int(time.time() * 1000))
        return {"Content-Type": "application/json; charset=utf-8", "X-Pdd-Client-Id": self.client_id,
                "X-Pdd-Time": stamp, "X-Pdd-Sign": push_sign(self.client_id, stamp, secret or self.secret)}

    def _on_change(self, topic: str, order: SimOrder) -> None:
        name = PUSH_TOPICS.get(topic)
        if name is None or (topic == "cancelled" and order.paid_at is None) or not self.push_url:
            return  # PDD only lists paid orders: an unpaid cancellation sends nothing
        body = json.dumps(self.push_frame(name, order), ensure_ascii=False).encode()
        self.pusher.jobs.put((self.push_url, self.push_headers(), body))

    # --- HTTP ---------------------------------------------------------------------------------------
    @staticmethod
    def _json(payload: dict[str, Any]) -> Response:
        return Response(200, json.dumps(payload, ensure_ascii=False).encode())

    def _err(self, code: int, msg: str, sub_msg: str = "", sub_code: str = "") -> Response:
        return self._json({"error_response": {"error_code": code, "error_msg": msg, "sub_code": sub_code or str(code),
                                              "sub_msg": sub_msg or msg, "request_id": secrets.token_hex(8)}})

    @staticmethod
    def _params(req: Request) -> dict[str, str] | None:
        """The request's parameters as the strings that were signed (JSON body or form)."""
        if "json" in req.headers.get("content-type", ""):
            try:
                raw = json.loads(req.body or b"{}")
            except (ValueError, UnicodeDecodeError):
                return None
            if not isinstance(raw, dict):
                return None
            return {k: ("true" if v is True else "false" if v is False else
                        json.dumps(v, ensure_ascii=False, separators=(",", ":")) if isinstance(v, (dict, list))
                        else str(v)) for k, v in raw.items() if v is not None}
        return dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)) | req.query

    def handle(self, req: Request) -> Response:
        """One /api/router call, with the world's faults applied first."""
        f = self.world.faults
        if f.take("slow_next"):
            time.sleep(f.slow_seconds)
        if f.take("error_5xx_next") or (f.error_5xx_rate and self.rng.random() < f.error_5xx_rate):
            return Response(503, b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
                            {"Content-Type": "text/html"})
        if req.method != "POST" or req.path != ROUTER:
            return Response(404, b'{"error":"not found"}')
        p = self._params(req)
        if p is None:
            return self._err(PARAM_ERROR, "参数错误", "请求体不是有效的 JSON")
        if p.get("client_id") != self.client_id:
            return self._err(PARAM_ERROR, "参数错误", "client_id 不存在", "client_id_invalid")
        if p.get("sign") != sign(p, self.secret):
            return self._err(SIGN_ERROR, "签名验证失败")
        now = self.world.now()
        stamp = p.get("timestamp", "")
        if not stamp.isdigit() or abs(now.timestamp() - int(stamp)) > MAX_SKEW:
            return self._err(PARAM_ERROR, "参数错误", "timestamp 与服务器时间相差超过10分钟", "timestamp_invalid")
        api = p.get("type", "")
        if api == REFRESH_API:
            return self._refresh(p, now)
        route = {LIST_API: self._list, DETAIL_API: self._detail, **pdd_writes.routes(self)}.get(api)
        if route is None:
            return self._err(PARAM_ERROR, "参数错误", f"type {api} 不存在", "type_invalid")
        with self.lock:
            expires = self.tokens.get(p.get("access_token", ""))
            if expires is None or expires <= now or f.take("expire_token_next"):
                self.tokens.pop(p.get("access_token", ""), None)
                return self._err(TOKEN_EXPIRED, "access_token已过期")
        if f.take("rate_limit_next"):
            return self._err(RATE_LIMITED, "调用已被限流",
                             f"当前接口调用过于频繁，请{f.rate_limit_seconds}秒后重试", "isv.call-limited")
        self.calls.append(p)
        resp = route(p, now)
        if f.take("malformed_next"):
            resp.body = resp.body[: max(1, len(resp.body) // 2)]
        return resp

    def _refresh(self, p: dict[str, str], now: datetime) -> Response:
        if not self.refresh or p.get("refresh_token") != self.refresh:
            return self._err(PARAM_ERROR, "参数错误", "refresh_token 无效或已过期", "refresh_token_invalid")
        token = secrets.token_hex(16)
        with self.lock:
            self.tokens[token] = now + timedelta(seconds=self.token_ttl)
        return self._json({"pop_auth_token_refresh_response": {
            "access_token": token, "expires_in": self.token_ttl,
            "expires_at": int(now.timestamp()) + self.token_ttl, "refresh_token": self.refresh,
            "refresh_token_expires_in": 30 * 86400, "owner_id": self.mall_id, "owner_name": "小树苗童装拼多多店",
            "scope": [LIST_API, DETAIL_API], "request_id": secrets.token_hex(8)}})

    def _list(self, p: dict[str, str], now: datetime) -> Response:
        try:
            start, end = int(p["start_updated_at"]), int(p["end_updated_at"])
            page, size = int(p.get("page", "1")), int(p.get("page_size", "100"))
        except (KeyError, ValueError):
            return self._err(PARAM_ERROR, "参数错误", "start_updated_at / end_updated_at / page 必须是整数")
        if end < start or end - start > MAX_WINDOW:
            return self._err(PARAM_ERROR, "参数错误", "开始时间结束时间间距不能超过30分钟", "time_range_invalid")
        if page < 1 or not 1 <= size <= self.page_size_max:
            return self._err(PARAM_ERROR, "参数错误", f"page 从 1 开始，page_size 不能超过 {self.page_size_max}")
        visible = now - timedelta(seconds=self.index_delay)  # late commits: newest changes not indexed yet
        found = [o for o in self.world.modified_between(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
                 if o.updated <= visible]  # newest first, by modification time
        chunk = found[(page - 1) * size: page * size]
        if chunk and self.world.faults.duplicate_rate and self.rng.random() < self.world.faults.duplicate_rate:
            chunk.append(self.rng.choice(found))
        if self.on_list_page is not None:
            self.on_list_page(page, [o.order_id for o in chunk])
        body: dict[str, Any] = {"order_sn_list": [render_order(o) for o in chunk], "has_next": page * size < len(found),
                                "request_id": secrets.token_hex(8)}
        if p.get("use_has_next") != "true":
            body["total_count"] = len(found)
        return self._json({"order_sn_increment_get_response": body})

    def _detail(self, p: dict[str, str], now: datetime) -> Response:
        order = self.world.get(p.get("order_sn", ""))
        if order is None:
            return self._err(PARAM_ERROR, "参数错误", "订单不存在", "order_not_exist")
        return self._json({"order_info_get_response": {"order_info": render_order(order),
                                                       "request_id": secrets.token_hex(8)}})


def make_simulator(world: SimWorld, credentials: Credentials, **kw: Any) -> PddSimulator:
    """The simulator for a shop with these credentials (client_id = app_key, client_secret = app_secret)."""
    return PddSimulator(world, client_id=credentials.app_key, client_secret=credentials.app_secret,
                        access_token=credentials.access_token or None,
                        refresh_token=credentials.refresh_token or None, **kw)
