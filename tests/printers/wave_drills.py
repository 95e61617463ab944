"""A wave of slips through a fault that strikes mid-wave, written once (issue #19).

The suite (tests/printers/test_wave_faults.py) runs each at one fixed point;
tests/benchmarks/drill_printer_waves.py runs them many times at random points. Each drill asserts the
queue's behaviour on the way (what printed before the fault, what waits and why) and returns how many
times each slip came out of the printer whole: after recovery that must be once for every slip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from printers.backends import NetworkBackend
from printers.escpos_render import render_escpos
from printers.layout import lay_out
from printers.profiles import PROFILES
from printers.queue import PrintQueue

from .conftest import make_slip
from .fake_printer import FakePrinter

REPO = Path(__file__).resolve().parents[2]
#: the printer's state a fault leaves it in, and the problem the queue must name for it
FAULTS = {"paper_out": "PRINTER_PAPER_OUT", "cover_open": "PRINTER_COVER_OPEN", "offline": "PRINTER_OFFLINE"}


class Clock:
    """The queue's clock, moved by the drill (a pause that runs out without waiting for it)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_wave(size: int, *, prefix: str = "TB20261125") -> list[bytes]:
    """``size`` rendered slips, each different (so each can be counted on the printer's side)."""
    return [render_escpos(lay_out(make_slip(2 + i % 4, order_no=f"{prefix}{i:08d}"), PROFILES["80mm"]))
            for i in range(size)]


def open_queue(folder: Path, printer: FakePrinter, clock: Clock | None = None) -> PrintQueue:
    backend = NetworkBackend("127.0.0.1", printer.port, timeout=10, name="拣货打印机")
    path = folder / "print-jobs.sqlite3"
    return PrintQueue(path, backend, clock=clock) if clock is not None else PrintQueue(path, backend)


def printed(printer: FakePrinter, slips: list[bytes]) -> list[int]:
    """How many times each slip came out whole."""
    return [printer.jobs_received(slip) for slip in slips]


def fault_after(folder: Path, printer: FakePrinter, wave: list[bytes], fault: str, after: int) -> list[int]:
    """The printer runs out of paper / has its cover opened / goes offline once ``after`` slips are through;
    the rest wait with the problem named; the person fixes it, the pause runs out, the rest print."""
    assert 0 < after < len(wave)
    clock = Clock()
    queue = open_queue(folder, printer, clock)
    ids = [queue.submit(f"TB{i}", slip).job_id for i, slip in enumerate(wave)]
    printer.turn = (sum(len(s) for s in wave[:after]), {"state": fault})
    assert [j.id for j in queue.run_once()] == ids[:after]
    waiting = queue.waiting()
    assert [j.id for j in waiting] == ids[after:] and waiting[0].problem_code == FAULTS[fault], waiting[0]
    printer.state = "online"  # the person fixes the printer and presses 重试 (or the pause runs out)
    clock.now += 3600
    assert [j.id for j in queue.run_once()] == ids[after:]
    clock.now += 3600
    assert queue.run_once() == []  # nothing printed twice on a later round
    queue.close()
    return printed(printer, wave)


def dropped_in(folder: Path, printer: FakePrinter, wave: list[bytes], slip: int) -> list[int]:
    """The printer is switched off half way through slip ``slip``: that slip and the rest print after recovery,
    the half slip is not counted as a slip."""
    clock = Clock()
    queue = open_queue(folder, printer, clock)
    ids = [queue.submit(f"TB{i}", data).job_id for i, data in enumerate(wave)]
    printer.drop_after = sum(len(s) for s in wave[:slip]) + len(wave[slip]) // 2
    assert [j.id for j in queue.run_once()] == ids[:slip]
    assert queue.waiting()[0].problem_code == "PRINTER_CONNECTION_LOST"
    clock.now += 3600
    assert [j.id for j in queue.run_once()] == ids[slip:]
    queue.close()
    return printed(printer, wave)


_STATION = (
    "import sys; sys.path.insert(0, %r)\n"
    "from pathlib import Path\n"
    "from printers.backends import NetworkBackend\n"
    "from printers.queue import PrintQueue\n"
    "q = PrintQueue(%r, NetworkBackend('127.0.0.1', %d, timeout=60))\n"
    "for i in range(%d):\n"
    "    q.submit(f'TB{i}', Path(%r, f'slip{i}.bin').read_bytes())\n"
    "q.run_once()\n"
)


def station_killed_in(folder: Path, printer: FakePrinter, wave: list[bytes], slip: int) -> list[int]:
    """A station process prints the wave and is killed with SIGKILL while slip ``slip`` (made larger than the
    kernel's buffers, so the kill lands inside it) is going out; a new station on the same queue file
    prints that slip and the rest once, and nothing before it again."""
    big = render_escpos(lay_out(make_slip(3, order_no=f"TB-BIG-{slip}"), PROFILES["80mm"])) * 3000
    slips = wave[:slip] + [big] + wave[slip:]
    for i, data in enumerate(slips):
        (folder / f"slip{i}.bin").write_bytes(data)
    printer.turn = (sum(len(s) for s in slips[:slip]) + 1, {"stall": True})  # jams once the big slip has begun
    script = _STATION % (str(REPO), str(folder / "print-jobs.sqlite3"), printer.port, len(slips), str(folder))
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while not printer.stall and time.monotonic() < deadline:
            time.sleep(0.05)
        assert printer.stall and child.poll() is None, "the station never got into the big slip"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert printed(printer, slips[:slip]) == [1] * slip
    assert printer.jobs_received(big) == 0  # cut off in the middle
    printer.stall = False
    queue = open_queue(folder, printer)  # the station's own clock, as the killed one had
    waiting = queue.waiting()
    assert len(waiting) == len(slips) - slip and waiting[0].problem_code == "PRINTER_JOB_IN_DOUBT"
    assert len(queue.run_once()) == len(slips) - slip
    queue.close()
    return printed(printer, slips)
