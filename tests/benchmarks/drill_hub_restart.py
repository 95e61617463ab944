"""Drill: PostgreSQL stopped immediately, its sessions terminated (and optionally frozen) under a running hub (issue #19).

Run: .venv/bin/python tests/benchmarks/drill_hub_restart.py [--cycles 20] [--faults immediate,terminate]
     [--shops 3] [--orders 10] [--sales 3] [--hold 2] [--freeze-seconds 30] [--poll-interval 2]

The real `orderhub hub` in its own process polls three simulated platforms (抖店, 淘宝, 微信小店) and
takes signed store sales on its doors from a till that resends until answered 200. Each cycle: new
orders and sales, then the fault at a random point of a poll (the first cycle with a ship
confirmation held at the platform, so it is in flight when the database goes), more orders and
sales while the database is away, recovery, and the wait until every order is stored. Per cycle:
lost, doubled, drain seconds after recovery, whether the hub said 数据库不可用. Figures: CPU seconds
of the hub process, of the PostgreSQL processes (sampled every 0.5 s with psutil; backends killed
between samples lose their last half second) and of this process (simulators + till + checks), per
order stored; the load average. Embedded PostgreSQL in a temporary folder. JSON last.
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=20, help="cycles per fault")
    parser.add_argument("--faults", default="immediate,terminate", help="immediate, terminate, freeze")
    parser.add_argument("--shops", type=int, default=3)
    parser.add_argument("--orders", type=int, default=10, help="new orders per shop, before and during each fault")
    parser.add_argument("--sales", type=int, default=3, help="store sales before and during each fault")
    parser.add_argument("--hold", type=float, default=2.0, help="seconds the database stays away")
    parser.add_argument("--freeze-hold", "--freeze-seconds", dest="freeze_hold", type=float, default=30.0,
                        help="seconds every server process stays SIGSTOPped (fault freeze)")
    parser.add_argument("--poll-interval", type=float, default=2.0,
                        help="the hub's poll interval (shops default to 15 s; every poll re-reads a 2-minute overlap)")
    args = parser.parse_args()

    import psutil
    import sqlalchemy as sa

    from app.db import migrate
    from tests.conftest import _add_staff
    from tests.support.proc_cpu import PgCpu
    from tests.support.hub_restart import HubRestartDrill
    from tests.sync.conftest import OwnPostgres

    loads: list[float] = []
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as folder:
        pg = OwnPostgres(Path(folder))
        admin = sa.create_engine(pg.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE drill"))
        admin.dispose()
        url = pg.admin_url.set(database="drill")
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        migrate.upgrade(engine)
        _add_staff(engine)
        engine.dispose()
        drill = HubRestartDrill(pg, url, Path(folder) / "drill", shops=args.shops, poll_interval=args.poll_interval)
        pg_cpu = PgCpu(Path(pg.server.pgdata))
        pg_cpu.start()
        me = psutil.Process()
        mine_before = sum(me.cpu_times()[:2])
        started = time.perf_counter()
        try:
            drill.start()
            for fault in args.faults.split(","):
                for k in range(args.cycles):
                    hold = args.freeze_hold if fault == "freeze" else args.hold
                    row = drill.cycle(fault, orders=args.orders, sales=args.sales, hold=hold,
                                      ship_in_flight=(k == 0 and fault == "immediate"))
                    row["load"] = round(os.getloadavg()[0], 1)
                    loads.append(row["load"])
                    rows.append(row)
                    print(f"  {fault:9s} #{k + 1:2d}: lost {row['lost']}, doubled {row['doubled']}, "
                          f"drain {row['drain_s']:.1f} s (platform orders {row['platform_orders_s']:.1f} s, "
                          f"store sales {row['store_sales_s']:.1f} s), said 数据库不可用 {row['said_unavailable']}, "
                          f"orders {row['expected']}, load {row['load']}"
                          + (f", write-back applied {row['writeback_applied']}× settled {row['writeback_settled_s']} s"
                             if "writeback_applied" in row else ""), flush=True)
            pg_cpu.sample()
            hub_cpu = drill.hub.cpu_seconds()
            final = drill.verdict()
        finally:
            drill.close()
            pg_cpu.stop_event.set()
            if not pg.running():
                pg.start()
            pg.server.cleanup()
        wall = time.perf_counter() - started
        mine = sum(me.cpu_times()[:2]) - mine_before
    orders = final["expected"]
    per = 1000.0 / max(1, orders)
    figures = {
        "cycles": len(rows), "faults": args.faults, "poll_interval_s": args.poll_interval, "orders": orders, "lost": final["lost"],
        "doubled": final["doubled"], "unknown": final["unknown"],
        "lost_per_cycle": [r["lost"] for r in rows], "doubled_per_cycle": [r["doubled"] for r in rows],
        "drain_s_per_cycle": [r["drain_s"] for r in rows], "drain_s_max": max(r["drain_s"] for r in rows),
        "drain_s_median": round(statistics.median(r["drain_s"] for r in rows), 2),
        "platform_orders_s_per_cycle": [r["platform_orders_s"] for r in rows],
        "store_sales_s_per_cycle": [r["store_sales_s"] for r in rows],
        "said_unavailable": sum(bool(r["said_unavailable"]) for r in rows),
        "writeback_applied": next((r["writeback_applied"] for r in rows if "writeback_applied" in r), None),
        "writeback_settled_s": next((r["writeback_settled_s"] for r in rows if "writeback_settled_s" in r), None),
        "hub_alive": all(r["hub_alive"] for r in rows), "till_refused": drill.till.refused,
        "hub_cpu_ms_per_order": round(hub_cpu * per, 2), "postgres_cpu_ms_per_order": round(pg_cpu.total() * per, 2),
        "drill_process_cpu_ms_per_order": round(mine * per, 2),
        "load_avg_min": min(loads), "load_avg_max": max(loads), "wall_s": round(wall, 1),
    }
    print(f"{len(rows)} faults; {orders} orders, lost {final['lost']}, doubled {final['doubled']}; "
          f"drain max {figures['drain_s_max']} s at load {figures['load_avg_min']}–{figures['load_avg_max']}")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
