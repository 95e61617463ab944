"""A pick slip as data: what a picker needs on paper, independent of how it is printed.

The service layer fills a :class:`PickSlip` from the database; ``printers`` lays it out once
for a paper width and renders that layout to ESC/POS bytes and to a preview image, so what the
picker sees on screen is what prints. Everything here is plain text a person reads (already in
business language, already in the station's language); codes that scanners read are kept apart
(:attr:`PickSlip.order_qr`, :attr:`SlipLine.barcode`, :attr:`PickSlip.progress_qr`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# What a scanner reads off a slip. Kept short (fewer QR modules print faster and scan further);
# a station that scans one of these knows exactly what it is looking at.
ORDER_QR_PREFIX = "OH:O:"  # + order no.          → open this order's pick
PROGRESS_QR_PREFIX = "OH:P:"  # + picker id         → the picker's own day
WAVE_QR_PREFIX = "OH:W:"  # + wave no.            → the wave


def order_qr(order_no: str) -> str:
    return ORDER_QR_PREFIX + order_no


def progress_qr(picker: str) -> str:
    return PROGRESS_QR_PREFIX + picker


@dataclass(frozen=True, slots=True)
class SlipLine:
    """One line to pick: sorted along the pick path by the service (``pick_sequence`` of its bin)."""

    sku_code: str  # printed as text next to the barcode
    barcode: str  # CODE128 payload (the SKU's barcode, what the item label carries)
    name: str  # 商品名称
    color: str  # 颜色
    size: str  # 尺码
    quantity: int
    bin_code: str  # 库位, e.g. "A-03-02-1"
    bin_coords: str  # 库位坐标 as printed, e.g. "A区 3排 2架 1层"
    pick_sequence: int  # position on the pick path (smaller first)
    is_gift: bool = False


@dataclass(frozen=True, slots=True)
class PickSlip:
    """Everything printed on one order's slip."""

    order_no: str
    platform: str  # business label, e.g. "抖店"
    shop: str
    warehouse: str
    priority: str  # business label, e.g. "加急" / "普通"
    ship_by: datetime | None  # 最晚发货时间 (printed in China Standard Time)
    lines: tuple[SlipLine, ...]
    gifts: tuple[str, ...] = ()  # 需附赠品, e.g. "满299送袜子 ×1"
    notes: tuple[str, ...] = ()  # packing notes that matter, e.g. "请勿放干燥剂"
    wave_no: str | None = None
    picker: str | None = None
    reprint: bool = False  # prints 「补打」 prominently when true
    reprint_reason: str | None = None
    printed_at: datetime | None = None
    order_qr: str = ""  # defaults to order_qr(order_no)
    progress_qr: str = ""  # 「扫码查进度」; defaults to progress_qr(picker or "")
    extra: dict[str, str] = field(default_factory=dict)  # further labelled lines (label → value)

    def __post_init__(self) -> None:
        if not self.order_qr:
            object.__setattr__(self, "order_qr", order_qr(self.order_no))
        if not self.progress_qr:
            object.__setattr__(self, "progress_qr", progress_qr(self.picker or "-"))

    @property
    def total_quantity(self) -> int:
        return sum(line.quantity for line in self.lines)
