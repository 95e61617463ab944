"""Pulling one shop: windows from the high-water mark, pages into intake, failures recorded plainly."""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from app.bootstrap import OrderHub
from app.domain.fields import code_label
from app.domain.actor import SYSTEM
from app.domain.errors import BusinessError
from app.services import ingest, routing, shop_sync
from app.services.shop_sync import ShopConfig
from connectors.base import CLOCK_SKEW, Connector, PlatformError, RawOrder, plan_windows, utc_now

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=2)
PAGE = 100
T = TypeVar("T")

# Re-listed orders that did not change are not fetched again (issue #18). Every poll re-reads the last
# OVERLAP, so at a 5 s interval a list names ≈24× more orders than are new; for 淘宝/天猫 and 拼多多 each
# one cost a detail call, a parse and a hash only for intake to find it unchanged. The list gives each
# order's modification time (TOP ``modified``, PDD ``updated_at``), so before fetching a page's details
# the connector asks KnownVersions (one database question per list page) and leaves out:
# - orders stored with a later platform time than listed: the list is behind what we hold already, and
#   any change after it is listed again with its own, later time;
# - orders stored at exactly the listed time whose stored payload this hub saw read at least
#   VERIFIED_AFTER after that second began, by our clock. Times are whole seconds, so a second change
#   in the same second carries the same stamp: a detail read within that second may be the first of
#   two. A read that started ≥ 1 s + CLOCK_SKEW after the stamp began is after the end of that second on
#   the platform's clock too, as long as our clock runs at most CLOCK_SKEW ahead of the platform's
#   (the hubs keep NTP time; the platforms' own gateways only insist on 10 minutes). "Read at" is when
#   the connector asked about the list page that named it, just before fetching its details: a lower bound.
#   Only a normalised payload counts, so a quarantined one is fetched again each time, as before;
#   orders with a time stamp we cannot read are always fetched. Which versions were seen read that
#   late is kept in memory by the shop's poller (SeenVersions): the stored payload's ``received_at``
#   cannot say it (stamped when intake commits, after the read, and kept from the first copy of the
#   same bytes), so after a hub restart each order in the overlap is fetched once more, then skipped.
# 微信小店's list names bare ids, no times. An id listed in an update-time window [a, b] has a time ≤ b
# (a list that lags behind shows an older time, never a later one), and a detail read at F ≥ b +
# VERIFIED_AFTER by our clock was read after second b ended on the platform's clock, so it held every
# version stamped ≤ b: if that read was stored and the order is still stored at it (or later), the id
# needs no detail (``exact=False``). A version stamped after b is listed, once the list shows it, in a
# window that ends at or after its stamp, where the same test asks for a read after that stamp; so a
# late-listed change is fetched as soon as it is listed, and the overlap's width is what bounds the
# list's lag, as before. To make the test hold for most of the overlap, the connector lists it as several
# windows, cut where ``KnownVersions.cuts`` says: at the fewest whole seconds such that every order this
# hub read late enough (time t, read at F ≥ t + VERIFIED_AFTER) has a cut in [t, F − VERIFIED_AFTER]. In
# steady state that is about one cut per earlier poll inside the overlap: one more list call per cut,
# against the ≈24× re-read details it spares at a 5 s interval; each order is read once, or twice if
# it was first read within VERIFIED_AFTER of its stamp.
# CLOCK_SKEW (connectors/base.py): 2 s. 微信小店's rule leans on it wholly (a platform clock further behind
# ours would let a change stamped just after a read look covered by it), so its connector reads the
# platform's clock from each answer's HTTP Date and skips nothing while that is surely further behind.
VERIFIED_AFTER = timedelta(seconds=1) + CLOCK_SKEW


# Young-generation threshold for the hub process: intake allocates a page's dicts and lists by the
# thousand, and at Python's default of 700 that meant ≈80 young collections per 1,000 orders (each also
# walking whatever the pipeline holds), ≈0.1 ms of the hub's CPU per order and pauses that stop all three
# pipeline threads at once. Measured with bench_ingest.py (--gc-default for A/B): ≈0.003 ms after this.
GC_THRESHOLD = (10_000, 20, 20)


