"""微信小店 simulator: stable_token, order/list/get with next_key, order/get in fen, signed JSON callbacks."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import queue
import random
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from connectors.base import Credentials
from connectors.simulators import wechat_writes
from connectors.simulators.server import Request, Response
from connectors.simulators.world import SimOrder, SimWorld, to_fen
from connectors.wechat import DETAIL_PATH, LIST_PATH, TOKEN_PATH, callback_signature

log = logging.getLogger(__name__)

MAX_RANGE = timedelta(days=7)
PARAM_ERROR = 10020055  # 参数有误 (wx-channels-sdk apis/api_error.go)
STATUS = {"pending_payment": 10, "paid": 20, "shipped": 30, "completed": 100}
TOKEN_GRACE = timedelta(minutes=5)  # after a refresh the previous token keeps working this long


def _digits(seed: str, n: int) -> str:
    """Stable pseudo-ids derived from our own ids (same order, same ids, every time)."""
    return str(int(hashlib.md5(seed.encode()).hexdigest(), 16))[:n].rjust(n, "7")


def _mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1)


def render_order(o: SimOrder, *, masked: bool) -> dict[str, Any]:
    """A world order as WeChat's ``order`` object (amounts in fen, times in Unix seconds)."""
    openid = "o" + _digits(o.buyer_token, 6) + o.buyer_token[:21]
    refunded = [ln for ln in o.lines if ln.refund == "refunded"]
    status = STATUS.get(o.status, 200 if refunded else 250)
    deadline = int(o.ship_by.timestamp()) if o.ship_by else 0
    products = []
    for n, ln in enumerate(o.lines, 1):
        p: dict[str, Any] = {
            "product_id": "1000" + _digits(ln.sku[:7], 10), "sku_id": _digits(ln.sku, 10),
            "thumb_img": f"https://mmecimage.cn/p/wx5e7d1c9a3f2b/{_digits(ln.sku, 12)}", "sale_price": to_fen(ln.price),
            "sku_cnt": ln.qty, "title": ln.name,
            "on_aftersale_sku_cnt": ln.qty if ln.refund == "requested" else 0,
            "finish_aftersale_sku_cnt": ln.qty if ln.refund == "refunded" else 0,
            "sku_code": ln.sku, "market_price": to_fen(ln.price),
            "sku_attrs": [{"attr_key": "颜色", "attr_value": ln.color}, {"attr_key": "尺码", "attr_value": ln.size}],
            "real_price": to_fen(ln.paid), "is_discounted": ln.paid < ln.price * ln.qty,
            "estimate_price": to_fen(ln.paid), "out_warehouse_id": "", "delivery_deadline": deadline,
            "merchant_discounted_price": to_fen(ln.price * ln.qty - ln.paid), "finder_discounted_price": 0,
            "product_unique_id": f"{o.order_id}_{n:03d}",
        }
        if ln.is_gift:
            p["is_free_gift"] = True
        products.append(p)
    pay_info: dict[str, Any] = {"prepay_id": f"up_wx{_digits(o.order_id, 24)}", "prepay_time": int(o.created.timestamp())}
    if o.paid_at:
        pay_info.update(pay_time=int(o.paid_at.timestamp()), transaction_id="4200" + _digits(o.order_id + "tx", 24),
                        payment_method=1)
    phone = f"{o.receiver_phone[:3]}****{o.receiver_phone[-4:]}" if masked else o.receiver_phone
    address = {"user_name": _mask_name(o.receiver_name) if masked else o.receiver_name, "postal_code": "",
               "province_name": o.province, "city_name": o.city, "county_name": o.district,
               "detail_info": (o.detail[:2] + "****") if masked else o.detail, "national_code": "", "tel_number": phone,
               "house_number": "", "virtual_order_tel_number": "", "use_tel_number": 0,
               "hash_code": hashlib.md5(f"{o.receiver_name}{o.receiver_phone}{o.address}".encode()).hexdigest()}
    shipped = [{"waybill_id": o.tracking_no, "delivery_id": "SF", "delivery_time": int(o.updated.timestamp()),
                "deliver_type": 1, "product_infos": [{"product_id": p["product_id"], "sku_id": p["sku_id"],
                                                      "product_cnt": p["sku_cnt"]} for p in products]}] if o.tracking_no else []
    key = int(_digits(o.order_id, 4))
    finder = o.ext.get("finder_id") or (f"sph{_digits(o.order_id + 'f', 7)}" if key % 10 < 4 else "")
    sharer = o.ext.get("sharer_openid") or ("o" + _digits(o.order_id + "s", 27) if key % 10 in (3, 5, 7) else "")
    total = o.total
    return {
        "order_id": o.order_id, "status": status, "create_time": int(o.created.timestamp()),
        "update_time": int(o.updated.timestamp()), "openid": openid, "unionid": "",
        "order_detail": {
            "product_infos": products, "pay_info": pay_info,
            "price_info": {"product_price": to_fen(total), "order_price": to_fen(o.payment), "freight": to_fen(o.post_fee),
                           "discounted_price": to_fen(o.discount), "is_discounted": o.discount > 0,
                           "original_order_price": to_fen(total + o.post_fee), "estimate_product_price": to_fen(total - o.discount),
                           "merchant_receieve_price": to_fen(o.payment), "merchant_discounted_price": to_fen(o.discount)},
            "delivery_info": {"address_info": address, "delivery_product_info": shipped, "ship_done_time": 0,
                              "deliver_method": 0, "address_under_review": None},
            "ext_info": {"customer_notes": o.buyer_note, "merchant_notes": o.seller_note, "finder_id": finder,
                         "live_id": "", "order_scene": 2 if finder else 1},
            "sharer_info": {"sharer_openid": sharer, "sharer_unionid": "", "sharer_type": 0 if sharer else None,
                            "share_scene": 1 if sharer else None},
            "settle_info": {"predict_commission_fee": 0, "commission_fee": 0},
        },
        "aftersale_detail": {"aftersale_order_list": [{"aftersale_order_id": "2000" + _digits(ln.line_id, 15),
                                                        "status": "MERCHANT_REFUND_SUCCESS" if ln.refund == "refunded"
                                                        else "MERCHANT_PROCESSING"}
                                                       for ln in o.lines if ln.refund != "none"],
                             "on_aftersale_order_cnt": sum(1 for ln in o.lines if ln.refund == "requested")},
    }


