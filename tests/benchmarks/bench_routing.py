"""Routing figures: rule evaluation in memory, and allocation with stock reservation against PostgreSQL.

Run: /work/venv/bin/python tests/benchmarks/bench_routing.py [--orders 10000] [--route 6000] [--hubs 2]

1. Evaluation: 10,000 demo orders against 50 rules (the demo company's 18 plus 32 more in the
   same style), in memory — building each order's facts (items, extension attributes, region,
   customer history, stock levels) and evaluating every rule. Target: over 10,000 orders/s.
2. Allocation: paid orders routed on the embedded PostgreSQL with those 50 rules — evaluate,
   choose warehouse(s), lock and reserve stock, write the decision and reservations, update the
   order — as the hub does it (a batch of 100 per transaction), the same pipelined (``route_stream``:
   batch N+1 decided while batch N commits on a second connection, so the hub's Python and
   PostgreSQL work at once; `orderhub route` routes this way), one order per transaction, and with
   several (pipelined) hub processes at once. Target: over 1,000 orders/s. The books are checked after
   (reserved = active reservations ≤ on hand).

Each allocation part reports, besides wall time, the CPU per order of the hub process(es) and of
PostgreSQL (every server process), the load average at its start and end, and what allocation
actually did to its orders (whole, split, shortage, held, overflow, overflow to 合肥, safety stock),
as counts and shares. On a shared machine the wall figure measures the neighbours; CPU per order
is the figure to compare (target ≤ 0.9 ms, aim 0.6 ms: ≥ 1,000 orders/s on a quiet 2-core machine).

Prints a human summary, then one JSON line (last) with every figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.demo.company import generate  # noqa: E402
from app.demo.rules import DEMO_RULES  # noqa: E402
from app.domain.actor import Actor  # noqa: E402
from app.domain.allocation import StockLevel  # noqa: E402
from app.domain.rules import Rule, RuleSet, Vocabulary  # noqa: E402
from app.services.rule_book import RuleDraft, check_draft  # noqa: E402

ANCHOR = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
ACTOR = Actor("system:bench", "bench")


def extra_rules(n: int = 32) -> list[RuleDraft]:
    """More rules of the kinds a brand accumulates: per style, per city, per creator, per amount band, per hour."""
    styles = [f"{p}26{i:02d}" for p, i in zip("TWJQDSYKLPCBHMNR", range(1, 17), strict=False)]
    cities = ["杭州市", "宁波市", "苏州市", "南京市", "合肥市", "广州市", "深圳市", "成都市", "武汉市", "西安市"]
    out = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            cond = {"field": "item.style", "op": "in", "value": styles[i % 16: i % 16 + 2]}
            act = [{"type": "choose_warehouse", "warehouses": ["HZ", "HF", "GZ"]}]
        elif kind == 1:
            cond = {"all": [{"field": "city", "op": "in", "value": cities[i % 10: i % 10 + 3]},
                            {"field": "paid_amount", "op": "gte", "value": f"{100 + i * 10}.00"}]}
            act = [{"type": "set_ship_by", "hours": 24 + i}]
        elif kind == 2:
            cond = {"all": [{"field": "platform", "op": "eq", "value": "douyin"},
                            {"field": "ext.author_commission_rate", "op": "gte", "value": str(10 + i % 4 * 5)}]}
            act = [{"type": "set_ship_by", "hours": 6 + i % 6}]
        elif kind == 3:
            cond = {"any": [{"field": "paid_amount", "op": "between", "value": [f"{500 + i}.00", f"{800 + i}.00"]},
                            {"field": "items.total_qty", "op": "gte", "value": 6 + i % 5}]}
            act = [{"type": "bind_invoice"}]
        else:
            cond = {"all": [{"field": "ordered_hour", "op": "between", "value": [i % 24, min(23, i % 24 + 2)]},
                            {"not": {"field": "region", "op": "in", "value": ["华东"]}}]}
            act = [{"type": "set_ship_by", "hours": 36}]
        out.append(RuleDraft(f"R-BENCH-{i:02d}", f"压测规则 {i:02d}", cond, act, 60 + i))
    return out


def all_drafts() -> list[tuple[Actor, RuleDraft]]:
    latest: dict[str, tuple[Actor, RuleDraft]] = {}
    for actor, draft in DEMO_RULES:
        latest[draft.code] = (actor, draft)
    enabled = sum(1 for _, d in latest.values() if d.enabled)
    # 50 enabled rules (the switched-off demo rule comes on top and is never evaluated)
    return list(latest.values()) + [(ACTOR, d) for d in extra_rules(50 - enabled)]


def evaluation(n_orders: int, repeats: int = 5) -> dict[str, Any]:
    """Rule evaluation for ``n_orders`` demo orders against 50 rules, in memory."""
    from app.services.routing import order_facts

    company = generate(seed=20261125, anchor=ANCHOR, n_orders=n_orders)
    t = company.tables
    vocab = Vocabulary.build(
        ext_fields=[(r["key"], r["label_zh"], r["label_en"], r["value_type"]) for r in t["platform_field_defs"]],
        warehouses=[(w["code"], w["name"]) for w in t["warehouses"]], shops=[(s["code"], s["name"]) for s in t["shops"]],
        skus=[(s["sku_code"], s["name"]) for s in t["skus"]])
    rules = []
    for n, (_, d) in enumerate(all_drafts(), 1):
        cond, actions = check_draft(d, vocab)  # every rule passes the same check as when saved
        if d.enabled:
            rules.append(Rule(d.code, d.name, 1, d.priority, cond, tuple(actions), n))
    ruleset = RuleSet(rules, vocab)
    shop_code = {s["id"]: s["code"] for s in t["shops"]}
    wh_code = {w["id"]: w["code"] for w in t["warehouses"]}
    sku_code = {s["id"]: s["sku_code"] for s in t["skus"]}
    ext: dict[int, dict[str, str]] = defaultdict(dict)
    for e in t["order_ext_attrs"]:
        ext[e["order_id"]][e["key"]] = e["value"]
    stock = {}
    for row in t["stock"]:
        stock[(wh_code[row["warehouse_id"]], sku_code[row["sku_id"]])] = StockLevel(row["on_hand"], row["reserved"],
                                                                                     row["safety_stock"])
    history = Counter(o["customer_id"] for o in t["orders"])
    rows = [dict(o, shop=shop_code[o["shop_id"]], warehouse=wh_code.get(o["warehouse_id"]), ext=ext.get(o["id"]),
                 platform_status=None)
            for o in t["orders"][:n_orders]]
    warehouses = [w["code"] for w in t["warehouses"]]

    def facts_and_evaluate() -> int:
        fired = 0
        for row in rows:
            facts = order_facts(row, ruleset, history=history[row["customer_id"]] - 1, stock=stock, warehouses=warehouses)
            fired += len(ruleset.evaluate(facts).fired)
        return fired

    facts_list = [order_facts(row, ruleset, history=history[row["customer_id"]] - 1, stock=stock, warehouses=warehouses)
                  for row in rows]

    def evaluate_only() -> int:
        for facts in facts_list:
            ruleset.evaluate(facts)
        return 0

    # Best of several passes (as timeit does): on a shared machine the slowest passes measure the
    # neighbours; CPU time of this process is reported beside the wall clock.
    total, total_cpu, fired = _best(facts_and_evaluate, repeats)
    only, only_cpu, _ = _best(evaluate_only, repeats)
    return {"orders": len(rows), "rules": len(ruleset), "rules_fired_per_order": round(fired / len(rows), 2),
            "orders_per_s": round(len(rows) / total), "evaluate_only_orders_per_s": round(len(rows) / only),
            "orders_per_cpu_s": round(len(rows) / total_cpu), "evaluate_only_orders_per_cpu_s": round(len(rows) / only_cpu),
            "us_per_order": round(total / len(rows) * 1e6, 1), "passes": repeats}


def _best(work: Any, repeats: int) -> tuple[float, float, int]:
    """The fastest wall time and the smallest CPU time over ``repeats`` passes of ``work``."""
    walls, cpus, result = [], [], 0
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        result = work()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), result


# --- allocation against PostgreSQL --------------------------------------------------------------

# Before each run, stock sized to what that run's orders ask for, as a brand's stock is at peak, not raised out of
# reach: the own warehouse (杭州) holds about half of each SKU's demand, 合肥 a third, the others a
# fifth, over what the seeded orders already reserve. One SKU in eleven has nothing free in 杭州
# (its orders overflow or split), one in twenty-three has nothing anywhere (shortage); the seeded
# safety stock stays, so the last units of a bin are only taken when nothing else works.
_REALISTIC_STOCK = sa.text(
    "WITH demand AS (SELECT it->>'sku' AS sku, sum((it->>'qty')::int) AS qty FROM orders o,"
    " jsonb_array_elements(o.items) it WHERE o.order_no = ANY(:nos) GROUP BY 1)"
    " UPDATE stock s SET on_hand = s.reserved + CASE"
    "  WHEN k.id % 23 = 0 THEN 0"
    "  WHEN w.code = 'HZ' AND k.id % 11 = 0 THEN 0"
    "  WHEN w.code = 'HZ' THEN ceil(d.qty * 0.5)::int + s.safety_stock"
    "  WHEN w.code = 'HF' THEN ceil(d.qty * 0.35)::int + s.safety_stock"
    "  ELSE ceil(d.qty * 0.2)::int + s.safety_stock END"
    " FROM skus k, warehouses w, demand d"
    " WHERE k.id = s.sku_id AND w.id = s.warehouse_id AND d.sku = k.sku_code AND NOT k.is_gift_item")
# What allocation did, from the decisions it wrote: overflow (to 合肥 and elsewhere), splits, shortages.
_ALLOCATION_KINDS = sa.text(
    "SELECT count(*) FILTER (WHERE outcome = 'allocated'), count(*) FILTER (WHERE outcome = 'split'),"
    " count(*) FILTER (WHERE outcome = 'shortage'), count(*) FILTER (WHERE outcome = 'held'),"
    " count(*) FILTER (WHERE detail->'notes' @> '[[\"ALLOC_OVERFLOW\"]]'),"
    " count(*) FILTER (WHERE detail->'notes' @> '[[\"ALLOC_OVERFLOW\", {\"warehouse\": \"HF\"}]]'),"
    " count(*) FILTER (WHERE detail->'notes' @> '[[\"ALLOC_SAFETY_USED\"]]' OR detail->'notes' @> '[[\"ALLOC_SPLIT_SAFETY\"]]')"
    " FROM routing_decisions d JOIN orders o ON o.id = d.order_id WHERE o.order_no = ANY(:nos)")
_KIND_NAMES = ("allocated_whole", "split", "shortage", "held", "overflow", "overflow_to_hefei", "safety_stock_used")


def _prepare(hub: Any, n_paid: int) -> list[str]:
    """Demo master data and stock, the 50 rules, and ``n_paid`` fresh paid orders (copied from demo orders)."""
    from app.demo.seed import seed_demo
    from app.services import rule_book

    seed_demo(hub, seed=20261125, n_orders=3000, anchor=ANCHOR, reset=True)
    with hub.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO orders (order_no, platform, platform_order_no, shop_id, ordered_at, paid_at, customer_id, items,"
            " original_amount, paid_amount, status, invoice_status, receiver_name, receiver_phone, receiver_phone_tail,"
            " receiver_address, province, city, district, ship_by, buyer_note, version)"
            " SELECT 'B' || lpad(g::text, 9, '0'), o.platform, 'B' || g || '-' || o.platform_order_no, o.shop_id,"
            " o.ordered_at, coalesce(o.paid_at, o.ordered_at), o.customer_id, o.items, o.original_amount, o.paid_amount,"
            " 'paid', 'none', o.receiver_name, o.receiver_phone, o.receiver_phone_tail, o.receiver_address, o.province,"
            " o.city, o.district, o.ship_by, o.buyer_note, 1"
            " FROM generate_series(1, :n) g JOIN orders o ON o.id = 1 + (g * 7919) % 3000"
            " WHERE o.platform <> 'pos'"), {"n": n_paid})
        conn.execute(sa.text("ANALYZE"))
    with hub.uow() as uow:
        vocab = rule_book.load_vocabulary(uow.session)
        for actor, draft in all_drafts():
            rule_book.save_in(uow.session, draft, actor, vocab)
        uow.commit()
        return list(uow.session.scalars(sa.text("SELECT order_no FROM orders WHERE order_no LIKE 'B%' ORDER BY id")))


def _cpu_meter(hub: Any) -> Any:
    """CPU of this process and of PostgreSQL (bench_ingest's meter; no simulator here: our own pid stands in)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_ingest import CpuMeter

    return CpuMeter(hub, os.getpid())


def _what_happened(hub: Any, order_nos: list[str]) -> dict[str, Any]:
    """What allocation did to ``order_nos`` (from the decisions written), as counts and as shares of the orders."""
    with hub.engine.connect() as conn:
        kinds = dict(zip(_KIND_NAMES, map(int, conn.execute(_ALLOCATION_KINDS, {"nos": order_nos}).one()), strict=True))
    return {"counts": kinds, "shares_pct": {k: round(v * 100 / max(len(order_nos), 1), 1) for k, v in kinds.items()}}


def _part(orders: int, seconds: float, outcomes: Counter[str], cpu_ms: dict[str, float], loads: list[float],
          happened: dict[str, Any]) -> dict[str, Any]:
    total = cpu_ms["hub"] + cpu_ms["postgres"]
    return {"orders": orders, "seconds": round(seconds, 2), "orders_per_s": round(orders / seconds),
            "cpu_ms_per_order": {"hub": cpu_ms["hub"], "postgres": cpu_ms["postgres"], "total": round(total, 3)},
            "orders_per_cpu_s": round(1000 / total) if total else None,
            "load_avg_1m": {"start": round(loads[0], 1), "end": round(loads[1], 1)},
            "outcomes": dict(outcomes), "what_happened": happened}


def _size_stock(hub: Any, order_nos: list[str]) -> None:
    with hub.engine.begin() as conn:
        conn.execute(_REALISTIC_STOCK, {"nos": order_nos})


def _route(hub: Any, order_nos: list[str], batch: int) -> Counter[str]:
    from app.services import routing

    outcomes: Counter[str] = Counter()
    for start in range(0, len(order_nos), batch):
        for r in routing.route_orders(hub.uow(), order_nos[start:start + batch], ACTOR):
            outcomes[r.outcome] += 1
    return outcomes


def _stream(hub: Any, order_nos: list[str], batch: int, stats: Any) -> Counter[str]:
    """As ``_route``, pipelined: batch N+1 decided while batch N commits (``routing.route_stream``)."""
    from app.services import routing

    outcomes: Counter[str] = Counter()
    batches = (order_nos[start:start + batch] for start in range(0, len(order_nos), batch))
    for results in routing.route_stream(hub.uow, batches, ACTOR, stats=stats):
        outcomes.update(r.outcome for r in results)
    return outcomes


def _hub_process(url: str, order_nos: list[str], batch: int, go: Any, out: Any) -> None:
    """One more hub: routes its share of the orders (pipelined, as ``orderhub route`` does) and reports
    its outcomes and the CPU seconds it spent."""
    from sqlalchemy.orm import sessionmaker

    from app.services import routing
    from app.services.unit_of_work import UnitOfWork

    engine = sa.create_engine(url, pool_size=2)
    factory = sessionmaker(engine, expire_on_commit=False)
    with engine.connect():
        pass
    go.wait()
    cpu = time.process_time()
    outcomes: Counter[str] = Counter()
    batches = (order_nos[start:start + batch] for start in range(0, len(order_nos), batch))
    stats = routing.StreamStats()
    for results in routing.route_stream(lambda: UnitOfWork(factory), batches, ACTOR, stats=stats):
        outcomes.update(r.outcome for r in results)
    cpu = time.process_time() - cpu
    engine.dispose()
    out.put((dict(outcomes), cpu, dataclasses.asdict(stats)))


def _books(hub: Any) -> dict[str, int]:
    with hub.engine.connect() as conn:
        bad = conn.scalar(sa.text(
            "SELECT count(*) FROM stock s LEFT JOIN (SELECT stock_id, sum(qty) AS q FROM stock_reservations"
            " WHERE status = 'active' GROUP BY stock_id) r ON r.stock_id = s.id"
            " WHERE s.reserved > s.on_hand OR (r.q IS NOT NULL AND s.reserved < r.q)"))
        decisions = conn.scalar(sa.text("SELECT count(*) FROM routing_decisions"))
    return {"stock_rows_out_of_balance": int(bad), "decisions": int(decisions)}


def allocation(n_paid: int, hubs: int) -> dict[str, Any]:
    from app.bootstrap import bootstrap
    from app.settings import Settings

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="orderhub-bench-") as folder:
        hub = bootstrap(Settings(data_dir=Path(folder), station_name="bench"))
        try:
            order_nos = _prepare(hub, n_paid)
            quarter = len(order_nos) // 4
            parts = {"batch_100": order_nos[:quarter], "pipelined": order_nos[quarter:2 * quarter],
                     "single": order_nos[2 * quarter:2 * quarter + min(quarter, 1500)], "hubs": order_nos[3 * quarter:]}
            _size_stock(hub, parts["batch_100"])
            cpu, loads = _cpu_meter(hub), [os.getloadavg()[0]]
            started = time.perf_counter()
            outcomes = _route(hub, parts["batch_100"], 100)
            seconds = time.perf_counter() - started
            cpu_ms, loads = cpu.per_order_ms(len(parts["batch_100"])), loads + [os.getloadavg()[0]]
            results["one_hub_batch_100"] = _part(len(parts["batch_100"]), seconds, outcomes, cpu_ms, loads,
                                                 _what_happened(hub, parts["batch_100"]))
            from app.services.routing import StreamStats

            _size_stock(hub, parts["pipelined"])
            stats = StreamStats()
            cpu, loads = _cpu_meter(hub), [os.getloadavg()[0]]
            started = time.perf_counter()
            outcomes = _stream(hub, parts["pipelined"], 100, stats)
            seconds = time.perf_counter() - started
            cpu_ms, loads = cpu.per_order_ms(len(parts["pipelined"])), loads + [os.getloadavg()[0]]
            results["one_hub_pipelined_batch_100"] = _part(len(parts["pipelined"]), seconds, outcomes, cpu_ms, loads,
                                                           _what_happened(hub, parts["pipelined"]))
            results["one_hub_pipelined_batch_100"]["stream"] = dataclasses.asdict(stats)
            _size_stock(hub, parts["single"])
            cpu, loads = _cpu_meter(hub), [os.getloadavg()[0]]
            started = time.perf_counter()
            outcomes = _route(hub, parts["single"], 1)
            seconds = time.perf_counter() - started
            cpu_ms, loads = cpu.per_order_ms(len(parts["single"])), loads + [os.getloadavg()[0]]
            results["one_hub_one_order_per_transaction"] = _part(len(parts["single"]), seconds, outcomes, cpu_ms, loads,
                                                                 _what_happened(hub, parts["single"]))
            _size_stock(hub, parts["hubs"])
            url = hub.engine.url.render_as_string(hide_password=False)
            ctx = mp.get_context("spawn")
            go, out = ctx.Event(), ctx.Queue()
            procs = [ctx.Process(target=_hub_process, args=(url, parts["hubs"][i::hubs], 100, go, out))
                     for i in range(hubs)]
            for p in procs:
                p.start()
            time.sleep(3)  # let every process import and connect before the clock starts
            cpu, loads = _cpu_meter(hub), [os.getloadavg()[0]]
            started = time.perf_counter()
            go.set()
            merged: Counter[str] = Counter()
            hubs_cpu = 0.0
            streams: Counter[str] = Counter()
            for _ in procs:
                got, spent, stream = out.get(timeout=600)
                merged.update(got)
                streams.update(stream)
                hubs_cpu += spent
            seconds = time.perf_counter() - started
            cpu_ms, loads = cpu.per_order_ms(len(parts["hubs"])), loads + [os.getloadavg()[0]]
            cpu_ms["hub"] = round(hubs_cpu / max(len(parts["hubs"]), 1) * 1000, 3)  # the hub processes, not this one
            for p in procs:
                p.join()
            results[f"{hubs}_hubs_batch_100"] = _part(len(parts["hubs"]), seconds, merged, cpu_ms, loads,
                                                      _what_happened(hub, parts["hubs"]))
            results[f"{hubs}_hubs_batch_100"]["stream"] = dict(streams)
            results["books"] = _books(hub)
            from app.services.trace import order_story

            samples = []
            for no in order_nos[:: max(1, len(order_nos) // 50)]:
                t0 = time.perf_counter()
                order_story(hub.uow(), no)
                samples.append((time.perf_counter() - t0) * 1000)
            results["trace_ms"] = {"p50": round(statistics.median(samples), 1), "max": round(max(samples), 1)}
        finally:
            hub.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=10_000, help="orders for the in-memory evaluation (0: skip it)")
    parser.add_argument("--route", type=int, default=6_000, help="paid orders to route against PostgreSQL")
    parser.add_argument("--hubs", type=int, default=max(2, min(4, os.cpu_count() or 2)))
    args = parser.parse_args()
    ev = evaluation(args.orders) if args.orders else {"orders_per_s": 0, "skipped": True}
    if not ev.get("skipped"):
        print(f"rule evaluation: {ev['orders']:,} orders × {ev['rules']} rules: {ev['orders_per_s']:,} orders/s "
              f"({ev['orders_per_cpu_s']:,} per CPU-second; evaluation alone {ev['evaluate_only_orders_per_s']:,}/s), "
              f"{ev['rules_fired_per_order']} rules fire per order")
    al = allocation(args.route, args.hubs)
    for key, value in al.items():
        if isinstance(value, dict) and "orders_per_s" in value:
            cpu = value["cpu_ms_per_order"]
            print(f"allocation ({key}): {value['orders']:,} orders in {value['seconds']} s = {value['orders_per_s']:,} orders/s"
                  f" at load {value['load_avg_1m']['start']}→{value['load_avg_1m']['end']}; CPU per order hub {cpu['hub']}"
                  f" + PostgreSQL {cpu['postgres']} = {cpu['total']} ms ({value['orders_per_cpu_s']:,} orders per CPU-second);"
                  f" {value['outcomes']}; shares % {value['what_happened']['shares_pct']}")
    print(f"books: {al['books']}; trace: {al['trace_ms']} ms; load {os.getloadavg()[0]:.1f}")
    headline = al["one_hub_pipelined_batch_100"]
    figures = {"evaluation": ev, "allocation": al, "cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0],
               "targets": {"evaluation_orders_per_s": 10_000, "allocation_orders_per_s": 1_000,
                           "allocation_cpu_ms_per_order": 0.9, "allocation_cpu_ms_per_order_aim": 0.6},
               "headline": "one_hub_pipelined_batch_100",
               "met": {"evaluation": ev["orders_per_s"] > 10_000, "allocation": headline["orders_per_s"] > 1_000,
                       "allocation_cpu": headline["cpu_ms_per_order"]["total"] <= 0.9,
                       "no_oversell": al["books"]["stock_rows_out_of_balance"] == 0}}
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
