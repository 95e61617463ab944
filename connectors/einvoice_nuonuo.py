"""诺诺开放平台 (诺税通 SaaS) client for 数电票: issue blue invoices, red-letter confirmations, query results.

Why 诺诺: its public documentation is the most complete one found (field tables for every API used
here, the common and token error tables, official SDKs in Java, PHP, Python and C# with the signing
code, captured sandbox responses of 数电 invoices); 百望云 and others publish little more than method
lists.

Wire format, from the official SDKs and API pages:
- token: ``POST https://open.nuonuo.com/accessToken`` form ``client_id``/``client_secret``/
  ``grant_type=client_credentials`` → ``{"access_token", "expires_in"}``; errors
  ``{"error": "070306", "error_description": …}`` (50 token calls per 30 days).
- call: ``POST …/open/v1/services?senid=<32>&nonce=<8 digits>&timestamp=<unix s>&appkey=<appKey>``,
  headers ``X-Nuonuo-Sign``, ``accessToken``, ``userTax``, ``method``; the body is the API's JSON.
- ``X-Nuonuo-Sign`` = Base64(HMAC-SHA1(appSecret, "a=services&l=v1&p=open&k=<appKey>&i=<senid>&n=<nonce>
  &t=<timestamp>&f=<body>")): the path's three parts from the end, then the exact body text sent
  (official PHP SDK 2.0.0 ``MakeSign``; the Java, Python and C# SDKs agree).
- answers ``{"code": "E0000", "describe": …, "result": …}``; anything else is an error with the
  platform's code (gateway: 0200, 0201, 070301, 070601 签名不匹配 …; business: E9106 …).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from connectors.base import PlatformError, RetryPolicy, http, with_retries

PLATFORM = "nuonuo"
PRODUCTION = "https://sdk.nuonuo.com/open/v1/services"
SANDBOX = "https://sandbox.nuonuocs.cn/open/v1/services"
TOKEN_URL = "https://open.nuonuo.com/accessToken"
OK = "E0000"
# The common error table: which codes are worth retrying (a fault on their side) and which mean a
# wrong token (get a new one once). Everything else is a refusal that retrying will not change.
RETRYABLE = {"0202", "0203", "040102", "070201"}
TOKEN_CODES = {"070301"}
#: queryInvoiceResult ``status``: 2 开票完成 (final) · 20 开票中 · 21 开票成功签章中 · 22 开票失败 ·
#: 24 开票成功签章失败 · 3 已作废 · 31 作废中.
ISSUED, ISSUING, FAILED = ("2",), ("20", "21"), ("22", "24")


def sign(path: str, app_secret: str, app_key: str, senid: str, nonce: str, body: str, timestamp: str) -> str:
    """``X-Nuonuo-Sign`` for one call (see the module docstring)."""
    pieces = path.split("/")
    text = f"a={pieces[3]}&l={pieces[2]}&p={pieces[1]}&k={app_key}&i={senid}&n={nonce}&t={timestamp}&f={body}"
    return base64.b64encode(hmac.new(app_secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()).decode()


class NuonuoError(PlatformError):
    """诺诺 answered with a code other than E0000 (the code and its ``describe`` are kept as given)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(PLATFORM, code, message, retryable=code in RETRYABLE, auth_expired=code in TOKEN_CODES)


@dataclass(frozen=True, slots=True)
class InvoiceResult:
    """One invoice from queryInvoiceResult: ``status`` as 诺诺 gives it, ``number`` the 20-digit 数电票号码."""

    serial_no: str
    order_no: str
    status: str
    status_msg: str
    number: str
    issued_at_ms: int | None
    amount: str
    tax: str
    pdf_url: str


@dataclass(frozen=True, slots=True)
class RedConfirmation:
    """One 红字确认单 from queryInvoiceRedConfirm."""

    bill_id: str
    bill_no: str
    bill_uuid: str
    status: str  # 01…09, 15 申请中, 16 申请失败
    message: str
    open_status: str  # "1": the red invoice is issued
    red_serial_no: str
    red_order_no: str


