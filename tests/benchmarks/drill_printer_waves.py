"""Drill: waves of pick slips through printer faults at random points, many times (issue #19).

Run: .venv/bin/python tests/benchmarks/drill_printer_waves.py [--waves 100] [--size 8] [--seed 19]

Each wave goes to a fresh fake network printer (tests/printers/fake_printer.py, real TCP on loopback, ESC/POS
and DLE EOT status) and a fresh print-queue file, and meets one fault, taken in turn: out of paper, cover
open, offline (each after a random number of slips), the printer switched off in the middle of a random
slip, or the station process killed with SIGKILL inside a random slip. After recovery every slip must have
come out whole exactly once. Figures: waves and slips, slips printed not once (must be 0), CPU of this
process (queue + printer) and of the killed stations per slip, the load average. JSON last.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--waves", type=int, default=100)
    parser.add_argument("--size", type=int, default=8, help="slips per wave")
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()

    from tests.printers.fake_printer import FakePrinter
    from tests.printers.wave_drills import FAULTS, dropped_in, fault_after, make_wave, station_killed_in
    from tests.support.proc_cpu import children_cpu, own_cpu

    rng = random.Random(args.seed)
    kinds = [*sorted(FAULTS), "dropped", "station_killed"]
    per_kind = {k: {"waves": 0, "slips": 0, "not_once": 0} for k in kinds}
    failures: list[str] = []
    loads: list[float] = []
    mine, stations, started = own_cpu(), children_cpu(), time.perf_counter()
    for n in range(args.waves):
        kind = kinds[n % len(kinds)]
        wave = make_wave(args.size, prefix=f"TB{n:04d}W")
        printer = FakePrinter()
        try:
            with tempfile.TemporaryDirectory(prefix="drill-wave-") as folder:
                if kind in FAULTS:
                    counts = fault_after(Path(folder), printer, wave, kind, after=rng.randrange(1, args.size))
                elif kind == "dropped":
                    counts = dropped_in(Path(folder), printer, wave, slip=rng.randrange(args.size))
                else:
                    counts = station_killed_in(Path(folder), printer, wave, slip=rng.randrange(args.size))
        except AssertionError as err:  # one wave's failure is a figure, not the end of the drill
            failures.append(f"wave {n} ({kind}): {err}")
            counts = [0]
        finally:
            printer.stall = False
            printer.close()
        row = per_kind[kind]
        row["waves"] += 1
        row["slips"] += len(counts)
        row["not_once"] += sum(c != 1 for c in counts)
        loads.append(os.getloadavg()[0])
        print(f"  wave {n + 1:3d} {kind:14s}: {counts}", flush=True)
    wall = time.perf_counter() - started
    slips = sum(r["slips"] for r in per_kind.values())
    figures = {
        "waves": args.waves, "slips": slips, "not_printed_once": sum(r["not_once"] for r in per_kind.values()),
        "failures": failures, "per_fault": per_kind,
        "drill_process_cpu_ms_per_slip": round(1000 * (own_cpu() - mine) / max(1, slips), 2),
        "killed_stations_cpu_ms_per_slip": round(1000 * (children_cpu() - stations) / max(1, slips), 2),
        "load_avg_min": round(min(loads), 1), "load_avg_max": round(max(loads), 1), "wall_s": round(wall, 1),
    }
    print(f"{args.waves} waves, {slips} slips; printed other than once: {figures['not_printed_once']}; "
          f"{len(failures)} waves failed; load {figures['load_avg_min']}–{figures['load_avg_max']}")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
