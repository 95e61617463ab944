"""The hub process: claims shops by PostgreSQL advisory lock, polls each on its interval, receives pushes.

Several hubs may run against one database. A shop is polled only by the hub holding its
advisory lock, on a connection kept open for that purpose; when that hub dies its connection
closes, PostgreSQL releases the lock, and another hub claims the shop at its next claim round
(every ``claim_interval`` seconds, 5 by default — well inside the 30 s the business allows).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa

from app.bootstrap import OrderHub
from app.hub.credentials import CredentialStore, wire
from app.hub.db_status import HUB_DATABASE, is_lost_database
from app.hub.pollers import OVERLAP, PollReport, poll_once
from app.services import map_counts, shop_sync
from app.services.shop_sync import ShopConfig
from connectors.base import Connector, Credentials, utc_now

log = logging.getLogger(__name__)

LOCK_NAMESPACE = 7428100
ConnectorFactory = Callable[[ShopConfig, Credentials], Connector]


class ShopPoller(threading.Thread):
    """Owns one shop while it holds the shop's lock; polls until stopped or the lock connection dies."""

    def __init__(self, hub: Hub, shop: ShopConfig, connector: Connector, lock_conn: sa.Connection) -> None:
        super().__init__(name=f"poll-{shop.code}", daemon=True)
        self.hub, self.shop, self.connector, self.lock_conn = hub, shop, connector, lock_conn
        self.stop_event = threading.Event()
        self.reports: list[PollReport] = []
        self.lost_database = False

    def run(self) -> None:
        try:
            while not self.stop_event.is_set() and not self.hub.stopping.is_set():
                if not self._still_holding():
                    log.info("hub %s lost %s to another hub", self.hub.hub_id, self.shop.code)
                    return
                shop_sync.heartbeat(self.hub.app.uow(), self.shop.id, self.hub.hub_id, utc_now())
                self.reports.append(poll_once(self.hub.app, self.shop, self.connector, overlap=self.hub.overlap,
                                              should_stop=self.stop_event.is_set))
                HUB_DATABASE.ok()
                self.stop_event.wait(self.hub.interval_for(self.shop))
        except Exception as err:  # the database went away, or a bug: release the shop so another hub can take it
            # (the claimer takes it again within ``claim_interval`` once the database answers; the
            # high-water mark only moved for windows stored completely, so the next poll re-reads the rest)
            self.lost_database = HUB_DATABASE.failed(err, f"店铺「{self.shop.name}」的订单拉取")
            if not self.lost_database:
                log.exception("poller for %s stopped", self.shop.code)
        finally:
            self.release()

    def _still_holding(self) -> bool:
        """Whether this hub still holds the shop's advisory lock, checked before every poll.

        The lock lives on ``lock_conn``'s session: when an operator's ``pg_terminate_backend`` (or a
        proxy) ends that session, the lock goes with it while the pooled connections the poll uses
        reconnect unnoticed, so without this check the hub would go on polling a shop another hub
        may claim. The lock is taken again on a new session; if another hub got there first, this
        poller stops. A database that is away altogether raises, as any other query would.
        """
        try:
            self.lock_conn.exec_driver_sql("SELECT 1")
            self.lock_conn.commit()
            return True
        except sa.exc.DBAPIError as err:
            if not is_lost_database(err):
                raise
        try:
            self.lock_conn.close()
        except sa.exc.DBAPIError:
            pass
        self.lock_conn = self.hub.app.engine.connect()
        got = self.lock_conn.scalar(sa.text("SELECT pg_try_advisory_lock(:ns, :shop)"),
                                    {"ns": LOCK_NAMESPACE, "shop": self.shop.id})
        self.lock_conn.commit()
        return bool(got)

    def release(self) -> None:
        try:
            self.lock_conn.close()  # closing the session releases its advisory locks
        except Exception:  # already broken: the server has dropped the lock with it
            log.debug("lock connection for %s already closed", self.shop.code)
        self.connector.close()
        self.hub.forget(self.shop.id, self)
        if self.lost_database:  # a claim round now, not at the next interval (a bug waits it out: no crash loop)
            self.hub.wake.set()


class Hub:
    """Claims and polls shops; see the module docstring for how ownership moves between hubs."""

    def __init__(self, app: OrderHub, factory: ConnectorFactory, credentials: CredentialStore, *,
                 hub_id: str | None = None, claim_interval: float = 5.0, overlap: timedelta = OVERLAP,
                 poll_interval: float | None = None) -> None:
        self.app, self.factory, self.credentials = app, factory, credentials
        self.hub_id = hub_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.claim_interval, self.overlap, self.poll_interval = claim_interval, overlap, poll_interval
        self.stopping = threading.Event()
        self.wake = threading.Event()  # set by a poller that let its shop go, and by stop()
        self.pollers: dict[int, ShopPoller] = {}
        self._lock = threading.Lock()
        self._claimer: threading.Thread | None = None

    def interval_for(self, shop: ShopConfig) -> float:
        return self.poll_interval if self.poll_interval is not None else float(shop.poll_interval_s or 15)

    def owned(self) -> set[int]:
        with self._lock:
            return set(self.pollers)

    def forget(self, shop_id: int, poller: ShopPoller) -> None:
        with self._lock:
            if self.pollers.get(shop_id) is poller:
                del self.pollers[shop_id]

    def claim_round(self) -> list[int]:
        """Try to take every pollable shop nobody holds; returns the shops newly claimed."""
        claimed = []
        for shop in shop_sync.enabled_shops(self.app.uow()):
            if shop.id in self.owned() or not shop.api_base_url or shop.platform == "pos":
                continue
            creds = self.credentials.get(shop.credentials_ref or "")
            if creds is None:
                shop_sync.pull_failed(self.app.uow(), shop.id, utc_now(),
                                      f"店铺「{shop.name}」没有可用的接口凭据，请在配置中授权")
                continue
            conn = self.app.engine.connect()
            got = conn.scalar(sa.text("SELECT pg_try_advisory_lock(:ns, :shop)"), {"ns": LOCK_NAMESPACE, "shop": shop.id})
            conn.commit()
            if not got:
                conn.close()
                continue
            poller = ShopPoller(self, shop, self._connector(shop, creds), conn)
            with self._lock:
                self.pollers[shop.id] = poller
            poller.start()
            claimed.append(shop.id)
            log.info("hub %s now polls %s", self.hub_id, shop.code)
        return claimed

    def _connector(self, shop: ShopConfig, creds: Credentials) -> Connector:
        return wire(self.factory(shop, creds), self.credentials, shop.credentials_ref)

    def start(self) -> Hub:
        def loop() -> None:
            while not self.stopping.is_set():
                wait = self.claim_interval
                try:
                    self.claim_round()
                    map_counts.fold(self.app.uow())  # the order map's deltas into its counts (issue #18)
                    HUB_DATABASE.ok()
                except Exception as err:  # a lost database: keep trying, pollers will resume when it is back
                    if HUB_DATABASE.failed(err, "店铺认领与订单接入"):
                        # its pollers died with it: look every second, so the shops are polled again
                        # within a second of the database coming back rather than a whole claim interval
                        wait = min(wait, 1.0)
                    else:
                        log.exception("claim round failed")
                self.wake.wait(wait)
                self.wake.clear()

        self._claimer = threading.Thread(target=loop, name="claimer", daemon=True)
        self._claimer.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.wake.set()
        for poller in list(self.pollers.values()):
            poller.stop_event.set()
        for poller in list(self.pollers.values()):
            poller.join(timeout)
        if self._claimer is not None:
            self._claimer.join(timeout)
