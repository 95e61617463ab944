"""实时订单地图: provinces coloured by order count, drawn as official Chinese maps are, clickable.

The geometry (resources/map/china.geojson) is projected once with an Albers equal-area conic
(standard parallels 25°N and 47°N, central meridian 105°E, as Chinese national maps use) and
cached as QPainterPaths; painting only fills them. The 南海诸岛 are drawn in an inset at the
lower right, as official maps do.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

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
    """Province outlines as painter paths, built once per process and shared by every map."""
    return {p.name: OrderMap._path(p.rings) for p in geometry().provinces}


def _bounds(box: tuple[float, float, float, float]) -> QRectF:
    west, south, east, north = box
    pts = [albers(lon, lat) for lon in (west, (west + east) / 2, east) for lat in (south, north)]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


class OrderMap(QWidget):
    """Colours provinces by order count; clicking one emits its official name."""

    province_clicked = Signal(str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(360, 300)
        self._counts: dict[str, float] = {}
        self._fmt: Callable[[float], str] = lambda n: str(int(n))
        self._selected: str | None = None
        self._couriers: list[tuple[float, float]] = []
        self._geo = geometry()
        self._paths = _paths()
        self._lines = [QPolygonF([QPointF(x, y) for x, y in line]) for line in self._geo.lines]

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

    def set_counts(self, counts: dict[str, float], selected: str | None = None, *,
                   fmt: Callable[[float], str] = lambda n: str(int(n))) -> None:
        """Colour provinces by ``counts`` (order counts, or rates with ``fmt`` such as a percentage)."""
        self._counts, self._selected, self._fmt = dict(counts), selected, fmt
        self.update()

    def set_couriers(self, positions: list[tuple[float, float]]) -> None:
        """Parcels on the road: where each was last seen (lon, lat), drawn as small dots."""
        self._couriers = [albers(lon, lat) for lon, lat in positions]
        self.update()

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
    def _transform(painter: QPainter, world: QRectF, screen: QRectF) -> None:
        sx, sy = screen.width() / world.width(), screen.height() / world.height()
        painter.translate(screen.left() - world.left() * sx, screen.bottom() + world.top() * sy)
        painter.scale(sx, -sy)  # north up

    def _colour(self, name: str) -> QColor:
        top = max(self._counts.values(), default=0)
        n = self._counts.get(name, 0)
        if top == 0 or n == 0:
            return QColor("#eef2f7")
        t = math.sqrt(n / top)  # square root: small provinces still show a shade
        return QColor.fromRgbF(0.86 - 0.70 * t, 0.91 - 0.55 * t, 0.98 - 0.30 * t)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("white"))
        (mw, ms), (iw, iscreen) = self._frames()
        for world, screen, inset in ((mw, ms, False), (iw, iscreen, True)):
            painter.save()
            if inset:
                painter.fillRect(screen, QColor("white"))
                painter.setPen(QPen(QColor("#555555"), 1))
                painter.drawRect(screen)
            painter.setClipRect(screen)
            self._transform(painter, world, screen)
            scale = screen.width() / world.width()
            for name, path in self._paths.items():
                selected = name == self._selected
                painter.setPen(QPen(QColor("#c0392b") if selected else QColor("#5b6b7f"), (2.0 if selected else 0.7) / scale))
                painter.setBrush(self._colour(name))
                painter.drawPath(path)
            painter.setPen(QPen(QColor("#5b6b7f"), 1.2 / scale, Qt.PenStyle.SolidLine))
            for line in self._lines:
                painter.drawPolyline(line)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(230, 126, 34, 200))  # couriers: orange, half see-through
            for x, y in self._couriers:
                painter.drawEllipse(QPointF(x, y), 2.5 / scale, 2.5 / scale)
            painter.restore()
        self._labels(painter, mw, ms)
        painter.end()

    def _labels(self, painter: QPainter, world: QRectF, screen: QRectF) -> None:
        painter.setPen(QColor("#1f2d3d"))
        sx, sy = screen.width() / world.width(), screen.height() / world.height()
        for p in self._geo.provinces:
            n = self._counts.get(p.name)
            if not n:
                continue
            x = screen.left() + (p.label[0] - world.left()) * sx
            y = screen.bottom() - (p.label[1] - world.top()) * sy
            if screen.contains(QPointF(x, y)):
                painter.drawText(QRectF(x - 40, y - 9, 80, 18), Qt.AlignmentFlag.AlignCenter, f"{p.short}{self._fmt(n)}")

    # --- clicks --------------------------------------------------------------------------------------
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
        """Where a province's label sits on screen (for tests and tooltips)."""
        (world, screen), _ = self._frames()
        p = next(p for p in self._geo.provinces if p.name == name)
        sx, sy = screen.width() / world.width(), screen.height() / world.height()
        return QPointF(screen.left() + (p.label[0] - world.left()) * sx, screen.bottom() - (p.label[1] - world.top()) * sy)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        name = self.province_at(event.position())
        if name is not None:
            self.province_clicked.emit(name)
