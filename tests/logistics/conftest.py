"""Live-logistics fixtures: a shipped order, the hub's receiver with carrier routes, and both carrier simulators."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.db.models import Order, Shipment, Shop
from app.hub import registry
from app.hub.carrier_receiver import CarrierAccounts, CarrierReceiver
from app.hub.credentials import FileStore
from app.hub.receiver import Receiver, ReceiverServer
from app.services import writeback
from connectors.kuaidi100 import Kuaidi100
from connectors.sf_express import SfExpress
from connectors.simulators.kuaidi100 import Kuaidi100Simulator
from connectors.simulators.parcels import Road
from connectors.simulators.server import SimServer
from connectors.simulators.sf_express import SfSimulator

SALT = "kd100-salt-0123"
_n = itertools.count(1)


@dataclass
class Carriers:
    hub: object
    receiver: ReceiverServer
    road: Road
    kd100_sim: Kuaidi100Simulator
    kd100: Kuaidi100
    sf_sim: SfSimulator
    sf: SfExpress

    def shipped_order(self, tracking_no: str, carrier: str = "顺丰速运", *, province: str = "广东省",
                      shipped_hours_ago: float = 2) -> str:
        """A paid order that left the warehouse ``shipped_hours_ago`` (its parcel queued for subscription)."""
        n = next(_n)
        at = datetime.now(UTC) - timedelta(hours=shipped_hours_ago)
        with self.hub.uow() as uow:
            s = uow.session
            shop = s.scalar(sa.select(Shop).where(Shop.code == "DY-LOGI"))
            if shop is None:
                shop = Shop(code="DY-LOGI", name="小树苗童装抖音旗舰店", platform="douyin")
                s.add(shop)
                s.flush()
            order = Order(order_no=f"OHLOGI{n:06d}", platform="douyin", platform_order_no=f"69{n:017d}", shop_id=shop.id,
                          ordered_at=at - timedelta(hours=5), paid_at=at - timedelta(hours=5), customer_id=f"C{n:08d}",
                          items=[{"line_no": 1, "platform_line_id": f"69{n:017d}1", "sku": "T2601-01-110", "qty": 1,
                                  "paid": "69.00", "name": "纯棉恐龙印花短袖T恤"}],
                          original_amount=Decimal("69.00"), paid_amount=Decimal("69.00"), status="shipped",
                          tracking_no=tracking_no, province=province, city="深圳市", receiver_address="广东省深圳市南山区***")
            s.add(order)
            s.flush()
            shipment = Shipment(order_id=order.id, carrier=carrier, tracking_no=tracking_no, status="created",
                                shipped_at=at)
            s.add(shipment)
            s.flush()
            writeback.on_shipped(s, order, shipment)
            uow.commit()
            return order.order_no


@pytest.fixture
def carriers(hub, tmp_path):
    road = Road(seed=9)
    accounts = CarrierAccounts(kuaidi100_salt=SALT, sf_partner_id="XSMTZ", sf_check_word="sf-check-word-0123")
    receiver = ReceiverServer(Receiver(hub, registry.connector_for, FileStore(tmp_path / "secrets.json"),
                                       carriers=CarrierReceiver(hub, accounts))).start()
    kd_sim = Kuaidi100Simulator(road, key="kd100-key")
    sf_sim = SfSimulator(road, partner_id="XSMTZ", check_word="sf-check-word-0123", push_url=f"{receiver.url}/carrier/sf")
    kd_server, sf_server = SimServer(kd_sim.handle).start(), SimServer(sf_sim.handle).start()
    kd = Kuaidi100(kd_server.url, "kd100-key", SALT, f"{receiver.url}/carrier/kuaidi100")
    sf = SfExpress(sf_server.url, "XSMTZ", "sf-check-word-0123")
    yield Carriers(hub, receiver, road, kd_sim, kd, sf_sim, sf)
    for closer in (kd.close, sf.close, kd_sim.close, sf_sim.close, kd_server.stop, sf_server.stop, receiver.stop):
        closer()
