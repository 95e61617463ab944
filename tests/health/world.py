"""A small hand-built company for the health tests: rows written the way intake and the stations write them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from app.bootstrap import OrderHub
from app.db.models import Order, Shipment, Shop, Warehouse
from app.domain.actor import Actor
from app.services import audit

_n = itertools.count(1)


def anchor() -> datetime:
    """Two hours ago, on the hour: data relative to the real now (the audit trail stamps server time)."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)


@dataclass
class World:
    hub: OrderHub
    now: datetime
    shops: dict[str, int] = field(default_factory=dict)
    warehouses: dict[str, int] = field(default_factory=dict)


def build(hub: OrderHub, now: datetime | None = None) -> World:
    world = World(hub, now or anchor())
    with hub.uow() as uow:
        s = uow.session
        shops = {"dy": Shop(code="DY1", name="小树苗抖音旗舰店", platform="douyin"),
                 "tb": Shop(code="TB1", name="小树苗天猫旗舰店", platform="tmall")}
        whs = {"hz": Warehouse(code="HZ", name="杭州自营仓", kind="own", province="浙江省", city="杭州市", address="余杭区"),
               "hf": Warehouse(code="HF", name="合肥云仓", kind="cloud", province="安徽省", city="合肥市", address="蜀山区")}
        s.add_all([*shops.values(), *whs.values()])
        s.flush()
        world.shops = {k: v.id for k, v in shops.items()}
        world.warehouses = {k: v.id for k, v in whs.items()}
        uow.commit()
    return world


def order(world: World, shop: str, *, ordered_at: datetime, status: str = "paid", warehouse: str | None = None,
          ship_by: datetime | None = None, platform_status: str | None = "WAIT_SELLER_SEND_GOODS") -> str:
    """An order as intake stores it: the platform's status and time stamp with it."""
    n = next(_n)
    platform = "douyin" if shop == "dy" else "tmall"
    with world.hub.uow() as uow:
        o = Order(order_no=f"OHT{n:08d}", platform=platform, platform_order_no=f"P{n:010d}",
                  shop_id=world.shops[shop], ordered_at=ordered_at, paid_at=ordered_at, customer_id=f"C{n}",
                  items=[{"line_no": 1, "sku": "T1", "name": "T恤", "qty": 1, "unit_price": "99.00", "paid": "99.00",
                          "is_gift": False, "line_status": "normal"}],
                  original_amount=Decimal("99.00"), paid_amount=Decimal("99.00"), status=status,
                  warehouse_id=world.warehouses[warehouse] if warehouse else None, ship_by=ship_by,
                  platform_status=platform_status,
                  platform_updated_at=ordered_at if platform_status else None)
        uow.session.add(o)
        uow.commit()
        return o.order_no


def ship(world: World, order_no: str, at: datetime, *, status: str = "shipped") -> None:
    """The parcel leaves at ``at``; the order moves to 已发货 (our side only: the platform is not told here)."""
    with world.hub.uow() as uow:
        s = uow.session
        o = s.execute(sa.select(Order).where(Order.order_no == order_no)).scalar_one()
        s.add(Shipment(order_id=o.id, carrier="中通快递", tracking_no=f"ZT{next(_n):012d}", warehouse_id=o.warehouse_id,
                       status="in_transit", shipped_at=at))
        o.status = status
        uow.commit()


def rescue(world: World, order_no: str, action: str, *, who: str = "xiaomei", basis: str | None = "旺旺聊天截图 #1") -> None:
    with world.hub.uow() as uow:
        audit.record(uow.session, Actor(who, "主管工作台"), action, "order", order_no, basis=basis, before=None,
                     after={"by_hand": True})
        uow.commit()


def case(world: World, order_no: str, requested_at: datetime, response_s: float | None, *, agent: str = "xiaomei",
         closed_after_s: float | None = None) -> None:
    with world.hub.uow() as uow:
        oid = uow.session.scalar(sa.select(Order.id).where(Order.order_no == order_no))
        uow.session.execute(sa.text(
            "INSERT INTO after_sales_cases (case_no, order_id, kind, state, lines, requested_at, first_response_at, "
            "closed_at, created_by) VALUES (:no, :o, 'refund_only', :state, '[]', :r, :f, :c, :a)"),
            {"no": f"AS{next(_n):08d}", "o": oid, "r": requested_at, "a": agent,
             "state": "closed" if closed_after_s is not None else "requested",
             "f": requested_at + timedelta(seconds=response_s) if response_s is not None else None,
             "c": requested_at + timedelta(seconds=closed_after_s) if closed_after_s is not None else None})
        uow.commit()
