"""What one index on ``orders`` costs intake, and what dropping it costs the queries (issue #18).

Run: .venv/bin/python tests/benchmarks/bench_order_indexes.py --index "(status, platform, province)"
     [--orders 200000] [--keep /tmp/orders-indexes] [--rows 50000]

``--index`` is a piece of the index's definition (``pg_indexes.indexdef``); ``secondary`` means every
index that is not unique. Two figures, the same data:

* cost: CPU of the PostgreSQL backend (psutil on its pid) per row of ``INSERT … SELECT`` of ``--rows``
  orders into a clone of ``orders`` with its indexes, with and without the chosen ones (three rounds,
  interleaved; the minimum counts). Routing's update of status / warehouse is not HOT, so it pays
  about the same again per order.
* plans: EXPLAIN (ANALYZE) of each list, search and map query people run (bench_scale's, and the
  map's fallback under 超时风险 / an odd hour window), with the index and, in a rolled-back
  transaction, without it: its time and the indexes it reads.
JSON last. Load averages are printed with every figure (the machine is shared).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "benchmarks"))

import psutil  # noqa: E402
from bench_bulk import bulk_orders  # noqa: E402
from bench_scale import _handles, _setup, work_of  # noqa: E402
from sqlalchemy import event  # noqa: E402

from app.services import map_counts  # noqa: E402
from app.services.order_queries import OrderFilter, list_orders  # noqa: E402


def _chosen(raw, table: str, piece: str) -> list[str]:
    if piece == "secondary":
        rows = raw.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef NOT LIKE '%%UNIQUE%%'",
                           (table,))
    else:
        rows = raw.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
                           (table, f"%{piece}%"))
    return [r[0] for r in rows]


def insert_cost(hub, piece: str, rows: int) -> dict[str, object]:
    raw = hub.engine.raw_connection().driver_connection
    raw.autocommit = True
    backend = psutil.Process(raw.execute("SELECT pg_backend_pid()").fetchone()[0])
    found: dict[str, list[float]] = {"with": [], "without": []}
    try:
        for _ in range(3):
            for variant in found:
                raw.execute("DROP TABLE IF EXISTS bench_orders_clone")
                raw.execute("CREATE TABLE bench_orders_clone (LIKE orders INCLUDING DEFAULTS INCLUDING INDEXES"
                            " INCLUDING CONSTRAINTS)")
                if variant == "without":
                    for name in _chosen(raw, "bench_orders_clone", piece):
                        raw.execute(f'DROP INDEX "{name}"')
                before = sum(backend.cpu_times()[:2])
                raw.execute("INSERT INTO bench_orders_clone SELECT * FROM orders ORDER BY id LIMIT %s", (rows,))
                us = (sum(backend.cpu_times()[:2]) - before) / rows * 1e6
                found[variant].append(us)
                print(f"insert {variant}: {us:.1f} µs CPU per row (load {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        raw.execute("DROP TABLE IF EXISTS bench_orders_clone")
        raw.close()
    return {k: round(min(v), 1) for k, v in found.items()}


def _queries(hub) -> dict[str, Callable[[], None]]:
    work = {k: v for k, v in work_of(hub, _handles(hub)).items() if k.split(":")[0] in ("list", "search", "map")}
    for name, flt in {"status": OrderFilter(status="paid"), "platform": OrderFilter(platform="tmall"),
                      "status+platform+province": OrderFilter(status="allocating", platform="douyin", province="浙江省")
                      }.items():
        work[f"list:{name}"] = lambda f=flt: list_orders(hub.uow(), f, limit=100)
    for name, flt in {"status+risk": OrderFilter(status="paid", risk="overdue"),
                      "status+platform+risk": OrderFilter(status="allocating", platform="douyin", risk="overdue"),
                      "platform+hours": OrderFilter(platform="douyin", hours=(3, 5)),
                      "status+hours": OrderFilter(status="shipped", hours=(3, 5))}.items():
        work[f"map_fallback:{name}"] = lambda f=flt: map_counts.province_figures(hub.uow(), f)
    return work


def plans(hub, piece: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for name, fn in _queries(hub).items():
        seen: list[tuple[str, object]] = []

        def capture(_conn, _cursor, statement, parameters, _context, _many, seen=seen):
            if statement.lstrip().upper().startswith(("SELECT", "WITH")) and "orders" in statement:
                seen.append((statement, parameters))

        event.listen(hub.engine, "before_cursor_execute", capture)
        try:
            fn()
        finally:
            event.remove(hub.engine, "before_cursor_execute", capture)
        with hub.engine.connect() as conn:
            raw = conn.connection.driver_connection
            for statement, parameters in seen:
                figure: dict[str, object] = {"query": name, "sql": " ".join(statement.split())[:120]}
                for variant in ("with", "without"):
                    raw.execute("BEGIN")
                    if variant == "without":
                        for index in _chosen(raw, "orders", piece):
                            raw.execute(f'DROP INDEX "{index}"')
                    raw.execute("EXPLAIN (ANALYZE) " + statement, parameters).fetchall()  # warm
                    text = "\n".join(r[0] for r in raw.execute("EXPLAIN (ANALYZE) " + statement, parameters))
                    raw.execute("ROLLBACK")
                    ms = float(text.rsplit("Execution Time: ", 1)[1].split(" ms")[0])
                    used = sorted({w for w in text.replace("(", " ").split() if w.startswith(("ix_", "uq_", "pk_"))})
                    figure[variant] = {"ms": ms, "indexes": used}
                out.append(figure)
                print(f"{name:34s} with {figure['with']['ms']:8.2f} ms {figure['with']['indexes']}  "
                      f"without {figure['without']['ms']:8.2f} ms {figure['without']['indexes']}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", required=True, help="a piece of the index definition, or 'secondary'")
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--keep", type=Path, help="keep the loaded database in this folder and reuse it")
    parser.add_argument("--no-plans", action="store_true")
    opts = parser.parse_args()
    figures: dict[str, object] = {"bench": "order_indexes", "index": opts.index, "load_avg_start": os.getloadavg()[0]}
    with contextlib.ExitStack() as stack:
        tmp = opts.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="orderhub-indexes-")))
        hubs = _setup(Path(tmp), opts)
        try:
            hub = hubs["large"]
            bulk_orders(hub, opts.orders, days=30)
            figures["insert_cpu_us_per_row"] = insert_cost(hub, opts.index, opts.rows)
            if not opts.no_plans:
                figures["plans"] = plans(hub, opts.index)
        finally:
            for hub in hubs.values():
                hub.close()
    figures["load_avg_end"] = os.getloadavg()[0]
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
