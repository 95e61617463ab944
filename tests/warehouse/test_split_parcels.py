"""Split parcels from the station: part of an order leaves with its own tracking number, the rest later (issue #15)."""

from __future__ import annotations

import sqlalchemy as sa

from app.domain.slip import order_qr
from app.services import picking, waves
from app.sync import applier
from app.sync.commands import Command
from tests.warehouse.world import BARCODE, CS, LEAD, PICKER, build, make_order, order_row


def _parcel(order_no, version, tracking_no, lines, actor=PICKER) -> Command:
    return Command.made_by(actor, "pick.ship_parcel", {"order_no": order_no, "expected_version": version,
                                                       "tracking_no": tracking_no, "lines": lines})


def _stock(hub, sku):
    with hub.uow() as uow:
        return uow.session.execute(sa.text(
            "SELECT on_hand, reserved FROM stock JOIN skus ON skus.id = stock.sku_id WHERE sku_code = :s"), {"s": sku}).one()


def _ship_payloads(hub):
    with hub.uow() as uow:
        return [r[0] for r in uow.session.execute(sa.text(
            "SELECT payload FROM outbox WHERE topic = 'platform.ship' ORDER BY id"))]


def _with_platform_lines(hub, order_no):
    with hub.uow() as uow:
        uow.session.execute(sa.text(
            "UPDATE orders SET items = (SELECT jsonb_agg(i || jsonb_build_object('platform_line_id', 'L' || (i->>'line_no')))"
            " FROM jsonb_array_elements(items) i) WHERE order_no = :o"), {"o": order_no})
        uow.commit()


def test_a_parcel_with_part_of_the_order_makes_it_partly_shipped_and_the_last_parcel_ships_it(hub):
    wh = build(hub)
    order_no = make_order(wh, [("T2601-01-110", 2), ("W2602-01-120", 1)])
    _with_platform_lines(hub, order_no)
    version = order_row(wh, order_no)["version"]
    first = applier.apply(hub.session_factory, _parcel(order_no, version, "SF1234567890123", [{"line_no": 1, "qty": 2}]))
    assert first.accepted and first.result["status"] == "partially_shipped"
    assert _stock(hub, "T2601-01-110") == (98, 0) and _stock(hub, "W2602-01-120") == (100, 1)  # only what left
    second = applier.apply(hub.session_factory, _parcel(order_no, first.result["version"], "YT9876543210123",
                                                        [{"line_no": 2, "qty": 1}]))
    assert second.accepted and second.result["status"] == "shipped"
    assert _stock(hub, "W2602-01-120") == (99, 0)
    ship = _ship_payloads(hub)
    assert [(p["tracking_no"], p["line_ids"], p["split"], p["first_parcel"]) for p in ship] == [
        ("SF1234567890123", ["L1"], True, True), ("YT9876543210123", ["L2"], True, False)]
    with hub.uow() as uow:
        parcels = uow.session.execute(sa.text("SELECT tracking_no, carrier, lines FROM shipments ORDER BY id")).all()
    assert [(t, c, [(x["line_no"], x["qty"]) for x in lines]) for t, c, lines in parcels] == [
        ("SF1234567890123", "顺丰速运", [(1, 2)]), ("YT9876543210123", "圆通速递", [(2, 1)])]


def test_a_parcel_command_replayed_ships_once(hub):
    wh = build(hub)
    order_no = make_order(wh, [("T2601-01-110", 1), ("W2602-01-120", 1)])
    cmd = _parcel(order_no, order_row(wh, order_no)["version"], "SF1234567890123", [{"line_no": 1, "qty": 1}])
    first, again = applier.apply(hub.session_factory, cmd), applier.apply(hub.session_factory, cmd)
    assert first.accepted and again.duplicate and again.result == first.result
    with hub.uow() as uow:
        assert uow.session.scalar(sa.text("SELECT count(*) FROM shipments")) == 1
    assert _stock(hub, "T2601-01-110") == (99, 0)