def settle_heap() -> None:
    """Once, when the hub process has started: move what start-up built (modules, mappers, compiled
    statements — ≈136,000 objects, all alive for the process's life) out of the collector's sight with
    ``gc.freeze()``, so older-generation collections stop re-walking it, and collect less eagerly.
    Cyclic garbage is still collected, just in larger, rarer rounds. For the hub process only (``orderhub
    hub``), not for a library caller's process."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


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
    skipped: int = 0  # listed again at the version stored: no detail fetched (issue #18)
    error: str | None = None
    order_nos: list[str] = field(default_factory=list)
    # CPU seconds of each stage's thread (fetch: pull, parse, normalise; store: intake; route): what
    # the hub's own time per order goes to, apart from the platform's and the database's.
    cpu_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("fetch", "store", "route"), 0.0))
    # Wall seconds each thread spent waiting on its neighbour in the pipeline: whether the three stages
    # really overlap, and which one the others wait for (a stage nobody waits for is not the limit).
    # fetch_for_store: a fetched page waited for room (storing is slower); store_for_fetch: the store
    # thread had no page (fetching is slower); store_for_route: the store thread waited to hand a stored
    # page to routing (routing is slower); route_for_store: routing had nothing to do.
    waits_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("fetch_for_store", "store_for_fetch", "store_for_route", "route_for_store"), 0.0))

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


@dataclass(frozen=True)
class Page:
    """A page of payloads, hashed and normalised ahead: the poller's fetching thread does this while
    the previous page is being written, so parsing overlaps the database's work instead of adding to it.
    A payload that failed to normalise keeps its error, and intake quarantines it as before."""

    payloads: list[ingest.Payload]
    normalised: dict[bytes, Any]  # body → InboundOrder, or the exception normalising it raised
    # (platform order no, platform time, payload SHA-256, read at) of the details read late enough after
    # their time stamp to rule out a second change in the same second (see VERIFIED_AFTER): remembered
    # once stored
    verified: tuple[tuple[str, datetime, str, datetime], ...] = ()

    @classmethod
    def of(cls, connector: Connector, raws: list[RawOrder], asked_at: Sequence[datetime | None] = ()) -> Page:
        """``asked_at``: for each raw, when the connector asked about its list page (None: not known)."""
        normalised: dict[bytes, Any] = {}
        for raw in raws:
            try:
                normalised[raw.body] = connector.normalise(raw)
            except Exception as err:  # noqa: BLE001 — judged (quarantined) by intake, in order
                normalised[raw.body] = err
        payloads = [ingest.Payload(r.kind, r.body) for r in raws]
        verified = []
        for payload, asked in zip(payloads, asked_at, strict=False):
            inbound = normalised[payload.body]
            if asked is not None and not isinstance(inbound, Exception) \
                    and asked >= inbound.platform_updated_at + VERIFIED_AFTER:
                verified.append((inbound.platform_order_no, inbound.platform_updated_at, payload.sha256, asked))
        return cls(payloads, normalised, tuple(verified))

    def normalise(self, body: bytes) -> Any:
        found = self.normalised[body]
        if isinstance(found, Exception):
            raise found
        return found


def ingest_raw(hub: OrderHub, shop: ShopConfig, connector: Connector, raws: list[RawOrder] | Page) -> ingest.BatchResult:
    """Store a page, then route what is new or changed (warehouse, stock, deadlines, gifts, holds)."""
    result = _store(hub, shop, raws if isinstance(raws, Page) else Page.of(connector, raws))
    _route_changed(hub, result)
    return result


def _store(hub: OrderHub, shop: ShopConfig, page: Page) -> ingest.BatchResult:
    return ingest.ingest_batch(hub.uow(), shop_id=shop.id, source=shop.platform, payloads=page.payloads,
                               normalise=page.normalise)


def _route_changed(hub: OrderHub, result: ingest.BatchResult) -> None:
    changed = [o.order_no for o in result.outcomes if o.verdict in ("new", "apply") and o.order_no]
    if changed:
        # Routing failing (e.g. a lock conflict) must not lose the stored orders: they are routed
        # again on their next change, and `orderhub route` routes whatever is waiting.
        try:
            routing.route_orders(hub.uow(), changed, SYSTEM)
        except BusinessError as err:
            log.warning("routing after intake deferred: %s", err.message())


class _Router:
    """Routes stored pages, in order, in a thread of its own while the next page is being stored,
    so routing's database work overlaps intake's instead of following it. Both lock orders in id
    order (and routing retries a lock conflict), so they queue rather than deadlock. A poll waits
    for it before returning: when ``poll_once`` returns, its orders are routed, as before."""

    def __init__(self, hub: OrderHub) -> None:
        self.hub = hub
        self.jobs: queue.Queue[ingest.BatchResult | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.cpu_s = 0.0
        self.waited_s = 0.0  # idle: nothing stored to route yet
        self.submit_waited_s = 0.0  # the store thread waiting for room in the queue
        self.thread = threading.Thread(target=self._run, name="route-after-intake", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        started = time.thread_time()
        while True:
            idle = time.perf_counter()
            result = self.jobs.get()
            self.waited_s += time.perf_counter() - idle
            if result is None:
                break
            if self.error is None:
                try:
                    _route_changed(self.hub, result)
                except BaseException as err:  # handed to the polling thread by close()
                    self.error = err
        self.cpu_s = time.thread_time() - started

    def submit(self, result: ingest.BatchResult) -> None:
        if self.error is not None:
            raise self.error
        waiting = time.perf_counter()
        self.jobs.put(result)
        self.submit_waited_s += time.perf_counter() - waiting

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


class SeenVersions:
    """One shop's order versions this hub saw read late enough to rule out a same-second change (see
    VERIFIED_AFTER): platform order no → (platform time, payload SHA-256, read at: a lower bound, our
    clock). Kept by the shop's poller across polls; only what is still inside the re-read overlap is kept."""

    def __init__(self) -> None:
        # read by the fetching thread (KnownVersions), written by the storing one: single dict reads and
        # writes, atomic in CPython; a version remembered a moment late only means one more detail call
        self.versions: dict[str, tuple[datetime, str, datetime]] = {}

    def remember(self, page: Page) -> None:
        for no, at, sha, read_at in page.verified:
            held = self.versions.get(no)
            if held is None or held[0] <= at:
                self.versions[no] = (at, sha, read_at)

    def forget_before(self, start: datetime) -> None:
        """Drop versions older than ``start``: no later poll lists them at that time again."""
        self.versions = {no: v for no, v in self.versions.items() if v[0] >= start}


