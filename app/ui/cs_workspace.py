"""客服工作台: the order list with its filter bar and one search box."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QSplitter, QTableView,
                               QVBoxLayout, QWidget)

from app.domain.fields import CODE_LISTS, Lang, code_label, label
from app.services.order_queries import OrderFilter, OrderRow, counts_by_province, courier_positions, list_orders
from app.services.unit_of_work import UnitOfWork
from app.ui.order_map import OrderMap
from app.ui.order_table import OrderTableModel

UowFactory = Callable[[], UnitOfWork]


class CustomerServiceWorkspace(QWidget):
    """Filters and search re-query the database; the table fetches more rows as it scrolls."""

    order_opened = Signal(str)  # an order no.: the drill-down opens it

    def __init__(self, uow: UowFactory, lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._uow, self._lang = uow, lang
        self._filter = OrderFilter()
        self._map_shape: tuple[str | None, ...] | None = None
        self._counts: dict[str, int] = {}
        self.search = QLineEdit(placeholderText=self._t("搜索：订单号 / 平台订单号 / 手机后四位 / 物流单号 / 收货人",
                                                        "Search: order no. / platform order no. / phone last 4 / tracking no."))
        self.search.setClearButtonEnabled(True)
        self.status = self._combo("order_status", label("order", "status", lang))
        self.platform = self._combo("platform", label("order", "platform", lang))
        self.count = QLabel()
        bar = QHBoxLayout()
        bar.addWidget(self.search, 2)
        for caption, combo in ((label("order", "status", lang), self.status), (label("order", "platform", lang), self.platform)):
            bar.addWidget(QLabel(caption))
            bar.addWidget(combo, 1)
        bar.addWidget(self.count)
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
        self._sized = False
        self.table.setAlternatingRowColors(True)
        self.map = OrderMap()
        self.province = QLabel()
        self.province.setMinimumWidth(self.province.fontMetrics().horizontalAdvance("省份：新疆维吾尔自治区") + 8)
        bar.insertWidget(bar.count() - 1, self.province)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.map)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([900, 500])  # the list is what customer service reads all day
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(split, 1)  # the list and the map take every spare pixel, the bar stays one line
        self.map.province_clicked.connect(self._province_clicked)
        self.search.returnPressed.connect(self._apply)
        self.search.textChanged.connect(lambda text: self._apply() if not text else None)
        self.status.currentIndexChanged.connect(self._apply)
        self.platform.currentIndexChanged.connect(self._apply)
        self.table.doubleClicked.connect(lambda idx: self.order_opened.emit(self.model.row_at(idx.row()).order_no))
        self._apply()

    def _t(self, zh: str, en: str) -> str:
        return zh if self._lang == "zh" else en

    def _combo(self, codes: str, caption: str) -> QComboBox:
        combo = QComboBox()
        combo.addItem(self._t("全部", "All"), None)
        for code in CODE_LISTS[codes]:
            combo.addItem(code_label(codes, code, self._lang), code)
        combo.setAccessibleName(caption)
        combo.setMaximumWidth(combo.fontMetrics().horizontalAdvance("售后中 Awaiting payment") + 40)
        return combo

    def _page(self, after: Any, n: int) -> list[OrderRow]:
        return list_orders(self._uow(), self._filter, limit=n, after=after)

    def refresh(self) -> None:
        """Re-query with the same filter (after a change made from this station)."""
        self._apply()

    def _province_clicked(self, name: str) -> None:
        """Clicking a province narrows the list to it; clicking it again shows every province."""
        self._filter = replace(self._filter, province=None if self._filter.province == name else name)
        self._apply()

    def _apply(self, *_: Any) -> None:
        self._filter = replace(self._filter, status=self.status.currentData(), platform=self.platform.currentData(),
                               search=self.search.text().strip() or None)
        shape = (self._filter.status, self._filter.platform)
        if shape != self._map_shape:  # counts follow stage and platform; a search or a province click needs none
            self._map_shape = shape
            self._counts = counts_by_province(self._uow(), replace(self._filter, search=None))
            self.map.set_couriers(courier_positions(self._uow(), replace(self._filter, search=None)))
        self.map.set_counts(self._counts, self._filter.province)
        where = self._filter.province
        self.province.setText((f"{label('order', 'province', self._lang)}：{where}") if where else "")
        self.model.set_query(self._page)
        shown = self.model.rowCount()
        more = "+" if self.model.canFetchMore() else ""
        self.count.setText(self._t(f"{shown}{more} 单", f"{shown}{more} orders"))
        if not self._sized and self.model.rowCount():
            self.table.resizeColumnsToContents()
            self._sized = True
        self.table.setCurrentIndex(self.model.index(0, 0))
