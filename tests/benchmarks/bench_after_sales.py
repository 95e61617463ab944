"""After-sales figure: a size exchange end to end through the service layer, on the demo company.

Run: /work/venv/bin/python tests/benchmarks/bench_after_sales.py [--orders 3000] [--exchanges 200]

Each exchange is what customer service does for one customer: open the case on one line (freeze
the line, order to 售后中, audit), then 「查库存并处理」 — lock and count live stock of the same style
and colour in the new size, create the linked exchange order carrying over the 满299 gift, route
and reserve it with the brand's rules, mark the original invoice 待重开, queue the SMS — then the
hub sends that SMS through the (loopback) Alibaba Cloud gateway. Timed per exchange on the
embedded PostgreSQL with the demo company (default 3,000 orders) loaded. A second pass runs the
out-of-stock branch (procurement alert + customer-service notice).

Prints a human summary, then one JSON line (last) with every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.domain.actor import Actor  # noqa: E402

ANCHOR = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
CS = Actor("xiaomei", "客服工作台-01", "10.20.1.21")


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _candidates(hub, n: int) -> list[tuple[str, str, str]]:
    """Shipped/completed orders with a first line whose next size up exists: (order no, line size, next size)."""
    with hub.uow() as uow:
        rows = uow.session.execute(sa.text("""
            SELECT o.order_no, it->>'sku' AS sku, it->>'size' AS size, nxt.size AS next_size, nxt.sku_code AS next_sku
            FROM orders o CROSS JOIN LATERAL jsonb_array_elements(o.items) WITH ORDINALITY AS x(it, n)
            JOIN skus cur ON cur.sku_code = it->>'sku'
            JOIN LATERAL (SELECT s.size, s.sku_code FROM skus s WHERE s.style_code = cur.style_code
                          AND s.color = cur.color AND s.id > cur.id ORDER BY s.id LIMIT 1) nxt ON true
            WHERE o.status IN ('shipped', 'completed') AND x.n = 1 AND NOT (it->>'is_gift')::bool
              AND NOT EXISTS (SELECT 1 FROM after_sales_cases c WHERE c.order_id = o.id)
            ORDER BY o.id LIMIT :n"""), {"n": n}).all()
    return [(r.order_no, r.next_size, r.next_sku) for r in rows]


def _set_stock(hub, skus: set[str], on_hand: int) -> None:
    with hub.uow() as uow:
        uow.session.execute(sa.text("UPDATE stock SET on_hand = greatest(on_hand, reserved + safety_stock + :q) "
                                    "WHERE sku_id IN (SELECT id FROM skus WHERE sku_code = ANY(:s))"),
                            {"q": on_hand, "s": list(skus)})
        if on_hand == 0:
            uow.session.execute(sa.text("UPDATE stock SET on_hand = reserved, safety_stock = 0 "
                                        "WHERE sku_id IN (SELECT id FROM skus WHERE sku_code = ANY(:s))"), {"s": list(skus)})
        uow.commit()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=3000)
    ap.add_argument("--exchanges", type=int, default=200)
    args = ap.parse_args()

    from app.bootstrap import bootstrap
    from app.demo.after_sales_flows import SIGN_NAME, SMS_TEMPLATE_TEXTS
    from app.demo.seed import seed_demo
    from app.hub.sms_dispatch import dispatch
    from app.services import after_sales
    from app.settings import Settings
    from connectors.simulators.server import SimServer
    from connectors.simulators.sms import SmsGatewaySimulator
    from connectors.sms import AliyunSms

    with tempfile.TemporaryDirectory() as folder:
        hub = bootstrap(Settings(data_dir=Path(folder), station_name="bench"))
        seed_demo(hub, n_orders=args.orders, anchor=ANCHOR)
        picked = _candidates(hub, args.exchanges * 2)
        half = len(picked) // 2
        in_stock, out_of_stock = picked[:half], picked[half:]
        _set_stock(hub, {sku for _, _, sku in in_stock}, 50)
        _set_stock(hub, {sku for _, _, sku in out_of_stock} - {sku for _, _, sku in in_stock}, 0)
        out_of_stock = [p for p in out_of_stock if p[2] not in {sku for _, _, sku in in_stock}]

        sim = SmsGatewaySimulator(sign_names={SIGN_NAME}, templates=dict(SMS_TEMPLATE_TEXTS), per_minute_limit=10**6)
        server = SimServer(sim.handle).start()
        client = AliyunSms(server.url, "LTAI5tOrderHubDemo", "orderhub-demo-secret", SIGN_NAME)

        def exchange(order_no: str, size: str, i: int) -> tuple[float, float, str]:
            t0 = time.perf_counter()
            case = after_sales.open_case(hub.uow(), order_no, "exchange", [{"line_no": 1, "qty": 1, "new_size": size}],
                                         actor=CS, reason="尺码偏小", basis=f"抖店售后单 B{i}",
                                         contact_phone=f"138{i:08d}")
            t1 = time.perf_counter()
            done = after_sales.step(hub.uow(), case.case_no, "check_stock", expected_version=case.version, actor=CS)
            t2 = time.perf_counter()
            return (t1 - t0) * 1000, (t2 - t0) * 1000, done.state

        for warm in in_stock[:3]:  # first calls pay for imports and plan caches
            exchange(warm[0], warm[1], 0)
        runs = [exchange(no, size, i) for i, (no, size, _) in enumerate(in_stock[3:], 1)]
        t0 = time.perf_counter()
        sent = dispatch(hub, client, limit=10_000)
        sms_s = time.perf_counter() - t0
        states = [r[2] for r in runs]
        short = [exchange(no, size, 10_000 + i) for i, (no, size, _) in enumerate(out_of_stock)]
        with hub.uow() as uow:
            oversold = uow.session.scalar(sa.text("SELECT count(*) FROM stock WHERE reserved > on_hand"))
        client.close()
        server.stop()
        hub.close()

    totals = [r[1] for r in runs]
    figures = {
        "orders_in_db": args.orders,
        "exchanges": len(runs),
        "exchange_created": states.count("exchange_created"),
        "open_case_ms_p50": round(statistics.median(r[0] for r in runs), 1),
        "exchange_end_to_end_ms_p50": round(statistics.median(totals), 1),
        "exchange_end_to_end_ms_p95": round(_pct(totals, 0.95), 1),
        "exchange_end_to_end_ms_max": round(max(totals), 1),
        "sms_sent": sent.sent,
        "sms_dispatch_ms_per_message": round(sms_s * 1000 / max(1, sent.sent), 2),
        "out_of_stock_cases": len(short),
        "out_of_stock_ms_p50": round(statistics.median(r[1] for r in short), 1) if short else None,
        "out_of_stock_states": sorted(set(r[2] for r in short)),
        "oversold_rows": oversold,
    }
    print(f"size exchange end to end (open + 查库存并处理 → linked order routed and reserved, gift carried over, "
          f"invoice 待重开, SMS queued), {len(runs)} exchanges on {args.orders} demo orders:")
    print(f"  p50 {figures['exchange_end_to_end_ms_p50']} ms, p95 {figures['exchange_end_to_end_ms_p95']} ms, "
          f"max {figures['exchange_end_to_end_ms_max']} ms (opening alone p50 {figures['open_case_ms_p50']} ms)")
    print(f"  SMS through the loopback gateway: {sent.sent} sent, {figures['sms_dispatch_ms_per_message']} ms each")
    print(f"  out-of-stock branch: {len(short)} cases, p50 {figures['out_of_stock_ms_p50']} ms; oversold rows {oversold}")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
