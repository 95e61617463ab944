"""The order map's geometry: provinces and special lines from resources/map/china.geojson, projected once.

Albers equal-area conic (standard parallels 25°N and 47°N, central meridian 105°E, as Chinese
national maps use); outlines cached as QPainterPaths shared by every map in the process.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPainterPath, QPolygonF

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
def paths() -> dict[str, QPainterPath]:
    """Province outlines as painter paths, built once per process and shared by every map. Rings are
    thinned to half a pixel of a 1,000-pixel-wide map (the station shows it near 600): finer detail is unseen and
    only slows the redraw on resize."""
    tolerance = bounds(MAIN_BOX).width() / 2000
    return {p.name: painter_path(tuple(_thin(ring, tolerance) for ring in p.rings)) for p in geometry().provinces}


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
def bounds(box: tuple[float, float, float, float]) -> QRectF:
    west, south, east, north = box
    pts = [albers(lon, lat) for lon in (west, (west + east) / 2, east) for lat in (south, north)]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def painter_path(rings: tuple[tuple[tuple[float, float], ...], ...]) -> QPainterPath:
    # One addPolygon per ring, not a lineTo per point: fewer calls, and PySide6 6.12 mis-counts
    # references on the None that void methods such as lineTo return, which crashes after
    # a few hundred thousand calls.
    path = QPainterPath()
    for ring in rings:
        path.addPolygon(QPolygonF([QPointF(x, y) for x, y in ring]))
        path.closeSubpath()
    return path
