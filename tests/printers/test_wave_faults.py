"""A whole wave of slips through faults that strike mid-wave: after recovery every slip has printed exactly once.

The drills are in tests/printers/wave_drills.py (tests/benchmarks/drill_printer_waves.py runs them many times at
random points); here each runs once at a fixed point.
"""

from __future__ import annotations

import pytest

from .fake_printer import FakePrinter
from .wave_drills import FAULTS, dropped_in, fault_after, make_wave, station_killed_in

WAVE = 8


@pytest.fixture
def printer():
    fake = FakePrinter()
    yield fake
    fake.stall = False
    fake.close()


@pytest.fixture
def wave():
    return make_wave(WAVE)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_after_the_third_slip_holds_the_rest_and_after_recovery_each_slip_prints_once(
        tmp_path, printer, wave, fault):
    assert fault_after(tmp_path, printer, wave, fault, after=3) == [1] * WAVE


def test_the_printer_dropped_in_the_middle_of_the_fifth_slip_reprints_only_that_slip_and_the_rest(
        tmp_path, printer, wave):
    assert dropped_in(tmp_path, printer, wave, slip=4) == [1] * WAVE  # the half slip is not a slip


def test_a_station_killed_mid_wave_prints_each_remaining_slip_once_after_restart(tmp_path, printer, wave):
    assert station_killed_in(tmp_path, printer, wave, slip=2) == [1] * (WAVE + 1)
