"""The hub's 数电票 sender: moves each e-invoice request along with the provider (诺诺), one step per round.

Never twice at the provider: a blue invoice carries our ``orderNo`` (unique per enterprise at 诺诺,
E9106 on a repeat) and a 红字确认单 our ``billId``. When an earlier try of the same step may have
got through (its answer was lost), the sender first asks the provider by that key and carries on
from what it finds instead of submitting again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from app.hub.credentials import CredentialStore
from app.services import einvoice
from app.services.einvoice import Job
from connectors.base import PlatformError
from connectors.einvoice_nuonuo import FAILED, ISSUED, NuonuoClient

if TYPE_CHECKING:
    from app.bootstrap import OrderHub


@dataclass
class EinvoiceReport:
    steps: int = 0
    issued: int = 0
    retry: int = 0
    failed: int = 0


class EinvoiceDispatcher:
    """Drives due requests; ``client`` is built from the enabled provider and the credential store."""

    def __init__(self, app: OrderHub, store: CredentialStore, *, timeout: float = 10.0) -> None:
        self.app, self.store, self.timeout = app, store, timeout
        self._client: NuonuoClient | None = None

    def client(self) -> NuonuoClient | None:
        cfg = einvoice.provider(self.app.uow())
        if cfg is None:
            return None
        creds = self.store.get(cfg.secret_ref)
        if creds is None:
            return None
        if self._client is None or (self._client.api_url, self._client.app_key) != (cfg.api_url, creds.app_key):
            ref = cfg.secret_ref

            def keep(token: str) -> None:
                latest = self.store.get(ref)
                if latest is not None:
                    latest.access_token = token
                    self.store.put(ref, latest)

            self._client = NuonuoClient(cfg.api_url, cfg.token_url, creds.app_key, creds.app_secret,
                                        access_token=creds.access_token, user_tax=creds.extra.get("user_tax", ""),
                                        timeout=self.timeout, on_token=keep)
        return self._client

    def run_once(self, *, now: datetime | None = None) -> EinvoiceReport:
        report = EinvoiceReport()
        client = self.client()
        if client is None:
            return report
        for job in einvoice.claim(self.app.uow(), now=now):
            report.steps += 1
            try:
                outcome = self._step(client, job)
            except PlatformError as err:
                final = not err.retryable and err.code not in ("timeout", "unreachable")
                status = einvoice.failed(self.app.uow(), job, code=err.code, message=err.message, final=final,
                                         retry_after=err.retry_after)
                outcome = "failed" if status == "failed" else "retry"
            if outcome == "issued":
                report.issued += 1
            elif outcome == "failed":
                report.failed += 1
            else:
                report.retry += 1
        return report

    def _step(self, client: NuonuoClient, job: Job) -> str:
        if job.kind in ("blue", "reissue"):
            return self._blue(client, job)
        return self._red(client, job)

    def _blue(self, client: NuonuoClient, job: Job) -> str:
        uow = self.app.uow
        if job.state == "submitted":
            found = client.query_invoices(order_nos=[job.provider_order_no]) if job.attempt > 1 else []
            serial = found[0].serial_no if found else None
            if serial is None:
                try:
                    serial = client.request_billing(job.content)
                except PlatformError as err:
                    if err.code != "E9106":  # E9106: our orderNo is already there — an earlier try got through
                        raise
                    serial = client.query_invoices(order_nos=[job.provider_order_no])[0].serial_no
            einvoice.advance(uow(), job, state="issuing", serial_no=serial)
            return "retry"
        result = next(iter(client.query_invoices(serial_nos=[job.serial_no or ""])), None)
        if result is None or result.status not in ISSUED + FAILED:
            einvoice.advance(uow(), job, state="issuing")
            return "retry"
        if result.status in FAILED:
            einvoice.failed(uow(), job, code=f"status-{result.status}", message=result.status_msg, final=True)
            return "failed"
        einvoice.invoice_issued(uow(), job, number=result.number, issued_at_ms=result.issued_at_ms)
        return "issued"

    def _red(self, client: NuonuoClient, job: Job) -> str:
        uow = self.app.uow
        bill_id = job.bill_id or ""
        found = client.query_red_confirms(bill_id=bill_id) if job.state != "submitted" or job.attempt > 1 else []
        if job.state == "submitted" and not found:
            client.save_red_confirm(job.content)
            einvoice.advance(uow(), job, state="confirming", retry_after=einvoice.POLL)
            return "retry"
        if not found:
            einvoice.advance(uow(), job, state="confirming")
            return "retry"
        conf = found[0]
        if conf.status == "16":
            einvoice.failed(uow(), job, code="16", message=conf.message or "红字确认单申请失败", final=True)
            return "failed"
        state = einvoice.confirmation_seen(uow(), job, bill_no=conf.bill_no, status=conf.status,
                                           red_serial=conf.red_serial_no or None)
        if state in ("05", "06", "07", "08", "09", "10"):
            einvoice.failed(uow(), job, code=state, message="红字确认单已作废", final=True)
            return "failed"
        if conf.open_status == "1" and conf.red_serial_no:
            red = next(iter(client.query_invoices(serial_nos=[conf.red_serial_no])), None)
            if red is not None and red.status in ISSUED:
                einvoice.red_issued(uow(), job, number=red.number, issued_at_ms=red.issued_at_ms)
                return "issued"
        wait = einvoice.WAIT_FOR_BUYER if state in ("02", "03") else einvoice.POLL
        einvoice.advance(uow(), job, state="confirming", retry_after=wait)
        return "retry"

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
