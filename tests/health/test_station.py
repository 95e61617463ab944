"""The 主管 station: summary row, charts drawn offscreen and saved, a click opens exactly its orders."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.domain.health import Grain, Rating
from app.services.health import Span
from tests.health.world import build, case, order, rescue, ship
from tests.auth.conftest import actor_of

SUP = actor_of("supervisor")  # health is read by someone holding health.view

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
SHOTS = Path(os.environ.get("ORDERHUB_SCREENSHOTS", "/tmp/orderhub-screens"))
H = timedelta(hours=1)


@pytest.fixture
def cjk(qapp):
    from app.ui import fonts

    return fonts.install(qapp)


@pytest.fixture
def company(hub):
    """Three days of orders: most on time, a third of them only because someone rescued them."""
    w = build(hub)
    for day in range(3):
        for n in range(9):
            t0 = w.now - (day * 24 + 3 + n) * H
            shop = "dy" if n % 3 else "tb"
            no = order(w, shop, ordered_at=t0, warehouse="hz" if n % 2 else "hf", ship_by=t0 + 24 * H)
            if n % 3 == 0:
                rescue(w, no, "order.expedite", who="ajie")
            ship(w, no, t0 + (30 if n == 8 else 6) * H)
            if n < 4:
                case(w, no, t0 + 8 * H, 40 + 30 * n + 20 * day, agent=["xiaomei", "ajie"][n % 2], closed_after_s=7200)
    return w


def _window(qtbot, hub, company):
    from app.ui.supervisor.workspace import SupervisorWorkspace

    ws = SupervisorWorkspace(hub.uow, "zh", actor=SUP, now=lambda: company.now)
    qtbot.addWidget(ws)
    ws.resize(1500, 950)
    ws.show()
    qtbot.waitExposed(ws)
    return ws


def test_the_supervisor_tab_draws_every_chart_and_the_summary_row(qtbot, hub, company, cjk):
    ws = _window(qtbot, hub, company)
    ws.set_span(Span.of(company.now - 72 * H, company.now + H), Grain.DAY)
    real = ws.summary.headline("real_on_time")
    # 27 shipped; 3 late (n == 8 each day); rescued: n in {0, 3, 6} each day, all on time → clean 27 - 3 - 9 = 15
    assert ws.summary.counts.shipped == 27
    assert real.value == pytest.approx(15 / 27) and real.detail["nominal"] == pytest.approx(24 / 27)
    assert ws.cards["real_on_time"].rating == Rating.RED
    assert ws.cards["real_on_time"].value.text() == "55.6%" and ws.cards["consistency"].value.text() == "不一致 100.0%"
    assert len(ws.on_time_chart.scatters[0].points()) == len(ws.points) >= 3
    assert list(ws.shop_chart.bars.opts["width"]) == [b.counts.rescued for b in ws.bar_rows["shop"]]  # horizontal bars
    SHOTS.mkdir(parents=True, exist_ok=True)
    ws.grab().save(str(SHOTS / "supervisor_health.png"))
    for name in ("on_time_chart", "consistency_chart", "response_chart", "orders_chart", "shop_chart",
                 "warehouse_chart", "platform_chart", "agent_chart"):
        assert getattr(ws, name).grab().save(str(SHOTS / f"supervisor_{name}.png"))


def test_clicking_a_bar_lists_exactly_the_orders_it_counted_and_opens_the_drill_down(qtbot, hub, company, cjk):
    ws = _window(qtbot, hub, company)
    ws.set_span(Span.of(company.now - 72 * H, company.now + H), Grain.DAY)
    index = next(i for i, b in enumerate(ws.bar_rows["shop"]) if b.counts.rescued)
    counted = ws.bar_rows["shop"][index].counts.rescued
    QTest.mouseClick(ws.shop_chart.plot.viewport(), Qt.MouseButton.LeftButton,
                     pos=ws.shop_chart.bar_position(index).toPoint())
    qtbot.waitUntil(lambda: ws.selection is not None)
    assert ws.selection.measure == "rescued" and ws.selection.shop_id == int(ws.bar_rows["shop"][index].key)
    while ws.model.canFetchMore():
        ws.model.fetchMore()
    assert ws.model.rowCount() == counted
    opened = []
    ws.order_opened.connect(opened.append)
    ws.table.doubleClicked.emit(ws.model.index(0, 0))
    assert opened == [ws.model.row_at(0).order_no]
    ws.grab().save(str(SHOTS / "supervisor_after_bar_click.png"))


def test_clicking_a_point_lists_the_orders_of_that_bucket(qtbot, hub, company, cjk):
    ws = _window(qtbot, hub, company)
    ws.set_span(Span.of(company.now - 72 * H, company.now + H), Grain.DAY)
    last = len(ws.points) - 1
    qtbot.wait(100)  # the view applies its new auto range when it next lays out
    QTest.mouseClick(ws.orders_chart.plot.viewport(), Qt.MouseButton.LeftButton,
                     pos=ws.orders_chart.point_position(0, last).toPoint())
    qtbot.waitUntil(lambda: ws.selection is not None)
    while ws.model.canFetchMore():
        ws.model.fetchMore()
    assert ws.model.rowCount() == ws.points[last].counts.orders


def test_a_change_in_the_database_updates_the_charts_in_place(qtbot, hub, company, cjk):
    ws = _window(qtbot, hub, company)
    curve = ws.on_time_chart.curves[0]
    before = ws.summary.counts.rescued
    no = order(company, "dy", ordered_at=company.now - 2 * H, warehouse="hz", ship_by=company.now + 20 * H)
    rescue(company, no, "order.warehouse_change")
    ws.refresh()
    assert ws.summary.counts.rescued == before + 1
    assert ws.on_time_chart.curves[0] is curve  # the same plot item, new data


def test_hovering_a_bar_shows_its_value(qtbot, hub, company, cjk):
    ws = _window(qtbot, hub, company)
    chart = ws.warehouse_chart
    index = next(i for i, b in enumerate(ws.bar_rows["warehouse"]) if b.counts.late)
    chart.plot.scene().sigMouseMoved.emit(chart.plot.mapToScene(chart.bar_position(index).toPoint()))
    assert chart.value_text.isVisible() and chart.value_text.toPlainText().endswith(str(ws.bar_rows["warehouse"][index].counts.late))
    chart.grab().save(str(SHOTS / "supervisor_bar_hover.png"))


def test_any_date_range_typed_in_china_time_is_applied_with_its_grain(qtbot, hub, company, cjk):
    from PySide6.QtCore import QDate, QDateTime, QTime

    from app.domain.clock import local

    ws = _window(qtbot, hub, company)
    start, end = local(company.now - 30 * H), local(company.now)
    ws.start_edit.setDateTime(QDateTime(QDate(start.year, start.month, start.day), QTime(start.hour, 0)))
    ws.end_edit.setDateTime(QDateTime(QDate(end.year, end.month, end.day), QTime(end.hour, 0)))
    ws.grain_box.setCurrentIndex(ws.grain_box.findData("hour"))
    qtbot.mouseClick(ws.apply_button, Qt.MouseButton.LeftButton)
    assert (ws.span.start, ws.span.end) == (company.now - 30 * H, company.now)
    assert ws.grain == Grain.HOUR and all(company.now - 30 * H <= p.at < company.now for p in ws.points)
    assert sum(p.counts.orders for p in ws.points) == health_summary_orders(hub, ws.span)
    ws.start_edit.setDateTime(ws.end_edit.dateTime().addSecs(3600))  # ends before it starts: said in words
    qtbot.mouseClick(ws.apply_button, Qt.MouseButton.LeftButton)
    assert "统计区间无效" in ws.selection_label.text()


def health_summary_orders(hub, span) -> int:
    from app.services import health

    return health.summary(hub.uow(), SUP, span, trace_sample=0).counts.orders


def test_the_live_view_follows_the_change_feed_and_updates_the_same_items(qtbot, hub, company, cjk):
    from PySide6.QtCore import QObject, Signal

    from app.ui.supervisor.workspace import SupervisorWorkspace

    class Feed(QObject):  # the one signal of the station's SyncBridge the tab listens to
        orders_changed = Signal(object)

    feed = Feed()
    ws = SupervisorWorkspace(hub.uow, "zh", actor=SUP, now=lambda: company.now, sync=feed)
    qtbot.addWidget(ws)
    before, scatter = ws.summary.counts.orders, ws.orders_chart.scatters[0]
    order(company, "tb", ordered_at=company.now - 2 * H, warehouse="hz", ship_by=company.now + 20 * H)
    feed.orders_changed.emit({"OH-new"})
    qtbot.waitUntil(lambda: ws.summary.counts.orders == before + 1, timeout=5000)
    assert ws.orders_chart.scatters[0] is scatter


def test_hovering_a_point_shows_its_bucket_and_value(qtbot, hub, company, cjk):
    ws = _window(qtbot, hub, company)
    chart = ws.on_time_chart
    spot = chart.scatters[1].points()[0]
    text = chart._tip(spot.pos().x(), spot.pos().y(), spot.data())
    assert "名义履约率" in text and text.endswith("%") and spot.data()[1] in text
