"""配置 · 用户与权限: the administrator's list of people and the role → action table, through the services."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app.domain.actor import Actor
from app.domain.clock import local
from app.domain.errors import BusinessError
from app.domain.fields import Lang, code_label
from app.domain.permissions import PERSON_ROLES
from app.services import permissions, users
from app.ui.cs_workspace import UowFactory


class AddUserDialog(QDialog):
    def __init__(self, lang: Lang, parent: Any = None) -> None:
        super().__init__(parent)
        zh = lang == "zh"
        self.setWindowTitle("新增用户" if zh else "Add a user")
        form = QFormLayout(self)
        self.login, self.name, self.role = QLineEdit(), QLineEdit(), QComboBox()
        for role in PERSON_ROLES:
            self.role.addItem(code_label("role", role, lang), role)
        form.addRow(QLabel("登录名" if zh else "Login"), self.login)
        form.addRow(QLabel("姓名" if zh else "Name"), self.name)
        form.addRow(QLabel("角色" if zh else "Role"), self.role)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class UsersAdmin(QWidget):
    """People (add, disable, reset password, change role) above, what each role may do below."""

    USER_COLUMNS = (("登录名", "Login"), ("姓名", "Name"), ("角色", "Role"), ("状态", "State"), ("最近登录", "Last sign-in"))

    def __init__(self, uow: UowFactory, actor: Actor, *, lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._uow, self._actor, self._lang = uow, actor, lang
        zh = lang == "zh"
        self.users = QTableWidget(0, len(self.USER_COLUMNS))
        self.users.setHorizontalHeaderLabels([zh_ if zh else en for zh_, en in self.USER_COLUMNS])
        self.users.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.users.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.users.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.users.horizontalHeader().setStretchLastSection(True)
        self.users.verticalHeader().hide()
        self.add_button = QPushButton("新增用户" if zh else "Add user")
        self.toggle_button = QPushButton("停用 / 启用" if zh else "Disable / enable")
        self.reset_button = QPushButton("重置密码" if zh else "Reset password")
        self.role_box = QComboBox()
        for role in PERSON_ROLES:
            self.role_box.addItem(code_label("role", role, lang), role)
        self.role_button = QPushButton("改为此角色" if zh else "Change to this role")
        self.add_button.clicked.connect(self.add_user)
        self.toggle_button.clicked.connect(self.toggle_selected)
        self.reset_button.clicked.connect(self.reset_selected)
        self.role_button.clicked.connect(lambda: self.change_selected_role(self.role_box.currentData()))
        buttons = QHBoxLayout()
        for w in (self.add_button, self.toggle_button, self.reset_button, self.role_box, self.role_button):
            buttons.addWidget(w)
        buttons.addStretch(1)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.addWidget(QLabel("用户" if zh else "Users"))
        top_layout.addWidget(self.users)
        top_layout.addLayout(buttons)
        top_layout.addWidget(self.message)
        self.grants = QTableWidget()
        self.grants.itemChanged.connect(self._grant_changed)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.addWidget(QLabel("角色权限（勾选即允许；管理员的用户与权限管理不可收回）" if zh
                                       else "What each role may do (ticked = allowed; the admin's set-up rights stay)"))
        bottom_layout.addWidget(self.grants)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self._loading = False
        self.refresh()

    # --- people ----------------------------------------------------------------------------------
    def refresh(self) -> None:
        zh = self._lang == "zh"
        try:
            rows = users.admin_list(self._uow(), self._actor)
            table = permissions.grant_table(self._uow())
        except BusinessError as err:
            self.say(err.message(self._lang))
            return
        self.users.setRowCount(len(rows))
        for n, r in enumerate(rows):
            state = ("已停用" if zh else "disabled") if not r.enabled else (
                ("锁定至 " if zh else "locked until ") + local(r.locked_until).strftime("%H:%M")
                if r.locked_until is not None else ("需改密码" if zh else "must change password")
                if r.must_change_password else ("正常" if zh else "active"))
            last = local(r.last_sign_in_at).strftime("%Y-%m-%d %H:%M") if r.last_sign_in_at else "-"
            for c, text in enumerate((r.login, r.display_name, code_label("role", r.role, self._lang), state, last)):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, r.login)
                self.users.setItem(n, c, item)
        self._fill_grants(table)

    def selected_login(self) -> str | None:
        row = self.users.currentRow()
        item = self.users.item(row, 0) if row >= 0 else None
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def say(self, text: str) -> None:
        self.message.setText(text)

    def _act(self, fn: Any, done: str) -> bool:
        try:
            fn()
        except BusinessError as err:
            self.say(err.message(self._lang))
            return False
        self.say(done)
        self.refresh()
        return True

    def add_user(self, login: str | None = None, name: str = "", role: str = "cs") -> str | None:
        """Add a person (from the dialog, or directly in a test); their temporary password is shown once."""
        if login is None:
            dialog = AddUserDialog(self._lang, self)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            login, name, role = dialog.login.text().strip(), dialog.name.text(), dialog.role.currentData()
        box: list[str] = []
        ok = self._act(lambda: box.append(users.add_user(self._uow(), login, name, role, self._actor)), "")
        if ok:
            self.say((f"已新增「{login}」，临时密码：{box[0]}（首次登录须修改）" if self._lang == "zh"
                      else f"Added “{login}”; temporary password: {box[0]} (to be changed at first sign-in)"))
        return box[0] if ok else None

    def toggle_selected(self) -> None:
        login = self.selected_login()
        if login is None:
            return
        row = self.users.currentRow()
        enabled = self.users.item(row, 3).text() in ("已停用", "disabled")
        self._act(lambda: users.set_enabled(self._uow(), login, enabled, self._actor),
                  ("已启用 " if enabled else "已停用 ") + login if self._lang == "zh"
                  else ("Enabled " if enabled else "Disabled ") + login)

    def reset_selected(self) -> str | None:
        login = self.selected_login()
        if login is None:
            return None
        box: list[str] = []
        if self._act(lambda: box.append(users.reset_password(self._uow(), login, self._actor)), ""):
            self.say(f"「{login}」的临时密码：{box[0]}（下次登录须修改）" if self._lang == "zh"
                     else f"Temporary password for “{login}”: {box[0]} (to be changed at next sign-in)")
            return box[0]
        return None

    def change_selected_role(self, role: str) -> None:
        login = self.selected_login()
        if login is not None:
            self._act(lambda: users.change_role(self._uow(), login, role, self._actor),
                      f"{login} → {code_label('role', role, self._lang)}")

    # --- the role → action table -------------------------------------------------------------------
    def _fill_grants(self, table: permissions.GrantTable) -> None:
        self._loading = True
        self.grants.clear()
        self.grants.setRowCount(len(table.actions))
        self.grants.setColumnCount(len(table.roles))
        self.grants.setHorizontalHeaderLabels([code_label("role", r, self._lang) for r in table.roles])
        self.grants.setVerticalHeaderLabels([code_label("permission_action", a, self._lang) for a in table.actions])
        for n, action in enumerate(table.actions):
            for c, role in enumerate(table.roles):
                item = QTableWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, (role, action))
                flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable
                if (role, action) in table.locked:
                    flags = Qt.ItemFlag.ItemIsEnabled
                item.setFlags(flags)
                item.setCheckState(Qt.CheckState.Checked if (role, action) in table.granted else Qt.CheckState.Unchecked)
                self.grants.setItem(n, c, item)
        self.grants.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self._loading = False

    def _grant_changed(self, item: QTableWidgetItem) -> None:
        if self._loading:
            return
        role, action = item.data(Qt.ItemDataRole.UserRole)
        granted = item.checkState() == Qt.CheckState.Checked
        self.set_grant(role, action, granted)

    def set_grant(self, role: str, action: str, granted: bool) -> bool:
        label = f"{code_label('role', role, self._lang)} · {code_label('permission_action', action, self._lang)}"
        ok = self._act(lambda: permissions.set_grant(self._uow(), role, action, granted, self._actor),
                       (("已允许 " if granted else "已收回 ") if self._lang == "zh" else
                        ("Allowed: " if granted else "Withdrawn: ")) + label)
        if not ok:
            self.refresh()
        return ok
