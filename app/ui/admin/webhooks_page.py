"""配置 · ERP推送: the ERP's webhook endpoints (where order events go, which ones, how the ERP signs back) and their secrets.

Secrets go only into the credential store (the database keeps their reference); a new or rotated
secret is shown once, here, for the person to paste into the ERP. Saving and rotating go through
app.services.erp_outbound, which checks ``erp.manage`` again whoever opened the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGridLayout, QHBoxLayout, QLineEdit, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.fields import CODE_LISTS, Lang, code_label, label
from app.domain.messages import render
from app.services import erp_outbound
from app.services.erp_outbound import Endpoint, SecretStore
from app.services.unit_of_work import UnitOfWork
from app.ui.admin.common import attempt, fill, message_label, say, table

COLUMNS = ("endpoint", "name", "url", "events", "scheme", "enabled")


class WebhooksPage(QWidget):
    """The endpoints as a list; the chosen one (or a new one) in the form beside it."""

    def __init__(self, uow: Callable[[], UnitOfWork], actor: Actor, store: SecretStore | None, *,
                 lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._uow, self._actor, self._store, self._lang = uow, actor, store, lang
        zh = lang == "zh"
        self._endpoints: list[Endpoint] = []
        self.list = table([label("erp", k, lang) for k in COLUMNS])
        self.list.itemSelectionChanged.connect(self._picked)
        self.code, self.name, self.url = QLineEdit(), QLineEdit(), QLineEdit()
        self.url.setPlaceholderText("https://erp.example.com/api/method/…")
        self.scheme = QComboBox()
        for code in CODE_LISTS["erp_scheme"]:
            self.scheme.addItem(code_label("erp_scheme", code, lang), code)
        self.events: dict[str, QCheckBox] = {code: QCheckBox(code_label("erp_event", code, lang))
                                             for code in CODE_LISTS["erp_event"]}
        events = QGridLayout()
        for n, box in enumerate(self.events.values()):
            events.addWidget(box, n // 2, n % 2)
        self.max_attempts = QSpinBox()
        self.max_attempts.setRange(1, 20)
        self.max_attempts.setValue(8)
        self.enabled = QCheckBox(label("erp", "enabled", lang))
        self.enabled.setChecked(True)
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setPlaceholderText("留空：新接口自动生成；已有接口保留原密钥" if zh
                                       else "Empty: generated for a new endpoint, kept for an existing one")
        form = QFormLayout()
        form.addRow(label("erp", "endpoint", lang), self.code)
        form.addRow(label("erp", "name", lang), self.name)
        form.addRow(label("erp", "url", lang), self.url)
        form.addRow(label("erp", "events", lang), events)
        form.addRow(label("erp", "scheme", lang), self.scheme)
        form.addRow(label("erp", "max_attempts", lang), self.max_attempts)
        form.addRow("签名密钥" if zh else "Signing secret", self.secret)
        form.addRow("", self.enabled)
        self.new_button = QPushButton("新建接口" if zh else "New endpoint")
        self.save_button = QPushButton("保存" if zh else "Save")
        self.rotate_button = QPushButton("轮换密钥" if zh else "Rotate secret")
        self.new_button.clicked.connect(self.clear)
        self.save_button.clicked.connect(self.save)
        self.rotate_button.clicked.connect(self.rotate)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.save_button, self.rotate_button):
            buttons.addWidget(button)
        self.message = message_label(4)
        self.message.setTextInteractionFlags(self.message.textInteractionFlags().TextSelectableByMouse)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addLayout(buttons)
        right.addWidget(self.message)
        right.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addWidget(self.list, 3)
        layout.addLayout(right, 2)
        self.refresh()

    def refresh(self) -> None:
        try:
            self._endpoints = erp_outbound.endpoints(self._uow())
        except BusinessError as err:
            say(self.message, err.message(self._lang), ok=False)
            return
        lang, yes_no = self._lang, (("是", "否") if self._lang == "zh" else ("yes", "no"))
        fill(self.list, [(e.code, e.name, e.url or "-", "、".join(code_label("erp_event", v, lang) for v in e.events)
                          or ("全部" if lang == "zh" else "all"), code_label("erp_scheme", e.inbound_scheme, lang),
                          yes_no[0] if e.enabled else yes_no[1]) for e in self._endpoints])

    def clear(self) -> None:
        self.list.clearSelection()
        for field in (self.code, self.name, self.url, self.secret):
            field.clear()
        self.code.setReadOnly(False)
        for box in self.events.values():
            box.setChecked(False)
        self.enabled.setChecked(True)

    def _picked(self) -> None:
        rows = self.list.selectionModel().selectedRows()
        if not rows:
            return
        e = self._endpoints[rows[0].row()]
        self.code.setText(e.code)
        self.code.setReadOnly(True)  # the code names the secret in the credential store
        self.name.setText(e.name)
        self.url.setText(e.url or "")
        self.scheme.setCurrentIndex(self.scheme.findData(e.inbound_scheme))
        for code, box in self.events.items():
            box.setChecked(code in e.events)
        self.max_attempts.setValue(e.max_attempts)
        self.enabled.setChecked(e.enabled)
        self.secret.clear()

    def save(self) -> None:
        code = self.code.text().strip()
        known = next((e for e in self._endpoints if e.code == code), None)
        ref = known.secret_ref if known else f"orderhub:erp:{code}"
        typed = self.secret.text().strip()
        fresh = typed or (None if known else erp_outbound.new_signing_secret(self.scheme.currentData()))

        def act() -> str:
            ep = erp_outbound.save_endpoint(
                self._uow(), code, name=self.name.text().strip() or code, url=self.url.text().strip() or None,
                secret_ref=ref, events=tuple(c for c, box in self.events.items() if box.isChecked()),
                inbound_scheme=self.scheme.currentData(), max_attempts=self.max_attempts.value(),
                enabled=self.enabled.isChecked(), actor=self._actor, store=self._store,
                secret=fresh if self._store is not None else None)
            said = render("ERP_ENDPOINT_SAVED", self._lang, endpoint=ep.code, url=ep.url or "-", ref=ref)
            if fresh and not typed:  # generated here: shown once, to paste into the ERP
                said += ("\n请复制到ERP中：" if self._lang == "zh" else "\nPaste into the ERP: ") + fresh
            return said

        if not code:
            say(self.message, "请填写ERP接口编码" if self._lang == "zh" else "Enter the endpoint's code", ok=False)
            return
        if attempt(self.message, self._lang, act):
            self.secret.clear()
            self.refresh()

    def rotate(self) -> None:
        code = self.code.text().strip()
        if self._store is None or not code:
            say(self.message, "请先选择一个ERP接口" if self._lang == "zh" else "Choose an endpoint first", ok=False)
            return
        known = next((e for e in self._endpoints if e.code == code), None)
        fresh = erp_outbound.new_signing_secret(known.inbound_scheme if known else "standard")
        attempt(self.message, self._lang, lambda: render(
            "ERP_SECRET_ROTATED", self._lang,
            endpoint=erp_outbound.rotate_secret(self._uow(), self._store, code, fresh, self._actor).code, secret=fresh))
