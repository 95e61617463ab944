"""主管 station figures: the tab opened with every chart drawn, and a range change redrawn, at N orders.

Run: .venv/bin/python tests/benchmarks/bench_health.py [--orders 200000]
Seeds the demo company (COPY), grows it to N orders server-side over the same week (the rollup
triggers run for every row, as they would for intake), then times in this process, Qt offscreen:
  * open: SupervisorWorkspace built and shown with its summary row and eight charts drawn;
  * range: a change of range (7 days → 24 hours → 7 days, alternating) redrawn;
  * load: how long growing took (the triggers' cost on a bulk load).
Prints a summary, then one JSON line (last).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
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
from tests.auth.conftest import actor_of  # noqa: E402
from tests.conftest import _add_staff  # noqa: E402

SUP = actor_of("supervisor")  # health is read by someone holding health.view (the test staff, added below)


def _ms(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {"p50_ms": round(statistics.median(samples), 1), "max_ms": round(samples[-1], 1)}


def _open_and_range(hub, app, anchor: datetime) -> None:
    from app.services.health import Span
    from app.ui.supervisor.workspace import SupervisorWorkspace

    ws = SupervisorWorkspace(hub.uow, "zh", actor=SUP, now=lambda: anchor)
    ws.set_span(Span.of(anchor - timedelta(hours=24), anchor))
    ws.close()
    ws.deleteLater()
    app.processEvents()


def explain(hub, work) -> None:
    """Run ``work`` capturing its SQL, then EXPLAIN (ANALYZE, BUFFERS) each statement, slowest first."""
    from sqlalchemy import event

    seen: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    event.listen(hub.engine, "before_cursor_execute", capture)
    try:
        work()
    finally:
        event.remove(hub.engine, "before_cursor_execute", capture)
    plans = []
    with hub.engine.connect() as conn:
        raw = conn.connection.driver_connection
        for statement, parameters in seen:
            rows = raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).fetchall()
            text = "\n".join(r[0] for r in rows)
            ms = float(text.rsplit("Execution Time: ", 1)[1].split(" ms")[0])
            plans.append((ms, statement, text))
        conn.rollback()
    for ms, statement, text in sorted(plans, key=lambda p: p[0], reverse=True)[:8]:
        print(f"--- {ms:.1f} ms: {' '.join(statement.split())[:300]}\n{text}\n")
    print(f"statements: {len(plans)}, total execution {sum(p[0] for p in plans):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, help="keep the grown database here and reuse it next time")
    parser.add_argument("--one-transaction", action="store_true",
                        help="grow the way the first version of this bench did (every statement in one transaction)")
    parser.add_argument("--explain", action="store_true",
                        help="EXPLAIN ANALYZE every statement one tab open and one range change run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orderhub-health-") as tmp:
        folder = args.data_dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        anchor_file = folder / "bench_anchor.txt"
        hub = bootstrap(Settings(data_dir=folder, embedded_keep_running=False))
        try:
            if anchor_file.exists():  # a database grown by an earlier run: same week, no reload
                anchor = datetime.fromisoformat(anchor_file.read_text())
                seeded_s, grow_s = 0.0, 0.0
            else:
                anchor = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
                seeded_s = seed_demo(hub, seed=20261125, n_orders=3000, anchor=anchor).seconds
                grow_s = grow_orders(hub, args.orders, one_transaction=args.one_transaction)
                anchor_file.write_text(anchor.isoformat())
            _add_staff(hub.engine)  # the supervisor who reads the board (idempotent)
            with hub.engine.begin() as conn:
                total = conn.scalar(sa.text("SELECT count(*) FROM orders"))
                rollup_rows = conn.scalar(sa.text("SELECT count(*) FROM health_rollup"))
                facts = conn.scalar(sa.text("SELECT count(*) FROM health_order_facts"))
                rollup_mb = conn.scalar(sa.text("SELECT pg_total_relation_size('health_rollup')")) / 2**20
            print(f"orders {total:,} (facts {facts:,}, rollup rows {rollup_rows:,}); seed {seeded_s:.1f} s, "
                  f"grow with triggers {grow_s:.1f} s")

            from PySide6.QtWidgets import QApplication

            from app.services.health import Span
            from app.ui import fonts
            from app.ui.supervisor.workspace import SupervisorWorkspace

            app = QApplication.instance() or QApplication([])
            fonts.install(app)
            if args.explain:
                explain(hub, lambda: _open_and_range(hub, app, anchor))
            opens, ranges = [], []
            cpu_opens, cpu_ranges = [], []
            for run in range(args.runs + 1):
                started, cpu = time.perf_counter(), time.process_time()
                ws = SupervisorWorkspace(hub.uow, "zh", actor=SUP, now=lambda: anchor)
                ws.resize(1500, 950)
                ws.show()
                ws.grab()  # every chart rendered once, synchronously
                opened = (time.perf_counter() - started) * 1000
                cpu_open = (time.process_time() - cpu) * 1000
                spans = (Span.of(anchor - timedelta(hours=24), anchor), Span.last_days(anchor, 7))
                started, cpu = time.perf_counter(), time.process_time()
                ws.set_span(spans[run % 2])
                ws.grab()
                ranged = (time.perf_counter() - started) * 1000
                cpu_range = (time.process_time() - cpu) * 1000
                ws.close()
                ws.deleteLater()
                app.processEvents()
                if run:  # the first run warms caches and the connection pool
                    opens.append(opened)
                    ranges.append(ranged)
                    cpu_opens.append(cpu_open)
                    cpu_ranges.append(cpu_range)
            from app.domain.health import Grain
            from app.services import health

            reads = []
            for _ in range(args.runs):  # the data side alone: summary, series and bars in one transaction
                started = time.perf_counter()
                health.dashboard(hub.uow(), SUP, Span.last_days(anchor, 7), Grain.DAY)
                reads.append((time.perf_counter() - started) * 1000)
            figures = {"orders": total, "dashboard_read": _ms(reads), "rollup_table_mb": round(rollup_mb, 1), "rollup_rows": rollup_rows, "grow_with_triggers_s": round(grow_s, 1),
                       "open": _ms(opens), "range_change": _ms(ranges),
                       # this process's CPU time: what the station itself spent, whatever else loads the machine
                       "open_cpu": _ms(cpu_opens), "range_change_cpu": _ms(cpu_ranges),
                       "load_average_1m": round(os.getloadavg()[0], 1), "cores": os.cpu_count(),
                       "open_under_1s": max(opens) < 1000, "range_under_300ms": max(ranges) < 300}
            print(f"tab open with all charts: p50 {figures['open']['p50_ms']} ms, max {figures['open']['max_ms']} ms")
            print(f"rollup read (7 days):     p50 {figures['dashboard_read']['p50_ms']} ms")
            print(f"range change redrawn:     p50 {figures['range_change']['p50_ms']} ms, "
                  f"max {figures['range_change']['max_ms']} ms")
            print(json.dumps(figures))
        finally:
            hub.close()


if __name__ == "__main__":
    main()
