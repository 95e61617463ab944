"""顺丰丰桥 (open.sf-express.com "std/service"): msgDigest-signed calls, route pushes, and 拦截件.

Every call is a form POST (partnerID, requestID, serviceCode, timestamp, msgDigest, msgData) with
``msgDigest = Base64(MD5(URLEncoder.encode(msgData + timestamp + checkWord, "UTF-8")))`` — Java's
URLEncoder, so a space is ``+``, ``*`` is kept and ``~`` is ``%7E``. Answers come as
``{"apiResultCode":"A1000","apiResultData":"<JSON>"}`` with the business result inside.

Route pushes (RoutePushService) reach the hub in the same signed envelope (msgData =
``{"Body":{"WaybillRoute":[…]}}``) and are answered ``{"return_code":"0000","return_msg":"成功"}``.
SF's public copies of the push page show no digest on JSON-mode pushes; the hub accepts only the
signed envelope, so an unsigned push is refused and recorded — configure the push that way in 丰桥.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, quote_plus

import requests

from connectors.base import PlatformError, http
from connectors.tracking import Node, PushRefused, TrackingPush, beijing, courier_in

CARRIER = "sf"
REPLY_OK = json.dumps({"return_code": "0000", "return_msg": "成功"}, ensure_ascii=False).encode()
REPLY_FAIL = json.dumps({"return_code": "1000", "return_msg": "系统异常"}, ensure_ascii=False).encode()
INTERCEPT_SERVICE = "EXP_RECE_WANTED_INTERCEPT"  # 拦截改址 (INFERRED name: SF's API list, not a stored doc page)
RETRYABLE = {"A1005", "A1009", "A1099", "S0003"}
# opCode → state (SF's opCode table was not retrieved: the common codes as SF's own pushes use them)
OP_STATES = {"50": "collected", "54": "collected", "44": "delivering", "204": "delivering", "80": "delivered",
             "8000": "delivered", "70": "exception", "99": "exception", "33": "exception"}
FIRST_STATUS = {"1": "collected", "2": "in_transit", "3": "delivering", "4": "delivered", "5": "exception"}


def java_urlencode(text: str) -> str:
    """``java.net.URLEncoder.encode(text, "UTF-8")``: like quote_plus, but ``*`` kept and ``~`` escaped."""
    return quote_plus(text, safe="*").replace("~", "%7E")


def msg_digest(msg_data: str, timestamp: str, check_word: str) -> str:
    """丰桥's msgDigest of one request (or push)."""
    return base64.b64encode(hashlib.md5(java_urlencode(msg_data + timestamp + check_word).encode("utf-8")).digest()).decode()


def envelope(partner_id: str, check_word: str, service: str, msg_data: str, *, timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp or str(int(time.time() * 1000))
    return {"partnerID": partner_id, "requestID": uuid.uuid4().hex, "serviceCode": service, "timestamp": stamp,
            "msgDigest": msg_digest(msg_data, stamp, check_word), "msgData": msg_data}


class SfExpress:
    """A 丰桥 account: partner id (顾客编码) and check word (校验码)."""

    def __init__(self, base_url: str, partner_id: str, check_word: str, *, timeout: float = 10.0,
                 session: requests.Session | None = None) -> None:
        self.base_url, self.partner_id, self.check_word = base_url.rstrip("/"), partner_id, check_word
        self.timeout, self.session = timeout, session or requests.Session()

    def call(self, service: str, msg: dict[str, Any]) -> dict[str, Any]:
        """One signed service call; the business ``msgData`` of a successful answer.

        Raises:
            PlatformError: the platform (A-codes) or the service (errorCode) refused; retryable for
                flow control, outages and system errors.
        """
        form = envelope(self.partner_id, self.check_word, service, json.dumps(msg, ensure_ascii=False))
        response = http(self.session, CARRIER, "POST", f"{self.base_url}/std/service", timeout=self.timeout, data=form,
                        headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})
        try:
            answer = response.json()
            if answer.get("apiResultCode") != "A1000":
                code = str(answer.get("apiResultCode"))
                raise PlatformError(CARRIER, code, f"顺丰接口拒绝了请求：{answer.get('apiErrorMsg', '')}",
                                    retryable=code in RETRYABLE)
            result = json.loads(answer.get("apiResultData") or "{}")
        except ValueError:
            raise PlatformError(CARRIER, "malformed", "顺丰的答复无法解析", retryable=True) from None
        if not result.get("success"):
            code = str(result.get("errorCode", ""))
            raise PlatformError(CARRIER, code, f"顺丰：{result.get('errorMsg') or '处理失败'}", retryable=code in RETRYABLE)
        return result.get("msgData") or {}

    def intercept(self, waybill_no: str, *, reason: str = "订单已取消") -> dict[str, Any]:
        """Ask SF to stop the parcel and send it back (拦截件, service ``EXP_RECE_WANTED_INTERCEPT``)."""
        return self.call(INTERCEPT_SERVICE, {"waybillNo": waybill_no, "serviceCode": "2", "role": "1",
                                             "payMode": "1", "remark": reason})

    def close(self) -> None:
        self.session.close()


def read_push(body: bytes, partner_id: str, check_word: str) -> list[TrackingPush]:
    """A RoutePushService push in the signed envelope, verified; its waybills' nodes.

    Raises:
        PushRefused: a missing or wrong msgDigest, another partner, or a body that cannot be read.
    """
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise PushRefused("推送不是 UTF-8 表单") from None
    data, stamp, digest = form.get("msgData"), form.get("timestamp", ""), form.get("msgDigest", "")
    if not data or not digest:
        raise PushRefused("顺丰推送缺少 msgData 或 msgDigest，已拒收")
    if form.get("partnerID") != partner_id or not hmac.compare_digest(msg_digest(data, stamp, check_word), digest):
        raise PushRefused("顺丰推送数字签名不正确，已拒收")
    try:
        routes = json.loads(data)["Body"]["WaybillRoute"]
        by_waybill: dict[str, list[Node]] = {}
        for r in routes:
            by_waybill.setdefault(str(r["mailno"]), []).append(_node(r))
    except (ValueError, KeyError, TypeError) as err:
        raise PushRefused(f"顺丰推送内容无法读取（{err}）") from None
    return [TrackingPush(CARRIER, no, tuple(nodes)) for no, nodes in by_waybill.items()]


def _node(r: dict[str, Any]) -> Node:
    text = str(r.get("remark", ""))
    name, phone = courier_in(text)
    state = FIRST_STATUS.get(str(r.get("firstStatusCode", ""))) or OP_STATES.get(str(r.get("opCode", "")), "in_transit")
    return Node(beijing(str(r["acceptTime"])), str(r.get("acceptAddress", "")), text, state, name, phone)
