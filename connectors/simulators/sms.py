"""A loopback Alibaba Cloud SMS gateway (Dysmsapi 2017-05-25) for tests and the demo.

It checks what the real gateway checks, in the same order and with the same codes: the common
parameters, the API version, the access key, the timestamp (15 minutes of skew), the nonce (used
once), the signature (byte-exact, over the decoded form values), then the message: phone number,
签名, template and its variables, and per-number flow control. It keeps what it "delivered" so tests
can read the customer's phone, and it can be taken down or made slow to test the hub's retries.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl

from connectors.simulators.server import Request, Response, SimServer, slow
from connectors.sms import API_VERSION, sign

COMMON = ("AccessKeyId", "Action", "SignatureMethod", "SignatureNonce", "SignatureVersion", "Timestamp", "Version")
PHONE = re.compile(r"^1[3-9]\d{9}$")
SKEW = timedelta(minutes=15)
CST = timezone(timedelta(hours=8))  # the gateway reports days and times in China Standard Time


@dataclass
class Delivered:
    """One message the simulated carrier delivered."""

    phone: str
    sign_name: str
    template_code: str
    params: dict[str, str]
    content: str
    out_id: str | None
    biz_id: str
    at: datetime


@dataclass
class SmsGatewaySimulator:
    """The gateway's state: accounts, registered 签名 and templates, what was sent, and faults."""

    keys: dict[str, str] = field(default_factory=lambda: {"LTAI5tOrderHubDemo": "orderhub-demo-secret"})
    sign_names: set[str] = field(default_factory=lambda: {"小树苗童装"})
    templates: dict[str, str] = field(default_factory=dict)  # TemplateCode → text with ${var}
    per_minute_limit: int = 1  # the real default for one number and one template: 1 a minute
    down: bool = False  # answer 503 to everything
    delay: float = 0.0  # answer late (the client times out)
    drop_answer_once: bool = False  # deliver, then fail the HTTP answer (the ambiguous case)
    delivered: list[Delivered] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def server(self) -> SimServer:
        return SimServer(self.handle)

    def _error(self, status: int, code: str, message: str) -> Response:
        return Response(status, json.dumps({"RequestId": uuid.uuid4().hex.upper(), "Code": code, "Message": message},
                                           ensure_ascii=False).encode())

    def handle(self, req: Request) -> Response:
        if self.down:
            return Response(503, b'{"Code":"ServiceUnavailable","Message":"The request has failed due to a temporary failure of the server."}')
        if self.delay:
            slow(self.delay)
        params = dict(parse_qsl(req.body.decode(), keep_blank_values=True)) if req.method == "POST" else dict(req.query)
        for name in COMMON:
            if not params.get(name):
                return self._error(400, "MissingParameter", f"The input parameter \"{name}\" that is mandatory for processing this request is not supplied.")
        if params["Version"] != API_VERSION:
            return self._error(400, "InvalidVersion", "Specified parameter Version is not valid.")
        secret = self.keys.get(params["AccessKeyId"])
        if secret is None:
            return self._error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        try:
            at = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return self._error(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
        if abs(datetime.now(UTC) - at) > SKEW:
            return self._error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        given = params.pop("Signature", "")
        if sign(params, secret, method=req.method) != given:
            return self._error(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        with self.lock:
            if params["SignatureNonce"] in self.nonces:
                return self._error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self.nonces.add(params["SignatureNonce"])
        action = params["Action"]
        if action == "SendSms":
            return self._send(params)
        if action == "QuerySendDetails":
            return self._query(params)
        return self._error(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")

    def _send(self, p: dict[str, str]) -> Response:
        phone, sign_name, code = p.get("PhoneNumbers", ""), p.get("SignName", ""), p.get("TemplateCode", "")
        if not PHONE.match(phone):
            return self._error(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if sign_name not in self.sign_names:
            return self._error(200, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        text = self.templates.get(code)
        if text is None:
            return self._error(200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            values = json.loads(p.get("TemplateParam") or "{}")
        except ValueError:
            return self._error(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            return self._error(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        missing = [v for v in re.findall(r"\$\{(\w+)\}", text) if v not in values]
        if missing:
            return self._error(200, "isv.TEMPLATE_MISSING_PARAMETERS", f"模板缺少变量 {missing[0]}")
        now = datetime.now(UTC)
        with self.lock:
            recent = [d for d in self.delivered if d.phone == phone and d.template_code == code and now - d.at < timedelta(minutes=1)]
            if len(recent) >= self.per_minute_limit:
                return self._error(200, "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
            content = f"【{sign_name}】" + re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text)
            biz_id = f"{int(time.time() * 1000) % 10**15:015d}^{len(self.delivered):010d}"
            self.delivered.append(Delivered(phone, sign_name, code, values, content, p.get("OutId") or None, biz_id, now))
            drop = self.drop_answer_once
            self.drop_answer_once = False
        if drop:  # delivered, but the answer is lost on the way back
            return Response(502, b"Bad Gateway")
        return Response(200, json.dumps({"RequestId": uuid.uuid4().hex.upper(), "Code": "OK", "Message": "OK",
                                         "BizId": biz_id}).encode())

    def _query(self, p: dict[str, str]) -> Response:
        phone, day = p.get("PhoneNumber", ""), p.get("SendDate", "")
        size, page = int(p.get("PageSize") or 10), int(p.get("CurrentPage") or 1)
        if not PHONE.match(phone):
            return self._error(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if not 1 <= size <= 50:
            return self._error(200, "isv.INVALID_PARAMETERS", "PageSize 取值 1-50")
        with self.lock:
            rows = [d for d in self.delivered if d.phone == phone and d.at.astimezone(CST).strftime("%Y%m%d") == day]
        chunk = rows[(page - 1) * size: page * size]
        return Response(200, json.dumps({
            "RequestId": uuid.uuid4().hex.upper(), "Code": "OK", "Message": "OK", "TotalCount": len(rows),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": [{
                "PhoneNum": d.phone, "SendStatus": 3, "ErrCode": "DELIVERED", "TemplateCode": d.template_code,
                "Content": d.content, "SendDate": d.at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S"),
                "ReceiveDate": d.at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S"), "OutId": d.out_id or ""}
                for d in chunk]}}, ensure_ascii=False).encode())

