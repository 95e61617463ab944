"""A vertical timeline (time, place, what) painted by one delegate: logistics nodes, warehouse scans, the order's story.

One widget for every "what happened when" in the station, so customer service reads one language
of events. Items are frozen values in a list model and painted by a delegate (no widget per
node): a drill-down with 50 tracking nodes and 100 story events stays well inside its 200 ms.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QFont, QFontMetrics, QGuiApplication, QPainter, QPen
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QListView, QPushButton, QStyle, QStyledItemDelegate,
                               QStyleOptionViewItem, QVBoxLayout, QWidget)

from app.domain.clock import local
from app.domain.fields import Lang

Index = QModelIndex | QPersistentModelIndex
ITEM_ROLE = Qt.ItemDataRole.UserRole + 1

ACCENT, MUTED, LATE, FAILED, RAIL = "#1f6feb", "#5b6b7f", "#b35900", "#c0392b", "#c9d1dc"
# colours for people's initials: distinct, dark enough for white letters
PALETTE = ("#1f6feb", "#2e8540", "#8e44ad", "#b35900", "#c0392b", "#00838f", "#5d4037", "#6a5acd", "#ad1457", "#455a64")


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """One node: when, what, where; ``person`` draws their initials instead of a dot."""

    at: datetime | None
    title: str
    place: str = ""
    detail: str = ""
    tooltip: str = ""
    person: str = ""
    current: bool = False
    failed: bool = False
    late_hours: float | None = None  # this node came that long after the one before it (over the threshold)


def initials(name: str) -> str:
    """What a person's avatar shows: the surname of a Chinese name, else the initials of a login (li.sf → LS)."""
    name = name.strip()
    if not name:
        return "?"
    if "\u4e00" <= name[0] <= "\u9fff":
        return name[0]
    parts = [p for p in name.replace(".", " ").replace("_", " ").replace("-", " ").split() if p]
    return "".join(p[0] for p in parts[:2]).upper() or name[0].upper()


def avatar_colour(name: str) -> str:
    """The same person always gets the same colour, on every station and every run (crc32, not hash())."""
    return PALETTE[zlib.crc32(name.strip().encode("utf-8")) % len(PALETTE)]


def mark_delays(items: Sequence[TimelineItem], hours: float) -> list[TimelineItem]:
    """Mark each node that came more than ``hours`` after the node before it in time (any display order)."""
    timed = sorted((i for i, item in enumerate(items) if item.at is not None), key=lambda i: items[i].at)  # type: ignore[arg-type,return-value]
    out = list(items)
    for before, after in zip(timed, timed[1:], strict=False):
        gap = (items[after].at - items[before].at).total_seconds() / 3600  # type: ignore[operator]
        if gap > hours:
            out[after] = replace(out[after], late_hours=gap)
    return out


