"""配置 · 售后流程 as forms: the diagram, problems next to their fields, steps built by hand, JSON only as export/import."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QSpinBox

from app.demo.after_sales_flows import EXCHANGE
from app.services import after_sales_flows
from app.ui.flow_diagram import layers
from app.ui.flow_editor import FlowEditor
from tests.after_sales.conftest import ADMIN, CS, Company

SHOTS = Path(os.environ.get("ORDERHUB_SCREENSHOTS", "/tmp/orderhub-screens"))


@pytest.fixture
def fonts(qapp):
    from app.ui import fonts as f

    return f.install(qapp)


@pytest.fixture
def editor(qtbot, company: Company, fonts):
    shown = FlowEditor(company.hub.uow, ADMIN)
    qtbot.addWidget(shown)
    shown.resize(1280, 860)
    shown.show()
    qtbot.waitExposed(shown)
    shown.flow.setCurrentIndex(shown.flow.findData("exchange"))
    return shown


def _tick(qtbot, table, code, column):
    """Click the check box of a state's row, as a person would."""
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).data(Qt.ItemDataRole.UserRole) == code)
    table.scrollToItem(table.item(row, column))
    rect = table.visualItemRect(table.item(row, column))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.left() + 10, rect.center().y()))


def _versions(company):
    return company.scalar("SELECT count(*) FROM after_sales_flow_versions WHERE flow_code = 'exchange'")


def test_states_are_laid_out_by_their_distance_from_the_start_and_unreachable_ones_stand_apart():
    places = layers(EXCHANGE["states"] + ["approved"], "requested", EXCHANGE["transitions"])
    assert places == {"requested": (0, 0), "exchange_created": (1, 0), "out_of_stock": (1, 1), "closed": (2, 0),
                      "rejected": (1, 2), "approved": (3, 0)}


def test_the_diagram_has_a_box_per_state_and_an_arrow_per_step_named_in_business_words(editor):
    d = editor.diagram
    assert set(d.boxes) == set(EXCHANGE["states"]) and d.unreachable == set()
    assert ("requested", "exchange_created", "查库存并处理") in d.arrows and ("exchange_created", "closed", "完结") in d.arrows
    assert ("out_of_stock", "out_of_stock", "查库存并处理") in d.arrows  # still out of stock: a loop on the box
    assert d.boxes["requested"].left() < d.boxes["exchange_created"].left() < d.boxes["closed"].left()
    assert editor.problems == [] and not editor.states_error.isVisible()


def test_an_empty_name_is_shown_under_the_name_and_saving_is_refused(qtbot, editor, company):
    editor.name.selectAll()
    qtbot.keyClick(editor.name, Qt.Key.Key_Delete)
    assert editor.definition["name"] == ""
    assert editor.name_error.isVisible() and editor.name_error.text() == "流程名称不能为空"
    assert not editor.save() and "流程名称不能为空" in editor.message.text()
    assert _versions(company) == 1
    qtbot.keyClicks(editor.name, "Size swap 2")  # (QTest types Latin keys only)
    assert not editor.name_error.isVisible() and editor.check()


def test_a_state_no_step_reaches_and_a_step_to_a_missing_state_are_marked_where_they_are(qtbot, editor, company):
    _tick(qtbot, editor.states, "approved", 0)  # 已同意 joins the flow, but no step leads to it or out of it
    assert "approved" in editor.definition["states"]
    assert editor.states_error.text() == "非结束状态没有出路：已同意\n从起始状态走不到这个状态：已同意"
    assert editor.diagram.unreachable == {"approved"}
    _tick(qtbot, editor.states, "approved", 1)  # made final: only "unreachable" is left
    assert editor.states_error.text() == "从起始状态走不到这个状态：已同意"
    assert not editor.check() and "从起始状态走不到这个状态" in editor.message.text()
    _tick(qtbot, editor.states, "approved", 0)
    _tick(qtbot, editor.states, "approved", 1)
    assert not editor.states_error.isVisible()

    _tick(qtbot, editor.states, "closed", 0)  # 已关闭 leaves the flow: the 完结 step now goes nowhere
    close = next(n for n, t in enumerate(editor.definition["transitions"]) if t["step"] == "close")
    assert editor.steps.item(close).foreground().color().name() == "#c0392b"
    assert "已关闭" in editor.steps.item(close).toolTip()
    editor.steps.setCurrentRow(close)
    assert editor.step_form.errors["to"].isVisible() and editor.step_form.errors["to"].text().endswith("：已关闭")
    assert not editor.save() and _versions(company) == 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert editor.grab().save(str(SHOTS / "admin-flow-editor-problems.png"))


