"""The station window with sync: live list, status in the status bar, refusals shown, and a GUI that never waits."""

import os

import pytest
from PySide6.QtCore import QElapsedTimer, QTimer

from app.services import orders
from app.ui import fonts
from app.ui.main_window import StationWindow
from app.ui.sync_status import SyncBridge
from tests.support.factories import make_order
from tests.sync.proxy import LoopbackProxy
from tests.sync.test_commands import CS

SHOTS = os.environ.get("ORDERHUB_SCREENSHOTS", "/tmp/orderhub-screens")


def _window(qtbot, qapp, hub, station):
    fonts.install(qapp)
    bridge = SyncBridge(station)
    window = StationWindow(hub.uow, operator="小美", station="客服工作台-01", database="内置数据库", actor=CS,
                           sync=bridge)
    qtbot.addWidget(window)
    window.show()
    station.start()
    return window, bridge


def _statuses(window):
    return [window.cs.model.row_at(n).status for n in range(window.cs.model.rowCount())]


def test_the_order_list_follows_another_stations_change_without_a_refresh(qtbot, qapp, hub, make_station):
    order_no, version = make_order(hub, "paid")
    station = make_station(hub.engine.url, start=False, pull_interval=30.0)
    window, _ = _window(qtbot, qapp, hub, station)
    qtbot.waitUntil(lambda: "在线" in window.sync_status.label.text(), timeout=10_000)
    window.cs.refresh()
    row = next(n for n in range(window.cs.model.rowCount()) if window.cs.model.row_at(n).order_no == order_no)
    window.cs.table.selectRow(row)
    orders.change_status(hub.uow(), order_no, "allocating", expected_version=version, actor=CS)  # another station
    qtbot.waitUntil(lambda: window.cs.model.row_at(row).status == "allocating", timeout=5_000)
    assert window.cs.table.currentIndex().row() == row  # updated in place: the selection stays
    # the map counts from the same cache, and follows it too
    qtbot.waitUntil(lambda: window.cs.wait_for_map() and window.cs.map._counts == {"浙江省": 1}, timeout=5_000)
    os.makedirs(SHOTS, exist_ok=True)
    window.grab().save(f"{SHOTS}/sync_station_online.png")


def test_a_refused_change_is_shown_to_its_maker_until_acknowledged(qtbot, qapp, hub, make_station):
    order_no, version = make_order(hub, "paid")
    orders.cancel(hub.uow(), order_no, expected_version=version, actor=CS, basis="工单 T-9")  # someone else first
    station = make_station(hub.engine.url, start=False)
    window, bridge = _window(qtbot, qapp, hub, station)
    bridge.submit(CS, "order.add_warehouse_note", {"order_no": order_no, "expected_version": version, "text": "加急"})
    qtbot.waitUntil(lambda: window.sync_status.review.isVisible(), timeout=10_000)
    assert "1 条改动未被接受" in window.sync_status.label.text()
    dialog = window.sync_status.show_refused()
    text = dialog.list.item(0).text()
    assert "给仓库留言" in text and order_no in text and "已被他人修改" in text and "已取消" in text
    os.makedirs(SHOTS, exist_ok=True)
    dialog.grab().save(f"{SHOTS}/sync_refused_changes.png")
    dialog.acknowledge.click()
    qtbot.waitUntil(lambda: not window.sync_status.review.isVisible(), timeout=2_000)
    assert station.outbox.counts() == {"acknowledged": 1}


@pytest.mark.slow
def test_the_gui_keeps_painting_while_the_database_link_is_stalled(qtbot, qapp, own_pg, own_hub, make_station):
    order_no, _ = make_order(own_hub, "paid")
    proxy = LoopbackProxy.to(own_hub.engine.url)
    try:
        station = make_station(proxy.url(own_hub.engine.url), start=False, op_timeout=2.0, connect_timeout=2)
        window, bridge = _window(qtbot, qapp, own_hub, station)
        qtbot.waitUntil(lambda: "在线" in window.sync_status.label.text(), timeout=10_000)
        proxy.stall()
        gaps, clock = [], QElapsedTimer()
        clock.start()
        ticker = QTimer()
        ticker.timeout.connect(lambda: (gaps.append(clock.restart())))
        ticker.start(20)
        window.cs.search.setText(order_no)
        window.cs.search.returnPressed.emit()  # the list answers from the cache; the server is asked on the worker
        assert [window.cs.model.row_at(n).order_no for n in range(window.cs.model.rowCount())] == [order_no]
        bridge.submit(CS, "order.add_warehouse_note", {"order_no": order_no, "expected_version": 1, "text": "卡住"})
        qtbot.waitUntil(lambda: "离线" in window.sync_status.label.text(), timeout=15_000)
        ticker.stop()
        assert len(gaps) > 50 and max(gaps) < 250, max(gaps)
        window.grab().save(f"{SHOTS}/sync_station_offline.png")
        proxy.resume()
        qtbot.waitUntil(lambda: "在线" in window.sync_status.label.text(), timeout=20_000)
        assert station.outbox.counts() == {"accepted": 1}
    finally:
        proxy.close()
