"""Drill: the hub's doors under abuse at full counts (issue #19), against a real hub on embedded PostgreSQL.

Run: .venv/bin/python tests/benchmarks/drill_doors.py [--idle 5000] [--declared-mb 500] [--pushes 10000] [--rate 1000]

1. ``--idle`` connections held open (half send part of their headers and trickle one header line
   every few seconds, slowloris); meanwhile 20 real signed POS pushes, one every 100 ms: each must
   answer within 1 s.
2. A request declaring ``--declared-mb`` MB: must be answered 413 from its headers alone.
3. Every malformed request line / header in tests/support/door_abuse.py: must be answered 400.
4. ``--pushes`` signed POS sales offered open-loop at ``--rate`` per second (latency measured from
   when each was due) over 64 kept-alive connections: p50/p99, achieved rate, and every sale
   exactly one order in the database. The load runs in a separate process so the client does not
   share the hub's interpreter lock.

Prints a summary, then one JSON line (last).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

STORE = "POS-DRILL"
SECRET = "drill-secret"


def _load(url: str, bodies: list[bytes], rate: float, out: multiprocessing.Queue) -> None:
    from tests.support import door_abuse

    result = door_abuse.paced_load(url, [door_abuse.signed_push(STORE, SECRET, b) for b in bodies],
                                   rate=rate, connections=64)
    verdicts = [json.loads(b).get("verdict") for b in result.bodies]
    out.put({"latencies": result.latencies, "statuses": result.statuses, "errors": result.errors,
             "seconds": result.seconds, "new": verdicts.count("new")})


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--declared-mb", type=int, default=500)
    parser.add_argument("--pushes", type=int, default=10000)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--workers", type=int, default=64)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * args.idle + 1000  # both ends of every idle socket live in this process
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))

    import sqlalchemy as sa

    from app.bootstrap import bootstrap
    from app.db.models import Order, Shop
    from app.hub.credentials import FileStore
    from app.hub.doors import DoorLimits
    from app.hub.receiver import Receiver, ReceiverServer
    from app.settings import Settings
    from connectors.base import Credentials
    from connectors.simulators.pos import sale_body
    from connectors.simulators.world import SimWorld
    from tests.support import door_abuse

    figures: dict[str, object] = {"idle": args.idle, "declared_mb": args.declared_mb, "pushes": args.pushes,
                                  "rate_offered": args.rate}
    with tempfile.TemporaryDirectory() as folder:
        hub = bootstrap(Settings(data_dir=Path(folder), station_name="drill"))
        store = FileStore(Path(folder) / "secrets.json")
        store.put("pos:drill", Credentials(app_key="till", app_secret=SECRET))
        with hub.uow() as uow:
            uow.session.add(Shop(code=STORE, name="演练门店", platform="pos", credentials_ref="pos:drill"))
            uow.commit()
        receiver = ReceiverServer(Receiver(hub, lambda s, c: None, store),  # type: ignore[arg-type,return-value]
                                  limits=DoorLimits(header_timeout=60, workers=args.workers)).start()
        world = SimWorld("pos", seed=19)

        # 1. slowloris
        started = time.perf_counter()
        crowd = door_abuse.IdleCrowd(receiver.url, args.idle).open()
        opened_s = time.perf_counter() - started
        latencies = []
        for body in (sale_body(o, STORE) for o in world.create(20, status="completed")):
            crowd.trickle()
            result = door_abuse.paced_load(receiver.url, [door_abuse.signed_push(STORE, SECRET, body)], rate=1,
                                           connections=1)
            assert result.statuses == [200], (result.statuses, result.errors)
            latencies.append(result.latencies[0])
            time.sleep(0.1)
        held = crowd.still_open()
        crowd.close()
        figures |= {"idle_opened_s": round(opened_s, 2), "idle_still_held": held,
                    "push_during_idle_max_ms": round(max(latencies), 1),
                    "push_during_idle_p50_ms": round(_pct(latencies, 0.5), 1)}
        print(f"{args.idle} idle/trickling connections held ({held} still open at the end); 20 signed pushes "
              f"meanwhile: p50 {figures['push_during_idle_p50_ms']} ms, max {figures['push_during_idle_max_ms']} ms")

        # 2. huge declared body
        status, seconds = door_abuse.declare_huge_body(receiver.url, args.declared_mb * 1024 * 1024)
        figures |= {"huge_body_status": status, "huge_body_answer_ms": round(seconds * 1000, 1)}
        print(f"{args.declared_mb} MB declared body: {status} in {seconds * 1000:.1f} ms (body never sent)")

        # 3. malformed
        bad = {name: door_abuse.status_of(door_abuse.raw_exchange(receiver.url, data))
               for name, data in door_abuse.MALFORMED.items()}
        figures["malformed_all_400"] = all(s == 400 for s in bad.values())
        print("malformed requests: " + ", ".join(f"{k} → {v}" for k, v in bad.items()))

        # 4. sustained signed pushes
        bodies = [sale_body(o, STORE) for o in world.create(args.pushes, status="completed")]
        with hub.uow() as uow:
            before = uow.session.scalar(sa.select(sa.func.count()).select_from(Order))
        out: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
        loader = multiprocessing.get_context("spawn").Process(target=_load, args=(receiver.url, bodies, args.rate, out))
        loader.start()
        load = out.get()
        loader.join()
        with hub.uow() as uow:
            stored = uow.session.scalar(sa.select(sa.func.count()).select_from(Order)) - before
        ok = load["statuses"].count(200)
        figures |= {"pushes_answered_200": ok, "pushes_wire_errors": len(load["errors"]),
                    "pushes_new_orders": load["new"], "orders_stored": stored,
                    "push_seconds": round(load["seconds"], 2), "push_rate_achieved": round(args.pushes / load["seconds"], 1),
                    "push_p50_ms": round(_pct(load["latencies"], 0.5), 1),
                    "push_p99_ms": round(_pct(load["latencies"], 0.99), 1),
                    "push_max_ms": round(max(load["latencies"]), 1)}
        print(f"{args.pushes} signed pushes offered at {args.rate:.0f}/s: {ok} answered 200, "
              f"{len(load['errors'])} wire errors, achieved {figures['push_rate_achieved']}/s; "
              f"p50 {figures['push_p50_ms']} ms, p99 {figures['push_p99_ms']} ms; {stored} orders stored "
              f"({'none lost, none doubled' if stored == args.pushes == load['new'] else 'MISMATCH'})")
        receiver.stop()
        hub.close()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
