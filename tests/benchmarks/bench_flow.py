"""Whole flow, in orders per second: platform → intake → routed and reserved → wave → slip printed → scanned → shipped → confirmed.

The platform (抖店 simulator) runs in its own process with orders waiting; the hub pulls them
(intake stores and routes each page: warehouse chosen, stock reserved), the lead makes waves per
warehouse and prints them through the printers' queue to a TCP ESC/POS printer (the fake one the
printer tests use), the printed bytes are parsed back and each slip's QR code is what the picker
scans to open the order; each item is scanned by its barcode, a tracking number ships the parcel
(stock leaves the shelf, the ship confirmation goes into the outbox in the same transaction), and
the write-back dispatcher sends every confirmation to the platform. At the end the platform is
asked, order by order, whether it now says 已发货.

The time runs from the first pull to the last confirmation answered, so the figure can be set
beside an ERP's whole flow. Stock is raised so every order can be picked (shortages are
bench_routing's subject); orders held by the demo rules are counted and not shipped.

Each stage also reports its CPU per unit (intake per order, printing per slip, scanning per scan,
write-back per confirmation) for this process (services, print queue, the fake printer's threads),
the simulator and the PostgreSQL server, and the printer's count of status queries.

Printing asks the printer's status (DLE EOT 1/2/4) once per slip: the answer that proves slip N
arrived is slip N+1's check (printers/queue.py), so a wave of N slips is 3 + 3N queries, not 6N.
The fake printer decides a query has ended after 50 ms of silence, so on loopback each query
costs ~50 ms of wall time that a real LAN/USB printer answers in a few ms: the printing stage's
wall time here overstates a real printer's.

Scanning stays one transaction per scan: each scan's answer (wrong item, one too many, a change
notice or cancellation stopping the pick, shipped with the confirmation queued) is read from and
written to the database and shown at once, and a refusal is recorded before it is shown; a batch
commit would have to either hold every answer until the batch commits or show answers that a
rollback could take back. The permission check now runs inside the scan's own transaction
(it was a transaction of its own per scan).

Run: .venv/bin/python tests/benchmarks/bench_flow.py [--orders 300]
Prints each stage and a summary, then one JSON line (last).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import CpuMeter, _free_port, _shop  # noqa: E402

from app.bootstrap import bootstrap  # noqa: E402
from app.domain.actor import Actor  # noqa: E402
from app.domain.errors import BusinessError  # noqa: E402
from app.domain.slip import ORDER_QR_PREFIX  # noqa: E402
from app.hub.credentials import FileStore  # noqa: E402
from app.hub.pollers import poll_once  # noqa: E402
from app.hub.registry import connector_for  # noqa: E402
from app.hub.writeback_dispatch import dispatch_ship  # noqa: E402
from app.services import picking, waves  # noqa: E402
from app.services.pick_slips import SlipPrinter  # noqa: E402
from app.settings import Settings  # noqa: E402
from connectors.base import Credentials, RawOrder  # noqa: E402
from printers.backends import NetworkBackend  # noqa: E402
from printers.escpos_parse import parse  # noqa: E402
from printers.queue import PrintQueue  # noqa: E402
from tests.printers.fake_printer import FakePrinter  # noqa: E402

LEAD = Actor("wang.lead", "仓库工作台-01", "10.20.3.2")
PICKER = Actor("li.sf", "仓库工作台-01", "10.20.3.7")
APP_KEY, SECRET = "1234567890123456789", "bench-secret"


def _prepare(tmp: Path):
    """A hub on its own embedded PostgreSQL with the demo company's master data, rules and people."""
    from app.demo.seed import seed_demo
    from tests.conftest import _add_staff

    hub = bootstrap(Settings(data_dir=tmp, station_name="仓库工作台-01"))
    seed_demo(hub, seed=20261125, n_orders=0, reset=True)
    _add_staff(hub.engine)
    with hub.engine.begin() as conn:
        conn.execute(sa.text("UPDATE stock SET on_hand = on_hand + 1000"))
    return hub


def _stage(name: str, started: float, stages: dict[str, float], cpu: CpuMeter | None = None,
           cpu_stages: dict[str, dict[str, float]] | None = None, per: int = 1) -> float:
    """Close a stage: its wall seconds, and (given the meter) the CPU ms per ``per`` units it spent."""
    now = time.perf_counter()
    stages[name] = round(now - started, 2)
    extra = ""
    if cpu is not None and cpu_stages is not None:
        cpu_stages[name] = cpu.per_order_ms(per)
        cpu.start = cpu._now()  # noqa: SLF001 - the next stage is measured from here
        extra = f"; CPU per unit {cpu_stages[name]} ms"
    print(f"  {name}: {stages[name]} s{extra}")
    return now


