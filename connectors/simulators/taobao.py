"""A loopback TOP router (淘宝/天猫) over a SimWorld: signed calls, increment paging, fullinfo, tokens, TMC pushes."""

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
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import requests

from connectors.base import Credentials
from connectors.simulators import top_writes
from connectors.simulators.server import Request, Response, slow
from connectors.simulators.world import SimLine, SimOrder, SimWorld, round_yuan
from connectors.taobao import CST, MAX_SKEW, TIME_FORMAT, sign, top_time

log = logging.getLogger(__name__)

# the platform's own short messages for each gateway code (as seen in real error_response bodies)
MESSAGES = {
    7: "App Call Limited", 10: "Service currently unavailable", 15: "Remote service error", 21: "Missing method",
    22: "Invalid method", 23: "Invalid format", 24: "Missing signature", 25: "Invalid signature",
    26: "Missing session", 27: "Invalid session", 28: "Missing app key", 29: "Invalid app key",
    30: "Missing timestamp", 31: "Invalid timestamp", 32: "Missing version", 33: "Invalid version",
    40: "Missing required arguments", 41: "Invalid arguments",
}
TRADE_STATUS = {"pending_payment": "WAIT_BUYER_PAY", "paid": "WAIT_SELLER_SEND_GOODS",
                "shipped": "WAIT_BUYER_CONFIRM_GOODS", "completed": "TRADE_FINISHED"}
REFUND_STATUS = {"none": "NO_REFUND", "requested": "WAIT_SELLER_AGREE", "refunded": "SUCCESS"}
TMC_TOPICS = {"address_changed": "taobao_trade_TradeLogisticsAddressChanged", "cancelled": "taobao_trade_TradeClose",
              "refund_created": "taobao_refund_RefundCreated"}
WRITE_METHODS = ("taobao.logistics.offline.send", "taobao.logistics.online.send", "taobao.rp.refunds.agree",
                 "taobao.refund.refuse")
SESSION_METHODS = ("taobao.trades.sold.increment.get", "taobao.trade.fullinfo.get", *WRITE_METHODS)


class TopError(Exception):
    """An answer in TOP's ``error_response`` envelope."""

    def __init__(self, code: int, sub_code: str = "", sub_msg: str = "") -> None:
        super().__init__(code, sub_code, sub_msg)
        self.code, self.sub_code, self.sub_msg = code, sub_code, sub_msg


def _mask_name(name: str) -> str:
    return name[:1] + "**"


def _mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"


def _digits(text: str, n: int) -> int:
    """A stable numeric id from text (item and SKU ids the world does not have)."""
    return int(hashlib.md5(text.encode()).hexdigest(), 16) % 10**n


def _item_id(line: SimLine) -> int:
    """The listing's num_iid: one per style (``T2601-01-110`` → ``T2601``)."""
    return _digits(line.sku.rsplit("-", 2)[0], 12)


def _number(order_id: str) -> int | str:
    return int(order_id) if order_id.isdigit() else order_id  # TOP sends tid/oid as JSON numbers


