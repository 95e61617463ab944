"""The rollups the triggers keep equal a full recount after any sequence of changes."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.health import RESCUE_ACTIONS
from app.services import health_ops
from tests.health.world import build, order, rescue, ship

H = timedelta(hours=1)

step = st.one_of(
    st.tuples(st.just("order"), st.sampled_from(["dy", "tb"]), st.integers(0, 30), st.sampled_from([None, "hz", "hf"])),
    st.tuples(st.just("ship"), st.integers(0, 50), st.integers(-5, 40)),
    st.tuples(st.just("rescue"), st.integers(0, 50), st.sampled_from([*RESCUE_ACTIONS, "order.warehouse_note"])),
    st.tuples(st.just("stage"), st.integers(0, 50), st.sampled_from(["paid", "allocating", "shipped", "cancelled"])),
    st.tuples(st.just("platform"), st.integers(0, 50)),
    st.tuples(st.just("erp"), st.integers(0, 50), st.sampled_from(["paid", "shipped", "completed"])),
    st.tuples(st.just("move"), st.integers(0, 50), st.sampled_from(["hz", "hf"]), st.integers(0, 30)),
    st.tuples(st.just("unship"), st.integers(0, 50)),
    st.tuples(st.just("delete"), st.integers(0, 50)),
)


def _apply(world, orders: list[str], op: tuple) -> None:
    kind = op[0]
    if kind == "order":
        orders.append(order(world, op[1], ordered_at=world.now - op[2] * H, warehouse=op[3],
                            ship_by=world.now - op[2] * H + 24 * H))
        return
    if not orders:
        return
    no = orders[op[1] % len(orders)]
    with world.hub.uow() as uow:
        s = uow.session
        if kind == "ship":
            uow.session.close()
            ship(world, no, world.now - timedelta(hours=op[2]))
            return
        if kind == "rescue":
            uow.session.close()
            rescue(world, no, op[2])
            return
        p = {"n": no}
        if kind == "stage":
            s.execute(sa.text("UPDATE orders SET status = :v WHERE order_no = :n"), p | {"v": op[2]})
        elif kind == "platform":
            s.execute(sa.text("UPDATE orders SET platform_status = 'WAIT_BUYER_CONFIRM_GOODS', "
                              "platform_updated_at = platform_updated_at + interval '1 minute' WHERE order_no = :n"), p)
        elif kind == "erp":
            s.execute(sa.text("INSERT INTO order_outside_status (order_id, source, stage) SELECT id, 'erp', :v "
                              "FROM orders WHERE order_no = :n ON CONFLICT (order_id, source) DO UPDATE "
                              "SET stage = excluded.stage"), p | {"v": op[2]})
        elif kind == "move":
            s.execute(sa.text("UPDATE orders SET warehouse_id = (SELECT id FROM warehouses WHERE code = :w), "
                              "ordered_at = ordered_at - make_interval(hours => :h) WHERE order_no = :n"),
                      p | {"w": op[2].upper(), "h": op[3]})
        elif kind == "unship":
            s.execute(sa.text("DELETE FROM shipments WHERE order_id = (SELECT id FROM orders WHERE order_no = :n)"), p)
        elif kind == "delete":
            s.execute(sa.text("DELETE FROM shipments WHERE order_id = (SELECT id FROM orders WHERE order_no = :n)"), p)
            s.execute(sa.text("DELETE FROM orders WHERE order_no = :n"), p)
            orders.remove(no)
        uow.commit()


@pytest.fixture
def company(hub):
    """One company for all examples of a property run: changes pile up example after example."""
    return build(hub), []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(ops=st.lists(step, min_size=1, max_size=12))
def test_rollups_equal_a_full_recount_after_random_changes(company, ops):
    world, orders = company
    for op in ops:
        _apply(world, orders, op)
    assert health_ops.stored_rollup(world.hub.uow()) == health_ops.recomputed_rollup(world.hub.uow())


def test_rebuilding_from_scratch_gives_the_sums_the_triggers_kept(hub):
    world = build(hub)
    for n in range(5):
        no = order(world, "dy", ordered_at=world.now - n * H, warehouse="hz", ship_by=world.now + H)
        ship(world, no, world.now - n * H + H)
        if n % 2:
            rescue(world, no, "order.expedite")
    kept = health_ops.stored_rollup(hub.uow())
    assert health_ops.rebuild(hub.uow()) == 5
    assert health_ops.stored_rollup(hub.uow()) == kept == health_ops.recomputed_rollup(hub.uow())
    assert sum(c.rescued for c in kept.values()) == 2


def test_the_migration_and_the_domain_name_the_same_rescue_actions():
    text = (Path(__file__).parents[2] / "app/db/migrations/versions/0012_health.py").read_text(encoding="utf-8")
    literal = re.search(r'RESCUE_ACTIONS = "\((.*)\)"', text)
    assert literal is not None
    assert tuple(a.strip(" '") for a in literal.group(1).split(",")) == RESCUE_ACTIONS


def test_a_rescue_written_while_another_writer_holds_the_order_waits_instead_of_deadlocking(hub):
    """Writer A locks the order and then audits it; writer B audits a rescue of the same order without
    locking it first. B must queue behind A for the order before it takes the audit chain's lock."""
    import threading

    world = build(hub)
    no = order(world, "dy", ordered_at=world.now - H, warehouse="hz", ship_by=world.now + H)
    insert = sa.text("INSERT INTO audit_log (operator, action, entity_type, entity_id, basis) "
                     "VALUES (:who, :action, 'order', :no, '依据')")
    errors: list[BaseException] = []
    with hub.engine.connect() as a:
        a.execute(sa.text("UPDATE orders SET seller_note = '加急' WHERE order_no = :no"), {"no": no})

        def writer_b() -> None:
            try:
                with hub.engine.begin() as b:
                    b.execute(insert, {"who": "chen.bz", "action": "slip.reprint", "no": no})
            except BaseException as err:  # noqa: BLE001 - the test reports whatever went wrong
                errors.append(err)

        thread = threading.Thread(target=writer_b)
        thread.start()
        thread.join(1.0)  # B is now waiting for the order A holds
        a.execute(insert, {"who": "xiaomei", "action": "order.warehouse_note", "no": no})
        a.commit()
    thread.join(30)
    assert not thread.is_alive() and errors == []
    assert health_ops.stored_rollup(hub.uow()) == health_ops.recomputed_rollup(hub.uow())
    assert sum(c.rescues for c in health_ops.stored_rollup(hub.uow()).values()) == 1
