"""What the ERP tells us, read from a verified body: ERP-side order status, ERP order numbers, stock levels.

Two shapes arrive. Standard Webhooks bodies are ours to define: ``{"type": "order.status" |
"order.erp_number" | "stock.level", "timestamp": ISO-8601, "data": {...}}``. ERPNext posts the
document itself (``doctype``, ``name``, ``modified``, …): a ``Sales Order`` carries our order ID in
``po_no`` (the customer's purchase order no.) and its own status; a ``Bin`` is the stock of one
item in one warehouse (``item_code``, ``warehouse``, ``actual_qty``). The ERP's status is expressed
as one of our stage codes so the two can be compared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from app.domain.clock import CST as _CST
from app.domain.status import OrderStatus

# ERPNext Sales Order ``status`` → our stage. "To Deliver…" means the ERP is still to ship it (our
# 配货中 or earlier: we compare against 配货中); "To Bill" means delivered but not invoiced (shipped).
ERPNEXT_STATUS: dict[str, OrderStatus] = {
    "Draft": OrderStatus.PENDING_PAYMENT,
    "On Hold": OrderStatus.PAID,
    "To Deliver and Bill": OrderStatus.ALLOCATING,
    "To Deliver": OrderStatus.ALLOCATING,
    "To Bill": OrderStatus.SHIPPED,
    "Completed": OrderStatus.COMPLETED,
    "Closed": OrderStatus.COMPLETED,
    "Cancelled": OrderStatus.CANCELLED,
}


class UnreadableMessage(ValueError):
    """A verified body we cannot understand: it is kept in quarantine with this reason."""


@dataclass(frozen=True, slots=True)
class ErpReport:
    """One thing the ERP reports. ``kind`` is ``order_status``, ``erp_number`` or ``stock``.

    ``subject`` names what it is about (an order, a SKU in a warehouse), so a report older than
    the newest applied one on the same subject is recognised as stale.
    """

    kind: str
    subject: str
    reported_at: datetime
    order_no: str | None = None
    stage: str | None = None
    raw_status: str | None = None
    erp_order_no: str | None = None
    sku: str | None = None
    warehouse: str | None = None
    on_hand: int | None = None


def _time(value: object, what: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise UnreadableMessage(f"{what} is missing")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise UnreadableMessage(f"{what} {value[:40]!r} is not a date-time") from err
    # ERPNext's ``modified`` is the site's local time without a zone; its sites here run on China time.
    return moment if moment.tzinfo else moment.replace(tzinfo=_CST)


def _text(data: dict, key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise UnreadableMessage(f"{what} ({key}) is missing")
    return value.strip()


def _json(text: str) -> dict:
    try:
        body = json.loads(text)
    except json.JSONDecodeError as err:
        raise UnreadableMessage(f"not JSON: {err.msg} at {err.pos}") from err
    if not isinstance(body, dict):
        raise UnreadableMessage("not a JSON object")
    return body


def _stage(value: str) -> OrderStatus:
    try:
        return OrderStatus(value)
    except ValueError as err:
        raise UnreadableMessage(f"unknown stage {value[:40]!r}") from err


def read_standard(text: str) -> ErpReport:
    """A Standard Webhooks body from the ERP (see the module docstring)."""
    body = _json(text)
    kind, data = body.get("type"), body.get("data")
    if not isinstance(data, dict):
        raise UnreadableMessage("data is missing")
    at = _time(body.get("timestamp"), "timestamp")
    if kind == "order.status":
        order_no = _text(data, "order_no", "order ID")
        return ErpReport("order_status", f"order:{order_no}", at, order_no=order_no,
                         stage=_stage(_text(data, "status", "status")).value, raw_status=data.get("erp_status"),
                         erp_order_no=data.get("erp_order_no"))
    if kind == "order.erp_number":
        order_no = _text(data, "order_no", "order ID")
        return ErpReport("erp_number", f"erpno:{order_no}", at, order_no=order_no,
                         erp_order_no=_text(data, "erp_order_no", "ERP order no."))
    if kind == "stock.level":
        return _stock(data.get("sku"), data.get("warehouse"), data.get("on_hand"), at)
    raise UnreadableMessage(f"unknown message type {str(kind)[:40]!r}")


def _stock(sku: object, warehouse: object, qty: object, at: datetime) -> ErpReport:
    if not isinstance(sku, str) or not sku or not isinstance(warehouse, str) or not warehouse:
        raise UnreadableMessage("stock level without SKU or warehouse")
    if isinstance(qty, bool) or not isinstance(qty, (int, float)) or qty < 0 or int(qty) != qty:
        raise UnreadableMessage(f"stock level {qty!r} is not a whole number ≥ 0")
    return ErpReport("stock", f"stock:{sku}@{warehouse}", at, sku=sku, warehouse=warehouse, on_hand=int(qty))


def frappe_key(text: str) -> str:
    """The dedupe key of an ERPNext webhook: doctype + name + modified (it sends no id of its own)."""
    body = _json(text)
    return ":".join(_text(body, k, k) for k in ("doctype", "name", "modified"))


def read_frappe(text: str) -> ErpReport:
    """An ERPNext document webhook: ``Sales Order`` (status, ERP order no.) or ``Bin`` (stock)."""
    body = _json(text)
    doctype = _text(body, "doctype", "doctype")
    at = _time(body.get("modified"), "modified")
    if doctype == "Sales Order":
        order_no = _text(body, "po_no", "our order ID")
        raw = _text(body, "status", "status")
        if raw not in ERPNEXT_STATUS:
            raise UnreadableMessage(f"unknown Sales Order status {raw[:40]!r}")
        return ErpReport("order_status", f"order:{order_no}", at, order_no=order_no, stage=ERPNEXT_STATUS[raw].value,
                         raw_status=raw, erp_order_no=_text(body, "name", "name"))
    if doctype == "Bin":
        return _stock(body.get("item_code"), body.get("warehouse"), body.get("actual_qty"), at)
    raise UnreadableMessage(f"doctype {doctype[:40]!r} is not one OrderHub reads")

