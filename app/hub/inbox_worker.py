"""The push inbox's worker: fetches the order detail each stored push names, once per order, and ingests it;
and creates the orders of store sales the doors received (``ingest.create_received``, in groups of ``sales_batch``).

The doors answer a platform's push once its message is committed to the inbox (app/services/push_inbox.py);
this worker does the slow part afterwards. It claims due messages (a lease, ``FOR UPDATE SKIP LOCKED``,
so two hubs never fetch the same message at once), fetches each named order's detail once however many
messages name it, several orders at a time on ``fetchers`` threads (each with its kept connector and
connection to the platform), ingests a shop's details in one transaction that also marks their
messages done, and routes what changed on a thread of its own while the next round is fetched. A fetch that fails (after the connector's own retries) leaves
its messages pending with the reason, due again after a growing pause; a hub that dies holding a claim
leaves it to expire, and whichever hub is up fetches it then. Woken after every inbox commit, and every
``idle`` seconds for what is due again.

The doors come first (issue #19 measures the answer, not the detail): fetching and ingesting a detail costs
about three times the CPU of answering its push, more than two cores give at 1,000 pushes a second. So the
hub runs the worker in a process of its own (:class:`InboxProcess`), off the doors' interpreter lock, at a
lower CPU priority (:class:`Priority`), and while the doors store a burst (over 200 messages a second) it
starts no fresh round for up to a minute (:class:`DoorsFirst`): the details, queued durably in the inbox,
drain once the burst is over, and a trickle is fetched at once. The hub wakes it through a pipe after every
inbox commit, saying how many messages it stored; the pipe's end closing (the hub stopped, or was killed)
stops it, so it is never orphaned, and a worker that dies is started again by the hub.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import sessionmaker

from app.bootstrap import OrderHub
from app.db import engine as db_engine
from app.hub.credentials import CredentialStore, KeptConnectors
from app.hub.db_status import HUB_DATABASE
from app.hub.pollers import Page, _route_changed
from app.hub.processes import Coalesced, Supervised, context
from app.services import ingest, push_inbox, shop_sync
from app.services.shop_sync import ShopConfig
from connectors.base import Connector, Credentials, PayloadError, PlatformError, RawOrder
from connectors.pos import PosReceiver

log = logging.getLogger(__name__)
APPLICATION_NAME = "orderhub-push-inbox"  # the worker process's PostgreSQL sessions
WAKE_EVERY = 0.05  # seconds: the hub passes its doors' commits on to the worker at most this often


@dataclass(frozen=True, slots=True)
class Backoff:
    """Seconds until a failed fetch is tried again: ``first``, doubling per attempt up to ``most``, ±20 %."""

    first: float = 5.0
    most: float = 600.0

    def after(self, attempt: int) -> float:
        return min(self.most, self.first * 2 ** max(0, attempt - 1)) * random.uniform(0.8, 1.2)


@dataclass(frozen=True, slots=True)
class DoorsFirst:
    """While the doors store more than ``busy`` messages a second, the worker starts no fresh round, for at most
    ``patience`` seconds; then it drains what piled up in full rounds without waiting again.

    Even at a lower priority, a worker fetching beside a 1,000/s burst takes a quarter of a core with its
    database session and the platform's side, and the doors' p99 doubles (drill_doors.py, 2-core box: 135 ms
    with the worker held, 290-330 ms beside it). A steady trickle below ``busy`` is fetched at once.
    """

    busy: float = 200.0
    patience: float = 60.0
    window: float = 1.0  # seconds over which the doors' rate is counted


def received_sale(source: str, shop_code: str) -> ingest.Normaliser:
    """How a received sale (``ingest.receive``) of ``source`` from the shop ``shop_code`` is read."""
    if source != "pos":
        raise PayloadError(f"没有读取「{source}」销售单的方式")
    return PosReceiver(shop_code, "").normalise  # read only: the signature was checked at the doors


class InboxWorker(threading.Thread):
    """Claims pending pushed messages, fetches their orders' details and stores them (see the module docstring)."""

    def __init__(self, app: OrderHub, factory: Callable[[ShopConfig, Credentials], Connector],
                 credentials: CredentialStore, *, batch: int = 200, fetchers: int = 8, lease: float = 30.0,
                 idle: float = 1.0, backoff: Backoff = Backoff(), doors_first: DoorsFirst = DoorsFirst(),
                 sales_batch: int = 500) -> None:
        super().__init__(daemon=True, name="push-inbox")
        self.app, self.credentials = app, credentials
        self.connectors = KeptConnectors(factory, credentials)
        self.batch, self.lease, self.idle, self.backoff = batch, lease, idle, backoff
        self.sales_batch = sales_batch  # received store sales whose orders one transaction creates
        self.pool = ThreadPoolExecutor(max_workers=fetchers, thread_name_prefix="push-detail")
        # Routing what a round stored runs beside the next round's claim and fetches, in order, one at a time.
        self.router = ThreadPoolExecutor(max_workers=1, thread_name_prefix="push-route")
        self.woken, self.stop_event = threading.Event(), threading.Event()
        self.doors_first = doors_first
        self._stored: list[tuple[float, int]] = []  # (when, how many) the doors stored, within the window
        self.holding_since: float | None = None  # waiting for the doors since (monotonic), or None
        self._shops: tuple[dict[int, ShopConfig], float] = ({}, float("-inf"))

    def wake(self, stored: int = 0) -> None:
        """``stored`` messages were committed to the inbox: look now (the doors allowing), not at the next idle tick."""
        if stored:
            now = time.monotonic()
            self._stored = [(at, n) for at, n in self._stored if now - at < self.doors_first.window] + [(now, stored)]
        self.woken.set()

    def doors_rate(self) -> float:
        """Messages a second the doors have been storing lately."""
        now = time.monotonic()
        return sum(n for at, n in self._stored if now - at < self.doors_first.window) / self.doors_first.window

    def run(self) -> None:
        full = False
        while not self.stop_event.is_set():
            self.woken.clear()
            if not full:  # a backlog is drained without waiting again
                self._wait_for_the_doors()
            try:
                full = self.run_once()
                HUB_DATABASE.ok()
            except Exception as err:  # the claims expire and are taken again; nothing is lost
                if not HUB_DATABASE.failed(err, "推送订单详情"):
                    log.exception("push inbox round failed")
                full = False
            if not full:
                self.woken.wait(self.idle)

    def _wait_for_the_doors(self) -> None:
        since = time.monotonic()
        while (self.doors_rate() >= self.doors_first.busy and time.monotonic() - since < self.doors_first.patience
               and not self.stop_event.is_set()):
            self.holding_since = since
            self.stop_event.wait(0.1)
        self.holding_since = None

    def run_once(self) -> bool:
        """One round: received store sales' orders created, and one claim of due messages handled; True if either
        was a full batch (more may be waiting)."""
        sales = len(ingest.create_received(self.app.uow(), received_sale, limit=self.sales_batch).outcomes)
        claimed = push_inbox.claim(self.app.uow(), limit=self.batch, lease=self.lease)
        by_shop: dict[int, list[push_inbox.Claimed]] = defaultdict(list)
        for c in claimed:
            by_shop[c.shop_id].append(c)
        for shop_id, messages in by_shop.items():
            self._shop_round(shop_id, messages)
        return len(claimed) >= self.batch or sales >= self.sales_batch

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


