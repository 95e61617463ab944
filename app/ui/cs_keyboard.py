"""客服工作台 by keyboard: shortcuts, recently viewed orders, saved filters, remembered column layout."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QComboBox, QInputDialog, QLineEdit

from app.sync.preferences import OperatorPreferences

if TYPE_CHECKING:
    from app.ui.cs_workspace import CustomerServiceWorkspace

# (key sequence, action name, zh, en): the one list the shortcuts, the tooltip and the README come from.
SHORTCUTS: tuple[tuple[str, str, str, str], ...] = (
    ("Ctrl+F", "search", "搜索", "Search"),
    ("/", "search", "搜索", "Search"),
    ("J", "next", "下一单", "Next order"),
    ("K", "previous", "上一单", "Previous order"),
    ("Return", "open", "打开订单", "Open the order"),
    ("A", "after_sales", "打开售后", "Open after-sales"),
    ("Ctrl+Shift+C", "copy_tracking", "复制物流单号", "Copy tracking no."),
    ("C", "copy_tracking", "复制物流单号", "Copy tracking no."),
    ("Ctrl+E", "recent", "最近查看", "Recently viewed"),
    ("Ctrl+S", "save_filter", "保存筛选", "Save filter"),
)
FILTER_COMBOS = ("status", "platform", "shop", "warehouse", "hours", "risk", "measure")


class CsKeyboard(QObject):
    """Installs the workspace's shortcuts and keeps what one operator wants remembered.

    Single-letter shortcuts (J/K/A/C, "/") never fire while typing: a line edit claims printable keys
    before shortcuts are matched, so "/" or "j" typed into the search box stay text.
    """

    def __init__(self, ws: CustomerServiceWorkspace, prefs: OperatorPreferences) -> None:
        super().__init__(ws)
        self.ws, self.prefs = ws, prefs
        self._t = ws._t
        self.shortcuts: list[QShortcut] = []
        actions = {"search": self.focus_search, "next": lambda: self.step(1), "previous": lambda: self.step(-1),
                   "open": self.open_current, "after_sales": self.after_sales, "copy_tracking": self.copy_tracking,
                   "recent": self.show_recent, "save_filter": self.ask_filter_name}
        for keys, action, _, _ in SHORTCUTS:
            if action == "open":
                continue  # Enter belongs to whichever widget has focus; the table's is handled below
            shortcut = QShortcut(QKeySequence(keys), ws, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(actions[action])
            self.shortcuts.append(shortcut)
        ws.table.installEventFilter(self)
        ws.search.installEventFilter(self)
        ws.search.setToolTip("\n".join(f"{keys}　{self._t(zh, en)}" for keys, _, zh, en in SHORTCUTS))
        self._layout_timer = QTimer(self, singleShot=True, interval=300)  # a drag resizes many times: save once
        self._layout_timer.timeout.connect(self._save_layout)
        self.name_dialog: QInputDialog | None = None

    # --- keys the shortcuts leave to widgets ---------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            key = event.key()
            if watched is self.ws.table and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.open_current()
                return True
            if watched is self.ws.search and key == Qt.Key.Key_Down and self.ws.model.rowCount():
                self.ws.table.setFocus(Qt.FocusReason.ShortcutFocusReason)  # from the search straight into the list
                return True
        return False

    # --- actions -------------------------------------------------------------------------------------
    def focus_search(self) -> None:
        self.ws.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.ws.search.selectAll()

    def step(self, delta: int) -> None:
        """Move the current row (J/K): fetches the next page at the end, stays at the first row."""
        table, model = self.ws.table, self.ws.model
        row = table.currentIndex().row() + delta
        if row >= model.rowCount() and model.canFetchMore():
            model.fetchMore()
        row = max(0, min(row, model.rowCount() - 1))
        if row >= 0:
            table.setCurrentIndex(model.index(row, 0))
            table.scrollTo(model.index(row, 0))
            table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def current_order(self) -> str | None:
        index = self.ws.table.currentIndex()
        return self.ws.model.row_at(index.row()).order_no if index.isValid() else None

    def open_current(self) -> None:
        order_no = self.current_order()
        if order_no is not None:
            self.ws.order_opened.emit(order_no)

    def after_sales(self) -> None:
        order_no = self.current_order()
        if order_no is not None:
            self.ws.after_sales_requested.emit(order_no)

    def copy_tracking(self) -> None:
        index = self.ws.table.currentIndex()
        if not index.isValid():
            return
        row = self.ws.model.row_at(index.row())
        if not row.tracking_no:
            self.ws.say(self._t(f"{row.order_no} 还没有物流单号", f"{row.order_no} has no tracking no. yet"))
            return
        QGuiApplication.clipboard().setText(row.tracking_no)
        self.ws.say(self._t(f"已复制物流单号 {row.tracking_no}", f"Copied tracking no. {row.tracking_no}"))

    # --- recently viewed -----------------------------------------------------------------------------
    def build_recent(self, combo: QComboBox) -> None:
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(self._t("最近查看", "Recently viewed"), None)
        combo.setToolTip(self._t("最近打开的订单（Ctrl+E）", "Orders opened lately (Ctrl+E)"))
        for order_no in self.prefs.recent_orders():
            combo.addItem(order_no, order_no)
        _fit(combo)
        combo.setCurrentIndex(0)
        combo.blockSignals(False)

    def viewed(self, order_no: str) -> None:
        self.prefs.viewed(order_no)
        self.build_recent(self.ws.recent)

    def show_recent(self) -> None:
        self.ws.recent.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.ws.recent.showPopup()

    # --- saved filters -------------------------------------------------------------------------------
    def filter_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {name: getattr(self.ws, name).currentData() for name in FILTER_COMBOS}
        spec["search"] = self.ws.search.text().strip()
        return spec

    def build_saved(self, combo: QComboBox) -> None:
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(self._t("我的筛选", "My filters"), None)
        combo.setToolTip(self._t("我保存的筛选（Ctrl+S 保存当前筛选）", "My saved filters (Ctrl+S saves the current ones)"))
        for name in self.prefs.saved_filters():
            combo.addItem(name, name)
        _fit(combo)
        combo.setCurrentIndex(0)
        combo.blockSignals(False)

    def ask_filter_name(self) -> QInputDialog:
        """Ask for a name without blocking (a test, or the person, answers the dialog)."""
        dialog = QInputDialog(self.ws)
        dialog.setWindowTitle(self._t("保存筛选", "Save filter"))
        dialog.setLabelText(self._t("给当前筛选起个名字：", "Name for the current filter:"))
        dialog.textValueSelected.connect(self.save_filter)
        dialog.open()
        self.name_dialog = dialog
        return dialog

    def save_filter(self, name: str) -> None:
        name = name.strip()
        if not name:
            return
        self.prefs.save_filter(name, self.filter_spec())
        self.build_saved(self.ws.saved)
        self.ws.saved.blockSignals(True)
        self.ws.saved.setCurrentIndex(self.ws.saved.findData(name))
        self.ws.saved.blockSignals(False)
        self.ws.say(self._t(f"已保存筛选「{name}」", f"Filter “{name}” saved"))

    def apply_saved(self, name: str | None) -> None:
        spec = self.prefs.saved_filters().get(name or "")
        if not isinstance(spec, dict):
            return
        for key in FILTER_COMBOS:
            combo: QComboBox = getattr(self.ws, key)
            combo.blockSignals(True)
            combo.setCurrentIndex(max(0, combo.findData(spec.get(key))))  # a shop since removed: 全部
            combo.blockSignals(False)
        search: QLineEdit = self.ws.search
        search.blockSignals(True)
        search.setText(str(spec.get("search") or ""))
        search.blockSignals(False)
        self.ws.refresh()

    # --- column layout -------------------------------------------------------------------------------
    def restore_layout(self) -> bool:
        state = self.prefs.get("columns")
        if not isinstance(state, str):
            return False
        return self.ws.table.horizontalHeader().restoreState(QByteArray(base64.b64decode(state)))

    def watch_layout(self) -> None:
        header = self.ws.table.horizontalHeader()
        header.sectionResized.connect(lambda *_: self._layout_timer.start())
        header.sectionMoved.connect(lambda *_: self._layout_timer.start())

    def _save_layout(self) -> None:
        state = bytes(self.ws.table.horizontalHeader().saveState().data())
        self.prefs.set("columns", base64.b64encode(state).decode("ascii"))

    def flush(self) -> None:
        """Save a pending column change now (the window is closing)."""
        if self._layout_timer.isActive():
            self._layout_timer.stop()
            self._save_layout()



def _fit(combo: QComboBox) -> None:
    """Wide enough for its longest entry at any font size (a combo's own hint under-counts full-width brackets)."""
    fm = combo.fontMetrics()
    longest = max((fm.horizontalAdvance(combo.itemText(i)) for i in range(combo.count())), default=0)
    combo.setMinimumWidth(longest + fm.height() + 16)
