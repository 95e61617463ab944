"""售后 in the customer-service station: open a case from the drill-down, take its steps, see the notices."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.ui.after_sales_panel import OpenCaseDialog
from app.ui.main_window import StationWindow
from app.ui.notices_panel import NoticesPanel
from tests.after_sales.conftest import CS, PHONE, Company

SHOTS = Path(os.environ.get("ORDERHUB_SCREENSHOTS", "/tmp/orderhub-screens"))


@pytest.fixture
def fonts(qapp):
    from app.ui import fonts as f

    return f.install(qapp)


def test_a_size_exchange_from_the_drill_down(qtbot, company: Company, fonts):
    order_no = company.order([("T2601-01-110", 1, "170.00"), ("W2602-01-120", 1, "159.00")], gift=True)
    company.stock("T2601-01-120", 2)
    window = StationWindow(company.hub.uow, operator="xiaomei", station="客服工作台-01", database="内置数据库", actor=CS)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    view = window.open_order(order_no)
    assert view.after_sales_button.isEnabled()
    dialog = view.open_after_sales(modal=False)
    qtbot.addWidget(dialog)
    panel = dialog.panel
    assert panel.summary.text() == "这个订单还没有售后单"

    ask = OpenCaseDialog(company.hub.uow, order_no, parent=dialog)
    ask.kind.setCurrentIndex(ask.kind.findData("exchange"))
    company.stock("T2601-01-130", 0)
    ask.line.setValue(2)
    ask.line.setValue(1)  # sizes are read again for the line chosen
    sizes = [ask.size.itemText(i) for i in range(ask.size.count())]
    assert "130（缺货 0）" in sizes and not any(s.startswith("110") for s in sizes)  # its own size is not offered
    ask.size.setCurrentIndex(ask.size.findData("120"))
    assert "有货 2" in ask.size.currentText()
    ask.reason.setText("偏小，换大一码")
    ask.basis.setText("抖店售后单 7001")
    ask.phone.setText(PHONE)
    kind, lines, reason, basis, phone = ask.result_values()
    assert panel.open_case(kind, lines, reason=reason, basis=basis, phone=phone)
    assert "客户已申请" in panel.case_list.item(0).text()
    buttons = [panel.steps.itemAt(i).widget() for i in range(panel.steps.count()) if panel.steps.itemAt(i).widget()]
    assert [b.text() for b in buttons] == ["查库存并处理", "拒绝申请"]

    assert not panel.take_step("close")  # not allowed now: said plainly, nothing changed
    assert "不能执行「完结」" in panel.message.text() and panel.current.version == 1

    assert panel.take_step("check_stock")
    assert "已生成换货单" in panel.message.text() and panel.current.linked_order_no
    assert "换货/补发单" in panel.summary.text()
    assert view.detail.items[0]["line_status"] == "exchanged"  # the drill-down refreshed itself
    dialog.resize(900, 560)
    dialog.show()
    qtbot.waitExposed(dialog)
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SHOTS / "cs-after-sales.png"))
    assert window.grab().save(str(SHOTS / "cs-drill-down-after-sales.png"))


def test_procurement_and_customer_service_notices_are_visible_and_can_be_handled(qtbot, company: Company, fonts):
    from app.services import after_sales

    order_no = company.order([("T2601-01-110", 1, "69.00")])
    company.stock("T2601-01-120", 0)
    case = after_sales.open_case(company.hub.uow(), order_no, "exchange", [{"line_no": 1, "new_size": "120"}],
                                 actor=CS, reason="换大一码")
    after_sales.step(company.hub.uow(), case.case_no, "check_stock", expected_version=case.version, actor=CS)
    panel = NoticesPanel(company.hub.uow, CS)
    qtbot.addWidget(panel)
    texts = [panel.table.item(r, 2).text() for r in range(panel.table.rowCount())]
    assert any("采购补货：T2601-01-120 缺货" in t for t in texts)
    assert any("暂时缺货，已通知采购" in t for t in texts)
    kinds = {panel.table.item(r, 1).text() for r in range(panel.table.rowCount())}
    assert {"采购补货提醒", "客服提醒"} <= kinds
    before = panel.table.rowCount()
    panel.table.selectRow(0)
    panel.acknowledge_selected()
    assert panel.table.rowCount() == before - 1
    panel.resize(900, 300)
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert panel.grab().save(str(SHOTS / "cs-notices.png"))


def test_an_admin_edits_a_flow_checks_it_and_saves_a_new_version(qtbot, company: Company, fonts):
    """The same story as before the forms: a broken condition is refused, a basis made compulsory is saved."""
    from PySide6.QtCore import QPoint, Qt

    from app.ui.flow_editor import FlowEditor
    from tests.after_sales.conftest import ADMIN

    editor = FlowEditor(company.hub.uow, ADMIN)
    qtbot.addWidget(editor)
    editor.resize(1200, 800)
    editor.show()
    qtbot.waitExposed(editor)
    editor.flow.setCurrentIndex(editor.flow.findData("exchange"))
    assert "当前第 1 版" in editor.version.text()
    assert editor.steps.item(0).text() == "「查库存并处理」 客户已申请 / 缺货待补 → 已生成换货单　条件：新尺码有库存　动作：生成换货/补发单并预留库存、设置商品行状态、原发票待重开、发短信给客户"
    editor.steps.setCurrentRow(0)
    box = editor.step_form.needs_basis
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(box.fontMetrics().height() // 2, box.height() // 2))
    assert editor.definition["transitions"][0]["needs_basis"] is True
    editor.note.setText("换货前须客户确认")
    assert editor.check() and editor.save()
    assert "第 2 版" in editor.message.text() and "当前第 2 版" in editor.version.text()
    assert editor.grab().save(str(SHOTS / "admin-flow-editor.png"))


def test_the_finance_layer_shows_a_picture_of_each_invoice(qtbot, company: Company, fonts):
    from app.services import after_sales
    from app.ui.invoice_thumbnail import capital_yuan

    order_no = company.order([("T2601-01-110", 1, "69.00"), ("W2602-01-120", 1, "260.00")])
    case = after_sales.open_case(company.hub.uow(), order_no, "refund_only", [{"line_no": 1}], actor=CS, reason="少发")
    after_sales.step(company.hub.uow(), case.case_no, "refund", expected_version=case.version, actor=CS, basis="协商仅退款")
    window = StationWindow(company.hub.uow, operator="xiaomei", station="客服工作台-01", database="内置数据库", actor=CS)
    qtbot.addWidget(window)
    view = window.open_order(order_no)
    assert [t.invoice.kind for t in view.invoice_thumbnails] == ["blue", "red"]
    red = view.invoice_thumbnails[1]
    assert red.pixmap().width() == 180 and red.invoice.red_flush_of == view.invoice_thumbnails[0].invoice.invoice_no
    big = red.show_large(modal=False)
    qtbot.addWidget(big)
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert big.grab().save(str(SHOTS / "cs-invoice-red.png"))
    assert capital_yuan(red.invoice.amount) == "（负数）叁佰贰拾玖元整"
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    view.layers.setCurrentIndex(2)
    assert window.grab().save(str(SHOTS / "cs-drill-down-finance.png"))
