"""Several hubs allocating at once against one PostgreSQL never oversell (threads, processes, and a property)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.actor import Actor
from app.services import routing
from tests.routing.world import make_order, save, set_stock

REPO = Path(__file__).resolve().parents[2]
T, W = "T2601-01-110", "W2602-01-120"


def _rule(world):
    save(world, "R-JZH-HZ", "江浙沪订单优先杭州仓，低于安全水位溢出至合肥云仓",
         {"field": "province", "op": "in", "value": ["浙江省", "江苏省", "上海市"]},
         [{"type": "choose_warehouse", "warehouses": ["HZ", "HF"]}], priority=10)


def _books_balance(world, order_nos: list[str] | None = None) -> dict[str, int]:
    """Every stock row: reserved equals its active reservations and never exceeds on hand.
    Every routed order is reserved in full or not at all. Returns reserved units by order."""
    with world.hub.uow() as uow:
        s = uow.session
        rows = s.execute(sa.text(
            "SELECT s.id, s.on_hand, s.reserved, coalesce(sum(r.qty) FILTER (WHERE r.status = 'active'), 0)"
            " FROM stock s LEFT JOIN stock_reservations r ON r.stock_id = s.id GROUP BY s.id")).all()
        for sid, on_hand, reserved, active in rows:
            assert reserved == active, f"stock row {sid}: reserved {reserved} but reservations say {active}"
            assert 0 <= reserved <= on_hand, f"stock row {sid} oversold: {reserved} reserved of {on_hand}"
        per_line = s.execute(sa.text(
            "SELECT o.order_no, (l->>'line_no')::int, (l->>'qty')::int, o.status,"
            " coalesce((SELECT sum(r.qty) FROM stock_reservations r WHERE r.order_id = o.id AND r.status = 'active'"
            " AND r.line_no = (l->>'line_no')::int), 0) FROM orders o, jsonb_array_elements(o.items) l"
            " WHERE CAST(:nos AS text[]) IS NULL OR o.order_no = ANY(:nos)"), {"nos": order_nos}).all()
    reserved_by_order: Counter[str] = Counter()
    for order_no, _, qty, status, got in per_line:
        assert got in (0, qty), f"{order_no}: line reserved {got} of {qty}"
        assert (got == qty) == (status == "allocating"), f"{order_no} is {status} with {got} of {qty} reserved"
        reserved_by_order[order_no] += got
    return dict(reserved_by_order)


def _race(world, batches: list[list[str]]) -> list[str]:
    start = threading.Barrier(len(batches))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def allocator(order_nos: list[str], n: int) -> None:
        actor = Actor(f"system:hub-{n}", f"hub-{n}")
        try:
            start.wait()
            for no in order_nos:
                outcomes.append(routing.route_order(world.hub.uow(), no, actor).outcome)
        except BaseException as err:  # surfaced below, never lost in a thread
            errors.append(err)

    threads = [threading.Thread(target=allocator, args=(b, n)) for n, b in enumerate(batches)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return outcomes


def test_six_threads_allocating_the_last_units_at_once_never_oversell(world):
    _rule(world)
    set_stock(world, "HZ", T, 20, safety=5)
    set_stock(world, "HF", T, 10)
    orders = [make_order(world, [(T, 1)]) for _ in range(48)]
    outcomes = _race(world, [orders[i::6] for i in range(6)])
    assert Counter(outcomes) == {"allocated": 30, "shortage": 18}  # 15 above safety at HZ, 10 at HF, 5 from HZ's safety stock
    assert sum(_books_balance(world).values()) == 30


def test_concurrent_hubs_routing_the_same_orders_decide_each_once(world):
    _rule(world)
    set_stock(world, "HZ", T, 100)
    orders = [make_order(world, [(T, 2)]) for _ in range(20)]
    outcomes = _race(world, [orders, list(reversed(orders)), orders[::2] + orders[1::2]])
    assert Counter(outcomes) == {"allocated": 20, "unchanged": 40}
    assert set(_books_balance(world).values()) == {2}


def test_separate_allocator_processes_against_one_database_never_oversell(world, database_url, tmp_path):
    _rule(world)
    set_stock(world, "HZ", T, 14, safety=2)
    set_stock(world, "HF", T, 6)
    set_stock(world, "HZ", W, 9)
    orders = [make_order(world, [(T, 1), (W, 1)] if i % 3 == 0 else [(T, 2)]) for i in range(24)]
    go = tmp_path / "go"
    url = database_url.render_as_string(hide_password=False)
    procs = [subprocess.Popen([sys.executable, "-m", "tests.routing.allocators", url, str(go), *orders[i::4]],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    go.touch()
    outcomes: Counter[str] = Counter()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outcomes.update(json.loads(out.strip().splitlines()[-1]).values())
    reserved = _books_balance(world)
    assert outcomes["allocated"] + outcomes["split"] == sum(1 for v in reserved.values() if v)
    with world.hub.uow() as uow:
        t_reserved = uow.session.scalar(sa.text("SELECT sum(reserved) FROM stock WHERE sku_id = :s"), {"s": world.sku[T]})
    assert t_reserved == 20  # every unit of T went, none twice


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(hz=st.tuples(st.integers(0, 12), st.integers(0, 4)), hf=st.tuples(st.integers(0, 8), st.integers(0, 3)),
       quantities=st.lists(st.lists(st.tuples(st.sampled_from([T, W]), st.integers(1, 4)), min_size=1, max_size=2,
                                    unique_by=lambda line: line[0]), min_size=2, max_size=10),
       hubs=st.integers(2, 4))
def test_whatever_the_stock_orders_and_number_of_hubs_the_books_balance(world, hz, hf, quantities, hubs):
    with world.hub.uow() as uow:  # fresh stock for each example; earlier examples' orders are left out of the checks
        uow.session.execute(sa.text("TRUNCATE stock CASCADE"))
        uow.commit()
    _rule(world)  # the same content again is no new version
    for sku in (T, W):
        set_stock(world, "HZ", sku, hz[0] + hz[1], safety=hz[1])
        set_stock(world, "HF", sku, hf[0] + hf[1], safety=hf[1])
    orders = [make_order(world, lines) for lines in quantities]
    outcomes = _race(world, [orders[i::hubs] for i in range(hubs)])
    reserved = _books_balance(world, orders)
    assert len(outcomes) == len(orders)
    for sku in (T, W):
        with world.hub.uow() as uow:
            total = uow.session.scalar(sa.text("SELECT sum(reserved) FROM stock WHERE sku_id = :s"), {"s": world.sku[sku]})
        assert total <= hz[0] + hz[1] + hf[0] + hf[1]
    assert sum(reserved.values()) == sum(
        qty for no, lines in zip(orders, quantities, strict=True) if reserved.get(no) for _, qty in lines)

