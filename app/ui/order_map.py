"""实时订单地图: provinces coloured by order count or exception rate, drawn as official Chinese maps are, clickable.

The projected outlines come from map_geometry (cached QPainterPaths); painting only fills them.
The 南海诸岛 are drawn in an inset at the lower right, as official maps do. Labels are placed in screen space by priority so they never
overlap (the rest show on hover); the filled provinces are cached as a pixmap per size, so hovering
repaints only labels and bubbles.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (QColor, QFont, QFontMetricsF, QHelpEvent, QMouseEvent, QPainter,
                           QPaintEvent, QPen, QPixmap, QPolygonF)
from PySide6.QtWidgets import QToolTip, QWidget

from app.domain.fields import Lang
from app.ui.map_geometry import INSET_BOX, MAIN_BOX, albers, bounds, geometry, paths
from app.ui.map_layout import Cluster, LabelWanted, Placement, cluster_points, place_labels
from app.ui.map_style import CLUSTER_CELL, COURIER, EMPTY, ENGLISH, PARCELS_CAPTION, draw_legend, shade

__all__ = ["ENGLISH", "OrderMap", "albers", "geometry", "shade"]


class OrderMap(QWidget):
    """Colours provinces by order count or exception rate; clicking one emits its official name."""

    province_clicked = Signal(str)

    def __init__(self, parent: Any = None, *, lang: Lang = "zh") -> None:
        super().__init__(parent)
        self.setMinimumSize(360, 300)
        self.setMouseTracking(True)
        self._lang = lang
        self._counts: dict[str, int] = {}
        self._rates: dict[str, float] = {}
        self._measure = "count"
        self._selected: str | None = None
        self._hover: str | None = None
        self._couriers: list[tuple[float, float]] = []
        self._geo = geometry()
        self._paths = paths()
        self._short = {p.name: p.short for p in self._geo.provinces}
        self._lines = [QPolygonF([QPointF(x, y) for x, y in line]) for line in self._geo.lines]
        self._base: tuple[tuple[Any, ...], QPixmap] | None = None  # (key, pixmap of the filled map)
        self._layout: tuple[tuple[Any, ...], Placement, list[Cluster]] | None = None
        self._text_width: dict[str, float] = {}
        self._sprites: dict[tuple[Any, ...], QPixmap] = {}

    def _t(self, zh: str, en: str) -> str:
        return zh if self._lang == "zh" else en

    # --- data ----------------------------------------------------------------------------------------
    def set_counts(self, counts: dict[str, int], selected: str | None = None, *,
                   rates: dict[str, float] | None = None, measure: str = "count") -> None:
        """Order counts (and exception rates) per province; ``measure`` ("count" or "exception_rate")
        picks which one colours the map and orders the labels. Tooltips show both."""
        self._counts, self._rates = dict(counts), dict(rates or {})
        self._selected, self._measure = selected, measure
        self._base = self._layout = None
        self.update()

    def set_couriers(self, positions: list[tuple[float, float]]) -> None:
        """Parcels on the road: where each was last seen (lon, lat); dense ones become count bubbles."""
        self._couriers = [albers(lon, lat) for lon, lat in positions]
        self._layout = None
        self.update()

    def value(self, name: str) -> float:
        """What colours ``name``: its order count, or its exception rate."""
        return self._rates.get(name, 0.0) if self._measure == "exception_rate" else self._counts.get(name, 0)

    def _top(self) -> float:
        values = self._rates.values() if self._measure == "exception_rate" else self._counts.values()
        return max(values, default=0)

    def fmt(self, v: float) -> str:
        return f"{v:.0%}" if self._measure == "exception_rate" else str(int(v))

    def display_name(self, name: str) -> str:
        short = self._short.get(name, name)
        return short if self._lang == "zh" else ENGLISH.get(short, short)

    # --- geometry on screen --------------------------------------------------------------------------
    def _frames(self) -> tuple[tuple[QRectF, QRectF], tuple[QRectF, QRectF]]:
        """(world box, screen box) for the main map and the inset."""
        main_world, inset_world = bounds(MAIN_BOX), bounds(INSET_BOX)
        area = QRectF(self.rect()).adjusted(8, 8, -8, -8)
        scale = min(area.width() / main_world.width(), area.height() / main_world.height())
        main_screen = QRectF(area.left(), area.top(), main_world.width() * scale, main_world.height() * scale)
        inset_scale = scale * 0.45
        w, h = inset_world.width() * inset_scale, inset_world.height() * inset_scale
        inset_screen = QRectF(main_screen.right() - w, main_screen.bottom() - h, w, h)
        return (main_world, main_screen), (inset_world, inset_screen)

    @staticmethod
    def _to_screen(world: QRectF, screen: QRectF, x: float, y: float) -> QPointF:
        sx, sy = screen.width() / world.width(), screen.height() / world.height()
        return QPointF(screen.left() + (x - world.left()) * sx, screen.bottom() - (y - world.top()) * sy)

    @staticmethod
    def _transform(painter: QPainter, world: QRectF, screen: QRectF) -> None:
        sx, sy = screen.width() / world.width(), screen.height() / world.height()
        painter.translate(screen.left() - world.left() * sx, screen.bottom() + world.top() * sy)
        painter.scale(sx, -sy)  # north up

    def _colour(self, name: str) -> QColor:
        top, v = self._top(), self.value(name)
        if top <= 0 or v <= 0:
            return EMPTY
        return shade(math.sqrt(v / top))  # square root: small provinces still show a shade

    def _label_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF(), 8.0) * 0.92)
        return font

    def legend_rect(self) -> QRectF:
        """Where the colour legend sits: under the map when the panel has room, else in its lower left
        (the map is wider than tall, so a side panel usually has room below)."""
        (_, screen), _ = self._frames()
        fm = QFontMetricsF(self._label_font())
        w = max(150.0, fm.horizontalAdvance(self._t("在途包裹（数字为聚合件数）", PARCELS_CAPTION[1])) + 48)
        h = fm.height() * 4 + 30
        if self.height() - screen.bottom() >= h + 12:  # a tall panel: under the map, covering nothing
            return QRectF(screen.left() + 2, screen.bottom() + 6, w, h)
        return QRectF(screen.left() + 2, screen.bottom() - h - 2, w, h)

    def placement(self) -> tuple[Placement, list[Cluster]]:
        """Labels and parcel bubbles for the current size and figures, computed once and cached."""
        (world, screen), (_, inset) = self._frames()
        key = (self.width(), self.height(), self._lang, self.font().pointSizeF())
        if self._layout is not None and self._layout[0] == key:
            return self._layout[1], self._layout[2]
        fm = QFontMetricsF(self._label_font())
        if self._layout is None or self._layout[0][2:] != key[2:]:
            self._text_width.clear()  # another font or language: measured widths no longer hold
        height = fm.height() + 2

        def size(text: str) -> tuple[float, float]:
            w = self._text_width.get(text)
            if w is None:
                w = self._text_width[text] = fm.horizontalAdvance(text) + 8
            return w, height

        wanted = [LabelWanted(p.name, self._to_screen(world, screen, *p.label),
                              f"{self.display_name(p.name)} {self.fmt(self.value(p.name))}",
                              (self.value(p.name), self._counts.get(p.name, 0)))
                  for p in self._geo.provinces if self._counts.get(p.name, 0) > 0]
        sx, sy = screen.width() / world.width(), screen.height() / world.height()
        ox, oy = screen.left() - world.left() * sx, screen.bottom() + world.top() * sy
        points = [(px, py) for px, py in ((ox + x * sx, oy - y * sy) for x, y in self._couriers)
                  if screen.contains(px, py) and not inset.contains(px, py)]
        # bubbles as far apart as two of them are wide, so large fonts never make them overlap
        clusters = cluster_points(points, max(CLUSTER_CELL, 2 * self._bubble_radius(fm, 99) + 2))
        bubbles = [QRectF(c.centre.x() - r - 2, c.centre.y() - r - 2, 2 * r + 4, 2 * r + 4)
                   for c in clusters if c.count > 1 for r in (self._bubble_radius(fm, c.count),)]
        placement = place_labels(wanted, size, QRectF(self.rect()).adjusted(2, 2, -2, -2),
                                 (inset, self.legend_rect(), *bubbles))  # a bubble's count stays readable
        self._layout = (key, placement, clusters)
        return placement, clusters

    @staticmethod
    def _bubble_radius(fm: QFontMetricsF | Any, count: int) -> float:
        return max(fm.horizontalAdvance(str(count)) / 2 + 5, fm.height() / 2 + 2)

    # --- painting ------------------------------------------------------------------------------------
    def _base_pixmap(self) -> QPixmap:
        """The filled provinces, borders and special lines: redrawn only when size or figures change."""
        dpr = self.devicePixelRatioF()
        key = (self.width(), self.height(), dpr)
        if self._base is not None and self._base[0] == key:
            return self._base[1]
        pixmap = QPixmap(QSize(max(1, round(self.width() * dpr)), max(1, round(self.height() * dpr))))
        pixmap.setDevicePixelRatio(dpr)
        pixmap.fill(QColor("white"))
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for inset, (world, screen) in enumerate(self._frames()):
            painter.save()
            if inset:
                painter.fillRect(screen, QColor("white"))
                painter.setPen(QPen(QColor("#555555"), 1))
                painter.drawRect(screen)
            painter.setClipRect(screen)
            self._transform(painter, world, screen)
            scale = screen.width() / world.width()
            for name, path in self._paths.items():
                if inset and not path.controlPointRect().intersects(world):
                    continue  # the inset shows only the South China Sea: skip what lies outside it
                selected = name == self._selected
                painter.setPen(QPen(QColor("#c0392b") if selected else QColor("#5b6b7f"), (2.0 if selected else 0.7) / scale))
                painter.setBrush(self._colour(name))
                painter.drawPath(path)
            painter.setPen(QPen(QColor("#5b6b7f"), 1.2 / scale, Qt.PenStyle.SolidLine))
            for line in self._lines:
                painter.drawPolyline(line)
            painter.restore()
        painter.end()
        self._base = (key, pixmap)
        return pixmap

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._base_pixmap())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        placement, clusters = self.placement()
        if self._hover is not None:
            self._outline_hover(painter)
        self._draw_clusters(painter, clusters)
        self._draw_labels(painter, placement)
        self._draw_legend(painter)
        painter.end()

    def _outline_hover(self, painter: QPainter) -> None:
        (world, screen), _ = self._frames()
        painter.save()
        painter.setClipRect(screen)
        self._transform(painter, world, screen)
        painter.setPen(QPen(QColor("#1f2d3d"), 1.6 * world.width() / screen.width()))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._paths[self._hover])
        painter.restore()

    def _draw_clusters(self, painter: QPainter, clusters: list[Cluster]) -> None:
        painter.setFont(self._label_font())
        painter.setPen(QPen(COURIER, 5.0, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawPoints(QPolygonF([c.centre for c in clusters if c.count == 1]))  # one call for every lone parcel
        for c in clusters:
            if c.count > 1:
                sprite = self._bubble(painter, c.count)
                size = sprite.deviceIndependentSize()
                painter.drawPixmap(QPointF(c.centre.x() - size.width() / 2, c.centre.y() - size.height() / 2), sprite)

    def _bubble(self, painter: QPainter, count: int) -> QPixmap:
        """A parcel bubble drawn once per count and reused: an antialiased circle with text costs far more
        than copying a small pixmap, and a resize redraws dozens of them."""
        dpr = self.devicePixelRatioF()
        key = (count, dpr, painter.font().key())
        sprite = self._sprites.get(key)
        if sprite is None:
            fm = painter.fontMetrics()
            r = self._bubble_radius(fm, count)
            side = math.ceil(2 * r + 2)
            sprite = QPixmap(QSize(math.ceil(side * dpr), math.ceil(side * dpr)))
            sprite.setDevicePixelRatio(dpr)
            sprite.fill(Qt.GlobalColor.transparent)
            p = QPainter(sprite)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setFont(painter.font())
            p.setPen(QPen(QColor("white"), 1.2))
            p.setBrush(COURIER)
            p.drawEllipse(QPointF(side / 2, side / 2), r, r)
            p.setPen(QColor("white"))
            p.drawText(QRectF(0, 0, side, side), Qt.AlignmentFlag.AlignCenter, str(count))
            p.end()
            self._sprites[key] = sprite
        return sprite

    def _pill(self, painter: QPainter, rect: QRectF, text: str, strong: bool = False) -> None:
        if not strong:  # the many ordinary labels: drawn once per text and copied (rounded rects are slow)
            dpr = self.devicePixelRatioF()
            key = ("pill", text, rect.width(), rect.height(), dpr, painter.font().key())
            sprite = self._sprites.get(key)
            if sprite is None:
                sprite = QPixmap(QSize(math.ceil((rect.width() + 2) * dpr), math.ceil((rect.height() + 2) * dpr)))
                sprite.setDevicePixelRatio(dpr)
                sprite.fill(Qt.GlobalColor.transparent)
                p = QPainter(sprite)
                p.setRenderHint(QPainter.RenderHint.Antialiasing)
                p.setFont(painter.font())
                self._pill_shape(p, QRectF(1, 1, rect.width(), rect.height()), text, strong)
                p.end()
                self._sprites[key] = sprite
            painter.drawPixmap(QPointF(rect.left() - 1, rect.top() - 1), sprite)
            return
        self._pill_shape(painter, rect, text, strong)

    @staticmethod
    def _pill_shape(painter: QPainter, rect: QRectF, text: str, strong: bool) -> None:
        painter.setPen(QPen(QColor("#1f2d3d") if strong else QColor(91, 107, 127, 120), 1.0))
        painter.setBrush(QColor(255, 255, 255, 235 if strong else 200))
        painter.drawRoundedRect(rect, 3, 3)
        painter.setPen(QColor("#1f2d3d"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def _draw_labels(self, painter: QPainter, placement: Placement) -> None:
        painter.setFont(self._label_font())
        for lab in placement.placed:
            if lab.leader:
                painter.setPen(QPen(QColor("#5b6b7f"), 0.8))
                end = QPointF(min(max(lab.anchor.x(), lab.rect.left()), lab.rect.right()),
                              min(max(lab.anchor.y(), lab.rect.top()), lab.rect.bottom()))
                painter.drawLine(lab.anchor, end)
                painter.setBrush(QColor("#1f2d3d"))
                painter.drawEllipse(lab.anchor, 1.6, 1.6)
            self._pill(painter, lab.rect, lab.text, lab.name == self._hover)
        painter.setPen(QPen(QColor("#1f2d3d"), 0.8))
        painter.setBrush(QColor("white"))
        for want in placement.hidden:  # no room: a small marker; the label shows on hover
            painter.drawEllipse(want.anchor, 2.2, 2.2)
        hidden = next((w for w in placement.hidden if w.name == self._hover), None)
        if hidden is not None:
            fm = painter.fontMetrics()
            w, h = fm.horizontalAdvance(hidden.text) + 8, fm.height() + 2
            rect = QRectF(hidden.anchor.x() - w / 2, hidden.anchor.y() - h - 4, w, h)
            self._pill(painter, rect.translated(max(0.0, -rect.left() + 2), 0), hidden.text, strong=True)

    def _draw_legend(self, painter: QPainter) -> None:
        painter.setFont(self._label_font())
        title = self._t("异常率", "Exception rate") if self._measure == "exception_rate" else self._t("订单数", "Orders")
        draw_legend(painter, self.legend_rect(), title, self._top(), self.fmt,
                    self._t("无订单", "No orders"), self._t(*PARCELS_CAPTION))

    # --- mouse ---------------------------------------------------------------------------------------
    def province_at(self, point: QPointF) -> str | None:
        """The province under a point in widget coordinates (main map or inset)."""
        for world, screen in self._frames():
            if not screen.contains(point):
                continue
            sx, sy = screen.width() / world.width(), screen.height() / world.height()
            wx = world.left() + (point.x() - screen.left()) / sx
            wy = world.top() + (screen.bottom() - point.y()) / sy
            for name, path in self._paths.items():
                if path.contains(QPointF(wx, wy)):
                    return name
        return None

    def screen_point(self, name: str) -> QPointF:
        """Where a province's label anchor sits on screen (for tests and tooltips)."""
        (world, screen), _ = self._frames()
        p = next(p for p in self._geo.provinces if p.name == name)
        return self._to_screen(world, screen, *p.label)

    def tooltip_at(self, point: QPointF) -> str | None:
        """What hovering shows: a parcel bubble's count, or the province's count and exception rate."""
        _, clusters = self.placement()
        for c in clusters:
            if c.count > 1 and (c.centre - point).manhattanLength() <= 14:
                return self._t(f"在途包裹 {c.count} 件", f"{c.count} parcels on the road")
        name = self.province_at(point)
        if name is None:
            return None
        n = self._counts.get(name, 0)
        rate = self._t(f"异常率 {self._rates[name]:.0%}", f"exception rate {self._rates[name]:.0%}") if name in self._rates else ""
        title = name if self._lang == "zh" else ENGLISH.get(self._short.get(name, ""), name)
        orders = self._t(f"订单 {n} 单", f"{n} orders")
        return f"{title}\n{orders}" + (f" · {rate}" if rate else "")

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.tooltip_at(QPointF(event.pos()))
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        name = self.province_at(event.position())
        if name != self._hover:
            self._hover = name
            self.update()

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802
        if self._hover is not None:
            self._hover = None
            self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        name = self.province_at(event.position())
        if name is not None:
            self.province_clicked.emit(name)
