"""The print queue against a fake printer on real TCP: faults keep the slip, it prints exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from printers.backends import NetworkBackend, PrinterStatus
from printers.escpos_render import render_escpos
from printers.layout import lay_out
from printers.profiles import PROFILES
from printers.queue import PrintQueue

from .conftest import make_slip
from .fake_printer import FakePrinter

REPO = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def printer():
    fake = FakePrinter()
    yield fake
    fake.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def queue(tmp_path, printer, clock):
    q = PrintQueue(tmp_path / "print-jobs.sqlite3", NetworkBackend("127.0.0.1", printer.port, timeout=5,
                                                                   name="拣货打印机"), clock=clock)
    yield q
    q.close()


@pytest.fixture
def slip_bytes():
    return render_escpos(lay_out(make_slip(4), PROFILES["80mm"]))


def test_a_slip_is_sent_once_confirmed_by_the_printer_and_marked_printed(queue, printer, slip_bytes):
    submitted = queue.submit("TB2026112500001234", slip_bytes)
    printed = queue.run_once()
    assert [j.id for j in printed] == [submitted.job_id]
    assert printer.jobs_received(slip_bytes) == 1
    assert printer.status_queries == 6  # three before (can it print?), three after (did it all arrive?)
    assert queue.job(submitted.job_id).state == "printed" and queue.waiting() == []
    assert queue.run_once() == [] and printer.jobs_received(slip_bytes) == 1


def test_a_wave_asks_the_printer_once_before_each_slip_not_twice(queue, printer):
    """The answer proving slip N arrived is slip N+1's check: 3 + 3 × N queries, not 6 × N."""
    slips = [render_escpos(lay_out(make_slip(2 + i % 3, order_no=f"TB20261125{i:08d}"), PROFILES["80mm"]))
             for i in range(5)]
    ids = [queue.submit(f"TB20261125{i:08d}", data).job_id for i, data in enumerate(slips)]
    assert [j.id for j in queue.run_once()] == ids
    assert [printer.jobs_received(data) for data in slips] == [1] * 5
    assert printer.status_queries == 3 + 3 * 5


def test_paper_running_out_after_a_slip_stops_the_next_slip_on_that_answer(queue, printer, clock):
    slips = [render_escpos(lay_out(make_slip(2, order_no=f"TB20261125{i:08d}"), PROFILES["80mm"])) for i in range(3)]
    ids = [queue.submit(f"TB20261125{i:08d}", data).job_id for i, data in enumerate(slips)]
    printer.turn = (len(slips[0]), {"state": "paper_out"})  # the paper ends as the first slip comes out
    assert [j.id for j in queue.run_once()] == ids[:1]
    second = queue.job(ids[1])
    assert second.state == "queued" and second.problem_code == "PRINTER_PAPER_OUT" and second.attempts == 1
    assert printer.jobs_received(slips[1]) == 0 and printer.status_queries == 6
    printer.state = "online"
    clock.now += 2
    assert [j.id for j in queue.run_once()] == ids[1:]
    assert [printer.jobs_received(data) for data in slips] == [1, 1, 1]


@pytest.mark.parametrize(("state", "zh", "en"), [
    ("paper_out", "打印机缺纸，请装纸后重试（拣货单 TB2026112500001234 仍在队列中，不会丢失）", "out of paper"),
    ("offline", "打印机处于离线状态", "offline"),
    ("cover_open", "打印机盖没有合上，请合上后重试", "cover is open"),
])
def test_a_printer_fault_leaves_the_slip_queued_in_plain_words_and_it_prints_exactly_once_after(
        queue, printer, clock, slip_bytes, state, zh, en):
    printer.state = state
    job_id = queue.submit("TB2026112500001234", slip_bytes).job_id
    assert queue.run_once() == []
    job = queue.job(job_id)
    assert job.state == "queued" and job.attempts == 1
    assert job.problem("zh").startswith(zh) and en in job.problem("en")
    assert queue.problem() == job.problem()
    assert printer.jobs_received(slip_bytes) == 0 and not any(printer.connections[0])
    # Waits: nothing is tried again before the pause is over, and the pause grows.
    queries = printer.status_queries
    assert queue.run_once() == [] and printer.status_queries == queries
    clock.now += 2
    assert queue.run_once() == [] and queue.job(job_id).attempts == 2
    assert queue.job(job_id).next_attempt_at - clock.now == 4
    # Fixed: the person presses 重试.
    printer.state = "online"
    queue.retry_now()
    assert [j.id for j in queue.run_once()] == [job_id]
    assert printer.jobs_received(slip_bytes) == 1
    assert queue.problem() is None
    clock.now += 600
    assert queue.run_once() == [] and printer.jobs_received(slip_bytes) == 1


def test_paper_running_low_still_prints_and_warns(queue, printer, slip_bytes):
    printer.state = "paper_low"
    queue.submit("A1", slip_bytes)
    assert len(queue.run_once()) == 1 and queue.warning == "PRINTER_PAPER_LOW"


