"""The hub's carrier jobs: subscribe new parcels to their tracking pushes, send 拦截件 requests, flag still parcels.

Subscriptions and interceptions come from the outbox (queued with the shipment, or when the
platform reports the order cancelled or refunded after the parcel left), so each is sent once and
retried with backoff. 顺丰 waybills need no subscription (丰桥 pushes routes for its own
waybills); the others subscribe at 快递100. Only 顺丰 offers interception here; for the rest the
parcel is marked "call the carrier" and customer service is told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from app.domain.carriers import carrier_named
from app.domain.messages import render
from app.services import outbox, tracking, writeback
from connectors.base import PlatformError
from connectors.kuaidi100 import Kuaidi100
from connectors.sf_express import INTERCEPT_SERVICE, SfExpress

if TYPE_CHECKING:
    from app.bootstrap import OrderHub


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


def dispatch_intercepts(hub: OrderHub, sf: SfExpress | None, *, limit: int = 50,
                        now: datetime | None = None) -> CarrierReport:
    report = CarrierReport()
    for msg in outbox.claim(hub.uow(), writeback.INTERCEPT, limit=limit, now=now):
        p = msg.payload
        carrier = carrier_named(p["carrier"])
        if carrier is None or carrier.tracker != "sf" or sf is None:
            tracking.intercept_settled(hub.uow(), msg, "unsupported", "-",
                                       message=render("LOGI_INTERCEPT_UNSUPPORTED", carrier=p["carrier"]))
            report.failed += 1
            continue
        try:
            answer = sf.intercept(p["tracking_no"])
            tracking.intercept_settled(hub.uow(), msg, "succeeded", INTERCEPT_SERVICE,
                                       message=str(answer.get("result") or "拦截成功"))
            report.intercepted += 1
        except PlatformError as err:
            if err.retryable:
                tracking.intercept_settled(hub.uow(), msg, "requested", INTERCEPT_SERVICE, code=err.code,
                                           message=err.message)
                report.retry += 1
            else:
                tracking.intercept_settled(hub.uow(), msg, "failed", INTERCEPT_SERVICE, code=err.code,
                                           message=err.message)
                report.failed += 1
    return report
