"""The warehouse's ship scan queues the ship confirmation and the tracking subscription in the same transaction."""

from __future__ import annotations

import sqlalchemy as sa

from app.domain.slip import order_qr
from app.services import picking, waves
from tests.warehouse.world import BARCODE, LEAD, PICKER, build, make_order


def _queued(hub):
    with hub.uow() as uow:
        return {r[0]: r[1] for r in uow.session.execute(sa.text("SELECT topic, payload FROM outbox"))}


def test_scanning_the_label_ships_the_order_and_queues_its_confirmation_and_subscription(hub):
    wh = build(hub)
    order_no = make_order(wh, [("T2601-01-110", 1)])
    waves.create_wave(hub.uow(), "HZ", LEAD)
    picking.scan(hub.uow(), order_qr(order_no), PICKER)
    picking.scan(hub.uow(), BARCODE["T2601-01-110"], PICKER)
    assert "platform.ship" not in _queued(hub)  # nothing leaves before the label is scanned
    shipped = picking.scan(hub.uow(), "YT9876543210123", PICKER)
    assert shipped.kind == "shipped"
    queued = _queued(hub)
    ship, subscribe = queued["platform.ship"], queued["carrier.subscribe"]
    assert (ship["order_no"], ship["tracking_no"], ship["carrier"], ship["platform"]) == \
        (order_no, "YT9876543210123", "圆通速递", "douyin")
    assert subscribe["tracking_no"] == "YT9876543210123"


def test_a_refused_label_scan_queues_nothing(hub):
    wh = build(hub)
    order_no = make_order(wh, [("T2601-01-110", 1)])
    waves.create_wave(hub.uow(), "HZ", LEAD)
    picking.scan(hub.uow(), order_qr(order_no), PICKER)
    picking.scan(hub.uow(), BARCODE["T2601-01-110"], PICKER)
    assert picking.scan(hub.uow(), "bad label!", PICKER).ok is False
    assert "platform.ship" not in _queued(hub) and "carrier.subscribe" not in _queued(hub)
