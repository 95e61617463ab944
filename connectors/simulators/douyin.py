"""A loopback 抖店 open platform: signed order APIs, tokens, faults and signed pushes, as its public docs describe."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import queue
import random
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import requests

from connectors.base import Credentials
from connectors.douyin import DouyinConnector, push_sign, sign
from connectors.simulators import douyin_writes
from connectors.simulators.server import Request, Response
from connectors.simulators.world import SimLine, SimOrder, SimWorld, fingerprint, to_fen

log = logging.getLogger(__name__)

GMT8 = timezone(timedelta(hours=8))
MESSAGES = {10000: "success", 20000: "服务不可用", 20001: "内部服务超时", 40001: "缺少必选参数", 40002: "缺少必选参数",
            40003: "非法参数", 40004: "非法参数", 50001: "平台处理失败", 50002: "业务处理失败",
            60000: "触发限流，请稍后重试", 70000: "接口已下线"}
STATUS = {"pending_payment": 1, "paid": 2, "shipped": 3, "completed": 5, "cancelled": 4}
STATUS_DESC = {1: "待支付", 105: "已支付", 2: "备货中", 101: "部分发货", 3: "已发货", 4: "已取消", 5: "已完成"}
PUSH_TAGS = {"address_changed": "105", "cancelled": "106", "refund_created": "200"}
AUTHORS = ("小树苗官方直播间", "童装搭配师安安", "萌娃穿搭日记")


class _Refusal(Exception):
    def __init__(self, code: int, sub_code: str, sub_msg: str) -> None:
        super().__init__(code, sub_code, sub_msg)
        self.code, self.sub_code, self.sub_msg = code, sub_code, sub_msg


class _Written(str):
    """An answer's ``data`` already written as JSON text."""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _ts(at: datetime | None) -> int:
    return int(at.timestamp()) if at else 0


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def _number(seed: str, digits: int = 19) -> int:
    return 10 ** (digits - 1) + int.from_bytes(_digest(seed)[:8], "big") % (9 * 10 ** (digits - 1))


