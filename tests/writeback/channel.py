"""One simulated channel for write-back tests: a SimWorld behind its platform simulator on loopback, a shop
row pointing at it, and orders taken into the hub through the real connector and intake."""

from __future__ import annotations

import dataclasses
import itertools

import sqlalchemy as sa

from app.bootstrap import OrderHub
from app.db.models import Order, Shipment, Shop
from app.hub import registry
from app.hub.pollers import ingest_raw
from app.services import writeback
from app.services.shop_sync import ShopConfig
from connectors.base import Connector, Credentials, RetryPolicy
from connectors.simulators.server import SimServer
from connectors.simulators.world import SimOrder, SimWorld

_codes = itertools.count(1)


class Channel:
    def __init__(self, hub: OrderHub, platform: str, *, seed: int = 3) -> None:
        self.hub, self.platform = hub, platform
        self.world = SimWorld(platform, seed=seed)
        self.creds = Credentials(app_key="20261202", app_secret="sim-secret-0123456789", access_token="sim-access",
                                 refresh_token="sim-refresh")
        self.sim = registry.simulator_module(platform).make_simulator(self.world, dataclasses.replace(self.creds))
        self.server = SimServer(self.sim.handle).start()
        code = f"{platform.upper()}-{next(_codes)}"
        with hub.uow() as uow:
            shop = Shop(code=code, name=f"小树苗{platform}店", platform=platform, api_base_url=self.server.url,
                        credentials_ref=f"test:{code}")
            uow.session.add(shop)
            uow.session.flush()
            self.shop = ShopConfig(shop.id, code, shop.name, platform, 15, self.server.url, shop.credentials_ref, None)
            uow.commit()

    def connector(self, **kw) -> Connector:
        return registry.connector_for(self.shop, dataclasses.replace(self.creds), timeout=3.0,
                                      policy=RetryPolicy(retries=0), **kw)

    def connector_for(self, shop_id: int) -> Connector | None:
        return self.connector() if shop_id == self.shop.id else None

    def take_order(self, *, lines: int | None = None) -> tuple[SimOrder, str]:
        """A new paid order on the platform, pulled into the hub as the poller would."""
        while True:
            sim = self.world.create(1)[0]
            if lines is None or len(sim.lines) >= lines:
                break
        connector = self.connector()
        try:
            result = ingest_raw(self.hub, self.shop, connector, [connector.fetch(sim.order_id)])
        finally:
            connector.close()
        return sim, result.outcomes[0].order_no

    def ship(self, order_no: str, tracking_no: str, carrier: str = "顺丰速运", *, line_ids: tuple[str, ...] = ()) -> int:
        """The warehouse ships (a parcel of) the order: shipment, stage and write-back in one transaction."""
        with self.hub.uow() as uow:
            s = uow.session
            order = s.execute(sa.select(Order).where(Order.order_no == order_no)).scalar_one()
            shipment = Shipment(order_id=order.id, carrier=carrier, tracking_no=tracking_no, status="created",
                                shipped_at=sa.func.now())
            s.add(shipment)
            order.status, order.tracking_no = "shipped", order.tracking_no or tracking_no
            s.flush()
            writeback.on_shipped(s, order, shipment, line_ids=line_ids)
            uow.commit()
            return shipment.id

    def sim_calls(self) -> list[str]:
        """The API names the simulator answered past its gateway checks, in order."""
        return [c.get("method") or c.get("type") or "" for c in getattr(self.sim, "calls", [])]

    def close(self) -> None:
        self.server.stop()
