"""Intake figures: simulator → stored orders per second, COPY baseline ratio, and order-appears → in-database latency.

Run: .venv/bin/python tests/benchmarks/bench_ingest.py [--platform douyin|taobao|tmall|pdd|wechat|all] [--orders 5000]
     [--latency-seconds 40] [--gc-default]
     .venv/bin/python tests/benchmarks/bench_ingest.py --hubs 2 [--orders 5000]   (five shops through 1, then 2
     hub processes: orders/s and CPU per order of each hub process, PostgreSQL and the simulators)
Prints a human summary, then one JSON line (last) with every figure: orders/s wall, CPU ms per order of the
hub (this process; and by thread: fetch, store, route), PostgreSQL (every server process) and the simulator
(its own process) apart, and the
load average at the start and end of each run (wall figures on a shared machine mean little without it).
With them, what explains two runs of the same code differing: how long each pipeline thread waited for its
neighbour (``pipeline_waits_s``), the server's checkpoints, WAL volume / full-page images / fsync time,
autovacuum and autoanalyze runs with their workers' CPU, the hub's backends sampled every 50 ms (idle, on CPU,
waiting for a lock or an fsync), every table's rows written, and the hub's GC collections with their pause
and CPU. The hub's collector is set as ``orderhub hub`` sets it (``settle_heap``) unless ``--gc-default``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import subprocess
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "benchmarks"))

from app.bootstrap import bootstrap  # noqa: E402
from app.db.models import Order, Shop  # noqa: E402
from app.db.bulk import copy_rows  # noqa: E402
from app.hub.credentials import FileStore  # noqa: E402
from app.hub.pollers import poll_once, settle_heap  # noqa: E402
from app.hub.registry import connector_for, simulator_module  # noqa: E402
from app.hub.service import Hub  # noqa: E402
from app.services import shop_sync  # noqa: E402
from app.services.ingest import _order_row  # noqa: E402
from app.settings import Settings  # noqa: E402
from connectors.base import Credentials  # noqa: E402
from connectors.simulators.server import SimServer  # noqa: E402
from connectors.simulators.world import SimWorld  # noqa: E402
from pg_cpu import PostgresCpu  # noqa: E402


def setup_shop(app, store, platform: str, world: SimWorld, code: str):
    creds = Credentials(app_key="1234567890123456789", app_secret="bench-secret", access_token="t", refresh_token="r")
    server = SimServer(simulator_module(platform).make_simulator(world, creds).handle).start()
    return server, _shop(app, store, platform, code, server.url, creds)


def throughput(app, store, platform: str, n: int, code: str = "BENCH-T", settle: bool = True) -> dict[str, float]:
    """The platform runs in its own process (as a real platform is not inside the hub's)."""
    load_before = os.getloadavg()[0]
    port = _free_port()
    sim = subprocess.Popen([sys.executable, "-m", "app", "simulate", platform, "--port", str(port), "--rate", "0",
                            "--preload", str(n), "--app-key", "1234567890123456789", "--app-secret", "bench-secret"],
                           cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        sim.stdout.readline()  # "…模拟器已在 http://127.0.0.1:port 运行…"
        creds = Credentials(app_key="1234567890123456789", app_secret="bench-secret", access_token="sim-token")
        config = _shop(app, store, platform, code, f"http://127.0.0.1:{port}", creds)
        connector = connector_for(config, store.get(config.credentials_ref))
        server = ServerActivity(app)
        if settle:  # as the hub process does once it has started (``orderhub hub``)
            settle_heap()
        pauses = GcPauses()
        cpu = CpuMeter(app, sim.pid)
        started = time.perf_counter()
        with pauses, server:  # read the CPU before ``server`` closes the hub's connections (see ServerActivity)
            report = poll_once(app, config, connector)
            took = time.perf_counter() - started
            cpu_ms = cpu.per_order_ms(report.stored)
        load_after = os.getloadavg()[0]
        assert report.error is None, report.error
        assert report.stored == n, f"{report.stored} of {n} orders stored"
        # The physical baseline: the same order rows, normalised once, written by a plain COPY.
        raws = list(connector.changed_orders(datetime.now(UTC) - timedelta(minutes=30), datetime.now(UTC)))
    finally:
        sim.terminate()
        try:
            sim.wait(30)
        except subprocess.TimeoutExpired:  # a loaded machine (or a profiler attached) can be slow to let go
            sim.kill()
            sim.wait()
    rows = [_order_row(config.id, connector.normalise(r), "x" * 64) | {"order_no": f"C{config.id}-{i}", "version": 1,
                                                                        "platform_order_no": f"copy-{i}"}
            for i, r in enumerate(raws)]
    with app.uow() as uow:
        t0 = time.perf_counter()
        copy_rows(uow.session, "orders", rows)
        uow.commit()
        copy_took = time.perf_counter() - t0
    connector.close()
    with app.uow() as uow:  # this shop's simulator is gone: the latency hub must not poll it
        uow.session.execute(sa.update(Shop).where(Shop.id == config.id).values(enabled=False))
        uow.commit()
    return {"orders": report.stored, "seconds": round(took, 3), "orders_per_s": round(report.stored / took, 1),
            # re-listed orders stored at the listed version, spared a detail call (issue #18); 0 here: one
            # first poll lists nothing twice
            "relisted_skipped": report.skipped, "details_fetched": report.payloads,
            "cpu_ms_per_order": cpu_ms,
            "hub_alone_orders_per_cpu_s": round(1000 / cpu_ms["hub"]) if cpu_ms["hub"] else None,
            "cpu_ms_per_order_total": round(sum(cpu_ms.values()), 3),
            # the hub's CPU by thread: fetch (pull, parse, normalise), store (intake), route (routing, not intake)
            "hub_cpu_ms_per_order_by_stage": {k: round(v / max(report.stored, 1) * 1000, 3) for k, v in report.cpu_s.items()},
            "hub_intake_cpu_ms_per_order": round((report.cpu_s["fetch"] + report.cpu_s["store"]) / max(report.stored, 1) * 1000, 3),
            # why two runs of the same code differ: what the pipeline's threads waited for, the server's
            # checkpoints / WAL / autovacuum during the run, and the hub's GC pauses
            "pipeline_waits_s": {k: round(v, 3) for k, v in report.waits_s.items()},
            "server_during_run": server.figures, "gc_during_run": pauses.figures(),
            "copy_seconds": round(copy_took, 3), "copy_orders_per_s": round(len(rows) / copy_took, 1),
            "ratio_ingest_to_copy_time": round(took / copy_took, 1),
            "load_avg_1m_start": round(load_before, 2), "load_avg_1m_end": round(load_after, 2)}


class CpuMeter:
    """CPU seconds of the hub (this process, every thread), the simulator's process and the PostgreSQL server.

    On a shared machine the wall-clock rate says how much CPU the run got as much as how fast the
    code is; CPU per order says what each party costs, whatever the load.
    """

    def __init__(self, app, sim_pid: int) -> None:
        self.server = PostgresCpu(app.engine)
        self.hub, self.sim = psutil.Process(), psutil.Process(sim_pid)
        self.start = self._now()

    def _postgres(self) -> float:
        return self.server.seconds()

    def _now(self) -> dict[str, float]:
        hub, sim = self.hub.cpu_times(), self.sim.cpu_times()
        return {"hub": hub.user + hub.system, "simulator": sim.user + sim.system, "postgres": self._postgres()}

    def per_order_ms(self, orders: int) -> dict[str, float]:
        end = self._now()
        return {k: round((end[k] - self.start[k]) / max(orders, 1) * 1000, 3) for k in end}


# The server's side of a run, as deltas of its statistics views (PostgreSQL 17+ has pg_stat_checkpointer;
# the embedded server is 18). WAL I/O timing is switched on for the bench's own throwaway server. Tables:
# every one the run wrote to.
_SNAPSHOT = {
    "checkpoints": "SELECT num_timed + num_requested, num_requested, buffers_written, write_time + sync_time"
                   " FROM pg_stat_checkpointer",
    "wal": "SELECT wal_records, wal_fpi, wal_bytes, wal_buffers_full FROM pg_stat_wal",
    "wal_io": "SELECT coalesce(sum(writes), 0), coalesce(sum(fsyncs), 0), coalesce(sum(write_time), 0),"
              " coalesce(sum(fsync_time), 0) FROM pg_stat_io WHERE object = 'wal'",
    "commits": "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
}


class ServerActivity:
    """What PostgreSQL did besides our statements while a run lasted: checkpoints (timed or forced by WAL
    volume) and the buffers they wrote, WAL volume and full-page images (which follow a checkpoint), time
    spent writing/fsyncing WAL (commit waits: wall time, no CPU), and autovacuum / autoanalyze of the
    growing tables, with the autovacuum workers' CPU (a share of PostgreSQL's CPU per order)."""

    def __init__(self, app) -> None:
        self.app = app
        self.figures: dict = {}
        self._stop = threading.Event()
        self._workers: dict[int, tuple[str, float]] = {}
        self._states: dict[str, int] = {}  # the hub's backends sampled every 50 ms: idle, on CPU, or what they wait for
        self._statements: dict[str, int] = {}  # the same samples of busy backends, by the statement running
        with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ALTER SYSTEM SET track_wal_io_timing = on"))
            conn.execute(sa.text("SELECT pg_reload_conf()"))
            self.settings = dict(conn.execute(sa.text(
                "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN ('shared_buffers', 'wal_buffers',"
                " 'max_wal_size', 'checkpoint_timeout', 'synchronous_commit', 'autovacuum_naptime',"
                " 'autovacuum_vacuum_insert_threshold', 'autovacuum_analyze_threshold', 'jit')")).all())

    def _snapshot(self) -> dict:
        with self.app.engine.connect() as conn:
            snap = {k: [float(x) for x in conn.execute(sa.text(q)).one()] for k, q in _SNAPSHOT.items()}
            snap["tables"] = {r[0]: r[1:] for r in conn.execute(sa.text(
                "SELECT relname, autovacuum_count, autoanalyze_count, n_tup_ins, n_tup_upd, n_tup_hot_upd, seq_tup_read,"
                " coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables"))}
        return snap

    def _watch(self) -> None:
        """Autovacuum workers come and go within a run: sample them to name their tables and add up their CPU."""
        with self.app.engine.connect() as conn:
            while not self._stop.wait(0.05):
                for pid, kind, query, waiting in conn.execute(sa.text(
                        "SELECT pid, backend_type, query, CASE WHEN state = 'active' THEN coalesce("
                        "wait_event_type || ':' || wait_event, 'on CPU') ELSE 'idle' END FROM pg_stat_activity"
                        " WHERE pid <> pg_backend_pid() AND (backend_type = 'autovacuum worker'"
                        " OR (backend_type = 'client backend' AND datname = current_database()))")):
                    if kind == "client backend":
                        self._states[waiting] = self._states.get(waiting, 0) + 1
                        if waiting != "idle":
                            head = " ".join(query.split()[:3])  # e.g. "COPY orders (platform,", "INSERT INTO raw_payloads"
                            self._statements[head] = self._statements.get(head, 0) + 1
                        continue
                    try:
                        t = psutil.Process(pid).cpu_times()
                        self._workers[pid] = (query, t.user + t.system)
                    except psutil.NoSuchProcess:
                        pass
                conn.rollback()

    def _flushed(self) -> None:
        """A backend reports its table counts at most once a second, an idle one within 10 s, but always when
        it exits: close the hub's pooled connections and wait (bounded) until their backends are gone."""
        self.app.engine.dispose()
        deadline = time.monotonic() + 15
        with self.app.engine.connect() as conn:
            while time.monotonic() < deadline and conn.scalar(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND backend_type = 'client backend' AND pid <> pg_backend_pid()")):
                conn.rollback()  # a new snapshot of pg_stat_activity on the next look
                time.sleep(0.05)

    def __enter__(self) -> ServerActivity:
        self.before = self._snapshot()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._flushed()
        after, before = self._snapshot(), self.before
        d = {k: [round(a - b, 1) for a, b in zip(after[k], before[k])] for k in _SNAPSHOT}
        tables = {}
        for name, row in after["tables"].items():
            old = before["tables"].get(name, (0,) * len(row))
            av, aa, ins, upd, hot, seq_read, idx_fetched = (a - b for a, b in zip(row, old))
            if av or aa or ins or upd:
                # rows read: a plan that reads every order of a shop per payload shows here (issue #18)
                tables[name] = {"autovacuum": av, "autoanalyze": aa, "inserted": ins, "updated": upd, "hot_updated": hot,
                                "rows_read_seq": seq_read, "rows_fetched_by_index": idx_fetched}
        self.figures = {
            "settings": self.settings,
            "checkpoints": d["checkpoints"][0], "checkpoints_requested": d["checkpoints"][1],
            "checkpoint_buffers_written": d["checkpoints"][2], "checkpoint_ms": d["checkpoints"][3],
            "wal_records": d["wal"][0], "wal_full_page_images": d["wal"][1], "wal_mb": round(d["wal"][2] / 1e6, 1),
            "wal_buffers_full": d["wal"][3],
            "wal_writes": d["wal_io"][0], "wal_fsyncs": d["wal_io"][1], "wal_write_ms": d["wal_io"][2],
            "wal_fsync_ms": d["wal_io"][3], "commits": d["commits"][0],
            "autovacuum_workers": sorted({q for q, _ in self._workers.values() if q}),
            "autovacuum_worker_cpu_s_seen": round(sum(c for _, c in self._workers.values()), 3),
            "tables": tables,
            # e.g. Lock:transactionid = one of the hub's transactions waiting for another's commit (intake and
            # routing both upsert the same health_rollup rows), IO:WalSync = a commit's fsync
            "hub_backend_samples": dict(sorted(self._states.items(), key=lambda kv: -kv[1])),
            # which statements PostgreSQL was busy with for the hub (on CPU or waiting): where its time per order goes
            "hub_backend_statements": dict(sorted(self._statements.items(), key=lambda kv: -kv[1])[:10]),
        }


class GcPauses:
    """The hub's garbage collections during the run (every thread stops for them): count by generation, the
    wall time they held every thread, and their CPU (the collecting thread's, all of it GC: it holds the GIL)."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.seconds = self.cpu_seconds = 0.0
        self._began = self._began_cpu = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._began, self._began_cpu = time.perf_counter(), time.thread_time()
        else:
            self.counts[info["generation"]] += 1
            self.seconds += time.perf_counter() - self._began
            self.cpu_seconds += time.thread_time() - self._began_cpu

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self._callback)

    def figures(self) -> dict:
        return {"collections_by_generation": self.counts, "pause_ms": round(self.seconds * 1000, 1),
                "cpu_ms": round(self.cpu_seconds * 1000, 1),
                "frozen_objects": gc.get_freeze_count()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _shop(app, store, platform: str, code: str, url: str, creds: Credentials):
    ref = f"orderhub:shop:{code}"
    store.put(ref, creds)
    with app.uow() as uow:
        uow.session.add(Shop(code=code, name=f"压测店铺{code}", platform=platform, api_base_url=url,
                             credentials_ref=ref, platform_shop_id="77001", poll_interval_s=15))
        uow.commit()
    return next(s for s in shop_sync.enabled_shops(app.uow()) if s.code == code)


def latency(app, store, platform: str, seconds: float, poll_interval: float) -> dict[str, float]:
    world = SimWorld(platform, seed=6)
    server, config = setup_shop(app, store, platform, world, "BENCH-L")
    hub = Hub(app, connector_for, store, poll_interval=poll_interval, claim_interval=1.0).start()
    appeared: dict[str, float] = {}
    stop = threading.Event()

    def place() -> None:
        while not stop.wait(0.7):
            for o in world.create(1):
                appeared[o.order_id] = time.time()

    placer = threading.Thread(target=place, daemon=True)
    placer.start()
    arrived: dict[str, float] = {}
    deadline = time.time() + seconds
    while time.time() < deadline + poll_interval + 3:
        if time.time() > deadline:
            stop.set()
        with app.uow() as uow:
            for (no,) in uow.session.execute(sa.select(Order.platform_order_no).where(Order.shop_id == config.id)):
                arrived.setdefault(no, time.time())
        if stop.is_set() and set(appeared) <= set(arrived):
            break
        time.sleep(0.05)
    hub.stop()
    server.stop()
    waits = sorted(arrived[k] - appeared[k] for k in appeared if k in arrived)
    return {"orders": len(appeared), "arrived": len(waits), "poll_interval_s": poll_interval,
            "p50_s": round(statistics.median(waits), 2), "max_s": round(waits[-1], 2),
            "target_s": poll_interval + 1}


# One hub process for the multi-hub mode: as ``orderhub hub`` starts its Hub (settle_heap after start-up), without the
# other workers, so its CPU is intake's. argv: database url, data dir, credential file, hub id, poll interval.
_HUB_PROCESS = """
import sys, threading
from pathlib import Path
from app.bootstrap import bootstrap
from app.settings import Settings
from app.hub.credentials import FileStore
from app.hub.pollers import settle_heap
from app.hub.registry import connector_for
from app.hub.service import Hub
app = bootstrap(Settings(database_url=sys.argv[1], data_dir=Path(sys.argv[2])), upgrade=False)
settle_heap()
Hub(app, connector_for, FileStore(Path(sys.argv[3])), hub_id=sys.argv[4], claim_interval=0.5,
    poll_interval=float(sys.argv[5])).start()
threading.Event().wait()
"""
MULTI_PLATFORMS = ["douyin", "taobao", "pdd", "wechat", "douyin"]  # five shops; 拼多多's preload is older than its lag


def multi_hub(app, store, data_dir: Path, hubs: int, per_shop: int, run: str) -> dict:
    """Five shops (their simulators preloaded, each in its own process) drained by ``hubs`` hub processes.

    The shops are enabled only once every hub has announced itself (app/hub/service.py ``HUB_NAMESPACE``), so
    each claims its share from the start; the clock and every process's CPU run from that moment until every
    order is stored. Per hub: the orders of the shops it polled (``shop_sync_state.owner_hub``) and its CPU.
    """
    from app.hub.service import HUB_NAMESPACE

    load_before = os.getloadavg()[0]
    url = app.engine.url.render_as_string(hide_password=False)
    sims, shops, procs = [], [], {}
    try:
        for i, platform in enumerate(MULTI_PLATFORMS):
            port = _free_port()
            sims.append(subprocess.Popen(
                [sys.executable, "-m", "app", "simulate", platform, "--port", str(port), "--rate", "0", "--preload",
                 str(per_shop), "--app-key", "1234567890123456789", "--app-secret", "bench-secret"],
                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
            sims[-1].stdout.readline()
            creds = Credentials(app_key="1234567890123456789", app_secret="bench-secret", access_token="sim-token")
            shops.append(_shop(app, store, platform, f"BENCH-{run}-{i}", f"http://127.0.0.1:{port}", creds).id)
        with app.uow() as uow:  # not yet: every hub announced first
            uow.session.execute(sa.update(Shop).where(Shop.id.in_(shops)).values(enabled=False))
            uow.commit()
        for h in range(hubs):
            name = f"bench-{run}-hub{h}"
            folder = data_dir / name
            folder.mkdir(parents=True, exist_ok=True)
            procs[name] = subprocess.Popen([sys.executable, "-c", _HUB_PROCESS, url, str(folder), str(store.path),
                                            name, "1.0"], cwd=REPO, env=os.environ | {"PYTHONPATH": str(REPO)},
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seen = sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2"
                       " AND classid = :ns AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        deadline = time.monotonic() + 120
        with app.engine.connect() as conn:
            while conn.scalar(seen, {"ns": HUB_NAMESPACE}) < hubs:
                conn.rollback()
                assert time.monotonic() < deadline and all(p.poll() is None for p in procs.values()), "hubs did not start"
                time.sleep(0.1)
        meter = CpuMeter(app, sims[0].pid)  # PostgreSQL's CPU (every server process)
        hub_ps = {name: psutil.Process(p.pid) for name, p in procs.items()}
        sim_ps = [psutil.Process(p.pid) for p in sims]

        def cpu() -> dict:
            return {"postgres": meter._postgres(),
                    "simulators": sum(p.cpu_times().user + p.cpu_times().system for p in sim_ps),
                    **{n: p.cpu_times().user + p.cpu_times().system for n, p in hub_ps.items()}}

        before = cpu()
        started = time.perf_counter()
        with app.uow() as uow:
            uow.session.execute(sa.update(Shop).where(Shop.id.in_(shops)).values(enabled=True))
            uow.commit()
        total = per_shop * len(shops)
        count = sa.select(sa.func.count()).select_from(Order).where(Order.shop_id.in_(shops))
        deadline = time.monotonic() + 600
        with app.engine.connect() as conn:
            while (stored := conn.scalar(count)) < total and time.monotonic() < deadline:
                conn.rollback()
                time.sleep(0.1)
        took = time.perf_counter() - started
        after = cpu()
        load_after = os.getloadavg()[0]
        with app.engine.connect() as conn:
            by_hub = dict(conn.execute(sa.text(
                "SELECT s.owner_hub, count(o.id) FROM orders o JOIN shop_sync_state s ON s.shop_id = o.shop_id"
                " WHERE o.shop_id = ANY(:shops) GROUP BY s.owner_hub"), {"shops": shops}).all())
            shops_by_hub = dict(conn.execute(sa.text(
                "SELECT owner_hub, count(*) FROM shop_sync_state WHERE shop_id = ANY(:shops) GROUP BY owner_hub"),
                {"shops": shops}).all())
            distinct = conn.scalar(sa.select(sa.func.count(sa.distinct(sa.tuple_(Order.shop_id, Order.platform_order_no))))
                                   .where(Order.shop_id.in_(shops)))
    finally:
        for p in list(procs.values()) + sims:
            p.terminate()
        for p in list(procs.values()) + sims:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        with app.uow() as uow:  # their simulators are gone: no later run's hub may poll them
            uow.session.execute(sa.update(Shop).where(Shop.id.in_(shops)).values(enabled=False))
            uow.commit()
    assert stored == distinct == total, f"{stored} stored, {distinct} distinct, of {total}"
    spent = {k: after[k] - before[k] for k in after}
    hubs_fig = {n: {"shops": shops_by_hub.get(n, 0), "orders": by_hub.get(n, 0), "cpu_s": round(spent[n], 2),
                    "cpu_ms_per_order": round(spent[n] / by_hub[n] * 1000, 3) if by_hub.get(n) else None}
                for n in hub_ps}
    return {"hub_processes": hubs, "shops": len(shops), "orders": total, "seconds": round(took, 2),
            "orders_per_s": round(total / took, 1), "hubs": hubs_fig,
            "cpu_ms_per_order_all_hubs": round(sum(spent[n] for n in hub_ps) / total * 1000, 3),
            "cpu_ms_per_order_postgres": round(spent["postgres"] / total * 1000, 3),
            "cpu_ms_per_order_simulators": round(spent["simulators"] / total * 1000, 3),
            # the hubs' own limit, were each to have a core: the busiest hub's CPU seconds bound the wall time
            "hub_bound_orders_per_s": round(total / max(spent[n] for n in hub_ps), 1),
            # CPU seconds of every process measured per wall second: near the machine's cores = the box is the limit
            "cores_busy": round(sum(spent.values()) / took, 2), "cores": os.cpu_count(),
            "load_avg_1m_start": round(load_before, 2), "load_avg_1m_end": round(load_after, 2)}


def main_multi_hub(args) -> None:
    """``--hubs N``: the same five-shop intake through 1, then 2 … N hub processes (one interpreter each)."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="orderhub-ingest-") as tmp:
        app = bootstrap(Settings(data_dir=Path(tmp)))
        store = FileStore(Path(tmp) / "secrets.json")
        try:
            for hubs in range(1, args.hubs + 1):
                r = multi_hub(app, store, Path(tmp), hubs, args.orders // len(MULTI_PLATFORMS), f"H{hubs}")
                runs.append(r)
                per_hub = ", ".join(f"{n}: {h['shops']} shops {h['orders']} orders {h['cpu_ms_per_order']} ms/order"
                                    for n, h in r["hubs"].items())
                print(f"{hubs} hub process(es), {r['shops']} shops: {r['orders']} orders in {r['seconds']} s = "
                      f"{r['orders_per_s']} orders/s (load {r['load_avg_1m_start']}→{r['load_avg_1m_end']}); "
                      f"CPU per order: hubs {r['cpu_ms_per_order_all_hubs']} ms ({per_hub}), PostgreSQL "
                      f"{r['cpu_ms_per_order_postgres']} ms, simulators {r['cpu_ms_per_order_simulators']} ms; "
                      f"the hubs alone would allow {r['hub_bound_orders_per_s']} orders/s with a core each; "
                      f"{r['cores_busy']} of {r['cores']} cores busy with these processes")
        finally:
            app.close()
    print(json.dumps({"mode": "multi-hub", "platforms": MULTI_PLATFORMS, "orders": args.orders, "runs": runs,
                      "load_avg_1m": os.getloadavg()[0], "measured_at": datetime.now(UTC).isoformat(timespec="seconds")},
                     ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--platform", default="douyin", help="douyin, taobao, tmall, pdd, wechat or all")
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--latency-seconds", type=float, default=40)
    parser.add_argument("--poll-interval", type=float, default=15)
    parser.add_argument("--gc-default", action="store_true",
                        help="leave the collector as Python starts it (A/B against the hub's settle_heap)")
    parser.add_argument("--hubs", type=int, default=0,
                        help="N ≥ 1: five shops (--orders in all) through 1, 2 … N hub processes, and nothing else")
    args = parser.parse_args()
    if args.hubs:
        return main_multi_hub(args)
    platforms = ["douyin", "taobao", "pdd", "wechat"] if args.platform == "all" else [args.platform]
    runs: dict[str, dict] = {}
    lat = None
    with tempfile.TemporaryDirectory(prefix="orderhub-ingest-") as tmp:
        app = bootstrap(Settings(data_dir=Path(tmp)))
        store = FileStore(Path(tmp) / "secrets.json")
        try:
            for platform in platforms:
                t = runs[platform] = throughput(app, store, platform, args.orders, f"BENCH-T-{platform}",
                                               settle=not args.gc_default)
                print(f"{platform}: {t['orders']} orders simulator → database in {t['seconds']} s = "
                      f"{t['orders_per_s']} orders/s (load {t['load_avg_1m_start']}→{t['load_avg_1m_end']}); plain COPY "
                      f"of the same rows {t['copy_orders_per_s']} rows/s; ingest takes {t['ratio_ingest_to_copy_time']}× "
                      f"the COPY time")
                c = t["cpu_ms_per_order"]
                print(f"  CPU per order: hub {c['hub']} ms (≈{t['hub_alone_orders_per_cpu_s']} orders per CPU-second), "
                      f"PostgreSQL {c['postgres']} ms, simulator {c['simulator']} ms; total {t['cpu_ms_per_order_total']} ms")
                st = t["hub_cpu_ms_per_order_by_stage"]
                print(f"  hub threads: fetch {st['fetch']} ms + store {st['store']} ms (intake {t['hub_intake_cpu_ms_per_order']} ms)"
                      f", route {st['route']} ms per order")
                w, sv, g = t["pipeline_waits_s"], t["server_during_run"], t["gc_during_run"]
                print(f"  pipeline waits (s): store waited for fetch {w['store_for_fetch']}, for route {w['store_for_route']}; "
                      f"fetch waited for store {w['fetch_for_store']}; route idle {w['route_for_store']}")
                print(f"  server during the run: {sv['checkpoints']} checkpoints ({sv['checkpoint_buffers_written']} buffers, "
                      f"{sv['checkpoint_ms']} ms), WAL {sv['wal_mb']} MB ({sv['wal_full_page_images']} full-page images), "
                      f"{sv['commits']} commits, WAL fsync {sv['wal_fsync_ms']} ms; autovacuum/analyze: "
                      f"{ {k: (v['autovacuum'], v['autoanalyze']) for k, v in sv['tables'].items() if v['autovacuum'] or v['autoanalyze']} }"
                      f" workers' CPU {sv['autovacuum_worker_cpu_s_seen']} s; the hub's backends sampled: "
                      f"{sv['hub_backend_samples']}, busy with {sv['hub_backend_statements']}; hub GC {g['collections_by_generation']} "
                      f"collections, {g['pause_ms']} ms ({g['cpu_ms']} ms CPU)")
            lat = latency(app, store, platforms[0], args.latency_seconds, args.poll_interval) \
                if args.latency_seconds > 0 else None
            if lat:
                print(f"order appears in the simulator → in the database: p50 {lat['p50_s']} s, max {lat['max_s']} s "
                      f"({lat['arrived']}/{lat['orders']} orders, poll interval {lat['poll_interval_s']} s)")
        finally:
            app.close()
    figures = {"platform": args.platform, "orders": args.orders, "load_avg_1m": os.getloadavg()[0],
               "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    if len(platforms) == 1:
        figures["throughput"] = runs[platforms[0]]
    else:
        figures["throughput_by_platform"] = runs
    print(json.dumps(figures | {"latency": lat}, ensure_ascii=False))


if __name__ == "__main__":
    main()