class DouyinSimulator:
    """Serves ``/order/searchList``, ``/order/orderDetail`` and ``/token/refresh`` for one shop of ``world``.

    Where the public material is silent the behaviour is our own, configurable choice: the update-time
    window limit (``max_window``), the timestamp skew (``max_skew``), the answer to a spent refresh
    token, and the message tag numbers 105/106.
    """

    def __init__(self, world: SimWorld, *, app_key: str, app_secret: str, access_token: str = "",
                 refresh_token: str = "", page_size_max: int = 100, push_url: str | None = None,
                 max_window: timedelta = DouyinConnector.max_window, max_skew: timedelta = timedelta(minutes=10),
                 push_sign_method: str = "md5", shop_name: str = "小树苗童装抖音旗舰店") -> None:
        self.world, self.app_key, self.app_secret = world, app_key, app_secret
        self.page_size_max, self.max_window, self.max_skew = page_size_max, max_window, max_skew
        self.shop_id, self.shop_name = _number(app_key, 8), shop_name
        self.push_url, self.push_sign_method = push_url, push_sign_method
        self.lock = threading.Lock()
        self.rng = random.Random(f"douyin:{app_key}")  # not world.rng: the animator uses that one
        self.tokens: dict[str, str] = {access_token: "valid"} if access_token else {}
        self.refresh_tokens: set[str] = {refresh_token} if refresh_token else set()
        self.ban_until: datetime | None = None
        self._chosen: tuple[tuple[Any, ...], list[SimOrder]] | None = None  # the last window listed
        self._texts: dict[str, tuple[tuple[Any, ...], str]] = {}  # order id → (fingerprint, JSON text)
        self.pushed: list[tuple[dict[str, str], bytes, int | None]] = []  # (headers, body, HTTP status)
        self.calls: list[dict[str, Any]] = []  # every call past the signature and token checks (tests)
        self._outbox: queue.Queue[tuple[dict[str, str], bytes] | None] = queue.Queue()
        self._session: requests.Session | None = None
        if push_url:
            self._session = requests.Session()
            world.listeners.append(self._on_change)
            threading.Thread(target=self._push_loop, name="douyin-push", daemon=True).start()

    # --- HTTP --------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        """One API call, answered in 抖店's envelope (faults from ``world.faults`` first)."""
        faults = self.world.faults
        if self._take("slow_next"):
            time.sleep(faults.slow_seconds)
        if self._take("error_5xx_next"):
            return Response(503, b"<html><body>503 Service Temporarily Unavailable</body></html>",
                            {"Content-Type": "text/html"})
        try:
            body = self._envelope(10000, self._route(req))
        except _Refusal as no:
            body = self._envelope(no.code, None, no.sub_code, no.sub_msg)
        except douyin_writes.LostAnswer:
            return Response(504, b"<html><body>504 Gateway Time-out</body></html>", {"Content-Type": "text/html"})
        if self._take("malformed_next"):
            body = body[: len(body) // 2]
        return Response(200, body)

    def _envelope(self, code: int, data: Any, sub_code: str = "", sub_msg: str = "") -> bytes:
        log_id = self.world.clock().astimezone(GMT8).strftime("%Y%m%d%H%M%S") + f"{self.rng.getrandbits(72):018X}"
        head = _dumps({"code": code, "msg": MESSAGES.get(code, "其他"), "sub_code": sub_code, "sub_msg": sub_msg,
                       "log_id": log_id})
        # Orders come already written (see ``_written``): they are spliced in, the same text json.dumps gives.
        return f"{head[:-1]},\"data\":{data if isinstance(data, _Written) else _dumps(data)}}}".encode()

    def _take(self, fault: str) -> bool:
        with self.world.lock:
            return self.world.faults.take(fault)

    def _route(self, req: Request) -> Any:
        q, faults = req.query, self.world.faults
        for name in ("app_key", "method", "timestamp", "v"):
            if not q.get(name):
                raise _Refusal(40001, "", f"缺少公共参数{name}")
        if not q.get("sign"):
            raise _Refusal(40001, "isv.signature-missing", "缺少签名sign")
        method = q["method"]
        handler = {"order.searchList": self._search, "order.orderDetail": self._detail,
                   "token.refresh": self._refresh, **douyin_writes.handlers(self)}.get(method)
        if handler is None:
            raise _Refusal(70000, "isp.api-service-off", f"接口{method}不存在或已下线")
        if req.path.strip("/") != method.replace(".", "/"):
            raise _Refusal(40003, "isv.parameter-format-invalid", "请求路径与method不一致")
        if self.rng.random() < faults.error_5xx_rate:
            raise _Refusal(20000, "isp.service-error", "服务暂时不可用，请稍后重试")
        now = self.world.clock()
        with self.lock:
            if self._take("rate_limit_next"):
                self.ban_until = now + timedelta(seconds=faults.rate_limit_seconds)
            if self.ban_until is not None and now < self.ban_until:
                raise _Refusal(60000, "", "触发限流，请稍后重试")
        if q["v"] != "2":
            raise _Refusal(40003, "isv.parameter-format-invalid", "v只支持2")
        if abs(now - self._stamp(q["timestamp"])) > self.max_skew:
            raise _Refusal(40003, "isv.timestamp-invalid", "timestamp与服务器时间相差过大")
        sign_method = q.get("sign_method", "md5")  # md5 is the legacy default
        try:  # byte-exact: verify what arrived, never a re-serialisation
            param_json = req.body.decode("utf-8") if req.method == "POST" else q.get("param_json", "")
        except UnicodeDecodeError:
            raise _Refusal(40003, "isv.parameter-format-invalid", "业务参数不是UTF-8") from None
        expected = sign(self.app_key, self.app_secret, method, param_json, q["timestamp"], v=q["v"],
                        sign_method=sign_method)
        if q["app_key"] != self.app_key or sign_method not in ("md5", "hmac-sha256") or not hmac.compare_digest(
                expected, q["sign"]):
            raise _Refusal(40003, "isv.signature-invalid", "签名无效")
        if method != "token.refresh":
            self._check_token(q.get("access_token", ""))
        try:
            params = json.loads(param_json or "{}")
        except ValueError:
            params = None
        if not isinstance(params, dict):
            raise _Refusal(40003, "isv.parameter-format-invalid", "业务参数json解析失败")
        self.calls.append({"method": method, **params})
        return handler(params)

    @staticmethod
    def _stamp(value: str) -> datetime:
        if value.isdigit():
            return datetime.fromtimestamp(int(value), UTC)
        try:  # older docs and samples send local time
            return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=GMT8)
        except ValueError:
            raise _Refusal(40003, "isv.timestamp-format-error", "timestamp格式错误") from None

    def _check_token(self, token: str) -> None:
        if not token:
            raise _Refusal(40001, "isv.access-token-missing", "缺少access_token")
        with self.lock:
            state = self.tokens.get(token)
            if state is None:
                raise _Refusal(40003, "isv.access-token-no-existed", "access_token不存在")
            if state == "valid" and self._take("expire_token_next"):
                self.tokens[token] = state = "expired"
            if state == "expired":
                raise _Refusal(40003, "isv.access-token-expired", "access_token已过期")

    @staticmethod
    def _int(params: dict[str, Any], name: str, *, required: bool = True) -> int | None:
        value = params.get(name)
        if value is None or value == "":
            if required:
                raise _Refusal(40002, "", f"缺少必选参数{name}")
            return None
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
            raise _Refusal(40003, "isv.parameter-format-invalid", f"{name}不是整数")
        return int(value)

    # --- APIs ----------------------------------------------------------------------------------------
    def _search(self, p: dict[str, Any]) -> dict[str, Any]:
        page, size = self._int(p, "page"), self._int(p, "size")
        assert page is not None and size is not None
        if not 1 <= size <= self.page_size_max:
            raise _Refusal(40004, "isv.parameter-invalid", f"size必须在1到{self.page_size_max}之间")
        order_by = p.get("order_by") or "create_time"
        if order_by not in ("create_time", "update_time"):
            raise _Refusal(40004, "isv.parameter-invalid", "order_by只支持create_time或update_time")
        bounds = {}
        for field in ("update_time", "create_time"):
            start, end = self._int(p, f"{field}_start", required=False), self._int(p, f"{field}_end", required=False)
            if start is not None or end is not None:
                start, end = start or 0, end if end is not None else _ts(self.world.clock())
                if end < start or end - start > self.max_window.total_seconds():
                    raise _Refusal(40004, "isv.parameter-invalid",
                                   f"{field}查询区间不能超过{int(self.max_window.total_seconds() // 60)}分钟")
                bounds[field] = (start, end)
        asc = p.get("order_asc") in (True, "true", "1", 1)
        with self.world.lock:
            chosen = self._window(tuple(sorted(bounds.items())), order_by, asc)
            rows = chosen[page * size:(page + 1) * size]
            rendered = [self._written(o) for o in rows]
            if len(chosen) > len(rows) and self.rng.random() < self.world.faults.duplicate_rate:
                on_page = {id(o) for o in rows}
                rendered.append(self._written(self.rng.choice([o for o in chosen if id(o) not in on_page])))
        return _Written(f'{{"shop_order_list":[{",".join(rendered)}],"page":{page},"size":{size},"total":{len(chosen)}}}')

    def _window(self, bounds: tuple[tuple[str, tuple[int, int]], ...], order_by: str, asc: bool) -> list[SimOrder]:
        """The orders in the window, sorted; a client paging through one window gets the same list
        again until an order is placed or changed (the world's revision moves). Under the world's lock."""
        key = (self.world.revision, len(self.world.orders), bounds, order_by, asc)
        if self._chosen is not None and self._chosen[0] == key:
            return self._chosen[1]
        stamp = (lambda o: o.updated) if order_by == "update_time" else (lambda o: o.created)
        chosen = [o for o in self.world.orders.values()
                  if all(s <= _ts(o.updated if f == "update_time" else o.created) <= e for f, (s, e) in bounds)]
        chosen.sort(key=lambda o: (stamp(o), o.order_id), reverse=not asc)
        self._chosen = (key, chosen)
        return chosen

    def prepare(self) -> None:
        """Write every order's answer text ahead, as a platform serves orders it stored long before
        (``orderhub simulate --preload``: the pull that follows measures the hub, not our rendering)."""
        with self.world.lock:
            for o in self.world.orders.values():
                self._written(o)

    def _written(self, o: SimOrder) -> str:
        """``render(o)`` as JSON text, written once per version of the order (keyed on all its fields)."""
        mark = fingerprint(o)
        found = self._texts.get(o.order_id)
        if found is not None and found[0] == mark:
            return found[1]
        text = _dumps(self.render(o))
        if len(self._texts) >= 50_000:  # a bounded cache: a huge world is rendered again, not kept twice
            self._texts.pop(next(iter(self._texts)))
        self._texts[o.order_id] = (mark, text)
        return text

    def _detail(self, p: dict[str, Any]) -> dict[str, Any]:
        order_id = str(p.get("shop_order_id") or "")
        if not order_id:
            raise _Refusal(40002, "", "缺少必选参数shop_order_id")
        order = self.world.get(order_id)  # honours stale_detail_next
        if order is None:
            raise _Refusal(50002, "isv.business-failed", "订单不存在")
        return _Written(f'{{"shop_order_detail":{self._written(order)}}}')

    def _refresh(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("grant_type") != "refresh_token":
            raise _Refusal(40004, "isv.parameter-invalid", "grant_type必须为refresh_token")
        with self.lock:
            if p.get("refresh_token") not in self.refresh_tokens:  # spent or unknown: our choice of answer
                raise _Refusal(50001, "dop.token-generate-failed:token-expired", "refresh_token已过期或已使用")
            self.refresh_tokens.discard(p["refresh_token"])
            access, refresh = self._new_token(), self._new_token()
            self.tokens[access] = "valid"
            self.refresh_tokens.add(refresh)
        return {"access_token": access, "expires_in": 604800, "scope": "SCOPE", "shop_id": str(self.shop_id),
                "shop_name": self.shop_name, "refresh_token": refresh, "authority_id": str(self.shop_id),
                "auth_subject_type": "MiniShop"}

    def _new_token(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    # --- rendering -----------------------------------------------------------------------------------
    def _cipher(self, mark: str, plain: str) -> str:
        """Deterministic stand-in for 抖店 ciphertext: same plaintext, same text (search index + body)."""
        index = base64.b64encode(_digest("idx", plain)[:12]).decode()
        body = base64.b64encode(_digest(self.app_secret, plain) + _digest(plain)[:12]).decode()
        return f"{mark}{index}{mark}{body}{mark}1{mark}{mark}"

    def _addr(self, o: SimOrder, *, masked: bool) -> dict[str, Any]:
        province = self.world.regions.province(o.province)
        city = next((c for c in province.cities if c.name == o.city), None) if province else None
        city_code = city.adcode if city else "000000"
        town_no = (city.districts.index(o.district) + 1) if city and o.district in city.districts else 0
        addr: dict[str, Any] = {"province": {"name": o.province, "id": province.adcode[:2] if province else ""},
                                "city": {"name": o.city, "id": city_code},
                                "town": {"name": o.district, "id": f"{city_code[:4]}{town_no:02d}"},
                                "street": {"name": "", "id": ""}}
        if masked:
            return {**addr, "detail": "".join("*" if ch.isdigit() else ch for ch in o.detail)}
        return {**addr, "detail": "", "encrypt_detail": self._cipher("#", o.address)}

    def _source(self, o: SimOrder) -> dict[str, Any]:
        """Where the buyer came from: the world's ext if set, else a steady pick per order."""
        pick = int(_digest("source", o.order_id)[0]) % 3
        author = o.ext.get("author_name") or (AUTHORS[pick] if pick < 2 else "")
        room = o.ext.get("live_room_id") or (str(_number(f"room:{author}")) if pick == 0 else "")
        video = o.ext.get("video_id") or (str(_number(f"video:{o.order_id}")) if pick == 1 else "")
        return {"author_id": _number(f"author:{author}", 11) if author else 0, "author_name": author,
                "room_id": int(room) if room.isdigit() else 0, "room_id_str": room, "video_id": video,
                "c_biz": 2 if author else 8, "c_biz_desc": "精选联盟" if author else "小店自卖",
                "ad_env_type": "live" if room else ("video" if video else "")}

    def render(self, o: SimOrder) -> dict[str, Any]:
        """The order as ``shop_order_detail`` / a ``shop_order_list`` item (amounts in fen, times in Unix s)."""
        status = STATUS[o.status]
        fen_ = lambda d: to_fen(Decimal(d))  # noqa: E731
        master = next((ln.line_id for ln in o.lines if not ln.is_gift), "") if any(ln.is_gift for ln in o.lines) else ""
        source = self._source(o)
        shipped_at = _ts(o.updated) if o.tracking_no else 0
        common = {"biz": 2, "biz_desc": "小店", "order_type": 0, "order_type_desc": "普通订单", "trade_type": 0,
                  "trade_type_desc": "普通", "pay_time": _ts(o.paid_at), "create_time": _ts(o.created),
                  "update_time": _ts(o.updated), "finish_time": _ts(o.updated) if status == 5 else 0,
                  "cancel_reason": "买家取消订单" if status == 4 else "", "b_type": 2, "b_type_desc": "抖音",
                  "sub_b_type": 1, "sub_b_type_desc": "app内-原生", "app_id": 0,
                  "pay_type": 1 + int(_digest("pay", o.order_id)[0]) % 2 if o.paid_at else 0,
                  "channel_payment_no": f"42000{_number('pay:' + o.order_id, 23)}" if o.paid_at else "",
                  "exp_ship_time": _ts(o.ship_by), "ship_time": shipped_at}
        return {
            "shop_id": self.shop_id, "shop_name": self.shop_name, "open_id": "", "order_id": o.order_id,
            "order_level": 2, **common, "order_status": status, "order_status_desc": STATUS_DESC[status],
            "main_status": status, "main_status_desc": STATUS_DESC[status],
            "order_expire_time": _ts(o.created + timedelta(minutes=30)) if status == 1 else 0,
            "buyer_words": o.buyer_note, "seller_words": o.seller_note, "seller_remark_stars": 0,
            "order_amount": fen_(o.total + o.post_fee), "pay_amount": fen_(o.payment), "post_amount": fen_(o.post_fee),
            "post_insurance_amount": 0, "modify_amount": 0, "modify_post_amount": 0,
            "promotion_amount": fen_(o.discount), "promotion_shop_amount": fen_(o.discount),
            "promotion_platform_amount": 0, "promotion_talent_amount": 0, "promotion_pay_amount": 0,
            "shop_cost_amount": fen_(o.discount), "platform_cost_amount": 0, "author_cost_amount": 0,
            "only_platform_cost_amount": 0, "total_promotion_amount": fen_(o.discount),
            "post_origin_amount": fen_(o.post_fee), "post_promotion_amount": 0,
            "post_receiver": "", "encrypt_post_receiver": self._cipher("#", o.receiver_name),
            "post_tel": "", "encrypt_post_tel": self._cipher("$", o.receiver_phone),
            "post_addr": self._addr(o, masked=False),
            # masks as the official SDK's examples show them: "生***", "1********20"
            "mask_post_receiver": o.receiver_name[0] + "***", "mask_post_tel": f"{o.receiver_phone[0]}********{o.receiver_phone[-2:]}",
            "mask_post_addr": self._addr(o, masked=True),
            "logistics_info": [{"tracking_no": o.tracking_no, "company": "shunfeng" if o.carrier == "顺丰速运" else "other",
                                "company_name": o.carrier, "ship_time": shipped_at, "delivery_id": "",
                                "product_info": [{"product_name": ln.name, "price": fen_(ln.price), "outer_sku_id": ln.sku,
                                                  "sku_id": _number(f"sku:{ln.sku}"), "product_count": ln.qty,
                                                  "product_id": _number(f"product:{ln.sku.split('-')[0]}"),
                                                  "sku_order_id": ln.line_id} for ln in o.lines]}]
            if o.tracking_no else [],
            "sku_order_list": [self._sku(o, ln, status, master, source, common) for ln in o.lines],
            "doudian_open_id": "1@#" + base64.b64encode(_digest("open_id", o.buyer_token)[:33]).decode(),
            "open_address_id": "#" + base64.b64encode(_digest(self.app_secret, o.receiver_name, o.receiver_phone,
                                                              o.address)).decode(),
            "promise_info": "", "address_tag_ui": [], "user_tag_ui": [], "shop_order_tag_ui": [],
        }

    def _sku(self, o: SimOrder, ln: SimLine, status: int, master: str, source: dict[str, Any],
             common: dict[str, Any]) -> dict[str, Any]:
        fen_ = lambda d: to_fen(Decimal(d))  # noqa: E731
        after_shipping = o.status in ("shipped", "completed")
        after = {"none": (0, 0, 0), "requested": (1 if after_shipping else 2, 6, 1),
                 "refunded": (5, 51, 3) if o.status == "cancelled" else (1 if after_shipping else 2, 12, 3)}[ln.refund]
        line_status = 4 if ln.refund == "refunded" else status
        product_id = _number(f"product:{ln.sku.split('-')[0]}")
        goods = ln.price * ln.qty
        return {
            "order_id": ln.line_id, "parent_order_id": o.order_id, "order_level": 3, **common,
            "order_status": line_status, "order_status_desc": STATUS_DESC[line_status], "main_status": line_status,
            "main_status_desc": STATUS_DESC[line_status], **source, "theme_type": "0", "content_id": "0",
            "origin_id": "", "cid": 0, "page_id": 0, "code": ln.sku, "out_sku_id": "", "supplier_id": "",
            "out_product_id": ln.sku.split("-")[0], "goods_type": 0, "product_id": product_id,
            "product_id_str": str(product_id), "sku_id": _number(f"sku:{ln.sku}"), "product_name": ln.name,
            "product_pic": f"https://p3-aio.ecombdimg.com/obj/ecom-shop-material/{product_id}.jpeg",
            "spec": [{"name": "颜色", "value": ln.color}, {"name": "尺码", "value": ln.size}],
            "origin_amount": fen_(ln.price), "item_num": ln.qty, "sum_amount": fen_(goods), "has_tax": False,
            "order_amount": fen_(goods), "pay_amount": fen_(ln.paid), "post_amount": 0, "post_insurance_amount": 0,
            "promotion_amount": fen_(goods - ln.paid), "promotion_shop_amount": fen_(goods - ln.paid),
            "promotion_platform_amount": 0, "promotion_talent_amount": 0, "shop_cost_amount": fen_(goods - ln.paid),
            "platform_cost_amount": 0, "author_cost_amount": 0, "only_platform_cost_amount": 0,
            "inventory_list": [{"warehouse_id": "", "out_warehouse_id": "", "inventory_type": 1,
                                "inventory_type_desc": "普通库存", "count": ln.qty, "warehouse_type": 0}],
            "pre_sale_type": 0, "receive_type": 1, "need_serial_number": False, "appointment_ship_time": 0,
            "after_sale_info": dict(zip(("after_sale_type", "after_sale_status", "refund_status"), after, strict=True)),
            "given_product_type": "FREE" if ln.is_gift else ("MASTER" if ln.line_id == master else ""),
            "master_sku_order_id": master if ln.is_gift else "", "master_sku_order_id_list": [master] if ln.is_gift else [],
            "is_comment": 0, "is_activity": False, "sku_order_tag_ui": [], "promise_info": "",
        }

    # --- pushes --------------------------------------------------------------------------------------
    def push_message(self, topic: str, o: SimOrder) -> tuple[dict[str, str], bytes]:
        """A signed push of one world change (tags 105 address, 106 cancel, 200 refund)."""
        tag, now = PUSH_TAGS[topic], _ts(o.updated)
        base: dict[str, Any] = {"p_id": int(o.order_id) if o.order_id.isdigit() else o.order_id, "shop_id": self.shop_id}
        s_ids = [int(ln.line_id) for ln in o.lines]
        if topic == "address_changed":
            addr = json.dumps(self._addr(o, masked=False), ensure_ascii=False, separators=(",", ":"))
            data = {**base, "s_ids": s_ids, "order_status": STATUS[o.status], "order_type": 0, "biz": 2, "update_time": now,
                    "receiver_msg": {"addr": addr, "name": self._cipher("#", o.receiver_name),
                                     "tel": self._cipher("$", o.receiver_phone)}}
        elif topic == "cancelled":
            data = {**base, "s_ids": s_ids, "order_status": 4, "order_type": 0, "biz": 2, "cancel_time": now,
                    "cancel_reason": "买家取消订单"}
        else:
            line = next((ln for ln in o.lines if ln.refund == "requested"), o.lines[0])
            data = {**base, "s_id": int(line.line_id), "aftersale_id": _number(f"as:{line.line_id}:{now}"),
                    "aftersale_status": 6, "aftersale_type": 1 if o.status in ("shipped", "completed") else 2,
                    "refund_amount": to_fen(line.paid), "refund_post_amount": 0, "apply_time": now, "reason_code": 0}
        msg_id = str(_number(f"msg:{self.rng.getrandbits(64)}"))  # no lock: the caller may hold the world's
        body = json.dumps([{"tag": tag, "msg_id": msg_id,
                            "data": json.dumps(data, ensure_ascii=False, separators=(",", ":"))}],
                          ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "app-id": self.app_key,
                   "event-sign": push_sign(self.app_key, self.app_secret, body, self.push_sign_method)}
        if self.push_sign_method != "md5":
            headers["sign-method"] = self.push_sign_method
        return headers, body

    def _on_change(self, topic: str, order: SimOrder) -> None:
        if topic in PUSH_TAGS:  # called by the world after its lock is released; never block it
            self._outbox.put(self.push_message(topic, order))

    def _push_loop(self) -> None:
        while (item := self._outbox.get()) is not None:
            headers, body = item
            status = None
            try:
                assert self._session is not None and self.push_url is not None
                status = self._session.post(self.push_url, data=body, headers=headers, timeout=10).status_code
            except requests.RequestException as err:  # the hub may be down; 抖店 would retry later
                log.info("douyin push to %s failed: %s", self.push_url, err)
            finally:
                self.pushed.append((headers, body, status))
                self._outbox.task_done()
        self._outbox.task_done()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued push was sent (tests); True if the queue emptied in time."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._outbox.unfinished_tasks

    def close(self) -> None:
        """Stop pushing (and forget the world's listener)."""
        if self._session is not None:
            if self._on_change in self.world.listeners:
                self.world.listeners.remove(self._on_change)
            self._outbox.put(None)
            self.flush()
            self._session.close()


def make_simulator(world: SimWorld, credentials: Credentials, **kw: Any) -> DouyinSimulator:
    """The simulator for the CLI and the demo hub, accepting the shop's credentials."""
    return DouyinSimulator(world, app_key=credentials.app_key, app_secret=credentials.app_secret,
                           access_token=credentials.access_token, refresh_token=credentials.refresh_token, **kw)
