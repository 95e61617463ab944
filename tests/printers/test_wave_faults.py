"""A whole wave of slips through faults that strike mid-wave: after recovery every slip has printed exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from printers.backends import NetworkBackend
from printers.escpos_render import render_escpos
from printers.layout import lay_out
from printers.profiles import PROFILES
from printers.queue import PrintQueue

from .conftest import make_slip
from .fake_printer import FakePrinter

REPO = Path(__file__).resolve().parents[2]
WAVE = 8


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def printer():
    fake = FakePrinter()
    yield fake
    fake.stall = False
    fake.close()


@pytest.fixture
def wave():
    return [render_escpos(lay_out(make_slip(2 + i % 4, order_no=f"TB20261125{i:08d}"), PROFILES["80mm"]))
            for i in range(WAVE)]


def _queue(tmp_path, printer, clock=None):
    backend = NetworkBackend("127.0.0.1", printer.port, timeout=10, name="拣货打印机")
    path = tmp_path / "print-jobs.sqlite3"
    return PrintQueue(path, backend, clock=clock) if clock is not None else PrintQueue(path, backend)


def _each_printed_once(printer, wave):
    return [printer.jobs_received(slip) for slip in wave] == [1] * len(wave)


@pytest.mark.parametrize("fault, problem", [("paper_out", "PRINTER_PAPER_OUT"), ("cover_open", "PRINTER_COVER_OPEN"),
                                            ("offline", "PRINTER_OFFLINE")])
def test_a_fault_after_the_third_slip_holds_the_rest_and_after_recovery_each_slip_prints_once(
        tmp_path, printer, wave, fault, problem):
    clock = Clock()
    queue = _queue(tmp_path, printer, clock)
    ids = [queue.submit(f"TB{i}", slip).job_id for i, slip in enumerate(wave)]
    printer.turn = (sum(len(s) for s in wave[:3]), {"state": fault})
    assert [j.id for j in queue.run_once()] == ids[:3]
    waiting = queue.waiting()
    assert [j.id for j in waiting] == ids[3:] and waiting[0].problem_code == problem
    # The person sees the problem, fixes the printer and presses 重试 (or the pause runs out).
    printer.state = "online"
    clock.now += 3600
    assert [j.id for j in queue.run_once()] == ids[3:]
    assert _each_printed_once(printer, wave)
    clock.now += 3600
    assert queue.run_once() == [] and _each_printed_once(printer, wave)
    queue.close()


def test_the_printer_dropped_in_the_middle_of_the_fifth_slip_reprints_only_that_slip_and_the_rest(
        tmp_path, printer, wave):
    clock = Clock()
    queue = _queue(tmp_path, printer, clock)
    ids = [queue.submit(f"TB{i}", slip).job_id for i, slip in enumerate(wave)]
    printer.drop_after = sum(len(s) for s in wave[:4]) + len(wave[4]) // 2
    assert [j.id for j in queue.run_once()] == ids[:4]
    assert queue.waiting()[0].problem_code == "PRINTER_CONNECTION_LOST"
    clock.now += 3600
    assert [j.id for j in queue.run_once()] == ids[4:]
    assert _each_printed_once(printer, wave)  # the half slip is not a slip; the whole one came once


def test_a_station_killed_mid_wave_prints_each_remaining_slip_once_after_restart(tmp_path, printer, wave):
    big = render_escpos(lay_out(make_slip(3, order_no="TB-BIG"), PROFILES["80mm"])) * 3000  # > the kernel's buffers
    slips = wave[:2] + [big] + wave[2:]
    for i, data in enumerate(slips):
        (tmp_path / f"slip{i}.bin").write_bytes(data)
    printer.turn = (len(slips[0]) + len(slips[1]) + 1, {"stall": True})  # jams once the big slip has begun
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from pathlib import Path\n"
        "from printers.backends import NetworkBackend\n"
        "from printers.queue import PrintQueue\n"
        "q = PrintQueue(%r, NetworkBackend('127.0.0.1', %d, timeout=60))\n"
        "for i in range(%d):\n"
        "    q.submit(f'TB{i}', Path(%r, f'slip{i}.bin').read_bytes())\n"
        "q.run_once()\n"
    ) % (str(REPO), str(tmp_path / "print-jobs.sqlite3"), printer.port, len(slips), str(tmp_path))
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while not printer.stall and time.monotonic() < deadline:
            time.sleep(0.05)
        assert printer.stall and child.poll() is None, "the station never got into the big slip"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert printer.jobs_received(slips[0]) == printer.jobs_received(slips[1]) == 1
    assert printer.jobs_received(big) == 0  # cut off in the middle
    printer.stall = False
    queue = _queue(tmp_path, printer)  # the station's own clock, as the killed one had
    waiting = queue.waiting()
    assert len(waiting) == len(slips) - 2 and waiting[0].problem_code == "PRINTER_JOB_IN_DOUBT"
    assert len(queue.run_once()) == len(slips) - 2
    assert [printer.jobs_received(s) for s in slips] == [1] * len(slips)
    queue.close()