def test_a_step_built_in_the_form_with_a_condition_and_an_action_is_saved_as_the_next_version(qtbot, editor, company):
    before = len(editor.definition["transitions"])
    qtbot.mouseClick(editor.add_step, Qt.MouseButton.LeftButton)
    assert editor.steps.currentRow() == before and editor.step_form.errors["step"].isVisible()
    form = editor.step_form
    form.step.setCurrentIndex(form.step.findData("respond"))
    form.target.setCurrentIndex(form.target.findData("rejected"))
    qtbot.mouseClick(form.guards.add_button, Qt.MouseButton.LeftButton)
    guard = form.guards.rows[0]
    guard.kind.setCurrentIndex(guard.kind.findData("near_expiry"))
    days = guard.findChildren(QSpinBox)[0]  # 临期 asks for its days
    days.setValue(15)
    qtbot.mouseClick(guard.negate, Qt.MouseButton.LeftButton, pos=QPoint(6, guard.negate.height() // 2))
    qtbot.mouseClick(form.actions.add_button, Qt.MouseButton.LeftButton)
    action = form.actions.rows[0]
    action.kind.setCurrentIndex(action.kind.findData("platform_answer"))
    assert editor.definition["transitions"][before] == {
        "step": "respond", "from": ["requested"], "to": "rejected",
        "guards": [{"guard": "near_expiry", "not": True, "days": 15}],
        "actions": [{"action": "platform_answer", "decision": "agree"}]}
    assert editor.steps.item(before).text().startswith("「首次回复客户」 客户已申请 → 已拒绝　条件：非临期商品")
    assert ("requested", "rejected", "拒绝申请、首次回复客户") in editor.diagram.arrows
    editor.note.setText("临期以外的申请先答复平台")
    assert editor.save() and "第 2 版" in editor.message.text()
    saved = after_sales_flows.definition(company.hub.uow(), "exchange")
    assert saved["transitions"][before]["guards"] == [{"guard": "near_expiry", "not": True, "days": 15}]
    assert saved["transitions"][:before] == EXCHANGE["transitions"]  # the rest untouched, parameters kept


def test_moving_and_removing_steps_keeps_the_order_the_engine_tries_them_in(qtbot, editor):
    first, second = (t["step"] for t in editor.definition["transitions"][:2])
    editor.steps.setCurrentRow(1)
    qtbot.mouseClick(editor.step_up, Qt.MouseButton.LeftButton)
    assert editor.definition["transitions"][0]["to"] == "out_of_stock" and editor.steps.currentRow() == 0
    qtbot.mouseClick(editor.remove_step, Qt.MouseButton.LeftButton)
    assert [t["to"] for t in editor.definition["transitions"]] == ["exchange_created", "rejected", "closed"]
    assert (first, second) == ("check_stock", "check_stock")


def test_json_is_only_an_export_and_import_and_a_broken_file_changes_nothing(qtbot, editor, company, tmp_path):
    out = tmp_path / "exchange.json"
    editor.export_json(out)
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data == after_sales_flows.definition(company.hub.uow(), "exchange")
    data["name"] = "尺码调换（导入）"
    data["transitions"][0]["guards"].append({"guard": "moon_is_full"})
    out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert editor.import_json(out)
    assert editor.name.text() == "尺码调换（导入）" and _versions(company) == 1  # not saved until 保存
    editor.steps.setCurrentRow(0)
    assert editor.step_form.guards.error.text() == "条件名称不认识：moon_is_full"
    assert editor.step_form.guards.rows[1].kind.currentText() == "moon_is_full"  # kept as it is, not dropped
    broken = tmp_path / "broken.json"
    broken.write_text("{ not json", encoding="utf-8")
    kept = json.loads(json.dumps(editor.definition))
    assert not editor.import_json(broken) and "不是有效的 JSON" in editor.message.text()
    assert editor.definition == kept


def test_saving_a_flow_needs_the_right_to_change_flows(qtbot, company, fonts):
    shown = FlowEditor(company.hub.uow, CS)
    qtbot.addWidget(shown)
    shown.flow.setCurrentIndex(shown.flow.findData("exchange"))
    shown.name.setText("客服改的")
    shown.definition["name"] = "客服改的"
    assert not shown.save() and "权限" in shown.message.text()
    assert _versions(company) == 1


def test_the_editor_reads_in_english(qtbot, company, fonts):
    shown = FlowEditor(company.hub.uow, ADMIN, lang="en")
    qtbot.addWidget(shown)
    shown.resize(1280, 860)
    shown.show()
    qtbot.waitExposed(shown)
    shown.flow.setCurrentIndex(shown.flow.findData("return_refund"))
    assert shown.steps.item(0).text().startswith("「Approve」 Requested → Inspected")
    assert ("received", "inspected", "Inspect") in shown.diagram.arrows
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert shown.grab().save(str(SHOTS / "admin-flow-editor-en.png"))
