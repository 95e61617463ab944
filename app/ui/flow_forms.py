"""The form parts of the flow editor: one step (from / to / conditions / actions) and lists of condition and action rows.

Every choice is a dropdown of business words from the field dictionary (steps, states, conditions,
actions and their parameters); a value the dictionary does not know (from an imported file) is
kept and shown as it is, so editing never silently drops part of a flow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from app.domain.after_sales_flow import ACTIONS, GUARDS
from app.domain.fields import CODE_LISTS, FIELDS, Lang, code_label, label
from app.ui.flow_layout import FlowLayout, flow_policy

ERROR_STYLE = "color: #c0392b;"


def error_label() -> QLabel:
    """A red line under a field, empty (and so invisible) until that field is at fault."""
    shown = QLabel()
    shown.setStyleSheet(ERROR_STYLE)
    shown.setWordWrap(True)
    shown.setVisible(False)
    return shown


def say_error(where: QLabel, lines: Sequence[str]) -> None:
    where.setText("\n".join(lines))
    where.setVisible(bool(lines))


def code_combo(codes: str, lang: Lang, current: Any = None, *, choices: Sequence[str] | None = None,
               shrink: bool = True) -> QComboBox:
    """A dropdown of a code list's labels (data = the code); an unknown current value is kept as it is.

    ``choices`` narrows the list (an SMS template is named after the state it announces, so its
    choices are the flow's template keys labelled as states where they are one)."""
    combo = QComboBox()
    if shrink:  # a row's main dropdown may shrink (it has the row to itself); a parameter's keeps its words
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(6)
    else:
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    for code in choices if choices is not None else CODE_LISTS[codes]:
        combo.addItem(code_label(codes, code, lang) if code in CODE_LISTS[codes] else str(code), code)
    if current is not None and combo.findData(current) < 0:
        combo.addItem(str(current), current)
    if current is not None:
        combo.setCurrentIndex(combo.findData(current))
    return combo


class _Row(QWidget):
    """One condition or action: a dropdown, its parameters, and 删除."""

    changed = Signal()
    removed = Signal(object)

    def __init__(self, lang: Lang, remove_text: str) -> None:
        super().__init__()
        self._lang = lang
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 4)
        outer.setSpacing(2)
        self.line = QHBoxLayout()
        outer.addLayout(self.line)
        self.param_box = QWidget()  # the parameters wrap under the dropdown instead of widening the form
        self.param_flow = FlowLayout(self.param_box)
        self.param_flow.setContentsMargins(16, 0, 0, 0)
        flow_policy(self.param_box)
        self.param_box.setVisible(False)
        outer.addWidget(self.param_box)
        self.remove_button = QPushButton(remove_text)
        self.remove_button.clicked.connect(lambda: self.removed.emit(self))
        self.params: dict[str, Callable[[], Any]] = {}
        self._param_widgets: list[QWidget] = []

    def _clear_params(self) -> None:
        for w in self._param_widgets:
            self.param_flow.removeWidget(w)
            w.hide()
            w.deleteLater()
        self._param_widgets, self.params = [], {}
        self.param_box.setVisible(False)

    def _param(self, key: str, value: Any, templates: Sequence[str]) -> None:
        """A parameter's input as its field definition says: dropdown, whole number or text."""
        f = FIELDS["as_param"].get(key)
        caption = QLabel((f.label(self._lang) if f else key) + ("：" if self._lang == "zh" else ":"))
        if key == "template":
            widget: QWidget = code_combo("after_sales_state", self._lang, value, choices=list(templates), shrink=False)
            self.params[key] = widget.currentData  # type: ignore[attr-defined]
            widget.currentIndexChanged.connect(self.changed)  # type: ignore[attr-defined]
        elif f is not None and f.kind == "code" and f.codes:
            widget = code_combo(f.codes, self._lang, value, shrink=False)
            self.params[key] = widget.currentData  # type: ignore[attr-defined]
            widget.currentIndexChanged.connect(self.changed)  # type: ignore[attr-defined]
        elif f is not None and f.kind == "int":
            widget = QSpinBox()
            widget.setRange(0, 100_000)
            widget.setValue(int(value or 0))
            self.params[key] = widget.value  # type: ignore[attr-defined]
            widget.valueChanged.connect(self.changed)  # type: ignore[attr-defined]
        else:
            widget = QLineEdit("" if value is None else str(value))
            self.params[key] = widget.text  # type: ignore[attr-defined]
            widget.textChanged.connect(self.changed)  # type: ignore[attr-defined]
        pair = QWidget()
        row = QHBoxLayout(pair)
        row.setContentsMargins(0, 0, 8, 0)
        row.addWidget(caption)
        row.addWidget(widget)
        self.param_flow.addWidget(pair)
        pair.show()  # added to a row that may already be on screen: Qt leaves late children hidden
        self._param_widgets.append(pair)
        self.param_box.setVisible(True)


