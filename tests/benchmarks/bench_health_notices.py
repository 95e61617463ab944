"""Health facts vs accumulated change notices: what ``health_refresh`` costs per order as notices pile up.

Run: .venv/bin/python tests/benchmarks/bench_health_notices.py [--orders 20000] [--notices-per-order 3] [--without-index]
Every order intake or routing writes has its health facts re-derived (``health_refresh``, migration 0012); the
facts ask each order whether any of its change notices — acknowledged ones included — was an interception.
``--without-index`` drops ``ix_change_notices_order`` (migration 0055) first, to compare. Prints the
PostgreSQL backend's CPU ms per refreshed order and the wall time, then one JSON line (last).
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

import psutil

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.bootstrap import bootstrap  # noqa: E402
from app.settings import Settings  # noqa: E402

ROUNDS = 5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--notices-per-order", type=int, default=3)
    parser.add_argument("--without-index", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orderhub-health-") as tmp:
        app = bootstrap(Settings(data_dir=Path(tmp)))
        try:
            with app.engine.begin() as c:
                if args.without_index:
                    c.exec_driver_sql("DROP INDEX ix_change_notices_order")
                c.exec_driver_sql("INSERT INTO shops (code, name, platform, api_base_url, credentials_ref, platform_shop_id,"
                                  " poll_interval_s) VALUES ('H', '压测店铺H', 'douyin', 'http://127.0.0.1:9', 'r', '1', 15)")
                c.exec_driver_sql(
                    "INSERT INTO orders (order_no, platform, platform_order_no, shop_id, ordered_at, items, original_amount,"
                    " paid_amount, status, receiver_name, receiver_phone, receiver_address, province, city, district, customer_id)"
                    " SELECT 'OH' || g, 'douyin', 'P' || g, (SELECT id FROM shops), now(), '[]', 1, 1, 'paid', '张三',"
                    " '13800000000', '西湖区文三路1号', '浙江省', '杭州市', '西湖区', 'c' || g FROM generate_series(1, %s) g",
                    (args.orders,))
                c.exec_driver_sql("INSERT INTO change_notices (order_id, status) SELECT o.id, 'acknowledged'"
                                  " FROM orders o, generate_series(1, %s)", (args.notices_per_order,))
                c.exec_driver_sql("ANALYZE")
            load = os.getloadavg()[0]
            with app.engine.begin() as c:
                backend = psutil.Process(c.exec_driver_sql("SELECT pg_backend_pid()").scalar())
                refresh = "SELECT health_refresh(ARRAY(SELECT id FROM orders ORDER BY id DESC LIMIT 100))"
                c.exec_driver_sql(refresh)  # planned and cached once
                cpu, wall = sum(backend.cpu_times()[:2]), time.perf_counter()
                for _ in range(ROUNDS):
                    c.exec_driver_sql(refresh)
                wall, cpu = time.perf_counter() - wall, sum(backend.cpu_times()[:2]) - cpu
                notices = c.exec_driver_sql("SELECT count(*) FROM change_notices").scalar()
                c.rollback()
        finally:
            app.close()
    refreshed = ROUNDS * 100
    figures = {"orders": args.orders, "change_notices": notices, "index_on_order": not args.without_index,
               "postgres_cpu_ms_per_order": round(cpu / refreshed * 1000, 3),
               "wall_ms_per_100_orders": round(wall / ROUNDS * 1000, 1),
               "load_avg_1m_start": round(load, 2), "load_avg_1m_end": round(os.getloadavg()[0], 2),
               "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    print(f"health_refresh with {notices} change notices ({'with' if figures['index_on_order'] else 'without'} an index by "
          f"order): PostgreSQL {figures['postgres_cpu_ms_per_order']} ms CPU per order, {figures['wall_ms_per_100_orders']} ms "
          f"per 100 orders (load {figures['load_avg_1m_start']}→{figures['load_avg_1m_end']})")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
