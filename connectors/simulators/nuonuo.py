"""A loopback 诺诺开放平台 (诺税通 SaaS) for tests and the demo, built from its public API pages and SDKs.

It checks what the gateway checks, with the gateway's codes: the API exists (070501), the appkey
is known (070101), the access token belongs to it (070301), the signature matches byte for byte
(070601), the body is JSON with the required fields (0201). Token calls are counted (070306 after
50). Business behaviour: an ``orderNo`` is used once per enterprise (E9106); an invoice is 开票中
(20) on the first query and 开票完成 (2) afterwards, with a 20-digit 数电票号码; a 红字确认单 on a blue
invoice the buyer has not booked is 01 无需确认, otherwise 02 until the buyer decides (04 / 05);
for pc/bs the red invoice then issues itself (its serial no. and orderNo appear on the
confirmation), as the fastInvoiceRed page says. Faults: the next calls can fail with a given code,
or be carried out and answered only after the client gave up (a lost answer).

Not from the documents (assumptions, marked so): the timestamp window (10 minutes), the answer to
a repeated ``billId`` (refused like a repeated orderNo), and the shape of the red invoice's fields.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from connectors.einvoice_nuonuo import sign
from connectors.simulators.server import Request, Response

CST = timezone(timedelta(hours=8))
APIS = ("nuonuo.OpeMplatform.requestBillingNew", "nuonuo.OpeMplatform.queryInvoiceResult",
        "nuonuo.OpeMplatform.saveInvoiceRedConfirm", "nuonuo.OpeMplatform.queryInvoiceRedConfirm",
        "nuonuo.OpeMplatform.confirm")
SKEW = timedelta(minutes=10)  # assumption: the page only says "检查服务器时间是否与北京时间保持一致"


def _answer(code: str, describe: str, result: Any = None, **extra: Any) -> Response:
    body = {"code": code, "describe": describe, "result": result} | extra
    return Response(200, json.dumps(body, ensure_ascii=False).encode())


@dataclass
class NuonuoSimulator:
    """One 诺诺 platform with registered apps ``{appKey: appSecret}``."""

    apps: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)  # token → appKey
    token_calls: int = 0
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)  # by serial no.
    confirmations: dict[str, dict[str, Any]] = field(default_factory=dict)  # by billId
    booked: set[str] = field(default_factory=set)  # blue invoice numbers the buyer has booked (用途确认)
    fail_next: list[tuple[str, str]] = field(default_factory=list)  # (code, describe) for the next calls
    lose_next: int = 0  # carry out the next N calls, answer after ``lose_seconds``
    lose_seconds: float = 1.0
    polls_to_issue: int = 1  # queries that still see 开票中 before 开票完成
    calls: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seq: int = 0

    def handle(self, req: Request) -> Response:
        if req.path.endswith("/accessToken"):
            return self._token(req)
        if req.path.endswith("/open/v1/services"):
            return self._service(req)
        return Response(404, b'{"code":"070501","describe":"\xe8\xaf\xb7\xe6\xb1\x82\xe7\x9a\x84API\xe4\xb8\x8d\xe5\xad\x98\xe5\x9c\xa8"}')

    def _token(self, req: Request) -> Response:
        form = dict(parse_qsl(req.body.decode()))
        if not req.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return Response(200, b'{"error":"070315","error_description":"Incorrect content-type"}')
        with self._lock:
            self.token_calls += 1
            if self.token_calls > 50:
                return Response(200, b'{"error":"070306","error_description":"The number of calls is limited"}')
            key = form.get("client_id", "")
            if key not in self.apps:
                return Response(200, json.dumps({"error": "070304", "error_description": f"Incorrect clientId[{key}]"}).encode())
            if form.get("client_secret") != self.apps[key]:
                return Response(200, b'{"error":"070305","error_description":"Incorrect clientSecret"}')
            token = f"{self.token_calls:04d}{key[:6]}{time.time_ns() % 10**12:012d}"
            self.tokens[token] = key
        return Response(200, json.dumps({"access_token": token, "expires_in": "86400"}).encode())

    def _service(self, req: Request) -> Response:
        method = req.headers.get("method", "")
        if method not in APIS:
            return _answer("070501", "请求的API不存在")
        key = req.query.get("appkey", "")
        if key not in self.apps:
            return _answer("070101", "获取app密钥失败或appkey无效")
        if self.tokens.get(req.headers.get("accesstoken", "")) != key:
            return _answer("070301", "accessToken不匹配/或appKey不匹配")
        senid, nonce, stamp = req.query.get("senid", ""), req.query.get("nonce", ""), req.query.get("timestamp", "")
        if len(senid) != 32 or not (nonce.isdigit() and len(nonce) == 8) or not stamp.isdigit():
            return _answer("0201", "必填项输入参数空")
        if abs(datetime.fromtimestamp(int(stamp), UTC) - datetime.now(UTC)) > SKEW:
            return _answer("070601", "验签失败")
        try:
            body = req.body.decode("utf-8")
        except UnicodeDecodeError:
            return _answer("05", "请求编码异常")
        if sign(req.path, self.apps[key], key, senid, nonce, body, stamp) != req.headers.get("x-nuonuo-sign"):
            return _answer("070601", "签名不匹配")
        try:
            content = json.loads(body)
        except json.JSONDecodeError:
            return _answer("0201", "输入参数格式有误")
        with self._lock:
            self.calls.append(method)
            if self.fail_next:
                return _answer(*self.fail_next.pop(0))
            answer = getattr(self, "_" + method.rsplit(".", 1)[1])(content)
            lose = self.lose_next > 0
            self.lose_next -= 1 if lose else 0
        if lose:
            time.sleep(self.lose_seconds)
        return answer

    # --- business -----------------------------------------------------------------------------------
    def _number(self) -> str:
        self._seq += 1
        return f"{datetime.now(CST):%y}44{datetime.now(CST):%m%d%H%M%S}{self._seq:06d}"[:20].ljust(20, "0")

    def _requestBillingNew(self, content: dict[str, Any]) -> Response:  # noqa: N802
        order = content.get("order") or {}
        missing = [k for k in ("buyerName", "salerTaxNum", "orderNo", "invoiceDate", "clerk", "invoiceDetail")
                   if not order.get(k)]
        if missing:
            return _answer("0201", f"必填项输入参数空：{','.join(missing)}")
        if any(inv["orderNo"] == order["orderNo"] for inv in self.invoices.values()):
            return _answer("E9106", "订单编号或流水号不能重复")
        lines = order["invoiceDetail"]
        amount = sum((Decimal(str(ln.get("taxIncludedAmount", "0"))) for ln in lines), Decimal("0"))
        tax = sum((Decimal(str(ln.get("tax", "0"))) for ln in lines), Decimal("0"))
        serial = f"{datetime.now(CST):%y%m%d%H%M%S}{self._seq + 1:08d}"
        self._seq += 1
        self.invoices[serial] = {"serialNo": serial, "orderNo": order["orderNo"], "polls": 0, "number": "",
                                 "orderAmount": f"{amount:.2f}", "taxAmount": f"{tax:.2f}",
                                 "kind": "red" if order.get("invoiceType") == "2" else "blue"}
        return _answer("E0000", "开票提交成功", {"invoiceSerialNum": serial})

    def _issue(self, inv: dict[str, Any]) -> None:
        if inv["polls"] >= self.polls_to_issue and not inv["number"]:
            inv["number"] = self._number()
            inv["invoiceTime"] = int(time.time() * 1000)
        inv["polls"] += 1

    def _row(self, inv: dict[str, Any]) -> dict[str, Any]:
        done = bool(inv["number"])
        return {"serialNo": inv["serialNo"], "orderNo": inv["orderNo"], "status": "2" if done else "20",
                "statusMsg": "开票完成（最终状态）" if done else "开票中", "invoiceCode": "",
                "invoiceNo": inv["number"], "allElectronicInvoiceNumber": inv["number"],
                "invoiceTime": inv.get("invoiceTime"), "invoiceKind": "电子发票(普通发票)",
                "orderAmount": inv["orderAmount"], "taxAmount": inv["taxAmount"],
                "pdfUrl": f"https://inv.example.invalid/{inv['serialNo']}.pdf" if done else ""}

    def _queryInvoiceResult(self, content: dict[str, Any]) -> Response:  # noqa: N802
        serials, orders = content.get("serialNos") or [], content.get("orderNos") or []
        if not serials and not orders:
            return _answer("0201", "必填项输入参数空：serialNos/orderNos")
        if len(serials) + len(orders) > 50:
            return _answer("0201", "输入参数格式有误：最多50个")
        found = [inv for inv in self.invoices.values() if inv["serialNo"] in serials or inv["orderNo"] in orders]
        for inv in found:
            self._issue(inv)
        return _answer("E0000", "获取成功", [self._row(inv) for inv in found])

    def _saveInvoiceRedConfirm(self, content: dict[str, Any]) -> Response:  # noqa: N802
        missing = [k for k in ("blueInvoiceLine", "applySource", "sellerTaxNo", "buyerName", "redReason")
                   if not content.get(k)]
        if missing:
            return _answer("0201", f"必填项输入参数空：{','.join(missing)}")
        blue_no = content.get("blueElecInvoiceNumber") or content.get("blueInvoiceNumber")
        blue = next((i for i in self.invoices.values() if i["number"] and i["number"] == blue_no), None)
        if blue is None:
            return _answer("E9500", "发票不存在")
        bill_id = content.get("billId") or f"{time.time_ns()}"[:19]
        if bill_id in self.confirmations:
            return _answer("E9106", "订单编号或流水号不能重复")  # assumption, see the module docstring
        self._seq += 1
        state = "02" if blue_no in self.booked else "01"
        amount = Decimal(blue["orderAmount"])
        if content.get("detail"):
            amount = -sum((Decimal(d.get("taxExcludedAmount", "0")) + Decimal(d.get("taxAmount", "0"))
                           for d in content["detail"]), Decimal("0"))
        self.confirmations[bill_id] = {"billId": bill_id, "billNo": f"4403{datetime.now(CST):%Y%m%d}{self._seq:08d}",
                                       "billUuid": f"{self._seq:032x}", "billStatus": state, "openStatus": "0",
                                       "orderNo": content.get("orderNo") or "", "blue": blue_no,
                                       "amount": f"{amount:.2f}", "invoiceSerialNum": ""}
        if state == "01":
            self._red(self.confirmations[bill_id])
        return _answer("E0000", "成功", bill_id)

    def _red(self, conf: dict[str, Any]) -> None:
        """pc/bs: a confirmation that needs no confirmation, or both sides confirmed, issues its red invoice."""
        self._seq += 1
        serial = f"{datetime.now(CST):%y%m%d%H%M%S}{self._seq:08d}"
        order_no = conf["orderNo"] or f"R{conf['billId']}"[:20]
        self.invoices[serial] = {"serialNo": serial, "orderNo": order_no, "polls": 0, "number": "",
                                 "orderAmount": f"-{conf['amount']}", "taxAmount": "0.00", "kind": "red"}
        conf.update(openStatus="1", invoiceSerialNum=serial, orderNo=order_no)

    def _queryInvoiceRedConfirm(self, content: dict[str, Any]) -> Response:  # noqa: N802
        if content.get("identity") not in ("0", "1"):
            return _answer("0201", "必填项输入参数空：identity")
        keys = {k: content.get(k) for k in ("billId", "billNo", "billUuid") if content.get(k)}
        rows = [c for c in self.confirmations.values() if all(c.get(k) == v for k, v in keys.items())]
        listed = [{k: c[k] for k in ("billId", "billNo", "billUuid", "billStatus", "openStatus", "invoiceSerialNum",
                                     "orderNo")} | {"billMessage": "", "applySource": "0",
                                                    "blueInvoiceNumber": c["blue"]} for c in rows]
        return _answer("E0000", "查询成功", None, total=str(len(listed)), list=listed)

    def _confirm(self, content: dict[str, Any]) -> Response:
        conf = self.confirmations.get(content.get("billId", ""))
        if conf is None:
            return _answer("E9500", "红字确认单不存在")
        waiting_for = {"02": "1", "03": "0"}.get(conf["billStatus"])
        if waiting_for is None or content.get("identity") != waiting_for:
            return _answer("E9999", "当前状态不允许确认")  # assumption: no documented code
        self._decide(conf, content.get("confirmAgreement") == "1")
        return _answer("E0000", "成功", conf["billId"])

    def _decide(self, conf: dict[str, Any], agree: bool) -> None:
        conf["billStatus"] = "04" if agree else ("05" if conf["billStatus"] == "02" else "06")
        if agree:
            self._red(conf)

    # --- the other side (tests and the demo) --------------------------------------------------------
    def buyer_applies(self, blue_no: str) -> str:
        """The buyer enters a 红字确认单 on a blue invoice in their 电子税务局 (03: waiting for the seller)."""
        with self._lock:
            blue = next(i for i in self.invoices.values() if i["number"] == blue_no)
            self._seq += 1
            bill_id = f"B{time.time_ns()}"[:19]
            self.confirmations[bill_id] = {"billId": bill_id, "billNo": f"4403{datetime.now(CST):%Y%m%d}{self._seq:08d}",
                                           "billUuid": f"{self._seq:032x}", "billStatus": "03", "openStatus": "0",
                                           "orderNo": "", "blue": blue_no, "amount": blue["orderAmount"],
                                           "invoiceSerialNum": ""}
            return bill_id

    def buyer_decides(self, bill_id: str, agree: bool) -> None:
        """The buyer confirms or refuses a seller's 红字确认单 in their own 电子税务局."""
        with self._lock:
            self._decide(self.confirmations[bill_id], agree)
