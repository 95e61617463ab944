"""Signing in: login and password (argon2-checked by the service), the first administrator, a forced change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout

from app.domain.errors import BusinessError
from app.domain.fields import Lang
from app.services.auth import SignedIn

SignIn = Callable[[str, str], SignedIn]


def _error_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet("color: #b3261e;")
    label.hide()
    return label


class LoginDialog(QDialog):
    """Login + password + language; OK asks ``sign_in`` and stays open with the refusal in words.

    ``offline`` says plainly that the database is away and only people who signed in here before can
    sign in (their password checked against the hash this station kept), and why when IT must act
    (``offline_reason``: a TLS refusal); ``hint`` is the demo's note.
    """

    def __init__(self, sign_in: SignIn, lang: Lang = "zh", parent: Any = None, *, station: str = "",
                 offline: bool = False, hint: str | None = None, offline_reason: BusinessError | None = None) -> None:
        super().__init__(parent)
        self._sign_in, self.signed_in = sign_in, None
        zh = lang == "zh"
        self.setWindowTitle("登录 OrderHub 订单中枢" if zh else "Sign in to OrderHub")
        layout = QVBoxLayout(self)
        title = QLabel(("登录" if zh else "Sign in") + (f" · {station}" if station else ""))
        title.setStyleSheet("font-size: 18px; font-weight: 600;")
        layout.addWidget(title)
        self.offline_note = QLabel("数据库暂时连不上：只能用本机最近登录过的账号离线登录，改动会在恢复连接后提交。"
                                   if zh else "The database cannot be reached: only people who signed in on this "
                                   "computer before can sign in offline; changes are sent when the link is back.")
        self.offline_note.setWordWrap(True)
        self.offline_note.setStyleSheet("background: #fff4d6; padding: 6px; border-radius: 4px;")
        self.offline_note.setVisible(offline)
        layout.addWidget(self.offline_note)
        # a refusal that needs IT (TLS: wrong root certificate, host name …) is said, not only "away"
        self.offline_reason = _error_label()
        if offline and offline_reason is not None and offline_reason.code != "DATABASE_UNAVAILABLE":
            self.offline_reason.setText(offline_reason.message(lang))
            self.offline_reason.setMinimumWidth(500)  # wrapped at its real width, so no line is cut off
            self.offline_reason.show()
        layout.addWidget(self.offline_reason)
        form = QFormLayout()
        self.login = QLineEdit()
        self.login.setPlaceholderText("登录名" if zh else "login")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.language = QComboBox()
        self.language.addItem("中文", "zh")
        self.language.addItem("English", "en")
        self.language.setCurrentIndex(0 if zh else 1)
        form.addRow(QLabel("登录名" if zh else "Login"), self.login)
        form.addRow(QLabel("密码" if zh else "Password"), self.password)
        form.addRow(QLabel("语言" if zh else "Language"), self.language)
        layout.addLayout(form)
        self.hint = QLabel(hint or "")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #555;")
        self.hint.setVisible(bool(hint))
        layout.addWidget(self.hint)
        self.error = _error_label()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("登录" if zh else "Sign in")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("取消" if zh else "Cancel")
        buttons.accepted.connect(self.try_sign_in)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)

    def try_sign_in(self) -> None:
        lang = self.language.currentData()
        try:
            self.signed_in = self._sign_in(self.login.text(), self.password.text())
        except BusinessError as err:
            self.password.clear()
            self.error.setText(err.message(lang))
            self.error.show()
            return
        self.accept()

    def chosen(self) -> tuple[SignedIn, Lang]:
        assert self.signed_in is not None
        return self.signed_in, self.language.currentData()


class FirstAdminDialog(QDialog):
    """An empty database: the person installing OrderHub becomes its first administrator."""

    def __init__(self, create: Callable[[str, str, str], None], lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._create, self._lang = create, lang
        zh = lang == "zh"
        self.setWindowTitle("首次启动：创建管理员" if zh else "First start: create the administrator")
        layout = QVBoxLayout(self)
        intro = QLabel("这是一个新的数据库，还没有任何用户。请创建第一位管理员，之后由管理员在「配置 · 用户与权限」中添加其他人。"
                       if zh else "This database is new and has no users yet. Create the first administrator; they "
                       "add everyone else under Admin · Users and roles.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.login, self.name = QLineEdit(), QLineEdit()
        self.password, self.again = QLineEdit(), QLineEdit()
        for field in (self.password, self.again):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(QLabel("登录名" if zh else "Login"), self.login)
        form.addRow(QLabel("姓名" if zh else "Name"), self.name)
        form.addRow(QLabel("密码（至少 8 位）" if zh else "Password (8+ characters)"), self.password)
        form.addRow(QLabel("再输一次" if zh else "Again"), self.again)
        layout.addLayout(form)
        self.error = _error_label()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("创建管理员" if zh else "Create administrator")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("取消" if zh else "Cancel")
        buttons.accepted.connect(self.try_create)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)

    def try_create(self) -> None:
        if self.password.text() != self.again.text():
            self.error.setText("两次输入的密码不一致" if self._lang == "zh" else "The two passwords differ")
            self.error.show()
            return
        try:
            self._create(self.login.text().strip(), self.name.text(), self.password.text())
        except BusinessError as err:
            self.error.setText(err.message(self._lang))
            self.error.show()
            return
        self.accept()


class ChangePasswordDialog(QDialog):
    """A temporary password (after an admin's reset) must be replaced before the station opens."""

    def __init__(self, change: Callable[[str, str], None], lang: Lang = "zh", parent: Any = None, *,
                 forced: bool = True) -> None:
        super().__init__(parent)
        self._change, self._lang = change, lang
        zh = lang == "zh"
        self.setWindowTitle("修改密码" if zh else "Change password")
        layout = QVBoxLayout(self)
        if forced:
            note = QLabel("您正在使用管理员设置的临时密码，请先设置自己的密码。" if zh
                          else "You signed in with a temporary password; set your own first.")
            note.setWordWrap(True)
            layout.addWidget(note)
        form = QFormLayout()
        self.old, self.new, self.again = QLineEdit(), QLineEdit(), QLineEdit()
        for field in (self.old, self.new, self.again):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(QLabel("当前密码" if zh else "Current password"), self.old)
        form.addRow(QLabel("新密码" if zh else "New password"), self.new)
        form.addRow(QLabel("再输一次" if zh else "Again"), self.again)
        layout.addLayout(form)
        self.error = _error_label()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("保存新密码" if zh else "Save new password")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("取消" if zh else "Cancel")
        buttons.accepted.connect(self.try_change)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons, alignment=Qt.AlignmentFlag.AlignRight)

    def try_change(self) -> None:
        if self.new.text() != self.again.text():
            self.error.setText("两次输入的密码不一致" if self._lang == "zh" else "The two passwords differ")
            self.error.show()
            return
        try:
            self._change(self.old.text(), self.new.text())
        except BusinessError as err:
            self.error.setText(err.message(self._lang))
            self.error.show()
            return
        self.accept()