def run(n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="orderhub-flow-") as folder:
        tmp = Path(folder)
        hub = _prepare(tmp)
        store = FileStore(tmp / "secrets.json")
        port = _free_port()
        sim = subprocess.Popen([sys.executable, "-m", "app", "simulate", "douyin", "--port", str(port), "--rate", "0",
                                "--preload", str(n), "--app-key", APP_KEY, "--app-secret", SECRET],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        printer = FakePrinter()
        queue = PrintQueue(tmp / "print_queue.sqlite3", NetworkBackend("127.0.0.1", printer.port, timeout=10,
                                                                        name="拣货打印机"))
        slips = SlipPrinter(hub.uow, queue, paper="80mm")
        try:
            sim.stdout.readline()  # the simulator says it is listening once its orders are placed
            creds = Credentials(app_key=APP_KEY, app_secret=SECRET, access_token="sim-token")
            shop = _shop(hub, store, "douyin", "FLOW", f"http://127.0.0.1:{port}", creds)

            def connector_of(shop_id: int):
                return connector_for(shop, store.get(shop.credentials_ref)) if shop_id == shop.id else None

            stages: dict[str, float] = {}
            cpu_stages: dict[str, dict[str, float]] = {}
            counts: Counter[str] = Counter()
            cpu = CpuMeter(hub, sim.pid)
            whole = CpuMeter(hub, sim.pid)
            started = mark = time.perf_counter()
            print(f"{n} orders waiting on the platform:")

            # 1. intake: every page stored and routed (warehouse chosen, stock reserved) as it arrives
            connector = connector_of(shop.id)
            report = poll_once(hub, shop, connector)
            assert report.error is None, report.error
            counts["pulled"] = report.stored
            with hub.uow() as uow:
                for status, k in uow.session.execute(sa.text(
                        "SELECT status, count(*) FROM orders WHERE shop_id = :s GROUP BY status"), {"s": shop.id}):
                    counts[f"after_routing_{status}"] = int(k)
            mark = _stage("pulled, stored, routed and reserved", mark, stages, cpu, cpu_stages, report.stored)

            # 2. waves per warehouse, printed through the queue to the TCP printer, bytes parsed back
            wave_nos: list[tuple[str, int]] = []
            for wh_id, code, _ in waves.warehouses(hub.uow()):
                while True:
                    try:
                        wave = waves.create_wave(hub.uow(), code, LEAD, max_orders=200)
                    except BusinessError as err:
                        if err.code != "WAVE_NOTHING_TO_PICK":
                            raise
                        break
                    slips.print_wave(wave.wave_no, LEAD)
                    wave_nos.append((wave.wave_no, wh_id))
            printed = slips.queue.run_once()
            stream = parse(b"".join(bytes(c) for c in printer.connections))
            qrs = [q for q in stream.qr if q.startswith(ORDER_QR_PREFIX)]
            counts.update(waves=len(wave_nos), slips_printed=len(printed), slip_qr_codes_read_back=len(qrs),
                          printer_bytes=sum(len(c) for c in printer.connections),
                          printer_status_queries=printer.status_queries)
            mark = _stage(f"{len(wave_nos)} waves made and {len(printed)} slips printed", mark, stages, cpu, cpu_stages,
                          len(printed))

            # 3. the picker scans each slip's QR, each item's barcode, then the parcel's tracking number
            wh_of = {}
            with hub.uow() as uow:
                wh_of = dict(uow.session.execute(sa.text(
                    "SELECT order_no, warehouse_id FROM orders WHERE shop_id = :s"), {"s": shop.id}).all())
            for i, qr in enumerate(qrs):
                opened = picking.scan(hub.uow(), qr, PICKER, warehouse_id=wh_of.get(qr[len(ORDER_QR_PREFIX):]))
                assert opened.ok, opened
                counts["scans"] += 1
                for line in opened.pick.lines:
                    for _ in range(line.needed - line.scanned):
                        result = picking.scan(hub.uow(), line.barcode, PICKER)
                        assert result.ok, result
                        counts["scans"] += 1
                shipped = picking.scan(hub.uow(), f"SF{1400000000000 + i}", PICKER)
                assert shipped.kind == "shipped", shipped
                counts["scans"] += 1
                counts["shipped"] += 1
            mark = _stage(f"{counts['shipped']} orders picked by scanning and shipped ({counts['scans']} scans)",
                          mark, stages, cpu, cpu_stages, counts["scans"])

            # 4. the write-back dispatcher sends every ship confirmation to the platform
            while True:
                sent = dispatch_ship(hub, connector_of, limit=100)
                counts["confirmations_sent"] += sent.sent
                counts["confirmations_failed"] += sent.failed
                if not (sent.sent or sent.failed or sent.retry):
                    break
            mark = _stage(f"{counts['confirmations_sent']} ship confirmations answered by the platform", mark, stages,
                          cpu, cpu_stages, counts["confirmations_sent"])
            total = time.perf_counter() - started
            cpu_ms = whole.per_order_ms(counts["shipped"])

            # the platform's own word, order by order
            with hub.uow() as uow:
                platform_nos = list(uow.session.scalars(sa.text(
                    "SELECT platform_order_no FROM orders WHERE shop_id = :s AND status = 'shipped'"), {"s": shop.id}))
            counts["platform_says_shipped"] = sum(
                1 for no in platform_nos
                if connector.normalise(RawOrder(no, connector.fetch(no).body, "")).status.value == "shipped")
            connector.close()
        finally:
            slips.stop()
            printer.close()
            sim.terminate()
            sim.wait(10)
            hub.close()
    return {"orders_waiting": n, "counts": dict(counts), "stages_s": stages, "seconds": round(total, 2),
            # units: intake per order stored, printing per slip, scanning per scan, write-back per confirmation
            # ("hub" is this process: the services, the print queue and the fake printer's threads)
            "stage_cpu_ms_per_unit": cpu_stages,
            "orders_per_s": round(counts["shipped"] / total, 1), "cpu_ms_per_shipped_order": cpu_ms}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    figures = run(args.orders)
    c = figures["counts"]
    print(f"whole flow: {c['shipped']} of {args.orders} orders from the platform to 已发货 confirmed in "
          f"{figures['seconds']} s = {figures['orders_per_s']} orders/s; the platform says shipped for "
          f"{c['platform_says_shipped']}; CPU per order {figures['cpu_ms_per_shipped_order']} ms; "
          f"load {load_before:.1f} → {os.getloadavg()[0]:.1f}")
    figures |= {"load_avg_1m": [load_before, os.getloadavg()[0]], "cpus": os.cpu_count(),
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
