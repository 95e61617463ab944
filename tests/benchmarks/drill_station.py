"""Station ↔ database fault drills at full size (issue #19): the same drills as tests/sync/test_drill_*.py, more often.

Run: .venv/bin/python tests/benchmarks/drill_station.py [--only lost_ack,lost_ack_each,kills,...] [--quick]
Uses its own stoppable embedded PostgreSQL in a temp folder. Prints one line per drill, then one JSON line (last).
Every drill must end with lost = doubled = out_of_order = divergent = 0.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.chdir(REPO)

import sqlalchemy as sa  # noqa: E402

from app.bootstrap import bootstrap  # noqa: E402
from app.db import migrate  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.sync.cache import Scope  # noqa: E402
from app.sync.station_sync import StationSync  # noqa: E402
from tests.conftest import _add_staff  # noqa: E402
from tests.support.factories import make_order  # noqa: E402
from tests.sync import drills  # noqa: E402
from tests.support.proc_cpu import PgCpu, children_cpu, own_cpu  # noqa: E402
from tests.sync.conftest import OwnPostgres  # noqa: E402
from tests.sync.lost_ack_proxy import LostAckProxy  # noqa: E402
from tests.sync.proxy import LoopbackProxy  # noqa: E402

FULL = {"lost_ack": 500, "lost_ack_each": 500, "kills": 100, "immediate": 20, "terminate": 20, "freeze_s": 30.0, "two_programs": 5,
        "skew_rounds": 20, "offline": 10_000}
QUICK = {"lost_ack": 50, "lost_ack_each": 50, "kills": 5, "immediate": 2, "terminate": 2, "freeze_s": 3.0, "two_programs": 1,
         "skew_rounds": 6, "offline": 300}
_names = itertools.count(1)


class Lab:
    """The stoppable server, a template database, and a fresh database + stations per drill."""

    def __init__(self, root: Path) -> None:
        self.root = root
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.pg = OwnPostgres(root)
        admin = sa.create_engine(self.pg.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE drill_template"))
        admin.dispose()
        engine = sa.create_engine(self.pg.admin_url.set(database="drill_template"), poolclass=sa.pool.NullPool)
        migrate.upgrade(engine)
        _add_staff(engine)
        engine.dispose()
        self.stations: list[StationSync] = []

    def hub(self):  # noqa: ANN201 - the composition root on a fresh database
        if not self.pg.running():
            self.pg.start()
        name = f"drill_{next(_names)}"
        admin = sa.create_engine(self.pg.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE drill_template"))
        admin.dispose()
        url = self.pg.admin_url.set(database=name)
        return bootstrap(Settings(database_url=url.render_as_string(hide_password=False), data_dir=self.root / name,
                                  station_name="中枢"), upgrade=False)

    def station(self, url: sa.URL, folder: str, **options: object) -> StationSync:
        options = {"pull_interval": 0.5, "op_timeout": 3.0, "max_backoff": 0.5} | options
        made = StationSync(url, self.root / folder, Scope("cs"), **options)  # type: ignore[arg-type]
        self.stations.append(made)
        return made

    def close(self) -> None:
        for s in self.stations:
            s.stop()
        if self.pg.running():
            # a server restarted by pg_ctl during the drills is not the one pgserver started: stop it ourselves
            self.pg.stop()
        try:
            self.pg.server.cleanup()
        except Exception:  # noqa: BLE001 - already stopped; the temp folder goes with the TemporaryDirectory
            pass


def run(lab: Lab, which: str, n: dict) -> dict:
    hub = lab.hub()
    placed = [make_order(hub, "paid") for _ in range(20)]
    url = hub.engine.url
    try:
        if which in ("lost_ack", "lost_ack_each"):  # replayed in batches (one lost answer per batch), or one by one
            proxy = LostAckProxy.to(url)
            try:
                batch = {"replay_batch": 1} if which == "lost_ack_each" else {}
                station = lab.station(proxy.url(url), which, min_backoff=0.0, connect_timeout=2, **batch)
                return drills.lost_ack(hub.engine, station, proxy, placed, commands=n[which])
            finally:
                proxy.close()
        if which == "kills":
            return drills.station_kills(url, hub.engine, lab.root / "kills", placed, kills=n["kills"], per_kill=250)
        if which in ("immediate", "terminate", "freeze"):
            station = lab.station(url, which, op_timeout=1.5, connect_timeout=1)
            cycles = 1 if which == "freeze" else n[which]
            hold = n["freeze_s"] if which == "freeze" else 1.0
            return drills.server_faults(lab.pg, hub.engine, station, placed, which, cycles=cycles, per_cycle=150,
                                        offline_writes=50, hold=hold)
        if which == "two_programs":
            rounds = [drills.two_programs(url, hub.engine, lab.root / f"shared{k}", placed[k::n["two_programs"]] or placed,
                                          commands=100, each_adds=10) for k in range(n["two_programs"])]
            last = rounds[-1]
            return {"rounds": len(rounds), "told": last["told"],
                    "always_one_drained": all(r["locked_out_until_holder_died"] and r["holder_named"] for r in rounds),
                    "took_over_max_s": max(r["took_over_s"] for r in rounds),
                    **{k: sum(r[k] for r in rounds) for k in ("lost", "doubled", "out_of_order", "divergent")}}
        if which == "skew":
            return drills.clock_skew(url, hub.engine, lab.root / "skew", placed[0][0], rounds=n["skew_rounds"])
        if which == "offline":
            proxy = LoopbackProxy.to(url)
            try:
                station = lab.station(proxy.url(url), "offline", op_timeout=1.5, connect_timeout=1)
                return drills.long_offline(hub.engine, station, proxy, placed, commands=n["offline"])
            finally:
                proxy.close()
        raise ValueError(which)
    finally:
        for s in lab.stations:
            s.stop()
        lab.stations.clear()
        hub.close()


def main() -> None:
    import logging

    # a connection cut mid-statement makes the pool log its failed reset at length: expected here, not news
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="lost_ack,lost_ack_each,kills,immediate,terminate,freeze,two_programs,skew,offline")
    parser.add_argument("--quick", action="store_true", help="the suite's sizes (a smoke run of the script)")
    opts = parser.parse_args()
    sizes = QUICK if opts.quick else FULL
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="drill-station-") as tmp:
        lab = Lab(Path(tmp))
        try:
            for which in opts.only.split(","):
                started = time.monotonic()
                # CPU per command: this process (stations' workers, proxies, checks), station processes it
                # started and reaped (kills, two programs, skew), PostgreSQL (sampled; restarted servers too)
                pg_cpu = PgCpu(Path(lab.pg.server.pgdata))
                pg_cpu.start()
                mine, children, load_before = own_cpu(), children_cpu(), os.getloadavg()[0]
                try:
                    figures = run(lab, which, sizes)
                except Exception as err:  # noqa: BLE001 - one drill failing must not hide the others' figures
                    figures = {"error": f"{type(err).__name__}: {err}", "lost": None}
                figures["seconds"] = round(time.monotonic() - started, 1)
                per = 1000.0 / max(1, int(figures.get("commands") or figures.get("applied") or 0))
                figures |= {"drill_process_cpu_ms_per_command": round((own_cpu() - mine) * per, 2),
                            "station_processes_cpu_ms_per_command": round((children_cpu() - children) * per, 2),
                            "postgres_cpu_ms_per_command": round(pg_cpu.finish() * per, 2),
                            "load_avg": [round(load_before, 1), round(os.getloadavg()[0], 1)]}
                results[which] = figures
                print(f"{which}: {json.dumps(figures, ensure_ascii=False)}", flush=True)
        finally:
            lab.close()
    clean = all(r.get(k, 0) == 0 for r in results.values() for k in ("lost", "doubled", "out_of_order", "divergent"))
    print(json.dumps({"clean": clean, "load": os.getloadavg()[0], **results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
