"""Webhooks to and from the ERP: Standard Webhooks signing (its reference library) and the ERPNext/Frappe profile.

Outbound deliveries are signed as the Standard Webhooks specification says, with the
``standardwebhooks`` package, so any of that specification's libraries verifies them; during a
key rotation every current secret signs (space-separated ``v1,<base64>`` entries).

Inbound requests are verified on the raw bytes before anything is parsed. Standard Webhooks:
``webhook-id``, ``webhook-timestamp`` within 5 minutes of *our* clock (passed in, so tests and a
skewed machine behave), ``webhook-signature`` matching one of the endpoint's secrets. ERPNext
(Frappe) signs only the body: ``X-Frappe-Webhook-Signature`` = base64 HMAC-SHA256 of the body
keyed by the webhook secret as text (frappe ``integrations/doctype/webhook/webhook.py``); it has no
timestamp and no id, so the caller deduplicates on doctype + name + modified.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests
from standardwebhooks.webhooks import Webhook

TOLERANCE = timedelta(minutes=5)
EXCERPT = 200


class WebhookRefused(Exception):
    """An inbound request that must not be applied, with the HTTP status to answer and a stable code.

    Codes: ``missing_headers``, ``bad_timestamp``, ``stale``, ``bad_signature``, ``not_text``.
    """

    def __init__(self, code: str, status: int, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.status, self.detail = code, status, detail


@dataclass(frozen=True, slots=True)
class Verified:
    """What a verified request carries: the scheme, the sender's message id (None for Frappe), the body text."""

    scheme: str
    message_id: str | None
    sent_at: datetime | None
    text: str


def new_secret() -> str:
    """A Standard Webhooks secret: 32 random bytes, base64, with the ``whsec_`` prefix."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def sign_standard(msg_id: str, sent_at: datetime, body: str, secrets: Sequence[str]) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, one ``v1`` signature per secret (rotation)."""
    if not secrets:
        raise ValueError("no signing secret")
    signatures = " ".join(Webhook(s).sign(msg_id, _utc(sent_at), body) for s in secrets)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(_utc(sent_at).timestamp())),
            "webhook-signature": signatures}


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise WebhookRefused("not_text", 400, "body is not UTF-8 text") from err


def verify_standard(headers: dict[str, str], body: bytes, secrets: Sequence[str], *, now: datetime,
                    tolerance: timedelta = TOLERANCE) -> Verified:
    """Check a Standard Webhooks request against any of ``secrets``; raises :class:`WebhookRefused`."""
    h = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, signature = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
    if not (msg_id and stamp and signature):
        raise WebhookRefused("missing_headers", 400, "webhook-id, webhook-timestamp and webhook-signature are required")
    if not stamp.isdigit() or len(stamp) > 12:
        raise WebhookRefused("bad_timestamp", 400, f"webhook-timestamp {stamp[:20]!r} is not unix seconds")
    sent_at = datetime.fromtimestamp(int(stamp), UTC)
    if abs(sent_at - _utc(now)) > tolerance:
        raise WebhookRefused("stale", 401, f"timestamp {stamp} is more than {tolerance.seconds // 60} minutes from now")
    text = _text(body)
    offered = []
    for entry in signature.split(" "):
        version, _, value = entry.partition(",")
        if version == "v1" and value:
            try:
                offered.append(base64.b64decode(value, validate=True))
            except ValueError:
                continue
    for secret in secrets:
        expected = base64.b64decode(Webhook(secret).sign(msg_id, sent_at, text).split(",", 1)[1])
        if any(hmac.compare_digest(expected, sig) for sig in offered):
            return Verified("standard", msg_id, sent_at, text)
    raise WebhookRefused("bad_signature", 401, "no v1 signature matches the endpoint's secrets")


def frappe_signature(body: bytes, secret: str) -> str:
    """ERPNext's ``X-Frappe-Webhook-Signature`` for ``body`` (base64 of HMAC-SHA256, key = the secret as text)."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode()


def verify_frappe(headers: dict[str, str], body: bytes, secrets: Sequence[str]) -> Verified:
    """Check an ERPNext webhook's body signature against any of ``secrets``; raises :class:`WebhookRefused`."""
    h = {k.lower(): v for k, v in headers.items()}
    given = h.get("x-frappe-webhook-signature")
    if not given:
        raise WebhookRefused("missing_headers", 400, "X-Frappe-Webhook-Signature is required")
    if not any(hmac.compare_digest(frappe_signature(body, s).encode(), given.strip().encode()) for s in secrets):
        raise WebhookRefused("bad_signature", 401, "X-Frappe-Webhook-Signature does not match")
    return Verified("frappe", None, None, _text(body))


@dataclass(frozen=True, slots=True)
class Answer:
    """How one delivery attempt went: ``status`` None when no answer came (timeout, connection lost)."""

    ok: bool
    status: int | None
    excerpt: str
    duration_ms: int
    error: str | None = None
    retry_after: float | None = None
    gone: bool = False  # 410: the endpoint asked not to be sent to again


class WebhookSender:
    """Posts signed deliveries over one kept-alive HTTP session."""

    def __init__(self, *, timeout: float = 15.0) -> None:
        self.timeout = timeout
        self.session = requests.Session()

    def deliver(self, url: str, msg_id: str, body: str, secrets: Sequence[str], *, sent_at: datetime) -> Answer:
        """One attempt; never raises for the far side's failures (they are the answer)."""
        headers = sign_standard(msg_id, sent_at, body, secrets) | {"Content-Type": "application/json"}
        started = time.perf_counter()
        try:
            response = self.session.post(url, data=body.encode("utf-8"), headers=headers, timeout=self.timeout,
                                         allow_redirects=False)
        except requests.RequestException as err:
            took = int((time.perf_counter() - started) * 1000)
            kind = "timeout" if isinstance(err, requests.Timeout) else "connection"
            return Answer(False, None, "", took, error=f"{kind}: {str(err)[:200]}")
        took = int((time.perf_counter() - started) * 1000)
        excerpt = response.text[:EXCERPT]
        after = response.headers.get("Retry-After")
        return Answer(200 <= response.status_code < 300, response.status_code, excerpt, took,
                      error=None if response.ok else f"HTTP {response.status_code}",
                      retry_after=float(after) if after and after.isdigit() else None,
                      gone=response.status_code == 410)

    def close(self) -> None:
        self.session.close()
