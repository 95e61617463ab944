"""The hub's write-back and live-logistics loop, and (demo) the carrier simulators that make parcels move.

Every round: ship confirmations and refund answers to the platforms, tracking subscriptions and
拦截件 requests to the carriers, and the sweep that flags parcels standing still. Carrier
accounts live in the credential store (``orderhub:kuaidi100``: key + salt; ``orderhub:sf``:
partner id + check word; each with ``extra.base_url`` and, for 快递100, ``extra.callback_url``).
"""

from __future__ import annotations

import logging
import secrets
import threading
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.db.models import Shipment
from app.domain import clock
from app.domain.carriers import StillLimits, carrier_named
from app.hub.carrier_dispatch import dispatch_intercepts, dispatch_subscriptions
from app.hub.carrier_receiver import CarrierAccounts
from app.hub.credentials import CredentialStore, wire
from app.hub.db_status import HUB_DATABASE
from app.hub.registry import connector_for
from app.hub.writeback_dispatch import dispatch_refunds, dispatch_ship
from app.services import shop_sync, tracking, writeback
from connectors.base import Connector, Credentials, RetryPolicy
from connectors.kuaidi100 import Kuaidi100
from connectors.sf_express import SfExpress

if TYPE_CHECKING:
    from app.bootstrap import OrderHub

log = logging.getLogger(__name__)
KUAIDI100_REF, SF_REF = "orderhub:kuaidi100", "orderhub:sf"


def platform_connectors(app: OrderHub, store: CredentialStore) -> Any:
    """shop id → a connector for write-backs (no retries of its own: the outbox retries), or None."""
    def make(shop_id: int) -> Connector | None:
        shop = next((s for s in shop_sync.enabled_shops(app.uow()) if s.id == shop_id), None)
        creds = store.get(shop.credentials_ref or "") if shop and shop.api_base_url else None
        if shop is None or creds is None or shop.platform == "pos":
            return None
        return wire(connector_for(shop, creds, policy=RetryPolicy(retries=0)), store, shop.credentials_ref)
    return make


def carrier_clients(store: CredentialStore) -> tuple[Kuaidi100 | None, SfExpress | None, CarrierAccounts]:
    kd, sf = store.get(KUAIDI100_REF), store.get(SF_REF)
    # extra: label_secret (企业版 secret, for interception), label_url, partner_<carrier key> (e.g. partner_jd),
    # intercept_callback_url (where 快递100 posts interception results; default: callback_url + "-intercept")
    kd100 = Kuaidi100(kd.extra.get("base_url", "https://poll.kuaidi100.com"), kd.app_key, kd.app_secret,
                      kd.extra.get("callback_url", ""), label_url=kd.extra.get("label_url", "https://api.kuaidi100.com"),
                      label_secret=kd.extra.get("label_secret", ""),
                      partners={k.removeprefix("partner_"): v for k, v in kd.extra.items() if k.startswith("partner_")},
                      intercept_callback_url=kd.extra.get("intercept_callback_url")) if kd else None
    sf_client = SfExpress(sf.extra.get("base_url", "https://bspgw.sf-express.com"), sf.app_key, sf.app_secret) if sf else None
    return kd100, sf_client, CarrierAccounts(kd.app_secret if kd else "", sf.app_key if sf else "",
                                             sf.app_secret if sf else "")


class LogisticsWorker(threading.Thread):
    """One write-back / logistics round every ``every`` seconds; a failed round is logged and retried."""

    def __init__(self, app: OrderHub, store: CredentialStore, *, every: float = 5.0,
                 still: StillLimits | None = None) -> None:
        super().__init__(daemon=True, name="logistics")
        self.app, self.store, self.every = app, store, every
        self.still = still or StillLimits()  # the settings' still_hours / still_hours_by_carrier
        self.kd100, self.sf, self.accounts = carrier_clients(store)
        self.connectors = platform_connectors(app, store)
        self.stop_event = threading.Event()

    def run_once(self) -> None:
        for name, report in (("ship", dispatch_ship(self.app, self.connectors)),
                             ("refund", dispatch_refunds(self.app, self.connectors)),
                             ("subscribe", dispatch_subscriptions(self.app, self.kd100)),
                             ("intercept", dispatch_intercepts(self.app, self.sf, kd100=self.kd100))):
            if any(vars(report).values()):
                log.info("%s: %s", name, report)
        tracking.flag_still(self.app.uow(), hours=self.still, now=clock.now())

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.run_once()
                HUB_DATABASE.ok()
            except Exception as err:
                if not HUB_DATABASE.failed(err, "发货回传与物流跟踪"):
                    log.exception("write-back round failed; trying again in %.0f s", self.every)
            self.stop_event.wait(self.every)

    def stop(self) -> None:
        self.stop_event.set()
        for client in (self.kd100, self.sf):
            if client is not None:
                client.close()


def start_simulated_carriers(app: OrderHub, store: CredentialStore, receiver_url: str) -> list[Any]:
    """(Demo) 快递100 and 顺丰丰桥 simulators on loopback, their accounts in the store, parcels moving."""
    from connectors.simulators.kuaidi100 import Kuaidi100Simulator
    from connectors.simulators.parcels import Road
    from connectors.simulators.server import SimServer
    from connectors.simulators.sf_express import SfSimulator

    road = Road()
    key, salt, partner, check = "kd100-demo", secrets.token_hex(8), "OHDEMO", secrets.token_hex(12)
    kd_sim = Kuaidi100Simulator(road, key=key)
    sf_sim = SfSimulator(road, partner_id=partner, check_word=check, push_url=f"{receiver_url}/carrier/sf")
    kd_server, sf_server = SimServer(kd_sim.handle).start(), SimServer(sf_sim.handle).start()
    store.put(KUAIDI100_REF, Credentials(key, salt, extra={"base_url": kd_server.url,
                                                           "callback_url": f"{receiver_url}/carrier/kuaidi100"}))
    store.put(SF_REF, Credentials(partner, check, extra={"base_url": sf_server.url}))
    writeback.subscribe_open_parcels(app.uow())  # the demo's parcels already on the road get tracked too
    mover = _ParcelMover(app, kd_sim, sf_sim)
    mover.start()
    return [kd_server, sf_server, mover]


class _ParcelMover(threading.Thread):
    """(Demo) every few seconds one parcel on the road moves on, and its carrier pushes the new node."""

    def __init__(self, app: OrderHub, kd_sim: Any, sf_sim: Any, every: float = 4.0) -> None:
        super().__init__(daemon=True, name="parcel-mover")
        self.app, self.kd_sim, self.sf_sim, self.every = app, kd_sim, sf_sim, every
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            try:
                self._move_one()
            except Exception as err:  # the hub may be starting or the database away: next time
                log.info("parcel mover: %s", err)

    def _move_one(self) -> None:
        with self.app.uow() as uow:
            rows = uow.session.execute(sa.select(Shipment.tracking_no, Shipment.carrier)
                                       .where(Shipment.status.in_(("created", "in_transit", "delivering")))
                                       .order_by(sa.func.random()).limit(1)).all()
        for tracking_no, carrier_name in rows:
            carrier = carrier_named(carrier_name)
            if carrier is not None and carrier.tracker == "sf":
                self.sf_sim.advance(tracking_no)
            elif tracking_no in self.kd_sim.subscriptions:
                self.kd_sim.advance(tracking_no)

    def stop(self) -> None:
        self.stop_event.set()