@dataclass(frozen=True, slots=True)
class Priority:
    """How the worker's process yields the CPU to the doors (Linux; elsewhere it runs at normal priority).

    ``policy``: ``"batch"`` (SCHED_BATCH: never preempts the doors when it wakes, and the scheduler treats it
    as the CPU-bound work it is), ``"idle"`` (SCHED_IDLE: only what nothing else wants; on a machine kept busy
    by something else it may barely run at all) or ``"normal"``. ``nice`` lowers its share further whenever
    it competes for a core (0 … 19; each step about 10 % less).
    """

    policy: str = "batch"
    nice: int = 10

    def apply(self) -> str:
        """Lower the calling thread's priority (threads started afterwards inherit it); what was done, in words."""
        done = []
        policies = {"batch": getattr(os, "SCHED_BATCH", None), "idle": getattr(os, "SCHED_IDLE", None)}
        chosen = policies.get(self.policy)
        if chosen is not None:
            try:
                os.sched_setscheduler(0, chosen, os.sched_param(0))
                done.append(self.policy)
            except OSError as err:
                log.info("push inbox worker keeps the normal scheduling policy: %s", err)
        if self.nice > 0 and hasattr(os, "nice"):
            try:
                done.append(f"nice {os.nice(self.nice)}")
            except OSError as err:
                log.info("push inbox worker keeps its niceness: %s", err)
        return ", ".join(done) or "normal"


