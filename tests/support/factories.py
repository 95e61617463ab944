"""Small factories: a shop and an order in a given stage, inserted the way ingest will insert them.

Orders are placed a little before the business clock's "now" (``app.domain.clock.now``), never on a
fixed date: a station keeps "the last 7 days", so a fixed date is a test that fails next week.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from app.bootstrap import OrderHub
from app.db.models import Order, Shop, Warehouse
from app.domain import clock

_n = itertools.count(1)


def make_shop(hub: OrderHub, platform: str = "douyin") -> int:
    with hub.uow() as uow:
        shop = Shop(code=f"S{next(_n)}", name="小树苗童装抖音旗舰店", platform=platform)
        uow.session.add(shop)
        uow.commit()
        return shop.id


def make_warehouse(hub: OrderHub) -> int:
    with hub.uow() as uow:
        wh = Warehouse(code=f"W{next(_n)}", name="杭州自营仓", kind="own", province="浙江省", city="杭州市",
                       address="浙江省杭州市余杭区良睦路1288号")
        uow.session.add(wh)
        uow.commit()
        return wh.id


def make_order(hub: OrderHub, status: str = "paid", *, shop_id: int | None = None, warehouse_id: int | None = None,
               paid: str = "299.00", platform: str = "douyin", ordered_at: datetime | None = None) -> tuple[str, int]:
    """An order in ``status``, placed two hours before now unless ``ordered_at`` says; returns (order_no, version)."""
    shop_id = shop_id or make_shop(hub, platform)
    n = next(_n)
    with hub.uow() as uow:
        order = Order(
            order_no=f"OH261125{n:06d}", platform=platform, platform_order_no=f"69{n:017d}", shop_id=shop_id,
            ordered_at=ordered_at or clock.now() - timedelta(hours=2), customer_id=f"C{n:010d}",
            items=[{"line_no": 1, "sku": "T2601-01-110", "name": "纯棉恐龙印花短袖T恤", "color": "白色", "size": "110",
                    "qty": 1, "unit_price": "329.00", "paid": paid, "is_gift": False, "line_status": "normal"}],
            original_amount=Decimal("329.00"), paid_amount=Decimal(paid), status=status,
            receiver_name="王**", receiver_phone="138****5678", receiver_phone_tail="5678",
            receiver_address="浙江省杭州市西湖区文三路***", province="浙江省", city="杭州市", district="西湖区",
            warehouse_id=warehouse_id,
        )
        uow.session.add(order)
        uow.commit()
        return order.order_no, order.version
