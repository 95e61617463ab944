"""pyqtgraph charts for the 主管 station: a time series with its threshold line, and labelled bars.

Both keep their plot items and only ``setData`` them on refresh (a live update never rebuilds the
plot), show the value under the pointer, and emit the index of a clicked point or bar.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.domain.clock import local

pg.setConfigOptions(antialias=True, background="w", foreground="#333333")

CST_OFFSET = -8 * 3600  # DateAxisItem subtracts this from UTC: axis labels in China time on any machine
SERIES_PENS = ("#1f6fb2", "#9aa5b1", "#d9822b", "#2e8b57")
BAR_BRUSH = "#5b8fd6"


def _title(title: str, key: str) -> QLabel:
    label = QLabel(f"<b>{title}</b>" + (f"<br>{key}" if key else ""))
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet("background: white; color: #333333; padding: 3px;")
    return label


class SeriesChart(QWidget):
    """A time series per metric, with a dashed threshold line; click a point → its bucket index."""

    point_clicked = Signal(int, int)  # (series index, point index)

    def __init__(self, title: str, *, target: float | None, target_label: str, fmt: Callable[[float], str],
                 names: Sequence[str], percent: bool = False, parent: Any = None) -> None:
        super().__init__(parent)
        # shares are drawn as percentages (0.3 → 0.3 %) so a small share still gets readable ticks
        self._scale = 100.0 if percent else 1.0
        self._fmt, self._names = (lambda v: fmt(v / self._scale)), list(names)
        self._times: list[datetime] = []
        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(utcOffset=CST_OFFSET)})
        # series named in the title, in their colours: a legend inside the plot would cover points
        key = "&nbsp;&nbsp;".join(f'<span style="color:{SERIES_PENS[n % len(SERIES_PENS)]}">━ {name}</span>'
                                  for n, name in enumerate(names)) if len(names) > 1 else ""
        # title and series key as Qt rich text above the plot: a legend inside would cover points, and a
        # long pyqtgraph title widens the plot past its widget
        self.title = _title(title, key)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.curves: list[pg.PlotDataItem] = []
        self.scatters: list[pg.ScatterPlotItem] = []
        for n, name in enumerate(self._names):
            pen = pg.mkPen(SERIES_PENS[n % len(SERIES_PENS)], width=2)
            curve = self.plot.plot([], [], pen=pen, name=name)
            scatter = pg.ScatterPlotItem(size=8, brush=pg.mkBrush(SERIES_PENS[n % len(SERIES_PENS)]), pen=None,
                                         hoverable=True, hoverSize=12, tip=self._tip)
            scatter.sigClicked.connect(lambda _item, points, _ev, n=n: self._clicked(n, points))
            self.plot.addItem(scatter)
            self.curves.append(curve)
            self.scatters.append(scatter)
        self.threshold: pg.InfiniteLine | None = None
        if target is not None:
            self.threshold = pg.InfiniteLine(
                pos=target * self._scale, angle=0, movable=False, pen=pg.mkPen("#c0392b", width=1.5, style=Qt.PenStyle.DashLine),
                label=target_label, labelOpts={"position": 0.97, "color": "#c0392b", "fill": (255, 255, 255, 200),
                                               "anchors": [(1, 1), (1, 1)]})
            self.plot.addItem(self.threshold)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.title)
        layout.addWidget(self.plot)
        if percent:
            self.plot.getAxis("left").setLabel("%")

    def _tip(self, x: float, y: float, data: Any) -> str:
        when = local(datetime.fromtimestamp(x, UTC)).strftime("%m-%d %H:%M") if data is None else data[1]
        name = "" if data is None else f"{self._names[data[0]]}："
        return f"{when}\n{name}{self._fmt(y)}"

    def set_series(self, times: Sequence[datetime], values: Sequence[Sequence[float | None]],
                   labels: Sequence[str]) -> None:
        """New data for every series (None: no value in that bucket, left as a gap)."""
        self._times = list(times)
        xs = [t.timestamp() for t in times]
        for n, (curve, scatter) in enumerate(zip(self.curves, self.scatters, strict=True)):
            series = values[n] if n < len(values) else []
            pts = [(x, v * self._scale, i) for i, (x, v) in enumerate(zip(xs, series, strict=False)) if v is not None]
            curve.setData([p[0] for p in pts], [p[1] for p in pts])
            scatter.setData([p[0] for p in pts], [p[1] for p in pts], data=[(n, labels[p[2]], p[2]) for p in pts])
        axis = self.plot.getAxis("bottom")
        if 0 < len(xs) <= 48:  # the buckets' own names (China time), thinned to about eight
            step = max(1, round(len(xs) / 8))
            axis.setTicks([[(x, labels[i]) for i, x in enumerate(xs) if i % step == 0], []])
        else:
            axis.setTicks(None)
        self.plot.enableAutoRange()
        if xs:  # a little room left and right so the first and last points are whole
            pad = (xs[-1] - xs[0]) / max(len(xs) - 1, 1) * 0.4 or 1800  # room for the edge ticks' labels
            self.plot.setXRange(xs[0] - pad, xs[-1] + pad, padding=0)
        if self.threshold is not None:  # keep the threshold in view even when every value is far from it
            ys = [v * self._scale for s in values for v in s if v is not None] + [float(self.threshold.value())]
            low, high = min(ys), max(ys)
            pad = (high - low) * 0.12 or abs(high) * 0.1 or 1.0
            self.plot.setYRange(low - pad, high + pad, padding=0)

    def _clicked(self, series: int, points: Sequence[Any]) -> None:
        if points:
            self.point_clicked.emit(series, int(points[0].data()[2]))

    def point_position(self, series: int, index: int) -> QPointF:
        """Where point ``index`` of ``series`` is drawn, in this widget's viewport coordinates (for tests)."""
        spot = next(p for p in self.scatters[series].points() if p.data()[2] == index)
        scene = self.plot.plotItem.vb.mapViewToScene(spot.pos())
        return QPointF(self.plot.mapFromScene(scene))