@dataclass(frozen=True)
class _WorkerSpec:
    """What the worker's process builds itself from: picklable (no engine, no threads, no open files)."""

    settings: Any
    target: db_engine.DatabaseTarget
    factory: Callable[[ShopConfig, Credentials], Connector]
    credentials: CredentialStore
    options: dict[str, Any] = field(default_factory=dict)
    priority: Priority = Priority()
    log_level: int = logging.WARNING


def _worker_main(spec: _WorkerSpec, wake: Any) -> None:
    """The worker process: a lower priority, its own engine and :class:`InboxWorker`, woken by the hub's pipe.

    Ends when the pipe's other end closes: the hub stopped it, or the hub is gone (killed, crashed).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the whole process group: the hub stops us
    if not logging.getLogger().handlers:
        logging.basicConfig(level=spec.log_level, format="%(levelname)s %(name)s: %(message)s")
    how = spec.priority.apply()  # before any thread starts: Linux sets a priority per thread, and they inherit it
    log.info("push inbox worker %d runs at %s priority", os.getpid(), how)
    # Named, so its PostgreSQL backends can be told from the doors' (pg_stat_activity, the drill's CPU figures).
    engine = db_engine.create_engine(spec.target.url.update_query_dict({"application_name": APPLICATION_NAME}),
                                     pool_size=3, max_overflow=2)
    app = OrderHub(spec.settings, spec.target, engine, sessionmaker(engine, expire_on_commit=False))
    worker = InboxWorker(app, spec.factory, spec.credentials, **spec.options)
    worker.start()
    try:
        while True:
            worker.wake(int(wake.recv_bytes()))  # the hub's wake-up: how many messages the doors stored
    except (EOFError, OSError):  # the hub's end closed: stopped, or the hub is gone
        pass
    finally:
        worker.stop()
        app.close()


class InboxProcess(Supervised):
    """The hub's side of the worker's process: starts it, wakes it, starts it again if it dies, stops it
    (app/hub/processes.py).

    ``options`` are :class:`InboxWorker`'s (``batch``, ``fetchers``, ``lease``, ``idle``); they and ``backoff``
    may be changed until :meth:`start`. A worker that ends without being asked is logged and started again
    after ``restart_after`` seconds, doubling (up to a minute) while it keeps dying within ten seconds.
    """

    ENDED, NAME = "HUB_INBOX_WORKER_ENDED", "push-inbox"

    def __init__(self, app: OrderHub, factory: Callable[[ShopConfig, Credentials], Connector],
                 credentials: CredentialStore, *, priority: Priority = Priority(), restart_after: float = 1.0,
                 backoff: Backoff = Backoff(), **options: Any) -> None:
        super().__init__(restart_after=restart_after)
        self.app, self.factory, self.credentials = app, factory, credentials
        self.priority, self.backoff, self.options = priority, backoff, options
        # Wake-ups passed on coalesced: however many commits came meanwhile, one message, at most every WAKE_EVERY.
        self._waker = Coalesced(self._send, WAKE_EVERY, "push-inbox-wake")

    def start(self) -> InboxProcess:
        super().start()
        self._waker.start()
        return self

    def _launch(self) -> tuple[Any, Any]:
        ctx = context(__name__)
        reading, writing = ctx.Pipe(duplex=False)
        spec = _WorkerSpec(self.app.settings, self.app.target, self.factory, self.credentials,
                           {**self.options, "backoff": self.backoff}, self.priority,
                           logging.getLogger().getEffectiveLevel())
        process = ctx.Process(target=_worker_main, args=(spec, reading), name="push-inbox", daemon=True)
        try:
            process.start()
        except BaseException:
            writing.close()
            raise
        finally:
            reading.close()  # the worker's end, now its own
        return process, writing

    def _relaunched(self) -> None:
        self._waker.add()  # whatever was stored meanwhile

    def wake(self, stored: int = 0) -> None:
        """The doors committed ``stored`` messages to the inbox (after each group commit, any thread; never blocks)."""
        self._waker.add(stored)

    def _send(self, stored: int) -> None:
        with self._lock:
            pipe = self._pipe
        if pipe is not None:
            pipe.send_bytes(str(stored).encode())

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the worker to finish its round and end (its pipe closes); ended by force after ``timeout`` s
        (its claims expire and are fetched again, nothing is lost)."""
        super().stop(timeout)
        self._waker.stop()
