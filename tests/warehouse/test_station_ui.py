"""The warehouse station on screen: scanner key events drive the pick; warnings, notices and waves show."""

from __future__ import annotations


import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.domain.slip import order_qr, progress_qr
from app.services import orders, waves
from app.ui.warehouse_station import WarehouseStation
from tests.support.keys import send_keys
from tests.warehouse.world import BARCODE, CS, LEAD, PICKER, make_order, order_row


def _scan(qtbot, station, code: str) -> None:
    """A USB scanner: key presses 2 ms apart into whatever has focus, then Enter; wait for the answer."""
    target = station.focusWidget() or station
    with qtbot.waitSignal(station.scan_answered, timeout=5000):
        send_keys(target, code, gap_ms=2)


@pytest.fixture
def picker_station(qtbot, wh, cjk_font):
    station = WarehouseStation(wh.hub.uow, PICKER, role="picker")
    qtbot.addWidget(station)
    station.resize(1400, 800)
    station.show()
    station.manual.setFocus()
    yield station
    station.shutdown()


def test_scanning_at_the_station_opens_counts_warns_and_confirms(qtbot, wh, picker_station, shots):
    station = picker_station
    order_no = make_order(wh, [("J2603-02-130", 2), ("T2601-01-110", 1)], buyer_note="请勿放干燥剂",
                          gift=("GIFT-SOCK-01-M", 1))
    waves.create_wave(wh.hub.uow(), "HZ", LEAD)
    _scan(qtbot, station, order_qr(order_no))
    assert station.pick_panel.model.rowCount() == 3 and station.pick_panel.tone == "ok"
    _scan(qtbot, station, BARCODE["J2603-02-130"])
    assert station.pick_panel.model.lines[0].scanned == 1
    assert station.manual.text() == ""  # the scanner did not type into the focused field
    _scan(qtbot, station, BARCODE["W2602-01-120"])
    assert station.pick_panel.tone == "warn" and station.pick_panel.banner.text().startswith("✘ 拿错了！")
    station.grab().save(str(shots / "warehouse_wrong_item.png"))
    for code in (BARCODE["J2603-02-130"], BARCODE["T2601-01-110"], BARCODE["GIFT-SOCK-01-M"]):
        _scan(qtbot, station, code)
    assert station.pick_panel.tone == "done" and "拣货完成" in station.pick_panel.banner.text()
    station.grab().save(str(shots / "warehouse_confirmed.png"))
    _scan(qtbot, station, "YT9876543210")
    assert order_row(wh, order_no)["status"] == "shipped"
    _scan(qtbot, station, progress_qr("li.sf"))
    assert station.day.done == 1 and "请勿放干燥剂" in station.day_label.text()


def test_typing_in_the_manual_field_is_typing_and_enter_submits_it(qtbot, wh, picker_station):
    station = picker_station
    order_no = make_order(wh, [("T2601-01-110", 1)])
    for ch in order_qr(order_no):
        QTest.keyClick(station.manual, ch)
        qtbot.wait(32)
    assert station.manual.text() == order_qr(order_no)
    with qtbot.waitSignal(station.scan_answered, timeout=5000):
        QTest.keyClick(station.manual, Qt.Key.Key_Return)
    assert station.last_result.kind == "opened"


def test_a_change_while_picking_shows_one_notice_and_acknowledging_it_lets_picking_go_on(qtbot, wh, picker_station, shots):
    station = picker_station
    order_no = make_order(wh, [("J2603-02-130", 2)])
    _scan(qtbot, station, order_qr(order_no))
    for n in range(3):
        orders.change_address(wh.hub.uow(), order_no, orders.AddressChange("李女士", "13912345678", f"江苏省南京市鼓楼区中山北路{n}号"),
                              expected_version=order_row(wh, order_no)["version"], actor=CS, basis="工单")
    orders.add_warehouse_note(wh.hub.uow(), order_no, "改用礼盒包装", expected_version=order_row(wh, order_no)["version"],
                              actor=CS)
    _scan(qtbot, station, BARCODE["J2603-02-130"])
    assert station.pick_panel.tone == "warn" and "有变更" in station.pick_panel.banner.text()
    assert station.notice_list.count() == 1
    assert "收货地址变更 ×3、仓库留言（共 4 次变更）" in station.notice_list.item(0).text()
    station.grab().save(str(shots / "warehouse_notice.png"))
    assert station.acknowledge_selected()
    assert station.notice_list.count() == 0
    _scan(qtbot, station, BARCODE["J2603-02-130"])
    assert station.pick_panel.tone == "ok"


