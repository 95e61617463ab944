"""配置 · 售后流程: an admin reads and edits an after-sales flow (it is data) and saves it as a new version.

The definition is shown as JSON with a readable outline beside it (states and steps in business
language); 「检查」 runs the same checks as saving, so a broken flow is explained before anything is
saved; saving never touches cases already open, which finish on the version they started with.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QSplitter,
                               QVBoxLayout, QWidget)

from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.fields import CODE_LISTS, Lang, code_label
from app.domain.messages import render
from app.services import after_sales_flows
from app.services.unit_of_work import UnitOfWork


def outline(definition: dict[str, Any], lang: Lang = "zh") -> str:
    """The flow as a person reads it: each step from which states to which, with its conditions and actions."""
    def state(code: str) -> str:
        return code_label("after_sales_state", code, lang) if code in CODE_LISTS["after_sales_state"] else code

    lines = [f"{definition.get('name', '')}", ("起始：" if lang == "zh" else "Starts: ") + state(definition.get("initial", ""))]
    for t in definition.get("transitions", []):
        step = code_label("as_step", t.get("step", ""), lang) if t.get("step") in CODE_LISTS["as_step"] else t.get("step", "")
        guards = "、".join(("非" if g.get("not") and lang == "zh" else "not " if g.get("not") else "")
                          + _label("as_guard", g.get("guard", ""), lang) for g in t.get("guards", []))
        acts = "、".join(_label("as_action", a.get("action", ""), lang) for a in t.get("actions", []))
        zh = lang == "zh"
        lines.append(f"「{step}」 {' / '.join(state(s) for s in t.get('from', []))} → {state(t.get('to', ''))}"
                     + (f"　{'条件' if zh else 'when'}：{guards}" if guards else "")
                     + (f"　{'动作' if zh else 'does'}：{acts}" if acts else "")
                     + (("　需依据" if zh else "  needs a basis") if t.get("needs_basis") else ""))
    return "\n".join(lines)


def _label(codes: str, code: str, lang: Lang) -> str:
    return code_label(codes, code, lang) if code in CODE_LISTS[codes] else code


class FlowEditor(QWidget):
    """Pick a flow, edit its JSON, check it, save it as the next version with a note."""

    def __init__(self, uow: Callable[[], UnitOfWork], actor: Actor, *, lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._uow, self._actor, self._lang = uow, actor, lang
        zh = lang == "zh"
        self.flow = QComboBox()
        for code in CODE_LISTS["after_sales_kind"]:
            self.flow.addItem(code_label("after_sales_kind", code, lang), code)
        self.version = QLabel()
        self.text = QPlainTextEdit()
        self.text.setFont(QFont("monospace", 9))
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.note = QLineEdit()
        self.note.setPlaceholderText("修改说明（例如：换货前须客户确认）" if zh else "What changed and why")
        self.check_button = QPushButton("检查" if zh else "Check")
        self.save_button = QPushButton("保存为新版本" if zh else "Save as new version")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.flow.currentIndexChanged.connect(self.load)
        self.check_button.clicked.connect(self.check)
        self.save_button.clicked.connect(self.save)
        self.text.textChanged.connect(self._preview)
        top = QHBoxLayout()
        top.addWidget(QLabel("售后流程" if zh else "Flow"))
        top.addWidget(self.flow)
        top.addWidget(self.version, 1)
        split = QSplitter()
        split.addWidget(self.text)
        split.addWidget(self.preview)
        split.setSizes([520, 480])
        bottom = QHBoxLayout()
        bottom.addWidget(self.note, 1)
        bottom.addWidget(self.check_button)
        bottom.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.message)
        self.load()

    def load(self) -> None:
        code = self.flow.currentData()
        try:
            definition = after_sales_flows.definition(self._uow(), code)
            current = next(f for f in after_sales_flows.listing(self._uow()) if f["code"] == code)
            self.version.setText(f"当前第 {current['version']} 版，{current['updated_by']} 保存" if self._lang == "zh"
                                 else f"version {current['version']}, saved by {current['updated_by']}")
        except (BusinessError, StopIteration) as err:
            definition = {"code": code}
            self.version.setText(err.message(self._lang) if isinstance(err, BusinessError) else "")
        self.text.setPlainText(json.dumps(definition, ensure_ascii=False, indent=2))

    def _parsed(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.text.toPlainText())
        except ValueError as err:
            self._say(("流程文本不是有效的 JSON：" if self._lang == "zh" else "Not valid JSON: ") + str(err), ok=False)
            return None
        if not isinstance(data, dict):
            self._say("流程文本必须是一个对象" if self._lang == "zh" else "The flow must be a JSON object", ok=False)
            return None
        return data

    def _preview(self) -> None:
        try:
            data = json.loads(self.text.toPlainText())
            self.preview.setPlainText(outline(data, self._lang) if isinstance(data, dict) else "")
        except ValueError:
            pass  # typing: keep the last good outline

    def check(self) -> bool:
        data = self._parsed()
        if data is None:
            return False
        try:
            after_sales_flows.check(data)
        except BusinessError as err:
            self._say(err.message(self._lang), ok=False)
            return False
        self._say("检查通过，可以保存" if self._lang == "zh" else "The flow holds together", ok=True)
        return True

    def save(self) -> bool:
        data = self._parsed()
        if data is None:
            return False
        try:
            saved = after_sales_flows.save(self._uow(), data, self._actor, note=self.note.text() or None)
        except BusinessError as err:
            self._say(err.message(self._lang), ok=False)
            return False
        name = code_label("after_sales_kind", saved.code, self._lang)
        self.load()
        self._say(render("AS_FLOW_SAVED" if saved.changed else "AS_FLOW_UNCHANGED", self._lang, flow=name,
                         version=saved.version), ok=True)
        return True

    def _say(self, text: str, *, ok: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #1e7b34;" if ok else "color: #c0392b; font-weight: bold;")
