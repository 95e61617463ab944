"""主管工作台 · 订单健康度: the summary row, the charts, and the orders behind whatever is clicked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import QDate, QDateTime, Qt, QTime, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QDateTimeEdit, QFrame, QGridLayout, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QSplitter, QTableView, QTabWidget, QTextBrowser, QVBoxLayout, QWidget)

from app.domain import clock
from app.domain.fields import Lang, code_label
from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.health import CONSISTENCY, METRICS, REAL_ON_TIME, RESPONSE, Grain, Metric, Rating
from app.services import health, health_drill, health_ops
from app.services.health import Bar, Point, Span, Summary
from app.services.permissions import NotPermitted
from app.services.unit_of_work import UnitOfWork
from app.ui.order_table import OrderTableModel
from app.ui.supervisor.charts import BarChart, SeriesChart
from app.ui.supervisor.stations_panel import StationsPanel

UowFactory = Callable[[], UnitOfWork]
COLOURS = {Rating.GREEN: "#2e8b57", Rating.AMBER: "#d9822b", Rating.RED: "#c0392b", Rating.NONE: "#8a8f98"}
PRESETS = (("24h", 1), ("7d", 7), ("30d", 30))
GRAIN_STEP = {Grain.HOUR: timedelta(hours=1), Grain.DAY: timedelta(days=1), Grain.WEEK: timedelta(weeks=1)}


def show_value(metric: Metric, value: float | None, lang: Lang) -> str:
    if value is None:
        return code_label("health_rating", "none", lang)
    if metric.unit == "seconds":
        return f"{value:.0f} 秒" if lang == "zh" else f"{value:.0f} s"
    return f"{value * 100:.1f}%"


def target_text(metric: Metric, lang: Lang) -> str:
    sign = "≥" if metric.higher_is_better else "≤"
    return ("目标 " if lang == "zh" else "target ") + sign + " " + show_value(metric, metric.target, lang)


@dataclass(frozen=True)
class ChartSpec:
    """One chart on the page: what it shows, and which orders a click on it lists."""

    key: str
    measures: tuple[str, ...]  # per series (time series) or the bar measure


class SummaryCard(QFrame):
    """One health number, coloured against its threshold."""

    def __init__(self, metric: Metric, lang: Lang) -> None:
        super().__init__()
        self.measure, self._lang = metric, lang
        self.setObjectName("card")
        self.name = QLabel(code_label("health_metric", metric.key, lang))
        self.value = QLabel()
        self.value.setStyleSheet("font-size: 20pt; font-weight: bold;")
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        for w in (self.name, self.value, self.note):
            layout.addWidget(w)
        self.rating = Rating.NONE

    def show_headline(self, h: health.Headline) -> None:
        self.rating = h.rating
        shown = show_value(self.measure, h.value, self._lang)
        if h.key == "consistency" and h.value is not None:  # the number is the share that disagrees
            shown = ("不一致 " if self._lang == "zh" else "disagree ") + shown
        self.value.setText(shown)
        zh = self._lang == "zh"
        extra = ""
        if h.key == "real_on_time" and h.detail.get("nominal") is not None:
            extra = ("名义 " if zh else "nominal ") + show_value(self.measure, h.detail["nominal"], self._lang) + " · "
        self.note.setText(f"{extra}{target_text(self.measure, self._lang)} · {code_label('health_rating', h.rating, self._lang)}")
        colour = COLOURS[h.rating]
        r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
        self.setStyleSheet(f"QFrame#card {{ border: 2px solid {colour}; border-radius: 6px; "
                           f"background: rgba({r}, {g}, {b}, 28); }} QLabel {{ color: {colour}; border: none; }}")


class SupervisorWorkspace(QWidget):
    """Everything is read from the health services (rollups); a refresh re-queries and ``setData``s the
    existing chart items, so following the change feed never rebuilds the page."""

    order_opened = Signal(str)

    def __init__(self, uow: UowFactory, lang: Lang = "zh", *, actor: Actor, now: Callable[[], datetime] = clock.now,
                 sync: Any = None, defer: bool = False, parent: Any = None) -> None:
        super().__init__(parent)
        self._uow, self._lang, self._now, self._actor = uow, lang, now, actor
        self._deferred = defer
        self._name_cache: dict[tuple[str, str], str] = {}
        self._trace_sample = 1
        zh = lang == "zh"
        self.span = Span.last_days(now(), 7)
        self.grain = Grain.DAY
        self.points: list[Point] = []
        self.bar_rows: dict[str, list[Bar]] = {}
        self.summary: Summary | None = None
        self.selection: health_drill.Selection | None = None
        # --- range bar
        self.preset = QComboBox()
        for code, days in PRESETS:
            self.preset.addItem({"24h": "最近24小时", "7d": "最近7天", "30d": "最近30天"}[code] if zh else
                                {"24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}[code], days)
        self.preset.setCurrentIndex(1)
        self.start_edit, self.end_edit = QDateTimeEdit(), QDateTimeEdit()
        for edit in (self.start_edit, self.end_edit):
            edit.setDisplayFormat("yyyy-MM-dd HH:00")
            edit.setCalendarPopup(True)
        self.grain_box = QComboBox()
        for g in Grain:
            self.grain_box.addItem(code_label("health_grain", g.value, lang), g.value)
        self.apply_button = QPushButton("查询" if zh else "Apply")
        self.xlsx_button = QPushButton("导出周报 Excel" if zh else "Weekly report (Excel)")
        self.pdf_button = QPushButton("导出周报 PDF" if zh else "Weekly report (PDF)")
        bar = QHBoxLayout()
        for w in (QLabel("统计区间" if zh else "Range"), self.preset, self.start_edit, QLabel("至" if zh else "to"),
                  self.end_edit, self.grain_box, self.apply_button):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.xlsx_button)
        bar.addWidget(self.pdf_button)
        # --- summary row
        self.cards = {m.key: SummaryCard(m, lang) for m in (CONSISTENCY, RESPONSE, METRICS["traceability"], REAL_ON_TIME)}
        cards = QHBoxLayout()
        for card in self.cards.values():
            cards.addWidget(card)
        # --- charts
        t = lambda key: code_label("health_metric", key, lang)  # noqa: E731
        pct = lambda v: f"{v * 100:.1f}%"  # noqa: E731
        secs = (lambda v: f"{v:.0f} 秒") if zh else (lambda v: f"{v:.0f} s")  # noqa: E731
        count = lambda v: f"{v:,.0f}"  # noqa: E731
        self.on_time_chart = SeriesChart(t("real_on_time") + (" / 名义履约率" if zh else " / nominal"),
                                         target=REAL_ON_TIME.target, target_label=target_text(REAL_ON_TIME, lang),
                                         fmt=pct, names=(t("real_on_time"), t("nominal_on_time")), percent=True)
        self.consistency_chart = SeriesChart(t("consistency") + ("（不一致占比）" if zh else " (share disagreeing)"),
                                             target=CONSISTENCY.target, target_label=target_text(CONSISTENCY, lang),
                                             fmt=pct, names=(t("consistency"),), percent=True)
        self.response_chart = SeriesChart(t("response") + ("（首次响应中位数）" if zh else " (median first response)"),
                                          target=RESPONSE.target, target_label=target_text(RESPONSE, lang), fmt=secs,
                                          names=(t("response"),))
        self.orders_chart = SeriesChart(t("orders") + " / " + t("rescued"), target=None, target_label="", fmt=count,
                                        names=(t("orders"), t("rescued")))
        self.shop_chart = BarChart(t("rescued") + ("（按店铺）" if zh else " by shop"), count, horizontal=True)
        self.warehouse_chart = BarChart(t("late") + ("（按发货仓）" if zh else " by warehouse"), count)
        self.platform_chart = BarChart(t("late") + ("（按平台）" if zh else " by platform"), count)
        self.agent_chart = BarChart(t("agent_orders") + ("（按客服）" if zh else " by agent"), lambda v: f"{v:.1f}")
        self.series_specs = {self.on_time_chart: ChartSpec("on_time", ("real_on_time", "nominal_on_time")),
                             self.consistency_chart: ChartSpec("consistency", ("mismatched",)),
                             self.orders_chart: ChartSpec("orders", ("orders", "rescued"))}
        grid = QGridLayout()
        for n, chart in enumerate((self.on_time_chart, self.consistency_chart, self.response_chart, self.orders_chart)):
            grid.addWidget(chart, 0, n)
        for n, chart in enumerate((self.shop_chart, self.warehouse_chart, self.platform_chart, self.agent_chart)):
            grid.addWidget(chart, 1, n)
        for chart, spec in self.series_specs.items():
            chart.point_clicked.connect(lambda s, i, spec=spec: self.open_point(spec.measures[s], i))
        self.shop_chart.bar_clicked.connect(lambda i: self.open_bar("shop", "rescued", i))
        self.warehouse_chart.bar_clicked.connect(lambda i: self.open_bar("warehouse", "late", i))
        self.platform_chart.bar_clicked.connect(lambda i: self.open_bar("platform", "late", i))
        # --- the orders behind a click, and operations
        self.selection_label = QLabel("点击图表中的点或柱，查看其中的订单（双击订单查看穿透视图）" if zh else
                                      "Click a point or bar to list its orders (double-click an order for its story)")
        self.model = OrderTableModel(lambda after, limit: [], lang, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda idx: self.order_opened.emit(self.model.row_at(idx.row()).order_no))
        orders_page = QWidget()
        v = QVBoxLayout(orders_page)
        v.addWidget(self.selection_label)
        v.addWidget(self.table)
        self.operations_view = QTextBrowser()
        self.lower = QTabWidget()
        self.lower.addTab(orders_page, "图表背后的订单" if zh else "Orders behind the chart")
        self.lower.addTab(self.operations_view, "运营状况" if zh else "Operations")
        self.stations_panel = StationsPanel(uow, actor, lang, now, self)
        self.lower.addTab(self.stations_panel, "工作站与打印" if zh else "Stations and printing")
        self.lower.currentChanged.connect(self._lower_shown)
        # the health services refuse a role without health.view: the page then says so in place of the board
        self.refusal = QLabel()
        self.refusal.setWordWrap(True)
        self.refusal.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.refusal.setStyleSheet("font-size: 14pt; color: #8a8f98; padding: 40px;")
        self.refusal.hide()
        self.body = QWidget()
        outer = QVBoxLayout(self)
        outer.addWidget(self.refusal)
        outer.addWidget(self.body, 1)
        layout = QVBoxLayout(self.body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addLayout(cards)
        # charts above, lists below, the border draggable: the lists get room for more than a row or two
        charts = QWidget()
        charts.setLayout(grid)
        grid.setContentsMargins(0, 0, 0, 0)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(charts)
        split.addWidget(self.lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        self.lower.setMinimumHeight(240)
        layout.addWidget(split, 1)
        self.preset.activated.connect(lambda _: self.set_span(Span.last_days(self._now(), self.preset.currentData())))
        self.apply_button.clicked.connect(self._apply_custom)
        self.grain_box.activated.connect(lambda _: self.set_span(self.span, Grain(self.grain_box.currentData())))
        self._live = QTimer(self)  # changes arrive in bursts: one refresh per burst
        self._live.setSingleShot(True)
        self._live.setInterval(1500)
        self._live.timeout.connect(lambda: None if self._deferred else self.refresh())
        if sync is not None:
            sync.orders_changed.connect(lambda _changed: self._live.start())
        else:  # straight on the database: the rollups are cheap to re-read once a minute while shown
            self._poll = QTimer(self)
            self._poll.setInterval(60_000)
            self._poll.timeout.connect(lambda: self.refresh() if self.isVisible() else None)
            self._poll.start()
        self.export_xlsx: Callable[[], Any] | None = None
        self.export_pdf: Callable[[], Any] | None = None
        self.xlsx_button.clicked.connect(lambda: self._export("xlsx"))
        self.pdf_button.clicked.connect(lambda: self._export("pdf"))
        # defer: the station window builds this page for every role and reads nothing until it is first shown
        # (a customer-service station that starts offline never touches the health tables)
        self._deferred = defer
        if not defer:
            self.set_span(self.span, self.grain)

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt)
        if self._deferred:
            self._deferred = False
            self.set_span(self.span, self.grain)
        super().showEvent(event)

    # --- loading -------------------------------------------------------------------------------------

    def set_span(self, span: Span, grain: Grain | None = None) -> None:
        """Show ``span`` at ``grain`` (default: a grain that keeps the charts readable)."""
        from app.domain.health import default_grain

        self.span, self.grain = span, grain or default_grain(span.start, span.end)
        for edit, moment in ((self.start_edit, span.start), (self.end_edit, span.end)):
            local = clock.local(moment)  # shown and typed in China time, whatever the machine's zone
            edit.setDateTime(QDateTime(QDate(local.year, local.month, local.day), QTime(local.hour, 0)))
        self.grain_box.setCurrentIndex(self.grain_box.findData(self.grain.value))
        self.refresh()

    def _apply_custom(self) -> None:
        def read(edit: QDateTimeEdit) -> datetime:
            d, t = edit.dateTime().date(), edit.dateTime().time()
            return datetime(d.year(), d.month(), d.day(), t.hour(), tzinfo=clock.CST)

        start, end = read(self.start_edit), read(self.end_edit)
        try:
            self.set_span(Span.of(start, end), Grain(self.grain_box.currentData()))
        except BusinessError as err:
            self.selection_label.setText(err.message(self._lang))

    def refresh(self) -> None:
        """Re-read the rollups and update every chart's data in place."""
        try:
            board = health.dashboard(self._uow(), self._actor, self.span, self.grain, trace_sample=self._trace_sample)
        except NotPermitted as err:
            self._refused(err)
            return
        self.refusal.hide()
        self.body.show()
        self._trace_sample = 0  # one story timed when the tab opens; the report times more
        self.summary = board.summary
        for h in self.summary.headlines:
            self.cards[h.key].show_headline(h)
        self.points = board.points
        times = [p.at for p in self.points]
        labels = [self._bucket_label(p.at) for p in self.points]
        c = [p.counts for p in self.points]
        self.on_time_chart.set_series(times, [[x.real_on_time for x in c], [x.nominal_on_time for x in c]], labels)
        self.consistency_chart.set_series(times, [[x.mismatch_share for x in c]], labels)
        self.response_chart.set_series(times, [[p.response_median for p in self.points]], labels)
        self.orders_chart.set_series(times, [[float(x.orders) for x in c], [float(x.rescued) for x in c]], labels)
        names = self._names()
        for dim, chart, value in (("shop", self.shop_chart, lambda b: b.counts.rescued),
                                  ("warehouse", self.warehouse_chart, lambda b: b.counts.late),
                                  ("platform", self.platform_chart, lambda b: b.counts.late),
                                  ("agent", self.agent_chart, lambda b: b.agent_orders_per_day or 0.0)):
            rows = board.bars[dim]
            self.bar_rows[dim] = rows
            chart.set_bars([names.get((dim, b.key), b.key) for b in rows], [value(b) for b in rows])
        self._lower_shown(self.lower.currentIndex())

    def _refused(self, err: BusinessError) -> None:
        """Nothing of the board is shown to someone the service refused; the refusal says who may see it."""
        self.refusal.setText(err.message(self._lang))
        self.body.hide()
        self.refusal.show()

    def _names(self) -> dict[tuple[str, str], str]:
        """Shop, warehouse and platform names for the bars (read once: they change rarely)."""
        if self._name_cache:
            return self._name_cache
        from app.services.order_queries import filter_choices

        choices = filter_choices(self._uow())
        names = {("shop", str(i)): n for i, n in choices.shops} | {("warehouse", str(i)): n for i, n in choices.warehouses}
        names[("warehouse", "0")] = "未分配" if self._lang == "zh" else "Not assigned"
        from app.domain.fields import CODE_LISTS

        names |= {("platform", p): code_label("platform", p, self._lang) for p in CODE_LISTS["platform"]}
        self._name_cache = names
        return names

    def _bucket_label(self, at: datetime) -> str:
        local = clock.local(at)
        return local.strftime("%m-%d %H:00") if self.grain == Grain.HOUR else local.strftime("%m-%d")

    # --- drilling through ----------------------------------------------------------------------------

    def open_point(self, measure: str, index: int) -> None:
        """List the orders a point counted (its bucket, clipped to the range)."""
        at = self.points[index].at
        span = Span(max(at, self.span.start), min(at + GRAIN_STEP[self.grain], self.span.end))
        self._select(health_drill.Selection(span, measure), self._bucket_label(at))

    def open_bar(self, dimension: str, measure: str, index: int) -> None:
        bar = self.bar_rows[dimension][index]
        key = {"shop": {"shop_id": int(bar.key)}, "warehouse": {"warehouse_id": int(bar.key)},
               "platform": {"platform": bar.key}}[dimension]
        self._select(health_drill.Selection(self.span, measure, **key), self._names().get((dimension, bar.key), bar.key))

    def _select(self, sel: health_drill.Selection, where: str) -> None:
        self.selection = sel
        n = health_drill.count_selected(self._uow(), self._actor, sel)
        what = code_label("health_metric", sel.measure, self._lang)
        self.selection_label.setText(f"{where} · {what}：{n} " + ("单（双击查看穿透视图）" if self._lang == "zh"
                                                                else "orders (double-click for the story)"))
        self.model.set_query(lambda after, limit: health_drill.list_selected(self._uow(), self._actor, sel,
                                                                                  limit=limit, after=after))
        self.table.resizeColumnsToContents()
        self.lower.setCurrentIndex(0)

    # --- operations and export -----------------------------------------------------------------------

    def _lower_shown(self, n: int) -> None:
        """Operations and stations are read only while their tab is shown (they are not rollups)."""
        try:
            if n == 1:
                self.refresh_operations()
            elif n == 2:
                self.stations_panel.refresh(self.span)
        except NotPermitted as err:  # the grant was taken away while the page was open
            self._refused(err)

    def refresh_operations(self) -> None:
        from app.ui.supervisor.report import operations_html

        ops = health_ops.operations(self._uow(), self._actor, self.span, self._now())
        self.operations_view.setHtml(operations_html(ops, self._names(), self._lang))

    def _export(self, kind: str) -> None:
        from PySide6.QtWidgets import QFileDialog

        suffix = "Excel (*.xlsx)" if kind == "xlsx" else "PDF (*.pdf)"
        path, _ = QFileDialog.getSaveFileName(self, self.xlsx_button.text() if kind == "xlsx" else self.pdf_button.text(),
                                              f"订单健康度周报.{kind}", suffix)
        if path:
            from app.ui.supervisor.report import write_report

            try:
                write_report(self._uow, self._actor, path, now=self._now(), days=7, lang=self._lang)
            except BusinessError as err:
                self.selection_label.setText(err.message(self._lang))

