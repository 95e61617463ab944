"""Pulling one shop: windows from the high-water mark, pages into intake, failures recorded plainly."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.bootstrap import OrderHub
from app.domain.fields import code_label
from app.services import ingest, shop_sync
from app.services.shop_sync import ShopConfig
from connectors.base import Connector, PlatformError, RawOrder, plan_windows, utc_now

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=2)
PAGE = 100


@dataclass
class PollReport:
    """What one poll of one shop did."""

    windows: int = 0
    payloads: int = 0
    stored: int = 0
    duplicates: int = 0
    stale: int = 0
    quarantined: int = 0
    interceptions: int = 0
    error: str | None = None
    order_nos: list[str] = field(default_factory=list)

    def add(self, result: ingest.BatchResult) -> None:
        self.payloads += len(result.outcomes)
        self.stored += result.stored
        self.duplicates += result.count("duplicate") + result.count("same")
        self.stale += result.count("stale")
        self.quarantined += result.count("quarantined")
        self.interceptions += sum(1 for o in result.outcomes if o.interception)
        self.order_nos.extend(o.order_no for o in result.outcomes if o.order_no and o.verdict in ("new", "apply"))


def failure_message(shop: ShopConfig, err: PlatformError, retries: int) -> str:
    """What the health screen shows: which shop, what the platform said, what happens next."""
    platform = code_label("platform", shop.platform)
    detail = " ".join(x for x in (err.code, err.sub_code, err.message) if x)
    return (f"{platform}店铺「{shop.name}」拉取订单失败（{detail}），已重试 {retries} 次；"
            f"下次轮询将从上次成功的位置继续，不会漏单")


def ingest_raw(hub: OrderHub, shop: ShopConfig, connector: Connector, raws: list[RawOrder]) -> ingest.BatchResult:
    payloads = [ingest.Payload(r.kind, r.body) for r in raws]
    return ingest.ingest_batch(hub.uow(), shop_id=shop.id, source=shop.platform, payloads=payloads,
                               normalise=lambda body: connector.normalise(RawOrder("", body, "")))


def poll_once(hub: OrderHub, shop: ShopConfig, connector: Connector, *, overlap: timedelta = OVERLAP,
              now: Callable[[], datetime] = utc_now, should_stop: Callable[[], bool] = lambda: False) -> PollReport:
    """Pull everything changed since the shop's high-water mark, window by window.

    The mark moves only after a window was pulled and stored completely, so a crash, a stop or a
    platform failure mid-window re-reads that window next time (duplicates are harmless).
    """
    report = PollReport()
    state = shop_sync.state(hub.uow(), shop.id)
    started = now()
    windows = plan_windows(state.high_water, started, max_window=connector.max_window, overlap=overlap,
                           lag=connector.lag)
    try:
        for start, end in windows:
            if should_stop():
                break
            batch: list[RawOrder] = []
            for raw in connector.changed_orders(start, end):
                batch.append(raw)
                if len(batch) >= PAGE:
                    report.add(ingest_raw(hub, shop, connector, batch))
                    batch = []
            if batch:
                report.add(ingest_raw(hub, shop, connector, batch))
            shop_sync.window_done(hub.uow(), shop.id, end)
            report.windows += 1
    except PlatformError as err:
        report.error = failure_message(shop, err, connector.policy.retries if err.retryable else 0)
        log.warning("%s", report.error)
        shop_sync.pull_failed(hub.uow(), shop.id, now(), report.error)
        return report
    shop_sync.pull_succeeded(hub.uow(), shop.id, now())
    return report
