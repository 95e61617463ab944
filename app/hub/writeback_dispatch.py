"""The hub's platform write-back sender: ship confirmations and refund answers from the outbox, once each.

Never twice: one outbox message per parcel (``ship:<tracking no>``), claimed under a lease; a
message tried before (its answer may have been lost after the platform applied it) is first
checked against the platform's own order — shipped with this waybill means done, without sending
again. The platform's "already shipped" answer counts as success for the same reason. Each
attempt, whatever its outcome, lands on the order's story.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from app.domain.fields import code_label
from app.domain.messages import render
from app.hub.db_status import is_lost_database
from app.services import outbox, writeback
from connectors import writeback as wb
from connectors.base import Connector, PlatformError

if TYPE_CHECKING:
    from app.bootstrap import OrderHub

log = logging.getLogger(__name__)
LOOKUP = "查询平台订单"  # an attempt that read the platform's order instead of sending
#: shop id → a connector for that shop (with no retries of its own), or None when it has no credentials
ConnectorFor = Callable[[int], Connector | None]
#: How long an answer the platform already gave waits for the database to come back before the round gives
#: up on recording it: well inside the outbox's 2-minute lease, so no other round can have taken the message.
SETTLE_PATIENCE = 60.0


def _recorded(settle: Callable[[], str], patience: float = SETTLE_PATIENCE) -> str:
    """Record a platform's answer even if the database went away while we waited for it (issue #19).

    Otherwise the message would sit out its lease and be looked up on the platform again minutes
    later. ``writeback.settle`` ignores a repeat of a settle that did commit, so trying again is safe.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            return settle()
        except Exception as err:
            if not is_lost_database(err) or time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


@dataclass
class WritebackReport:
    sent: int = 0
    already: int = 0
    retry: int = 0
    failed: int = 0


class _Round:
    """One connector per shop for a dispatch round (one kept-alive HTTP session), closed at its end."""

    def __init__(self, connector_for: ConnectorFor) -> None:
        self.make, self.made = connector_for, {}

    def __call__(self, shop_id: int) -> Connector | None:
        if shop_id not in self.made:
            self.made[shop_id] = self.make(shop_id)
        return self.made[shop_id]

    def close(self) -> None:
        for connector in self.made.values():
            if connector is not None:
                connector.close()


def _count(report: WritebackReport, outcome: str, status: str) -> None:
    if outcome == "already":
        report.already += 1
    elif status == "sent":
        report.sent += 1
    elif status == "pending":
        report.retry += 1
    else:
        report.failed += 1


def dispatch_ship(hub: OrderHub, connector_for: ConnectorFor, *, limit: int = 50,
                  now: datetime | None = None) -> WritebackReport:
    """Send every due ship confirmation once (see the module docstring)."""
    return _dispatch(_ship_round, hub, connector_for, limit, now)


def _ship_round(hub: OrderHub, connector_for: ConnectorFor, report: WritebackReport, limit: int,
                now: datetime | None) -> None:
    for msg in outbox.claim(hub.uow(), writeback.SHIP, limit=limit, now=now):
        p = msg.payload
        code = writeback.platform_code(p["platform"], p["carrier"])
        if code is None:  # refused before sending, in words
            text = render("WB_UNKNOWN_CARRIER", carrier=p["carrier"], platform=code_label("platform", p["platform"]))
            _count(report, "refused", writeback.settle(hub.uow(), msg, "ship", "-", "refused", code="carrier",
                                                         message=text))
            continue
        connector = connector_for(p["shop_id"])
        if connector is None:
            _count(report, "retry", writeback.settle(hub.uow(), msg, "ship", "-", "retry", code="credentials",
                                                       message=render("WB_NO_CREDENTIALS")))
            continue
        req = wb.ShipRequest(p["platform_order_no"], p["tracking_no"], code, p["carrier"],
                             tuple(p.get("line_ids") or ()), request_id=msg.dedupe_key[:64], online=bool(p.get("online")),
                             first_parcel=bool(p.get("first_parcel", True)))
        # a 拼多多 extra waybill is not on the order's detail to look up; uploading it again is harmless
        look = msg.attempts > 1 and (req.first_parcel or p["platform"] != "pdd")
        try:
            result = _lookup_first(connector, req) if look else None
            result = result or wb.confirm_shipment(connector, req)
        except PlatformError as err:  # the order could not be read back: try again later
            result = wb.WriteResult(wb.RETRY, LOOKUP, err.code, err.message, err.retry_after)
        status = _recorded(lambda: writeback.settle(hub.uow(), msg, "ship", result.call, result.outcome,
                                                    code=result.code, message=result.message,
                                                    retry_after=result.retry_after))
        _count(report, result.outcome, status)


def _lookup_first(connector: Connector, req: wb.ShipRequest) -> wb.WriteResult | None:
    """An earlier try's answer may have been lost after the platform applied it: look before resending."""
    if wb.platform_state(connector, req.platform_order_no, req.tracking_no, req.line_ids) == "shipped":
        return wb.WriteResult(wb.ALREADY, LOOKUP, "", render("WB_ALREADY_ON_PLATFORM"))
    return None


def dispatch_refunds(hub: OrderHub, connector_for: ConnectorFor, *, limit: int = 50,
                     now: datetime | None = None) -> WritebackReport:
    """Send every due refund answer (agree / refuse) to its platform."""
    return _dispatch(_refund_round, hub, connector_for, limit, now)


def _dispatch(round_: Callable[..., None], hub: OrderHub, connector_for: ConnectorFor, limit: int,
              now: datetime | None) -> WritebackReport:
    """One round of ``round_`` with this round's connectors, closed afterwards whatever happens."""
    report, connectors = WritebackReport(), _Round(connector_for)
    try:
        round_(hub, connectors, report, limit, now)
    finally:
        connectors.close()
    return report


def _refund_round(hub: OrderHub, connector_for: ConnectorFor, report: WritebackReport, limit: int,
                  now: datetime | None) -> None:
    for msg in outbox.claim(hub.uow(), writeback.REFUND, limit=limit, now=now):
        p = msg.payload
        connector = connector_for(p["shop_id"])
        if connector is None:
            _count(report, "retry", writeback.settle(hub.uow(), msg, "refund", "-", "retry", code="credentials",
                                                       message=render("WB_NO_CREDENTIALS")))
            continue
        req = wb.RefundAnswer(p["platform_order_no"], p["line_id"], bool(p["agree"]), p.get("reason", ""),
                              int(p.get("amount_fen") or 0), p.get("after_sale_id", ""))
        try:
            result = wb.answer_refund(connector, req)
        except PlatformError as err:
            result = wb.WriteResult(wb.RETRY if err.retryable else wb.REFUSED, "refund", err.code, err.message,
                                    err.retry_after)
        status = _recorded(lambda: writeback.settle(hub.uow(), msg, "refund", result.call, result.outcome,
                                                    code=result.code, message=result.message,
                                                    retry_after=result.retry_after))
        _count(report, result.outcome, status)
