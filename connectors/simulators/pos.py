"""A store till that pushes its sales to the hub, signed as connectors/pos.py expects."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import requests

from connectors.pos import sign
from connectors.simulators.world import SimOrder, SimWorld, round_yuan


def sale_body(order: SimOrder, store_code: str) -> bytes:
    """A sale in the POS wire format."""
    return json.dumps({
        "sale_no": order.order_id, "store_code": store_code, "sold_at": order.created.isoformat(),
        "cashier": "店员 何佳", "member_card": f"VIP{order.buyer_token[:8]}" if order.buyer_token[0] < "M" else None,
        "lines": [{"line_id": ln.line_id, "sku": ln.sku, "name": ln.name, "color": ln.color, "size": ln.size,
                   "qty": ln.qty, "unit_price": round_yuan(ln.price), "paid": round_yuan(ln.paid),
                   "is_gift": ln.is_gift} for ln in order.lines],
        "total": round_yuan(order.total), "paid": round_yuan(sum((ln.paid for ln in order.lines), Decimal(0))),
    }, ensure_ascii=False).encode()


class PosStoreSimulator:
    """Sells from the world's catalogue and pushes each sale to ``hub_url`` (``…/pos/<store_code>``)."""

    def __init__(self, world: SimWorld, hub_url: str, store_code: str, secret: str) -> None:
        self.world, self.url, self.store_code, self.secret = world, hub_url.rstrip("/"), store_code, secret
        self.session = requests.Session()

    def push(self, body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> requests.Response:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        headers = {"Content-Type": "application/json; charset=utf-8", "X-OrderHub-Timestamp": stamp,
                   "X-OrderHub-Signature": sign(secret or self.secret, stamp, body)}
        return self.session.post(f"{self.url}/pos/{self.store_code}", data=body, headers=headers, timeout=10)

    def sell(self, n: int = 1) -> list[requests.Response]:
        """Ring up ``n`` sales and push each one."""
        orders = self.world.create(n, status="completed")
        return [self.push(sale_body(o, self.store_code)) for o in orders]
