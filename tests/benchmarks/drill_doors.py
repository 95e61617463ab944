"""Drill: the hub's doors under abuse at full counts (issue #19), against a real hub on embedded PostgreSQL.

Run: .venv/bin/python tests/benchmarks/drill_doors.py [--idle 5000] [--declared-mb 500] [--pushes 10000]
     [--rate 1000] [--kind pos,push] [--connections 64] [--clients 2]

1. ``--idle`` connections held open (half send part of their headers and trickle one header line
   every few seconds, slowloris); meanwhile 20 real signed POS pushes, one every 100 ms: each must
   answer within 1 s.
2. A request declaring ``--declared-mb`` MB: must be answered 413 from its headers alone.
3. Every malformed request line / header in tests/support/door_abuse.py: must be answered 400.
4. For each ``--kind``: ``--pushes`` signed pushes offered open-loop at ``--rate`` per second
   (latency measured from when each was due) over ``--connections`` kept-alive connections:
   p50/p95/p99/max, achieved rate, and every push exactly one order in the database.
   ``pos``: store sales (``/pos/<store>``), each stored as received and answered; the inbox worker then
   creates their orders (the sale received → order created latency and the drain after the last answer
   are reported like a push's detail). ``push``: 抖店 order messages (``/push/<shop>``), each
   stored in the push inbox and answered; the inbox worker then fetches each order's detail from the
   抖店 simulator, which runs in its own process as a platform does. Besides the answer latency, the
   push → detail-stored latency (the message's received → done, from the database) and how long the
   inbox took to drain after the last answer. The load runs in ``--clients`` processes of its own
   (so the client neither shares the hub's interpreter lock nor is the limit), and every party's CPU
   per push is reported: the hub (this process: the doors), its inbox worker (a process of its own,
   both measured until the inbox is drained), PostgreSQL (the server and its backends; of which the
   inbox worker's sessions apart), the clients and the simulator, with the load average. ``--door-processes``
   (default: the hub's setting, 2 on 2 or more cores): the hub's extra door processes' CPU is listed apart
   (``extra_door_processes``) and summed with this process's (``hub_and_extra_doors``).

Prints a summary, then one JSON line (last).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

STORE = "POS-DRILL"
SHOP = "DY-DRILL"
SECRET = "drill-secret"
SPAWN = multiprocessing.get_context("spawn")


def _load(url: str, requests: list[bytes], rate: float, connections: int, go, out) -> None:
    """The load generator's process: waits for ``go``, offers the requests, reports latencies and its own CPU."""
    from tests.support import door_abuse

    go.wait()
    before = resource.getrusage(resource.RUSAGE_SELF)
    result = door_abuse.paced_load(url, requests, rate=rate, connections=connections)
    after = resource.getrusage(resource.RUSAGE_SELF)
    out.put({"latencies": result.latencies, "statuses": result.statuses, "errors": result.errors,
             "seconds": result.seconds, "bodies": result.bodies,
             "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)})


def _platform(n: int, out, stop) -> None:
    """The 抖店 simulator's process: ``n`` new orders, a signed push for each; serves detail queries until ``stop``."""
    from app.hub.registry import simulator_module
    from connectors.simulators.server import SimServer
    from connectors.simulators.world import SimWorld

    world = SimWorld("douyin", seed=19)
    sim = simulator_module("douyin").make_simulator(world, _platform_credentials())
    server = SimServer(sim.handle).start()
    orders = world.create(n, at=world.now() - timedelta(minutes=5))
    out.put((server.url, [sim.push_message("address_changed", o) for o in orders]))
    stop.wait()
    server.stop()


def _platform_credentials():
    from connectors.base import Credentials

    return Credentials(app_key="1234567890123456789", app_secret=SECRET, access_token="drill-token")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def _cpu(process: psutil.Process) -> float:
    t = process.cpu_times()
    return t.user + t.system


def sustained(hub, receiver_url: str, kind: str, requests: list[bytes], args, sim: psutil.Process | None,
              worker: psutil.Process | None = None, held=None, doors: list[psutil.Process] | None = None) -> dict:
    """Offer ``requests`` at the drill's rate; figures for one kind of push (see the module docstring)."""
    import sqlalchemy as sa

    from app.db.models import InboundMessage, Order
    from app.services import push_inbox
    from tests.benchmarks.bench_ingest import CpuMeter

    def counts() -> tuple[int, int]:
        with hub.uow() as uow:
            return (uow.session.scalar(sa.select(sa.func.count()).select_from(Order)),
                    uow.session.scalar(sa.select(sa.func.count()).select_from(InboundMessage)))

    orders_before, messages_before = counts()
    first_message = _last_message_id(hub)
    first_payload = _last_payload_id(hub)
    # Several client processes, each offering every k-th request at rate/k over its share of connections,
    # so the client is never the limit (its CPU is reported; each process reports its own).
    k = max(1, args.clients)
    go, out = SPAWN.Event(), SPAWN.Queue()
    loaders = [SPAWN.Process(target=_load, args=(receiver_url, requests[i::k], args.rate / k,
                                                  max(1, args.connections // k), go, out)) for i in range(k)]
    for loader in loaders:
        loader.start()
    meter = CpuMeter(hub, os.getpid())  # the hub (this process) and PostgreSQL; the clients count their own
    sim_before = _cpu(sim) if sim is not None else 0.0
    doors = doors or []  # the hub's extra door processes (``--door-processes``), counted apart from this one
    doors_before = sum(_cpu(d) for d in doors)
    worker_before = _cpu(worker) if worker is not None else 0.0
    backends_before = _worker_backends(hub) if worker is not None else {}
    load_before = os.getloadavg()[0]
    go.set()
    parts = [out.get() for _ in loaders]
    for loader in loaders:
        loader.join()
    load = {"latencies": [x for p in parts for x in p["latencies"]], "statuses": [x for p in parts for x in p["statuses"]],
            "errors": [x for p in parts for x in p["errors"]], "bodies": [x for p in parts for x in p["bodies"]],
            "seconds": max(p["seconds"] for p in parts), "cpu_s": sum(p["cpu_s"] for p in parts)}
    answered_at = time.perf_counter()
    # What the inbox worker and its sessions took while the doors were answering (the rest is the drain after).
    worker_answering = _cpu(worker) - worker_before if worker is not None else 0.0
    backends_answering = (sum(c - backends_before.get(pid, 0.0) for pid, c in _worker_backends(hub).items())
                          if worker is not None else 0.0)
    stored_lag = None
    if held is not None:  # --hold-worker: the worker starts only now (the doors measured alone)
        worker = psutil.Process(held.start().pid)
    if kind == "push":  # the answers are in; now the inbox worker fetches and stores the details
        stored_lag = _drained(hub, "push", first_message, len(requests), timeout=max(60.0, len(requests) / 50))
    elif worker is not None:  # the sales are stored; now the inbox worker creates their orders
        stored_lag = _drained(hub, "pos", first_payload, len(requests), timeout=max(60.0, len(requests) / 50))
    drain_s = time.perf_counter() - answered_at
    cpu = meter.per_order_ms(len(requests))
    doors_cpu = sum(_cpu(d) for d in doors) - doors_before
    worker_cpu = _cpu(worker) - worker_before if worker is not None else 0.0
    backends_after = _worker_backends(hub) if worker is not None else {}
    backends_cpu = sum(cpu_s - backends_before.get(pid, 0.0) for pid, cpu_s in backends_after.items())
    load_after = os.getloadavg()[0]
    time.sleep(0.5)  # routing after the last group has finished
    orders_after, messages_after = counts()
    n, ok = len(requests), load["statuses"].count(200)
    stored = orders_after - orders_before
    figures = {
        "sent": n, "answered_200": ok, "wire_errors": len(load["errors"]),
        "orders_stored": stored, "messages_recorded": messages_after - messages_before,
        "seconds": round(load["seconds"], 2), "rate_achieved": round(n / load["seconds"], 1),
        "p50_ms": round(_pct(load["latencies"], 0.5), 1), "p95_ms": round(_pct(load["latencies"], 0.95), 1),
        "p99_ms": round(_pct(load["latencies"], 0.99), 1), "max_ms": round(max(load["latencies"]), 1),
        "cpu_ms_per_push": {"hub": cpu["hub"], "postgres": cpu["postgres"],
                            **({"extra_door_processes": round(doors_cpu / n * 1000, 3),
                                "hub_and_extra_doors": round(cpu["hub"] + doors_cpu / n * 1000, 3)} if doors else {}),
                            **({"inbox_worker": round(worker_cpu / n * 1000, 3),
                                "postgres_of_which_inbox_worker": round(backends_cpu / n * 1000, 3),
                                "inbox_worker_while_answering": round(worker_answering / n * 1000, 3),
                                "its_postgres_while_answering": round(backends_answering / n * 1000, 3)}
                               if worker else {}),
                            "client": round(load["cpu_s"] / n * 1000, 3),
                            **({"simulator": round((_cpu(sim) - sim_before) / n * 1000, 3)} if sim else {})},
        "load_avg_1m": [round(load_before, 2), round(load_after, 2)], "clients": k, "door_processes": 1 + len(doors),
    }
    # push → its order's detail stored, sale → its order created (the inbox worker), apart from the answer
    done = "detail_stored" if kind == "push" else "order_created"
    if stored_lag is not None:
        figures |= {f"{done}_p50_ms": round(_pct(stored_lag, 0.5), 1),
                    f"{done}_p99_ms": round(_pct(stored_lag, 0.99), 1),
                    f"{done}_max_ms": round(max(stored_lag, default=float("nan")), 1),
                    "inbox_drained_s_after_last_answer": round(drain_s, 2),
                    "inbox_pending_after": push_inbox.counts(hub.uow()).pending if kind == "push" else _sales_pending(hub)}
    if kind == "pos":
        figures["accepted_verdicts"] = [json.loads(b).get("verdict") for b in load["bodies"]].count("accepted")
    whole = stored == n == ok and (kind == "pos" or figures["messages_recorded"] == n)
    figures["stored_vs_sent"] = f"{stored}/{n}"
    print(f"[{kind}] {n} signed pushes offered at {args.rate:.0f}/s over {args.connections} connections: {ok} answered 200, "
          f"{len(load['errors'])} wire errors, achieved {figures['rate_achieved']}/s ({k} client processes); answer p50 {figures['p50_ms']} ms, "
          f"p95 {figures['p95_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms; {stored} orders stored "
          f"({'none lost, none doubled' if whole else 'MISMATCH'}); CPU ms per push {figures['cpu_ms_per_push']}; "
          f"load average {figures['load_avg_1m']}")
    if stored_lag is not None:
        print(f"[{kind}] {'push → order detail stored' if kind == 'push' else 'sale received → order created'} (inbox worker): "
              f"p50 {figures[f'{done}_p50_ms']} ms, p99 {figures[f'{done}_p99_ms']} ms, max {figures[f'{done}_max_ms']} ms; drained "
              f"{figures['inbox_drained_s_after_last_answer']} s after the last answer")
    return figures


def _worker_backends(hub) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving the inbox worker's process (by its application name)."""
    import sqlalchemy as sa

    from app.hub.inbox_worker import APPLICATION_NAME

    with hub.engine.connect() as conn:
        pids = conn.scalars(sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                            {"n": APPLICATION_NAME}).all()
    found = {}
    for pid in pids:
        try:
            found[pid] = _cpu(psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass
    return found


def _last_message_id(hub) -> int:
    import sqlalchemy as sa

    with hub.uow() as uow:
        return uow.session.scalar(sa.text("SELECT coalesce(max(id), 0) FROM inbound_messages"))


def _last_payload_id(hub) -> int:
    import sqlalchemy as sa

    with hub.uow() as uow:
        return uow.session.scalar(sa.text("SELECT coalesce(max(id), 0) FROM raw_payloads"))


def _sales_pending(hub) -> int:
    import sqlalchemy as sa

    with hub.uow() as uow:
        return uow.session.scalar(sa.text("SELECT count(*) FROM raw_payloads WHERE status = 'pending'"))


# What a run waits for after the last answer, per kind: (how many of the run's rows are done, each one's
# received → done time in ms). A sale is done when its order is created (the order's transaction start).
_DONE = {
    "pos": ("SELECT count(*) FROM raw_payloads WHERE id > :a AND source = 'pos' AND status <> 'pending'",
            "SELECT extract(epoch FROM o.created_at - p.received_at) * 1000 FROM raw_payloads p"
            " JOIN orders o ON o.id = p.order_id WHERE p.id > :a AND p.source = 'pos'"),
    "push": ("SELECT count(*) FROM inbound_messages WHERE id > :a AND state = 'done'",
             "SELECT extract(epoch FROM done_at - received_at) * 1000 FROM inbound_messages"
             " WHERE id > :a AND state = 'done'"),
}


def _drained(hub, kind: str, after_id: int, n: int, *, timeout: float) -> list[float]:
    """Waits (bounded) until this run's ``n`` sales have their orders (``pos``) or messages are done (``push``);
    each one's received → done time in ms."""
    import sqlalchemy as sa

    counted, times = _DONE[kind]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with hub.uow() as uow:
            done = uow.session.scalar(sa.text(counted), {"a": after_id})
        if done >= n:
            break
        time.sleep(0.2)
    with hub.uow() as uow:
        return [float(x) for x in uow.session.scalars(sa.text(times), {"a": after_id})]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--declared-mb", type=int, default=500)
    parser.add_argument("--pushes", type=int, default=10000)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--door-processes", type=int, default=None,
                        help="processes serving the doors (the hub's setting door_processes; default by the cores)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--clients", type=int, default=2, help="client processes sharing the load")
    parser.add_argument("--kind", default="pos,push", help="which sustained loads: pos, push or both")
    parser.add_argument("--hold-worker", action="store_true",
                        help="start the inbox worker only once the pushes are answered (the doors alone, a comparison)")
    parser.add_argument("--worker-priority", default=None,
                        help="the inbox worker's scheduling policy and nice, e.g. batch:10 (the hub's default), idle:0")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * args.idle + 1000  # both ends of every idle socket live in this process
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))

    from app.bootstrap import bootstrap
    from app.db.models import Shop
    from app.hub.credentials import FileStore
    from app.hub.doors import DoorLimits
    from app.hub.inbox_worker import Priority
    from app.hub.receiver import Receiver, ReceiverServer
    from app.hub.registry import connector_for
    from app.settings import Settings
    from connectors.base import Credentials
    from connectors.simulators.pos import sale_body
    from connectors.simulators.world import SimWorld
    from tests.support import door_abuse

    kinds = [k for k in args.kind.split(",") if k]
    figures: dict[str, object] = {"idle": args.idle, "declared_mb": args.declared_mb, "pushes": args.pushes,
                                  "rate_offered": args.rate, "connections": args.connections, "cpus": os.cpu_count()}
    stop = SPAWN.Event()
    platform = None
    with tempfile.TemporaryDirectory() as folder:
        hub = bootstrap(Settings(data_dir=Path(folder), station_name="drill"))
        store = FileStore(Path(folder) / "secrets.json")
        store.put("pos:drill", Credentials(app_key="till", app_secret=SECRET))
        store.put("douyin:drill", _platform_credentials())
        pushes: list[bytes] = []
        if "push" in kinds:
            ready = SPAWN.Queue()
            platform = SPAWN.Process(target=_platform, args=(args.pushes, ready, stop))
            platform.start()
            platform_url, messages = ready.get()
            pushes = [door_abuse.post(f"/push/{SHOP}", headers, body) for headers, body in messages]
        with hub.uow() as uow:
            uow.session.add(Shop(code=STORE, name="演练门店", platform="pos", credentials_ref="pos:drill"))
            if platform is not None:
                uow.session.add(Shop(code=SHOP, name="演练抖店", platform="douyin", credentials_ref="douyin:drill",
                                     api_base_url=platform_url, platform_shop_id="77001"))
            uow.commit()
        doors = Receiver(hub, connector_for, store)
        if args.worker_priority:
            policy, _, nice = args.worker_priority.partition(":")
            doors.inbox.priority = Priority(policy, int(nice or 0))
        figures["worker_priority"] = f"{doors.inbox.priority.policy}:{doors.inbox.priority.nice}"
        processes = args.door_processes or Settings().doors
        figures["door_processes"] = processes
        receiver = ReceiverServer(doors, limits=DoorLimits(header_timeout=60, workers=args.workers),
                                  inbox_worker=not args.hold_worker, processes=processes).start()
        extra_doors = [psutil.Process(d.pid) for d in receiver.doors]
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
        if "pos" in kinds:
            sales = [door_abuse.signed_push(STORE, SECRET, sale_body(o, STORE))
                     for o in world.create(args.pushes, status="completed")]
            # The inbox worker creates the sales' orders after the burst (its CPU and the drain reported apart).
            figures["pos"] = sustained(hub, receiver.url, "pos", sales, args, None,
                                       None if args.hold_worker else psutil.Process(doors.inbox.pid),
                                       doors.inbox if args.hold_worker and platform is None else None, extra_doors)
        if platform is not None:
            running = not args.hold_worker or "pos" in kinds  # held for the sales: started after them
            figures["push"] = sustained(hub, receiver.url, "push", pushes, args, psutil.Process(platform.pid),
                                        psutil.Process(doors.inbox.pid) if running else None,
                                        None if running else doors.inbox, extra_doors)
            stop.set()
            platform.join(10)
        receiver.stop()
        hub.close()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
