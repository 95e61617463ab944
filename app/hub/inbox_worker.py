"""The push inbox's worker: fetches the order detail each stored push names, once per order, and ingests it.

The doors answer a platform's push once its message is committed to the inbox (app/services/push_inbox.py);
this thread does the slow part afterwards. It claims due messages (a lease, ``FOR UPDATE SKIP LOCKED``,
so two hubs never fetch the same message at once), fetches each named order's detail once however many
messages name it, several orders at a time on ``fetchers`` threads (each with its kept connector and
connection to the platform), ingests a shop's details in one transaction that also marks their
messages done, and routes what changed on a thread of its own while the next round is fetched. A fetch that fails (after the connector's own retries) leaves
its messages pending with the reason, due again after a growing pause; a hub that dies holding a claim
leaves it to expire, and whichever hub is up fetches it then. Woken by the doors after every inbox commit,
and every ``idle`` seconds for what is due again.

The doors come first (issue #19 measures the answer, not the detail): fetching and ingesting a detail costs
the hub about twice the CPU of answering its push, so while pushes are being stored (one within ``Turn.quiet``
seconds) the worker waits before it starts on a fresh batch, at most ``Turn.patience`` seconds, then drains
what has piled up in full rounds without waiting again, so a steady stream of pushes still gets its details.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from app.bootstrap import OrderHub
from app.hub.credentials import CredentialStore, KeptConnectors
from app.hub.db_status import HUB_DATABASE
from app.hub.pollers import Page, _route_changed
from app.services import ingest, push_inbox, shop_sync
from app.services.shop_sync import ShopConfig
from connectors.base import Connector, Credentials, PlatformError, RawOrder

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Seconds until a failed fetch is tried again: ``first``, doubling per attempt up to ``most``, ±20 %."""

    first: float = 5.0
    most: float = 600.0

    def after(self, attempt: int) -> float:
        return min(self.most, self.first * 2 ** max(0, attempt - 1)) * random.uniform(0.8, 1.2)


