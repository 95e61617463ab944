"""Scanner input: real key events at scanner speed and at typing speed, bursts, and a serial scanner on a pty."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget

from app.ui.scanner import KeyboardScanFilter, ScannerSettings, ScanWorker, SerialScanReader, is_scan


def _wait_ms(ms: float) -> None:
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass


def _send(widget, text: str, gap_ms: float, enter: bool = True) -> None:
    """Key presses and releases into ``widget`` as the OS would deliver them, ``gap_ms`` apart."""
    for ch in text:
        QTest.keyClick(widget, ch)
        _wait_ms(gap_ms)
    if enter:
        QTest.keyClick(widget, Qt.Key.Key_Return)


@pytest.fixture
def station(qtbot):
    page = QWidget()
    field = QLineEdit(page)
    QVBoxLayout(page).addWidget(field)
    qtbot.addWidget(page)
    page.show()
    field.setFocus()
    scans: list[str] = []
    filt = KeyboardScanFilter(ScannerSettings()).install()
    filt.scanned.connect(scans.append)
    yield field, filt, scans
    filt.uninstall()


def test_a_burst_two_ms_apart_ending_in_enter_is_a_scan_and_is_not_typed(station, qtbot):
    field, _, scans = station
    _send(field, "6901234500011", gap_ms=2)
    assert scans == ["6901234500011"]
    qtbot.wait(60)
    assert field.text() == ""


def test_typing_thirty_five_ms_apart_goes_to_the_focused_field_and_is_no_scan(station, qtbot):
    field, _, scans = station
    for ch in "li.sf":
        QTest.keyClick(field, ch)
        qtbot.wait(35)  # the event loop runs between keys, as it does while a person types
    QTest.keyClick(field, Qt.Key.Key_Return)
    qtbot.wait(60)
    assert scans == [] and field.text() == "li.sf"


def test_fifty_scans_back_to_back_are_all_caught_in_order(station, qtbot):
    field, _, scans = station
    codes = [f"69012345{n:05d}" for n in range(50)]
    for code in codes:
        _send(field, code, gap_ms=2)
    assert scans == codes
    qtbot.wait(60)
    assert field.text() == ""


def test_typing_then_a_scan_keeps_both_apart(station, qtbot):
    field, _, scans = station
    for ch in "12":
        QTest.keyClick(field, ch)
        qtbot.wait(40)
    _send(field, "SF1234567890", gap_ms=1)
    qtbot.wait(60)
    assert scans == ["SF1234567890"] and field.text() == "12"


def test_the_rule_is_gaps_and_length():
    s = ScannerSettings(max_gap_ms=20, min_length=4)
    assert is_scan([2, 3, 2, 4], 4, s)
    assert not is_scan([2, 3, 35, 4], 4, s)
    assert not is_scan([2, 2], 2, s)


def test_scans_faster_than_answers_wait_in_the_worker_queue_and_none_is_lost(qtbot):
    answered: list[tuple[int, str]] = []

    def slow(code: str, context: object) -> str:
        time.sleep(0.005)
        return code.upper()

    worker = ScanWorker(slow)
    worker.answered.connect(lambda seq, code, result: answered.append((seq, result)))
    try:
        for n in range(50):
            worker.submit(f"sku-{n}")
        qtbot.waitUntil(lambda: len(answered) == 50, timeout=5000)
    finally:
        assert worker.shutdown()
    assert answered == [(n + 1, f"SKU-{n}") for n in range(50)] and worker.waiting == 0


def test_a_failing_scan_is_reported_with_its_code_and_the_next_one_is_still_answered(qtbot):
    def handler(code: str, context: object) -> str:
        if code == "bad":
            raise ValueError("数据库连接中断")
        return code

    worker = ScanWorker(handler)
    failed: list[tuple[int, str, str]] = []
    answered: list[tuple[int, str]] = []
    worker.failed.connect(lambda seq, code, err: failed.append((seq, code, str(err))))
    worker.answered.connect(lambda seq, code, result: answered.append((seq, result)))
    try:
        for code in ("a", "bad", "c"):
            worker.submit(code)
        qtbot.waitUntil(lambda: len(answered) == 2, timeout=5000)
    finally:
        worker.shutdown()
    assert failed == [(2, "bad", "数据库连接中断")] and answered == [(1, "a"), (3, "c")]


STUCK_STATION = """
import sys, threading, time
from PySide6.QtWidgets import QApplication
from app.ui.scanner import ScanWorker
app = QApplication([])
started = threading.Event()
def stuck(code, context):  # a scan waiting on a stalled database link
    started.set()
    time.sleep(60)
worker = ScanWorker(stuck)
worker.SHUTDOWN_WAIT_S = 0.3
worker.submit("OH1")
started.wait(5)
t0 = time.monotonic()
finished = worker.shutdown()
print("finished" if finished else "left-running", round(time.monotonic() - t0, 2))
del worker
app.quit()
"""


def test_closing_the_station_while_a_scan_is_stuck_never_aborts_the_process():
    """A QThread destroyed while running aborts Python; the worker's thread must not be one."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", STUCK_STATION], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "left-running" and "Destroyed while thread" not in done.stderr
    assert time.monotonic() - started < 20  # did not wait for the stuck scan's 60 s


def test_a_serial_scanner_on_a_pty_emits_the_same_codes(qtbot):
    pytest.importorskip("serial")
    master, slave = os.openpty()
    reader = SerialScanReader(os.ttyname(slave), 9600)
    got: list[str] = []
    reader.scanned.connect(got.append)
    with qtbot.waitSignal(reader.opened, timeout=3000):  # pyserial empties the input buffer when it opens
        reader.start()
    try:
        os.write(master, b"OH:O:OH261125900001\r\n6901234500011\r")
        os.write(master, b"69012345")  # a code split across reads
        time.sleep(0.02)
        os.write(master, b"00028\n")
        qtbot.waitUntil(lambda: len(got) == 3, timeout=3000)
    finally:
        reader.stop()
        os.close(master)
        os.close(slave)
    assert got == ["OH:O:OH261125900001", "6901234500011", "6901234500028"]


def test_one_stall_inside_a_scan_under_way_is_still_a_scan_but_typing_before_a_scan_is_not_glued_to_it():
    s = ScannerSettings(max_gap_ms=20, stall_ms=150, min_length=4)
    assert is_scan([2, 2, 2, 60, 2, 2], 7, s)  # the machine hiccupped mid-scan
    assert not is_scan([2, 60, 2, 2, 2], 6, s)  # too early to know it was a scan
    assert not is_scan([2, 2, 2, 60, 2, 60, 2], 8, s)  # two stalls: a person
    assert not is_scan([2, 2, 2, 200, 2], 6, s)  # far too long a pause
