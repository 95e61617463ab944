"""What one routing batch writes beside its decisions: the health rollups stay exact, ERP events come one per
order in the order written, and a reservation can only name its own order's decision and its stock row's SKU
and warehouse (migration 0031)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.services import health_ops, routing
from tests.routing.world import HUB, make_order, order, save, set_stock

T, W, J = "T2601-01-110", "W2602-01-120", "J2603-02-130"


def _mixed_batch(world) -> dict[str, str]:
    """Four orders routed in one transaction: one allocated whole, one split, one short, one held."""
    set_stock(world, "HZ", T, 5)
    set_stock(world, "HZ", W, 1)
    set_stock(world, "HF", W, 1)
    save(world, "R-AMOUNT", "金额异常挂起审核", {"field": "paid_amount", "op": "gte", "value": "2000"},
         [{"type": "hold", "reason": "abnormal_amount"}], priority=1)
    nos = {"allocated": make_order(world, [(T, 2)]), "split": make_order(world, [(W, 2)]),
           "shortage": make_order(world, [(J, 1)]), "held": make_order(world, [(T, 1)], paid="2999.00")}
    results = routing.route_orders(world.hub.uow(), list(nos.values()), HUB)
    assert [r.outcome for r in results] == list(nos)
    return nos


def test_a_batch_with_every_outcome_keeps_the_health_rollups_equal_to_a_recount(world):
    nos = _mixed_batch(world)
    assert health_ops.stored_rollup(world.hub.uow()) == health_ops.recomputed_rollup(world.hub.uow())
    with world.hub.uow() as uow:
        exceptions = dict(uow.session.execute(sa.text(
            "SELECT o.order_no, f.exception FROM health_order_facts f JOIN orders o ON o.id = f.order_id")).all())
    # split and held are exceptions (规则可追溯性 lists them); allocated and short are not
    assert {no: exceptions[no] for no in nos.values()} == {
        nos["allocated"]: False, nos["split"]: True, nos["shortage"]: False, nos["held"]: True}
    # cancelled and released again: still exact
    with world.hub.uow() as uow:
        uow.session.execute(sa.text("UPDATE orders SET status = 'cancelled' WHERE order_no = ANY(:n)"),
                            {"n": [nos["allocated"], nos["split"]]})
        uow.commit()
    assert [r.outcome for r in routing.route_orders(world.hub.uow(), [nos["allocated"], nos["split"]], HUB)] == [
        "released", "released"]
    assert health_ops.stored_rollup(world.hub.uow()) == health_ops.recomputed_rollup(world.hub.uow())


def test_a_batch_sends_the_erp_one_stage_change_per_order_in_the_order_written(world):
    with world.hub.uow() as uow:
        uow.session.execute(sa.text("INSERT INTO erp_endpoints (code, name, url, secret_ref) VALUES"
                                    " ('ERP1', '金蝶云星空', 'http://127.0.0.1:9/hook', 'orderhub:erp:ERP1')"))
        uow.commit()
    set_stock(world, "HZ", T, 9)
    nos = [make_order(world, [(T, 1)]) for _ in range(3)]
    routing.route_orders(world.hub.uow(), nos, HUB)
    with world.hub.uow() as uow:
        sent = uow.session.execute(sa.text(
            "SELECT payload->>'order_no', payload->>'type', payload->'data'->>'status_before',"
            " payload->'data'->>'status', (payload->'data'->>'version')::int FROM outbox"
            " WHERE topic = 'erp' AND payload->>'type' = 'order.stage_changed' ORDER BY (payload->>'event_id')::bigint")).all()
        written = list(uow.session.scalars(sa.text(
            "SELECT order_no FROM orders WHERE order_no = ANY(:n) ORDER BY change_seq"), {"n": nos}))
    assert [tuple(r) for r in sent] == [(no, "order.stage_changed", "paid", "allocating", order(world, no)["version"])
                                        for no in written]
    # nothing changes stage when the same lines are routed again: no event
    routing.route_orders(world.hub.uow(), nos, HUB)
    with world.hub.uow() as uow:
        assert uow.session.scalar(sa.text(
            "SELECT count(*) FROM outbox WHERE topic = 'erp' AND payload->>'type' = 'order.stage_changed'")) == 3


@pytest.mark.parametrize("wrong", ["sku", "warehouse", "another_orders_decision"])
def test_a_reservation_cannot_disagree_with_its_decision_or_its_stock_row(world, wrong):
    set_stock(world, "HZ", T, 5)
    mine, other = make_order(world, [(T, 1)]), make_order(world, [(T, 1)])
    routing.route_orders(world.hub.uow(), [mine, other], HUB)
    with world.hub.uow() as uow:
        s = uow.session
        row = dict(s.execute(sa.text(
            "SELECT r.order_id, r.decision_id, r.stock_id, r.sku_id, r.warehouse_id FROM stock_reservations r"
            " JOIN orders o ON o.id = r.order_id WHERE o.order_no = :n"), {"n": mine}).mappings().one())
        if wrong == "sku":
            row["sku_id"] = world.sku[W]
        elif wrong == "warehouse":
            row["warehouse_id"] = world.warehouse["HF"]
        else:
            row["decision_id"] = s.scalar(sa.text(
                "SELECT d.id FROM routing_decisions d JOIN orders o ON o.id = d.order_id WHERE o.order_no = :n"),
                {"n": other})
        with pytest.raises(sa.exc.IntegrityError, match="foreign key"):
            s.execute(sa.text(
                "INSERT INTO stock_reservations (order_id, decision_id, stock_id, sku_id, warehouse_id, line_no, part_no,"
                " qty) VALUES (:order_id, :decision_id, :stock_id, :sku_id, :warehouse_id, 1, 1, 1)"), row)
