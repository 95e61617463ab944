"""The 主管 station's 工作站与打印 tab: stations online/offline by heartbeat, print failures counted and listed."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.domain import clock
from app.domain.actor import Actor
from app.services import health_ops, stations
from app.services.health import Span
from tests.health.world import build
from tests.auth.conftest import actor_of

SUP = actor_of("supervisor")  # health is read by someone holding health.view

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
SHOTS = Path(os.environ.get("ORDERHUB_SCREENSHOTS", "/tmp/orderhub-screens"))
S = timedelta(seconds=1)


@pytest.fixture
def cjk(qapp):
    from app.ui import fonts

    return fonts.install(qapp)


@pytest.fixture
def floor(hub):
    """Three stations and the failures two printers reported over the last hours (all times from the test's now)."""
    w = build(hub)
    beats = [("仓库工作站-01", ("picker", "wh_lead"), "li.sf", "李师傅", "picker", 2, w.now - 20 * S),
             ("客服工作台-02", ("cs",), "xiaomei", "小美", "cs", 0, w.now - 45 * S),
             ("打包台-03", (), None, None, None, 7, w.now - 61 * S)]
    for name, roles, login, person, role, pending, at in beats:
        with clock.set_to(at):
            stations.record_heartbeat(hub.uow(), stations.Heartbeat(name, roles, login, person, role, "0.1.0",
                                                                     pending, 30))
    failures = [("仓库工作站-01", "拣货打印机", "PRINTER_PAPER_OUT", {"order_no": "TB1001"}, 3),
                ("仓库工作站-01", "拣货打印机", "PRINTER_COVER_OPEN", {"order_no": "TB1002"}, 1),
                ("打包台-03", "面单打印机", "PRINTER_UNREACHABLE",
                 {"printer": "面单打印机", "detail": "PRINTER_DETAIL_REFUSED", "order_no": "DY2001"}, 2)]
    for station, printer, reason, params, times in failures:
        for n in range(times):
            stations.record_print_failure(hub.uow(), {
                "printer": printer, "job_id": f"job-{params['order_no']}", "attempt": n + 1,
                "order_no": params["order_no"], "reason": reason, "params": params,
                "failed_at": (w.now - timedelta(hours=2, minutes=10 * n)).timestamp()}, Actor("li.sf", station))
    # a failure from last month is outside the range shown
    stations.record_print_failure(hub.uow(), {
        "printer": "拣货打印机", "job_id": "job-old", "attempt": 1, "order_no": "TB0001", "reason": "PRINTER_PAPER_OUT",
        "params": {"order_no": "TB0001"}, "failed_at": (w.now - timedelta(days=30)).timestamp()},
        Actor("li.sf", "仓库工作站-01"))
    return w


def _workspace(qtbot, hub, now):
    from app.ui.supervisor.workspace import SupervisorWorkspace

    ws = SupervisorWorkspace(hub.uow, "zh", actor=SUP, now=lambda: now)
    qtbot.addWidget(ws)
    ws.resize(1500, 950)
    ws.show()
    qtbot.waitExposed(ws)
    return ws


def test_the_stations_tab_shows_who_is_online_and_counts_print_failures_by_station_printer_and_reason(
        qtbot, qtmodeltester, hub, floor, cjk):
    ws = _workspace(qtbot, hub, floor.now)
    ws.lower.setCurrentIndex(2)
    panel = ws.stations_panel
    shown = {panel.stations_model.row_at(n).station: panel.stations_model.index(n, 1).data()
             for n in range(panel.stations_model.rowCount())}
    # 20 s and 45 s silent: online (within two 30 s beats); 61 s: offline
    assert shown == {"仓库工作站-01": "在线", "客服工作台-02": "在线", "打包台-03": "离线"}
    assert panel.stations_model.index(0, 3).data() == "李师傅（拣货员）"
    assert panel.stations_model.index(2, 5).data() == "全部角色"
    groups = [(panel.groups_model.index(n, 0).data(), panel.groups_model.index(n, 1).data(),
               panel.groups_model.index(n, 2).data(), panel.groups_model.index(n, 3).data())
              for n in range(panel.groups_model.rowCount())]
    assert groups == [("仓库工作站-01", "拣货打印机", "缺纸", "3"), ("打包台-03", "面单打印机", "连不上打印机", "2"),
                      ("仓库工作站-01", "拣货打印机", "打印机开盖", "1")]
    assert "共 6 次" in panel.groups_title.text()
    # clicking a group lists exactly the failures it counted, each in words
    rect = panel.groups_view.visualRect(panel.groups_model.index(1, 2))
    QTest.mouseClick(panel.groups_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    listed = [panel.failures_model.row_at(n) for n in range(panel.failures_model.rowCount())]
    assert [(f.station, f.printer, f.reason) for f in listed] == [("打包台-03", "面单打印机", "PRINTER_UNREACHABLE")] * 2
    detail = panel.failures_model.index(0, 6).data()
    assert "面单打印机" in detail and "打印机拒绝连接" in detail and "PRINTER_" not in detail
    headers = [panel.failures_model.headerData(n, Qt.Orientation.Horizontal) for n in range(7)]
    assert headers == ["发生时间", "工作站", "打印机", "订单号", "第几次失败", "操作人", "说明"]
    for model in (panel.stations_model, panel.groups_model, panel.failures_model):
        qtmodeltester.check(model)
    SHOTS.mkdir(parents=True, exist_ok=True)
    ws.grab().save(str(SHOTS / "supervisor_stations.png"))
    panel.grab().save(str(SHOTS / "supervisor_stations_panel.png"))


def test_a_range_without_failures_shows_none_and_the_last_month_counts_its_own(qtbot, hub, floor, cjk):
    ws = _workspace(qtbot, hub, floor.now)
    ws.set_span(Span.of(floor.now - timedelta(hours=1), floor.now))
    ws.lower.setCurrentIndex(2)
    assert ws.stations_panel.groups_model.rowCount() == 0 and "共 0 次" in ws.stations_panel.groups_title.text()
    ws.set_span(Span.of(floor.now - timedelta(days=31), floor.now - timedelta(days=29)))
    assert ws.stations_panel.groups_model.rowCount() == 1


def test_the_operations_panel_takes_online_and_offline_from_heartbeats_and_counts_print_failures(hub, floor):
    ops = health_ops.operations(hub.uow(), SUP, Span.last_days(floor.now, 1), floor.now)
    assert ops.stations_active == ("仓库工作站-01", "客服工作台-02") and ops.stations_quiet == ("打包台-03",)
    assert ops.print_failures == 6
    # a minute later nobody has beaten again: all three offline
    later = health_ops.operations(hub.uow(), SUP, Span.last_days(floor.now, 1), floor.now + timedelta(minutes=1))
    assert later.stations_active == () and len(later.stations_quiet) == 3


def test_the_english_stations_tab_uses_business_words(qtbot, hub, floor, cjk):
    from app.ui.supervisor.workspace import SupervisorWorkspace

    ws = SupervisorWorkspace(hub.uow, "en", actor=SUP, now=lambda: floor.now)
    qtbot.addWidget(ws)
    ws.lower.setCurrentIndex(2)
    panel = ws.stations_panel
    assert panel.stations_model.headerData(2, Qt.Orientation.Horizontal) == "Last heartbeat"
    assert {panel.groups_model.index(n, 2).data() for n in range(panel.groups_model.rowCount())} == {
        "Out of paper", "Printer unreachable", "Cover open"}


def test_the_station_window_beats_with_its_name_roles_person_version_and_interval(tmp_path):
    from app import __version__
    from app.services.auth import SignedIn
    from app.settings import Settings
    from app.ui.station import station_heartbeat

    settings = Settings(data_dir=tmp_path, station_name="仓库工作站-09", station_roles="picker, wh_lead",
                        station_heartbeat_seconds=15)
    beat = station_heartbeat(settings, SignedIn("li.sf", "李师傅", "picker", False))(4)
    assert beat == stations.Heartbeat("仓库工作站-09", ("picker", "wh_lead"), "li.sf", "李师傅", "picker", __version__,
                                      4, 15)