class TaobaoSimulator:
    """Answers ``/router/rest`` as TOP does for one authorised shop.

    Attributes:
        after_page: called with the page number after each increment page is built (tests change
            the world between pages with it).
        remote_error_next: answer this many calls with code 15 ``isp.top-remote-connection-error``.
        calls: the parameters of every call that passed the gateway checks (for tests).
    """

    def __init__(self, world: SimWorld, *, app_key: str, app_secret: str, session: str, refresh_token: str = "",
                 page_size_max: int = 100, push_url: str | None = None, user_id: str = "2209876543210",
                 user_nick: str = "小树苗童装") -> None:
        self.world, self.app_key, self.app_secret = world, app_key, app_secret
        self.session, self.refresh_token = session, refresh_token
        self.page_size_max, self.push_url = page_size_max, push_url
        self.user_id, self.user_nick = user_id, user_nick
        self.after_page: Callable[[int], None] | None = None
        self.remote_error_next = 0
        self.calls: list[dict[str, str]] = []
        self.rng = random.Random(7)  # our own: the world's generator belongs to the world's thread
        self._lock = threading.Lock()
        self._msg_ids = itertools.count(int(time.time()) * 1000)
        self._outbox: queue.Queue[dict[str, str] | None] = queue.Queue()
        if push_url:
            world.listeners.append(self._on_change)
            threading.Thread(target=self._push_loop, name="taobao-tmc", daemon=True).start()

    # --- gateway --------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        """One HTTP request to the simulated router."""
        if request.path != "/router/rest":
            return Response(404, b"<html><body>404 Not Found</body></html>", {"Content-Type": "text/html"})
        faults = self.world.faults
        if faults.take("slow_next"):
            slow(faults.slow_seconds)
        if faults.take("error_5xx_next") or (faults.error_5xx_rate and self.rng.random() < faults.error_5xx_rate):
            return Response(502, b"<html><body>502 Bad Gateway</body></html>", {"Content-Type": "text/html"})
        try:
            params = {**request.query, **dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))}
        except UnicodeDecodeError:
            return self._error(TopError(41, "isv.invalid-parameter", "请求不是 UTF-8 编码"))
        try:
            method = self._gate(params)
            with self._lock:
                self.calls.append(params)
            key = method.removeprefix("taobao.").replace(".", "_") + "_response"
            answer = {key: {**self._dispatch(method, params), "request_id": secrets.token_hex(6)}}
        except TopError as err:
            return self._error(err)
        except top_writes.LostAnswer:
            return Response(504, b"<html><body>504 Gateway Time-out</body></html>", {"Content-Type": "text/html"})
        body = json.dumps(answer, ensure_ascii=False).encode()
        if faults.take("malformed_next"):
            body = body[: len(body) // 2]  # a cut-off answer
        return Response(200, body, {"Content-Type": "text/javascript;charset=UTF-8"})

    def _error(self, err: TopError) -> Response:
        payload: dict[str, Any] = {"code": err.code, "msg": MESSAGES.get(err.code, "Error")}
        if err.sub_code:
            payload["sub_code"] = err.sub_code
        if err.sub_msg:
            payload["sub_msg"] = err.sub_msg
        payload["request_id"] = secrets.token_hex(6)
        body = json.dumps({"error_response": payload}, ensure_ascii=False).encode()
        return Response(200, body, {"Content-Type": "text/javascript;charset=UTF-8"})  # TOP: HTTP 200 for errors

    def _gate(self, params: dict[str, str]) -> str:
        """The checks every TOP call passes, in the gateway's order; the method name."""
        method = params.get("method", "")
        if not method:
            raise TopError(21)
        if not params.get("app_key"):
            raise TopError(28)
        if params["app_key"] != self.app_key:
            raise TopError(29)
        if not params.get("sign"):
            raise TopError(24)
        try:
            expected = sign(params, self.app_secret, params.get("sign_method", "md5"))
        except ValueError:
            raise TopError(25, "", f"不支持的签名方式 {params.get('sign_method')}") from None
        if expected != params["sign"]:
            raise TopError(25)
        if not params.get("timestamp"):
            raise TopError(30)
        try:
            sent = datetime.strptime(params["timestamp"], TIME_FORMAT).replace(tzinfo=CST)
        except ValueError:
            raise TopError(31) from None
        if abs(self.world.clock() - sent) > MAX_SKEW:
            raise TopError(31)
        if not params.get("v"):
            raise TopError(32)
        if params["v"] != "2.0":
            raise TopError(33)
        if params.get("format") != "json":
            raise TopError(23, "", "本模拟器只提供 format=json")  # the real router would answer XML
        if method not in (*SESSION_METHODS, "taobao.top.auth.token.refresh"):
            raise TopError(22)
        faults = self.world.faults
        if faults.take("rate_limit_next"):
            raise TopError(7, "accesscontrol.limited-by-api-access-count",
                           f"This ban will last for {faults.rate_limit_seconds} more seconds")
        if self.remote_error_next > 0:
            self.remote_error_next -= 1
            raise TopError(15, "isp.top-remote-connection-error", "远程服务连接失败")
        if method in SESSION_METHODS:
            if not params.get("session"):
                raise TopError(26)
            if faults.take("expire_token_next"):
                self.session = ""  # this token is dead until the shop refreshes it
            if params["session"] != self.session:
                raise TopError(27, "invalid-sessionkey", "SessionKey非法")
        return method

    def _dispatch(self, method: str, params: dict[str, str]) -> dict[str, Any]:
        if method == "taobao.trades.sold.increment.get":
            return self._increment(params)
        if method == "taobao.trade.fullinfo.get":
            return self._fullinfo(params)
        if method in WRITE_METHODS:
            return top_writes.handle(self, method, params)
        return self._refresh(params)

    # --- APIs -----------------------------------------------------------------------------------------
    @staticmethod
    def _required(params: dict[str, str], *names: str) -> None:
        for name in names:
            if not params.get(name):
                raise TopError(40, f"isv.missing-parameter:{name}", f"缺少必选参数 {name}")

    @staticmethod
    def _when(params: dict[str, str], name: str) -> datetime:
        try:
            return datetime.strptime(params[name], TIME_FORMAT).replace(tzinfo=CST)
        except ValueError:
            raise TopError(41, f"isv.invalid-parameter:{name}", f"{name} 格式应为 yyyy-MM-dd HH:mm:ss") from None

    def _increment(self, params: dict[str, str]) -> dict[str, Any]:
        self._required(params, "fields", "start_modified", "end_modified")
        start, end = self._when(params, "start_modified"), self._when(params, "end_modified")
        if end < start:
            raise TopError(15, "isv.invalid-parameter", "end_modified 不能早于 start_modified")
        if end - start > timedelta(days=1):
            raise TopError(15, "isv.invalid-parameter", "start_modified 与 end_modified 的间隔不能超过一天")
        if start < self.world.clock() - timedelta(days=90):
            raise TopError(15, "isv.invalid-parameter", "只能查询三个月内修改过的订单")
        try:
            page_no, size = int(params.get("page_no") or 1), int(params.get("page_size") or 40)
        except ValueError:
            raise TopError(41, "isv.invalid-parameter", "page_no/page_size 必须是整数") from None
        if page_no < 1 or not 1 <= size <= self.page_size_max:
            raise TopError(41, "isv.invalid-parameter:page_size", f"page_size 必须在 1 到 {self.page_size_max} 之间")
        found = self.world.modified_between(start, end)  # newest first, as TOP sorts
        chunk = found[(page_no - 1) * size: page_no * size]
        if chunk and len(found) > len(chunk) and self.rng.random() < self.world.faults.duplicate_rate:
            on_page = {o.order_id for o in chunk}
            chunk.append(self.rng.choice([o for o in found if o.order_id not in on_page]))  # also on another page
        fields = set(params["fields"].split(","))
        answer: dict[str, Any] = {}
        if params.get("use_has_next") == "true":
            answer["has_next"] = page_no * size < len(found)
        else:
            answer["total_results"] = len(found)
        if chunk:  # TOP leaves out empty lists
            answer["trades"] = {"trade": [{k: v for k, v in self.trade(o).items() if k in fields} for o in chunk]}
        if self.after_page is not None:
            self.after_page(page_no)
        return answer

    def _fullinfo(self, params: dict[str, str]) -> dict[str, Any]:
        self._required(params, "fields", "tid")
        order = self.world.get(params["tid"])
        if order is None:
            raise TopError(15, "isv.trade-not-exist", f"交易 {params['tid']} 不存在或不属于该卖家")
        fields = set(params["fields"].split(","))
        if params.get("include_oaid") == "true":
            fields.add("oaid")
        return {"trade": {k: v for k, v in self.trade(order).items() if k in fields}}

    def _refresh(self, params: dict[str, str]) -> dict[str, Any]:
        self._required(params, "refresh_token")
        if not self.refresh_token or params["refresh_token"] != self.refresh_token:
            raise TopError(15, "isv.invalid-parameter", "refresh_token 无效或已过期")
        self.session, self.refresh_token = "6201" + secrets.token_hex(20), "6202" + secrets.token_hex(20)
        now_ms = int(self.world.clock().timestamp() * 1000)
        token = {"access_token": self.session, "refresh_token": self.refresh_token, "token_type": "Bearer",
                 "expires_in": 86400, "re_expires_in": 2592000, "r1_expires_in": 86400, "r2_expires_in": 86400,
                 "w1_expires_in": 86400, "w2_expires_in": 86400, "expire_time": now_ms + 86400_000,
                 "refresh_token_valid_time": now_ms + 2592000_000, "taobao_user_id": self.user_id,
                 "taobao_user_nick": self.user_nick}
        return {"token_result": json.dumps(token, ensure_ascii=False)}  # TOP nests it as a JSON string

    # --- rendering ------------------------------------------------------------------------------------
    def trade(self, o: SimOrder) -> dict[str, Any]:
        """A world order as TOP's ``Trade`` (format=json, simplify=false), receiver masked."""
        status = TRADE_STATUS.get(o.status) or ("TRADE_CLOSED" if o.paid_at else "TRADE_CLOSED_BY_TAOBAO")
        oaid = hashlib.sha256(f"{o.receiver_name}{o.receiver_phone}{o.address}{o.created}".encode()).hexdigest()[:48]
        promotions = []
        if o.discount:
            promotions.append({"id": _number(o.order_id), "promotion_id": f"shopbonus-{_digits(o.order_id, 9)}_1",
                               "promotion_name": "店铺优惠券", "discount_fee": round_yuan(o.discount)})
        for ln in o.lines:
            if ln.is_gift:
                promotions.append({"id": _number(o.order_id), "promotion_id": f"mjs-{_digits(ln.sku, 9)}_1",
                                   "promotion_name": "满299送赠品", "gift_item_id": str(_item_id(ln)),
                                   "gift_item_name": ln.name, "gift_item_num": str(ln.qty), "discount_fee": "0.00"})
        trade: dict[str, Any] = {
            "tid": _number(o.order_id), "tid_str": o.order_id, "status": status, "type": "fixed",
            "created": top_time(o.created), "modified": top_time(o.updated),
            "total_fee": round_yuan(o.total), "payment": round_yuan(o.payment), "post_fee": round_yuan(o.post_fee),
            "discount_fee": round_yuan(o.discount), "adjust_fee": "0.00",
            "buyer_nick": f"{o.buyer_token[:1].lower()}**", "buyer_open_uid": f"AAF{o.buyer_token}",
            "seller_nick": self.user_nick, "buyer_message": o.buyer_note, "seller_memo": o.seller_note,
            "receiver_name": _mask_name(o.receiver_name), "receiver_mobile": _mask_phone(o.receiver_phone),
            "receiver_phone": "", "receiver_state": o.province, "receiver_city": o.city,
            "receiver_district": o.district, "receiver_town": "", "receiver_address": o.detail,
            "receiver_zip": "000000", "shipping_type": "express", "oaid": oaid,
            "orders": {"order": [self._order(o, ln, status) for ln in o.lines]},
        }
        if o.paid_at:
            trade["pay_time"] = top_time(o.paid_at)
        if status in ("TRADE_FINISHED", "TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO"):
            trade["end_time"] = top_time(o.updated)
        if promotions:
            trade["promotion_details"] = {"promotion_detail": promotions}
        return {k: v for k, v in trade.items() if v != ""}  # TOP leaves out empty fields

    def _order(self, o: SimOrder, ln: SimLine, trade_status: str) -> dict[str, Any]:
        refund = REFUND_STATUS[ln.refund]
        single = len(o.lines) == 1  # TOP: a lone sub-order's payment includes the shipping fee
        order: dict[str, Any] = {
            "oid": _number(ln.line_id), "oid_str": ln.line_id,
            "status": "TRADE_CLOSED" if refund == "SUCCESS" else trade_status,
            "refund_status": refund, "title": ln.name, "num_iid": _item_id(ln),
            "sku_id": str(_digits(ln.sku, 13)), "outer_iid": ln.sku.rsplit("-", 2)[0], "outer_sku_id": ln.sku,
            "sku_properties_name": f"颜色分类:{ln.color};尺码:{ln.size}", "num": ln.qty,
            "price": round_yuan(ln.price), "total_fee": round_yuan(ln.paid),
            "payment": round_yuan(ln.paid + (o.post_fee if single else 0)), "divide_order_fee": round_yuan(ln.paid),
            "discount_fee": round_yuan(ln.price * ln.qty - ln.paid), "adjust_fee": "0.00",
            "seller_type": "B" if self.world.platform == "tmall" else "C", "is_oversold": False,
        }
        if o.ship_by:
            order["estimate_con_time"] = top_time(o.ship_by)
        if ln.shipped_in or o.tracking_no:  # split parcels: each sub-order names its own waybill
            order["invoice_no"], order["logistics_company"] = ln.shipped_in or o.tracking_no, o.carrier or ""
        if refund != "NO_REFUND":
            order["refund_id"] = _digits(ln.line_id + "refund", 15)
        return order

    # --- TMC pushes -----------------------------------------------------------------------------------
    def _on_change(self, topic: str, order: SimOrder) -> None:
        """World listener: queue the TMC message (never block the world's caller)."""
        tmc = TMC_TOPICS.get(topic)
        if tmc is None:
            return
        trade = self.trade(order)
        content: dict[str, Any] = {"buyer_nick": trade["buyer_nick"], "buyer_open_uid": trade["buyer_open_uid"],
                                   "tid": trade["tid"]}
        if tmc != "taobao_trade_TradeLogisticsAddressChanged":
            content.update(seller_nick=self.user_nick, status=trade["status"], payment=trade["payment"])
        if tmc == "taobao_refund_RefundCreated":
            line = next((ln for ln in order.lines if ln.refund == "requested"), order.lines[0])
            content.update(oid=_number(line.line_id), refund_id=_digits(line.line_id + "refund", 15),
                           refund_fee=round_yuan(line.paid), refund_phase="onsale", bill_type="refund_bill",
                           modified=top_time(order.updated))
        self._outbox.put({"id": str(next(self._msg_ids)), "topic": tmc, "pub_time": top_time(self.world.clock()),
                          "user_id": self.user_id, "user_nick": self.user_nick,
                          "content": json.dumps(content, ensure_ascii=False, separators=(",", ":"))})

    def push_form(self, message: dict[str, str], *, secret: str | None = None) -> dict[str, str]:
        """A TMC message as the signed form the hub receives."""
        form = {**message, "app_key": self.app_key, "timestamp": top_time(self.world.clock()),
                "sign_method": "hmac-sha256"}
        form["sign"] = sign(form, secret or self.app_secret, "hmac-sha256")
        return form

    def close(self) -> None:
        """Stop pushing (the world keeps its orders)."""
        if self._on_change in self.world.listeners:
            self.world.listeners.remove(self._on_change)
        self._outbox.put(None)

    def _push_loop(self) -> None:
        http = requests.Session()
        while (message := self._outbox.get()) is not None:
            for attempt in range(3):  # TMC redelivers what is not acknowledged
                try:
                    answer = http.post(self.push_url or "", data=self.push_form(message), timeout=10)
                    if answer.status_code < 500:
                        break
                except requests.RequestException as err:
                    log.info("TMC push %s failed (%s), attempt %d", message["id"], err, attempt + 1)
                time.sleep(0.5)


def make_simulator(world: SimWorld, credentials: Credentials, **kw: Any) -> TaobaoSimulator:
    """The simulator for the CLI and the demo: the shop's own key, secret and tokens."""
    return TaobaoSimulator(world, app_key=credentials.app_key, app_secret=credentials.app_secret,
                           session=credentials.access_token, refresh_token=credentials.refresh_token, **kw)