def _whole_second(at: datetime) -> datetime:
    return at.replace(microsecond=0)


class KnownVersions:
    """The ``known`` question a connector asks per list page (connectors/base.py ``Known``), answered from
    the database and the shop's SeenVersions; counts what it spared and remembers when it was asked."""

    def __init__(self, hub: OrderHub, shop: ShopConfig, seen: SeenVersions, now: Callable[[], datetime]) -> None:
        self.hub, self.shop, self.seen, self.now = hub, shop, seen, now
        self.asked_at: datetime | None = None  # the latest question: a lower bound of when the details after it were read
        self.skipped = 0
        self.trusted = True  # False once the connector found the platform's clock off: no read counts as verified

    def __call__(self, listed: Sequence[tuple[str, datetime]], *, exact: bool = True) -> set[str]:
        """Skip an order stored at a later time than ``at``, or one this hub read (and still stores as read)
        at least VERIFIED_AFTER after ``at``; with ``exact``, only if what it read carries the listed time."""
        asked_at = self.now()
        held = {no: self.seen.versions.get(no) for no, _ in listed}
        # a bare id's time is at most ``at``: the database is asked about the version this hub read
        query = listed if exact else [(no, min(at, h[0]) if (h := held[no]) else at) for no, at in listed]
        stored = ingest.stored_versions(self.hub.uow(), self.shop.id, query)
        skip = set()
        for no, at in listed:
            found, read = stored.get(no), held[no]
            if found is None:
                continue
            if found[0] > at or (read is not None and read[2] >= at + VERIFIED_AFTER
                                 and (read[0] == at or not exact)
                                 and (found[0] > read[0] or found == read[:2])):
                skip.add(no)
        self.asked_at = asked_at
        self.skipped += len(skip)
        return skip

    def cuts(self, start: datetime, end: datetime) -> list[datetime]:
        """Where to cut [start, end] for a list of bare ids (see the comment at the top): the fewest whole
        seconds inside it that give every version read late enough one in [its time, read at −
        VERIFIED_AFTER] (interval stabbing, greedy by right end)."""
        spans = []
        for at, _, read_at in list(self.seen.versions.values()):
            last = _whole_second(read_at - VERIFIED_AFTER)
            if start <= at <= last and start < last < end:
                spans.append((last, at))
        points: list[datetime] = []
        for last, at in sorted(spans):
            if not points or at > points[-1]:
                points.append(last)
        return points

    def distrust(self) -> None:
        self.trusted = False
        self.seen.versions = {}

    def stamped(self, raws: Iterable[RawOrder]) -> Iterator[tuple[RawOrder, datetime | None]]:
        """Each raw with the time of the question asked before its detail was fetched (None once distrusted)."""
        for raw in raws:
            yield raw, self.asked_at if self.trusted else None


