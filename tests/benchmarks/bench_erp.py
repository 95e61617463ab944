"""ERP bridge figures: signed webhook deliveries per second to a local receiver, and ERP change → applied (p95).

Run: .venv/bin/python tests/benchmarks/bench_erp.py [--orders 2000] [--changes 300] [--workers 8]

1. Deliveries: ``--orders`` orders are created (each writes its ``order.created`` event to the
   outbox by trigger, in its own transaction); then the hub's dispatcher drains the outbox to the
   ERPNext-like simulator on loopback, which verifies every Standard Webhooks signature with the
   reference library and applies each webhook id once. Timed from the first claim to an empty
   outbox; every delivery also writes its attempt log row and settles its outbox row.
2. ERP → OrderHub: the simulated ERP changes ``--changes`` Sales Orders one after another and posts
   each as ERPNext does (Frappe signature) to the hub's receiver, which verifies, keeps the raw
   body, claims the dedupe key and writes ``erp_order_status`` before answering. Timed per change
   from the ERP's change to the hub's answer (the change is applied when the answer leaves).

Embedded PostgreSQL in a temporary folder. Prints a summary, then one JSON line (last).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.domain.actor import Actor  # noqa: E402

ADMIN = Actor("bench", "bench")


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    import secrets

    import sqlalchemy as sa

    from app.bootstrap import bootstrap
    from app.hub.credentials import FileStore
    from app.hub.erp_dispatch import ErpDispatcher
    from app.hub.receiver import Receiver, ReceiverServer
    from app.hub.registry import connector_for
    from app.services import erp_outbound
    from app.settings import Settings
    from connectors.base import Credentials
    from connectors.erp_webhooks import new_secret
    from connectors.simulators.erp import ErpSimulator
    from connectors.simulators.server import SimServer
    from tests.support.factories import make_order, make_shop

    with tempfile.TemporaryDirectory() as folder:
        hub = bootstrap(Settings(data_dir=Path(folder), station_name="bench"))
        with hub.engine.begin() as conn:  # endpoints are set up by an administrator (erp.manage)
            conn.execute(sa.text("INSERT INTO users (login, display_name, role) VALUES ('bench', '测速管理员', 'admin')"))
        store = FileStore(Path(folder) / "secrets.json")
        out_secret, in_secret = new_secret(), secrets.token_hex(24)
        store.put("erp:out", Credentials(app_key="erp", app_secret=out_secret))
        store.put("erp:in", Credentials(app_key="erp-in", app_secret=in_secret))
        receiver = ReceiverServer(Receiver(hub, connector_for, store)).start()
        erp = ErpSimulator([out_secret], hub_url=f"{receiver.url}/erp/erp-in", hub_secret=in_secret)
        server = SimServer(erp.handle).start()
        server.requests = _Discard()  # the simulator's request log would only grow memory here
        erp_outbound.save_endpoint(hub.uow(), "erp", name="ERP", url=f"{server.url}/api/method/orderhub.webhook",
                                   secret_ref="erp:out", actor=ADMIN)
        erp_outbound.save_endpoint(hub.uow(), "erp-in", name="ERP in", url=None, secret_ref="erp:in",
                                   inbound_scheme="frappe", actor=ADMIN)
        shop = make_shop(hub)
        started = time.perf_counter()
        orders = [make_order(hub, "paid", shop_id=shop)[0] for _ in range(args.orders)]
        create_s = time.perf_counter() - started

        dispatcher = ErpDispatcher(hub, store, workers=args.workers)
        started = time.perf_counter()
        sent = 0
        while True:
            report = dispatcher.run_once(limit=500)
            sent += report.sent
            if not (report.sent or report.retry or report.dead):
                break
        deliver_s = time.perf_counter() - started
        with hub.uow() as uow:
            left = uow.session.scalar(sa.text("SELECT count(*) FROM outbox WHERE topic = 'erp' AND status <> 'sent'"))
        assert sent == args.orders and left == 0 and len(erp.received) == args.orders, (sent, left, len(erp.received))

        latencies = []
        for order_no in orders[: args.changes]:
            t0 = time.perf_counter()
            answer = erp.set_status(order_no, "To Bill")
            latencies.append((time.perf_counter() - t0) * 1000)
            assert answer.status_code == 200 and answer.json()["verdict"] == "applied", answer.text
        with hub.uow() as uow:
            applied = uow.session.scalar(sa.text("SELECT count(*) FROM erp_order_status WHERE erp_status = 'shipped'"))
        assert applied == args.changes

        dispatcher.close()
        server.stop()
        receiver.stop()
        hub.close()

    figures = {
        "orders": args.orders, "workers": args.workers, "create_orders_s": round(create_s, 2),
        "deliveries": sent, "deliver_s": round(deliver_s, 2), "deliveries_per_s": round(sent / deliver_s, 1),
        "erp_changes": args.changes, "erp_change_applied_p50_ms": round(statistics.median(latencies), 2),
        "erp_change_applied_p95_ms": round(_pct(latencies, 0.95), 2),
        "erp_change_applied_max_ms": round(max(latencies), 2),
    }
    print(f"{sent} signed deliveries in {deliver_s:.2f} s = {figures['deliveries_per_s']}/s "
          f"({args.workers} senders, every signature verified by the receiver)")
    print(f"ERP change → applied: p50 {figures['erp_change_applied_p50_ms']} ms, "
          f"p95 {figures['erp_change_applied_p95_ms']} ms over {args.changes} changes")
    print(json.dumps(figures))


class _Discard(list):
    def append(self, _item: object) -> None:
        return None


if __name__ == "__main__":
    main()
