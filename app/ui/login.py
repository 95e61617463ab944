"""Signing in: who is at this station, in which role, and in which language."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel

from app.domain.fields import Lang, code_label
from app.services.users import UserView


class LoginDialog(QDialog):
    """Pick a person (their role shows beside the name) and the language; OK signs in."""

    def __init__(self, users: list[UserView], lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        zh = lang == "zh"
        self.setWindowTitle("登录 OrderHub 订单中枢" if zh else "Sign in to OrderHub")
        self.users = QComboBox()
        for u in users:
            self.users.addItem(f"{u.display_name}（{code_label('role', u.role, lang)}）", u)
        self.language = QComboBox()
        self.language.addItem("中文", "zh")
        self.language.addItem("English", "en")
        self.language.setCurrentIndex(0 if zh else 1)
        form = QFormLayout(self)
        form.addRow(QLabel("操作人" if zh else "Operator"), self.users)
        form.addRow(QLabel("语言" if zh else "Language"), self.language)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def chosen(self) -> tuple[UserView, Lang]:
        return self.users.currentData(), self.language.currentData()
