"""Intake at scale: the same intake run into a database already holding 200,000 orders and then 2,000,000.

Issue #18: intake figures at 2,000,000 orders each no more than 1.5× their 200,000-order figure. One
embedded PostgreSQL, one run: seeded demo orders are bulk-copied (bench_bulk) up to ``--small``, a fresh
simulator's ``--orders`` orders are pulled in (bench_ingest.throughput: wall, CPU per order of hub,
PostgreSQL and simulator apart), then the table grows to ``--large`` and a second simulator's orders are
pulled in the same way. CPU per order is the figure to compare (the load average is printed with each).

Run: .venv/bin/python tests/benchmarks/bench_ingest_scale.py [--small 200000] [--large 2000000] [--orders 5000]
     [--platform douyin]
Prints figures, then one JSON line (last).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "benchmarks"))

from bench_bulk import bulk_orders  # noqa: E402
from bench_ingest import throughput  # noqa: E402

from app.bootstrap import bootstrap  # noqa: E402
from app.demo.seed import seed_demo  # noqa: E402
from app.hub.credentials import FileStore  # noqa: E402
from app.settings import Settings  # noqa: E402



def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=200_000)
    parser.add_argument("--large", type=int, default=2_000_000)
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--platform", default="douyin")
    opts = parser.parse_args()
    figures: dict[str, object] = {"platform": opts.platform, "orders": opts.orders}
    with tempfile.TemporaryDirectory(prefix="orderhub-ingest-scale-") as tmp:
        hub = bootstrap(Settings(data_dir=Path(tmp), station_name="bench"))
        store = FileStore(Path(tmp) / "secrets.json")
        try:
            seed_demo(hub, seed=20261125, n_orders=3000)
            for size in (opts.small, opts.large):
                figures[f"bulk_to_{size}_s"] = round(bulk_orders(hub, size, days=30), 1)
                run = throughput(hub, store, opts.platform, opts.orders, f"BENCH-S-{size}")
                figures[f"at_{size}"] = run
                c = run["cpu_ms_per_order"]
                print(f"{size:,} orders stored: intake of {run['orders']} at {run['orders_per_s']} orders/s "
                      f"(load {run['load_avg_1m_start']}→{run['load_avg_1m_end']}); CPU per order hub {c['hub']} ms, "
                      f"PostgreSQL {c['postgres']} ms, simulator {c['simulator']} ms")
        finally:
            hub.close()
    small, large = figures[f"at_{opts.small}"], figures[f"at_{opts.large}"]
    assert isinstance(small, dict) and isinstance(large, dict)
    ratios = {"wall_time_large_over_small": round(large["seconds"] / small["seconds"], 2),
              "cpu_per_order_large_over_small": round(large["cpu_ms_per_order_total"] / small["cpu_ms_per_order_total"], 2),
              "postgres_cpu_per_order_large_over_small": round(
                  large["cpu_ms_per_order"]["postgres"] / max(small["cpu_ms_per_order"]["postgres"], 1e-9), 2)}
    print(f"{opts.large:,} vs {opts.small:,}: wall {ratios['wall_time_large_over_small']}×, CPU per order "
          f"{ratios['cpu_per_order_large_over_small']}× (PostgreSQL {ratios['postgres_cpu_per_order_large_over_small']}×); "
          f"target ≤ 1.5×")
    print(json.dumps(figures | {"ratios": ratios, "target_ratio": 1.5, "load_avg_1m": os.getloadavg()[0],
                                "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}, ensure_ascii=False))


if __name__ == "__main__":
    main()
