"""配置 · 平台字段定义: each platform's extra fields with the names people read and the type of their values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget

from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.fields import CODE_LISTS, Lang, code_label, label
from app.domain.messages import render
from app.services import field_defs
from app.services.field_defs import FieldDefView
from app.services.unit_of_work import UnitOfWork
from app.ui.admin.common import attempt, fill, message_label, say, table

COLUMNS = ("platform", "key", "label_zh", "label_en", "value_type", "sort_order")


class FieldDefsPage(QWidget):
    """The definitions as a list; the chosen one (or a new one) in the form below."""

    def __init__(self, uow: Callable[[], UnitOfWork], actor: Actor, *, lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._uow, self._actor, self._lang = uow, actor, lang
        zh = lang == "zh"
        self._defs: list[FieldDefView] = []
        self.filter = QComboBox()
        self.filter.addItem("全部平台" if zh else "All platforms", None)
        self.platform = QComboBox()
        for code in CODE_LISTS["platform"]:
            self.filter.addItem(code_label("platform", code, lang), code)
            self.platform.addItem(code_label("platform", code, lang), code)
        self.filter.currentIndexChanged.connect(self.refresh)
        self.list = table([label("field_def", k, lang) for k in COLUMNS])
        self.list.itemSelectionChanged.connect(self._picked)
        self.key, self.label_zh, self.label_en = QLineEdit(), QLineEdit(), QLineEdit()
        self.value_type = QComboBox()
        for code in CODE_LISTS["value_type"]:
            self.value_type.addItem(code_label("value_type", code, lang), code)
        self.sort_order = QSpinBox()
        self.sort_order.setRange(0, 999)
        form = QFormLayout()
        for key, widget in (("platform", self.platform), ("key", self.key), ("label_zh", self.label_zh),
                            ("label_en", self.label_en), ("value_type", self.value_type), ("sort_order", self.sort_order)):
            form.addRow(label("field_def", key, lang), widget)
        self.save_button = QPushButton("保存" if zh else "Save")
        self.save_button.clicked.connect(self.save)
        self.message = message_label()
        top = QHBoxLayout()
        top.addWidget(QLabel(label("field_def", "platform", lang)))
        top.addWidget(self.filter)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.list, 1)
        layout.addLayout(form)
        layout.addWidget(self.save_button)
        layout.addWidget(self.message)
        self.refresh()

    def refresh(self) -> None:
        try:
            self._defs = field_defs.list_field_defs(self._uow(), self.filter.currentData())
        except BusinessError as err:
            say(self.message, err.message(self._lang), ok=False)
            return
        lang = self._lang
        fill(self.list, [(code_label("platform", d.platform, lang), d.key, d.label_zh, d.label_en,
                          code_label("value_type", d.value_type, lang), d.sort_order) for d in self._defs])

    def _picked(self) -> None:
        rows = self.list.selectionModel().selectedRows()
        if rows:
            d = self._defs[rows[0].row()]
            self.platform.setCurrentIndex(self.platform.findData(d.platform))
            self.key.setText(d.key)
            self.label_zh.setText(d.label_zh)
            self.label_en.setText(d.label_en)
            self.value_type.setCurrentIndex(self.value_type.findData(d.value_type))
            self.sort_order.setValue(d.sort_order)

    def save(self) -> bool:
        draft = FieldDefView(self.platform.currentData(), self.key.text().strip(), self.label_zh.text(),
                             self.label_en.text(), self.value_type.currentData(), self.sort_order.value())

        def act() -> str:
            saved = field_defs.save_field_def(self._uow(), draft, self._actor)
            return render("FIELD_DEF_SAVED", self._lang, label=saved.label_zh if self._lang == "zh" else saved.label_en)

        done = attempt(self.message, self._lang, act)
        if done:
            self.refresh()
        return done
