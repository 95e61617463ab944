"""The after-sales flow drawn as a state diagram: boxes in columns by distance from the start, arrows named by their step."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView

from app.domain.fields import CODE_LISTS, Lang, code_label
from app.domain.flow_check import reachable

BOX_W, BOX_H, COL_GAP, ROW_GAP = 150.0, 44.0, 90.0, 36.0


def layers(states: Sequence[str], initial: str | None, transitions: Sequence[Mapping[str, Any]]) -> dict[str, tuple[int, int]]:
    """(column, row) of each state: the column is its step distance from the start (breadth first);
    states no step reaches go in a column of their own at the end, so they stand out."""
    depth: dict[str, int] = {}
    if initial in states:
        depth[initial] = 0  # type: ignore[index]
        frontier = [initial]
        while frontier:
            state = frontier.pop(0)
            for t in transitions:
                target = t.get("to")
                if state in (t.get("from") or ()) and target in states and target not in depth:
                    depth[target] = depth[state] + 1  # type: ignore[index]
                    frontier.append(target)
    last = max(depth.values(), default=-1) + 1
    out: dict[str, tuple[int, int]] = {}
    rows: dict[int, int] = {}
    for s in states:  # declaration order within a column: the admin's own order reads top to bottom
        col = depth.get(s, last)
        out[s] = (col, rows.get(col, 0))
        rows[col] = rows.get(col, 0) + 1
    return out


class FlowDiagram(QGraphicsView):
    """Read-only picture of the definition being edited; redrawn after every change in the form."""

    def __init__(self, lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._lang = lang
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.boxes: dict[str, QRectF] = {}
        self.arrows: list[tuple[str, str, str]] = []  # (from, to, the steps' names)
        self.unreachable: set[str] = set()

    def _state(self, code: str) -> str:
        return code_label("after_sales_state", code, self._lang) if code in CODE_LISTS["after_sales_state"] else code

    def _step(self, code: str) -> str:
        return code_label("as_step", code, self._lang) if code in CODE_LISTS["as_step"] else code

    def show_flow(self, definition: Mapping[str, Any], *, selected: int | None = None,
                  faulty: frozenset[str] | set[str] = frozenset()) -> None:
        """Draw ``definition``; the arrows of transition ``selected`` in blue, states in ``faulty`` in red."""
        scene = self.scene()
        scene.clear()
        states = [s for s in definition.get("states") or () if isinstance(s, str)]
        initial = definition.get("initial")
        transitions = [t for t in definition.get("transitions") or () if isinstance(t, Mapping)]
        terminal = set(definition.get("terminal") or ())
        places = layers(states, initial, transitions)
        self.unreachable = set(states) - reachable(initial, transitions) if initial in states else set(states)
        font = QFont(self.font())
        fm = self.fontMetrics()
        # boxes as wide as the longest state name, columns as far apart as the longest step name needs
        box_w = max([BOX_W] + [fm.horizontalAdvance(self._state(s)) + 24.0 for s in states])
        box_h = max(BOX_H, fm.height() * 2.0)
        gap = max([COL_GAP] + [fm.horizontalAdvance(self._step(str(t.get("step", "")))) * 0.85 + 40.0 for t in transitions])
        self.boxes = {s: QRectF(col * (box_w + gap), row * (box_h + ROW_GAP) + ROW_GAP, box_w, box_h)
                      for s, (col, row) in places.items()}
        pairs: dict[tuple[str, str], list[str]] = {}
        chosen: set[tuple[str, str]] = set()
        for n, t in enumerate(transitions):
            for source in t.get("from") or ():
                if source in self.boxes and t.get("to") in self.boxes:
                    key = (source, t["to"])
                    name = self._step(str(t.get("step", "")))
                    if name not in pairs.setdefault(key, []):
                        pairs[key].append(name)
                    if n == selected:
                        chosen.add(key)
        self.arrows = [(a, b, "、".join(names) if self._lang == "zh" else ", ".join(names)) for (a, b), names in pairs.items()]
        for a, b, text in self.arrows:
            self._arrow(scene, self.boxes[a], self.boxes[b], text, (a, b) in chosen, font)
        for s, rect in self.boxes.items():
            bad = s in faulty or s in self.unreachable
            pen = QPen(QColor("#c0392b" if bad else "#1f6feb" if s == initial else "#5b6b7f"), 2.5 if s == initial else 1.5)
            if bad:
                pen.setStyle(Qt.PenStyle.DashLine)
            fill = QColor("#fdecea" if bad else "#e8f5e9" if s in terminal else "#eef4ff" if s == initial else "#ffffff")
            path = QPainterPath()
            path.addRoundedRect(rect, 8, 8)
            scene.addPath(path, pen, QBrush(fill))
            if s in terminal:  # a final state has a double border, as state charts draw it
                inner = QPainterPath()
                inner.addRoundedRect(rect.adjusted(3, 3, -3, -3), 6, 6)
                scene.addPath(inner, QPen(pen.color(), 1))
            label = scene.addText(self._state(s), font)
            box = label.boundingRect()
            label.setPos(rect.center().x() - box.width() / 2, rect.center().y() - box.height() / 2)
        if initial in self.boxes:  # the start: a filled dot with an arrow into the first state
            r = self.boxes[initial]
            dot = QPointF(r.left() - 28, r.center().y())
            scene.addEllipse(dot.x() - 6, dot.y() - 6, 12, 12, QPen(Qt.PenStyle.NoPen), QBrush(QColor("#1f6feb")))
            self._line(scene, dot + QPointF(6, 0), QPointF(r.left(), r.center().y()), QPen(QColor("#1f6feb"), 1.5))
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-20, -20, 20, 20))

    def _arrow(self, scene: QGraphicsScene, a: QRectF, b: QRectF, text: str, chosen: bool, font: QFont) -> None:
        pen = QPen(QColor("#1f6feb" if chosen else "#7a8696"), 2.5 if chosen else 1.3)
        path = QPainterPath()
        if a == b:  # a step that stays in its state: a loop above the box
            start, end = QPointF(a.center().x() - 20, a.top()), QPointF(a.center().x() + 20, a.top())
            path.moveTo(start)
            path.cubicTo(start + QPointF(-10, -34), end + QPointF(10, -34), end)
            tip, towards = end, end + QPointF(6, -14)
            mid = QPointF(a.center().x(), a.top() - 30)
        elif b.left() > a.right():  # forward: right edge to left edge, gently curved when rows differ
            start, end = QPointF(a.right(), a.center().y()), QPointF(b.left(), b.center().y())
            bend = (end.x() - start.x()) / 2
            path.moveTo(start)
            path.cubicTo(start + QPointF(bend, 0), end - QPointF(bend, 0), end)
            tip, towards = end, end - QPointF(bend, 0)
            mid = path.pointAtPercent(0.5)
        elif abs(b.left() - a.left()) < 1:  # within a column: a bow on the right-hand side
            start, end = QPointF(a.right(), a.center().y()), QPointF(b.right(), b.center().y())
            bulge = 46 + abs(end.y() - start.y()) * 0.15
            path.moveTo(start)
            path.cubicTo(start + QPointF(bulge, 0), end + QPointF(bulge, 0), end)
            tip, towards = end, end + QPointF(bulge, 0)
            mid = path.pointAtPercent(0.5)
        else:  # backwards: around underneath
            start, end = QPointF(a.center().x(), a.bottom()), QPointF(b.center().x() + 12, b.bottom())
            drop = max(a.bottom(), b.bottom()) + 30
            path.moveTo(start)
            path.cubicTo(QPointF(start.x(), drop), QPointF(end.x(), drop), end)
            tip, towards = end, QPointF(end.x(), drop)
            mid = path.pointAtPercent(0.5)
        scene.addPath(path, pen)
        angle = math.atan2(tip.y() - towards.y(), tip.x() - towards.x())
        head = QPolygonF([tip, tip - QPointF(math.cos(angle - 0.45) * 10, math.sin(angle - 0.45) * 10),
                          tip - QPointF(math.cos(angle + 0.45) * 10, math.sin(angle + 0.45) * 10)])
        scene.addPolygon(head, pen, QBrush(pen.color()))
        small = QFont(font)
        small.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
        label = scene.addText(text, small)
        label.setDefaultTextColor(QColor("#1f6feb" if chosen else "#3d4a5c"))
        box = label.boundingRect()
        back = scene.addRect(QRectF(mid.x() - box.width() / 2, mid.y() - box.height() / 2, box.width(), box.height()),
                             QPen(Qt.PenStyle.NoPen), QBrush(QColor(255, 255, 255, 220)))
        back.setZValue(1)
        label.setZValue(2)
        label.setPos(mid.x() - box.width() / 2, mid.y() - box.height() / 2)

    @staticmethod
    def _line(scene: QGraphicsScene, a: QPointF, b: QPointF, pen: QPen) -> None:
        scene.addLine(a.x(), a.y(), b.x(), b.y(), pen)
        scene.addPolygon(QPolygonF([b, b - QPointF(9, 4), b - QPointF(9, -4)]), pen, QBrush(pen.color()))
