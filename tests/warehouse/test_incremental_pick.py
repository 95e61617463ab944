"""The pick view moves incrementally: an item scan moves one count on the lines read before, and the
answer is always the same as reading the whole pick again, whatever the scans and changes were."""

from __future__ import annotations

import random

import sqlalchemy as sa

from app.db.models import Order
from app.domain.slip import order_qr
from app.services import change_notices, ingest, orders, picking
from app.ui.pick_view import COLUMNS, PickLinesModel
from tests.warehouse.world import BARCODE, CS, PICKER, make_order, order_row

WRONG = BARCODE["D2604-03-100"]  # a real barcode that is on none of these orders


def _scan(wh, code):
    return picking.scan(wh.hub.uow(), code, PICKER)


def _rebuilt(wh):
    """The pick read again from the database, nothing remembered (what the station showed before)."""
    return picking.current_pick(wh.hub.uow(), PICKER.operator)


def _same_as_rebuild(wh, result):
    assert result.pick is not None, result
    assert result.pick == _rebuilt(wh), result.code
    return result


def _change_items(wh, order_no, items):
    """The platform changed the order's lines (ingest applies them and folds a notice for the picker)."""
    with wh.hub.uow() as uow:
        order = uow.session.execute(sa.select(Order).where(Order.order_no == order_no)).scalar_one()
        order.items = items(order.items)
        uow.session.flush()
        ingest._fold_notice(uow.session, order, ["items"], False)  # noqa: SLF001 - the platform's change path
        uow.commit()


def _rows(model: PickLinesModel):
    roles = (0, 7, 8)  # display, alignment, background
    return [[(model.data(model.index(r, c), role) if role != 8 else model.data(model.index(r, c), role).color().name())
             for c in range(len(COLUMNS)) for role in roles] for r in range(model.rowCount())]


def test_every_scan_answers_what_a_full_rebuild_shows_including_refusals_a_change_and_a_put_back(wh, qapp):
    order_no = make_order(wh, [("J2603-02-130", 3), ("T2601-01-110", 1), ("W2602-01-120", 1)])
    shown = PickLinesModel()  # the station's table, fed only the scans' answers (rows repainted in place)
    steps = []
    opened = _same_as_rebuild(wh, _scan(wh, order_qr(order_no)))
    steps.append(opened)
    steps.append(_same_as_rebuild(wh, _scan(wh, BARCODE["J2603-02-130"])))
    wrong = _same_as_rebuild(wh, _scan(wh, WRONG))
    assert (wrong.ok, wrong.code) == (False, "PICK_WRONG_ITEM") and wrong.pick.scanned_total == 1
    steps.append(wrong)
    steps.append(_same_as_rebuild(wh, _scan(wh, BARCODE["W2602-01-120"])))
    too_many = _same_as_rebuild(wh, _scan(wh, BARCODE["W2602-01-120"]))
    assert (too_many.ok, too_many.code) == (False, "PICK_TOO_MANY")
    steps.append(too_many)
    steps.append(_same_as_rebuild(wh, _scan(wh, BARCODE["J2603-02-130"])))
    # customer service changes the address mid-pick: the next item scan waits for the notice
    orders.change_address(wh.hub.uow(), order_no, orders.AddressChange("李女士", "13912345678", "江苏省南京市鼓楼区中山北路1号"),
                          expected_version=order_row(wh, order_no)["version"], actor=CS, basis="工单 1")
    held = _same_as_rebuild(wh, _scan(wh, BARCODE["J2603-02-130"]))
    assert held.code == "PICK_NOTICE_OPEN" and held.pick.notice is not None and held.pick.scanned_total == 3
    steps.append(held)
    change_notices.acknowledge(wh.hub.uow(), order_no, PICKER)
    # the buyer cuts the jeans from 3 to 1 on the platform: the two scanned jeans go back (the undo)
    _change_items(wh, order_no, lambda items: [dict(it, qty=1) if it["sku"] == "J2603-02-130" else it for it in items])
    assert change_notices.acknowledge(wh.hub.uow(), order_no, PICKER).put_back == 1
    resumed = _same_as_rebuild(wh, _scan(wh, order_qr(order_no)))
    assert [(x.sku_code, x.scanned, x.needed) for x in resumed.pick.lines] == [
        ("W2602-01-120", 1, 1), ("J2603-02-130", 1, 1), ("T2601-01-110", 0, 1)]
    steps.append(resumed)
    again = _same_as_rebuild(wh, _scan(wh, BARCODE["J2603-02-130"]))
    assert again.code == "PICK_TOO_MANY"  # the new line is what counts, not the one read before the change
    steps.append(again)
    done = _same_as_rebuild(wh, _scan(wh, BARCODE["T2601-01-110"]))
    assert done.kind == "confirmed" and done.pick.scanned_total == done.pick.total == 3
    steps.append(done)

    for step in steps:
        shown.set_lines(step.pick.lines)
    fresh = PickLinesModel()
    fresh.set_lines(_rebuilt(wh).lines)
    assert _rows(shown) == _rows(fresh) and shown.rowCount() == 3