class NuonuoClient:
    """One seller's 诺诺 account. ``credentials``: app key/secret and the current access token."""

    def __init__(self, api_url: str, token_url: str, app_key: str, app_secret: str, *, access_token: str = "",
                 user_tax: str = "", timeout: float = 10.0, retry: RetryPolicy | None = None,
                 on_token: Callable[[str], None] | None = None) -> None:
        self.api_url, self.token_url = api_url, token_url
        self.app_key, self.app_secret, self.access_token, self.user_tax = app_key, app_secret, access_token, user_tax
        self.timeout, self.retry = timeout, retry or RetryPolicy(retries=2)
        self.on_token = on_token
        self.session = requests.Session()

    # --- transport --------------------------------------------------------------------------------
    def refresh_token(self) -> str:
        """Ask for a new access token (limited to 50 per 30 days: the caller keeps it)."""
        response = http(self.session, PLATFORM, "POST", self.token_url, timeout=self.timeout,
                        data={"client_id": self.app_key, "client_secret": self.app_secret,
                              "grant_type": "client_credentials"},
                        headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})
        body = response.json()
        if "access_token" not in body:
            raise NuonuoError(str(body.get("error", "token")), str(body.get("error_description", "")))
        self.access_token = body["access_token"]
        if self.on_token:
            self.on_token(self.access_token)
        return self.access_token

    def call(self, method: str, content: dict[str, Any], *, submits: bool = False) -> dict[str, Any]:
        """One API call, token renewed once; returns the whole answer.

        Queries are retried on transient faults here. A call that ``submits`` something is not: if
        its answer is lost, the caller asks by its own key first (see app/hub/einvoice_dispatch.py).
        """
        if not self.access_token:
            self.refresh_token()
        policy = RetryPolicy(retries=0) if submits else self.retry
        return with_retries(policy, lambda: self._once(method, content), on_auth_expired=self.refresh_token)

    def _once(self, method: str, content: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        senid, nonce, timestamp = secrets.token_hex(16), str(secrets.randbelow(90_000_000) + 10_000_000), str(int(time.time()))
        signature = sign(urlsplit(self.api_url).path, self.app_secret, self.app_key, senid, nonce, body, timestamp)
        headers = {"Content-Type": "application/json", "X-Nuonuo-Sign": signature, "accessToken": self.access_token,
                   "method": method}
        if self.user_tax:
            headers["userTax"] = self.user_tax
        response = http(self.session, PLATFORM, "POST", self.api_url, timeout=self.timeout, data=body.encode("utf-8"),
                        headers=headers, params={"senid": senid, "nonce": nonce, "timestamp": timestamp,
                                                 "appkey": self.app_key})
        try:
            answer = response.json()
        except ValueError as err:
            raise PlatformError(PLATFORM, f"http-{response.status_code}", response.text[:200], retryable=True) from err
        code = str(answer.get("code", ""))
        if code not in (OK, "0000"):  # queryInvoiceRedConfirm's page shows "0000"
            raise NuonuoError(code or f"http-{response.status_code}", str(answer.get("describe", ""))[:500])
        return answer

    def close(self) -> None:
        self.session.close()

    # --- APIs ---------------------------------------------------------------------------------------
    def request_billing(self, order: dict[str, Any]) -> str:
        """nuonuo.OpeMplatform.requestBillingNew: submit a blue invoice; returns the invoice serial no."""
        answer = self.call("nuonuo.OpeMplatform.requestBillingNew", {"order": order}, submits=True)
        return str(answer["result"]["invoiceSerialNum"])

    def query_invoices(self, *, serial_nos: list[str] | None = None, order_nos: list[str] | None = None
                       ) -> list[InvoiceResult]:
        """nuonuo.OpeMplatform.queryInvoiceResult by serial nos. or our order nos. (≤50)."""
        content: dict[str, Any] = {"isOfferInvoiceDetail": "0"}
        if serial_nos:
            content["serialNos"] = serial_nos
        if order_nos:
            content["orderNos"] = order_nos
        answer = self.call("nuonuo.OpeMplatform.queryInvoiceResult", content)
        return [InvoiceResult(str(r.get("serialNo", "")), str(r.get("orderNo", "")), str(r.get("status", "")),
                              str(r.get("statusMsg", "")),
                              str(r.get("allElectronicInvoiceNumber") or r.get("invoiceNo") or ""),
                              int(r["invoiceTime"]) if str(r.get("invoiceTime", "")).isdigit() else None,
                              str(r.get("orderAmount", "")), str(r.get("taxAmount", "")), str(r.get("pdfUrl", "")))
                for r in answer.get("result") or []]

    def save_red_confirm(self, content: dict[str, Any]) -> str:
        """nuonuo.OpeMplatform.saveInvoiceRedConfirm: apply for a 红字确认单; returns its 申请号 (billId)."""
        return str(self.call("nuonuo.OpeMplatform.saveInvoiceRedConfirm", content, submits=True)["result"])

    def query_red_confirms(self, *, bill_id: str, identity: str = "0") -> list[RedConfirmation]:
        """nuonuo.OpeMplatform.queryInvoiceRedConfirm for one 申请号."""
        answer = self.call("nuonuo.OpeMplatform.queryInvoiceRedConfirm", {"identity": identity, "billId": bill_id})
        rows = answer.get("list")
        if rows is None and isinstance(answer.get("result"), dict):
            rows = answer["result"].get("list")
        return [RedConfirmation(str(r.get("billId", "")), str(r.get("billNo", "")), str(r.get("billUuid", "")),
                                str(r.get("billStatus", "")), str(r.get("billMessage", "")),
                                str(r.get("openStatus", "0")), str(r.get("invoiceSerialNum", "") or ""),
                                str(r.get("orderNo", "") or ""))
                for r in rows or []]

    def confirm(self, *, bill_id: str, agree: bool, identity: str = "0", reason: str = "") -> Any:
        """nuonuo.OpeMplatform.confirm: the other side of a confirmation agrees (1) or refuses (0)."""
        content = {"billId": bill_id, "identity": identity, "confirmAgreement": "1" if agree else "0"}
        if reason:
            content["confirmReason"] = reason
        return self.call("nuonuo.OpeMplatform.confirm", content, submits=True).get("result")