class Turn:
    """When the worker may start: once the doors have been quiet for ``quiet`` s, or after ``patience`` s of waiting."""

    def __init__(self, quiet: float = 0.2, patience: float = 3.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.quiet, self.patience, self.clock = quiet, patience, clock
        self.last_push = float("-inf")

    def pushed(self) -> None:
        """The doors have just stored a push."""
        self.last_push = self.clock()

    def pause(self, waiting_since: float) -> float:
        """Seconds still to wait for a worker that has waited since ``waiting_since`` (0: go)."""
        now = self.clock()
        return max(0.0, min(self.last_push + self.quiet, waiting_since + self.patience) - now)


class InboxWorker(threading.Thread):
    """Claims pending pushed messages, fetches their orders' details and stores them (see the module docstring)."""

    def __init__(self, app: OrderHub, factory: Callable[[ShopConfig, Credentials], Connector],
                 credentials: CredentialStore, *, batch: int = 200, fetchers: int = 8, lease: float = 30.0,
                 idle: float = 1.0, backoff: Backoff = Backoff(), turn: Turn | None = None) -> None:
        super().__init__(daemon=True, name="push-inbox")
        self.app, self.credentials = app, credentials
        self.connectors = KeptConnectors(factory, credentials)
        self.batch, self.lease, self.idle, self.backoff = batch, lease, idle, backoff
        self.pool = ThreadPoolExecutor(max_workers=fetchers, thread_name_prefix="push-detail")
        # Routing what a round stored runs beside the next round's claim and fetches, in order, one at a time.
        self.router = ThreadPoolExecutor(max_workers=1, thread_name_prefix="push-route")
        self.woken, self.stop_event = threading.Event(), threading.Event()
        self.turn = turn or Turn()
        self._shops: tuple[dict[int, ShopConfig], float] = ({}, float("-inf"))

    def wake(self) -> None:
        """Something was stored in the inbox: look once the doors are quiet, not at the next idle tick."""
        self.turn.pushed()
        self.woken.set()

    def run(self) -> None:
        full = False
        while not self.stop_event.is_set():
            self.woken.clear()
            if not full:  # a backlog is drained without waiting again
                self._wait_turn()
            try:
                full = self.run_once()
                HUB_DATABASE.ok()
            except Exception as err:  # the claims expire and are taken again; nothing is lost
                if not HUB_DATABASE.failed(err, "推送订单详情"):
                    log.exception("push inbox round failed")
                full = False
            if not full:
                self.woken.wait(self.idle)

    def _wait_turn(self) -> None:
        since = self.turn.clock()
        while (pause := self.turn.pause(since)) > 0 and not self.stop_event.is_set():
            self.stop_event.wait(pause)

    def run_once(self) -> bool:
        """One claim of due messages handled; True if it was a full batch (more may be waiting)."""
        claimed = push_inbox.claim(self.app.uow(), limit=self.batch, lease=self.lease)
        by_shop: dict[int, list[push_inbox.Claimed]] = defaultdict(list)
        for c in claimed:
            by_shop[c.shop_id].append(c)
        for shop_id, messages in by_shop.items():
            self._shop_round(shop_id, messages)
        return len(claimed) >= self.batch

    def _shop_round(self, shop_id: int, messages: list[push_inbox.Claimed]) -> None:
        found = self._shop(shop_id)
        if found is None:
            self._failed(messages, "店铺已停用或没有接口凭据，推送的订单暂未取回")
            return
        shop, creds = found
        by_order: dict[str, list[push_inbox.Claimed]] = defaultdict(list)
        for m in messages:
            by_order[m.platform_order_no].append(m)
        fetched = list(self.pool.map(lambda no: self._fetch(shop, creds, no), by_order))
        raws: list[RawOrder] = []
        done: list[push_inbox.Claimed] = []
        connector = self.connectors.get(shop, creds)
        for (order_no, named), got in zip(by_order.items(), fetched, strict=True):
            if isinstance(got, str):
                self._failed(named, got)
            else:
                raws.append(got)
                done.extend(named)
        if not raws:
            return
        page = Page.of(connector, raws)
        result = ingest.ingest_batch(self.app.uow(), shop_id=shop.id, source=shop.platform, payloads=page.payloads,
                                     normalise=page.normalise, inbox_done=done)
        self.router.submit(self._route, result)

    def _route(self, result: ingest.BatchResult) -> None:
        try:
            _route_changed(self.app, result)
        except Exception as err:  # stored already; routed again on the order's next change or by `orderhub route`
            if not HUB_DATABASE.failed(err, "推送订单路由"):
                log.exception("routing pushed orders failed")

    def _fetch(self, shop: ShopConfig, creds: Credentials, order_no: str) -> RawOrder | str:
        """The order's detail, or why it could not be fetched (in the platform's or our words)."""
        try:
            return self.connectors.get(shop, creds).fetch(order_no)
        except PlatformError as err:
            return f"{err.code}：{err.message}"
        except Exception as err:  # a network error or a bug: kept as the reason, tried again later
            log.warning("fetching %s order %s failed", shop.code, order_no, exc_info=True)
            return f"{type(err).__name__}：{err}"

    def _failed(self, messages: list[push_inbox.Claimed], reason: str) -> None:
        attempt = max(m.attempt for m in messages)
        push_inbox.failed(self.app.uow(), messages, reason, self.backoff.after(attempt))

    def _shop(self, shop_id: int) -> tuple[ShopConfig, Credentials] | None:
        shops, at = self._shops
        if shop_id not in shops or time.monotonic() - at > 2.0:
            shops = {s.id: s for s in shop_sync.enabled_shops(self.app.uow())}
            self._shops = (shops, time.monotonic())
        shop = shops.get(shop_id)
        creds = self.credentials.get(shop.credentials_ref or "") if shop is not None else None
        return (shop, creds) if shop is not None and creds is not None else None

    def stop(self) -> None:
        self.stop_event.set()
        self.woken.set()
        if self.is_alive():
            self.join(10)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.router.shutdown(wait=True)
