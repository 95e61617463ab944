"""A loopback 快递100: ``/poll`` subscriptions checked as the docs describe, pushes signed with the salt.

Subscribe answers 200 提交成功, 501 重复订阅, 600 bad key, 700 bad parameters, 701 a refused
company. After a subscription, :meth:`Kuaidi100Simulator.advance` moves the parcel on and pushes
its whole history newest first (as 快递100 does, resultv2=4 with ``areaCenter`` positions) to the
callback URL as form ``param`` + ``sign``; a push the receiver does not answer with
``result: true`` is retried (3 times here, 35 minutes apart in real life).
An accepted ``interceptOrder`` is answered later, as 快递100 does, by a signed result push to the
request's ``callbackUrl`` (salt from the request): succeeded, or failed with the carrier's reason —
set per waybill in :attr:`Kuaidi100Simulator.intercept_outcomes`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests

from app.domain.carriers import carrier_by_code
from connectors.kuaidi100 import label_sign, sign
from connectors.simulators.parcels import Leg, Road
from connectors.simulators.server import Request, Response
from connectors.tracking import CST

log = logging.getLogger(__name__)
STATE_CODES = {"collected": ("1", "揽收"), "in_transit": ("0", "在途"), "delivering": ("5", "派件"),
               "delivered": ("3", "签收"), "exception": ("2", "疑难")}


@dataclass
class Subscription:
    company: str
    number: str
    callback: str
    salt: str


#: 快递100 interception's carriers (its 参数字典) → whether a partnerId (the account with the carrier) is required
INTERCEPT_COMPANIES = {"debangwuliu": False, "zhongtong": True, "jtexpress": True, "jd": True, "ems": False,
                       "youzhengguonei": False}


class Kuaidi100Simulator:
    def __init__(self, road: Road | None = None, *, key: str = "kd100-key", secret: str = "kd100-secret") -> None:
        self.road, self.key, self.secret = road or Road(), key, secret
        self.intercepts: list[str] = []
        self.subscriptions: dict[str, Subscription] = {}
        self.pushes: list[tuple[str, int, bytes]] = []  # (number, HTTP status, reply)
        self.http = requests.Session()
        #: waybill → (status, reason) of the interception result push; default ("SUCCESS", "拦截成功，快件退回寄件地址")
        self.intercept_outcomes: dict[str, tuple[str, str]] = {}
        self.intercept_delay = 0.2  # seconds between the accepted answer and the result push
        self.results_released = threading.Event()  # (tests) clear it to hold result pushes until set again
        self.results_released.set()
        self.intercept_requests: dict[str, dict[str, Any]] = {}  # waybill → the accepted request's param
        self.intercept_pushes: list[tuple[str, int, bytes]] = []  # (number, HTTP status, reply)
        self._result_threads: list[threading.Thread] = []

    @staticmethod
    def _json(payload: dict[str, Any]) -> Response:
        return Response(200, json.dumps(payload, ensure_ascii=False).encode())

    def handle(self, req: Request) -> Response:
        if req.path == "/label/order" and req.method == "POST":
            return self._label(dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)))
        if req.path != "/poll" or req.method != "POST":
            return Response(404, b"not found")
        form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        try:
            param = json.loads(form.get("param", ""))
        except ValueError:
            param = None
        if form.get("schema") != "json" or not isinstance(param, dict):
            return self._json({"result": False, "returnCode": "700", "message": "订阅数据错误"})
        if param.get("key") != self.key:
            return self._json({"result": False, "returnCode": "600", "message": "您不是合法的订阅者（即授权Key出错）"})
        number, company = str(param.get("number") or ""), str(param.get("company") or "")
        extra = param.get("parameters") or {}
        if not number or not company or not extra.get("callbackurl"):
            return self._json({"result": False, "returnCode": "700", "message": "订阅数据错误：单号、公司或回调地址为空"})
        if carrier_by_code("kuaidi100", company) is None:
            return self._json({"result": False, "returnCode": "701", "message": "拒绝订阅的快递公司"})
        if number in self.subscriptions:
            return self._json({"result": False, "returnCode": "501", "message": "重复订阅"})
        self.subscriptions[number] = Subscription(company, number, extra["callbackurl"], str(extra.get("salt") or ""))
        self.road.parcel(number)
        return self._json({"result": True, "returnCode": "200", "message": "提交成功"})

    def _label(self, form: dict[str, str]) -> Response:
        """``interceptOrder``: signed with the enterprise secret; the carriers and account fields of its 参数字典."""
        param = form.get("param", "")
        if form.get("key") != self.key or form.get("sign") != label_sign(param, form.get("t", ""), self.key, self.secret):
            return self._json({"result": False, "returnCode": "601", "message": "签名错误或授权Key出错"})
        if form.get("method") != "interceptOrder":
            return self._json({"result": False, "returnCode": "400", "message": "不支持的业务类型"})
        try:
            p = json.loads(param)
        except ValueError:
            return self._json({"result": False, "returnCode": "400", "message": "param 不是有效的 JSON"})
        company, number = str(p.get("kuaidicom") or ""), str(p.get("kuaidinum") or "")
        if company not in INTERCEPT_COMPANIES:
            return self._json({"result": False, "returnCode": "400", "message": f"{company} 不支持拦截"})
        if INTERCEPT_COMPANIES[company] and not p.get("partnerId"):
            return self._json({"result": False, "returnCode": "400", "message": "partnerId 不能为空"})
        parcel = self.road.parcels.get(number)
        if parcel is None or parcel.delivered:
            return self._json({"result": False, "returnCode": "400", "message": "运单不存在或已签收，无法拦截"})
        parcel.intercepted = True
        self.intercepts.append(number)
        self.intercept_requests[number] = p
        if p.get("callbackUrl"):
            worker = threading.Thread(target=self._later, args=(number,), daemon=True, name=f"kd100-intercept-{number}")
            self._result_threads.append(worker)
            worker.start()
        return self._json({"result": True, "returnCode": "200", "message": "提交成功",
                           "data": {"taskId": hashlib.md5(number.encode()).hexdigest().upper()}})

    def _later(self, number: str) -> None:
        time.sleep(self.intercept_delay)
        if self.results_released.wait(60):
            self.push_intercept_result(number)

    def intercept_result_body(self, number: str, *, salt: str | None = None) -> bytes:
        """The form 快递100 posts with an interception's result (signed with the request's salt)."""
        request = self.intercept_requests[number]
        status, reason = self.intercept_outcomes.get(number, ("SUCCESS", "拦截成功，快件退回寄件地址"))
        param = json.dumps({"kuaidicom": request.get("kuaidicom"), "kuaidinum": number, "orderid": request.get("orderid"),
                            "taskId": hashlib.md5(number.encode()).hexdigest().upper(), "status": status,
                            "message": reason}, ensure_ascii=False)
        return urlencode({"param": param, "sign": sign(param, str(request.get("salt") or "") if salt is None else salt)
                          }).encode()

    def push_intercept_result(self, number: str, *, salt: str | None = None) -> int:
        """Post the interception's result to its callbackUrl; the receiver's HTTP status (retried up to 3 times)."""
        status, reason = self.intercept_outcomes.get(number, ("SUCCESS", ""))
        parcel = self.road.parcels.get(number)
        if parcel is not None and status != "SUCCESS":
            parcel.intercepted = False  # the carrier could not stop it: it travels on
        body = self.intercept_result_body(number, salt=salt)
        answer_status = 0
        for _ in range(3):
            try:
                answer = requests.post(self.intercept_requests[number]["callbackUrl"], data=body, timeout=10,
                                        headers={"Content-Type": "application/x-www-form-urlencoded"})
                answer_status = answer.status_code
                self.intercept_pushes.append((number, answer_status, answer.content))
                if answer_status == 200 and answer.json().get("result") is True:
                    break
            except (requests.RequestException, ValueError) as err:
                log.info("快递100 interception result push of %s failed: %s", number, err)
        return answer_status

    def wait_results(self, timeout: float = 30.0) -> None:
        """(Tests) wait until every pending interception result push has been sent."""
        for worker in list(self._result_threads):
            worker.join(timeout)

    def push_body(self, number: str, *, salt: str | None = None) -> bytes:
        """The form 快递100 posts for ``number``'s nodes so far (signed with the subscription's salt)."""
        sub = self.subscriptions[number]
        parcel = self.road.parcels[number]
        legs = list(reversed(parcel.legs[: parcel.sent]))
        state = STATE_CODES[legs[0].state][0] if legs else "0"
        param = json.dumps({
            "status": "shutdown" if parcel.delivered else "polling", "billstatus": "got", "message": "",
            "autoCheck": "0", "comOld": "", "comNew": "",
            "lastResult": {"message": "ok", "nu": number, "ischeck": "1" if parcel.delivered else "0", "com": sub.company,
                           "status": "200", "state": state, "condition": "F00", "data": [self._node(leg) for leg in legs]},
        }, ensure_ascii=False)
        return urlencode({"param": param, "sign": sign(param, sub.salt if salt is None else salt)}).encode()

    @staticmethod
    def _node(leg: Leg) -> dict[str, str]:
        text = leg.at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
        return {"context": leg.action, "time": text, "ftime": text, "status": STATE_CODES[leg.state][1],
                "areaCode": "", "areaName": leg.place, "areaCenter": f"{leg.lon},{leg.lat}", "location": "",
                "statusCode": ""}

    def advance(self, number: str, steps: int = 1) -> int:
        """Move the parcel on and push; the receiver's HTTP status (retried up to 3 times on a failure)."""
        self.road.advance(number, steps)
        return self.push(number)

    def push(self, number: str, *, salt: str | None = None) -> int:
        body = self.push_body(number, salt=salt)
        status = 0
        for _ in range(3):
            try:
                answer = self.http.post(self.subscriptions[number].callback, data=body, timeout=10,
                                        headers={"Content-Type": "application/x-www-form-urlencoded"})
                status = answer.status_code
                self.pushes.append((number, status, answer.content))
                if status == 200 and answer.json().get("result") is True:
                    break
            except (requests.RequestException, ValueError) as err:
                log.info("快递100 push of %s failed: %s", number, err)
        return status

    def close(self) -> None:
        self.http.close()
