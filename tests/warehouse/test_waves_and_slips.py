"""Waves and pick slips from the database: grouping, no order twice, audited, pick-path order."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.domain.clock import now
from app.domain.errors import BasisRequired, BusinessError
from app.domain.slip import ORDER_QR_PREFIX
from app.services import pick_slips, waves
from tests.warehouse.world import LEAD, audit_actions, make_order


def test_a_wave_takes_urgent_orders_first_then_by_deadline_then_by_zone(wh):
    tomorrow = now() + timedelta(hours=30)
    later = make_order(wh, [("T2601-01-110", 1)], ship_by=tomorrow)  # zone B
    zone_a = make_order(wh, [("W2602-01-120", 1)], ship_by=tomorrow)  # same deadline, starts in zone A
    soon = make_order(wh, [("J2603-02-130", 1)], ship_by=now() + timedelta(hours=10))
    urgent_note = make_order(wh, [("D2604-03-100", 1)], seller_note="客户催单，加急")
    overdue = make_order(wh, [("T2601-01-110", 2)], ship_by=now() - timedelta(hours=1))
    wave = waves.create_wave(wh.hub.uow(), "HZ", LEAD)
    assert wave.order_nos[:2] == (overdue, urgent_note)
    assert wave.order_nos[2:] == (soon, zone_a, later)
    assert (wave.order_count, wave.piece_count, wave.zones) == (5, 6, ("A", "B"))


def test_an_order_is_never_in_two_open_waves(wh):
    first = [make_order(wh, [("T2601-01-110", 1)]) for _ in range(3)]
    one = waves.create_wave(wh.hub.uow(), "HZ", LEAD, max_orders=2)
    two = waves.create_wave(wh.hub.uow(), "杭州自营仓", LEAD)
    assert len(one.order_nos) == 2 and len(two.order_nos) == 1
    assert set(one.order_nos) | set(two.order_nos) == set(first)
    with pytest.raises(BusinessError) as nothing:
        waves.create_wave(wh.hub.uow(), "HZ", LEAD)
    assert nothing.value.code == "WAVE_NOTHING_TO_PICK" and "杭州自营仓" in nothing.value.message()
    with wh.hub.uow() as uow:  # and the database itself refuses a second open wave for an order
        with pytest.raises(sa.exc.IntegrityError):
            uow.session.execute(sa.text(
                "INSERT INTO wave_orders (wave_id, order_id, position) SELECT w.id, o.id, 9 FROM waves w, orders o"
                " WHERE w.wave_no = :w AND o.order_no = :o"), {"w": two.wave_no, "o": one.order_nos[0]})


def test_creating_a_wave_is_audited_with_its_orders(wh):
    order_no = make_order(wh, [("W2602-01-120", 2)])
    wave = waves.create_wave(wh.hub.uow(), "HZ", LEAD)
    assert audit_actions(wh, wave.wave_no) == [("wave.create", "wang.lead")]
    with wh.hub.uow() as uow:
        after = uow.session.scalar(sa.text("SELECT after FROM audit_log WHERE entity_id = :w"), {"w": wave.wave_no})
    assert after["orders"] == [order_no] and after["pieces"] == 2
    [listed] = waves.list_waves(wh.hub.uow(), warehouse="HZ")
    assert (listed.wave_no, listed.order_count, listed.piece_count, listed.done_count) == (wave.wave_no, 1, 2, 0)


def test_only_orders_being_picked_in_that_warehouse_go_into_a_wave(wh):
    make_order(wh, [("T2601-01-110", 1)], route=False)  # paid, not routed yet
    with pytest.raises(BusinessError):
        waves.create_wave(wh.hub.uow(), "HZ", LEAD)
    with pytest.raises(BusinessError) as bad:
        waves.create_wave(wh.hub.uow(), "HZ", LEAD, max_orders=0)
    assert bad.value.code == "WAVE_BAD_SIZE"


def test_slip_lines_follow_the_pick_path_with_gifts_notes_and_priority(wh):
    order_no = make_order(wh, [("T2601-01-110", 1), ("J2603-02-130", 2), ("W2602-01-120", 1)],
                          gift=("GIFT-SOCK-01-M", 1), ship_by=now() + timedelta(hours=2),
                          buyer_note="请勿放干燥剂；什么时候发货？", seller_note="[11-25 10:30 xiaomei] 赠品多塞一双袜子")
    wave = waves.create_wave(wh.hub.uow(), "HZ", LEAD)
    [slip] = pick_slips.wave_slips(wh.hub.uow(), wave.wave_no)
    assert [line.bin_code for line in slip.lines] == ["A-01-02-1", "A-03-01-2", "B-02-01-1", "C-01-01-1"]
    assert [line.pick_sequence for line in slip.lines] == sorted(line.pick_sequence for line in slip.lines)
    assert slip.lines[0].bin_coords == "A区 1排 2架 1层" and slip.lines[0].barcode == "6901234500028"
    assert (slip.lines[1].name, slip.lines[1].quantity) == ("加绒弹力牛仔裤", 2)
    assert slip.lines[-1].is_gift and slip.gifts == ("纯棉中筒袜（赠品） 白色 ×1",)
    assert slip.notes == ("请勿放干燥剂", "赠品多塞一双袜子")  # 「什么时候发货」 is not for the packer
    assert (slip.platform, slip.shop, slip.warehouse, slip.priority) == ("抖店", "小树苗童装抖音旗舰店", "杭州自营仓", "加急")
    assert slip.wave_no == wave.wave_no and slip.order_qr == ORDER_QR_PREFIX + order_no and not slip.reprint


def test_a_reprint_is_marked_needs_a_reason_and_is_audited_with_who_and_why(wh):
    order_no = make_order(wh, [("T2601-01-110", 1)])
    wave = waves.create_wave(wh.hub.uow(), "HZ", LEAD)
    slips = pick_slips.wave_slips(wh.hub.uow(), wave.wave_no)
    pick_slips.record_prints(wh.hub.uow(), slips, {order_no: "job-1"}, LEAD, profile="a5")
    with pytest.raises(BasisRequired):
        pick_slips.reprint_slip(wh.hub.uow(), order_no, LEAD, "  ")
    again = pick_slips.reprint_slip(wh.hub.uow(), order_no, LEAD, "拣货单被水打湿")
    assert again.reprint and again.reprint_reason == "拣货单被水打湿"
    pick_slips.record_prints(wh.hub.uow(), [again], {order_no: "job-2"}, LEAD, profile="a5")
    assert audit_actions(wh, wave.wave_no) == [("wave.create", "wang.lead"), ("slip.print", "wang.lead")]
    assert ("slip.reprint", "wang.lead") in audit_actions(wh, order_no)
    with wh.hub.uow() as uow:
        rows = uow.session.execute(sa.text("SELECT reprint, reason, job_id FROM slip_prints ORDER BY id")).all()
        basis = uow.session.scalar(sa.text("SELECT basis FROM audit_log WHERE action = 'slip.reprint'"))
        printed = uow.session.scalar(sa.text("SELECT printed_at FROM waves"))
    assert [tuple(r) for r in rows] == [(False, None, "job-1"), (True, "拣货单被水打湿", "job-2")]
    assert basis == "拣货单被水打湿" and printed is not None


def test_two_leads_creating_waves_at_once_get_different_orders(wh):
    import threading

    nos = [make_order(wh, [("T2601-01-110", 1)]) for _ in range(6)]
    results: list = []
    start = threading.Barrier(2)

    def lead() -> None:
        start.wait()
        results.append(waves.create_wave(wh.hub.uow(), "HZ", LEAD, max_orders=3))

    threads = [threading.Thread(target=lead) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 2
    first, second = (set(r.order_nos) for r in results)
    assert len(first) == len(second) == 3 and first.isdisjoint(second) and first | second == set(nos)


def test_scanning_a_wave_code_says_how_far_the_wave_is(wh):
    from app.domain.slip import WAVE_QR_PREFIX
    from app.services import picking
    from tests.warehouse.world import PICKER

    make_order(wh, [("T2601-01-110", 1)])
    wave = waves.create_wave(wh.hub.uow(), "HZ", LEAD)
    answer = picking.scan(wh.hub.uow(), WAVE_QR_PREFIX + wave.wave_no, PICKER)
    assert answer.ok and answer.message() == f"波次 {wave.wave_no}：0/1 单已拣完"
