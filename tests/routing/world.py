"""A small company for routing tests: three warehouses, a few shops and SKUs, stock set per test."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.bootstrap import OrderHub
from app.db.models import Order, OrderExtAttr, PlatformFieldDef, Shop, Sku, Stock, Warehouse
from app.domain.actor import Actor
from app.services import rule_book
from app.services.rule_book import RuleDraft

ADMIN = Actor("chen.yy", "配置工作站", "10.20.1.5")
HUB = Actor("system:hub", "hub-1")
PAID_AT = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
_n = itertools.count(1)

WAREHOUSES = (("HZ", "杭州自营仓", "own", "浙江省", "杭州市"), ("HF", "合肥云仓", "cloud", "安徽省", "合肥市"),
              ("GZ", "广州云仓", "cloud", "广东省", "广州市"))
SHOPS = (("DY-FLAG", "小树苗童装抖音旗舰店", "douyin"), ("WX-MINI", "小树苗微信小程序商城", "wechat"),
         ("TM-FLAG", "小树苗童装天猫旗舰店", "tmall"), ("PDD-FLAG", "小树苗童装拼多多旗舰店", "pdd"))
SKUS = (("T2601-01-110", "纯棉恐龙印花短袖T恤", "白色", "110", "69.00", False),
        ("W2602-01-120", "加绒连帽卫衣", "燕麦色", "120", "129.00", False),
        ("J2603-02-130", "加绒弹力牛仔裤", "黑色", "130", "109.00", False),
        ("GIFT-SOCK-01-M", "纯棉中筒袜（赠品）", "白色", "M", "0.00", True),
        ("GIFT-SOCK-02-M", "纯棉中筒袜（赠品）", "灰色", "M", "0.00", True))
EXT = (("douyin", "author_commission_rate", "达人佣金比例", "Creator commission rate", "percent"),
       ("douyin", "live_room_id", "直播间ID", "Live room ID", "text"),
       ("wechat", "invoice_bound", "自动绑定电子发票", "E-invoice bound", "bool"))


@dataclass(frozen=True)
class World:
    hub: OrderHub
    warehouse: dict[str, int]
    shop: dict[str, int]
    sku: dict[str, int]


def build(hub: OrderHub) -> World:
    with hub.uow() as uow:
        s = uow.session
        whs = {code: Warehouse(code=code, name=name, kind=kind, province=prov, city=city, address=f"{prov}{city}")
               for code, name, kind, prov, city in WAREHOUSES}
        shops = {code: Shop(code=code, name=name, platform=platform) for code, name, platform in SHOPS}
        skus = {code: Sku(sku_code=code, barcode=f"69{i:011d}", style_code=code.split("-")[0], name=name, color=color,
                          size=size, price=Decimal(price), is_gift_item=gift)
                for i, (code, name, color, size, price, gift) in enumerate(SKUS)}
        s.add_all([*whs.values(), *shops.values(), *skus.values()])
        s.add_all([PlatformFieldDef(platform=p, key=k, label_zh=zh, label_en=en, value_type=t) for p, k, zh, en, t in EXT])
        s.flush()
        world = World(hub, {k: v.id for k, v in whs.items()}, {k: v.id for k, v in shops.items()},
                      {k: v.id for k, v in skus.items()})
        uow.commit()
    return world


def set_stock(world: World, wh: str, sku: str, on_hand: int, *, reserved: int = 0, safety: int = 0) -> None:
    """Put one stock row in place (replacing any for that SKU × warehouse)."""
    with world.hub.uow() as uow:
        s = uow.session
        row = s.execute(sa.select(Stock).where(Stock.sku_id == world.sku[sku], Stock.warehouse_id == world.warehouse[wh])
                        ).scalar_one_or_none()
        if row is None:
            s.add(Stock(sku_id=world.sku[sku], warehouse_id=world.warehouse[wh], on_hand=on_hand, reserved=reserved,
                        safety_stock=safety))
        else:
            row.on_hand, row.reserved, row.safety_stock = on_hand, reserved, safety
        uow.commit()


def stock(world: World, wh: str, sku: str) -> tuple[int, int]:
    """(on hand, reserved) of one SKU in one warehouse."""
    with world.hub.uow() as uow:
        row = uow.session.execute(sa.text(
            "SELECT sum(on_hand), sum(reserved) FROM stock WHERE sku_id = :s AND warehouse_id = :w"),
            {"s": world.sku[sku], "w": world.warehouse[wh]}).one()
        return int(row[0] or 0), int(row[1] or 0)


def make_order(world: World, items: list[tuple[str, int]] | None = None, *, shop: str = "DY-FLAG", paid: str = "199.00",
               original: str | None = None, province: str = "浙江省", city: str = "杭州市", status: str = "paid",
               address: str | None = None, customer: str | None = None, ext: dict[str, str] | None = None,
               ordered_at: datetime | None = None, ship_by: datetime | None = None) -> str:
    """A paid order from ``shop`` with ``items`` [(SKU, qty)]; returns its order number."""
    n = next(_n)
    platform = dict((c, p) for c, _, p in SHOPS)[shop]
    lines = [{"line_no": i, "sku": sku, "name": "商品", "color": "白色", "size": "110", "qty": qty,
              "unit_price": "69.00", "paid": "69.00", "is_gift": sku.startswith("GIFT"), "line_status": "normal"}
             for i, (sku, qty) in enumerate(items or [("T2601-01-110", 1)], 1)]
    at = ordered_at or PAID_AT - timedelta(minutes=1)
    with world.hub.uow() as uow:
        order = Order(order_no=f"OH261125{n:06d}", platform=platform, platform_order_no=f"P{n:017d}",
                      shop_id=world.shop[shop], ordered_at=at, paid_at=at + timedelta(minutes=1),
                      customer_id=customer or f"C{n:010d}", items=lines,
                      original_amount=Decimal(original or paid), paid_amount=Decimal(paid), status=status,
                      receiver_name="王**", receiver_phone="138****5678", receiver_phone_tail="5678",
                      receiver_address=address or f"{province}{city}西湖区文三路***", province=province, city=city,
                      district="西湖区", ship_by=ship_by)
        uow.session.add(order)
        uow.session.flush()
        for key, value in (ext or {}).items():
            uow.session.add(OrderExtAttr(order_id=order.id, key=key, platform=platform, value=value))
        uow.commit()
        return order.order_no


def save(world: World, code: str, name: str, condition: Any, actions: list[dict[str, Any]], *, priority: int = 100,
         enabled: bool = True, note: str | None = None) -> rule_book.SaveResult:
    return rule_book.save_rule(world.hub.uow(), RuleDraft(code, name, condition, actions, priority, enabled, note), ADMIN)


def order(world: World, order_no: str) -> dict[str, Any]:
    with world.hub.uow() as uow:
        return dict(uow.session.execute(sa.text("SELECT * FROM orders WHERE order_no = :n"), {"n": order_no}).mappings().one())


def reservations(world: World, order_no: str, status: str = "active") -> list[tuple[str, str, int]]:
    """(warehouse, SKU, qty) reserved for an order, by line."""
    with world.hub.uow() as uow:
        return [tuple(r) for r in uow.session.execute(sa.text(
            "SELECT w.code, k.sku_code, r.qty FROM stock_reservations r JOIN orders o ON o.id = r.order_id"
            " JOIN warehouses w ON w.id = r.warehouse_id JOIN skus k ON k.id = r.sku_id"
            " WHERE o.order_no = :n AND r.status = :s ORDER BY r.line_no, r.id"), {"n": order_no, "s": status})]
