"""``POST /erp/<endpoint>``: the ERP's webhooks, verified on the raw bytes before anything is read, then applied once.

Answers: 200 applied / duplicate / stale (a 2xx stops the ERP resending); 400 headers missing
or not text; 401 wrong signature or a time stamp outside 5 minutes; 404 unknown endpoint; 422 a
verified body we cannot read (kept in quarantine, retryable with `orderhub quarantine retry`).
Every request, refused or not, is recorded in ``erp_inbound``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from app.bootstrap import OrderHub
from app.domain.clock import now as clock_now
from app.domain.fields import code_label
from app.domain.messages import render
from app.hub.credentials import CredentialStore
from app.hub.erp_dispatch import signing_secrets
from app.services import erp_inbound, erp_outbound
from connectors.erp_webhooks import WebhookRefused, verify_frappe, verify_standard

PREFIX = "erp"


class ErpReceiver:
    """Handles ``/erp/<code>`` requests; usable without HTTP in tests."""

    def __init__(self, app: OrderHub, store: CredentialStore, *, clock: Callable[[], datetime] = clock_now,
                 cache_seconds: float = 5.0) -> None:
        self.app, self.store, self.clock = app, store, clock
        self.cache_seconds = cache_seconds
        self._endpoints: dict[str, tuple[float, erp_outbound.Endpoint | None]] = {}

    def _endpoint(self, code: str) -> erp_outbound.Endpoint | None:
        """The endpoint's settings, read again after a few seconds (an admin's change applies without a restart)."""
        seen = self._endpoints.get(code)
        if seen is None or time.monotonic() - seen[0] > self.cache_seconds:
            seen = (time.monotonic(), erp_outbound.endpoint(self.app.uow(), code))
            self._endpoints[code] = seen
        return seen[1]

    def handle(self, code: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, object]]:
        ep = self._endpoint(code)
        if ep is None or not ep.enabled:
            return 404, {"ok": False, "message": render("ERP_NO_ENDPOINT", endpoint=code)}
        secrets = signing_secrets(self.store.get(ep.secret_ref))
        h = {k.lower(): v for k, v in headers.items()}
        try:
            if not secrets:
                raise WebhookRefused("no_secret", 503, "no secret configured for this endpoint")
            if ep.inbound_scheme == "frappe":
                verified = verify_frappe(h, body, secrets)
            else:
                verified = verify_standard(h, body, secrets, now=self.clock())
        except WebhookRefused as err:
            erp_inbound.refused(self.app.uow(), ep.id, ep.inbound_scheme, h.get("webhook-id"), err.status,
                                f"{err.code}: {err.detail}")
            return err.status, {"ok": False, "code": err.code, "message": render(f"ERP_REFUSED_{err.code}")}
        got = erp_inbound.receive(self.app.uow(), endpoint_id=ep.id, endpoint_code=ep.code, scheme=verified.scheme,
                                  message_id=verified.message_id, text=verified.text, body=body)
        answer: dict[str, object] = {"ok": got.status < 300, "verdict": got.verdict,
                                     "message": code_label("erp_inbound_verdict", got.verdict)}
        if got.reason:
            answer["reason"] = got.reason
        return got.status, answer

