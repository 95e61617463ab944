"""Printing a wave through the printers' queue to a real TCP printer (the fake one that answers ESC/POS status):
every slip once, decoded back; paper out said in plain words, nothing lost; 补打 marked and audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.domain.errors import BasisRequired
from app.domain.slip import ORDER_QR_PREFIX
from app.services import waves
from app.services.pick_slips import SlipPrinter, parse_printer
from printers.backends import NetworkBackend
from printers.escpos_parse import parse
from printers.queue import PrintQueue
from tests.printers.fake_printer import FakePrinter
from tests.warehouse.world import LEAD, audit_actions, make_order


@pytest.fixture
def printer():
    fake = FakePrinter()
    yield fake
    fake.close()


@pytest.fixture
def slip_printer(wh, tmp_path, printer):
    queue = PrintQueue(tmp_path / "print_queue.sqlite3", NetworkBackend("127.0.0.1", printer.port, timeout=5, name="拣货打印机"))
    sp = SlipPrinter(wh.hub.uow, queue, paper="80mm")
    yield sp
    sp.stop()


def test_a_wave_prints_each_slip_once_in_wave_order_and_is_recorded(wh, slip_printer, printer):
    nos = [make_order(wh, [("T2601-01-110", 1)]) for _ in range(3)]
    wave = waves.create_wave(wh.hub.uow(), "HZ", LEAD)
    assert slip_printer.print_wave(wave.wave_no, LEAD) == f"波次 {wave.wave_no}：3 张拣货单已送往打印机"
    assert slip_printer.print_wave(wave.wave_no, LEAD) == f"波次 {wave.wave_no}：0 张拣货单已送往打印机"  # pressed twice
    slip_printer.queue.run_once()
    stream = b"".join(bytes(c) for c in printer.connections)
    qrs = [q for q in parse(stream).qr if q.startswith(ORDER_QR_PREFIX)]
    assert qrs == [ORDER_QR_PREFIX + n for n in wave.order_nos] and sorted(wave.order_nos) == sorted(nos)
    assert slip_printer.status_text() == "拣货打印机：打印机正常"
    with wh.hub.uow() as uow:
        assert uow.session.scalar(sa.text("SELECT count(*) FROM slip_prints WHERE NOT reprint")) == 3
    assert ("slip.print", "wang.lead") in audit_actions(wh, wave.wave_no)


def test_paper_out_keeps_the_slips_and_says_so_then_a_reprint_is_marked_and_audited(wh, slip_printer, printer):
    order_no = make_order(wh, [("J2603-02-130", 1)])
    wave = waves.create_wave(wh.hub.uow(), "HZ", LEAD)
    printer.state = "paper_out"
    slip_printer.print_wave(wave.wave_no, LEAD)
    slip_printer.queue.run_once()
    assert "打印机缺纸" in slip_printer.status_text() and "队列中 1 张" in slip_printer.status_text()
    printer.state = "online"
    slip_printer.queue.retry_now()
    slip_printer.queue.run_once()
    assert slip_printer.status_text() == "拣货打印机：打印机正常"
    with pytest.raises(BasisRequired):
        slip_printer.reprint(order_no, LEAD, "")
    assert "已加入打印队列" in slip_printer.reprint(order_no, LEAD, "拣货单被撕坏")
    slip_printer.queue.run_once()
    stream = parse(b"".join(bytes(c) for c in printer.connections))
    assert [q for q in stream.qr if q.startswith(ORDER_QR_PREFIX)] == [ORDER_QR_PREFIX + order_no] * 2
    assert any("补打" in line for line in stream.lines) and any("拣货单被撕坏" in line for line in stream.lines)
    assert ("slip.reprint", "wang.lead") in audit_actions(wh, order_no)


def test_printer_settings_are_read_in_plain_forms():
    assert parse_printer("network:192.168.1.50") == ("network", {"host": "192.168.1.50", "port": 9100})
    assert parse_printer("usb:0x0416:0x5011") == ("usb", {"vendor_id": 0x0416, "product_id": 0x5011})
    assert parse_printer("serial:/dev/ttyUSB0:19200") == ("serial", {"port": "/dev/ttyUSB0", "baudrate": 19200})
    assert parse_printer("file:/tmp/slips.bin") == ("file", {"path": "/tmp/slips.bin"})
    with pytest.raises(Exception) as bad:
        parse_printer("lpt1")
    assert "拣货单打印机" in str(bad.value)