def _pages(raws: Iterable[T]) -> Iterator[list[T]]:
    batch: list[T] = []
    for raw in raws:
        batch.append(raw)
        if len(batch) >= PAGE:
            yield batch
            batch = []
    if batch:
        yield batch


def _prefetched(pages: Iterator[Page], depth: int = 2, cpu_s: dict[str, float] | None = None,
                waits_s: dict[str, float] | None = None) -> Iterator[Page]:
    """Fetch the next pages from the platform while the current one is being stored.

    Network waits and database writes overlap, so a poll takes about the longer of the two
    instead of their sum. A platform error in the fetching thread is raised here, in order.
    ``cpu_s["fetch"]`` adds up the fetching thread's CPU seconds; ``waits_s`` the wall seconds the
    fetching thread waited for room (``fetch_for_store``) and the consumer for a page (``store_for_fetch``).
    """
    waits = waits_s if waits_s is not None else {}
    buffer: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def fetch() -> None:
        started = time.thread_time()
        try:
            _fetch()
        finally:
            if cpu_s is not None:
                cpu_s["fetch"] = cpu_s.get("fetch", 0.0) + time.thread_time() - started

    def _fetch() -> None:
        try:
            for page in pages:
                waiting = time.perf_counter()
                while not stop.is_set():
                    try:
                        buffer.put(("page", page), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                waits["fetch_for_store"] = waits.get("fetch_for_store", 0.0) + time.perf_counter() - waiting
                if stop.is_set():
                    return
            buffer.put(("done", None))
        except BaseException as err:  # handed to the consumer, raised there
            buffer.put(("error", err))

    worker = threading.Thread(target=fetch, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            waiting = time.perf_counter()
            kind, item = buffer.get()
            waits["store_for_fetch"] = waits.get("store_for_fetch", 0.0) + time.perf_counter() - waiting
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        worker.join(5)


def poll_once(hub: OrderHub, shop: ShopConfig, connector: Connector, *, overlap: timedelta = OVERLAP,
              now: Callable[[], datetime] = utc_now, should_stop: Callable[[], bool] = lambda: False,
              seen: SeenVersions | None = None) -> PollReport:
    """Pull everything changed since the shop's high-water mark, window by window.

    The mark moves only after a window was pulled and stored completely, so a crash, a stop or a
    platform failure mid-window re-reads that window next time (duplicates are harmless).
    ``seen``: the shop's SeenVersions, kept by the caller from poll to poll (without it, re-listed
    orders stored at a later time than listed are still skipped, same-time ones are fetched).
    """
    report = PollReport()
    state = shop_sync.state(hub.uow(), shop.id)
    started = now()
    windows = plan_windows(state.high_water, started, max_window=connector.max_window, overlap=overlap,
                           lag=connector.lag)
    seen = seen if seen is not None else SeenVersions()
    if windows:
        seen.forget_before(windows[0][0])
    known = KnownVersions(hub, shop, seen, now)
    router = _Router(hub)
    try:
        for start, end in windows:
            if should_stop():
                break
            pages = (Page.of(connector, [raw for raw, _ in batch], [at for _, at in batch])
                     for batch in _pages(known.stamped(connector.changed_orders(start, end, known))))
            for page in _prefetched(pages, cpu_s=report.cpu_s, waits_s=report.waits_s):
                started = time.thread_time()
                result = _store(hub, shop, page)
                report.cpu_s["store"] += time.thread_time() - started
                report.add(result)
                seen.remember(page)  # stored (committed): a later list at this version needs no detail
                router.submit(result)
            shop_sync.window_done(hub.uow(), shop.id, end)
            report.windows += 1
    except PlatformError as err:
        report.error = failure_message(shop, err, connector.policy.retries if err.retryable else 0)
        log.warning("%s", report.error)
        shop_sync.pull_failed(hub.uow(), shop.id, now(), report.error)
        return report
    finally:
        report.skipped = known.skipped
        router.close()
        report.cpu_s["route"] = router.cpu_s
        report.waits_s["store_for_route"] += router.submit_waited_s
        report.waits_s["route_for_store"] += router.waited_s
    shop_sync.pull_succeeded(hub.uow(), shop.id, now())
    return report
