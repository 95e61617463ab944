"""The order list as a Qt model: columns declared once, rows fetched page by page (keyset), never in data()."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from app.domain.clock import local
from app.domain.fields import Lang, code_label, label
from app.services.order_queries import OrderRow

Index = QModelIndex | QPersistentModelIndex
# A page of rows after the given keyset (by default (下单时间, id)), at most n of them: the model's only way to data.
PageQuery = Callable[[tuple[Any, int] | None, int], list[OrderRow]]
# Where the next page starts after a row (the sort's value and the id).
Keyset = Callable[[OrderRow], tuple[Any, int]]

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the frozen OrderRow
SORT_ROLE = Qt.ItemDataRole.UserRole + 2  # a sortable value (Decimal, datetime)
# data() runs ~1,200 times per repaint of the list (every visible cell × every role the view asks about:
# font, colours, decoration, check state …), so it answers by plain int look-ups: no enum attribute
# access and no QModelIndex validity calls for a role it does not serve (issue #18: a filter click).
_DISPLAY, _ALIGN = int(Qt.ItemDataRole.DisplayRole), int(Qt.ItemDataRole.TextAlignmentRole)
_ROW, _SORT = int(ROW_ROLE), int(SORT_ROLE)
_SERVED = frozenset((_DISPLAY, _ALIGN, _ROW, _SORT))


@dataclass(frozen=True, slots=True)
class Column:
    """One column: which field, how its value is shown, where it sits."""

    key: str
    value: Callable[[OrderRow], Any]
    show: Callable[[Any, Lang], str]
    align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


def _text(v: Any, lang: Lang) -> str:
    return "" if v is None else str(v)


def _money(v: Decimal, lang: Lang) -> str:
    return f"¥{v:,.2f}"


def _when(v: datetime | None, lang: Lang) -> str:
    return "" if v is None else local(v).strftime("%m-%d %H:%M")


def _coded(codes: str) -> Callable[[Any, Lang], str]:
    return lambda v, lang: code_label(codes, v, lang)


RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
COLUMNS: tuple[Column, ...] = (
    Column("order_no", lambda r: r.order_no, _text),
    Column("platform", lambda r: r.platform, _coded("platform")),
    Column("shop", lambda r: r.shop, _text),
    Column("ordered_at", lambda r: r.ordered_at, _when),
    Column("status", lambda r: r.status, _coded("order_status")),
    Column("paid_amount", lambda r: r.paid_amount, _money, RIGHT),
    Column("province", lambda r: r.province, _text),
    Column("warehouse", lambda r: r.warehouse, _text),
    Column("ship_by", lambda r: r.ship_by, _when),
    Column("tracking_no", lambda r: r.tracking_no, _text),
)
_ALIGNS = tuple(int(c.align.value) for c in COLUMNS)


class OrderTableModel(QAbstractTableModel):
    """Rows come from ``query`` a page at a time as the view scrolls; a new filter means a new query.

    ``data()`` only reads rows already fetched, so painting never waits for the database.
    """

    PAGE = 200

    def __init__(self, query: PageQuery, lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._query, self._lang = query, lang
        self._keyset: Keyset = lambda r: (r.ordered_at, r.id)
        self._rows: list[OrderRow] = []
        self._text: dict[int, tuple[OrderRow, tuple[str, ...]]] = {}  # order id → (the row formatted, its cells)
        self._exhausted = False

    # --- paging ------------------------------------------------------------------------------------
    def set_query(self, query: PageQuery, keyset: Keyset | None = None) -> None:
        """Start over with another filter or sort (re-query, never filter or sort half-loaded rows)."""
        if keyset is not None:
            self._keyset = keyset
        self.beginResetModel()
        self._query, self._rows, self._exhausted = query, [], False
        self._text.clear()
        self.endResetModel()
        if self.canFetchMore(QModelIndex()):
            self.fetchMore(QModelIndex())

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: N802, B008
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: N802, B008
        if parent.isValid() or self._exhausted:
            return
        after = self._keyset(self._rows[-1]) if self._rows else None
        page = self._query(after, self.PAGE)
        if len(page) < self.PAGE:
            self._exhausted = True
        if page:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(page) - 1)  # last is inclusive
            self._rows.extend(page)
            self.endInsertRows()

    def reload(self) -> None:
        """Re-read as many rows as are shown (another station changed orders): rows that stay put are
        updated in place, so the selection and the scroll position survive; otherwise start over."""
        fresh = self._query(None, max(len(self._rows), self.PAGE))
        if [r.id for r in fresh] == [r.id for r in self._rows]:
            if fresh != self._rows:
                self._rows = fresh
                self.dataChanged.emit(self.index(0, 0), self.index(len(fresh) - 1, len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self._rows, self._exhausted = fresh, len(fresh) < max(len(self._rows), self.PAGE)
        self._text.clear()
        self.endResetModel()

    # --- the model ---------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(COLUMNS):
            return label("order", COLUMNS[section].key, self._lang)
        return None

    def data(self, index: Index, role: int = _DISPLAY) -> Any:
        role = int(role)
        if role not in _SERVED:
            return None
        r, c = index.row(), index.column()
        if not (0 <= r < len(self._rows) and 0 <= c < len(COLUMNS)):  # also an invalid index (-1, -1)
            return None
        if role == _DISPLAY:
            return self._shown(r)[c]
        if role == _ALIGN:
            return _ALIGNS[c]
        row = self._rows[r]
        return row if role == _ROW else COLUMNS[c].value(row)

    def _shown(self, r: int) -> tuple[str, ...]:
        """Row ``r``'s cells as text, formatted once per row (not per repaint)."""
        row = self._rows[r]
        cached = self._text.get(row.id)
        if cached is None or cached[0] is not row:
            cached = (row, tuple(col.show(col.value(row), self._lang) for col in COLUMNS))
            self._text[row.id] = cached
        return cached[1]

    def row_at(self, row: int) -> OrderRow:
        return self._rows[row]