class TimelineModel(QAbstractListModel):
    """Frozen items in display order; ``data()`` only reads them."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[TimelineItem] = []

    def set_items(self, items: Sequence[TimelineItem]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()

    def items(self) -> list[TimelineItem]:
        return list(self._items)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return item.tooltip or None
        if role == ITEM_ROLE:
            return item
        return None


class TimelineDelegate(QStyledItemDelegate):
    """Paints time | rail with a dot (or a person's initials) | title, place and detail, delay note."""

    PAD, DOT, AVATAR = 6, 5, 13

    def __init__(self, view: QListView, lang: Lang) -> None:
        super().__init__(view)
        self._view, self._lang = view, lang
        self._heights: dict[tuple[int, int, int], int] = {}  # (row, width, font size) → height: items are frozen

    def forget(self) -> None:
        """New items: measured heights no longer apply."""
        self._heights.clear()

    def delay_text(self, hours: float) -> str:
        shown = f"{hours:.0f}" if hours >= 10 else f"{hours:.1f}"
        return f"距上一节点 {shown} 小时" if self._lang == "zh" else f"{shown} h after the previous node"

    def _columns(self, fm: QFontMetrics, width: int) -> tuple[int, int, int]:
        time_w = fm.horizontalAdvance("2026-12-31 23:59") + self.PAD
        rail_x = time_w + self.AVATAR + self.PAD
        text_x = rail_x + self.AVATAR + 2 * self.PAD
        return time_w, rail_x, max(80, width - text_x - self.PAD)

    def _lines(self, item: TimelineItem) -> list[tuple[str, str]]:
        """(style, text) rows to draw in the text column."""
        rows = [("title", item.title)]
        below = "　".join(x for x in (item.place, item.detail) if x) if self._lang == "zh" else "  ".join(
            x for x in (item.place, item.detail) if x)
        if below:
            rows.append(("muted", below))
        if item.late_hours is not None:
            rows.append(("late", "⚠ " + self.delay_text(item.late_hours)))
        return rows

    def _fonts(self, option: QStyleOptionViewItem, item: TimelineItem) -> tuple[QFont, QFont]:
        bold = QFont(option.font)
        bold.setBold(item.current)
        if item.current:
            bold.setPointSizeF(bold.pointSizeF() * 1.08)
        return bold, option.font

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802
        width = self._view.viewport().width() or 600
        key = (index.row(), width, option.font.pixelSize() or round(option.font.pointSizeF() * 10))
        known = self._heights.get(key)
        if known is not None:
            return QSize(width, known)
        item: TimelineItem = index.data(ITEM_ROLE)
        fm = QFontMetrics(option.font)
        _, _, text_w = self._columns(fm, width)
        bold, plain = self._fonts(option, item)
        height = self.PAD
        for style, text in self._lines(item):
            metrics = QFontMetrics(bold if style == "title" else plain)
            height += metrics.boundingRect(QRect(0, 0, text_w, 100_000), Qt.TextFlag.TextWordWrap, text).height() + 2
        self._heights[key] = max(height + self.PAD, 2 * self.AVATAR + 2 * self.PAD)
        return QSize(width, self._heights[key])

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        item: TimelineItem = index.data(ITEM_ROLE)
        rect = option.rect
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if item.current:
            painter.fillRect(rect, QColor("#eef4ff"))
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(rect, QColor("#f5f7fa"))
        fm = QFontMetrics(option.font)
        time_w, rail_x, text_w = self._columns(fm, rect.width())
        rail_x += rect.left()
        top, bottom = rect.top(), rect.bottom()
        node_y = top + self.PAD + fm.height() // 2 + 1
        # the rail: joins this node to its neighbours (none above the first, none below the last)
        painter.setPen(QPen(QColor(RAIL), 2))
        if index.row() > 0:
            painter.drawLine(rail_x, top, rail_x, node_y)
        if index.row() < index.model().rowCount() - 1:
            painter.drawLine(rail_x, node_y, rail_x, bottom + 1)
        if item.late_hours is not None:  # the gap before a late node is drawn dashed in orange
            painter.setPen(QPen(QColor(LATE), 2, Qt.PenStyle.DashLine))
            painter.drawLine(rail_x, top, rail_x, node_y)
        colour = QColor(FAILED if item.failed else LATE if item.late_hours is not None else
                        ACCENT if item.current else MUTED)
        if item.person:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(avatar_colour(item.person)))
            painter.drawEllipse(rail_x - self.AVATAR, node_y - self.AVATAR, 2 * self.AVATAR, 2 * self.AVATAR)
            small = QFont(option.font)
            small.setBold(True)
            small.setPointSizeF(max(6.0, option.font.pointSizeF() * 0.8))
            painter.setFont(small)
            painter.setPen(QColor("white"))
            painter.drawText(QRect(rail_x - self.AVATAR, node_y - self.AVATAR, 2 * self.AVATAR, 2 * self.AVATAR),
                             Qt.AlignmentFlag.AlignCenter, initials(item.person))
        else:
            radius = self.DOT + (3 if item.current else 0)
            painter.setPen(QPen(QColor("white"), 2))
            painter.setBrush(colour)
            painter.drawEllipse(rail_x - radius, node_y - radius, 2 * radius, 2 * radius)
            if item.current:  # a ring around the current node
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.setPen(QPen(colour, 1.5))
                painter.drawEllipse(rail_x - radius - 3, node_y - radius - 3, 2 * radius + 6, 2 * radius + 6)
        painter.setFont(option.font)
        painter.setPen(QColor(ACCENT if item.current else MUTED))
        when = local(item.at).strftime("%Y-%m-%d %H:%M") if item.at else "-"
        painter.drawText(QRect(rect.left() + self.PAD, top + self.PAD, time_w - self.PAD, fm.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, when)
        bold, plain = self._fonts(option, item)
        x, y = rail_x + self.AVATAR + 2 * self.PAD, top + self.PAD
        for style, text in self._lines(item):
            font = bold if style == "title" else plain
            painter.setFont(font)
            painter.setPen(QColor(FAILED if style == "title" and item.failed else LATE if style == "late" else
                                  MUTED if style == "muted" else "#1b2330"))
            box = QFontMetrics(font).boundingRect(QRect(0, 0, text_w, 100_000), Qt.TextFlag.TextWordWrap, text)
            painter.drawText(QRect(x, y, text_w, box.height()), Qt.TextFlag.TextWordWrap, text)
            y += box.height() + 2
        painter.setPen(QPen(QColor("#eef0f3"), 1))
        painter.drawLine(x, bottom, rect.right() - self.PAD, bottom)
        painter.restore()


class TimelineView(QListView):
    """The timeline as a list view: scrolls by pixel, re-lays out on resize, tooltips from the items."""

    def __init__(self, lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self.timeline = TimelineModel(self)
        self.setModel(self.timeline)
        self.delegate = TimelineDelegate(self, lang)
        self.setItemDelegate(self.delegate)
        self.timeline.modelAboutToBeReset.connect(self.delegate.forget)
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSelectionMode(QListView.SelectionMode.NoSelection)
        self.setMouseTracking(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def set_items(self, items: Sequence[TimelineItem]) -> None:
        self.timeline.set_items(items)

    def items(self) -> list[TimelineItem]:
        return self.timeline.items()


class CourierCard(QFrame):
    """The courier carrying the parcel now: name, phone with 复制 / 拨打 (a tel: link), where the parcel is."""

    copied = Signal(str)

    def __init__(self, name: str, phone: str | None, location: str, carrier: str, *, lang: Lang = "zh",
                 parent: Any = None) -> None:
        super().__init__(parent)
        zh = lang == "zh"
        self.phone = phone or ""
        self.setObjectName("courierCard")
        self.setStyleSheet("#courierCard { background: #f5f8fc; border: 1px solid #d6dee8; border-radius: 6px; }")
        self.avatar = QLabel(initials(name))
        size = self.avatar.fontMetrics().height() * 2
        self.avatar.setFixedSize(size, size)
        self.avatar.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.avatar.setStyleSheet(f"background: {avatar_colour(name)}; color: white; font-weight: bold;"
                                  f" border-radius: {size // 2}px;")
        self.name = QLabel(f"<b>{name}</b>　{carrier}" if zh else f"<b>{name}</b>  {carrier}")
        self.phone_label = QLabel(self.phone or ("未提供电话" if zh else "no phone given"))
        self.phone_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.location = QLabel(("当前位置：" if zh else "Now at: ") + (location or "-"))
        self.location.setStyleSheet(f"color: {MUTED};")
        self.copy_button = QPushButton("复制" if zh else "Copy")
        self.call_button = QPushButton("拨打" if zh else "Call")
        for button in (self.copy_button, self.call_button):
            button.setEnabled(bool(self.phone))
        self.copy_button.clicked.connect(self.copy_phone)
        self.call_button.clicked.connect(self.call)
        text = QVBoxLayout()
        text.addWidget(self.name)
        text.addWidget(self.location)
        phone_row = QHBoxLayout()
        phone_row.addWidget(self.phone_label)
        phone_row.addWidget(self.copy_button)
        phone_row.addWidget(self.call_button)
        row = QHBoxLayout(self)
        row.addWidget(self.avatar)
        row.addLayout(text, 1)
        row.addLayout(phone_row)

    def copy_phone(self) -> None:
        QGuiApplication.clipboard().setText(self.phone)
        self.copied.emit(self.phone)

    def call_url(self) -> QUrl:
        return QUrl("tel:" + "".join(ch for ch in self.phone if ch.isdigit() or ch == "+"))

    def call(self) -> bool:
        """Hand the number to the PC's phone software (softphone, 微信电脑版…) through the system's tel: handler."""
        return QDesktopServices.openUrl(self.call_url())


def titled(title: str, *widgets: QWidget) -> QWidget:
    """A small page: a caption over the given widgets (the last one stretches)."""
    page = QWidget()
    column = QVBoxLayout(page)
    column.setContentsMargins(0, 0, 0, 0)
    if title:
        caption = QLabel(title)
        caption.setStyleSheet("font-weight: bold;")
        caption.setWordWrap(True)
        column.addWidget(caption)
    for n, widget in enumerate(widgets):
        column.addWidget(widget, 1 if n == len(widgets) - 1 else 0)
    return page
