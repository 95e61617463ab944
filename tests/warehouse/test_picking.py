"""Scanning a pick through: open by the slip's QR, item barcodes checked, confirmed, shipped; refusals loud."""

from __future__ import annotations

import sqlalchemy as sa

from app.domain.slip import order_qr, progress_qr
from app.services import orders, picking, waves
from tests.warehouse.world import BARCODE, CS, LEAD, OTHER_PICKER, PICKER, audit_actions, make_order, order_row


def _scan(wh, code, actor=PICKER, **kw):
    return picking.scan(wh.hub.uow(), code, actor, **kw)


def test_a_pick_runs_from_the_slip_qr_through_every_item_to_confirmed_and_shipped(wh):
    order_no = make_order(wh, [("T2601-01-110", 1), ("J2603-02-130", 2)], buyer_note="请勿放干燥剂")
    wave = waves.create_wave(wh.hub.uow(), "HZ", LEAD)
    opened = _scan(wh, order_qr(order_no))
    assert (opened.kind, opened.ok, opened.pick.total, opened.pick.wave_no) == ("opened", True, 3, wave.wave_no)
    assert [line.bin_code for line in opened.pick.lines] == ["A-03-01-2", "B-02-01-1"]  # pick-path order
    first = _scan(wh, BARCODE["J2603-02-130"])
    assert first.kind == "item" and first.message() == "✔ 加绒弹力牛仔裤 黑色/130　已扫 1/2"
    _scan(wh, BARCODE["J2603-02-130"])
    done = _scan(wh, BARCODE["T2601-01-110"], box_no="箱-07")
    assert done.kind == "confirmed" and done.pick.status == "confirmed" and done.pick.box_no == "箱-07"
    assert "拣货完成" in done.message() and "扫描快递单号" in done.message()
    assert order_row(wh, order_no)["status"] == "allocating"  # until the parcel has its label
    shipped = _scan(wh, "SF1234567890123")
    assert shipped.kind == "shipped" and shipped.message() == f"✔ 订单 {order_no} 已出库，快递单号 SF1234567890123"
    row = order_row(wh, order_no)
    assert (row["status"], row["tracking_no"]) == ("shipped", "SF1234567890123")
    with wh.hub.uow() as uow:
        log = uow.session.execute(sa.text("SELECT action, barcode, box_no, operator, station FROM scan_log ORDER BY id")).all()
        parcel = uow.session.execute(sa.text("SELECT carrier, status FROM shipments")).one()
        stock = uow.session.execute(sa.text("SELECT on_hand, reserved FROM stock s JOIN skus k ON k.id = s.sku_id"
                                            " WHERE k.sku_code = 'J2603-02-130'")).one()
        wave_status = uow.session.scalar(sa.text("SELECT status FROM waves"))
    assert [r[0] for r in log] == ["pick", "pick", "pick", "pack", "ship"]
    assert log[-2][2] == "箱-07" and all(r[3] == "li.sf" and r[4] == "仓库工作台-01" for r in log)
    assert tuple(parcel) == ("顺丰速运", "created") and tuple(stock) == (98, 0)
    assert wave_status == "closed"  # its only order has left
    assert [a for a, _ in audit_actions(wh, order_no)][-2:] == ["pick.confirm", "pick.ship"]


def test_a_wrong_item_is_refused_loudly_recorded_and_not_counted(wh):
    order_no = make_order(wh, [("T2601-01-110", 1)])
    _scan(wh, order_qr(order_no))
    wrong = _scan(wh, BARCODE["W2602-01-120"])
    assert (wrong.kind, wrong.ok) == ("refused", False)
    assert wrong.message() == (f"✘ 拿错了！条码「6901234500028」（加绒连帽卫衣 燕麦色/120）不是订单 {order_no} 要的商品。"
                               "本次不计数，请放回原库位")
    assert wrong.pick.scanned_total == 0
    unknown = _scan(wh, "0000000")
    assert not unknown.ok and "不是订单" in unknown.message()
    with wh.hub.uow() as uow:
        reasons = list(uow.session.scalars(sa.text("SELECT reason FROM scan_refusals ORDER BY id")))
    assert reasons == ["wrong_item", "wrong_item"]


