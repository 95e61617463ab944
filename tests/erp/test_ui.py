"""ERP推送 in the station: an administrator sees failed deliveries with their reason and sends one again."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.ui.erp_panel import ErpDeliveriesPanel
from app.ui.main_window import StationWindow
from tests.erp.conftest import ADMIN, Bridge
from tests.support.factories import make_order

SHOTS = Path(os.environ.get("ORDERHUB_SCREENSHOTS", "/tmp/orderhub-screens"))


@pytest.fixture
def fonts(qapp):
    from app.ui import fonts as f

    return f.install(qapp)


def _dead_letter(bridge: Bridge) -> str:
    order_no, _ = make_order(bridge.hub, "paid")
    bridge.erp.fail_orders = {order_no}
    for minutes in (0, 10, 20):
        with bridge.hub.uow() as uow:
            at = uow.session.scalar(sa.select(sa.func.now())) + timedelta(minutes=minutes)
        bridge.dispatcher.run_once(now=at)
    return order_no


def test_an_admin_sees_a_failed_delivery_with_its_reason_and_sends_it_again(qtbot, bridge: Bridge, fonts):
    order_no = _dead_letter(bridge)
    window = StationWindow(bridge.hub.uow, operator="liu.gong", station="配置工作站-01", database="内置数据库",
                           actor=ADMIN, role="admin")
    qtbot.addWidget(window)
    window.resize(1400, 800)
    window.show()
    window.erp_dock.raise_()
    panel = window.erp
    assert isinstance(panel, ErpDeliveriesPanel) and len(panel.rows) == 1
    cells = [panel.table.item(0, c).text() for c in range(panel.table.columnCount())]
    assert cells[2] == "新订单" and cells[3] == order_no and cells[4] == "3" and "HTTP 503" in cells[6]
    headers = [panel.table.horizontalHeaderItem(c).text() for c in range(panel.table.columnCount())]
    assert headers == ["推送编号", "ERP接口", "事件", "订单ID", "已尝试次数", "产生时间", "失败原因"]
    assert panel.count.text() == "发送失败待处理 1 条"
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert panel.grab().save(str(SHOTS / "admin-erp-dead-letters.png"))
    assert window.grab().save(str(SHOTS / "admin-erp-window.png"))
    bridge.erp.fail_orders = set()
    panel.table.selectRow(0)
    panel.replay_selected()
    assert panel.rows == [] and panel.count.text() == "发送失败待处理 0 条"
    bridge.drain()
    assert [e["order_no"] for e in bridge.erp.received] == [order_no]


def test_other_roles_do_not_get_the_erp_panel(qtbot, bridge: Bridge, fonts):
    window = StationWindow(bridge.hub.uow, operator="xiaomei", station="客服工作台-01", database="内置数据库")
    qtbot.addWidget(window)
    assert window.erp is None


def test_the_panel_shows_the_last_daily_audit_anchor_sent_in_the_erp_stream(qtbot, bridge: Bridge, tmp_path):
    from app.hub.audit_anchor import anchor_if_due

    panel = ErpDeliveriesPanel(bridge.hub.uow, ADMIN)
    qtbot.addWidget(panel)
    assert panel.anchor.text() == "尚未向ERP发送每日审计锚点"
    anchor_if_due(bridge.hub, tmp_path)  # the endpoints saved by the bridge are on the audit trail
    panel.refresh()
    assert "每日审计锚点" in panel.anchor.text() and "待发送" in panel.anchor.text()
    bridge.drain()
    panel.refresh()
    assert "已发送" in panel.anchor.text() and "共 1 次" in panel.anchor.text()
