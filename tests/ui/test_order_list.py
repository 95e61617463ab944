"""客服工作台's order list: a well-behaved Qt model over the database, business words only, Chinese that renders."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt

from app.demo.seed import seed_demo
from app.domain.fields import ORDER_FIELDS
from app.services.order_queries import OrderFilter, list_orders
from app.ui.cs_workspace import CustomerServiceWorkspace
from app.ui.main_window import StationWindow
from app.ui.order_table import COLUMNS, OrderTableModel


@pytest.fixture
def demo_hub(hub):
    seed_demo(hub, seed=6, n_orders=700, anchor=datetime(2026, 11, 25, 4, tzinfo=UTC))
    return hub


def test_the_model_passes_qts_model_tester_while_it_pages(qtmodeltester, demo_hub):
    model = OrderTableModel(lambda after, n: list_orders(demo_hub.uow(), OrderFilter(), limit=n, after=after))
    model.fetchMore()
    qtmodeltester.check(model)
    assert model.rowCount() >= OrderTableModel.PAGE  # the tester itself fetches more pages
    while model.canFetchMore():
        model.fetchMore()
    with demo_hub.uow() as uow:
        total = uow.session.scalar(sa.text("SELECT count(*) FROM orders"))
    assert model.rowCount() == total
    numbers = [model.row_at(i).order_no for i in range(model.rowCount())]
    assert len(set(numbers)) == total  # keyset paging: no row twice, none skipped


def test_headers_are_business_words_from_the_field_dictionary(demo_hub):
    model = OrderTableModel(lambda after, n: list_orders(demo_hub.uow(), OrderFilter(), limit=n, after=after))
    headers = [model.headerData(i, Qt.Orientation.Horizontal) for i in range(model.columnCount())]
    assert headers[:5] == ["订单ID", "来源平台", "店铺", "下单时间", "订单当前所处环节"]
    assert not set(headers) & set(ORDER_FIELDS)  # no technical key shows


def test_filters_and_search_requery_the_database(qtbot, demo_hub, cjk_font):
    ws = CustomerServiceWorkspace(demo_hub.uow)
    qtbot.addWidget(ws)
    ws.status.setCurrentIndex(ws.status.findData("allocating"))
    ws.platform.setCurrentIndex(ws.platform.findData("douyin"))
    shown = {ws.model.data(ws.model.index(r, 4)) for r in range(ws.model.rowCount())}
    platforms = {ws.model.data(ws.model.index(r, 1)) for r in range(ws.model.rowCount())}
    assert ws.model.rowCount() > 0 and shown == {"配货中"} and platforms == {"抖店"}
    target = ws.model.row_at(0)
    ws.status.setCurrentIndex(0)
    ws.platform.setCurrentIndex(0)
    qtbot.keyClicks(ws.search, target.order_no)
    qtbot.keyClick(ws.search, Qt.Key.Key_Return)
    assert ws.model.rowCount() == 1 and ws.model.row_at(0).order_no == target.order_no
    with qtbot.waitSignal(ws.order_opened) as opened:
        ws.table.doubleClicked.emit(ws.model.index(0, 0))
    assert opened.args == [target.order_no]


def test_the_station_window_renders_chinese_and_is_saved_for_a_look(qtbot, demo_hub, cjk_font, shots_dir):
    window = StationWindow(demo_hub.uow, operator="xiaomei", station="客服工作台-01", database="内置数据库")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert cjk_font == "OrderHub Sans"
    assert window.cs.wait_for_map()
    path = Path(shots_dir) / "cs-order-list.png"
    assert window.grab().save(str(path))
    assert path.stat().st_size > 20_000
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["客服", "仓库", "主管", "配置"]
    assert len(COLUMNS) == window.cs.model.columnCount()


def test_clicking_a_province_on_the_map_narrows_the_list_and_clicking_again_widens_it(qtbot, demo_hub, cjk_font, shots_dir):
    ws = CustomerServiceWorkspace(demo_hub.uow)
    qtbot.addWidget(ws)
    ws.resize(1400, 760)
    ws.show()
    qtbot.waitExposed(ws)
    everything = ws.model.rowCount()
    assert ws.wait_for_map(parcels=True)  # the parcels follow the counts: wait for them too
    assert len(ws.map._couriers) > 10  # parcels on the road show where they were last seen
    point = ws.map.screen_point("浙江省").toPoint()
    assert ws.map.province_at(ws.map.screen_point("浙江省")) == "浙江省"
    qtbot.mouseClick(ws.map, Qt.MouseButton.LeftButton, pos=point)
    provinces = {ws.model.row_at(r).province for r in range(ws.model.rowCount())}
    assert provinces == {"浙江省"} and "省份：浙江省" in ws.province.text()
    assert ws.grab().save(str(Path(shots_dir) / "cs-map-zhejiang.png"))
    qtbot.mouseClick(ws.map, Qt.MouseButton.LeftButton, pos=point)
    assert ws.model.rowCount() == everything and ws.province.text() == ""


def test_taiwan_and_the_south_china_sea_islands_are_on_the_map():
    from app.ui.order_map import geometry

    names = {p.name for p in geometry().provinces}
    assert {"台湾省", "香港特别行政区", "澳门特别行政区", "西藏自治区"} <= names and len(names) == 34
    assert len(geometry().lines) >= 4  # the dash line and the other special lines of official maps
