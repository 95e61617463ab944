"""快递100 (poll.kuaidi100.com): subscribe a waybill, then receive its pushes — signed, answered as it demands.

Subscribe: ``POST /poll`` form ``schema=json`` + ``param`` (JSON with ``company``, ``number``,
``key``, ``parameters.callbackurl`` / ``salt`` / ``resultv2`` / ``phone``); answer
``{"result":true,"returnCode":"200","message":"提交成功"}``; 501 = already subscribed (fine).
Push: form ``param`` (JSON) + ``sign`` = upper(MD5(param + salt)) over the exact received text;
the reply must be ``{"result":true,"returnCode":"200","message":"成功"}`` or 快递100 retries.
Sources: kuaidi100-api java/php demos (SubscribeParameters, SignUtils, Subscribe.callBackUrl).
Interception: api.kuaidi100.com/document/dianzimiandanlanjie (``/label/order`` ``method=interceptOrder``,
``sign`` = upper(MD5(param + t + key + secret)); which carriers and which account fields: its 参数字典).
Its result comes back later to the ``callbackUrl`` given in the request ("所有快递公司的拦截状态均通过回调返回"),
signed with the ``salt`` given there. The callback's own field table was not reachable; read as 快递100's
other pushes are (form ``param`` + ``sign`` = upper(MD5(param + salt)), same reply), see :func:`read_intercept_result`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

import requests

from connectors.base import PlatformError, http
from connectors.tracking import Node, PushRefused, TrackingPush, beijing, courier_in

CARRIER = "kuaidi100"
REPLY_OK = json.dumps({"result": True, "returnCode": "200", "message": "成功"}, ensure_ascii=False).encode()
# lastResult.state → our node state (0在途 1揽收 2疑难 3签收 4退签 5派件 6退回 7转投)
STATES = {"0": "in_transit", "1": "collected", "2": "exception", "3": "delivered", "4": "exception",
          "5": "delivering", "6": "exception", "7": "in_transit"}
NODE_STATUS = {"在途": "in_transit", "揽收": "collected", "疑难": "exception", "签收": "delivered", "退签": "exception",
               "派件": "delivering", "退回": "exception", "转投": "in_transit"}
RETRYABLE = {"500"}


def sign(param: str, salt: str) -> str:
    """快递100's push signature: upper-case hex MD5 of the param text followed by the salt."""
    return hashlib.md5((param + salt).encode("utf-8")).hexdigest().upper()


def reply_refused(reason: str) -> bytes:
    return json.dumps({"result": False, "returnCode": "500", "message": reason}, ensure_ascii=False).encode()


class Kuaidi100:
    """A 快递100 account: its ``key``, the ``salt`` pushes are signed with, and our callback address."""

    def __init__(self, base_url: str, key: str, salt: str, callback_url: str, *, timeout: float = 10.0,
                 session: requests.Session | None = None, label_url: str = "https://api.kuaidi100.com",
                 label_secret: str = "", partners: dict[str, str] | None = None,
                 intercept_callback_url: str | None = None) -> None:
        self.base_url, self.key, self.salt, self.callback_url = base_url.rstrip("/"), key, salt, callback_url
        # where 快递100 posts the interception result (the hub's /carrier/kuaidi100-intercept door)
        self.intercept_callback_url = (intercept_callback_url if intercept_callback_url is not None
                                       else f"{callback_url}-intercept" if callback_url else "")
        self.label_url, self.label_secret = label_url.rstrip("/"), label_secret
        self.partners = dict(partners or {})  # carrier key → the shop's account with it (partnerId)
        self.timeout, self.session = timeout, session or requests.Session()

    def subscribe(self, company: str, number: str, phone: str = "") -> str:
        """Ask 快递100 to push this waybill's nodes; ``subscribed`` or ``already`` (501).

        Raises:
            PlatformError: refused (bad company/number/key: not retryable) or unreachable (retryable).
        """
        param = {"company": company, "number": number, "key": self.key, "parameters": {
            "callbackurl": self.callback_url, "salt": self.salt, "resultv2": "4", "phone": phone[-4:] if phone else ""}}
        response = http(self.session, CARRIER, "POST", f"{self.base_url}/poll", timeout=self.timeout,
                        data={"schema": "json", "param": json.dumps(param, ensure_ascii=False)})
        try:
            answer = response.json()
        except ValueError:
            raise PlatformError(CARRIER, "malformed", "快递100 的答复无法解析", retryable=True) from None
        code = str(answer.get("returnCode", ""))
        if code == "200":
            return "subscribed"
        if code == "501":
            return "already"
        raise PlatformError(CARRIER, code, f"快递100 拒绝订阅：{answer.get('message', '')}", retryable=code in RETRYABLE)

    def intercept(self, company: str, number: str, *, partner_id: str = "", reason: str = "",
                  order_id: str = "") -> str:
        """拦截件 through 快递100's interception API (``/label/order``, ``method=interceptOrder``): the parcel
        goes back to the sender's address (``RETURN_SEND_ADDR``). Returns 快递100's task id; the carrier's
        final word comes later. Needs the enterprise ``secret`` (``label_secret``).

        Raises:
            PlatformError: refused (not retryable: the request cannot succeed as it is) or unreachable.
        """
        if not self.label_secret:
            raise PlatformError(CARRIER, "config", "没有配置快递100企业版密钥，无法提交拦截")
        param = json.dumps({"kuaidicom": company, "kuaidinum": number, "interceptType": "RETURN_SEND_ADDR",
                            "partnerId": partner_id, "reason": reason, "orderid": order_id,
                            "salt": self.salt, "callbackUrl": self.intercept_callback_url},
                           ensure_ascii=False, separators=(",", ":"))
        t = str(int(time.time() * 1000))
        response = http(self.session, CARRIER, "POST", f"{self.label_url}/label/order", timeout=self.timeout, data={
            "method": "interceptOrder", "key": self.key, "t": t, "param": param,
            "sign": label_sign(param, t, self.key, self.label_secret)})
        try:
            answer = response.json()
        except ValueError:
            raise PlatformError(CARRIER, "malformed", "快递100 的答复无法解析", retryable=True) from None
        code = str(answer.get("returnCode", ""))
        if code == "200" and answer.get("result"):
            return str((answer.get("data") or {}).get("taskId") or "")
        raise PlatformError(CARRIER, code, f"快递100 拒绝拦截：{answer.get('message', '')}", retryable=code in RETRYABLE)

    def close(self) -> None:
        self.session.close()


