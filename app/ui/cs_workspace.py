"""客服工作台: the order list with its filter bar and one search box."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QEventLoop, Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QSplitter, QTableView,
                               QVBoxLayout, QWidget)

from app.domain.errors import BusinessError
from app.domain.fields import CODE_LISTS, Lang, code_label, label
from app.services.map_counts import province_figures
from app.services.order_queries import (SORTABLE, FilterChoices, OrderFilter, OrderRow, OrderSort, courier_positions,
                                        filter_choices, keyset, list_orders)
from app.services.unit_of_work import DatabaseUnavailable, UnitOfWork
from app.sync.local_db import LocalDb
from app.sync.preferences import OperatorPreferences
from app.ui.cs_keyboard import CsKeyboard
from app.ui.flow_layout import FlowLayout, flow_policy
from app.ui.order_map import OrderMap
from app.ui.order_table import COLUMNS, OrderTableModel
from app.ui.sync_status import SyncBridge

UowFactory = Callable[[], UnitOfWork]
log = logging.getLogger(__name__)


class CustomerServiceWorkspace(QWidget):
    """Filters and search re-query the database; the table fetches more rows as it scrolls."""

    order_opened = Signal(str)  # an order no.: the drill-down opens it
    after_sales_requested = Signal(str)  # an order no.: open its after-sales (key A)
    _map_ready = Signal(int, object)  # (generation, (counts, rates, measure) or None) from the map worker
    _couriers_ready = Signal(int, object)  # (generation, parcel positions) from the map worker

    def __init__(self, uow: UowFactory, lang: Lang = "zh", parent: Any = None, *, sync: SyncBridge | None = None,
                 prefs: OperatorPreferences | None = None) -> None:
        super().__init__(parent)
        # the operator's saved filters, recent orders and column layout: in the station file; without one
        # (a hub-direct session) an in-memory file keeps them for this session only
        prefs = prefs or OperatorPreferences(LocalDb(Path(":memory:")), "")
        # with a station sync the list reads the local cache (never the network) and follows live changes
        self._uow, self._lang, self._sync = uow, lang, sync
        self._filter = OrderFilter()
        self._prefs = prefs
        self._sort = _remembered_sort(prefs.get("sort"))  # this person's last sort, else newest first
        self._map_shape: tuple[str | None, ...] | None = None
        self._counts: dict[str, int] = {}
        self._rates: dict[str, float] = {}
        self._measure = "count"
        self._map_generation = 0
        self.map_pending = False
        self.parcels_pending = False
        self._map_ready.connect(self._map_arrived, Qt.ConnectionType.QueuedConnection)
        self._couriers_ready.connect(self._couriers_arrived, Qt.ConnectionType.QueuedConnection)
        self._pool = QThreadPool(self)  # the map's worker; waited for on close so no query outlives the window
        self._pool.setMaxThreadCount(1)
        self.search = QLineEdit(placeholderText=self._t("搜索：订单号 / 平台订单号 / 手机后四位 / 物流单号 / 收货人",
                                                        "Search: order no. / platform order no. / phone last 4 / tracking no."))
        self.search.setClearButtonEnabled(True)
        self.status = self._combo("order_status", label("order", "status", lang))
        self.platform = self._combo("platform", label("order", "platform", lang))
        try:
            choices = filter_choices(uow())
        except DatabaseUnavailable:  # started offline (issue #14): shop/warehouse filters fill in once online
            choices = FilterChoices((), ())
        self.shop = self._choices(choices.shops, label("order", "shop", lang))
        self.warehouse = self._choices(choices.warehouses, label("order", "warehouse", lang))
        self.hours = self._combo("hour_band", self._t("下单时段", "Ordered at"))
        self.risk = self._combo("sla_risk", self._t("超时风险", "Deadline risk"))
        self.measure = QComboBox()
        for code in CODE_LISTS["map_measure"]:
            self.measure.addItem(code_label("map_measure", code, lang), code)
        self.count = QLabel()
        self.message = QLabel()  # what a shortcut just did ("已复制物流单号 …")
        self._message_timer = QTimer(self, singleShot=True, interval=4000)
        self._message_timer.timeout.connect(self.message.clear)
        self.recent = QComboBox()
        self.recent.setAccessibleName(self._t("最近查看", "Recently viewed"))
        self.saved = QComboBox()
        self.saved.setAccessibleName(self._t("我的筛选", "My filters"))
        for combo in (self.recent, self.saved):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.message)
        top.addWidget(self.count)
        bar = QWidget()  # the filters wrap onto a second row at large fonts instead of widening the window
        flow = FlowLayout(bar)
        flow_policy(bar)
        for caption, combo in ((label("order", "status", lang), self.status), (label("order", "platform", lang), self.platform),
                               (label("order", "shop", lang), self.shop), (label("order", "warehouse", lang), self.warehouse),
                               (self._t("下单时段", "Ordered at"), self.hours), (self._t("超时风险", "Deadline risk"), self.risk),
                               (self._t("地图", "Map"), self.measure)):
            pair = QWidget()
            row = QHBoxLayout(pair)
            row.setContentsMargins(0, 0, 6, 0)
            row.addWidget(QLabel(caption))
            row.addWidget(combo)
            flow.addWidget(pair)
        for combo in (self.saved, self.recent):  # with the filters, so the search box keeps its width
            flow.addWidget(combo)
        self.model = OrderTableModel(self._page, lang, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        # Sized once from the first rows, then left alone: ResizeToContents re-measures every
        # loaded row on each change (12,000 data() calls per filter click).
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setResizeContentsPrecision(50)
        header.setStretchLastSection(True)
        header.setSectionsClickable(True)  # click a column to sort by it; click again to turn it round
        header.setSortIndicatorShown(True)
        self._sized = False
        self.table.setAlternatingRowColors(True)
        self.map = OrderMap(lang=lang)
        self.province = QLabel()
        self.province.setMinimumWidth(self.province.fontMetrics().horizontalAdvance("省份：新疆维吾尔自治区") + 8)
        top.insertWidget(1, self.province)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.map)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([900, 500])  # the list is what customer service reads all day
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(bar)
        layout.addWidget(split, 1)  # the list and the map take every spare pixel, the bar stays one line
        self.map.province_clicked.connect(self._province_clicked)
        self.search.returnPressed.connect(self._apply)
        if sync is not None:
            self.search.returnPressed.connect(self._search_server)
            sync.orders_changed.connect(self._orders_changed)
        self.search.textChanged.connect(lambda text: self._apply() if not text else None)
        for combo in (self.status, self.platform, self.shop, self.warehouse, self.hours, self.risk, self.measure):
            combo.currentIndexChanged.connect(self._apply)
        self.table.doubleClicked.connect(lambda idx: self.order_opened.emit(self.model.row_at(idx.row()).order_no))
        self.keys = CsKeyboard(self, prefs)
        self.keys.build_recent(self.recent)
        self.keys.build_saved(self.saved)
        self.order_opened.connect(self.keys.viewed)
        self.recent.activated.connect(lambda i: self.order_opened.emit(self.recent.itemData(i)) if self.recent.itemData(i) else None)
        self.saved.activated.connect(lambda i: self.keys.apply_saved(self.saved.itemData(i)))
        self._sized = self.keys.restore_layout()  # this person's column widths, else sized from the first rows
        self.keys.watch_layout()
        self._show_sort()
        header.sortIndicatorChanged.connect(self._sort_clicked)
        self._apply()

    def _t(self, zh: str, en: str) -> str:
        return zh if self._lang == "zh" else en

    def say(self, text: str) -> None:
        """A short note on what a shortcut did; it fades after a few seconds."""
        self.message.setText(text)
        self.message.setMinimumWidth(self.message.fontMetrics().horizontalAdvance(text) + 8)  # never clipped by the search box
        self._message_timer.start()  # owned by the workspace: never fires after it is gone

    def _combo(self, codes: str, caption: str) -> QComboBox:
        combo = QComboBox()
        combo.addItem(self._t("全部", "All"), None)
        for code in CODE_LISTS[codes]:
            combo.addItem(code_label(codes, code, self._lang), code)
        combo.setAccessibleName(caption)
        combo.setMaximumWidth(combo.fontMetrics().horizontalAdvance("售后中 Awaiting payment") + 40)
        return combo

    def _choices(self, options: tuple[tuple[int, str], ...], caption: str) -> QComboBox:
        combo = QComboBox()
        combo.addItem(self._t("全部", "All"), None)
        for key, name in options:
            combo.addItem(name, key)
        combo.setAccessibleName(caption)
        combo.setMaximumWidth(combo.fontMetrics().horizontalAdvance("小树苗童装抖音旗舰店") + 40)
        return combo

    def _recount_map(self, flt: OrderFilter, measure: str) -> None:
        """Re-count the map on a worker thread: the list answers at once, the map follows.

        Only the newest filter is ever counted: a count queued behind another is skipped once a
        newer filter exists (queued counts used to run one after another, so a run of quick
        clicks left the map seconds behind — the 10 s "stall"). Counts and parcels arrive
        separately, so a slow or unreachable parcel look-up never holds the counts back.
        """
        self._map_generation += 1
        generation, uow, cache = self._map_generation, self._uow, self._sync.cache if self._sync else None

        def current() -> bool:
            return generation == self._map_generation

        def work() -> None:
            if not current():
                return  # a newer filter was chosen while this one waited: count that one instead
            try:
                counts, rates = cache.province_figures(flt) if cache is not None else province_figures(uow(), flt)
            except BusinessError:
                self._map_ready.emit(generation, None)  # the database is away: keep the old map
                return
            except Exception:  # a failed count must not leave the map waiting for ever
                log.exception("map count failed")
                self._map_ready.emit(generation, None)
                return
            self._map_ready.emit(generation, (counts, rates, measure))
            if not current():
                return
            try:
                couriers = courier_positions(uow(), flt)
            except BusinessError:
                couriers = None  # parcels on the road need the server; offline the map keeps the last ones
            except Exception:
                log.exception("parcel look-up failed")
                couriers = None
            self._couriers_ready.emit(generation, couriers)

        self.map_pending = True
        self.parcels_pending = True
        self._pool.start(work)

    def _map_arrived(self, generation: int, result: Any) -> None:
        if generation != self._map_generation:
            return  # an older filter's answer, overtaken by a newer one
        self.map_pending = False
        if result is None:
            self.parcels_pending = False  # the counts failed, so no parcel look-up follows
            return
        self._counts, self._rates, self._measure = result
        self._show_map()

    def _couriers_arrived(self, generation: int, couriers: Any) -> None:
        if generation != self._map_generation:
            return  # an older filter's parcels: the newer look-up follows
        self.parcels_pending = False
        if couriers is not None:
            self.map.set_couriers(couriers)

    def _show_map(self) -> None:
        self.map.set_counts(self._counts, self._filter.province, rates=self._rates, measure=self._measure)

    def shutdown(self) -> None:
        """Stop taking map work and wait for a running count to finish (the window is closing)."""
        self._map_generation += 1
        self._pool.clear()
        self._pool.waitForDone(10_000)
        self.map_pending = False
        self.parcels_pending = False
        self.keys.flush()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        self.shutdown()
        super().closeEvent(event)

    def wait_for_map(self, timeout_ms: int = 10_000, *, parcels: bool = False) -> bool:
        """Tests and benchmarks: let the map's worker finish (events are processed meanwhile).

        The counts and the parcels on the road arrive separately; ``parcels=True`` also waits for the
        parcels (they follow the counts, so a check right after the counts would race them).
        """
        deadline = QDeadlineTimer(timeout_ms)
        while (self.map_pending or (parcels and self.parcels_pending)) and not deadline.hasExpired():
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        return not self.map_pending and not (parcels and self.parcels_pending)

    def _page(self, after: Any, n: int) -> list[OrderRow]:
        if self._sync is not None:
            return self._sync.cache.list_orders(self._filter, limit=n, after=after, sort=self._sort)
        return list_orders(self._uow(), self._filter, limit=n, after=after, sort=self._sort)

    # --- sorting: in the query (cache or server), remembered per person --------------------------------
    @property
    def sort(self) -> OrderSort:
        return self._sort

    def sort_by(self, key: str, descending: bool) -> None:
        """Sort the list by a column (the header shows it) and remember it for this person."""
        self._sort = OrderSort(key, descending)
        self._show_sort()
        self._prefs.set("sort", {"key": self._sort.key, "descending": self._sort.descending})
        self._apply()

    def _show_sort(self) -> None:
        header = self.table.horizontalHeader()
        column = next(n for n, c in enumerate(COLUMNS) if c.key == self._sort.key)
        order = Qt.SortOrder.DescendingOrder if self._sort.descending else Qt.SortOrder.AscendingOrder
        header.blockSignals(True)  # showing a sort is not a click
        header.setSortIndicator(column, order)
        header.blockSignals(False)

    def _sort_clicked(self, section: int, order: Qt.SortOrder) -> None:
        if 0 <= section < len(COLUMNS) and COLUMNS[section].key in SORTABLE:
            self.sort_by(COLUMNS[section].key, order == Qt.SortOrder.DescendingOrder)

    def refresh(self) -> None:
        """Re-query with the same filter (after a change made from this station)."""
        self._apply()

    def _search_server(self) -> None:
        """Offline the cache answers alone; online the server is asked too and its hits join the cache."""
        if self._sync is not None and self.search.text().strip():
            self._sync.station.request_search(self.search.text().strip())

    def _orders_changed(self, _order_nos: object) -> None:
        """Another station (or this one's outbox) changed orders: the list follows without a refresh,
        and so does the map, whose counts come from the same cache (a sum of kept counts: cheap)."""
        self.model.reload()
        self._recount_map(replace(self._filter, search=None), self.measure.currentData())

    def _province_clicked(self, name: str) -> None:
        """Clicking a province narrows the list to it; clicking it again shows every province."""
        self._filter = replace(self._filter, province=None if self._filter.province == name else name)
        self._apply()

    def _apply(self, *_: Any) -> None:
        band = self.hours.currentData()
        self._filter = replace(self._filter, status=self.status.currentData(), platform=self.platform.currentData(),
                               shop_id=self.shop.currentData(), warehouse_id=self.warehouse.currentData(),
                               hours=tuple(int(h) for h in band.split("-")) if band else None,
                               risk=self.risk.currentData(), search=self.search.text().strip() or None)
        measure = self.measure.currentData()
        shape = (replace(self._filter, search=None, province=None), measure)
        if shape != self._map_shape:  # the map follows the filters; a search or a province click needs no re-count
            self._map_shape = shape
            self._recount_map(replace(self._filter, search=None), measure)
        else:
            self._show_map()
        where = self._filter.province
        self.province.setText((f"{label('order', 'province', self._lang)}：{where}") if where else "")
        sort = self._sort
        self.model.set_query(self._page, keyset=lambda row: keyset(row, sort))
        shown = self.model.rowCount()
        more = "+" if self.model.canFetchMore() else ""
        self.count.setText(self._t(f"{shown}{more} 单", f"{shown}{more} orders"))
        if not self._sized and self.model.rowCount():
            self.table.resizeColumnsToContents()
            self._sized = True
        self.table.setCurrentIndex(self.model.index(0, 0))


def _remembered_sort(value: Any) -> OrderSort:
    """A saved sort, or newest first when there is none or it is damaged (never a crash at sign-in)."""
    if isinstance(value, dict) and isinstance(value.get("key"), str):
        return OrderSort(value["key"], bool(value.get("descending", True)))
    return OrderSort()