class GuardRow(_Row):
    """A condition: which one, whether it must *not* hold, and its days for 临期."""

    def __init__(self, guard: Mapping[str, Any], lang: Lang) -> None:
        super().__init__(lang, "删除" if lang == "zh" else "Remove")
        self.kind = code_combo("as_guard", lang, guard.get("guard") or next(iter(GUARDS)))
        self.negate = QCheckBox(label("as_flow", "not", lang))
        self.negate.setChecked(bool(guard.get("not")))
        self.line.addWidget(self.kind, 1)
        self.line.addWidget(self.negate)
        self.line.addWidget(self.remove_button)
        self._guard = dict(guard)
        self._show_params()
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.negate.toggled.connect(self.changed)

    def _show_params(self) -> None:
        self._clear_params()
        if self.kind.currentData() == "near_expiry":
            self._param("days", self._guard.get("days", 30), ())

    def _kind_changed(self) -> None:
        self._show_params()
        self.changed.emit()

    def value(self) -> dict[str, Any]:
        out: dict[str, Any] = {"guard": self.kind.currentData()}
        if self.negate.isChecked():
            out["not"] = True
        out.update({k: get() for k, get in self.params.items()})
        return out


class ActionRow(_Row):
    """An action and the parameters that action accepts (from the engine's own list)."""

    def __init__(self, action: Mapping[str, Any], lang: Lang, templates: Sequence[str]) -> None:
        super().__init__(lang, "删除" if lang == "zh" else "Remove")
        self._templates = list(templates)
        self.kind = code_combo("as_action", lang, action.get("action") or next(iter(ACTIONS)))
        self.line.addWidget(self.kind, 1)
        self.line.addWidget(self.remove_button)
        self._action = dict(action)
        self._show_params()
        self.kind.currentIndexChanged.connect(self._kind_changed)

    def _show_params(self) -> None:
        self._clear_params()
        name = self.kind.currentData()
        for key in sorted(ACTIONS.get(name, ())):
            self._param(key, self._action.get(key) if self._action.get("action") == name else None, self._templates)

    def _kind_changed(self) -> None:
        self._show_params()
        self.changed.emit()

    def value(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.kind.currentData()}
        for key, get in self.params.items():
            value = get()
            if value not in (None, ""):
                out[key] = value
        return out


class RowList(QWidget):
    """A titled list of condition or action rows with 添加; each row's problems show under the list."""

    changed = Signal()

    def __init__(self, title: str, make: Callable[[Mapping[str, Any]], _Row], add_text: str) -> None:
        super().__init__()
        self._make = make
        self.rows: list[_Row] = []
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        caption = QLabel(title)
        caption.setStyleSheet("font-weight: bold;")
        caption.setWordWrap(True)  # a narrow column at large fonts wraps the title rather than cutting it
        head.addWidget(caption, 1)
        self.add_button = QPushButton(add_text)
        self.add_button.clicked.connect(lambda: (self._add({}), self.changed.emit()))
        head.addWidget(self.add_button)
        column.addLayout(head)
        self.body = QVBoxLayout()
        column.addLayout(self.body)
        self.error = error_label()
        column.addWidget(self.error)

    def _add(self, value: Mapping[str, Any]) -> _Row:
        row = self._make(value)
        row.changed.connect(self.changed)
        row.removed.connect(self._remove)
        self.rows.append(row)
        self.body.addWidget(row)
        row.show()  # the list may already be on screen: Qt leaves late children hidden
        return row

    def _remove(self, row: _Row) -> None:
        self.rows.remove(row)
        self.body.removeWidget(row)
        row.hide()
        row.deleteLater()
        self.changed.emit()

    def set_values(self, values: Sequence[Mapping[str, Any]]) -> None:
        for row in list(self.rows):
            self.body.removeWidget(row)
            row.hide()
            row.deleteLater()
        self.rows = []
        for value in values:
            self._add(value)

    def values(self) -> list[dict[str, Any]]:
        return [row.value() for row in self.rows]  # type: ignore[attr-defined]