def label_sign(param: str, t: str, key: str, secret: str) -> str:
    """快递100 企业版 signature (电子面单 / 拦截): upper-case MD5 of param + t + key + secret."""
    return hashlib.md5((param + t + key + secret).encode("utf-8")).hexdigest().upper()


def read_push(body: bytes, salt: str) -> TrackingPush:
    """A push as 快递100 sends it, verified.

    Raises:
        PushRefused: a wrong or missing signature, or a body that cannot be read.
    """
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise PushRefused("推送不是 UTF-8 表单") from None
    param = form.get("param")
    if not param:
        raise PushRefused("推送缺少 param")
    if salt or form.get("sign"):
        if not hmac.compare_digest(sign(param, salt), form.get("sign", "")):
            raise PushRefused("快递100 推送签名不正确，已拒收")
    try:
        doc = json.loads(param)
        last = doc["lastResult"]
        number = str(last["nu"])
        data = last.get("data") or []
    except (ValueError, KeyError, TypeError):
        raise PushRefused("推送内容无法读取（缺少 lastResult/nu）") from None
    try:
        nodes = tuple(_node(n, str(last.get("state", ""))) for n in data if isinstance(n, dict))
    except (ValueError, KeyError, TypeError) as err:
        raise PushRefused(f"运单 {number} 的物流节点无法读取（{err}）", tracking_no=number) from None
    return TrackingPush(CARRIER, number, nodes)


#: the interception result's status → our interception state (快递100's values are inferred: see the module doc)
INTERCEPT_STATUS = {"SUCCESS": "succeeded", "success": "succeeded", "1": "succeeded", "true": "succeeded",
                    "FAIL": "failed", "FAILED": "failed", "fail": "failed", "0": "failed", "false": "failed"}


@dataclass(frozen=True, slots=True)
class InterceptResult:
    """The carrier's final word on an interception: ``succeeded`` or ``failed``, with its reason in words."""

    tracking_no: str
    state: str
    reason: str
    task_id: str


def read_intercept_result(body: bytes, salt: str) -> InterceptResult:
    """An interception result push as 快递100 sends it, verified like its tracking pushes.

    Raises:
        PushRefused: a wrong or missing signature, or a body that cannot be read.
    """
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise PushRefused("推送不是 UTF-8 表单") from None
    param = form.get("param")
    if not param:
        raise PushRefused("拦截结果推送缺少 param")
    if salt or form.get("sign"):
        if not hmac.compare_digest(sign(param, salt), form.get("sign", "")):
            raise PushRefused("快递100 拦截结果推送签名不正确，已拒收", tracking_no=_claimed_number(param))
    try:
        doc = json.loads(param)
        number = str(doc["kuaidinum"])
        raw = str(doc.get("status", ""))
    except (ValueError, KeyError, TypeError):
        raise PushRefused("拦截结果推送内容无法读取（缺少 kuaidinum）") from None
    state = INTERCEPT_STATUS.get(raw)
    if state is None:
        raise PushRefused(f"运单 {number} 的拦截结果状态「{raw}」无法识别", tracking_no=number)
    reason = str(doc.get("message") or doc.get("reason") or ("拦截成功" if state == "succeeded" else "快递公司未说明原因"))
    return InterceptResult(number, state, reason[:500], str(doc.get("taskId") or ""))


def _claimed_number(param: str) -> str | None:
    """The waybill an unverified push names, kept only to file its refusal under that parcel."""
    try:
        doc = json.loads(param)
        return str(doc["kuaidinum"])[:64] if isinstance(doc, dict) and doc.get("kuaidinum") else None
    except ValueError:
        return None


def _node(n: dict[str, Any], last_state: str) -> Node:
    text = str(n.get("context", ""))
    name, phone = courier_in(text)
    lon = lat = None
    center = str(n.get("areaCenter") or "")
    if "," in center:
        try:
            lon, lat = (Decimal(x) for x in center.split(",", 1))
        except InvalidOperation:
            lon = lat = None
    status = str(n.get("status") or "")
    state = NODE_STATUS.get(status) or STATES.get(last_state, "in_transit")
    return Node(beijing(str(n.get("ftime") or n["time"])), str(n.get("areaName") or n.get("location") or ""), text,
                state, name, phone, lon, lat)
