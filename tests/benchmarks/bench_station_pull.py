"""What one customer-service station spends to pull and apply one intake page (issue #18's peak day).

A CS station's scope is every order of 7 days, so every intake page (up to 100 new orders in one
statement) is pulled and applied by every CS desk; this cost is multiplied by the number of desks.
Setup: the demo company grown to ``--orders`` orders over 7 days, one CS station (the real
``StationSync`` on its SQLite cache) loaded. Then ``--pages`` times: one intake page of ``--page``
new orders is inserted in one statement, then one colleague's change (a single-row update), and the
station runs one sync round (``sync_once``: replay, requests, pull, apply, announce).

Reported per order applied: CPU ms of the station's thread (``time.thread_time``: the pull's
decoding, the SQLite upsert, the announcement) and of the PostgreSQL server (every backend; nothing
else writes while the station pulls), and the rows the station received per round (a row pulled
twice is paid twice). Wall figures are "at load X" (the load average is printed beside them).

Run: .venv/bin/python tests/benchmarks/bench_station_pull.py [--orders 20000] [--pages 40] [--page 100]
Prints human lines, then one JSON line (last).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "benchmarks"))

import sqlalchemy as sa  # noqa: E402
from bench_bulk import _COLUMNS, bulk_orders  # noqa: E402
from pg_cpu import PostgresCpu  # noqa: E402

from app.bootstrap import bootstrap  # noqa: E402
from app.demo.seed import seed_demo  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.sync.cache import Scope  # noqa: E402
from app.sync.station_sync import StationSync  # noqa: E402

# one intake page: copies of seeded orders, ordered now (inside every CS station's 7 days), one statement
_PAGE = sa.text(
    f"INSERT INTO orders ({_COLUMNS}) "
    "SELECT o.order_no || '-p' || :k, o.platform, o.platform_order_no || '-p' || :k, o.shop_id, now(), now(),"
    " o.customer_id, o.items, o.original_amount, o.paid_amount, 'paid', NULL, o.invoice_status, o.receiver_name,"
    " o.receiver_phone, o.receiver_phone_tail, o.receiver_address, o.receiver_token, o.province, o.city, o.district,"
    " o.warehouse_id, now() + interval '48 hours', o.buyer_note, 1"
    " FROM orders o WHERE o.id IN (SELECT id FROM orders ORDER BY id LIMIT :n)")
_NOTE = sa.text("UPDATE orders SET seller_note = coalesce(seller_note, '') || 'x' "
                "WHERE id = (SELECT id FROM orders WHERE ordered_at > now() - interval '1 day' ORDER BY id DESC LIMIT 1)")


def run(opts: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="orderhub-pull-") as folder:
        tmp = Path(folder)
        hub = bootstrap(Settings(data_dir=tmp / "hub", station_name="压测"))
        seed_demo(hub, seed=20261203, n_orders=200, reset=True)
        bulk_orders(hub, opts.orders)
        postgres = PostgresCpu(hub.engine)
        url = hub.engine.url.render_as_string(hide_password=False)
        changed: list[set[str]] = []
        station = StationSync(url, tmp / "station", Scope("cs"), on_orders_changed=changed.append)
        station.db.connect().execute("PRAGMA synchronous=NORMAL")  # as the worker thread sets it
        t0 = time.perf_counter()
        station.sync_once()
        first_load_s = time.perf_counter() - t0
        held = station.cache.count()
        rounds = []
        loads = []
        for k in range(opts.pages):
            with hub.engine.begin() as conn:
                conn.execute(_PAGE, {"k": k, "n": opts.page})
                conn.execute(_NOTE)
            changed.clear()
            pg0, th0, w0 = postgres.seconds(), time.thread_time(), time.perf_counter()
            station.sync_once()
            wall, th, pg = time.perf_counter() - w0, time.thread_time() - th0, postgres.seconds() - pg0
            applied = len(set().union(*changed)) if changed else 0
            rounds.append({"applied": applied, "station_ms": th * 1000, "postgres_ms": pg * 1000, "wall_ms": wall * 1000})
            loads.append(os.getloadavg()[0])
        station.stop()
        hub.close()
    applied = sum(r["applied"] for r in rounds) or 1
    return {
        "orders_in_scope": held, "first_load_s_at_load": [round(first_load_s, 2), round(os.getloadavg()[0], 1)],
        "pages": opts.pages, "page": opts.page, "orders_applied": applied,
        "cpu_ms_per_order_applied": {
            "station": round(sum(r["station_ms"] for r in rounds) / applied, 3),
            "postgres": round(sum(r["postgres_ms"] for r in rounds) / applied, 3)},
        "cpu_ms_per_round": {
            "station_p50": round(statistics.median(r["station_ms"] for r in rounds), 2),
            "postgres_p50": round(statistics.median(r["postgres_ms"] for r in rounds), 2)},
        "wall_ms_per_round": {"p50": round(statistics.median(r["wall_ms"] for r in rounds), 1),
                              "max": round(max(r["wall_ms"] for r in rounds), 1)},
        "load_avg_1m": {"min": min(loads), "max": max(loads), "mean": round(statistics.fmean(loads), 1)},
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20_000, help="orders in the database (7 days)")
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--page", type=int, default=100, help="orders per intake page")
    opts = parser.parse_args()
    figures = run(opts)
    c = figures["cpu_ms_per_order_applied"]
    print(f"{figures['orders_applied']} orders applied in {opts.pages} rounds: station {c['station']} ms, "
          f"PostgreSQL {c['postgres']} ms CPU per order; wall p50 {figures['wall_ms_per_round']['p50']} ms per round "
          f"at load {figures['load_avg_1m']['mean']}")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