def test_an_unreachable_printer_keeps_the_slip_and_says_which_printer(tmp_path, clock, slip_bytes):
    with socket_port() as port:
        pass  # the port is free again: nothing listens there
    q = PrintQueue(tmp_path / "jobs.sqlite3", NetworkBackend("127.0.0.1", port, timeout=2, name="二楼打印机"), clock=clock)
    job_id = q.submit("TB1", slip_bytes).job_id
    assert q.run_once() == []
    assert q.job(job_id).state == "queued"
    assert "连不上打印机「二楼打印机」（打印机拒绝连接" in q.problem() and "TB1 仍在队列中" in q.problem()
    q.close()


def test_a_connection_dropped_mid_slip_reprints_the_whole_slip_once(queue, printer, clock, slip_bytes):
    printer.drop_after = len(slip_bytes) // 2
    job_id = queue.submit("TB2026112500001234", slip_bytes).job_id
    assert queue.run_once() == []
    job = queue.job(job_id)
    assert job.state == "queued" and job.problem_code == "PRINTER_CONNECTION_LOST"
    assert "已打出的半张请作废" in job.problem()
    assert 0 < len(printer.connections[0]) < len(slip_bytes)  # half a slip came out
    clock.now += 60
    assert len(queue.run_once()) == 1
    assert printer.jobs_received(slip_bytes) == 1


def test_submitting_the_same_slip_twice_queues_it_once_but_a_reprint_is_its_own_job(queue, printer, slip_bytes):
    first = queue.submit("TB1", slip_bytes)
    again = queue.submit("TB1", slip_bytes)
    assert again.duplicate and again.job_id == first.job_id and again.message_code == "PRINT_JOB_DUPLICATE"
    assert len(queue.waiting()) == 1
    queue.run_once()
    assert queue.submit("TB1", slip_bytes).duplicate  # printed already: still not twice
    reprint = queue.submit("TB1", slip_bytes, reprint=True)
    assert not reprint.duplicate and queue.job(reprint.job_id).reprint
    queue.run_once()
    assert printer.jobs_received(slip_bytes) == 2


def test_slips_print_in_the_order_they_were_queued_and_wait_behind_a_fault(queue, printer, clock):
    slips = [render_escpos(lay_out(make_slip(2, order_no=f"TB{i}"), PROFILES["58mm"])) for i in range(3)]
    printer.state = "paper_out"
    ids = [queue.submit(f"TB{i}", data).job_id for i, data in enumerate(slips)]
    queue.run_once()
    assert [j.id for j in queue.waiting()] == ids
    printer.state = "online"
    clock.now += 10
    assert [j.id for j in queue.run_once()] == ids
    stream = b"".join(printer.connections)
    assert [stream.index(s) for s in slips] == sorted(stream.index(s) for s in slips)


def test_a_station_killed_mid_slip_loses_nothing_and_says_the_slip_may_have_printed(tmp_path, printer):
    path = tmp_path / "jobs.sqlite3"
    data = render_escpos(lay_out(make_slip(3), PROFILES["80mm"])) * 3000  # 26 MB: more than the kernel buffers hold
    (tmp_path / "job.bin").write_bytes(data)
    printer.stall = True
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from pathlib import Path\n"
        "from printers.backends import NetworkBackend\n"
        "from printers.queue import PrintQueue\n"
        "q = PrintQueue(%r, NetworkBackend('127.0.0.1', %d, timeout=60))\n"
        "q.submit('TB9', Path(%r).read_bytes())\n"
        "q.run_once()\n"
    ) % (str(REPO), str(path), printer.port, str(tmp_path / "job.bin"))
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while not (printer.connections and printer.connections[-1]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert printer.connections and printer.connections[-1], "the child never started sending"
        assert child.poll() is None  # still blocked in the middle of the slip
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert len(printer.connections[-1]) < len(data)
    printer.stall = False
    q = PrintQueue(path, NetworkBackend("127.0.0.1", printer.port, timeout=10))
    (job,) = q.waiting()
    assert job.problem_code == "PRINTER_JOB_IN_DOUBT" and "可能已打出" in job.problem()
    assert len(q.run_once()) == 1
    assert printer.jobs_received(data) == 1
    q.close()


def test_status_bytes_decode_to_the_printer_problem():
    assert PrinterStatus.from_bytes(0x12, 0x12, 0x12).problem is None
    assert PrinterStatus.from_bytes(0x1A, 0x32, 0x72).problem == "PRINTER_PAPER_OUT"
    assert PrinterStatus.from_bytes(0x1A, 0x16, 0x12).problem == "PRINTER_COVER_OPEN"
    assert PrinterStatus.from_bytes(0x1A, 0x12, 0x12).problem == "PRINTER_OFFLINE"
    assert PrinterStatus.from_bytes(0x12, 0x12, 0x1E).paper_near_end


class socket_port:
    """A port that was free a moment ago (bound, then released)."""

    def __enter__(self) -> int:
        import socket
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.sock.close()
