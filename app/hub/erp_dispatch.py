"""The hub's ERP webhook sender: claims due deliveries (in order per order), signs, posts, logs every attempt.

Never twice for one event at the ERP: the ``webhook-id`` is the event's and stays the same on
every retry, so an ERP that received a delivery whose answer was lost recognises the retry (the
Standard Webhooks idempotency rule). Deliveries of different orders go out in parallel.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from app.domain.clock import now as clock_now
from app.domain.messages import render
from app.hub.credentials import CredentialStore
from app.services import erp_outbound
from connectors.base import Credentials
from connectors.erp_webhooks import Answer, WebhookSender

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.bootstrap import OrderHub


def signing_secrets(creds: Credentials | None) -> list[str]:
    """The endpoint's current secret first, then any still valid during a rotation (``extra["previous"]``)."""
    if creds is None or not creds.app_secret:
        return []
    return [creds.app_secret, *(creds.extra.get("previous", "").split())]


@dataclass
class ErpDispatchReport:
    sent: int = 0
    retry: int = 0
    dead: int = 0


class ErpDispatcher:
    """One dispatcher per hub; ``run_once`` is one round (the outbox worker calls it on its timer)."""

    def __init__(self, app: OrderHub, store: CredentialStore, *, workers: int = 8, timeout: float = 15.0,
                 clock: Callable[[], datetime] = clock_now) -> None:
        self.app, self.store, self.clock, self.timeout = app, store, clock, timeout
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="erp-send")
        self._local = threading.local()

    def _sender(self) -> WebhookSender:
        sender = getattr(self._local, "sender", None)
        if sender is None:
            sender = self._local.sender = WebhookSender(timeout=self.timeout)
        return sender

    def _one(self, delivery: erp_outbound.Delivery) -> erp_outbound.Outcome:
        secrets = signing_secrets(self.store.get(delivery.secret_ref))
        if not secrets:
            answer = Answer(False, None, "", 0, error=render("ERP_NO_SECRET", endpoint=delivery.endpoint_code))
        else:
            answer = self._sender().deliver(delivery.url, delivery.webhook_id, delivery.body, secrets,
                                            sent_at=self.clock())
        return erp_outbound.Outcome(answer.ok, answer.status, answer.duration_ms, answer.excerpt, answer.error,
                                    answer.retry_after, answer.gone)

    def run_once(self, *, limit: int = 200, now: datetime | None = None) -> ErpDispatchReport:
        """One round: claim, send in parallel, then log every attempt and settle in one transaction."""
        report = ErpDispatchReport()
        claimed = erp_outbound.claim(self.app.uow(), limit=limit, now=now)
        if not claimed:
            return report
        outcomes = list(self.pool.map(self._one, claimed))
        for status in erp_outbound.record_attempts(self.app.uow(), list(zip(claimed, outcomes, strict=True))):
            if status == "sent":
                report.sent += 1
            elif status == "failed":
                report.dead += 1
            else:
                report.retry += 1
        return report

    def close(self) -> None:
        self.pool.shutdown(wait=True)
