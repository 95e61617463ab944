"""Backends other than the network one: a serial printer on a real pseudo-terminal, a file, USB without a device."""

from __future__ import annotations

import os
import threading
import tty

import pytest

from printers.backends import FileBackend, NetworkBackend, SerialBackend, UsbBackend, backend_from_settings
from printers.escpos_parse import parse
from printers.escpos_render import render_escpos
from printers.layout import lay_out
from printers.profiles import PROFILES
from printers.queue import PrintQueue

from .conftest import make_slip


class SerialPrinter:
    """The printer's end of a pty: records bytes, answers DLE EOT from ``paper_out``."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.received = bytearray()
        self.paper_out = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if len(chunk) >= 3 and chunk[-3:-1] == b"\x10\x04":
                n = chunk[-1]
                self.received += chunk[:-3]
                answer = 0x12
                if self.paper_out:
                    answer |= {1: 0x08, 2: 0x20, 4: 0x60}.get(n, 0)
                os.write(self.master, bytes((answer,)))
            else:
                self.received += chunk

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def serial_printer():
    printer = SerialPrinter()
    yield printer
    printer.close()


def test_a_serial_printer_out_of_paper_keeps_the_slip_then_prints_it_once(tmp_path, serial_printer):
    data = render_escpos(lay_out(make_slip(3), PROFILES["58mm"]))
    now = [0.0]
    queue = PrintQueue(tmp_path / "jobs.sqlite3", SerialBackend(serial_printer.path, baudrate=115200, name="串口打印机"),
                       clock=lambda: now[0])
    serial_printer.paper_out = True
    job_id = queue.submit("TB5", data).job_id
    assert queue.run_once() == []
    assert queue.problem().startswith("打印机缺纸，请装纸后重试")
    serial_printer.paper_out = False
    now[0] += 5
    assert [j.id for j in queue.run_once()] == [job_id]
    assert bytes(serial_printer.received).count(data) == 1
    queue.close()


def test_the_file_backend_writes_exactly_the_slip_bytes(tmp_path):
    slip = make_slip(2)
    data = render_escpos(lay_out(slip, PROFILES["80mm"]))
    target = tmp_path / "slip.bin"
    queue = PrintQueue(tmp_path / "jobs.sqlite3", backend_from_settings("file", path=str(target)))
    queue.submit(slip.order_no, data)
    assert len(queue.run_once()) == 1  # a file cannot answer status queries: written is printed
    assert target.read_bytes() == data
    assert parse(target.read_bytes()).qr[0] == slip.order_qr
    queue.close()


def test_a_usb_printer_that_is_not_there_is_a_plain_problem_and_the_slip_waits(tmp_path):
    backend = backend_from_settings("usb", vendor_id=0x0416, product_id=0x5011)
    assert isinstance(backend, UsbBackend) and backend.name == "USB 0416:5011"
    queue = PrintQueue(tmp_path / "jobs.sqlite3", backend)
    queue.submit("TB7", b"\x1b@slip\n")
    assert queue.run_once() == []
    problem = queue.problem()
    assert "连不上打印机「USB 0416:5011」" in problem and "找不到这台 USB 打印机" in problem
    assert "USB printer is not found" in queue.waiting()[0].problem("en")
    queue.close()


def test_settings_name_every_kind_of_printer_link():
    assert isinstance(backend_from_settings("network", host="10.0.0.8"), NetworkBackend)
    assert isinstance(backend_from_settings("serial", port="/dev/ttyUSB0"), SerialBackend)
    assert isinstance(backend_from_settings("file", path="/dev/usb/lp0"), FileBackend)
