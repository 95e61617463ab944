"""配置 · 售后流程: an operations lead edits an after-sales flow as forms, sees it drawn, and saves it as a new version.

States, steps, conditions and actions are lists, dropdowns and check boxes in business words (from
the field dictionary); the state machine is drawn beside them; each problem the service would
refuse the flow for shows next to the field at fault as soon as it appears. The JSON is only an
export / import. Saving goes through the same service (and its permission check) as before and
never touches cases already open, which finish on the version they started with.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QPushButton, QScrollArea, QSplitter, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.fields import CODE_LISTS, Lang, code_label, label
from app.domain.flow_check import FlowProblem
from app.domain.messages import render
from app.services import after_sales_flows
from app.services.unit_of_work import UnitOfWork
from app.ui.flow_diagram import FlowDiagram
from app.ui.flow_forms import ActionRow, RowList, StepForm, error_label, say_error

STATES = tuple(CODE_LISTS["after_sales_state"])


def _label(codes: str, code: Any, lang: Lang) -> str:
    return code_label(codes, code, lang) if code in CODE_LISTS[codes] else str(code)


def step_line(t: dict[str, Any], lang: Lang) -> str:
    """「查库存并处理」 客户已申请 / 缺货待补 → 已生成换货单　条件：新尺码有库存."""
    zh = lang == "zh"
    sep, colon = ("、", "：") if zh else (", ", ": ")
    guards = sep.join(("非" if g.get("not") and zh else "not " if g.get("not") else "") + _label("as_guard", g.get("guard", ""), lang)
                      for g in t.get("guards", []))
    acts = sep.join(_label("as_action", a.get("action", ""), lang) for a in t.get("actions", []))
    return (f"「{_label('as_step', t.get('step', ''), lang)}」 "
            f"{' / '.join(_label('after_sales_state', s, lang) for s in t.get('from', []))} → "
            f"{_label('after_sales_state', t.get('to', ''), lang)}"
            + ((f"　条件{colon}{guards}" if zh else f"  when{colon}{guards}") if guards else "")
            + ((f"　动作{colon}{acts}" if zh else f"  does{colon}{acts}") if acts else "")
            + (("　需依据" if zh else "  needs a basis") if t.get("needs_basis") else ""))


class FlowEditor(QWidget):
    """Pick a flow, edit it as forms, check it, save it as the next version with a note."""

    def __init__(self, uow: Callable[[], UnitOfWork], actor: Actor, *, lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._uow, self._actor, self._lang = uow, actor, lang
        self.definition: dict[str, Any] = {}
        self.problems: list[FlowProblem] = []
        self._filling = False
        zh = lang == "zh"
        self.flow = QComboBox()
        for code in CODE_LISTS["after_sales_kind"]:
            self.flow.addItem(code_label("after_sales_kind", code, lang), code)
        self.version = QLabel()
        self.import_button = QPushButton("导入 JSON" if zh else "Import JSON")
        self.export_button = QPushButton("导出 JSON" if zh else "Export JSON")
        self.name = QLineEdit()
        self.initial = QComboBox()
        self.name_error, self.initial_error, self.states_error = error_label(), error_label(), error_label()
        self.states = QTableWidget(len(STATES), 2)
        self.states.setHorizontalHeaderLabels([label("as_flow", "states", lang), label("as_flow", "terminal", lang)])
        self.states.verticalHeader().setVisible(False)
        self.states.horizontalHeader().setStretchLastSection(True)
        for row, code in enumerate(STATES):
            for col, text in ((0, code_label("after_sales_state", code, lang)), (1, "")):
                item = QTableWidgetItem(text)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                item.setData(Qt.ItemDataRole.UserRole, code)
                item.setCheckState(Qt.CheckState.Unchecked)
                self.states.setItem(row, col, item)
        self.states.resizeColumnsToContents()
        self.on_open = RowList(label("as_flow", "on_open", lang), lambda a: ActionRow(a, lang, self._templates()),
                               "添加动作" if zh else "Add action")
        self.steps = QListWidget()
        self.steps.setWordWrap(True)
        self.add_step = QPushButton("添加步骤" if zh else "Add step")
        self.remove_step = QPushButton("删除步骤" if zh else "Remove step")
        self.step_up = QPushButton("上移" if zh else "Up")
        self.step_down = QPushButton("下移" if zh else "Down")
        self.step_form = StepForm(lang)
        self.step_form.setEnabled(False)
        self.diagram = FlowDiagram(lang)
        self.note = QLineEdit()
        self.note.setPlaceholderText("修改说明（例如：换货前须客户确认）" if zh else "What changed and why")
        self.check_button = QPushButton("检查" if zh else "Check")
        self.save_button = QPushButton("保存为新版本" if zh else "Save as new version")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self._build()
        self.flow.currentIndexChanged.connect(self.load)
        self.check_button.clicked.connect(self.check)
        self.save_button.clicked.connect(self.save)
        self.export_button.clicked.connect(self._ask_export)
        self.import_button.clicked.connect(self._ask_import)
        self.name.textChanged.connect(lambda text: self._set("name", text))
        self.initial.currentIndexChanged.connect(lambda _: self._set("initial", self.initial.currentData()))
        self.states.itemChanged.connect(self._states_changed)
        self.on_open.changed.connect(lambda: self._set("on_open", self.on_open.values()))
        self.steps.currentRowChanged.connect(self._step_chosen)
        self.step_form.changed.connect(self._step_edited)
        self.add_step.clicked.connect(self.new_step)
        self.remove_step.clicked.connect(self.delete_step)
        self.step_up.clicked.connect(lambda: self.move_step(-1))
        self.step_down.clicked.connect(lambda: self.move_step(1))
        self.load()

    def _build(self) -> None:
        lang = self._lang
        top = QHBoxLayout()
        top.addWidget(QLabel("售后流程" if lang == "zh" else "Flow"))
        top.addWidget(self.flow)
        top.addWidget(self.version, 1)
        top.addWidget(self.import_button)
        top.addWidget(self.export_button)
        head = QFormLayout()
        for caption, widget, error in ((label("as_flow", "name", lang), self.name, self.name_error),
                                       (label("as_flow", "initial", lang), self.initial, self.initial_error)):
            box = QVBoxLayout()
            box.addWidget(widget)
            box.addWidget(error)
            head.addRow(caption, box)
        left = QWidget()
        left_col = QVBoxLayout(left)
        left_col.setContentsMargins(0, 0, 0, 0)
        left_col.addLayout(head)
        left_col.addWidget(self.states, 1)
        left_col.addWidget(self.states_error)
        left_col.addWidget(self.on_open)
        middle = QWidget()
        mid_col = QVBoxLayout(middle)
        mid_col.setContentsMargins(0, 0, 0, 0)
        steps_title = QLabel(label("as_flow", "transitions", lang))
        steps_title.setStyleSheet("font-weight: bold;")
        mid_col.addWidget(steps_title)
        mid_col.addWidget(self.steps, 1)
        buttons = QHBoxLayout()
        for b in (self.add_step, self.remove_step, self.step_up, self.step_down):
            buttons.addWidget(b)
        mid_col.addLayout(buttons)
        form_area = QScrollArea()  # many conditions and actions: the form scrolls, the window does not grow
        form_area.setWidgetResizable(True)
        form_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        form_area.setWidget(self.step_form)
        forms = QSplitter(Qt.Orientation.Horizontal)
        for w in (left, middle, form_area):
            forms.addWidget(w)
        forms.setSizes([300, 420, 520])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(forms)
        split.addWidget(self.diagram)
        split.setSizes([460, 300])
        bottom = QHBoxLayout()
        bottom.addWidget(self.note, 1)
        bottom.addWidget(self.check_button)
        bottom.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.message)

    def _t(self, zh: str, en: str) -> str:
        return zh if self._lang == "zh" else en

    def _templates(self) -> list[str]:
        return list((self.definition.get("sms_templates") or {}).keys())

    # --- loading and showing ---------------------------------------------------------------------------
    def load(self) -> None:
        code = self.flow.currentData()
        try:
            definition = after_sales_flows.definition(self._uow(), code)
            current = next(f for f in after_sales_flows.listing(self._uow()) if f["code"] == code)
            self.version.setText(self._t(f"当前第 {current['version']} 版，{current['updated_by']} 保存",
                                         f"version {current['version']}, saved by {current['updated_by']}"))
        except (BusinessError, StopIteration) as err:
            definition = {"code": code}
            self.version.setText(err.message(self._lang) if isinstance(err, BusinessError) else "")
        self.show_definition(definition)

    def show_definition(self, definition: dict[str, Any]) -> None:
        """Fill every form from ``definition`` (a copy: nothing changes until 保存)."""
        self.definition = copy.deepcopy(definition)
        self._filling = True
        try:
            self.name.setText(str(self.definition.get("name", "")))
            in_flow, final = set(self.definition.get("states") or ()), set(self.definition.get("terminal") or ())
            for row in range(self.states.rowCount()):
                code = self.states.item(row, 0).data(Qt.ItemDataRole.UserRole)
                self.states.item(row, 0).setCheckState(Qt.CheckState.Checked if code in in_flow else Qt.CheckState.Unchecked)
                self.states.item(row, 1).setCheckState(Qt.CheckState.Checked if code in final else Qt.CheckState.Unchecked)
            self._fill_initial()
            self.on_open.set_values(list(self.definition.get("on_open") or ()))
            self._fill_steps()
        finally:
            self._filling = False
        self.steps.setCurrentRow(0 if self.steps.count() else -1)
        self._step_chosen(self.steps.currentRow())
        self._revalidate()

    def _fill_initial(self) -> None:
        states = list(self.definition.get("states") or ())
        initial = self.definition.get("initial")
        blocked = self.initial.blockSignals(True)
        self.initial.clear()
        for s in [*states, *([initial] if initial and initial not in states else [])]:
            self.initial.addItem(_label("after_sales_state", s, self._lang), s)
        self.initial.setCurrentIndex(self.initial.findData(initial) if initial else -1)
        self.initial.blockSignals(blocked)

    def _fill_steps(self) -> None:
        row = self.steps.currentRow()
        blocked = self.steps.blockSignals(True)
        self.steps.clear()
        for t in self.definition.get("transitions") or ():
            self.steps.addItem(QListWidgetItem(step_line(t, self._lang)))
        self.steps.setCurrentRow(min(row, self.steps.count() - 1))
        self.steps.blockSignals(blocked)

    # --- editing ---------------------------------------------------------------------------------------
    def _set(self, key: str, value: Any) -> None:
        if self._filling:
            return
        self.definition[key] = value
        self._revalidate()

    def _states_changed(self, item: QTableWidgetItem) -> None:
        if self._filling:
            return
        code, checked = item.data(Qt.ItemDataRole.UserRole), item.checkState() == Qt.CheckState.Checked
        key = "states" if item.column() == 0 else "terminal"
        values = list(self.definition.get(key) or ())
        if checked and code not in values:
            values.append(code)
        elif not checked and code in values:
            values.remove(code)
        self.definition[key] = values
        if key == "states":
            self._fill_initial()
            self._step_chosen(self.steps.currentRow())  # the step's from/to choices follow the states
        self._revalidate()

    def _step_chosen(self, row: int) -> None:
        transitions = self.definition.get("transitions") or []
        self.step_form.setEnabled(0 <= row < len(transitions))
        if 0 <= row < len(transitions):
            self.step_form.load(transitions[row], list(self.definition.get("states") or ()), self._templates())
        self._revalidate()

    def _step_edited(self) -> None:
        row = self.steps.currentRow()
        transitions = self.definition.setdefault("transitions", [])
        if not 0 <= row < len(transitions):
            return
        transitions[row] = self.step_form.value()
        self.steps.item(row).setText(step_line(transitions[row], self._lang))
        self._revalidate()

    def new_step(self) -> None:
        """A new step leaving the start state, for the lead to fill in (its gaps show at once)."""
        transitions = self.definition.setdefault("transitions", [])
        initial = self.definition.get("initial")
        transitions.append({"step": "", "from": [initial] if initial else [], "to": ""})
        self._fill_steps()
        self.steps.setCurrentRow(len(transitions) - 1)

    def delete_step(self) -> None:
        row = self.steps.currentRow()
        transitions = self.definition.get("transitions") or []
        if 0 <= row < len(transitions):
            transitions.pop(row)
            self._fill_steps()
            self.steps.setCurrentRow(min(row, len(transitions) - 1))
            self._step_chosen(self.steps.currentRow())

    def move_step(self, delta: int) -> None:
        """Order matters: the first step whose conditions hold is the one taken."""
        row = self.steps.currentRow()
        transitions = self.definition.get("transitions") or []
        if 0 <= row < len(transitions) and 0 <= row + delta < len(transitions):
            transitions[row], transitions[row + delta] = transitions[row + delta], transitions[row]
            self._fill_steps()
            self.steps.setCurrentRow(row + delta)

    # --- problems next to their fields -----------------------------------------------------------------
    def _text(self, p: FlowProblem) -> str:
        what = code_label("as_flow_problem", p.problem, self._lang)
        found = _label("after_sales_state", p.found, self._lang) if p.problem in ("state", "dead_end", "unreachable",
                                                                                 "initial", "terminal", "transition") else p.found
        return what if p.found in ("-", "", "None") else f"{what}：{found}" if self._lang == "zh" else f"{what}: {found}"

    def _revalidate(self) -> None:
        self.problems = after_sales_flows.problems(self.definition)
        where: dict[str, list[str]] = {}
        bad_steps: dict[int, list[str]] = {}
        bad_states: set[str] = set()
        row = self.steps.currentRow()
        for p in self.problems:
            head, text = p.where[0], self._text(p)
            if head == "transitions":
                bad_steps.setdefault(p.where[1], []).append(text)
                if p.where[1] == row:
                    where.setdefault(f"step.{p.where[2]}", []).append(text)
            elif head == "states":
                bad_states.add(p.where[1])
                where.setdefault("states", []).append(text)
            else:
                where.setdefault({"terminal": "states"}.get(head, head), []).append(text)
        say_error(self.name_error, where.get("name", []))
        say_error(self.initial_error, where.get("initial", []))
        say_error(self.states_error, where.get("states", []))
        say_error(self.on_open.error, where.get("on_open", []))
        for key, shown in self.step_form.errors.items():
            say_error(shown, where.get(f"step.{key}", []))
        say_error(self.step_form.guards.error, where.get("step.guards", []))
        say_error(self.step_form.actions.error, where.get("step.actions", []))
        for n in range(self.steps.count()):
            item = self.steps.item(n)
            item.setForeground(QColor("#c0392b") if n in bad_steps else QColor("#1b2330"))
            item.setToolTip("\n".join(bad_steps.get(n, [])))
        for r in range(self.states.rowCount()):
            code = self.states.item(r, 0).data(Qt.ItemDataRole.UserRole)
            self.states.item(r, 0).setForeground(QColor("#c0392b") if code in bad_states else QColor("#1b2330"))
        self.diagram.show_flow(self.definition, selected=row if row >= 0 else None, faulty=bad_states)
        others = [self._text(p) for p in self.problems if p.where[0] in ("code", "sms_templates")]
        if others:
            self._say("；".join(others) if self._lang == "zh" else "; ".join(others), ok=False)

    # --- check, save, export, import -------------------------------------------------------------------
    def check(self) -> bool:
        try:
            after_sales_flows.check(self.definition)
        except BusinessError as err:
            self._say(err.message(self._lang), ok=False)
            return False
        self._say(self._t("检查通过，可以保存", "The flow holds together"), ok=True)
        return True

    def save(self) -> bool:
        """Through the service: it checks the flow again and the person's right to change flows."""
        try:
            saved = after_sales_flows.save(self._uow(), self.definition, self._actor, note=self.note.text() or None)
        except BusinessError as err:
            self._say(err.message(self._lang), ok=False)
            return False
        name = code_label("after_sales_kind", saved.code, self._lang)
        self.load()
        self._say(render("AS_FLOW_SAVED" if saved.changed else "AS_FLOW_UNCHANGED", self._lang, flow=name,
                         version=saved.version), ok=True)
        return True

    def export_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.definition, ensure_ascii=False, indent=2), encoding="utf-8")
        self._say(self._t(f"已导出到 {path}", f"Exported to {path}"), ok=True)

    def import_json(self, path: Path) -> bool:
        """Load a flow from a file into the forms (not saved until 保存); a broken file changes nothing."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError) as err:
            self._say(self._t("无法读取流程文件（不是有效的 JSON）：", "Cannot read the flow file (not valid JSON): ") + str(err),
                      ok=False)
            return False
        if not isinstance(data, dict):
            self._say(self._t("流程文件必须是一个对象", "The flow file must hold one JSON object"), ok=False)
            return False
        if data.get("code") in CODE_LISTS["after_sales_kind"]:
            blocked = self.flow.blockSignals(True)
            self.flow.setCurrentIndex(self.flow.findData(data["code"]))
            self.flow.blockSignals(blocked)
        self.show_definition(data)
        self._say(self._t("已导入，检查无误后请保存为新版本", "Imported: check it, then save it as a new version"), ok=True)
        return True

    def _ask_export(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, self.export_button.text(), f"{self.flow.currentData()}.json", "JSON (*.json)")
        if name:
            self.export_json(Path(name))

    def _ask_import(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, self.import_button.text(), "", "JSON (*.json)")
        if name:
            self.import_json(Path(name))

    def _say(self, text: str, *, ok: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #1e7b34;" if ok else "color: #c0392b; font-weight: bold;")
