"""Foundation figures: empty folder → ready database, demo seeding, and the order list at 200,000 orders.

Run: .venv/bin/python tests/benchmarks/bench_db.py [--orders 200000]
Prints a human summary, then one JSON line (last) with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.bootstrap import bootstrap  # noqa: E402
from app.demo.seed import seed_demo  # noqa: E402
from app.services.order_queries import OrderFilter, list_orders  # noqa: E402
from app.settings import Settings  # noqa: E402


def time_upgrade_from_empty(folder: Path) -> float:
    """`orderhub db upgrade` in a brand-new data folder: initdb, start, create, migrate."""
    env = os.environ | {"ORDERHUB_DATA_DIR": str(folder), "ORDERHUB_DATABASE_URL": ""}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "app", "db", "upgrade"], cwd=REPO, env=env, check=True,
                   capture_output=True)
    return time.perf_counter() - started


def grow_orders(hub, target: int, batch: int = 100_000, *, one_transaction: bool = False) -> float:
    """Copy the seeded orders server-side until there are ``target``, spread over the same 7 days.

    One INSERT … SELECT … CROSS JOIN generate_series per ``batch`` orders, each committed on its own
    as intake commits its orders: the health triggers then update every rollup row once per batch, and
    a committed old row version is pruned, where one transaction for the whole load would have kept
    every version of every rollup row (hundreds at 2,000,000 orders) until the end. VACUUM ANALYZE
    afterwards, as autovacuum would do soon after a bulk load. ``one_transaction`` reproduces the
    earlier loader (3,000 orders a statement, one transaction for all) to show what it did.
    """
    if one_transaction:
        batch = 3000
    started = time.perf_counter()
    with hub.engine.begin() as conn:
        have = conn.scalar(sa.text("SELECT count(*) FROM orders"))
        top = conn.scalar(sa.text("SELECT max(id) FROM orders"))
    copies, done = 0, have
    single = hub.engine.connect() if one_transaction else None
    while done < target:
        need = min(batch, target - done)
        rounds = (need + have - 1) // have
        with (single.begin_nested() if single is not None else hub.engine.begin()) as conn:
            conn = single if single is not None else conn
            conn.execute(sa.text(
                "INSERT INTO orders (order_no, platform, platform_order_no, shop_id, ordered_at, paid_at, customer_id,"
                " items, original_amount, paid_amount, status, tracking_no, invoice_status, receiver_name,"
                " receiver_phone, receiver_phone_tail, receiver_address, receiver_token, province, city, district,"
                " warehouse_id, ship_by, buyer_note, version)"
                " SELECT order_no || '-' || r, platform, platform_order_no || '-' || r, shop_id,"
                " ordered_at - make_interval(secs => (random() * 3600 * 24)::int), paid_at, customer_id, items,"
                " original_amount, paid_amount, status, tracking_no || '-' || r, invoice_status, receiver_name,"
                " receiver_phone, receiver_phone_tail, receiver_address, receiver_token, province, city, district,"
                " warehouse_id, ship_by, buyer_note, 1"
                " FROM generate_series(CAST(:r0 AS int), CAST(:r1 AS int)) AS r CROSS JOIN orders o WHERE o.id <= :top"
                " ORDER BY r, o.id LIMIT :need"), {"r0": copies + 1, "r1": copies + rounds, "top": top, "need": need})
        copies += rounds
        done += need
    if single is not None:
        single.commit()
        single.close()
    with hub.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("orders", "health_order_facts", "health_rollup", "order_outside_status"):
            conn.execute(sa.text(f"VACUUM ANALYZE {table}"))  # as autovacuum would soon after a bulk load
    return time.perf_counter() - started


def time_list(hub, flt: OrderFilter, runs: int = 60) -> dict[str, float]:
    list_orders(hub.uow(), flt, limit=100)  # warm the pool and plan cache
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        rows = list_orders(hub.uow(), flt, limit=100)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"rows": len(rows), "p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2), "max_ms": round(samples[-1], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200_000)
    args = parser.parse_args()
    figures: dict[str, object] = {"machine_cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="orderhub-bench-") as tmp:
        figures["upgrade_from_empty_s"] = round(time_upgrade_from_empty(Path(tmp) / "fresh"), 2)
        print(f"db upgrade on an empty data folder → ready: {figures['upgrade_from_empty_s']} s")

        hub = bootstrap(Settings(data_dir=Path(tmp) / "bench"))
        try:
            report = seed_demo(hub, seed=20261125, n_orders=3000, anchor=datetime(2026, 11, 25, 4, tzinfo=UTC))
            figures["seed_demo_s"] = round(report.seconds, 2)
            figures["seed_demo_orders"] = report.counts["orders"]
            print(f"seed the demo company ({report.counts['orders']} orders, "
                  f"{report.counts['tracking_events']} tracking events): {figures['seed_demo_s']} s")
            figures["grow_to_orders_s"] = round(grow_orders(hub, args.orders), 2)
            with hub.engine.connect() as conn:
                figures["orders_in_db"] = conn.scalar(sa.text("SELECT count(*) FROM orders"))
            print(f"grew to {figures['orders_in_db']:,} orders in {figures['grow_to_orders_s']} s")
            cases = {
                "status+platform (配货中, 抖店)": OrderFilter(status="allocating", platform="douyin"),
                "status+platform (已完成, 天猫)": OrderFilter(status="completed", platform="tmall"),
                "rare: status+platform (待支付, 门店POS)": OrderFilter(status="pending_payment", platform="pos"),
                "no filter": OrderFilter(),
            }
            lists = {}
            for name, flt in cases.items():
                lists[name] = time_list(hub, flt)
                print(f"newest 100, {name}: p50 {lists[name]['p50_ms']} ms, p95 {lists[name]['p95_ms']} ms "
                      f"({lists[name]['rows']} rows)")
            figures["list_newest_100"] = lists
            figures["list_newest_100_status_platform_p95_ms"] = lists["status+platform (配货中, 抖店)"]["p95_ms"]
            figures["target_ms"] = 50
        finally:
            hub.close()
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