def test_random_scans_and_changes_always_answer_as_a_rebuild(wh):
    rng = random.Random(20261203)
    skus = ["J2603-02-130", "T2601-01-110", "W2602-01-120", "GIFT-SOCK-01-M"]
    for round_no in range(3):
        order_no = make_order(wh, [(sku, rng.randint(1, 3)) for sku in rng.sample(skus, 3)])
        _same_as_rebuild(wh, _scan(wh, order_qr(order_no)))
        for _ in range(12):
            roll = rng.random()
            if roll < 0.1:  # a line's quantity changes on the platform; acknowledged (counts above it go back)
                _change_items(wh, order_no, lambda items: [dict(it, qty=rng.randint(1, 3)) if n == 0 else it
                                                           for n, it in enumerate(items)])
                change_notices.acknowledge(wh.hub.uow(), order_no, PICKER)
                _same_as_rebuild(wh, _scan(wh, order_qr(order_no)))
                continue
            code = WRONG if roll < 0.25 else BARCODE[rng.choice(skus)]
            result = _same_as_rebuild(wh, _scan(wh, code))
            if result.kind == "confirmed":
                break
        pick = _rebuilt(wh)
        if pick.status == "confirmed":
            assert _scan(wh, f"SF{1500000000000 + round_no}").kind == "shipped"
        else:  # leave it: the next order's QR opens a new pick beside it only once this one is done
            with wh.hub.uow() as uow:
                uow.session.execute(sa.text("UPDATE picks SET status = 'stopped' WHERE picker = :p AND status = 'picking'"),
                                    {"p": PICKER.operator})
                uow.commit()


def test_an_item_scan_does_not_read_the_orders_lines_again_unless_the_order_changed(wh):
    order_no = make_order(wh, [("J2603-02-130", 3), ("T2601-01-110", 1)])
    _scan(wh, order_qr(order_no))
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):  # noqa: ANN001, ANN002
        statements.append(statement)

    sa.event.listen(wh.hub.engine, "before_cursor_execute", seen)
    try:
        assert _scan(wh, BARCODE["J2603-02-130"]).kind == "item"
        assert not [s for s in statements if "stock_reservations" in s or "FROM waves" in s]
        statements.clear()
        orders.add_warehouse_note(wh.hub.uow(), order_no, "改用礼盒包装", expected_version=order_row(wh, order_no)["version"],
                                  actor=CS)
        change_notices.acknowledge(wh.hub.uow(), order_no, PICKER)
        statements.clear()
        after = _scan(wh, BARCODE["J2603-02-130"])
        assert after.kind == "item" and "改用礼盒包装" in "".join(after.pick.notes)
        assert [s for s in statements if "stock_reservations" in s]  # the order moved on: read again
    finally:
        sa.event.remove(wh.hub.engine, "before_cursor_execute", seen)
