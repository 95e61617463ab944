"""After-sales and drill-down writes from a syncing station are commands: saved first, applied once, outcome shown."""

import pytest

from app.demo.seed import seed_demo
from app.services import after_sales
from app.sync.station_sync import OFFLINE
from app.ui import fonts
from app.ui.main_window import StationWindow
from app.ui.sync_status import SyncBridge
from tests.after_sales.conftest import CS, PHONE, Company
from tests.sync.conftest import wait_for, wait_online
from tests.sync.proxy import LoopbackProxy


@pytest.mark.slow
def test_an_exchange_made_while_the_link_is_cut_lands_once_when_it_is_back(qtbot, qapp, hub, make_station):
    seed_demo(hub, n_orders=40)
    company = Company(hub)
    order_no = company.order([("T2601-01-110", 1, "69.00")])
    company.stock("T2601-01-120", 1)
    proxy = LoopbackProxy.to(hub.engine.url)
    try:
        station = make_station(proxy.url(hub.engine.url), start=False, op_timeout=1.5, connect_timeout=1)
        fonts.install(qapp)
        bridge = SyncBridge(station)
        window = StationWindow(hub.uow, operator="xiaomei", station="客服工作台-01", database="内置数据库", actor=CS,
                               sync=bridge)
        qtbot.addWidget(window)
        station.start()
        wait_online(station, 20)
        view = window.open_order(order_no)
        dialog = view.open_after_sales(modal=False)
        qtbot.addWidget(dialog)
        panel = dialog.panel
        assert panel.open_case("exchange", [{"line_no": 1, "qty": 1, "new_size": "120"}], reason="换大一码",
                               basis="抖店售后单 7001", phone=PHONE)
        qtbot.waitUntil(lambda: panel.current is not None and "已建立" not in panel.message.text()
                        and panel.current.state == "requested", timeout=45_000)

        proxy.drop()  # the warehouse network goes down
        wait_for(lambda: station.status.state == OFFLINE, 45, "offline")
        assert panel.take_step("check_stock")
        assert "已保存在本工作站" in panel.message.text() and station.status.pending == 1
        proxy.resume()
        qtbot.waitUntil(lambda: "已生成换货单" in panel.message.text(), timeout=30_000)
    finally:
        proxy.close()
    (case,) = after_sales.cases_of_order(hub.uow(), order_no)
    assert case.state == "exchange_created" and [e["step"] for e in case.events] == ["open", "check_stock"]
    assert company.free("T2601-01-120") == (1, 1)  # reserved once


def test_a_drill_down_change_refused_by_the_server_is_shown_in_words(qtbot, qapp, hub, make_station):
    from app.services import orders
    from tests.support.factories import make_order

    order_no, version = make_order(hub, "paid")
    station = make_station(hub.engine.url, start=False)
    fonts.install(qapp)
    window = StationWindow(hub.uow, operator="xiaomei", station="客服工作台-01", database="内置数据库", actor=CS,
                           sync=SyncBridge(station))
    qtbot.addWidget(window)
    station.start()
    wait_online(station, 20)
    view = window.open_order(order_no)
    orders.cancel(hub.uow(), order_no, expected_version=version, actor=CS, basis="工单 T-1")  # someone else, first
    assert view.add_note("请勿放干燥剂")
    assert "已保存在本工作站" in view.message.text()
    qtbot.waitUntil(lambda: "已被他人修改" in view.message.text() or "已取消" in view.message.text(), timeout=45_000)


@pytest.mark.slow
def test_offline_the_drill_down_shows_the_cached_order_and_a_note_waits_for_the_link(qtbot, qapp, hub, make_station):
    from tests.support.factories import make_order

    order_no, _ = make_order(hub, "allocating")
    proxy = LoopbackProxy.to(hub.engine.url)
    try:
        station = make_station(proxy.url(hub.engine.url), start=False, op_timeout=1.5, connect_timeout=1)
        fonts.install(qapp)
        window = StationWindow(hub.uow, operator="xiaomei", station="客服工作台-01", database="内置数据库", actor=CS,
                               sync=SyncBridge(station))
        qtbot.addWidget(window)
        station.start()
        wait_online(station, 20)
        station.request_search(order_no)  # customer service looked it up: now it is in this station's cache
        wait_for(lambda: station.cache.get(order_no) is not None, 45, "cached")
        proxy.drop()
        wait_for(lambda: station.status.state == OFFLINE, 45, "offline")
        view = window.open_order(order_no)
        assert view.cached is not None and "离线：显示本工作站缓存的订单信息" in view.message.text()
        assert order_no in view.title.text() and view.note_button.isEnabled()
        assert view.add_note("到货后先打电话")
        assert station.status.pending == 1
        window.resize(1300, 700)
        window.show()
        qtbot.waitExposed(window)
        window.grab().save("/tmp/orderhub-screens/sync_drill_down_offline.png")
        proxy.resume()
        qtbot.waitUntil(lambda: "留言已发给仓库" in view.message.text(), timeout=30_000)
        assert view.detail is not None and view.cached is None  # back online: the full story again
    finally:
        proxy.close()
    with hub.uow() as uow:
        import sqlalchemy as sa
        note = uow.session.scalar(sa.text("SELECT seller_note FROM orders WHERE order_no = :o"), {"o": order_no})
    assert note.endswith("到货后先打电话")