def test_the_lead_creates_a_wave_from_the_station(qtbot, wh, cjk_font, shots):
    for items in ([("T2601-01-110", 1)], [("W2602-01-120", 2)], [("J2603-02-130", 1), ("D2604-03-100", 1)]):
        make_order(wh, items)
    station = WarehouseStation(wh.hub.uow, LEAD, role="wh_lead")
    qtbot.addWidget(station)
    station.resize(1400, 800)
    try:
        assert station.create_wave()
        assert station.wave_table.rowCount() == 1 and "已创建：3 单、5 件" in station.wave_message.text()
        station.grab().save(str(shots / "warehouse_lead.png"))
    finally:
        station.shutdown()


def test_a_picker_signs_in_to_the_warehouse_tab(qtbot, wh, cjk_font, shots):
    from app.ui.main_window import StationWindow

    window = StationWindow(wh.hub.uow, operator="li.sf", station="仓库工作台-01", database="内置数据库", actor=PICKER,
                           role="picker")
    qtbot.addWidget(window)
    assert window.tabs.currentWidget() is window.warehouse and isinstance(window.warehouse, WarehouseStation)
    window.grab().save(str(shots / "warehouse_window.png"))
    cs_window = StationWindow(wh.hub.uow, operator="xiaomei", station="客服工作台-01", database="内置数据库", actor=CS)
    qtbot.addWidget(cs_window)
    assert cs_window.warehouse is None  # no scanner filter on a customer-service station


def test_the_lead_prints_a_wave_and_sees_the_printer_in_plain_words(qtbot, wh, cjk_font, shots, tmp_path):
    from printers.backends import NetworkBackend
    from printers.queue import PrintQueue
    from tests.printers.fake_printer import FakePrinter

    from app.services.pick_slips import SlipPrinter

    fake = FakePrinter()
    fake.state = "paper_out"
    printing = SlipPrinter(wh.hub.uow, PrintQueue(tmp_path / "q.sqlite3", NetworkBackend("127.0.0.1", fake.port,
                                                                                         name="拣货打印机")), paper="80mm")
    make_order(wh, [("T2601-01-110", 1)])
    station = WarehouseStation(wh.hub.uow, LEAD, role="wh_lead", printing=printing)
    qtbot.addWidget(station)
    station.resize(1400, 800)
    try:
        assert station.create_wave()
        assert station.print_selected_wave() and "1 张拣货单已送往打印机" in station.wave_message.text()
        printing.queue.run_once()
        station.refresh_printer()
        assert "打印机缺纸" in station.printer_label.text() and "仍在队列中" in station.printer_label.text()
        station.grab().save(str(shots / "warehouse_printer_problem.png"))
        fake.state = "online"
        station.retry_printing()
        printing.queue.run_once()
        station.refresh_printer()
        assert station.printer_label.text() == "拣货打印机：打印机正常"
    finally:
        station.shutdown()
        printing.stop()
        fake.close()


def test_the_pick_lines_model_is_a_sound_qt_model(qtmodeltester, wh):
    from app.services import picking
    from app.ui.pick_view import PickLinesModel

    order_no = make_order(wh, [("J2603-02-130", 2), ("T2601-01-110", 1)], gift=("GIFT-SOCK-01-M", 1))
    opened = picking.scan(wh.hub.uow(), order_qr(order_no), PICKER)
    model = PickLinesModel()
    model.set_lines(opened.pick.lines)
    qtmodeltester.check(model)
    counted = picking.scan(wh.hub.uow(), BARCODE["J2603-02-130"], PICKER)
    model.set_lines(counted.pick.lines)  # same pick, one count moved: rows stay, data changes
    qtmodeltester.check(model)
    assert model.headerData(4, Qt.Orientation.Horizontal) == "已扫"
    assert model.data(model.index(0, 4)) == "1 / 2" and model.data(model.index(2, 2)) == "纯棉中筒袜（赠品）"
