"""Change notices: every change while picking folds into one notice per order until acknowledged."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db.models import Order
from app.domain.errors import BusinessError
from app.domain.slip import order_qr
from app.services import change_notices, ingest, orders, picking
from tests.warehouse.world import BARCODE, CS, PICKER, audit_actions, make_order, order_row


def _version(wh, order_no):
    return order_row(wh, order_no)["version"]


def _address(wh, order_no, n):
    orders.change_address(wh.hub.uow(), order_no, orders.AddressChange("李女士", "13912345678", f"江苏省南京市鼓楼区中山北路{n}号"),
                          expected_version=_version(wh, order_no), actor=CS, basis=f"工单 {n}")


def _platform_items_change(wh, order_no):
    """The platform changed the lines: ingest folds it through the same function."""
    with wh.hub.uow() as uow:
        order = uow.session.execute(sa.select(Order).where(Order.order_no == order_no)).scalar_one()
        ingest._fold_notice(uow.session, order, ["items"], False)
        uow.commit()


def test_five_changes_while_picking_give_the_picker_one_notice_with_all_five(wh):
    order_no = make_order(wh, [("J2603-02-130", 2)])
    picking.scan(wh.hub.uow(), order_qr(order_no), PICKER)
    _address(wh, order_no, 1)
    orders.add_warehouse_note(wh.hub.uow(), order_no, "请勿放干燥剂", expected_version=_version(wh, order_no), actor=CS)
    _platform_items_change(wh, order_no)
    _address(wh, order_no, 2)
    orders.add_warehouse_note(wh.hub.uow(), order_no, "改用礼盒包装", expected_version=_version(wh, order_no), actor=CS)
    [notice] = change_notices.open_notices(wh.hub.uow(), picker="li.sf")
    assert notice.order_no == order_no and notice.change_count == 5 and len(notice.changes) == 5
    assert notice.kinds == ("address", "items", "note") and notice.interception
    assert notice.summary() == "收货地址变更 ×2、仓库留言 ×2、商品变更（共 5 次变更）"
    assert notice.details() == ("请勿放干燥剂", "改用礼盒包装", "新地址：江苏省南京市鼓楼区中山北路2号")
    assert [c.get("by") for c in notice.changes] == ["xiaomei", "xiaomei", "platform:douyin", "xiaomei", "xiaomei"]


def test_item_scans_wait_until_the_notice_is_acknowledged_and_the_next_change_opens_a_new_one(wh):
    order_no = make_order(wh, [("J2603-02-130", 2)])
    picking.scan(wh.hub.uow(), order_qr(order_no), PICKER)
    _address(wh, order_no, 1)
    held = picking.scan(wh.hub.uow(), BARCODE["J2603-02-130"], PICKER)
    assert not held.ok and held.message().startswith(f"⚠ 订单 {order_no} 有变更：收货地址变更（共 1 次变更）")
    assert held.pick.scanned_total == 0
    acknowledged = change_notices.acknowledge(wh.hub.uow(), order_no, PICKER)
    assert acknowledged.change_count == 1
    assert ("notice.acknowledge", "li.sf") in audit_actions(wh, order_no)
    assert change_notices.open_notices(wh.hub.uow(), picker="li.sf") == []
    with pytest.raises(BusinessError) as none:
        change_notices.acknowledge(wh.hub.uow(), order_no, PICKER)
    assert none.value.code == "NOTICE_NONE"
    assert picking.scan(wh.hub.uow(), BARCODE["J2603-02-130"], PICKER).ok
    _address(wh, order_no, 2)
    [fresh] = change_notices.open_notices(wh.hub.uow(), picker="li.sf")
    assert fresh.change_count == 1 and fresh.id != acknowledged.id


def test_acknowledging_a_cancellation_stops_the_pick(wh):
    order_no = make_order(wh, [("J2603-02-130", 2)])
    picking.scan(wh.hub.uow(), order_qr(order_no), PICKER)
    orders.cancel(wh.hub.uow(), order_no, expected_version=_version(wh, order_no), actor=CS, basis="买家电话取消")
    [notice] = change_notices.open_notices(wh.hub.uow(), picker="li.sf")
    assert notice.kinds == ("cancel",) and notice.interception and notice.order_status == "cancelled"
    change_notices.acknowledge(wh.hub.uow(), order_no, PICKER)
    assert picking.current_pick(wh.hub.uow(), "li.sf") is None
    assert ("pick.stop", "li.sf") in audit_actions(wh, order_no)


def test_a_line_reduced_while_picking_sends_the_extra_back_and_confirms_what_is_complete(wh):
    order_no = make_order(wh, [("J2603-02-130", 2)])
    picking.scan(wh.hub.uow(), order_qr(order_no), PICKER)
    picking.scan(wh.hub.uow(), BARCODE["J2603-02-130"], PICKER)
    with wh.hub.uow() as uow:  # the buyer cut the jeans to one on the platform; ingest applies it and folds
        order = uow.session.execute(sa.select(Order).where(Order.order_no == order_no)).scalar_one()
        order.items = [dict(order.items[0], qty=1)]
        uow.session.flush()
        ingest._fold_notice(uow.session, order, ["items"], False)
        uow.commit()
    picking.scan(wh.hub.uow(), order_qr(order_no), PICKER)
    acknowledged = change_notices.acknowledge(wh.hub.uow(), order_no, PICKER)
    assert acknowledged.put_back == 0  # one picked, one needed: nothing to put back…
    pick = picking.current_pick(wh.hub.uow(), "li.sf")
    assert pick.status == "confirmed" and pick.scanned_total == pick.total == 1  # …and the pick is complete


def test_a_line_removed_after_it_was_picked_is_put_back(wh):
    order_no = make_order(wh, [("J2603-02-130", 1), ("T2601-01-110", 1)])
    picking.scan(wh.hub.uow(), order_qr(order_no), PICKER)
    picking.scan(wh.hub.uow(), BARCODE["J2603-02-130"], PICKER)
    with wh.hub.uow() as uow:
        order = uow.session.execute(sa.select(Order).where(Order.order_no == order_no)).scalar_one()
        order.items = [order.items[1]]
        uow.session.flush()
        ingest._fold_notice(uow.session, order, ["items"], False)
        uow.commit()
    acknowledged = change_notices.acknowledge(wh.hub.uow(), order_no, PICKER)
    assert acknowledged.put_back == 1
    pick = picking.current_pick(wh.hub.uow(), "li.sf")
    assert pick.status == "picking" and [(x.sku_code, x.scanned) for x in pick.lines] == [("T2601-01-110", 0)]
    assert picking.scan(wh.hub.uow(), BARCODE["T2601-01-110"], PICKER).kind == "confirmed"