class StepForm(QWidget):
    """One transition: its step, the states it leaves from, where it goes, its basis, conditions and actions."""

    changed = Signal()

    def __init__(self, lang: Lang) -> None:
        super().__init__()
        self._lang, self._loading = lang, False
        zh = lang == "zh"
        self.step = code_combo("as_step", lang)
        self.sources = QListWidget()
        self.sources.setMaximumHeight(self.sources.fontMetrics().height() * 7)
        self.target = QComboBox()
        self.needs_basis = QCheckBox(label("as_flow", "needs_basis", lang))
        self.templates: list[str] = []
        self.guards = RowList(label("as_flow", "guards", lang), lambda g: GuardRow(g, lang), "添加条件" if zh else "Add condition")
        self.actions = RowList(label("as_flow", "actions", lang), lambda a: ActionRow(a, lang, self.templates),
                               "添加动作" if zh else "Add action")
        self.errors = {key: error_label() for key in ("step", "from", "to")}
        column = QVBoxLayout(self)
        form = QFormLayout()
        column.addLayout(form)
        column.addStretch(1)  # rows keep their height; the spare room goes below the last one
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for key, widget in (("step", self.step), ("from", self.sources), ("to", self.target)):
            box = QVBoxLayout()
            box.addWidget(widget)
            box.addWidget(self.errors[key])
            form.addRow(label("as_flow", key, lang), box)
        form.addRow("", self.needs_basis)
        form.addRow(self.guards)
        form.addRow(self.actions)
        self.step.currentIndexChanged.connect(self._edited)
        self.sources.itemChanged.connect(self._edited)
        self.target.currentIndexChanged.connect(self._edited)
        self.needs_basis.toggled.connect(self._edited)
        self.guards.changed.connect(self._edited)
        self.actions.changed.connect(self._edited)

    def _edited(self, *_: Any) -> None:
        if not self._loading:
            self.changed.emit()

    def load(self, t: Mapping[str, Any], states: Sequence[str], templates: Sequence[str]) -> None:
        """Show transition ``t``; its from/to choices are the flow's states."""
        self._loading = True
        try:
            self.templates[:] = list(templates)
            step = t.get("step")
            if step and self.step.findData(step) < 0:
                self.step.addItem(str(step), step)
            self.step.setCurrentIndex(self.step.findData(step) if step else -1)
            self.sources.clear()
            chosen = list(t.get("from") or ())
            for s in [*states, *(c for c in chosen if c not in states)]:
                item = QListWidgetItem(_state(s, self._lang))
                item.setData(Qt.ItemDataRole.UserRole, s)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if s in chosen else Qt.CheckState.Unchecked)
                self.sources.addItem(item)
            self.target.clear()
            target = t.get("to")
            for s in [*states, *([target] if target and target not in states else [])]:
                self.target.addItem(_state(s, self._lang), s)
            self.target.setCurrentIndex(self.target.findData(target) if target else -1)
            self.needs_basis.setChecked(bool(t.get("needs_basis")))
            self.guards.set_values(list(t.get("guards") or ()))
            self.actions.set_values(list(t.get("actions") or ()))
        finally:
            self._loading = False

    def value(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step.currentData() or "",
                               "from": [self.sources.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.sources.count())
                                        if self.sources.item(i).checkState() == Qt.CheckState.Checked],
                               "to": self.target.currentData() or ""}
        if self.needs_basis.isChecked():
            out["needs_basis"] = True
        guards, actions = self.guards.values(), self.actions.values()
        if guards:
            out["guards"] = guards
        if actions:
            out["actions"] = actions
        return out


def _state(code: str, lang: Lang) -> str:
    return code_label("after_sales_state", code, lang) if code in CODE_LISTS["after_sales_state"] else str(code)
