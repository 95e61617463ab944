"""The hub process: claims shops by PostgreSQL advisory lock, polls each on its interval, receives pushes.

Several hubs may run against one database. A shop is polled only by the hub holding its
advisory lock, on a connection kept open for that purpose; when that hub dies its connection
closes, PostgreSQL releases the lock, and another hub claims the shop at its next claim round
(every ``claim_interval`` seconds, 5 by default — well inside the 30 s the business allows).

The hubs share the shops (issue #18): each live hub announces itself by a session advisory lock in
``HUB_NAMESPACE`` on a connection of its own (keyed by that session's backend pid, so two hubs never
collide), taken at its first claim round and gone with its connection when it dies. A hub claims at
most its share, ceil(pollable shops / live hubs), lowest shop ids first. A hub holding more than its
share while the other live hubs hold fewer than theirs lets go of its highest-id extra shops — only
when it saw the same excess at two claim rounds in a row (a hub that appears and vanishes moves
nothing) — by stopping their pollers: each finishes its current page, unlocks and the other hub
takes the shop at its next claim round. The shop lock stays the only guarantee against two hubs
polling one shop; the overlap window (``OVERLAP``) re-reads the handover's edge, stored once.
"""

from __future__ import annotations

import logging
import math
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
from app.hub.pollers import OVERLAP, PollReport, SeenVersions, poll_once
from app.services import map_counts, shop_sync
from app.services.shop_sync import ShopConfig
from connectors.base import Connector, Credentials, utc_now

log = logging.getLogger(__name__)

LOCK_NAMESPACE = 7428100  # (LOCK_NAMESPACE, shop id): the hub polling that shop
HUB_NAMESPACE = 7428101  # (HUB_NAMESPACE, backend pid of the hub's presence session): a live hub
ConnectorFactory = Callable[[ShopConfig, Credentials], Connector]


class ShopPoller(threading.Thread):
    """Owns one shop while it holds the shop's lock; polls until stopped or the lock connection dies."""

    def __init__(self, hub: Hub, shop: ShopConfig, connector: Connector, lock_conn: sa.Connection) -> None:
        super().__init__(name=f"poll-{shop.code}", daemon=True)
        self.hub, self.shop, self.connector, self.lock_conn = hub, shop, connector, lock_conn
        self.stop_event = threading.Event()
        self.reports: list[PollReport] = []
        self.seen = SeenVersions()  # versions read late enough to skip when listed again (issue #18)
        self.lost_database = False

    def run(self) -> None:
        try:
            while not self.stop_event.is_set() and not self.hub.stopping.is_set():
                if not self._still_holding():
                    log.info("hub %s lost %s to another hub", self.hub.hub_id, self.shop.code)
                    return
                shop_sync.heartbeat(self.hub.app.uow(), self.shop.id, self.hub.hub_id, utc_now())
                report = poll_once(self.hub.app, self.shop, self.connector, overlap=self.hub.overlap,
                                   should_stop=self.stop_event.is_set, seen=self.seen)
                self.reports.append(report)
                self.hub.tally(report)
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
        _unlock(self.lock_conn, LOCK_NAMESPACE, self.shop.id)
        self.connector.close()
        self.hub.forget(self.shop.id, self)
        if self.lost_database:  # a claim round now, not at the next interval (a bug waits it out: no crash loop)
            self.hub.wake.set()


def _unlock(conn: sa.Connection, namespace: int, key: int) -> None:
    """Let go of a session advisory lock and of its connection.

    The connection goes back to the engine's pool, whose session lives on, and a session's advisory
    lock with it: so unlock first. A connection that cannot is discarded (its session closes, and the
    server drops the lock with it); a broken one has already lost it.
    """
    try:
        conn.scalar(sa.text("SELECT pg_advisory_unlock(:ns, :key)"), {"ns": namespace, "key": key})
        conn.commit()
    except Exception:  # already broken: the server has dropped the lock with it
        log.debug("lock (%s, %s) went with its session", namespace, key)
        try:
            conn.invalidate()
        except Exception:
            pass
    try:
        conn.close()
    except Exception:
        pass


