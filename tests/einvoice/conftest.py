"""E-invoice fixtures: the 诺诺 simulator on loopback, the provider set up, the sender, orders that need invoices."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.bootstrap import OrderHub
from app.db.models import Invoice, Order
from app.domain.actor import Actor
from app.hub.credentials import FileStore
from app.hub.einvoice_dispatch import EinvoiceDispatcher
from app.services import einvoice
from connectors.base import Credentials
from connectors.simulators.nuonuo import NuonuoSimulator
from connectors.simulators.server import SimServer
from tests.support.factories import make_order

ADMIN = Actor("liu.gong", "配置工作站-01", "10.20.1.8")
APP_KEY, APP_SECRET = "SD63236305", "SDDED2523BED4643"
SELLER = "339902999999789113"  # the sandbox tax number the 诺诺 pages give


@dataclass
class Tax:
    hub: OrderHub
    sim: NuonuoSimulator
    server: SimServer
    store: FileStore
    sender: EinvoiceDispatcher

    def later(self, **delta: float):
        with self.hub.uow() as uow:
            return uow.session.scalar(sa.select(sa.func.now())) + timedelta(**delta)

    def run(self, rounds: int = 10) -> None:
        """Rounds of the sender, each at a later moment so every pause has passed."""
        for i in range(rounds):
            self.sender.run_once(now=self.later(minutes=10 * (i + 1)))

    def bound_order(self, paid: str = "299.00") -> str:
        """An order the 小程序 rule binds to an invoice (开票状态 → 待开票)."""
        order_no, _ = make_order(self.hub, "paid", paid=paid, platform="wechat")
        with self.hub.uow() as uow:
            uow.session.execute(sa.update(Order).where(Order.order_no == order_no).values(invoice_status="pending"))
            uow.commit()
        return order_no

    def invoices(self, order_no: str) -> list[tuple[str, str, Decimal]]:
        with self.hub.uow() as uow:
            return [tuple(r) for r in uow.session.execute(
                sa.select(Invoice.kind, Invoice.invoice_no, Invoice.amount).join(Order, Order.id == Invoice.order_id)
                .where(Order.order_no == order_no).order_by(Invoice.id))]


@pytest.fixture
def tax(hub: OrderHub, tmp_path: Path) -> Iterator[Tax]:
    sim = NuonuoSimulator({APP_KEY: APP_SECRET})
    server = SimServer(sim.handle).start()
    store = FileStore(tmp_path / "secrets.json")
    store.put("orderhub:einvoice:nuonuo", Credentials(app_key=APP_KEY, app_secret=APP_SECRET,
                                                       extra={"user_tax": SELLER}))
    einvoice.save_provider(hub.uow(), einvoice.ProviderConfig(
        code="nuonuo", name="诺诺（模拟）", api_url=f"{server.url}/open/v1/services", token_url=f"{server.url}/accessToken",
        secret_ref="orderhub:einvoice:nuonuo", seller_tax_no=SELLER, seller_name="杭州小树苗服饰有限公司", clerk="张会计",
        invoice_line="pc", goods_code="1040201010000000000", tax_rate=Decimal("0.13")), actor=ADMIN)
    sender = EinvoiceDispatcher(hub, store, timeout=0.5)
    yield Tax(hub, sim, server, store, sender)
    sender.close()
    server.stop()
