"""Cancelling at a station gives the reserved stock back, through the same service customer service uses."""

from datetime import UTC, datetime

import sqlalchemy as sa

from app.db.routing_models import StockReservation
from app.demo.seed import seed_demo
from app.domain.actor import Actor
from app.services import orders

CS = Actor("xiaomei", "客服工作台-01", "10.20.1.17")


def test_a_cancelled_order_being_picked_releases_every_reserved_unit(hub):
    seed_demo(hub, seed=9, n_orders=300, anchor=datetime(2026, 11, 25, 4, tzinfo=UTC))
    with hub.uow() as uow:
        order_id, order_no, version = uow.session.execute(sa.text(
            "SELECT o.id, o.order_no, o.version FROM orders o JOIN stock_reservations r ON r.order_id = o.id "
            "WHERE r.status = 'active' AND o.status = 'allocating' ORDER BY o.id LIMIT 1")).one()
        held = uow.session.execute(sa.select(StockReservation.stock_id, StockReservation.qty).where(
            StockReservation.order_id == order_id, StockReservation.status == "active")).all()
        before = {sid: uow.session.scalar(sa.text("SELECT reserved FROM stock WHERE id = :i"), {"i": sid}) for sid, _ in held}
    orders.cancel(hub.uow(), order_no, expected_version=version, actor=CS, basis="电话录音：客户取消")
    with hub.uow() as uow:
        active = uow.session.scalar(sa.select(sa.func.count()).select_from(StockReservation).where(
            StockReservation.order_id == order_id, StockReservation.status == "active"))
        after = {sid: uow.session.scalar(sa.text("SELECT reserved FROM stock WHERE id = :i"), {"i": sid}) for sid, _ in held}
    assert active == 0
    for sid, qty in held:
        assert after[sid] == before[sid] - qty
