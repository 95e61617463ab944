"""The hub's SMS sender: takes due SMS from the outbox, sends each through the gateway, records it.

Never twice for one event: the outbox holds one message per event; a message is claimed under a
lease before it is sent; and a message tried before whose answer was lost (timeout, dropped
connection, a crash after sending) is first looked up in the gateway's own records by its
``OutId`` — if the gateway has it, it is marked sent without sending again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from app.db.after_sales_models import SmsLog
from app.domain.clock import local
from app.services import outbox
from connectors.base import PlatformError
from connectors.sms import AliyunSms

if TYPE_CHECKING:
    from app.bootstrap import OrderHub


@dataclass
class DispatchReport:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    already_sent: int = 0  # found in the gateway's records after a lost answer; not sent again


def _already_sent(client: AliyunSms, phone: str, out_id: str, day: datetime) -> bool:
    """The gateway's own records for that phone and day hold a message with our ``OutId``."""
    return any(d.out_id == out_id for d in client.sent_details(phone, local(day).date()))


def dispatch(hub: OrderHub, client: AliyunSms, *, limit: int = 50, now: datetime | None = None) -> DispatchReport:
    """Send every due SMS once; failures go back in the queue with backoff or fail visibly.

    Args:
        now: the moment to consider messages due at (default the database's now).
    """
    report = DispatchReport()
    for msg in outbox.claim(hub.uow(), "sms", limit=limit, now=now):
        p = msg.payload
        out_id = p.get("out_id") or msg.dedupe_key[:64]
        missing = [k for k in ("phone", "template_code") if not p.get(k)]
        if missing:  # a malformed message is failed visibly, never sent half-filled, never crashes the loop
            with hub.uow() as uow:
                outbox.settle(uow.session, msg.id, sent=False, final=True, error=f"短信内容不完整：缺少 {', '.join(missing)}")
                uow.commit()
            report.failed += 1
            continue
        try:
            if msg.attempts > 1 and _already_sent(client, p["phone"], out_id, datetime.now().astimezone()):
                with hub.uow() as uow:
                    outbox.settle(uow.session, msg.id, sent=True)
                    uow.commit()
                report.already_sent += 1
                continue
            result = client.send(p["phone"], p["template_code"], p.get("params", {}), out_id=out_id)
        except PlatformError as err:
            with hub.uow() as uow:
                uow.session.add(SmsLog(outbox_id=msg.id, phone=p["phone"], sign_name=client.sign_name,
                                       template_code=p["template_code"], template_param=p.get("params", {}), ok=False,
                                       code=err.code[:60], message=err.message[:500]))
                status = outbox.settle(uow.session, msg.id, sent=False, error=f"{err.code} {err.message}"[:500],
                                       final=not err.retryable, retry_after=err.retry_after)
                uow.commit()
            if status == "failed":
                report.failed += 1
            else:
                report.retry += 1
            continue
        with hub.uow() as uow:
            uow.session.add(SmsLog(outbox_id=msg.id, phone=p["phone"], sign_name=client.sign_name,
                                   template_code=p["template_code"], template_param=p.get("params", {}), ok=True,
                                   code=result.code, message=result.message, biz_id=result.biz_id,
                                   request_id=result.request_id))
            outbox.settle(uow.session, msg.id, sent=True)
            uow.commit()
        report.sent += 1
    return report
