"""An item scan, incremental vs rebuilt: CPU per scan of the station process and of PostgreSQL (issue #18).

The warehouse tests' small warehouse on its own embedded PostgreSQL; orders of 3 lines × 3 pieces are
opened by their QR and picked with 9 item scans each (then shipped). Orders alternate between the
station's way (``picking._PickLinesMemo``: the lines read at opening, one count moved per scan) and a
full rebuild per scan (the memo bypassed: lines, bins and wave read again, as before), so both modes run
under the same load on this shared machine. Only the item scans are measured.

Run: .venv/bin/python tests/benchmarks/bench_pick_scan.py [--orders 40]
Prints a summary, then one JSON line (last).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import CpuMeter  # noqa: E402

from app.bootstrap import bootstrap  # noqa: E402
from app.domain.slip import order_qr  # noqa: E402
from app.services import picking  # noqa: E402
from app.settings import Settings  # noqa: E402
from tests.conftest import _add_staff  # noqa: E402
from tests.warehouse.world import BARCODE, PICKER, build, make_order  # noqa: E402

LINES = [("J2603-02-130", 3), ("T2601-01-110", 3), ("W2602-01-120", 3)]


def run(n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="orderhub-pickscan-") as folder:
        hub = bootstrap(Settings(data_dir=Path(folder), station_name="仓库工作台-01"))
        try:
            _add_staff(hub.engine)
            world = build(hub, on_hand=100_000)
            meter = CpuMeter(hub, os.getpid())
            memo_get = picking._LINES.get  # noqa: SLF001 - the bench compares it with a full read
            spent = {m: {"station": 0.0, "postgres": 0.0, "scans": 0} for m in ("incremental", "rebuild")}
            for i in range(n):
                mode = ("incremental", "rebuild")[i % 2]
                picking._LINES.get = memo_get if mode == "incremental" else (  # type: ignore[method-assign]  # noqa: SLF001
                    lambda s, p, o: picking._read_lines(s, p, o))  # noqa: SLF001
                order_no = make_order(world, LINES)
                assert picking.scan(hub.uow(), order_qr(order_no), PICKER).ok
                before = meter._now()  # noqa: SLF001
                for sku, qty in LINES:
                    for _ in range(qty):
                        result = picking.scan(hub.uow(), BARCODE[sku], PICKER)
                        assert result.ok, result
                after = meter._now()  # noqa: SLF001
                spent[mode]["station"] += after["hub"] - before["hub"]
                spent[mode]["postgres"] += after["postgres"] - before["postgres"]
                spent[mode]["scans"] += sum(q for _, q in LINES)
                assert picking.scan(hub.uow(), f"SF{1600000000000 + i}", PICKER).kind == "shipped"
            picking._LINES.get = memo_get  # type: ignore[method-assign]  # noqa: SLF001
        finally:
            hub.close()
    return {mode: {"scans": v["scans"], "station_cpu_ms_per_scan": round(v["station"] / v["scans"] * 1000, 2),
                   "postgres_cpu_ms_per_scan": round(v["postgres"] / v["scans"] * 1000, 2)}
            for mode, v in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=40)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    figures = run(args.orders)
    for mode, f in figures.items():
        print(f"{mode}: {f['scans']} item scans, station {f['station_cpu_ms_per_scan']} ms CPU per scan, "
              f"PostgreSQL {f['postgres_cpu_ms_per_scan']} ms")
    figures = {"item_scans": figures, "seconds": round(time.perf_counter() - started, 1),
               "load_avg_1m": [load_before, os.getloadavg()[0]], "cpus": os.cpu_count(),
               "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    print(f"load {load_before:.1f} → {os.getloadavg()[0]:.1f}")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
