"""Drill: 8 concurrent writers × 1,000 audit records make one linear chain; SHA-256 then SM3 (issue #19).

Run: .venv/bin/python tests/benchmarks/drill_audit_chain.py [--writers 8] [--records 1000] [--alg sha256|sm3|both]

Each writer is a thread with its own transactions, one record per transaction, as services write
them. Afterwards the chain is verified in Python and checked for forks (two records sharing a
predecessor) and for ids out of chain order. Embedded PostgreSQL in a temporary folder. Prints a
summary, then one JSON line (last).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--alg", choices=("sha256", "sm3", "both"), default="both")
    args = parser.parse_args()

    import sqlalchemy as sa

    from app.bootstrap import bootstrap
    from app.domain.actor import Actor
    from app.services import audit
    from app.settings import Settings
    from tests.support.proc_cpu import PgCpu, own_cpu

    figures: dict[str, object] = {"writers": args.writers, "records_per_writer": args.records}
    for alg in (("sha256", "sm3") if args.alg == "both" else (args.alg,)):
        with tempfile.TemporaryDirectory() as folder:
            hub = bootstrap(Settings(data_dir=Path(folder), station_name="drill"))
            with hub.engine.begin() as conn:
                conn.execute(sa.text("UPDATE audit_settings SET hash_alg = :a"), {"a": alg})
            errors: list[BaseException] = []

            def writer(k: int) -> None:
                actor = Actor(f"writer{k}", "演练工作台", "10.0.0.9")
                try:
                    for i in range(args.records):
                        with hub.uow() as uow:
                            audit.record(uow.session, actor, "order.cancel", "order", f"OH{k}-{i}", basis=f"依据 {i}",
                                         before={"status": "paid"}, after={"status": "cancelled", "n": i})
                            uow.commit()
                except BaseException as err:  # noqa: BLE001 - counted below
                    errors.append(err)

            pg_cpu = PgCpu(hub.target.pgdata)
            pg_cpu.start()
            mine = own_cpu()
            started = time.perf_counter()
            threads = [threading.Thread(target=writer, args=(k,)) for k in range(args.writers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            write_s = time.perf_counter() - started
            writers_cpu, postgres_cpu, load = own_cpu() - mine, pg_cpu.finish(), os.getloadavg()[0]
            started = time.perf_counter()
            verdict = audit.verify(hub.uow())
            verify_s = time.perf_counter() - started
            with hub.engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT id, prev_hash, hash, hash_alg FROM audit_log ORDER BY id")).all()
            hub.close()
        total = args.writers * args.records
        linear = [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]] and len({r.prev_hash for r in rows}) == len(rows)
        figures[alg] = {"records": len(rows), "expected": total, "errors": len(errors), "chain_ok": verdict.ok,
                        "linear_no_fork": linear, "all_this_alg": {r.hash_alg for r in rows} == {alg},
                        "write_s": round(write_s, 2), "records_per_s": round(len(rows) / write_s, 1),
                        "verify_s": round(verify_s, 2),
                        "writers_cpu_ms_per_record": round(1000 * writers_cpu / max(1, len(rows)), 3),
                        "postgres_cpu_ms_per_record": round(1000 * postgres_cpu / max(1, len(rows)), 3),
                        "load_avg": round(load, 1)}
        print(f"{alg}: {len(rows)}/{total} records from {args.writers} writers in {write_s:.1f} s "
              f"({figures[alg]['records_per_s']}/s at load {load:.1f}), {len(errors)} errors; chain "
              f"{'intact and linear' if verdict.ok and linear else 'BROKEN'}; verified in {verify_s:.2f} s")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