class BarChart(QWidget):
    """Bars with their names beside them; hover shows the value, click → the bar's index.

    ``horizontal`` lays bars along the left axis, for long names (shops) that would overlap under
    vertical bars.
    """

    bar_clicked = Signal(int)

    def __init__(self, title: str, fmt: Callable[[float], str], *, horizontal: bool = False, parent: Any = None) -> None:
        super().__init__(parent)
        self._fmt, self._horizontal = fmt, horizontal
        self._labels: list[str] = []
        self._heights: list[float] = []
        self.plot = pg.PlotWidget()
        self.title = _title(title, "")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=horizontal, y=not horizontal, alpha=0.25)
        self.bars = (pg.BarGraphItem(x0=[], y=[], width=[], height=0.6, brush=BAR_BRUSH, pen=None) if horizontal
                     else pg.BarGraphItem(x=[], height=[], width=0.6, brush=BAR_BRUSH, pen=None))
        self.plot.addItem(self.bars)
        self.value_text = pg.TextItem("", anchor=(1.0, 0.5) if horizontal else (0.5, 1.0), color="#222222",
                                      fill=(255, 255, 255, 220))
        self.value_text.setZValue(10)
        self.plot.addItem(self.value_text)
        self.value_text.hide()
        self.plot.scene().sigMouseMoved.connect(self._hover)
        self.plot.scene().sigMouseClicked.connect(self._click)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.title)
        layout.addWidget(self.plot)

    def set_bars(self, labels: Sequence[str], heights: Sequence[float]) -> None:
        self._labels, self._heights = list(labels), [float(h) for h in heights]
        xs = list(range(len(self._heights)))
        top = max(self._heights or [1]) * 1.15 or 1
        ticks = [[(i, name) for i, name in enumerate(self._labels)]]
        if self._horizontal:
            self.bars.setOpts(x0=[0] * len(xs), y=xs, width=self._heights, height=0.6)
            axis = self.plot.getAxis("left")
            axis.setTicks(ticks)
            metrics = QFontMetrics(axis.font() if hasattr(axis, "font") else self.font())
            axis.setWidth(max([metrics.horizontalAdvance(n) for n in self._labels] + [20]) + 14)
            self.plot.setYRange(-0.6, max(len(xs), 1) - 0.4, padding=0)
            self.plot.setXRange(0, top, padding=0)
        else:
            self.bars.setOpts(x=xs, height=self._heights, width=0.6)
            self.plot.getAxis("bottom").setTicks(ticks)
            self.plot.setXRange(-0.6, max(len(xs), 1) - 0.4, padding=0)
            self.plot.setYRange(0, top, padding=0)
        self.value_text.hide()

    def _bar_at(self, scene_pos: QPointF) -> int | None:
        if not self.plot.plotItem.vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.plot.plotItem.vb.mapSceneToView(scene_pos)
        along, value = (p.y(), p.x()) if self._horizontal else (p.x(), p.y())
        i = round(along)
        if 0 <= i < len(self._heights) and abs(along - i) <= 0.3 and 0 <= value <= max(self._heights[i], 0):
            return i
        return None

    def _hover(self, scene_pos: QPointF) -> None:
        i = self._bar_at(scene_pos)
        if i is None:
            self.value_text.hide()
            return
        self.show_value(i)

    def show_value(self, i: int) -> None:
        """The value of bar ``i`` above it (what hovering shows)."""
        self.value_text.setText(f"{self._labels[i]}：{self._fmt(self._heights[i])}")
        self.value_text.setPos(*((self._heights[i], i) if self._horizontal else (i, self._heights[i])))
        self.value_text.show()

    def _click(self, ev: Any) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        i = self._bar_at(ev.scenePos())
        if i is not None:
            self.bar_clicked.emit(i)

    def bar_position(self, i: int) -> QPointF:
        """The middle of bar ``i`` in viewport coordinates (for tests and keyboard users)."""
        middle = (self._heights[i] / 2, i) if self._horizontal else (i, self._heights[i] / 2)
        scene = self.plot.plotItem.vb.mapViewToScene(QPointF(*middle))
        return QPointF(self.plot.mapFromScene(scene))
