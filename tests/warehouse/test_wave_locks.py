"""Making a wave locks only the orders it takes, and never waits for one held elsewhere (issue #18's peak day).

It used to lock every ready order of the warehouse while it ranked them (reading each one's lines), so
customer service's notes and the hub's routing queued behind every wave. Now the ready orders are read
and ranked unlocked, and only the chosen are locked, with SKIP LOCKED: an order held this instant goes
in a later wave, the next in rank takes its place.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.domain.clock import now
from app.services import waves
from tests.warehouse.world import LEAD, make_order


def test_a_wave_skips_an_order_held_elsewhere_takes_the_next_and_leaves_the_rest_unlocked(wh):
    first = make_order(wh, [("T2601-01-110", 1)], ship_by=now() + timedelta(hours=2))
    second = make_order(wh, [("T2601-01-110", 1)], ship_by=now() + timedelta(hours=4))
    third = make_order(wh, [("T2601-01-110", 1)], ship_by=now() + timedelta(hours=6))
    fourth = make_order(wh, [("T2601-01-110", 1)], ship_by=now() + timedelta(hours=8))
    holder = wh.hub.engine.connect()  # a note being saved on the most pressing order
    holder.execute(sa.text("SELECT id FROM orders WHERE order_no = :o FOR UPDATE"), {"o": first})
    try:
        wave = waves.create_wave(wh.hub.uow(), "HZ", LEAD, max_orders=2)
        assert wave.order_nos == (second, third)  # without waiting for the held one
    finally:
        holder.rollback()
        holder.close()
    later = waves.create_wave(wh.hub.uow(), "HZ", LEAD)
    assert set(later.order_nos) == {first, fourth}  # the held one goes in the next wave


def test_an_order_changed_after_it_was_read_is_judged_as_it_now_is(wh, monkeypatch):
    moved = make_order(wh, [("T2601-01-110", 1)], ship_by=now() + timedelta(hours=2))
    stays = make_order(wh, [("T2601-01-110", 1)], ship_by=now() + timedelta(hours=4))
    read = waves._candidates

    def then_cancelled(session, warehouse_id):  # noqa: ANN001, ANN202 - another transaction commits meanwhile
        found = read(session, warehouse_id)
        with wh.hub.engine.begin() as conn:
            conn.execute(sa.text("UPDATE orders SET status = 'cancelled' WHERE order_no = :o"), {"o": moved})
        return found

    monkeypatch.setattr(waves, "_candidates", then_cancelled)
    wave = waves.create_wave(wh.hub.uow(), "HZ", LEAD)
    assert wave.order_nos == (stays,)
