"""Where the order map puts its labels and parcel bubbles: screen-space placement, computed once per size."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QRegion

# Where a label may sit relative to its province's anchor, tried in order (multiples of the label's
# width and height). The first is centred on the anchor; the later ones are pulled away and get a
# leader line back to the anchor.
CANDIDATES: tuple[tuple[float, float], ...] = (
    (0.0, 0.0), (0.0, -0.9), (0.0, 0.9), (0.62, 0.0), (-0.62, 0.0),
    (0.62, -0.9), (-0.62, -0.9), (0.62, 0.9), (-0.62, 0.9),
    (1.15, 0.0), (-1.15, 0.0), (0.0, -1.8), (0.0, 1.8), (1.15, -1.2), (1.15, 1.2), (-1.15, -1.2), (-1.15, 1.2),
)
LEADER_FROM = 3  # candidates from this index on are far enough from the anchor to want a leader line


@dataclass(frozen=True, slots=True)
class LabelWanted:
    """One province asking for a label: the larger ``priority`` is placed first."""

    name: str
    anchor: QPointF
    text: str
    priority: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class PlacedLabel:
    name: str
    anchor: QPointF
    text: str
    rect: QRectF
    leader: bool  # drawn away from its anchor, so a thin line leads back


@dataclass(frozen=True, slots=True)
class Placement:
    placed: tuple[PlacedLabel, ...]
    hidden: tuple[LabelWanted, ...]  # no free room: shown on hover instead


def place_labels(wanted: Iterable[LabelWanted], size: Callable[[str], tuple[float, float]],
                 bounds: QRectF, obstacles: Iterable[QRectF] = ()) -> Placement:
    """Greedy placement by priority: each label takes the first candidate position that stays inside
    ``bounds`` and overlaps neither an obstacle nor a label placed before it; a label with no such
    position is hidden (the map shows it on hover). Labels therefore never overlap, whatever the size."""
    taken = QRegion()  # one C++ region test per candidate instead of a Python loop over every rectangle
    for rect in obstacles:
        taken += rect.toAlignedRect()
    placed: list[PlacedLabel] = []
    hidden: list[LabelWanted] = []
    for want in sorted(wanted, key=lambda w: w.priority, reverse=True):
        w, h = size(want.text)
        for i, (dx, dy) in enumerate(CANDIDATES):
            rect = QRectF(want.anchor.x() + dx * w - w / 2, want.anchor.y() + dy * h - h / 2, w, h)
            if bounds.contains(rect) and not taken.intersects(rect.toAlignedRect()):
                taken += rect.toAlignedRect()
                placed.append(PlacedLabel(want.name, want.anchor, want.text, rect, i >= LEADER_FROM))
                break
        else:
            hidden.append(want)
    return Placement(tuple(placed), tuple(hidden))


@dataclass(frozen=True, slots=True)
class Cluster:
    """Parcels close together on screen, drawn as one bubble with their count (or a dot when alone)."""

    centre: QPointF
    count: int


def cluster_points(points: Iterable[tuple[float, float]], cell: float, min_bubble: int = 3) -> list[Cluster]:
    """Group screen points by a ``cell``-pixel grid; a cell with ``min_bubble`` or more parcels becomes
    one bubble at their centroid, a sparser cell keeps its dots (a dot per parcel reads better than "2")."""
    cells: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for x, y in points:
        cells.setdefault((int(x // cell), int(y // cell)), []).append((x, y))
    groups: list[tuple[float, float, int]] = []  # centroid x, y, count
    for members in cells.values():
        if len(members) >= min_bubble:
            groups.append((sum(p[0] for p in members) / len(members), sum(p[1] for p in members) / len(members), len(members)))
        else:
            groups.extend((x, y, 1) for x, y in members)
    # Neighbouring cells would draw overlapping bubbles: fold each group into a bigger one within a cell's
    # reach (largest first), so bubbles never cover each other's counts.
    merged: list[list[float]] = []
    bubbles: list[list[float]] = []
    for x, y, n in sorted(groups, key=lambda g: g[2], reverse=True):
        home = next((m for m in bubbles if (m[0] - x) ** 2 + (m[1] - y) ** 2 < cell * cell), None)
        if home is None:
            merged.append([x, y, n])
            if n >= min_bubble:
                bubbles.append(merged[-1])
        else:
            total = home[2] + n
            home[0], home[1], home[2] = (home[0] * home[2] + x * n) / total, (home[1] * home[2] + y * n) / total, total
    return [Cluster(QPointF(x, y), int(n)) for x, y, n in merged]
