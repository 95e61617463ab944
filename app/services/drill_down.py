"""订单穿透视图's data: one order with its parcels' every tracking node, warehouse scans, invoices and story."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.domain.fields import Lang
from app.domain.privacy import Receiver, receiver_for
from app.services import trace
from app.services.story_events import StoryEvent, story_events
from app.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class ExtField:
    """A platform extension value with its business label from the platform's field definitions."""

    label_zh: str
    label_en: str
    value: str
    value_type: str

    def label(self, lang: Lang) -> str:
        return self.label_zh if lang == "zh" else self.label_en


@dataclass(frozen=True, slots=True)
class TrackingNode:
    carrier: str
    tracking_no: str
    occurred_at: datetime
    location: str
    description: str
    courier_name: str | None
    courier_phone: str | None


@dataclass(frozen=True, slots=True)
class Scan:
    scanned_at: datetime
    operator: str
    station: str
    action: str
    barcode: str
    box_no: str | None


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    invoice_no: str
    kind: str
    amount: Decimal
    issued_at: datetime
    title: str
    red_flush_of: str | None
    red_confirmation_no: str | None
    reissue_pending: bool
    tax_amount: Decimal | None = None
    buyer_tax_no: str | None = None


@dataclass(frozen=True, slots=True)
class OrderDetail:
    """Everything the drill-down shows, as plain values (no ORM rows reach Qt)."""

    order_no: str
    platform: str
    shop: str
    status: str
    version: int
    ordered_at: datetime
    original_amount: Decimal
    paid_amount: Decimal
    invoice_status: str
    warehouse: str | None
    ship_by: datetime | None
    tracking_no: str | None
    buyer_note: str | None
    seller_note: str | None
    receiver: Receiver
    items: tuple[dict[str, Any], ...]
    ext: tuple[ExtField, ...]
    tracking: tuple[TrackingNode, ...]
    scans: tuple[Scan, ...]
    invoices: tuple[InvoiceLine, ...]
    story_text: str
    seconds: float
    story: tuple[StoryEvent, ...] = ()  # the same story as events, for the timeline


def order_detail(uow: UnitOfWork, order_no: str, *, role: str = "cs", lang: Lang = "zh") -> OrderDetail:
    """Collect the drill-down of one order, the receiver masked as ``role`` may see it.

    Raises:
        NotFound: no order has this number.
    """
    started = time.perf_counter()
    story = trace.order_story(uow, order_no)
    o = story.order
    with uow:
        s = uow.session
        ext = [ExtField(*row) for row in s.execute(sa.text(
            "SELECT coalesce(d.label_zh, a.key), coalesce(d.label_en, a.key), a.value, coalesce(d.value_type, 'text')"
            " FROM order_ext_attrs a LEFT JOIN platform_field_defs d ON d.platform = a.platform AND d.key = a.key"
            " WHERE a.order_id = :o ORDER BY coalesce(d.sort_order, 99), a.key"), {"o": o["id"]})]
        nodes = [TrackingNode(*row) for row in s.execute(sa.text(
            "SELECT sh.carrier, sh.tracking_no, t.occurred_at, t.location, t.description, t.courier_name,"
            " t.courier_phone FROM tracking_events t JOIN shipments sh ON sh.id = t.shipment_id"
            " WHERE sh.order_id = :o ORDER BY t.occurred_at DESC"), {"o": o["id"]})]
        scans = [Scan(*row) for row in s.execute(sa.text(
            "SELECT scanned_at, operator, station, action, barcode, box_no FROM scan_log WHERE order_id = :o"
            " ORDER BY scanned_at DESC"), {"o": o["id"]})]
    invoices = [InvoiceLine(i["invoice_no"], i["kind"], i["amount"], i["issued_at"], i["title"], i["blue_no"],
                            i["red_confirmation_no"], i["reissue_pending"], i.get("tax_amount"), i.get("buyer_tax_no"))
                for i in story.invoices]
    return OrderDetail(
        order_no=o["order_no"], platform=o["platform"], shop=o["shop_name"], status=o["status"], version=o["version"],
        ordered_at=o["ordered_at"], original_amount=o["original_amount"], paid_amount=o["paid_amount"],
        invoice_status=o["invoice_status"], warehouse=o["warehouse_name"], ship_by=o["ship_by"],
        tracking_no=o["tracking_no"], buyer_note=o["buyer_note"], seller_note=o["seller_note"],
        receiver=receiver_for(role, o["receiver_name"], o["receiver_phone"], o["receiver_address"]),
        items=tuple(o["items"]), ext=tuple(ext), tracking=tuple(nodes), scans=tuple(scans), invoices=tuple(invoices),
        story_text=trace.render_story(story, lang), story=tuple(story_events(story, lang)),
        seconds=time.perf_counter() - started)
