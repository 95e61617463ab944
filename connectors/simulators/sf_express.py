"""A loopback 顺丰丰桥: ``/std/service`` with msgDigest checks, 拦截件, and signed route pushes.

Platform answers follow the doc's codes: A1001 a missing field, A1006 a wrong digest, A1004 an
unknown service; business errors inside apiResultData. Route pushes go out in the signed
std/service envelope (serviceCode RoutePushService), at most 10 routes per push and never a node
twice, as SF's push page says; SF re-sends when the answer is not return_code 0000.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests

from connectors.sf_express import INTERCEPT_SERVICE, envelope, msg_digest
from connectors.simulators.parcels import Leg, Road
from connectors.simulators.server import Request, Response
from connectors.tracking import CST

log = logging.getLogger(__name__)
OP_CODES = {"collected": "50", "in_transit": "30", "delivering": "44", "delivered": "80", "exception": "70"}
FIRST = {"collected": ("1", "已揽收"), "in_transit": ("2", "运送中"), "delivering": ("3", "派送中"),
         "delivered": ("4", "已签收"), "exception": ("5", "异常")}


class SfSimulator:
    def __init__(self, road: Road | None = None, *, partner_id: str = "XSMTZ", check_word: str = "sf-check-word-0123",
                 push_url: str | None = None) -> None:
        self.road, self.partner_id, self.check_word, self.push_url = road or Road(), partner_id, check_word, push_url
        self.intercepts: list[str] = []
        self.pushes: list[tuple[str, int, bytes]] = []
        self.http = requests.Session()

    @staticmethod
    def _api(code: str, message: str = "", data: dict[str, Any] | None = None) -> Response:
        return Response(200, json.dumps({"apiErrorMsg": message, "apiResponseID": secrets.token_hex(16).upper(),
                                         "apiResultCode": code, "apiResultData": json.dumps(data, ensure_ascii=False)
                                         if data is not None else ""}, ensure_ascii=False).encode())

    def handle(self, req: Request) -> Response:
        if req.path != "/std/service":
            return Response(404, b"not found")
        form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        missing = [k for k in ("partnerID", "requestID", "serviceCode", "timestamp", "msgData", "msgDigest") if not form.get(k)]
        if missing:
            return self._api("A1001", f"必传参数不可为空：{','.join(missing)}")
        if form["partnerID"] != self.partner_id or msg_digest(form["msgData"], form["timestamp"], self.check_word) != form["msgDigest"]:
            return self._api("A1006", "数字签名无效")
        if form["serviceCode"] != INTERCEPT_SERVICE:
            return self._api("A1004", "无对应服务权限")
        try:
            msg = json.loads(form["msgData"])
        except ValueError:
            return self._api("A1000", data={"success": False, "errorCode": "S0001", "errorMsg": "非法的JSON格式", "msgData": None})
        return self._api("A1000", data=self._intercept(msg))

    def _intercept(self, msg: dict[str, Any]) -> dict[str, Any]:
        waybill = str(msg.get("waybillNo") or "")
        if not waybill or not msg.get("serviceCode") or not msg.get("role"):
            return {"success": False, "errorCode": "S0002", "errorMsg": "必填参数为空", "msgData": None}
        parcel = self.road.parcels.get(waybill)
        if parcel is None:
            return {"success": False, "errorCode": "8016", "errorMsg": "运单号不存在", "msgData": None}
        if parcel.delivered:
            return {"success": False, "errorCode": "8252", "errorMsg": "快件已签收，无法拦截", "msgData": None}
        parcel.intercepted = True
        self.intercepts.append(waybill)
        return {"success": True, "errorCode": "S0000", "errorMsg": None, "msgData": {"waybillNo": waybill, "result": "拦截成功，快件将退回寄件人"}}

    def route_body(self, tracking_no: str, legs: list[Leg], *, check_word: str | None = None) -> bytes:
        routes = [{"mailno": tracking_no, "acceptAddress": leg.place, "reasonName": "", "orderid": "",
                   "acceptTime": leg.at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S"), "remark": leg.action,
                   "opCode": OP_CODES[leg.state], "id": secrets.token_hex(8), "reasonCode": "",
                   "firstStatusCode": FIRST[leg.state][0], "firstStatusName": FIRST[leg.state][1]} for leg in legs[:10]]
        data = json.dumps({"Body": {"WaybillRoute": routes}}, ensure_ascii=False)
        return urlencode(envelope(self.partner_id, check_word or self.check_word, "RoutePushService", data)).encode()

    def advance(self, tracking_no: str, steps: int = 1, *, to_province: str | None = None) -> int:
        """Move the parcel on and push only the new nodes; the receiver's HTTP status."""
        self.road.parcel(tracking_no, to_province=to_province)
        new = self.road.advance(tracking_no, steps)
        return self.push(tracking_no, new) if new else 0

    def push(self, tracking_no: str, legs: list[Leg], *, check_word: str | None = None) -> int:
        body = self.route_body(tracking_no, legs, check_word=check_word)
        status = 0
        for _ in range(3):
            try:
                answer = self.http.post(self.push_url or "", data=body, timeout=10,
                                        headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})
                status = answer.status_code
                self.pushes.append((tracking_no, status, answer.content))
                if status == 200 and answer.json().get("return_code") == "0000":
                    break
            except (requests.RequestException, ValueError) as err:
                log.info("顺丰 push of %s failed: %s", tracking_no, err)
        return status

    def close(self) -> None:
        self.http.close()
