"""The current pick on screen: what to pick where, what is scanned, and one big answer to the last scan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from app.domain.clock import local
from app.domain.fields import Lang, code_label, label
from app.services.picking import PickLine, PickView, ScanResult

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class Column:
    """A column declared once: its key, business label (from the field dictionary) and how to show a value."""

    key: str
    entity: str
    show: Callable[[PickLine], str]
    align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft


COLUMNS = (
    Column("bin_code", "pick", lambda line: line.bin_code),
    Column("bin_coords", "pick", lambda line: line.bin_coords),
    Column("name", "pick", lambda line: line.name + ("（赠品）" if line.is_gift and "赠品" not in line.name else "")),
    Column("spec", "pick", lambda line: line.spec),
    Column("scanned", "pick", lambda line: f"{line.scanned} / {line.needed}", Qt.AlignmentFlag.AlignCenter),
    Column("sku", "pick", lambda line: line.sku_code),
)
DONE = QColor("#d9f2d9")
PARTLY = QColor("#fff4cc")


class PickLinesModel(QAbstractTableModel):
    """The open pick's lines as frozen rows, in pick-path order; a new pick or scan replaces the rows."""

    def __init__(self, lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._lang = lang
        self.lines: tuple[PickLine, ...] = ()

    def set_lines(self, lines: tuple[PickLine, ...]) -> None:
        if len(lines) == len(self.lines) and [x.barcode for x in lines] == [x.barcode for x in self.lines]:
            changed = [n for n, (a, b) in enumerate(zip(lines, self.lines, strict=True)) if a != b]
            self.lines = lines  # same pick, new counts: repaint only the rows that changed
            if changed:
                self.dataChanged.emit(self.index(min(changed), 0), self.index(max(changed), len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self.lines = lines
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802,B008 (Qt's name and signature)
        return 0 if parent.isValid() else len(self.lines)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802,B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(COLUMNS):
            column = COLUMNS[section]
            return label(column.entity, column.key, self._lang)
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.lines):
            return None
        line, column = self.lines[index.row()], COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.show(line)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(column.align | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(DONE if line.done else PARTLY if line.scanned else QColor("white"))
        if role == Qt.ItemDataRole.UserRole:
            return line
        return None


STYLES = {
    "ok": "background:#1e8e3e; color:white;",
    "done": "background:#0b57d0; color:white;",
    "warn": "background:#d93025; color:white;",
    "stop": "background:#000000; color:#ffcc00;",
    "idle": "background:#eceff1; color:#37474f;",
    "held": "background:#f9a825; color:black;",  # kept on this station, not yet answered by the server
}


class PickPanel(QWidget):
    """The current pick: header facts, the lines with scanned/needed counts, and the answer banner."""

    def __init__(self, lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._lang = lang
        zh = lang == "zh"
        self.banner = QLabel("请扫描拣货单上的订单二维码" if zh else "Scan the order QR code on a pick slip")
        self.banner.setWordWrap(True)
        self.banner.setMinimumHeight(128)  # three lines of the longest warning, never cut off
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        big = QFont(self.font())
        big.setPointSize(16)
        big.setBold(True)
        self.banner.setFont(big)
        self.banner.setObjectName("scan_banner")
        self.tone = "idle"
        self._set_tone("idle")
        self.header = QLabel("—")
        self.header.setWordWrap(True)  # a long wave number wraps instead of running under the count
        head_font = QFont(self.font())
        head_font.setPointSize(13)
        self.header.setFont(head_font)
        self.progress = QLabel("")
        self.progress.setFont(head_font)
        self.model = PickLinesModel(lang, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionMode(QTableView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        line_font = QFont(self.font())
        line_font.setPointSize(12)
        self.table.setFont(line_font)
        self.notes = QLabel("")
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color:#b3261e; font-weight:bold;")
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.progress)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(top)
        layout.addWidget(self.notes)
        layout.addWidget(self.table, 1)
        self.pick: PickView | None = None

    def _set_tone(self, tone: str) -> None:
        self.tone = tone
        self.banner.setStyleSheet(STYLES[tone] + " border-radius:6px; padding:8px;")

    def show_result(self, result: ScanResult) -> None:
        """The answer to one scan: a green tick, a blue 'done', a red refusal or a black stop."""
        tone = ("stop" if result.kind == "stopped" else "warn" if not result.ok
                else "done" if result.kind in ("confirmed", "shipped") else "ok")
        self._set_tone(tone)
        self.banner.setText(result.message(self._lang))
        if result.pick is not None:
            self.show_pick(result.pick)

    def show_held(self, text: str) -> None:
        self._set_tone("held")
        self.banner.setText(text)

    def show_error(self, text: str) -> None:
        self._set_tone("warn")
        self.banner.setText(text)

    def show_pick(self, pick: PickView | None) -> None:
        self.pick = pick
        zh = self._lang == "zh"
        if pick is None:
            self.model.set_lines(())
            self.header.setText("—")
            self.progress.setText("")
            self.notes.setText("")
            return
        facts = [f"{label('order', 'order_no', self._lang)} {pick.order_no}", pick.platform,
                 code_label("pick_priority", pick.priority, self._lang),
                 code_label("pick_status", pick.status, self._lang)]
        if pick.ship_by:
            facts.append(f"{label('order', 'ship_by', self._lang)} {local(pick.ship_by):%m-%d %H:%M}")
        if pick.wave_no:
            facts.append(f"{label('wave', 'wave_no', self._lang)} {pick.wave_no}")
        if pick.box_no:
            facts.append(f"{label('pick', 'box_no', self._lang)} {pick.box_no}")
        self.header.setText("　".join(facts))
        self.progress.setText(f"{pick.scanned_total} / {pick.total}" + (" 件" if zh else " pcs"))
        self.notes.setText(("包装备注：" if zh else "Packing notes: ") + "；".join(pick.notes) if pick.notes else "")
        self.model.set_lines(pick.lines)
