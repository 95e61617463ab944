"""SMS through Alibaba Cloud's 短信服务 (Dysmsapi 2017-05-25): ``SendSms`` and ``QuerySendDetails``.

The gateway speaks Alibaba Cloud's RPC style: every request carries the common parameters
(``AccessKeyId``, ``Action``, ``Format``, ``RegionId``, ``SignatureMethod=HMAC-SHA1``,
``SignatureNonce``, ``SignatureVersion=1.0``, ``Timestamp`` in UTC ISO 8601, ``Version``) and a
``Signature``: the parameters sorted by name, each name and value percent-encoded per RFC 3986
(space ``%20``, ``*`` ``%2A``, ``~`` kept), joined ``k=v&…``; the string to sign is
``METHOD&%2F&`` + the percent-encoded query; the signature is Base64(HMAC-SHA1(secret + "&", that)).
A message names a registered 签名 (``SignName``), a registered template (``TemplateCode``) and the
template's variables as a JSON object (``TemplateParam``); ``OutId`` is ours, echoed back by
``QuerySendDetails``, which is how the hub learns whether a message whose answer it never received
was sent after all (so a retry never texts a customer twice).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import requests

from connectors.base import PlatformError, http, utc_now

PLATFORM = "sms"
API_VERSION = "2017-05-25"

#: Gateway codes worth another try later (flow control, the gateway's own faults); the rest are final.
RETRYABLE_CODES = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "isp.RAM_PERMISSION_DENY",
                             "Throttling.User", "ServiceUnavailable", "InternalError", "SignatureNonceUsed"})


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Alibaba Cloud signs it (``quote`` with only ``~`` safe does exactly that)."""
    return quote(value, safe="~")


def sign(params: Mapping[str, str], secret: str, *, method: str = "POST") -> str:
    """The ``Signature`` of one request (signature version 1.0, HMAC-SHA1)."""
    query = "&".join(f"{percent_encode(k)}={percent_encode(params[k])}" for k in sorted(params))
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(query)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class SmsResult:
    """What the gateway said to one SendSms."""

    code: str  # "OK" or the gateway's error code
    message: str
    biz_id: str | None
    request_id: str | None

    @property
    def ok(self) -> bool:
        return self.code == "OK"


@dataclass(frozen=True, slots=True)
class SentDetail:
    """One message the gateway has a record of (QuerySendDetails)."""

    phone: str
    out_id: str | None
    template_code: str
    content: str
    send_status: int  # 1 waiting for the carrier's receipt, 2 failed, 3 delivered
    send_date: str


class AliyunSms:
    """A client for one Alibaba Cloud account's SMS (one 签名)."""

    def __init__(self, base_url: str, access_key_id: str, access_key_secret: str, sign_name: str, *,
                 region: str = "cn-hangzhou", timeout: float = 10.0, session: requests.Session | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.access_key_id, self.access_key_secret = access_key_id, access_key_secret
        self.sign_name, self.region, self.timeout = sign_name, region, timeout
        self.session = session or requests.Session()
        self.clock = clock

    def _call(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        full = {"AccessKeyId": self.access_key_id, "Action": action, "Format": "JSON", "RegionId": self.region,
                "SignatureMethod": "HMAC-SHA1", "SignatureNonce": uuid.uuid4().hex, "SignatureVersion": "1.0",
                "Timestamp": timestamp(self.clock()), "Version": API_VERSION, **params}
        full["Signature"] = sign(full, self.access_key_secret, method="POST")
        response = http(self.session, PLATFORM, "POST", self.base_url, timeout=self.timeout, data=full,
                        headers={"Accept": "application/json"})
        try:
            body = response.json()
        except ValueError as err:
            raise PlatformError(PLATFORM, f"http-{response.status_code}", "the gateway answered something that is not JSON",
                                retryable=True) from err
        code = str(body.get("Code", ""))
        if response.status_code >= 400 or (code and code != "OK"):
            raise PlatformError(PLATFORM, code or f"http-{response.status_code}", str(body.get("Message", "")),
                                retryable=code in RETRYABLE_CODES)
        return body

    def send(self, phone: str, template_code: str, params: Mapping[str, Any], *, out_id: str) -> SmsResult:
        """Send one templated message.

        Raises:
            PlatformError: the gateway refused (``code`` is its error code; ``retryable`` for flow
                control and gateway faults) or could not be reached (``retryable``).
        """
        body = self._call("SendSms", {
            "PhoneNumbers": phone, "SignName": self.sign_name, "TemplateCode": template_code,
            "TemplateParam": json.dumps({k: str(v) for k, v in params.items()}, ensure_ascii=False,
                                        separators=(",", ":")),
            "OutId": out_id})
        return SmsResult(str(body["Code"]), str(body.get("Message", "")), body.get("BizId"), body.get("RequestId"))

    def sent_details(self, phone: str, day: date, *, page_size: int = 50) -> list[SentDetail]:
        """Every message the gateway sent to ``phone`` on ``day`` (its own records), all pages."""
        out: list[SentDetail] = []
        page = 1
        while True:
            body = self._call("QuerySendDetails", {"PhoneNumber": phone, "SendDate": day.strftime("%Y%m%d"),
                                                   "PageSize": str(page_size), "CurrentPage": str(page)})
            rows = (body.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
            out += [SentDetail(r.get("PhoneNum", phone), r.get("OutId"), r.get("TemplateCode", ""), r.get("Content", ""),
                               int(r.get("SendStatus", 0)), r.get("SendDate", "")) for r in rows]
            if len(out) >= int(body.get("TotalCount", 0)) or not rows:
                return out
            page += 1

    def close(self) -> None:
        self.session.close()
