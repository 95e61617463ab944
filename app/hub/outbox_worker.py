"""The hub's timed jobs for after-sales: send due SMS, and watch 红字确认单 for their 72-hour limit."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

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

    def __init__(self, app: OrderHub, sms: AliyunSms | None, *, every: float = 5.0) -> None:
        super().__init__(daemon=True, name="outbox")
        self.app, self.sms, self.every = app, sms, every
        self.stop_event = threading.Event()

    def run_once(self) -> None:
        if self.sms is not None:
            report = dispatch(self.app, self.sms)
            if report.sent or report.retry or report.failed:
                log.info("SMS: %s", report)
        red_letter.sweep(self.app.uow())

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("outbox round failed; trying again in %.0f s", self.every)
            self.stop_event.wait(self.every)

    def stop(self) -> None:
        self.stop_event.set()
        if self.sms is not None:
            self.sms.close()
