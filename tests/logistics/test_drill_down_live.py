"""The drill-down fed by real pushes: tracking nodes from 顺丰's route pushes, every write-back attempt in the story."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt

from app.domain.actor import Actor
from app.hub.carrier_dispatch import dispatch_subscriptions
from app.hub.writeback_dispatch import dispatch_ship
from app.services import order_queries
from app.ui.order_drill_down import OrderDrillDown
from tests.writeback.channel import Channel

CS = Actor("xiaomei", "客服工作台-01", "10.20.1.17")
SHOTS = os.environ.get("ORDERHUB_SCREENSHOTS") or str(Path(__file__).resolve().parents[2] / "build" / "screenshots")


@pytest.fixture
def cjk_font(qapp):
    from app.ui import fonts

    return fonts.install(qapp)


def test_the_drill_down_shows_pushed_tracking_nodes_and_each_ship_confirmation_attempt(qtbot, hub, carriers, cjk_font):
    ch = Channel(hub, "douyin")
    try:
        sim, order_no = ch.take_order()
        ch.ship(order_no, "SF1700000000001")
        ch.world.faults.lost_answer_next = 1  # the platform ships, its answer is lost: retried, looked up, not resent
        dispatch_ship(hub, ch.connector_for)
        with hub.uow() as uow:
            uow.session.execute(sa.text("UPDATE outbox SET next_attempt_at = now() WHERE status = 'pending'"))
            uow.commit()
        dispatch_ship(hub, ch.connector_for)
    finally:
        ch.close()
    dispatch_subscriptions(hub, carriers.kd100)  # 顺丰 waybills need none: said so on the story
    carriers.sf_sim.advance("SF1700000000001", 5, to_province="广东省")
    assert ch.world.shipments_applied == [(sim.order_id, "SF1700000000001")]

    view = OrderDrillDown(hub.uow, CS)
    qtbot.addWidget(view)
    view.resize(1280, 900)
    view.show_order(order_no)
    detail = view.detail
    assert [n.location for n in detail.tracking][-1] == "杭州市" and len(detail.tracking) == 5
    courier = detail.tracking[0]
    assert (courier.courier_name, courier.courier_phone) != (None, None)
    story = detail.story_text
    assert "发货回传（order.logisticsAdd）：暂时失败，稍后重试（SF1700000000001）：http-504 平台返回 HTTP 504，稍后重试" in story
    assert "发货回传（查询平台订单）：平台已有（重试确认）" in story
    assert "物流订阅：无需回传（SF1700000000001）：顺丰丰桥自动推送路由，无需订阅" in story
    # the station's timeline says it in business words; the API name is only in the row's tooltip
    items = view.story_view.items()
    ship = [(row, i) for row, i in enumerate(items) if i.title.startswith("发货回传 抖店：")]
    assert [i.title for _, i in ship] == ["发货回传 抖店：平台已有（重试确认）（SF1700000000001）",
                                          "发货回传 抖店：暂时失败，稍后重试（SF1700000000001）"]
    assert not any("order.logisticsAdd" in i.title + i.detail for i in items)
    failed_row, failed = ship[1]
    assert failed.failed and failed.detail == "平台返回 HTTP 504，稍后重试"
    tip = view.story_view.model().index(failed_row, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert tip.endswith("平台接口：order.logisticsAdd http-504") and tip.startswith(failed.title)
    view.layers.setCurrentIndex(0)
    view.show()
    qtbot.waitExposed(view)
    os.makedirs(SHOTS, exist_ok=True)
    assert view.grab().save(str(Path(SHOTS) / "drill-down-live-tracking.png"))
    view.layers.setCurrentIndex(view.layers.count() - 1)
    assert view.grab().save(str(Path(SHOTS) / "drill-down-writeback-story.png"))


def test_the_map_courier_dots_come_from_pushed_positions(hub, carriers):
    carriers.shipped_order("YT7900000000001", "圆通速递")
    dispatch_subscriptions(hub, carriers.kd100)
    carriers.kd100_sim.advance("YT7900000000001", 3)
    dots = order_queries.courier_positions(hub.uow())
    parcel = carriers.road.parcels["YT7900000000001"]
    assert dots == [pytest.approx((parcel.legs[2].lon, parcel.legs[2].lat))]


def test_a_partly_shipped_order_shows_its_stage_and_each_parcels_confirmation(qtbot, hub, cjk_font):
    from app.services import parcels

    ch = Channel(hub, "taobao")
    try:
        sim, order_no = ch.take_order(lines=2)
        with hub.uow() as uow:
            version = uow.session.scalar(sa.text("UPDATE orders SET status = 'allocating' WHERE order_no = :o"
                                                 " RETURNING version"), {"o": order_no})
            uow.commit()
        parcels.ship_parcel(hub.uow(), order_no, "SF1700000000002", [{"line_no": 1, "qty": sim.lines[0].qty}],
                            expected_version=version, actor=Actor("li.sf", "仓库工作台-01", "10.20.3.7"))
        dispatch_ship(hub, ch.connector_for)
    finally:
        ch.close()
    view = OrderDrillDown(hub.uow, CS)
    qtbot.addWidget(view)
    view.resize(1280, 900)
    view.show_order(order_no)
    assert view.detail.status == "partially_shipped" and view.cancel_button.isEnabled()
    assert "发货回传（taobao.logistics.offline.send）：平台已接收（SF1700000000002）" in view.detail.story_text
    view.layers.setCurrentIndex(view.layers.count() - 1)
    view.show()
    qtbot.waitExposed(view)
    os.makedirs(SHOTS, exist_ok=True)
    assert view.grab().save(str(Path(SHOTS) / "drill-down-partly-shipped.png"))
