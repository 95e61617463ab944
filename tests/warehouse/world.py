"""A small warehouse for warehouse tests: one own warehouse with bins in two zones, SKUs with barcodes,
stock in bins, and orders routed by the real routing service (so each line has its reserved bin)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from app.bootstrap import OrderHub
from app.db.models import Bin, Order, Shop, Sku, Stock, Warehouse
from app.domain.actor import Actor
from app.services import routing

LEAD = Actor("wang.lead", "仓库工作台-01", "10.20.3.2")
PICKER = Actor("li.sf", "仓库工作台-01", "10.20.3.7")
OTHER_PICKER = Actor("zhao.j", "仓库工作台-02", "10.20.3.8")
CS = Actor("xiaomei", "客服工作台-01", "10.20.1.17")
_n = itertools.count(1)

# (SKU, name, colour, size, barcode, bin code, zone, aisle, rack, level, pick sequence); bins listed off-path
SKUS = (
    ("T2601-01-110", "纯棉恐龙印花短袖T恤", "白色", "110", "6901234500011", "B-02-01-1", "B", 2, 1, 1, 30),
    ("W2602-01-120", "加绒连帽卫衣", "燕麦色", "120", "6901234500028", "A-01-02-1", "A", 1, 2, 1, 2),
    ("J2603-02-130", "加绒弹力牛仔裤", "黑色", "130", "6901234500035", "A-03-01-2", "A", 3, 1, 2, 9),
    ("GIFT-SOCK-01-M", "纯棉中筒袜（赠品）", "白色", "M", "6901234500042", "C-01-01-1", "C", 1, 1, 1, 50),
    ("D2604-03-100", "碎花棉布连衣裙", "粉色", "100", "6901234500059", "B-01-01-1", "B", 1, 1, 1, 20),
)
BARCODE = {s[0]: s[4] for s in SKUS}


@dataclass(frozen=True)
class WarehouseWorld:
    hub: OrderHub
    warehouse_id: int
    shop_id: int


def build(hub: OrderHub, *, on_hand: int = 100) -> WarehouseWorld:
    with hub.uow() as uow:
        s = uow.session
        wh = Warehouse(code="HZ", name="杭州自营仓", kind="own", province="浙江省", city="杭州市", address="杭州市余杭区良睦路1288号")
        shop = Shop(code="DY-FLAG", name="小树苗童装抖音旗舰店", platform="douyin")
        s.add_all([wh, shop])
        s.flush()
        for code, name, color, size, barcode, bin_code, zone, aisle, rack, level, seq in SKUS:
            sku = Sku(sku_code=code, barcode=barcode, style_code=code.split("-")[0], name=name, color=color, size=size,
                      price=Decimal("69.00"), is_gift_item=code.startswith("GIFT"))
            b = Bin(warehouse_id=wh.id, code=bin_code, zone=zone, aisle=aisle, rack=rack, level=level,
                    x=Decimal(aisle * 4), y=Decimal(rack), pick_sequence=seq)
            s.add_all([sku, b])
            s.flush()
            s.add(Stock(sku_id=sku.id, warehouse_id=wh.id, bin_id=b.id, on_hand=on_hand))
        uow.commit()
        return WarehouseWorld(hub, wh.id, shop.id)


def make_order(world: WarehouseWorld, items: list[tuple[str, int]], *, ship_by: datetime | None = None,
               buyer_note: str | None = None, seller_note: str | None = None, route: bool = True,
               gift: tuple[str, int] | None = None) -> str:
    """A paid order with ``items`` [(SKU, qty)], routed to the warehouse (配货中 with reservations)."""
    n = next(_n)
    lines = [{"line_no": i, "sku": sku, "name": sku, "color": "", "size": "", "qty": qty, "unit_price": "69.00",
              "paid": "69.00", "is_gift": False, "line_status": "normal"} for i, (sku, qty) in enumerate(items, 1)]
    if gift:
        lines.append({"line_no": len(lines) + 1, "sku": gift[0], "name": "纯棉中筒袜（赠品）", "color": "白色", "size": "M",
                      "qty": gift[1], "unit_price": "0.00", "paid": "0.00", "is_gift": True, "line_status": "normal"})
    at = datetime(2026, 11, 25, 1, 0, tzinfo=UTC) + timedelta(minutes=n)
    with world.hub.uow() as uow:
        order = Order(order_no=f"OH261125{900000 + n:06d}", platform="douyin", platform_order_no=f"69{n:017d}",
                      shop_id=world.shop_id, ordered_at=at, paid_at=at, customer_id=f"C{n:010d}", items=lines,
                      original_amount=Decimal("199.00"), paid_amount=Decimal("199.00"), status="paid",
                      receiver_name="王**", receiver_phone="138****5678", receiver_phone_tail="5678",
                      receiver_address="浙江省杭州市西湖区文三路***", province="浙江省", city="杭州市", district="西湖区",
                      ship_by=ship_by, buyer_note=buyer_note, seller_note=seller_note)
        uow.session.add(order)
        uow.commit()
        order_no = order.order_no
    if route:
        [result] = routing.route_orders(world.hub.uow(), [order_no], Actor("system:hub", "hub-1"))
        assert result.outcome == "allocated", result
    return order_no


def order_row(world: WarehouseWorld, order_no: str) -> dict:
    with world.hub.uow() as uow:
        return dict(uow.session.execute(sa.text("SELECT * FROM orders WHERE order_no = :n"), {"n": order_no}).mappings().one())


def audit_actions(world: WarehouseWorld, entity_id: str) -> list[tuple[str, str]]:
    with world.hub.uow() as uow:
        return [tuple(r) for r in uow.session.execute(sa.text(
            "SELECT action, operator FROM audit_log WHERE entity_id = :e ORDER BY id"), {"e": entity_id})]