def test_one_too_many_is_refused_and_the_count_stays(wh):
    order_no = make_order(wh, [("J2603-02-130", 2), ("T2601-01-110", 1)])
    _scan(wh, order_qr(order_no))
    _scan(wh, BARCODE["J2603-02-130"])
    _scan(wh, BARCODE["J2603-02-130"])
    extra = _scan(wh, BARCODE["J2603-02-130"])
    assert not extra.ok and extra.message() == "✘ 多拿了！加绒弹力牛仔裤 黑色/130 只要 2 件，已经扫够了。本次不计数，请放回一件"
    assert extra.pick.scanned_total == 2 and extra.pick.status == "picking"


def test_an_order_cancelled_mid_pick_stops_the_pick_at_the_next_scan(wh):
    order_no = make_order(wh, [("J2603-02-130", 2)])
    _scan(wh, order_qr(order_no))
    _scan(wh, BARCODE["J2603-02-130"])
    orders.cancel(wh.hub.uow(), order_no, expected_version=order_row(wh, order_no)["version"], actor=CS,
                  basis="旺旺聊天记录：买家不要了")
    stopped = _scan(wh, BARCODE["J2603-02-130"])
    assert (stopped.kind, stopped.ok, stopped.pick.status) == ("stopped", False, "stopped")
    assert stopped.message() == f"⛔ 订单 {order_no} 已取消，停止拣货！请把已拣的 1 件商品放回原库位"
    assert ("pick.stop", "li.sf") in audit_actions(wh, order_no)
    after = _scan(wh, BARCODE["J2603-02-130"])  # the pick is over: nothing is counted any more
    assert not after.ok and after.code == "PICK_NO_ORDER"
    again = _scan(wh, order_qr(order_no))
    assert not again.ok and "已取消" in again.message()


def test_a_picker_cannot_take_an_order_someone_else_is_picking_and_scans_before_an_order_are_refused(wh):
    order_no = make_order(wh, [("T2601-01-110", 1)])
    early = _scan(wh, BARCODE["T2601-01-110"])
    assert not early.ok and early.message().startswith("请先扫描拣货单上的订单二维码")
    _scan(wh, order_qr(order_no))
    taken = _scan(wh, order_qr(order_no), OTHER_PICKER)
    assert not taken.ok and taken.message() == f"订单 {order_no} 正由 li.sf 拣货，不能同时拣同一单"
    resumed = _scan(wh, order_qr(order_no))
    assert resumed.ok and resumed.kind == "resumed"


def test_a_bad_tracking_label_is_refused_and_the_order_stays(wh):
    order_no = make_order(wh, [("T2601-01-110", 1)])
    _scan(wh, order_qr(order_no))
    _scan(wh, BARCODE["T2601-01-110"])
    bad = _scan(wh, "SF-12")
    assert not bad.ok and bad.code == "PICK_BAD_TRACKING"
    assert order_row(wh, order_no)["status"] == "allocating"


def test_the_progress_code_shows_the_pickers_day(wh):
    done_no = make_order(wh, [("T2601-01-110", 1)], buyer_note="宝宝过敏，请勿放干燥剂")
    make_order(wh, [("W2602-01-120", 1)])
    make_order(wh, [("J2603-02-130", 1)])
    waves.create_wave(wh.hub.uow(), "HZ", LEAD)
    _scan(wh, order_qr(done_no))
    _scan(wh, BARCODE["T2601-01-110"])
    day = _scan(wh, progress_qr("li.sf"))
    assert day.kind == "progress" and day.message() == "li.sf 今天：已完成 1 单，待拣 2 单"
    assert day.progress.notes == (f"{done_no}：宝宝过敏，请勿放干燥剂",)