def push_event(topic: str, o: SimOrder, now: datetime) -> dict[str, Any] | None:
    """A world change as the WeChat callback the shop would receive (None: WeChat sends none we model)."""
    number: Any = int(o.order_id) if o.order_id.isdigit() else o.order_id  # callbacks carry order_id as a number
    head = {"ToUserName": "gh_5e7d1c9a3f2b", "FromUserName": "o" + _digits(o.buyer_token, 6) + o.buyer_token[:21],
            "CreateTime": int(now.timestamp()), "MsgType": "event"}
    if topic == "address_changed":
        return head | {"Event": "channels_ec_order_ext_info_update", "order_info": {"order_id": number, "type": 19}}
    if topic == "cancelled":
        return head | {"Event": "channels_ec_order_cancel",
                       "order_info": {"order_id": number, "cancel_type": 3 if o.paid_at else 1}}
    if topic == "refund_created":
        line = next((ln for ln in o.lines if ln.refund == "requested"), o.lines[0])
        return head | {"Event": "channels_ec_aftersale_update", "finder_shop_aftersale_status_update": {
            "status": "MERCHANT_PROCESSING", "after_sale_order_id": "2000" + _digits(line.line_id, 15),
            "order_id": o.order_id}}
    return None


class _Pusher(threading.Thread):
    """Delivers callbacks off the world's thread, retrying a little as WeChat does (0 s, 0 s, 1 s)."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="wechat-push")
        self.jobs: queue.Queue[tuple[str, dict[str, str], bytes]] = queue.Queue()
        self.session = requests.Session()

    def run(self) -> None:
        while True:
            url, params, body = self.jobs.get()
            for pause in (0.0, 0.0, 1.0):
                time.sleep(pause)
                try:
                    if self.session.post(url, params=params, data=body, timeout=5,
                                         headers={"Content-Type": "application/json"}).status_code < 500:
                        break
                except requests.RequestException as err:
                    log.info("wechat push to %s failed: %s", url, err)


class WechatSimulator:
    """Serves one 微信小店 shop's order API from ``world``; plug ``handle`` into SimServer.

    ``on_list_page`` (tests) is called with each list page's ids before the page is answered,
    so a test can change the world between pages. ``rate_limit_errcode`` picks 45009 (daily
    quota, the default) or 45011 (per-minute quota) for the rate-limit fault. ``list_lag``: the
    order list shows a change only that long after it was made (until then, the order at the time
    it had before, or not at all if it is that new), as a platform's search index lags its orders;
    order/get is always current. ``calls`` records every API call's path and body, in order.
    """

    def __init__(self, world: SimWorld, *, appid: str, secret: str, access_token: str | None = None,
                 push_token: str | None = None, page_size_max: int = 100, push_url: str | None = None,
                 token_ttl: int = 7200, mask_always: bool = False, rate_limit_errcode: int = 45009) -> None:
        self.world, self.appid, self.secret = world, appid, secret
        self.push_token = push_token or secret
        self.page_size_max, self.token_ttl, self.mask_always = page_size_max, token_ttl, mask_always
        self.rate_limit_errcode = rate_limit_errcode
        self.rng = random.Random(7)
        self.lock = threading.Lock()
        self.tokens: dict[str, datetime] = {}
        self.current = ""
        if access_token:
            self.tokens[access_token] = world.now() + timedelta(seconds=token_ttl)
            self.current = access_token
        self.on_list_page: Callable[[list[str]], None] | None = None
        self.list_lag = timedelta(0)
        self.indexed: dict[str, datetime] = {}  # with a list_lag: each order's time as the list shows it
        self.calls: list[dict[str, Any]] = []
        self.push_url = push_url
        if push_url:
            self.pusher = _Pusher()
            self.pusher.start()
            world.listeners.append(self._on_change)

    # --- pushes -------------------------------------------------------------------------------------
    def sign_push(self, *, token: str | None = None, timestamp: str | None = None,
                  nonce: str | None = None) -> dict[str, str]:
        """The query parameters WeChat puts on a callback URL."""
        stamp = timestamp or str(int(time.time()))
        nonce = nonce or str(self.rng.randrange(10**8, 10**9))
        return {"signature": callback_signature(token or self.push_token, stamp, nonce), "timestamp": stamp,
                "nonce": nonce}

    def _on_change(self, topic: str, order: SimOrder) -> None:
        event = push_event(topic, order, self.world.now())
        if event is not None and self.push_url:
            self.pusher.jobs.put((self.push_url, self.sign_push(), json.dumps(event, ensure_ascii=False).encode()))

    # --- HTTP ---------------------------------------------------------------------------------------
    @staticmethod
    def _json(payload: dict[str, Any], status: int = 200) -> Response:
        return Response(status, json.dumps(payload, ensure_ascii=False).encode())

    def _err(self, code: int, msg: str) -> Response:
        return self._json({"errcode": code, "errmsg": f"{msg} rid: {secrets.token_hex(4)}-{secrets.token_hex(4)}"})

    def handle(self, req: Request) -> Response:
        """One API request, with the world's faults applied first."""
        f = self.world.faults
        if f.take("slow_next"):
            time.sleep(f.slow_seconds)
        if f.take("error_5xx_next") or (f.error_5xx_rate and self.rng.random() < f.error_5xx_rate):
            return self._err(-1, "system error")
        if req.method != "POST":
            return self._err(43002, "require POST method")
        try:
            body = json.loads(req.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return self._err(47001, "data format error")
        if not isinstance(body, dict):
            return self._err(47001, "data format error")
        self.calls.append({"path": req.path, **body})
        if req.path == TOKEN_PATH:
            return self._token(body)
        route = {LIST_PATH: self._list, DETAIL_PATH: self._detail, **wechat_writes.routes(self)}.get(req.path)
        if route is None:
            return self._err(40066, "invalid url")
        refused = self._auth(req.query.get("access_token", ""))
        if refused is not None:
            return refused
        if f.take("rate_limit_next"):
            return self._err(self.rate_limit_errcode, "reach max api daily quota limit" if self.rate_limit_errcode == 45009
                             else "api minute-quota reach limit  mustslower  retry next minute")
        resp = route(body)
        if f.take("malformed_next"):
            resp.body = resp.body[: max(1, len(resp.body) // 2)]
        return resp

    def _token(self, body: dict[str, Any]) -> Response:
        if body.get("grant_type") != "client_credential":
            return self._err(40002, "invalid grant_type")
        if body.get("appid") != self.appid:
            return self._err(40013, "invalid appid")
        if body.get("secret") != self.secret:
            return self._err(40125, "invalid appsecret")
        now = self.world.now()
        with self.lock:
            valid = bool(self.current) and self.tokens.get(self.current, now) > now
            if body.get("force_refresh") or not valid:
                if valid:
                    self.tokens[self.current] = min(self.tokens[self.current], now + TOKEN_GRACE)
                self.current = f"{int(now.timestamp())}_{secrets.token_urlsafe(96)}"
                self.tokens[self.current] = now + timedelta(seconds=self.token_ttl)
            left = int((self.tokens[self.current] - now).total_seconds())
            return self._json({"access_token": self.current, "expires_in": left})

    def _auth(self, token: str) -> Response | None:
        if not token:
            return self._err(41001, "access_token missing")
        now = self.world.now()
        with self.lock:
            expires = self.tokens.get(token)
            if expires is None:
                return self._err(40001, "invalid credential, access_token is invalid or not latest")
            if expires <= now:
                return self._err(42001, "access_token expired")
            if self.world.faults.take("expire_token_next"):
                self.tokens[token] = now
                return self._err(42001, "access_token expired")
        return None

    def _range(self, body: dict[str, Any], key: str) -> tuple[datetime, datetime] | None | str:
        rng = body.get(key)
        if rng is None:
            return None
        try:
            start, end = (datetime.fromtimestamp(int(rng[k]), UTC) for k in ("start_time", "end_time"))
        except (KeyError, TypeError, ValueError, OverflowError):
            return f"{key} invalid"
        if end < start or end - start > MAX_RANGE:
            return f"{key} must be within 7 days"
        return start, end

    def _list(self, body: dict[str, Any]) -> Response:
        upd, crt = self._range(body, "update_time_range"), self._range(body, "create_time_range")
        if isinstance(upd, str) or isinstance(crt, str) or (upd is None and crt is None):
            return self._err(PARAM_ERROR, upd if isinstance(upd, str) else crt if isinstance(crt, str)
                             else "update_time_range or create_time_range required")
        size = body.get("page_size", 10)
        if not isinstance(size, int) or not 1 <= size <= self.page_size_max:
            return self._err(PARAM_ERROR, f"page_size must be 1..{self.page_size_max}")
        after: tuple[int, str] | None = None
        if body.get("next_key"):
            try:
                stamp, _, oid = base64.urlsafe_b64decode(str(body["next_key"]).encode()).decode().partition(":")
                after = (int(stamp), oid)
            except (ValueError, UnicodeDecodeError):
                return self._err(PARAM_ERROR, "next_key invalid")
        with self.world.lock:
            listed = self._listed_times()
            found = [(int(at.timestamp()), o.order_id) for o in self.world.orders.values()
                     if (at := listed.get(o.order_id, o.updated)) is not None
                     and (upd is None or upd[0] <= at <= upd[1]) and (crt is None or crt[0] <= o.created <= crt[1])]
        found.sort()  # a keyset cursor on (update_time, order_id): a change while paging skips nobody
        rest = [k for k in found if after is None or k > after]
        page = rest[:size]
        ids = [oid for _, oid in page]
        if found and self.world.faults.duplicate_rate and self.rng.random() < self.world.faults.duplicate_rate:
            ids.append(self.rng.choice(found)[1])
        if self.on_list_page is not None:
            self.on_list_page(list(ids))
        cursor = base64.urlsafe_b64encode(f"{page[-1][0]}:{page[-1][1]}".encode()).decode() if page \
            else str(body.get("next_key") or "")
        return self._json({"errcode": 0, "errmsg": "ok", "order_id_list": ids, "next_key": cursor,
                           "has_more": len(rest) > size})

    def _listed_times(self) -> dict[str, datetime | None]:
        """With a ``list_lag``: each order's update time as the lagging list shows it (None: not listed yet)."""
        if not self.list_lag:
            return {}
        shown = self.world.now() - self.list_lag
        for o in self.world.orders.values():
            if o.updated <= shown:
                self.indexed[o.order_id] = o.updated
        return {oid: self.indexed.get(oid) for oid in self.world.orders}

    def _detail(self, body: dict[str, Any]) -> Response:
        order = self.world.get(str(body.get("order_id") or ""))
        if order is None:
            return self._err(PARAM_ERROR, "order not exist")
        masked = bool(body.get("encode_sensitive_info")) or self.mask_always
        return self._json({"errcode": 0, "errmsg": "ok", "order": render_order(order, masked=masked)})


def make_simulator(world: SimWorld, credentials: Credentials, **kw: Any) -> WechatSimulator:
    """The simulator for a shop with these credentials (AppID = app_key, AppSecret = app_secret)."""
    return WechatSimulator(world, appid=credentials.app_key, secret=credentials.app_secret,
                           access_token=credentials.access_token or None,
                           push_token=credentials.extra.get("push_token") or credentials.app_secret, **kw)
