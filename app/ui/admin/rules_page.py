"""配置 · 路由规则: the rules with their versions, switch on/off, edit, and 试运行 against history before saving.

Saving is only offered after the draft as it stands was tried on the last days' orders and the
result was shown: a routing change nobody measured is the kind that sends a region's orders to
the wrong warehouse on a Monday morning.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QSpinBox, QSplitter,
                               QVBoxLayout, QWidget)
from PySide6.QtCore import Qt

from app.domain.actor import Actor
from app.domain.clock import local
from app.domain.errors import BusinessError
from app.domain.fields import Lang, label
from app.domain.messages import render
from app.domain.rules import describe_actions, describe_condition
from app.services import rule_book
from app.services.rule_book import RuleDraft, RuleView
from app.services.rule_dry_run import DryRunReport, dry_run, outcome_label, summary
from app.services.unit_of_work import UnitOfWork
from app.ui.admin.common import Background, attempt, fill, message_label, say, table

LIST = ("code", "name", "version", "priority", "enabled", "condition", "actions", "author", "updated_at")
HISTORY = ("version", "condition", "actions", "author", "updated_at", "note")
NEW_RULE = {"code": "R-NEW", "name": "新规则", "priority": 100, "enabled": True,
            "condition": {"field": "province", "op": "in", "value": ["浙江省"]},
            "actions": [{"type": "choose_warehouse", "warehouses": []}]}


def draft_json(view: RuleView) -> str:
    return json.dumps({"code": view.code, "name": view.name, "priority": view.priority, "enabled": view.enabled,
                       "condition": view.condition, "actions": list(view.actions)}, ensure_ascii=False, indent=2)


class RulesPage(QWidget):
    """Rule list and version history above; the draft, its dry run and 保存为新版本 below."""

    def __init__(self, uow: Callable[[], UnitOfWork], actor: Actor, *, lang: Lang = "zh", days: int = 7,
                 parent: Any = None) -> None:
        super().__init__(parent)
        self._uow, self._actor, self._lang = uow, actor, lang
        zh = lang == "zh"
        self._rules: list[RuleView] = []
        self._tried: str | None = None  # the exact text whose dry run is on screen
        self._vocab: Any = None  # the rule vocabulary (names of fields, warehouses…) from the last refresh
        self.report: DryRunReport | None = None
        self.list = table([label("rule_def", k, lang) for k in LIST])
        self.list.itemSelectionChanged.connect(self._picked)
        self.history = table([label("rule_def", k, lang) for k in HISTORY])
        self.basis = QLineEdit()
        self.basis.setPlaceholderText("启用 / 停用的依据（例如：双11结束，周会决定）" if zh else "Why (for the audit trail)")
        self.switch_button = QPushButton("停用" if zh else "Disable")
        self.switch_button.clicked.connect(self.toggle)
        self.new_button = QPushButton("新规则" if zh else "New rule")
        self.new_button.clicked.connect(lambda: self.text.setPlainText(json.dumps(NEW_RULE, ensure_ascii=False, indent=2)))
        self.text = QPlainTextEdit()
        self.text.setFont(QFont("monospace", 9))
        self.text.textChanged.connect(self._edited)
        self.days = QSpinBox()
        self.days.setRange(1, 90)
        self.days.setValue(days)
        self.days.setSuffix(" 天" if zh else " days")
        self.try_button = QPushButton("试运行（用历史订单）" if zh else "Dry run on past orders")
        self.try_button.clicked.connect(self.try_draft)
        self.outline = QLabel()
        self.outline.setWordWrap(True)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.result.setMinimumHeight(self.result.fontMetrics().lineSpacing() * 4 + 4)  # the three summary lines
        self.outcomes = table([label("dry_run", k, lang) for k in ("outcome", "today", "draft", "change")])
        self.note = QLineEdit()
        self.note.setPlaceholderText(label("rule_def", "note", lang))
        self.save_button = QPushButton("保存为新版本" if zh else "Save as new version")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save)
        self.message = message_label()

        switch = QHBoxLayout()
        switch.addWidget(self.new_button)
        switch.addWidget(self.basis, 1)
        switch.addWidget(self.switch_button)
        upper = QWidget()
        up = QVBoxLayout(upper)
        up.setContentsMargins(0, 0, 0, 0)
        up.addWidget(self.list, 3)
        up.addLayout(switch)
        up.addWidget(QLabel("版本历史" if zh else "Versions"))
        up.addWidget(self.history, 2)
        trying = QHBoxLayout()
        trying.addWidget(QLabel("最近" if zh else "Last"))
        trying.addWidget(self.days)
        trying.addWidget(self.try_button)
        trying.addStretch(1)
        saving = QHBoxLayout()
        saving.addWidget(self.note, 1)
        saving.addWidget(self.save_button)
        right = QWidget()
        side = QVBoxLayout(right)
        side.setContentsMargins(0, 0, 0, 0)
        side.addLayout(trying)
        side.addWidget(self.outline)
        side.addWidget(self.result)
        side.addWidget(self.outcomes, 1)
        side.addLayout(saving)
        side.addWidget(self.message)
        lower = QSplitter()
        lower.addWidget(self.text)
        lower.addWidget(right)
        lower.setStretchFactor(0, 1)
        lower.setStretchFactor(1, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(upper)
        split.addWidget(lower)
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self._worker = Background(self)
        self._worker.finished.connect(self._tried_out)
        self.refresh()

    # -- list, history ------------------------------------------------------------------------------------------
    def _row(self, v: RuleView, vocab: Any, keys: tuple[str, ...]) -> list[str]:
        lang = self._lang
        values = {"code": v.code, "name": v.name, "version": v.version, "priority": v.priority,
                  "enabled": render("YES" if v.enabled else "NO", lang),
                  "condition": describe_condition(v.condition, vocab, lang),
                  "actions": describe_actions(v.actions, vocab, lang), "author": v.author,
                  "updated_at": local(v.saved_at).strftime("%Y-%m-%d %H:%M"), "note": v.note or ""}
        return [str(values[k]) for k in keys]

    def refresh(self) -> None:
        try:
            self._rules, vocab = rule_book.list_rules(self._uow())
        except BusinessError as err:
            say(self.message, err.message(self._lang), ok=False)
            return
        self._vocab = vocab
        fill(self.list, [self._row(v, vocab, LIST) for v in self._rules], marked=[not v.enabled for v in self._rules])

    def _picked(self) -> None:
        rows = self.list.selectionModel().selectedRows()
        if rows:
            self.select(self._rules[rows[0].row()].code)

    def select(self, code: str) -> None:
        """Show a rule's versions and put its current version into the editor."""
        view = next(v for v in self._rules if v.code == code)
        versions, vocab = rule_book.history(self._uow(), code)
        fill(self.history, [self._row(v, vocab, HISTORY) for v in reversed(versions)])
        self.text.setPlainText(draft_json(view))
        zh = self._lang == "zh"
        self.switch_button.setText(("停用" if view.enabled else "启用") if zh else ("Disable" if view.enabled else "Enable"))

    def toggle(self) -> bool:
        rows = self.list.selectionModel().selectedRows()
        if not rows:
            return False
        view = self._rules[rows[0].row()]
        done = attempt(self.message, self._lang, lambda: render(
            "RULE_DISABLED" if view.enabled else "RULE_ENABLED", self._lang,
            rule=rule_book.set_enabled(self._uow(), view.code, not view.enabled, self._actor,
                                       self.basis.text().strip() or None).name))
        self.refresh()
        self.list.selectRow(next(n for n, v in enumerate(self._rules) if v.code == view.code))
        self.select(view.code)
        return done

    # -- draft, dry run, save -----------------------------------------------------------------------------------
    def _edited(self) -> None:
        self.save_button.setEnabled(self._tried is not None and self._tried == self.text.toPlainText())
        self._describe()

    def _describe(self) -> None:
        """The draft read back in business language as it is typed (the JSON is the precise form)."""
        if self._vocab is None:
            return
        try:
            draft = RuleDraft.from_json(json.loads(self.text.toPlainText()))
            text = (describe_condition(draft.condition, self._vocab, self._lang) + " → "
                    + describe_actions(draft.actions or [], self._vocab, self._lang))
        except Exception:  # noqa: BLE001 — a half-typed draft must never break the editor; the dry run explains it
            text = "（规则格式有误，试运行会指出错在哪里）" if self._lang == "zh" else "(the rule is not well formed yet; a dry run says where)"
        self.outline.setText(text)

    def draft(self) -> RuleDraft:
        try:
            data = json.loads(self.text.toPlainText())
        except json.JSONDecodeError as err:
            raise BusinessError("RULE_NOT_JSON", line=err.lineno, column=err.colno) from None
        return RuleDraft.from_json(data)

    def try_draft(self) -> None:
        """Try the draft on the last days' orders (off the GUI thread); saving opens once it is shown."""
        self.save_button.setEnabled(False)
        text = self.text.toPlainText()
        try:
            draft = self.draft()
        except BusinessError as err:
            say(self.result, err.message(self._lang), ok=False)
            return
        days = self.days.value()
        self.try_button.setEnabled(False)
        say(self.result, "正在用历史订单试运行…" if self._lang == "zh" else "Trying on past orders…", ok=True)
        self._pending = text
        self._worker.run(lambda: dry_run(self._uow(), draft, self._actor, days=days))

    def _tried_out(self, generation: int, result: Any) -> None:
        if generation != self._worker.generation:
            return
        self.try_button.setEnabled(True)
        if isinstance(result, BusinessError):
            self._tried, self.report = None, None
            say(self.result, result.message(self._lang), ok=False)
            self.outcomes.setRowCount(0)
            return
        report: DryRunReport = result
        self.report, self._tried = report, self._pending
        lang = self._lang
        say(self.result, "\n".join(summary(report, lang)), ok=True)
        fill(self.outcomes, [[outcome_label(r.outcome, report.vocab, lang), r.today, r.draft,
                              f"{r.change:+d}" if r.change else "0"] for r in report.rows])
        self._edited()

    def save(self) -> bool:
        if self._tried is None or self._tried != self.text.toPlainText():
            return False
        draft = replace(self.draft(), note=self.note.text().strip() or None)

        def act() -> str:
            result = rule_book.save_rule(self._uow(), draft, self._actor)
            return render("RULE_SAVED" if result.changed else "RULE_UNCHANGED", self._lang, rule=result.rule.name,
                          version=result.rule.version)

        done = attempt(self.message, self._lang, act)
        if done:
            self.refresh()
            self.note.clear()
            self.select(draft.code)  # its versions, the new one on top
        return done

    def shutdown(self) -> None:
        self._worker.wait()
