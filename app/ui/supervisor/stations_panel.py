"""主管 station · 工作站与打印: which stations are online (heartbeats), and print failures by station/printer/reason.

Clicking a failure group lists the failed attempts behind it. Everything is re-read from the station
services on each refresh; the models only hold frozen rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHeaderView, QLabel, QSplitter, QTableView, QVBoxLayout, QWidget

from app.domain import clock
from app.domain.actor import Actor
from app.domain.fields import Lang, code_label, label
from app.domain.messages import render
from app.services import stations
from app.services.health import Span
from app.services.unit_of_work import UnitOfWork

Index = QModelIndex | QPersistentModelIndex
ROW_ROLE = Qt.ItemDataRole.UserRole + 1
ONLINE, OFFLINE = QColor("#2e8b57"), QColor("#c0392b")


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its field-dictionary key and how a row shows in it."""

    key: str
    show: Callable[[Any, Lang], str]


def _when(v: datetime | None) -> str:
    return "" if v is None else clock.local(v).strftime("%m-%d %H:%M:%S")


def _roles(roles: Sequence[str], lang: Lang) -> str:
    if not roles:
        return "全部角色" if lang == "zh" else "Every role"
    return ("、" if lang == "zh" else ", ").join(code_label("role", r, lang) for r in roles)


def _person(s: stations.StationState, lang: Lang) -> str:
    if not s.operator:
        return "无人登录" if lang == "zh" else "Nobody"
    role = code_label("role", s.operator_role, lang) if s.operator_role else ""
    return f"{s.operator_name or s.operator}（{role}）" if role else (s.operator_name or s.operator)


STATION_COLUMNS = (
    Column("station", lambda s, lang: s.station),
    Column("state", lambda s, lang: code_label("station_state", "online" if s.online else "offline", lang)),
    Column("seen_at", lambda s, lang: _when(s.seen_at)),
    Column("operator", _person),
    Column("pending_outbox", lambda s, lang: str(s.pending_outbox)),
    Column("roles", lambda s, lang: _roles(s.roles, lang)),
    Column("app_version", lambda s, lang: s.app_version),
)
GROUP_COLUMNS = (
    Column("station", lambda g, lang: g.station),
    Column("printer", lambda g, lang: g.printer),
    Column("reason", lambda g, lang: code_label("print_problem", g.reason, lang)),
    Column("count", lambda g, lang: str(g.count)),
    Column("last_at", lambda g, lang: _when(g.last_at)),
)


def _detail(f: stations.FailureRow, lang: Lang) -> str:
    params = dict(f.params)
    if str(params.get("detail", "")).startswith("PRINTER_DETAIL_"):
        params["detail"] = render(params["detail"], lang)
    return render(f.reason, lang, **params) if f.reason.startswith("PRINTER_") else code_label("print_problem", f.reason, lang)


FAILURE_COLUMNS = (
    Column("failed_at", lambda f, lang: _when(f.failed_at)),
    Column("station", lambda f, lang: f.station),
    Column("printer", lambda f, lang: f.printer),
    Column("order_no", lambda f, lang: f.order_no or ""),
    Column("attempt", lambda f, lang: str(f.attempt)),
    Column("operator", lambda f, lang: f.operator),
    Column("detail", _detail),
)


class RowsModel(QAbstractTableModel):
    """Frozen rows under declared columns; a refresh replaces them all (re-query, never patch)."""

    def __init__(self, entity: str, columns: Sequence[Column], lang: Lang, parent: Any = None,
                 colour: Callable[[Any], QColor | None] | None = None) -> None:
        super().__init__(parent)
        self._entity, self._columns, self._lang, self._colour = entity, tuple(columns), lang, colour
        self._rows: list[Any] = []

    def set_rows(self, rows: Sequence[Any]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_at(self, row: int) -> Any:
        return self._rows[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._columns)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(self._columns)):
            return label(self._entity, self._columns[section].key, self._lang)
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)) or not (0 <= index.column() < len(self._columns)):
            return None
        row = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):  # the tip: a long reason in full
            return self._columns[index.column()].show(row, self._lang)
        if role == Qt.ItemDataRole.ForegroundRole and self._colour is not None and self._columns[index.column()].key == "state":
            return self._colour(row)
        if role == ROW_ROLE:
            return row
        return None


def _table(model: QAbstractTableModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    view.verticalHeader().setVisible(False)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(True)
    return view


class StationsPanel(QWidget):
    """Stations online/offline and the print failures they reported in the range shown."""

    def __init__(self, uow: Callable[[], UnitOfWork], actor: Actor, lang: Lang, now: Callable[[], datetime],
                 parent: Any = None) -> None:
        super().__init__(parent)
        self._uow, self._actor, self._lang, self._now = uow, actor, lang, now
        zh = lang == "zh"
        self.span: Span | None = None
        self.stations_model = RowsModel("station", STATION_COLUMNS, lang, self,
                                        colour=lambda s: ONLINE if s.online else OFFLINE)
        self.groups_model = RowsModel("print_failure", GROUP_COLUMNS, lang, self)
        self.failures_model = RowsModel("print_failure", FAILURE_COLUMNS, lang, self)
        self.stations_title, self.groups_title = QLabel(), QLabel()
        self.failures_title = QLabel("点击上面一行，查看其中每一次打印失败" if zh else
                                     "Click a row above to list each failed print")
        self.stations_view = _table(self.stations_model)
        self.groups_view = _table(self.groups_model)
        self.failures_view = _table(self.failures_model)
        self.groups_view.clicked.connect(lambda idx: self.open_group(idx.row()))
        split = QSplitter(Qt.Orientation.Horizontal)
        for title, view in ((self.stations_title, self.stations_view), (self.groups_title, self.groups_view),
                            (self.failures_title, self.failures_view)):
            box = QWidget()
            v = QVBoxLayout(box)
            v.setContentsMargins(0, 0, 0, 0)
            v.addWidget(title)
            v.addWidget(view)
            split.addWidget(box)
        split.setSizes([560, 420, 520])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

    def refresh(self, span: Span) -> None:
        """Re-read the stations (online as of now) and the failures in ``span``."""
        self.span = span
        zh = self._lang == "zh"
        seen = stations.stations(self._uow(), self._actor, self._now())
        self.stations_model.set_rows(seen)
        online = sum(1 for s in seen if s.online)
        self.stations_title.setText(f"工作站：{online} 在线，{len(seen) - online} 离线" if zh else
                                    f"Stations: {online} online, {len(seen) - online} offline")
        groups = stations.print_failure_groups(self._uow(), self._actor, span)
        self.groups_model.set_rows(groups)
        total = sum(g.count for g in groups)
        self.groups_title.setText(f"打印失败（按工作站 / 打印机 / 原因）：共 {total} 次" if zh else
                                  f"Print failures by station / printer / reason: {total}")

    def open_group(self, row: int) -> None:
        """List the failed attempts a group counted."""
        if self.span is None or not (0 <= row < self.groups_model.rowCount()):
            return
        g = self.groups_model.row_at(row)
        rows = stations.print_failures(self._uow(), self._actor, self.span, station=g.station, printer=g.printer,
                                       reason=g.reason)
        self.failures_model.set_rows(rows)
        reason = code_label("print_problem", g.reason, self._lang)
        self.failures_title.setText(f"{g.station} · {g.printer} · {reason}：{len(rows)} 次" if self._lang == "zh"
                                    else f"{g.station} · {g.printer} · {reason}: {len(rows)}")