def test_part_of_a_lines_pieces_goes_now_and_the_platform_hears_with_the_parcel_that_completes_it(hub):
    wh = build(hub)
    order_no = make_order(wh, [("T2601-01-110", 3)])
    _with_platform_lines(hub, order_no)
    first = applier.apply(hub.session_factory, _parcel(order_no, order_row(wh, order_no)["version"], "SF1234567890123",
                                                       [{"line_no": 1, "qty": 1}]))
    assert first.result["status"] == "partially_shipped" and _stock(hub, "T2601-01-110") == (99, 2)
    assert _ship_payloads(hub) == []  # a part of a sub-order: nothing a platform could take
    with hub.uow() as uow:
        told = uow.session.execute(sa.text("SELECT outcome, message FROM writeback_attempts")).one()
    assert told.outcome == "nothing" and "子订单" in told.message
    last = applier.apply(hub.session_factory, _parcel(order_no, first.result["version"], "SF1234567890124",
                                                      [{"line_no": 1, "qty": 2}]))
    assert last.result["status"] == "shipped" and [p["line_ids"] for p in _ship_payloads(hub)] == [["L1"]]


def test_more_than_is_left_or_a_used_label_is_refused_in_words_and_nothing_changes(hub):
    wh = build(hub)
    order_no = make_order(wh, [("T2601-01-110", 1), ("W2602-01-120", 1)])
    version = order_row(wh, order_no)["version"]
    too_many = applier.apply(hub.session_factory, _parcel(order_no, version, "SF1234567890123", [{"line_no": 1, "qty": 2}]))
    assert too_many.result["code"] == "PARCEL_BAD_LINE" and "还剩 1 件" in too_many.reason()
    ok = applier.apply(hub.session_factory, _parcel(order_no, version, "SF1234567890123", [{"line_no": 1, "qty": 1}]))
    again = applier.apply(hub.session_factory, _parcel(order_no, ok.result["version"], "SF1234567890123",
                                                       [{"line_no": 2, "qty": 1}]))
    assert again.result["code"] == "PICK_TRACKING_USED"
    gone = applier.apply(hub.session_factory, _parcel(order_no, ok.result["version"], "SF1234567890125",
                                                      [{"line_no": 1, "qty": 1}]))
    assert gone.result["code"] == "PARCEL_BAD_LINE" and order_row(wh, order_no)["status"] == "partially_shipped"


def test_customer_service_cannot_ship_a_parcel(hub):
    wh = build(hub)
    order_no = make_order(wh, [("T2601-01-110", 1), ("W2602-01-120", 1)])
    refused = applier.apply(hub.session_factory, _parcel(order_no, order_row(wh, order_no)["version"], "SF1234567890123",
                                                         [{"line_no": 1, "qty": 1}], actor=CS))
    assert not refused.accepted and refused.result["code"] == "NOT_PERMITTED"
    assert order_row(wh, order_no)["status"] == "allocating"


def test_the_picker_ships_what_is_there_then_picks_and_ships_the_rest_by_scan(hub):
    wh = build(hub)
    order_no = make_order(wh, [("T2601-01-110", 1), ("W2602-01-120", 1)])
    _with_platform_lines(hub, order_no)
    waves.create_wave(hub.uow(), "HZ", LEAD)
    picking.scan(hub.uow(), order_qr(order_no), PICKER)
    picking.scan(hub.uow(), BARCODE["T2601-01-110"], PICKER)  # the hoodie is not on the shelf yet
    parcel = applier.apply(hub.session_factory, _parcel(order_no, order_row(wh, order_no)["version"], "SF1234567890123",
                                                        [{"line_no": 1, "qty": 1}]))
    assert parcel.accepted
    resumed = picking.scan(hub.uow(), order_qr(order_no), PICKER)
    assert [(ln.sku_code, ln.needed, ln.scanned) for ln in resumed.pick.lines] == [("W2602-01-120", 1, 0)]
    assert picking.scan(hub.uow(), BARCODE["W2602-01-120"], PICKER).kind == "confirmed"
    assert picking.scan(hub.uow(), "YT9876543210123", PICKER).kind == "shipped"
    assert order_row(wh, order_no)["status"] == "shipped"
    assert [(p["tracking_no"], p["line_ids"], p["first_parcel"]) for p in _ship_payloads(hub)] == [
        ("SF1234567890123", ["L1"], True), ("YT9876543210123", ["L2"], False)]
