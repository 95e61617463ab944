"""实时订单地图: provinces coloured by order count or exception rate, drawn as official Chinese maps are, clickable.

The geometry (resources/map/china.geojson) is projected once with an Albers equal-area conic
(standard parallels 25°N and 47°N, central meridian 105°E, as Chinese national maps use) and
cached as QPainterPaths; painting only fills them. The 南海诸岛 are drawn in an inset at the
lower right, as official maps do. Labels are placed in screen space by priority so they never
overlap (the rest show on hover); the filled provinces are cached as a pixmap per size, so hovering
repaints only labels and bubbles.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (QColor, QFont, QFontMetricsF, QHelpEvent, QLinearGradient, QMouseEvent, QPainter,
                           QPainterPath, QPaintEvent, QPen, QPixmap, QPolygonF)
from PySide6.QtWidgets import QToolTip, QWidget

from app.domain.fields import Lang
from app.ui.map_layout import Cluster, LabelWanted, Placement, cluster_points, place_labels

GEOJSON = Path(__file__).resolve().parents[2] / "resources" / "map" / "china.geojson"

# Albers equal-area conic for China
PHI1, PHI2, PHI0, LAMBDA0 = map(math.radians, (25.0, 47.0, 0.0, 105.0))
_N = (math.sin(PHI1) + math.sin(PHI2)) / 2
_C = math.cos(PHI1) ** 2 + 2 * _N * math.sin(PHI1)
_RHO0 = math.sqrt(_C - 2 * _N * math.sin(PHI0)) / _N

MAIN_BOX = (73.0, 17.5, 135.5, 54.0)  # lon/lat shown in the main frame
INSET_BOX = (105.5, 2.5, 124.0, 24.5)  # 南海诸岛


def albers(lon: float, lat: float) -> tuple[float, float]:
    """Projected x, y (unit sphere; y grows north)."""
    rho = math.sqrt(_C - 2 * _N * math.sin(math.radians(lat))) / _N
    theta = _N * (math.radians(lon) - LAMBDA0)
    return rho * math.sin(theta), _RHO0 - rho * math.cos(theta)


@dataclass(frozen=True)
class Province:
    name: str
    short: str
    rings: tuple[tuple[tuple[float, float], ...], ...]  # projected outer rings
    label: tuple[float, float]


@dataclass(frozen=True)
class Geometry:
    provinces: tuple[Province, ...]
    lines: tuple[tuple[tuple[float, float], ...], ...]


@cache
def geometry() -> Geometry:
    """The projected map, read once per process."""
    data = json.loads(GEOJSON.read_text(encoding="utf-8"))
    provinces, lines = [], []
    for feature in data["features"]:
        g, props = feature["geometry"], feature["properties"]
        if props["kind"] == "province":
            polys = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
            rings = tuple(tuple(albers(x, y) for x, y in poly[0]) for poly in polys)
            provinces.append(Province(props["name"], props["short"], rings, albers(*props["label"])))
        else:
            parts = [g["coordinates"]] if g["type"] == "LineString" else g["coordinates"]
            lines.extend(tuple(albers(x, y) for x, y in part) for part in parts)
    return Geometry(tuple(provinces), tuple(lines))


@cache
def _paths() -> dict[str, QPainterPath]:
    """Province outlines as painter paths, built once per process and shared by every map. Rings are
    thinned to half a pixel of a 1,000-pixel-wide map (the station shows it near 600): finer detail is unseen and
    only slows the redraw on resize."""
    tolerance = _bounds(MAIN_BOX).width() / 2000
    return {p.name: OrderMap._path(tuple(_thin(ring, tolerance) for ring in p.rings)) for p in geometry().provinces}


def _thin(ring: tuple[tuple[float, float], ...], tolerance: float) -> tuple[tuple[float, float], ...]:
    """Douglas-Peucker simplification (iterative, keeps the first and last point)."""
    if len(ring) < 4:
        return ring
    keep = [False] * len(ring)
    keep[0] = keep[-1] = True
    stack = [(0, len(ring) - 1)]
    while stack:
        a, b = stack.pop()
        (ax, ay), (bx, by) = ring[a], ring[b]
        dx, dy = bx - ax, by - ay
        norm = math.hypot(dx, dy) or 1e-12
        far, far_d = -1, tolerance
        for i in range(a + 1, b):
            px, py = ring[i]
            d = abs(dy * (px - ax) - dx * (py - ay)) / norm if (dx or dy) else math.hypot(px - ax, py - ay)
            if d > far_d:
                far, far_d = i, d
        if far > 0:
            keep[far] = True
            stack.extend(((a, far), (far, b)))
    thinned = tuple(pt for pt, k in zip(ring, keep, strict=True) if k)
    return thinned if len(thinned) >= 3 else ring


@cache
def _bounds(box: tuple[float, float, float, float]) -> QRectF:
    west, south, east, north = box
    pts = [albers(lon, lat) for lon in (west, (west + east) / 2, east) for lat in (south, north)]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


# Province short names in English (the map's labels in English mode); keyed by the Chinese short name.
ENGLISH = {
    "北京": "Beijing", "天津": "Tianjin", "河北": "Hebei", "山西": "Shanxi", "内蒙古": "Inner Mongolia",
    "辽宁": "Liaoning", "吉林": "Jilin", "黑龙江": "Heilongjiang", "上海": "Shanghai", "江苏": "Jiangsu",
    "浙江": "Zhejiang", "安徽": "Anhui", "福建": "Fujian", "江西": "Jiangxi", "山东": "Shandong",
    "河南": "Henan", "湖北": "Hubei", "湖南": "Hunan", "广东": "Guangdong", "广西": "Guangxi",
    "海南": "Hainan", "重庆": "Chongqing", "四川": "Sichuan", "贵州": "Guizhou", "云南": "Yunnan",
    "西藏": "Xizang", "陕西": "Shaanxi", "甘肃": "Gansu", "青海": "Qinghai", "宁夏": "Ningxia",
    "新疆": "Xinjiang", "台湾": "Taiwan", "香港": "Hong Kong", "澳门": "Macao",
}
EMPTY = QColor("#eef2f7")  # a province without orders
COURIER = QColor(230, 126, 34, 210)  # parcels on the road: orange
CLUSTER_CELL = 26.0  # px: parcels closer than this share a bubble


def shade(t: float) -> QColor:
    """The colour scale, 0..1 (light to dark blue); the same in every language and mode."""
    t = max(0.0, min(1.0, t))
    return QColor.fromRgbF(0.86 - 0.70 * t, 0.91 - 0.55 * t, 0.98 - 0.30 * t)


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
        self._paths = _paths()
        self._short = {p.name: p.short for p in self._geo.provinces}
        self._lines = [QPolygonF([QPointF(x, y) for x, y in line]) for line in self._geo.lines]
        self._base: tuple[tuple[Any, ...], QPixmap] | None = None  # (key, pixmap of the filled map)
        self._layout: tuple[tuple[Any, ...], Placement, list[Cluster]] | None = None
        self._text_width: dict[str, float] = {}
        self._sprites: dict[tuple[Any, ...], QPixmap] = {}

    @staticmethod
    def _path(rings: tuple[tuple[tuple[float, float], ...], ...]) -> QPainterPath:
        # One addPolygon per ring, not a lineTo per point: fewer calls, and PySide6 6.12 mis-counts
        # references on the None that void methods such as lineTo return, which crashes after
        # a few hundred thousand calls.
        path = QPainterPath()
        for ring in rings:
            path.addPolygon(QPolygonF([QPointF(x, y) for x, y in ring]))
            path.closeSubpath()
        return path

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
        main_world, inset_world = _bounds(MAIN_BOX), _bounds(INSET_BOX)
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
        w = max(150.0, fm.horizontalAdvance(self._t("在途包裹（数字为聚合件数）", "Parcels on the road (bubble = count)")) + 48)
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
        bubbles = [QRectF(c.centre.x() - r, c.centre.y() - r, 2 * r, 2 * r)
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
        fm = painter.fontMetrics()
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
        rect = self.legend_rect()
        painter.setFont(self._label_font())
        fm = painter.fontMetrics()
        line = fm.height()
        painter.setPen(QPen(QColor("#b8c2cc"), 1))
        painter.setBrush(QColor(255, 255, 255, 225))
        painter.drawRoundedRect(rect, 4, 4)
        x, y = rect.left() + 8, rect.top() + 6
        painter.setPen(QColor("#1f2d3d"))
        title = self._t("异常率", "Exception rate") if self._measure == "exception_rate" else self._t("订单数", "Orders")
        painter.drawText(QRectF(x, y, rect.width() - 16, line), Qt.AlignmentFlag.AlignLeft, title)
        y += line + 2
        bar = QRectF(x, y, rect.width() - 16, 10)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for i in range(11):
            gradient.setColorAt(i / 10, shade(i / 10))
        painter.fillRect(bar, gradient)
        painter.setPen(QPen(QColor("#5b6b7f"), 0.8))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(bar)
        y += 12
        top = self._top()
        painter.setPen(QColor("#1f2d3d"))
        ticks = QRectF(x, y, bar.width(), line)
        painter.drawText(ticks, Qt.AlignmentFlag.AlignLeft, self.fmt(0) if top else "—")
        mid = self.fmt(top / 4)  # sqrt scale: a quarter of the top sits mid-bar
        if top and mid not in (self.fmt(0), self.fmt(top)):
            painter.drawText(ticks, Qt.AlignmentFlag.AlignHCenter, mid)
        painter.drawText(ticks, Qt.AlignmentFlag.AlignRight, self.fmt(top) if top else "")
        y += line + 2
        painter.fillRect(QRectF(x, y + 2, 14, line - 4), EMPTY)
        painter.drawRect(QRectF(x, y + 2, 14, line - 4))
        painter.drawText(QRectF(x + 20, y, bar.width() - 20, line), Qt.AlignmentFlag.AlignLeft, self._t("无订单", "No orders"))
        y += line
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(COURIER)
        painter.drawEllipse(QPointF(x + 7, y + line / 2), 5, 5)
        painter.setPen(QColor("#1f2d3d"))
        painter.drawText(QRectF(x + 20, y, bar.width() - 20, line), Qt.AlignmentFlag.AlignLeft,
                         self._t("在途包裹（数字为聚合件数）", "Parcels on the road (bubble = count)"))

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
