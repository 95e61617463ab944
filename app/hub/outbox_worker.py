"""The hub's timed jobs: send due SMS and ERP webhooks, watch 红字确认单 for their 72-hour limit, reconcile with the ERP."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from app.hub.db_status import HUB_DATABASE
from app.hub.sms_dispatch import dispatch
from app.services import red_letter
from connectors.sms import AliyunSms

if TYPE_CHECKING:
    from app.bootstrap import OrderHub

log = logging.getLogger(__name__)
SMS_CREDENTIALS_REF = "orderhub:sms"


class OutboxWorker(threading.Thread):
    """Every ``every`` seconds: one SMS dispatch round (if a gateway is configured) and one red-letter sweep.

    A round that fails (database gone, a bug) is logged and the next round tries again: the
    outbox keeps every message until it is sent or visibly failed.
    """

    def __init__(self, app: OrderHub, sms: AliyunSms | None, *, every: float = 5.0, erp: Any = None,
                 einvoice: Any = None, reconcile_every: float = 60.0) -> None:
        super().__init__(daemon=True, name="outbox")
        self.app, self.sms, self.every = app, sms, every
        self.erp, self.einvoice = erp, einvoice  # app.hub.erp_dispatch.ErpDispatcher, app.hub.einvoice_dispatch…
        self.reconcile_every, self._reconciled = reconcile_every, 0.0
        self.stop_event = threading.Event()

    def run_once(self) -> None:
        if self.sms is not None:
            report = dispatch(self.app, self.sms)
            if report.sent or report.retry or report.failed:
                log.info("SMS: %s", report)
        red_letter.sweep(self.app.uow())
        if self.erp is not None:
            erp_report = self.erp.run_once()
            if erp_report.sent or erp_report.retry or erp_report.dead:
                log.info("ERP webhooks: %s", erp_report)
            if time.monotonic() - self._reconciled >= self.reconcile_every:
                from app.services import erp_reconcile

                result = erp_reconcile.reconcile(self.app.uow(), limit=50)
                self._reconciled = time.monotonic()
                if result.mismatches:
                    log.info("ERP reconciliation: %d/%d orders agree", result.matching, result.compared)
        if self.einvoice is not None:
            self.einvoice.run_once()

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.run_once()
                HUB_DATABASE.ok()
            except Exception as err:
                if not HUB_DATABASE.failed(err, "短信、ERP与发票推送"):
                    log.exception("outbox round failed; trying again in %.0f s", self.every)
            self.stop_event.wait(self.every)

    def stop(self) -> None:
        self.stop_event.set()
        if self.sms is not None:
            self.sms.close()
        if self.erp is not None:
            self.erp.close()
        if self.einvoice is not None:
            self.einvoice.close()
