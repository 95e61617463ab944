"""After-sales fixtures: the demo company (flows saved as version 1), orders built to order, an SMS gateway."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.bootstrap import OrderHub
from app.db.models import Invoice, Order, Shop, Sku, Stock, Warehouse
from app.demo.after_sales_flows import SIGN_NAME, SMS_TEMPLATE_TEXTS
from app.demo.seed import seed_demo
from app.domain.actor import Actor
from connectors.simulators.server import SimServer
from connectors.simulators.sms import SmsGatewaySimulator
from connectors.sms import AliyunSms

CS = Actor("xiaomei", "客服工作台-01", "10.20.1.21")
CS2 = Actor("ajie", "客服工作台-02", "10.20.1.22")
ADMIN = Actor("liu.gong", "配置工作站-01", "10.20.1.8")
PHONE = "13800138000"
_n = itertools.count(1)


@dataclass(frozen=True)
class Company:
    hub: OrderHub

    def order(self, lines: Sequence[tuple[str, int, str]], *, status: str = "shipped", gift: bool = False,
              invoice: bool = True, buyer_confirmed: bool = False, warehouse: str = "HZ",
              phone: str = "138****8000") -> str:
        """An order of ``lines`` (sku, qty, paid) shipped from ``warehouse``; with the 满299 socks if ``gift``."""
        n = next(_n)
        with self.hub.uow() as uow:
            s = uow.session
            skus = {k.sku_code: k for k in s.scalars(sa.select(Sku).where(Sku.sku_code.in_([c for c, _, _ in lines])))}
            items = [{"line_no": i, "sku": code, "name": skus[code].name, "color": skus[code].color,
                      "size": skus[code].size, "qty": qty, "unit_price": str(skus[code].price), "paid": paid,
                      "is_gift": False, "line_status": "normal"} for i, (code, qty, paid) in enumerate(lines, 1)]
            if gift:
                sock = s.scalars(sa.select(Sku).where(Sku.is_gift_item.is_(True)).order_by(Sku.id)).first()
                items.append({"line_no": len(items) + 1, "sku": sock.sku_code, "name": sock.name, "color": sock.color,
                              "size": sock.size, "qty": 1, "unit_price": "0.00", "paid": "0.00", "is_gift": True,
                              "line_status": "normal", "gift_rule": "R-GIFT-299"})
            paid = sum((Decimal(p) for _, _, p in lines), Decimal("0.00"))
            shop = s.scalars(sa.select(Shop).where(Shop.platform == "douyin")).first()
            wh = s.scalar(sa.select(Warehouse.id).where(Warehouse.code == warehouse))
            at = datetime.now(UTC) - timedelta(days=3)
            order = Order(order_no=f"OHT{n:09d}", platform="douyin", platform_order_no=f"69{n:017d}", shop_id=shop.id,
                          ordered_at=at, paid_at=at, customer_id=f"buyer-{n}", items=items, original_amount=paid,
                          paid_amount=paid, status=status, tracking_no=f"SF{n:012d}" if status != "allocating" else None,
                          invoice_status="issued" if invoice else "none", receiver_name="张*",
                          receiver_phone=phone, receiver_phone_tail=phone[-4:], receiver_address="浙江省杭州市西湖区文三路1号",
                          province="浙江省", city="杭州市", district="西湖区", warehouse_id=wh, version=1)
            s.add(order)
            s.flush()
            if invoice:
                s.add(Invoice(order_id=order.id, invoice_no=f"2633{n:016d}", kind="blue", amount=paid,
                              tax_amount=(paid - paid / Decimal("1.13")).quantize(Decimal("0.01")), title="个人",
                              issued_at=at + timedelta(hours=2), buyer_confirmed=buyer_confirmed))
            uow.commit()
            return order.order_no

    def stock(self, sku: str, on_hand: int, *, warehouse: str = "HZ") -> None:
        """Exactly ``on_hand`` free units of ``sku``, all in ``warehouse``."""
        with self.hub.uow() as uow:
            s = uow.session
            sku_id = s.scalar(sa.select(Sku.id).where(Sku.sku_code == sku))
            wh = s.scalar(sa.select(Warehouse.id).where(Warehouse.code == warehouse))
            s.execute(sa.update(Stock).where(Stock.sku_id == sku_id).values(on_hand=0, reserved=0, safety_stock=0))
            row = s.scalars(sa.select(Stock).where(Stock.sku_id == sku_id, Stock.warehouse_id == wh)).first()
            if row is None:
                s.add(Stock(sku_id=sku_id, warehouse_id=wh, on_hand=on_hand, reserved=0, safety_stock=0))
            else:
                row.on_hand = on_hand
            uow.commit()

    def free(self, sku: str) -> tuple[int, int]:
        """(on hand, reserved) of ``sku`` over all warehouses."""
        with self.hub.uow() as uow:
            return tuple(uow.session.execute(sa.text(
                "SELECT coalesce(sum(on_hand),0), coalesce(sum(reserved),0) FROM stock JOIN skus ON skus.id = stock.sku_id "
                "WHERE sku_code = :c"), {"c": sku}).one())

    def scalar(self, sql: str, **params: object) -> object:
        with self.hub.uow() as uow:
            return uow.session.scalar(sa.text(sql), params)

    def rows(self, sql: str, **params: object) -> list[dict]:
        with self.hub.uow() as uow:
            return [dict(r) for r in uow.session.execute(sa.text(sql), params).mappings()]

    def items(self, order_no: str) -> list[dict]:
        return self.scalar("SELECT items FROM orders WHERE order_no = :o", o=order_no)  # type: ignore[return-value]


@pytest.fixture
def company(hub: OrderHub) -> Company:
    """The demo company (small), its flows saved as version 1 by the admin."""
    seed_demo(hub, n_orders=60)
    return Company(hub)


@pytest.fixture
def gateway() -> Iterator[tuple[SmsGatewaySimulator, AliyunSms]]:
    """A loopback SMS gateway that knows the brand's 签名 and templates, and a client for it."""
    sim = SmsGatewaySimulator(sign_names={SIGN_NAME}, templates=dict(SMS_TEMPLATE_TEXTS))
    server = SimServer(sim.handle).start()
    client = AliyunSms(server.url, "LTAI5tOrderHubDemo", "orderhub-demo-secret", SIGN_NAME, timeout=2.0)
    yield sim, client
    client.close()
    server.stop()
