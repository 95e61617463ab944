"""Inbound orders in one shape, whatever the channel: what connectors produce and ingest consumes.

Also the pure rules of applying an update: newer-only, duplicates ignored, and which changes
must reach the warehouse as an interception rather than be applied silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from app.domain.status import WAREHOUSE_ACTIVE, OrderStatus


@dataclass(frozen=True, slots=True)
class Line:
    """One order line (sub-order) as the platform sent it; status and refunds live here.

    Attributes:
        platform_line_id: the platform's sub-order id (TOP oid, 抖店 sku order id…).
        sku: our SKU code (the platform's outer/merchant SKU code).
        paid: the line's apportioned share of what the buyer paid.
        line_status: ``normal``/``refunding``/``refunded``/… (field dictionary "line_status").
        platform_status: the platform's own line status code, kept verbatim.
    """

    platform_line_id: str
    sku: str
    name: str
    qty: int
    unit_price: Decimal
    paid: Decimal
    is_gift: bool = False
    color: str = ""
    size: str = ""
    line_status: str = "normal"
    platform_status: str = ""

    def as_json(self, line_no: int) -> dict[str, Any]:
        return {
            "line_no": line_no, "platform_line_id": self.platform_line_id, "sku": self.sku, "name": self.name,
            "color": self.color, "size": self.size, "qty": self.qty, "unit_price": str(self.unit_price),
            "paid": str(self.paid), "is_gift": self.is_gift, "line_status": self.line_status,
            "platform_status": self.platform_status,
        }


@dataclass(frozen=True, slots=True)
class Receiver:
    """The receiver as the platform gave it: often masked (王**, 138****5678) plus a platform token."""

    name: str | None = None
    phone: str | None = None
    address: str | None = None
    province: str | None = None
    city: str | None = None
    district: str | None = None
    token: str | None = None  # OAID, doudian_open_id, … — the only stable handle on a masked buyer
    # The platform's ciphertexts for name/phone/address, when it sends them: two masked addresses
    # can read the same (新华路*号) while the ciphertext shows the house number changed.
    ciphertext: str | None = None

    @property
    def fingerprint(self) -> str:
        """A digest of everything the platform said about the receiver, ciphertexts included."""
        import hashlib

        parts = (self.name, self.phone, self.address, self.ciphertext)
        return hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()

    @property
    def phone_tail(self) -> str | None:
        digits = "".join(filter(str.isdigit, self.phone or ""))
        return digits[-4:] if len(digits) >= 4 else None


@dataclass(frozen=True, slots=True)
class InboundOrder:
    """An order normalised from any channel; ``platform_updated_at`` orders competing versions."""

    platform: str
    platform_order_no: str
    status: OrderStatus
    platform_status: str
    ordered_at: datetime
    platform_updated_at: datetime
    customer_id: str
    lines: tuple[Line, ...]
    original_amount: Decimal
    paid_amount: Decimal
    receiver: Receiver = field(default_factory=Receiver)
    paid_at: datetime | None = None
    ship_by: datetime | None = None
    tracking_no: str | None = None
    buyer_note: str | None = None
    seller_note: str | None = None
    ext: dict[str, str] = field(default_factory=dict)

    def items_json(self) -> list[dict[str, Any]]:
        return [line.as_json(n) for n, line in enumerate(self.lines, 1)]


class Verdict(StrEnum):
    """What ingest does with an inbound version of an order."""

    NEW = "new"
    APPLY = "apply"
    STALE = "stale"  # older than what is stored: never moves an order back
    SAME = "same"  # the same version again (duplicate poll, repeated push)


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """What ingest needs to know about the stored order to judge an inbound one."""

    status: OrderStatus
    platform_updated_at: datetime | None
    receiver_address: str | None
    items: tuple[dict[str, Any], ...]
    payload_sha256: str | None = None
    receiver_fingerprint: str | None = None


def judge(stored: StoredVersion | None, inbound: InboundOrder, payload_sha256: str | None = None) -> Verdict:
    """Newer-only: an update applies only if the platform says it is newer than what is stored.

    Platforms stamp modification times to the second, so two real changes can share a stamp:
    with the same stamp, a different payload still applies (the detail call returns the current
    state); only the very same payload is a duplicate.
    """
    if stored is None:
        return Verdict.NEW
    if stored.platform_updated_at is None or inbound.platform_updated_at > stored.platform_updated_at:
        return Verdict.APPLY
    if inbound.platform_updated_at == stored.platform_updated_at:
        same = payload_sha256 is None or payload_sha256 == stored.payload_sha256
        return Verdict.SAME if same else Verdict.APPLY
    return Verdict.STALE


# What changed, as the warehouse cares about it (keys are field-dictionary "change_kind" codes).
def platform_moved_receiver(stored: StoredVersion, inbound: InboundOrder) -> bool:
    """Whether the *platform* changed the receiver since the version stored.

    The stored fingerprint is the platform's own (an address changed at a station keeps it), so
    comparing fingerprints tells a buyer's change on the platform from ours; only orders stored
    before fingerprints existed fall back to comparing the address text.
    """
    if stored.receiver_fingerprint is not None:
        return inbound.receiver.fingerprint != stored.receiver_fingerprint
    return (inbound.receiver.address or None) != (stored.receiver_address or None)


# A note written at a station (services.orders.add_warehouse_note) is one stamped block appended to the
# order's 卖家备注: 「[12-03 09:15 xiaomei] 请勿放干燥剂」.
NOTE_STAMP = re.compile(r"^\[\d{2}-\d{2} \d{2}:\d{2} [^\]\n]+\] ", re.M)


def note_stamp(at_local: datetime, operator: str, text: str) -> str:
    return f"[{at_local:%m-%d %H:%M} {operator}] {text}"


def merged_seller_note(platform_memo: str | None, current: str | None) -> str | None:
    """The platform's memo as it now reads, followed by the notes written at our stations.

    The platform only knows its own memo: a newer version of the order replaces that part and
    never the stamped notes our people added after it.
    """
    ours = None
    if current:
        first = NOTE_STAMP.search(current)
        ours = current[first.start():] if first else None
    if not ours:
        return platform_memo
    return f"{platform_memo}\n{ours}" if platform_memo else ours


def warehouse_changes(stored: StoredVersion, inbound: InboundOrder) -> list[str]:
    """The changes that matter to a picker: cancellation, address, items."""
    kinds = []
    if inbound.status == OrderStatus.CANCELLED and stored.status != OrderStatus.CANCELLED:
        kinds.append("cancel")
    if platform_moved_receiver(stored, inbound):
        kinds.append("address")
    if [(i["sku"], i["qty"]) for i in stored.items] != [(ln.sku, ln.qty) for ln in inbound.lines]:
        kinds.append("items")
    refund_started = any(ln.line_status in ("refunding", "refunded") for ln in inbound.lines) and not any(
        i.get("line_status") in ("refunding", "refunded") for i in stored.items
    )
    if refund_started and "cancel" not in kinds:  # a cancelled paid order refunds its lines: one change, not two
        kinds.append("refund")
    return kinds


def is_interception(stored: StoredVersion, changes: list[str]) -> bool:
    """A change after picking started must be flagged to warehouse and customer service."""
    return stored.status in WAREHOUSE_ACTIVE and bool(changes)


def next_status(stored: OrderStatus, inbound: OrderStatus) -> OrderStatus:
    """The stage after applying a newer platform version.

    The hub's own warehouse stages (配货中, 部分发货) are ours, not the platform's: a platform still
    saying "paid, awaiting shipment" does not pull an order back out of picking, nor does one saying
    "shipped" after the first of several parcels.
    """
    if stored == OrderStatus.ALLOCATING and inbound == OrderStatus.PAID:
        return OrderStatus.ALLOCATING
    # After a split parcel the platform says 部分发货 (mapped to paid) or, on 拼多多, already shipped:
    # the rest is still in our warehouse until its own parcel leaves.
    if stored == OrderStatus.PARTIALLY_SHIPPED and inbound in (OrderStatus.PAID, OrderStatus.SHIPPED):
        return OrderStatus.PARTIALLY_SHIPPED
    return inbound