# Live hubs (their presence locks) and held shop locks, in this database only (a server may hold several).
_SEEN = sa.text(
    "SELECT count(*) FILTER (WHERE classid = :hubs), count(*) FILTER (WHERE classid = :shops) FROM pg_locks"
    " WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid IN (:hubs, :shops)"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")


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
        self._presence: sa.Connection | None = None  # holds (HUB_NAMESPACE, its backend pid) while this hub lives
        self._presence_key = 0
        self._excess_seen: tuple[int, int] | None = None  # (live hubs, share) of an excess seen last round
        self.released: list[int] = []  # shops let go of to other hubs, in order (for the operator's log and tests)
        self.rounds = 0  # claim rounds completed
        # what every poll of this hub did, summed (kept when a shop's poller ends): payloads fetched,
        # stored, and re-listed orders spared a detail call (issue #18), for the operator and benchmarks
        self.polled = dict.fromkeys(("polls", "payloads", "stored", "skipped"), 0)

    def interval_for(self, shop: ShopConfig) -> float:
        return self.poll_interval if self.poll_interval is not None else float(shop.poll_interval_s or 15)

    def owned(self) -> set[int]:
        with self._lock:
            return set(self.pollers)

    def polling(self) -> set[int]:
        """The shops this hub polls and keeps: owned, less those whose pollers were told to let go."""
        with self._lock:
            return {shop_id for shop_id, p in self.pollers.items() if not p.stop_event.is_set()}

    def _announce(self) -> tuple[int, int]:
        """Hold this hub's presence lock (again, if its session was ended); returns (live hubs, held shop locks)."""
        if self._presence is not None:
            try:
                self._presence.exec_driver_sql("SELECT 1")
                self._presence.commit()
            except sa.exc.DBAPIError:  # its session was ended (or the server restarted): announce again
                _unlock(self._presence, HUB_NAMESPACE, self._presence_key)
                self._presence = None
        if self._presence is None:
            conn = self.app.engine.connect()
            try:
                self._presence_key = conn.scalar(sa.text("SELECT pg_backend_pid()"))
                # keyed by the session's own pid: no other live session can hold it, so this never waits
                conn.scalar(sa.text("SELECT pg_try_advisory_lock(:ns, :key)"),
                            {"ns": HUB_NAMESPACE, "key": self._presence_key})
                conn.commit()
            except Exception:
                conn.close()
                raise
            self._presence = conn
        live, held = self._presence.execute(_SEEN, {"hubs": HUB_NAMESPACE, "shops": LOCK_NAMESPACE}).one()
        self._presence.commit()
        return max(int(live), 1), int(held)

    def _let_go_of_extra(self, live: int, share: int, held: int) -> None:
        """Stop the pollers of the shops beyond this hub's share, highest ids first, when the others have room.

        Acts only on an excess seen at two rounds in a row with the same number of hubs and share, so a
        hub that is announced but not yet claiming (or comes and goes) does not make shops move back and forth.
        """
        mine = sorted(self.polling())
        others_room = (live - 1) * share - (held - len(mine))
        excess = min(len(mine) - share, others_room)
        if excess <= 0:
            self._excess_seen = None
            return
        if self._excess_seen != (live, share):
            self._excess_seen = (live, share)
            return
        self._excess_seen = None
        with self._lock:
            for shop_id in mine[-excess:]:
                poller = self.pollers.get(shop_id)  # gone meanwhile (its database connection failed): nothing to do
                if poller is not None:
                    poller.stop_event.set()
                    self.released.append(shop_id)
        log.info("hub %s lets go of shops %s: its share is %d of them with %d hubs live", self.hub_id,
                 mine[-excess:], share, live)

    def tally(self, report: PollReport) -> None:
        with self._lock:
            for key, n in (("polls", 1), ("payloads", report.payloads), ("stored", report.stored),
                           ("skipped", report.skipped)):
                self.polled[key] += n

    def forget(self, shop_id: int, poller: ShopPoller) -> None:
        with self._lock:
            if self.pollers.get(shop_id) is poller:
                del self.pollers[shop_id]

    def claim_round(self) -> list[int]:
        """Take pollable shops nobody holds up to this hub's share, and let go of extra ones (module
        docstring); returns the shops newly claimed."""
        live, held = self._announce()
        shops = [s for s in shop_sync.enabled_shops(self.app.uow()) if s.api_base_url and s.platform != "pos"]
        share = math.ceil(len(shops) / live)
        self._let_go_of_extra(live, share, held)
        claimed = []
        for shop in shops:
            if len(self.polling()) >= share:
                break
            if shop.id in self.owned():
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
        self.rounds += 1
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
        if self._presence is not None:  # the other hubs count one fewer at their next round
            _unlock(self._presence, HUB_NAMESPACE, self._presence_key)
            self._presence = None
