"""Split parcels reach each platform in its own split form, exactly once per parcel (issue #15)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.domain.actor import Actor
from app.hub.writeback_dispatch import dispatch_ship
from app.services import parcels, writeback

PICKER = Actor("li.sf", "仓库工作台-01", "10.20.3.7")
CALL = {"taobao": "taobao.logistics.offline.send", "douyin": "order.logisticsAddMultiPack",
        "wechat": "/channels/ec/order/delivery/send"}


def _picking(hub, order_no) -> int:
    """The order is being picked (the warehouse side is tested in tests/warehouse/test_split_parcels.py)."""
    with hub.uow() as uow:
        version = uow.session.scalar(sa.text("UPDATE orders SET status = 'allocating' WHERE order_no = :o"
                                             " RETURNING version"), {"o": order_no})
        uow.commit()
    return version


def _due(hub):
    with hub.uow() as uow:
        uow.session.execute(sa.text("UPDATE outbox SET next_attempt_at = now() WHERE status = 'pending'"))
        uow.commit()


def _two_parcels(hub, ch):
    sim, order_no = ch.take_order(lines=2)
    first = parcels.ship_parcel(hub.uow(), order_no, "SF1234567890123", [{"line_no": 1, "qty": sim.lines[0].qty}],
                                expected_version=_picking(hub, order_no), actor=PICKER)
    rest = [{"line_no": n, "qty": ln.qty} for n, ln in enumerate(sim.lines[1:], 2)]
    return sim, order_no, first, rest


@pytest.mark.parametrize("platform", ["taobao", "douyin", "wechat"])
def test_each_parcel_confirms_its_own_sub_orders_and_the_platform_order_is_shipped_after_the_last(hub, channel, platform):
    ch = channel(platform)
    sim, order_no, first, rest = _two_parcels(hub, ch)
    assert first.order_status == "partially_shipped"
    assert dispatch_ship(hub, ch.connector_for).sent == 1
    world = ch.world.orders[sim.order_id]
    assert world.lines[0].shipped_in == "SF1234567890123" and not world.lines[1].shipped_in
    assert world.status == "paid"  # the platform's order is 部分发货, not shipped
    last = parcels.ship_parcel(hub.uow(), order_no, "YT9876543210123", rest, expected_version=first.version, actor=PICKER)
    assert last.order_status == "shipped"
    assert dispatch_ship(hub, ch.connector_for).sent == 1
    world = ch.world.orders[sim.order_id]
    assert [ln.shipped_in for ln in world.lines[1:]] == ["YT9876543210123"] * (len(world.lines) - 1)
    assert world.status == "shipped"
    assert [a["call"] for a in writeback.attempts(hub.uow(), order_no) if a["kind"] == "ship"] == [CALL[platform]] * 2
    if platform == "taobao":
        sends = [c for c in ch.sim.calls if c["method"] == CALL["taobao"]]
        assert [(c["is_split"], c["sub_tid"]) for c in sends] == [
            ("1", sim.lines[0].line_id), ("1", ",".join(ln.line_id for ln in sim.lines[1:]))]


def test_pdd_ships_the_order_with_the_first_parcel_and_takes_the_next_as_an_extra_waybill(hub, channel):
    ch = channel("pdd")
    sim, order_no, first, rest = _two_parcels(hub, ch)
    assert dispatch_ship(hub, ch.connector_for).sent == 1
    parcels.ship_parcel(hub.uow(), order_no, "YT9876543210123", rest, expected_version=first.version, actor=PICKER)
    assert dispatch_ship(hub, ch.connector_for).sent == 1
    world = ch.world.orders[sim.order_id]
    assert (world.tracking_no, world.extra_tracks) == ("SF1234567890123", ["YT9876543210123"])
    assert ch.sim_calls().count("pdd.order.upload.extra.logistics") == 1
    extra = next(c for c in ch.sim.calls if c["type"] == "pdd.order.upload.extra.logistics")
    assert extra["extra_track_type"] == "1"


@pytest.mark.parametrize("platform", ["taobao", "douyin"])
def test_a_split_parcel_whose_answer_was_lost_after_the_platform_applied_it_is_never_applied_twice(hub, channel, platform):
    ch = channel(platform)
    sim, order_no, first, rest = _two_parcels(hub, ch)
    ch.world.faults.lost_answer_next = 1
    assert dispatch_ship(hub, ch.connector_for).retry == 1  # applied on the platform, the answer lost
    assert ch.world.orders[sim.order_id].lines[0].shipped_in == "SF1234567890123"
    _due(hub)
    report = dispatch_ship(hub, ch.connector_for)
    assert report.already + report.sent == 1 and report.retry == report.failed == 0
    assert ch.world.shipments_applied.count((sim.order_id, "SF1234567890123")) == 1
    sends = [c for c in ch.sim_calls() if c == CALL[platform]]
    assert len(sends) == 1  # the retry read the platform's order back (the waybill was there) instead of resending
    parcels.ship_parcel(hub.uow(), order_no, "YT9876543210123", rest, expected_version=first.version, actor=PICKER)
    assert dispatch_ship(hub, ch.connector_for).sent == 1
    assert ch.world.orders[sim.order_id].status == "shipped"


def test_the_next_pull_after_a_split_parcel_keeps_the_order_partly_shipped(hub, channel):
    from app.hub.pollers import ingest_raw

    ch = channel("taobao")
    sim, order_no, first, rest = _two_parcels(hub, ch)
    dispatch_ship(hub, ch.connector_for)
    connector = ch.connector()
    try:
        ingest_raw(hub, ch.shop, connector, [connector.fetch(sim.order_id)])
    finally:
        connector.close()
    with hub.uow() as uow:
        assert uow.session.scalar(sa.text("SELECT status FROM orders WHERE order_no = :o"), {"o": order_no}) \
            == "partially_shipped"


def test_a_douyin_parcel_resent_after_a_lost_answer_is_applied_once_by_its_request_id(hub, channel):
    """The second parcel's waybill is not on 抖店's order detail, so a lost answer means sending again: the
    multi-pack call's request_id (our outbox key) makes 抖店 answer from its first result."""
    ch = channel("douyin")
    sim, order_no, first, rest = _two_parcels(hub, ch)
    dispatch_ship(hub, ch.connector_for)
    parcels.ship_parcel(hub.uow(), order_no, "YT9876543210123", rest, expected_version=first.version, actor=PICKER)
    ch.world.faults.lost_answer_next = 1
    assert dispatch_ship(hub, ch.connector_for).retry == 1
    _due(hub)
    assert dispatch_ship(hub, ch.connector_for).sent == 1
    sends = [c for c in ch.sim.calls if c["method"] == CALL["douyin"]]
    assert len(sends) == 3 and sends[1]["request_id"] == sends[2]["request_id"] == "ship:YT9876543210123"
    assert ch.world.shipments_applied.count((sim.order_id, "YT9876543210123")) == 1
