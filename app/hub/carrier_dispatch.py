"""The hub's carrier jobs: subscribe new parcels to their tracking pushes, send 拦截件 requests, flag still parcels.

Subscriptions and interceptions come from the outbox (queued with the shipment, or when the
platform reports the order cancelled or refunded after the parcel left), so each is sent once and
retried with backoff. 顺丰 waybills need no subscription (丰桥 pushes routes for its own
waybills); the others subscribe at 快递100. Interception: 顺丰 through 丰桥, 京东/极兔/EMS/德邦 through
快递100's interception API; for the rest the parcel is marked "call the carrier" and customer
service is told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from app.domain.carriers import KUAIDI100_INTERCEPT, Carrier, carrier_named
from app.domain.messages import render
from app.services import outbox, tracking, writeback
from connectors.base import PlatformError
from connectors.kuaidi100 import Kuaidi100
from connectors.sf_express import INTERCEPT_SERVICE, SfExpress

if TYPE_CHECKING:
    from app.bootstrap import OrderHub


KD100_INTERCEPT = "kuaidi100 interceptOrder"


@dataclass
class CarrierReport:
    subscribed: int = 0
    intercepted: int = 0
    retry: int = 0
    failed: int = 0


def dispatch_subscriptions(hub: OrderHub, kd100: Kuaidi100 | None, *, limit: int = 50,
                           now: datetime | None = None) -> CarrierReport:
    report = CarrierReport()
    for msg in outbox.claim(hub.uow(), writeback.SUBSCRIBE, limit=limit, now=now):
        p = msg.payload
        carrier = carrier_named(p["carrier"])
        if carrier is not None and carrier.tracker == "sf":
            writeback.settle(hub.uow(), msg, "subscribe", "-", "nothing", message="顺丰丰桥自动推送路由，无需订阅")
            report.subscribed += 1
            continue
        if carrier is None or kd100 is None:
            why = "没有配置快递100账号" if kd100 is None else f"承运商「{p['carrier']}」不在承运商表里，无法订阅物流"
            status = writeback.settle(hub.uow(), msg, "subscribe", "-", "retry" if kd100 is None else "refused",
                                      code="config", message=why)
            report.retry += status == "pending"
            report.failed += status == "failed"
            continue
        try:
            result = kd100.subscribe(carrier.codes["kuaidi100"], p["tracking_no"])
            writeback.settle(hub.uow(), msg, "subscribe", "kuaidi100 /poll", "done" if result == "subscribed" else "already")
            report.subscribed += 1
        except PlatformError as err:
            status = writeback.settle(hub.uow(), msg, "subscribe", "kuaidi100 /poll",
                                      "retry" if err.retryable else "refused", code=err.code, message=err.message)
            report.retry += status == "pending"
            report.failed += status == "failed"
    return report


def dispatch_intercepts(hub: OrderHub, sf: SfExpress | None, *, kd100: Kuaidi100 | None = None, limit: int = 50,
                        now: datetime | None = None) -> CarrierReport:
    """Send each queued 拦截件 request: 顺丰 through 丰桥, 京东/极兔/EMS/德邦 through 快递100's interception
    API; any other carrier (or one without the account it needs) is marked "call the carrier", in words."""
    report = CarrierReport()
    for msg in outbox.claim(hub.uow(), writeback.INTERCEPT, limit=limit, now=now):
        p = msg.payload
        carrier = carrier_named(p["carrier"])
        if carrier is not None and carrier.tracker == "sf" and sf is not None:
            _by_sf(hub, sf, msg, report)
        elif carrier is not None and carrier.key in KUAIDI100_INTERCEPT and kd100 is not None and kd100.label_secret:
            _by_kuaidi100(hub, kd100, msg, carrier, report)
        else:
            tracking.intercept_settled(hub.uow(), msg, "unsupported", "-",
                                       message=render("LOGI_INTERCEPT_UNSUPPORTED", carrier=p["carrier"]))
            report.failed += 1
    return report


def _by_sf(hub: OrderHub, sf: SfExpress, msg: outbox.Claimed, report: CarrierReport) -> None:
    p = msg.payload
    try:
        answer = sf.intercept(p["tracking_no"])
        tracking.intercept_settled(hub.uow(), msg, "succeeded", INTERCEPT_SERVICE,
                                   message=str(answer.get("result") or "拦截成功"))
        report.intercepted += 1
    except PlatformError as err:
        _refused(hub, msg, INTERCEPT_SERVICE, err, report)


def _by_kuaidi100(hub: OrderHub, kd100: Kuaidi100, msg: outbox.Claimed, carrier: Carrier,
                  report: CarrierReport) -> None:
    p = msg.payload
    code, needs_account = KUAIDI100_INTERCEPT[carrier.key]
    partner = kd100.partners.get(carrier.key, "")
    if needs_account and not partner:
        tracking.intercept_settled(hub.uow(), msg, "unsupported", "-", message=render(
            "LOGI_INTERCEPT_NO_ACCOUNT", carrier=carrier.name_zh, key=carrier.key))
        report.failed += 1
        return
    try:
        task = kd100.intercept(code, p["tracking_no"], partner_id=partner, reason="订单已取消或退款",
                               order_id=p["order_no"])
        tracking.intercept_settled(hub.uow(), msg, "accepted", KD100_INTERCEPT, code=task,
                                   message=f"快递100已受理，任务号 {task}" if task else "快递100已受理")
        report.intercepted += 1
    except PlatformError as err:
        _refused(hub, msg, KD100_INTERCEPT, err, report)


def _refused(hub: OrderHub, msg: outbox.Claimed, call: str, err: PlatformError, report: CarrierReport) -> None:
    if err.retryable:
        tracking.intercept_settled(hub.uow(), msg, "requested", call, code=err.code, message=err.message)
        report.retry += 1
    else:
        tracking.intercept_settled(hub.uow(), msg, "failed", call, code=err.code, message=err.message)
        report.failed += 1
