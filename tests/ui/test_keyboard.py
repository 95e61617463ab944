"""客服 by keyboard: real key presses search, move, open, copy and reach after-sales; each person's list is remembered."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app.demo.seed import seed_demo
from app.sync.local_db import LocalDb
from app.sync.preferences import OperatorPreferences
from app.ui.cs_workspace import CustomerServiceWorkspace
from app.ui.main_window import StationWindow


@pytest.fixture
def demo_hub(hub):
    seed_demo(hub, seed=20, n_orders=400, anchor=datetime.now(UTC) - timedelta(hours=2))
    return hub


@pytest.fixture
def station_file(tmp_path):
    return LocalDb(tmp_path / "station.sqlite3")


def workspace(qtbot, hub, prefs, lang="zh"):
    ws = CustomerServiceWorkspace(hub.uow, lang, prefs=prefs)
    qtbot.addWidget(ws)
    ws.resize(1400, 760)
    ws.show()
    qtbot.waitExposed(ws)
    ws.activateWindow()
    qtbot.waitUntil(ws.isActiveWindow)  # shortcuts reach the active window only, as on a desk
    ws.table.setFocus()
    return ws


def test_ctrl_f_and_slash_jump_to_the_search_box_and_slash_typed_there_stays_text(qtbot, demo_hub, station_file, cjk_font):
    ws = workspace(qtbot, demo_hub, OperatorPreferences(station_file, "xiaomei"))
    qtbot.keyClick(ws.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert ws.search.hasFocus()
    ws.table.setFocus()
    qtbot.keyClick(ws.table, Qt.Key.Key_Slash)
    assert ws.search.hasFocus()
    qtbot.keyClicks(ws.search, "a/j")
    assert ws.search.text() == "a/j"  # the single-key shortcuts never eat what is typed


def test_j_and_k_move_through_the_list_and_down_from_the_search_enters_it(qtbot, demo_hub, station_file, cjk_font):
    ws = workspace(qtbot, demo_hub, OperatorPreferences(station_file, "xiaomei"))
    assert ws.table.currentIndex().row() == 0
    qtbot.keyClick(ws.table, Qt.Key.Key_J)
    qtbot.keyClick(ws.table, Qt.Key.Key_J)
    assert ws.table.currentIndex().row() == 2
    qtbot.keyClick(ws.table, Qt.Key.Key_K)
    assert ws.table.currentIndex().row() == 1
    qtbot.keyClick(ws.table, Qt.Key.Key_Down)  # the arrows work as ever
    assert ws.table.currentIndex().row() == 2
    for _ in range(4):
        qtbot.keyClick(ws.table, Qt.Key.Key_K)
    assert ws.table.currentIndex().row() == 0  # stops at the first order
    ws.search.setFocus()
    qtbot.keyClick(ws.search, Qt.Key.Key_Down)
    assert ws.table.hasFocus()


@pytest.mark.qt_log_ignore("This plugin does not support")  # offscreen QPA: the drop-down's popup window
def test_enter_opens_the_current_order_and_it_joins_the_recently_viewed(qtbot, demo_hub, station_file, cjk_font):
    ws = workspace(qtbot, demo_hub, OperatorPreferences(station_file, "xiaomei"))
    qtbot.keyClick(ws.table, Qt.Key.Key_J)
    expected = ws.model.row_at(1).order_no
    with qtbot.waitSignal(ws.order_opened) as opened:
        qtbot.keyClick(ws.table, Qt.Key.Key_Return)
    assert opened.args == [expected]
    assert ws.recent.itemData(1) == expected
    first = ws.model.row_at(0).order_no
    qtbot.keyClick(ws.table, Qt.Key.Key_K)
    qtbot.keyClick(ws.table, Qt.Key.Key_Enter)
    qtbot.keyClick(ws.table, Qt.Key.Key_J)
    qtbot.keyClick(ws.table, Qt.Key.Key_Return)  # opened again: moves to the front, never twice in the list
    assert [ws.recent.itemData(i) for i in range(1, ws.recent.count())] == [expected, first]
    qtbot.keyClick(ws.table, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert ws.recent.view().isVisible()  # Ctrl+E drops the recent list open
    ws.recent.hidePopup()
    with qtbot.waitSignal(ws.order_opened) as reopened:
        ws.recent.activated.emit(2)
    assert reopened.args == [first]


def test_c_copies_the_tracking_number_and_says_so_or_says_there_is_none(qtbot, demo_hub, station_file, cjk_font):
    ws = workspace(qtbot, demo_hub, OperatorPreferences(station_file, "xiaomei"))
    rows = [ws.model.row_at(i) for i in range(ws.model.rowCount())]
    shipped = next(i for i, r in enumerate(rows) if r.tracking_no)
    unshipped = next(i for i, r in enumerate(rows) if not r.tracking_no)
    QGuiApplication.clipboard().setText("before")
    ws.table.setCurrentIndex(ws.model.index(unshipped, 0))
    qtbot.keyClick(ws.table, Qt.Key.Key_C)
    assert QGuiApplication.clipboard().text() == "before" and "还没有物流单号" in ws.message.text()
    ws.table.setCurrentIndex(ws.model.index(shipped, 0))
    qtbot.keyClick(ws.table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert QGuiApplication.clipboard().text() == rows[shipped].tracking_no
    assert ws.message.text() == f"已复制物流单号 {rows[shipped].tracking_no}"


def test_a_opens_the_orders_after_sales_window_from_the_list(qtbot, demo_hub, cjk_font, shots_dir, tmp_path):
    window = StationWindow(demo_hub.uow, operator="xiaomei", station="客服工作台-01", database="内置数据库")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    ws = window.cs
    rows = [ws.model.row_at(i) for i in range(ws.model.rowCount())]
    target = next(i for i, r in enumerate(rows) if r.status in ("shipped", "completed"))
    ws.table.setCurrentIndex(ws.model.index(target, 0))
    ws.table.setFocus()
    with qtbot.waitSignal(ws.after_sales_requested) as asked:
        qtbot.keyClick(ws.table, Qt.Key.Key_A)
    assert asked.args == [rows[target].order_no]
    assert window.tabs.tabText(window.tabs.currentIndex()) == rows[target].order_no
    dialogs = [w for w in QApplication.topLevelWidgets() if type(w).__name__ == "AfterSalesDialog" and w.isVisible()]
    assert len(dialogs) == 1
    assert dialogs[0].grab().save(str(Path(shots_dir) / "cs-key-a-after-sales.png"))
    dialogs[0].close()
    window.tabs.setCurrentIndex(0)
    unpaid = next(i for i, r in enumerate(rows) if r.status in ("pending_payment", "cancelled"))
    ws.table.setCurrentIndex(ws.model.index(unpaid, 0))
    ws.table.setFocus()
    qtbot.keyClick(ws.table, Qt.Key.Key_A)  # the key obeys the same rule as the drill-down's button
    assert "不能发起售后" in ws.message.text()
    assert not [w for w in QApplication.topLevelWidgets() if type(w).__name__ == "AfterSalesDialog" and w.isVisible()]


def test_saved_filters_belong_to_their_person_and_survive_a_restart(qtbot, demo_hub, station_file, cjk_font, shots_dir):
    ws = workspace(qtbot, demo_hub, OperatorPreferences(station_file, "xiaomei"))
    ws.status.setCurrentIndex(ws.status.findData("allocating"))
    ws.platform.setCurrentIndex(ws.platform.findData("douyin"))
    narrowed = ws.model.rowCount()
    qtbot.keyClick(ws.table, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    dialog = ws.keys.name_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.setTextValue("抖店待配货")
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert ws.saved.currentText() == "抖店待配货" and "已保存筛选" in ws.message.text()
    assert ws.wait_for_map()
    assert ws.message.width() >= ws.message.fontMetrics().horizontalAdvance(ws.message.text())  # not clipped
    assert ws.grab().save(str(Path(shots_dir) / "cs-saved-filter.png"))
    ws.close()

    again = workspace(qtbot, demo_hub, OperatorPreferences(LocalDb(station_file.path), "xiaomei"))  # a new start
    assert again.model.rowCount() > narrowed  # starts unfiltered
    again.saved.activated.emit(again.saved.findData("抖店待配货"))
    assert again.status.currentData() == "allocating" and again.platform.currentData() == "douyin"
    assert again.model.rowCount() == narrowed
    other = workspace(qtbot, demo_hub, OperatorPreferences(station_file, "laowang"))
    assert other.saved.findData("抖店待配货") == -1  # another person's filters are theirs


def test_column_widths_are_remembered_per_person(qtbot, demo_hub, station_file, cjk_font):
    ws = workspace(qtbot, demo_hub, OperatorPreferences(station_file, "xiaomei"))
    header = ws.table.horizontalHeader()
    header.resizeSection(2, 333)
    header.moveSection(9, 1)  # 物流单号 next to the order no.
    ws.close()  # saves at once, not only after the pause
    back = workspace(qtbot, demo_hub, OperatorPreferences(LocalDb(station_file.path), "xiaomei"))
    h = back.table.horizontalHeader()
    assert h.sectionSize(2) == 333 and h.visualIndex(9) == 1
    fresh = workspace(qtbot, demo_hub, OperatorPreferences(station_file, "laowang"))
    assert fresh.table.horizontalHeader().sectionSize(2) != 333 and fresh.table.horizontalHeader().visualIndex(9) == 9


def test_a_damaged_preference_is_forgotten_not_a_crash(station_file):
    prefs = OperatorPreferences(station_file, "xiaomei")
    with station_file.connect() as conn:
        conn.execute("INSERT INTO operator_prefs VALUES ('xiaomei', 'saved_filters', '{not json')")
    assert prefs.saved_filters() == {}
    prefs.save_filter("今天", {"status": "paid"})
    assert prefs.saved_filters() == {"今天": {"status": "paid"}}
