"""Pipelined routing (``route_stream``): batch N+1 is decided while batch N commits, on the stock N
leaves — the same decisions as batch by batch, a foreign stock change in between is seen, and
pipelined allocators racing on scarce stock never oversell and decide each order once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import sqlalchemy as sa

from app.domain.actor import Actor
from app.services import routing
from tests.routing.test_concurrency import T, W, _books_balance, _rule
from tests.routing.world import HUB, make_order, set_stock, stock


def _stream(world, batches, actor=HUB, stats=None) -> list[routing.RoutingResult]:
    return [r for results in routing.route_stream(world.hub.uow, batches, actor, stats=stats) for r in results]


def _decisions(world, order_nos: list[str]) -> Counter[str]:
    with world.hub.uow() as uow:
        return Counter(dict(uow.session.execute(sa.text(
            "SELECT o.order_no, count(*) FROM routing_decisions d JOIN orders o ON o.id = d.order_id"
            " WHERE o.order_no = ANY(:nos) GROUP BY 1"), {"nos": order_nos}).all()))


def test_a_stream_decides_as_batch_by_batch_would_and_says_how_each_batch_went(world):
    _rule(world)
    set_stock(world, "HZ", T, 20, safety=5)
    set_stock(world, "HF", T, 10)
    orders = [make_order(world, [(T, 1)]) for _ in range(36)]
    stats = routing.StreamStats()
    results = _stream(world, [orders[i:i + 4] for i in range(0, 36, 4)], stats=stats)
    # In order: 15 whole from 杭州 above safety, 10 overflow to 合肥, 5 from 杭州's safety stock, then short.
    assert [r.order_no for r in results] == orders
    assert [(r.outcome, r.warehouses) for r in results] == (
        [("allocated", ("HZ",))] * 15 + [("allocated", ("HF",))] * 10 + [("allocated", ("HZ",))] * 5
        + [("shortage", ())] * 6)
    assert (stats.batches, stats.ahead, stats.redecided, stats.retried) == (9, 9, 0, 0)
    assert stock(world, "HZ", T) == (20, 20) and stock(world, "HF", T) == (10, 10)
    assert sum(_books_balance(world, orders).values()) == 30
    assert set(_decisions(world, orders).values()) == {1}


def test_a_stock_report_arriving_between_batches_is_seen_by_the_next_batch(world):
    set_stock(world, "HZ", T, 10)
    orders = [make_order(world, [(T, 1)]) for _ in range(6)]

    def batches() -> Iterator[list[str]]:
        yield orders[:3]
        # The first batch is committing; the ERP reports only 4 on hand (this waits for its row lock).
        with world.hub.engine.begin() as conn:
            conn.execute(sa.text("UPDATE stock SET on_hand = 4 WHERE sku_id = :s AND warehouse_id = :w"),
                         {"s": world.sku[T], "w": world.warehouse["HZ"]})
        yield orders[3:]

    stats = routing.StreamStats()
    results = _stream(world, batches(), stats=stats)
    # Predicted on 10 on hand all three would fit; on the 4 locked, one does.
    assert [r.outcome for r in results] == ["allocated"] * 4 + ["shortage"] * 2
    assert (stats.batches, stats.ahead, stats.redecided) == (2, 1, 1)
    assert stock(world, "HZ", T) == (4, 4)
    assert sum(_books_balance(world, orders).values()) == 4


def test_orders_that_need_no_decision_and_unknown_numbers_pass_through_in_order(world):
    set_stock(world, "HZ", T, 5)
    done = make_order(world, [(T, 1)], status="shipped")
    fresh = [make_order(world, [(T, 1)]) for _ in range(2)]
    results = _stream(world, [[done, "OH-NO-SUCH"], fresh, [done]])
    assert [(r.order_no, r.outcome) for r in results] == [
        (done, "skipped"), (fresh[0], "allocated"), (fresh[1], "allocated"), (done, "skipped")]
    assert stock(world, "HZ", T) == (5, 2)


def test_pipelined_allocators_racing_on_scarce_stock_never_oversell_and_decide_each_order_once(world):
    _rule(world)
    set_stock(world, "HZ", T, 14, safety=2)
    set_stock(world, "HF", T, 6)
    set_stock(world, "HZ", W, 9)
    orders = [make_order(world, [(T, 1), (W, 1)] if i % 3 == 0 else [(T, 2)]) for i in range(30)]
    # Three allocators over the same orders in different orders of batches: two pipelined, one plain.
    plans = {"a": [orders[i:i + 3] for i in range(0, 30, 3)],
             "b": [list(reversed(orders))[i:i + 4] for i in range(0, 30, 4)],
             "c": [orders[1::2], orders[0::2]]}
    start = threading.Barrier(len(plans))
    results: dict[str, list[routing.RoutingResult]] = {}
    errors: list[BaseException] = []

    def allocator(name: str) -> None:
        actor = Actor(f"system:hub-{name}", f"hub-{name}")
        try:
            start.wait()
            if name == "c":
                results[name] = [r for b in plans[name] for r in routing.route_orders(world.hub.uow(), b, actor)]
            else:
                results[name] = _stream(world, plans[name], actor)
        except BaseException as err:  # surfaced below, never lost in a thread
            errors.append(err)

    threads = [threading.Thread(target=allocator, args=(n,)) for n in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not errors, errors
    assert all(len(results[n]) == 30 for n in plans)
    # Each order is allocated by exactly one allocator, once; the others find it allocated (unchanged). An
    # order left short stays 已支付, so whoever reaches it next tries again (a decision each time).
    allocated = Counter(r.order_no for rs in results.values() for r in rs if r.outcome in ("allocated", "split"))
    assert set(allocated.values()) == {1}
    decisions = _decisions(world, orders)
    assert set(decisions) == set(orders) and {decisions[no] for no in allocated} == {1}
    reserved = _books_balance(world, orders)
    with world.hub.uow() as uow:
        t_reserved = uow.session.scalar(sa.text("SELECT sum(reserved) FROM stock WHERE sku_id = :s"), {"s": world.sku[T]})
    assert t_reserved == 20  # 40 units of T asked for, 20 on hand: every unit went, none twice
    assert {no for no, v in reserved.items() if v} == set(allocated)
