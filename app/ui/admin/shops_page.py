"""配置 · 店铺与授权: shops, their app keys and secrets (into the credential store), and 测试连接."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSplitter, QVBoxLayout, QWidget)

from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.fields import CODE_LISTS, Lang, code_label, label
from app.domain.messages import render
from app.services import shop_admin
from app.services.shop_admin import ConnectionCheck, CredentialStore, ShopDraft, ShopView
from app.services.unit_of_work import UnitOfWork
from app.ui.admin.common import Background, attempt, fill, message_label, say, table

COLUMNS = ("code", "name", "platform", "api_base_url", "app_key", "has_secret", "enabled")


class ShopsPage(QWidget):
    """The shop list on the left, the selected (or new) shop's form on the right."""

    def __init__(self, uow: Callable[[], UnitOfWork], actor: Actor, store: CredentialStore | None, *,
                 lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._uow, self._actor, self._store, self._lang = uow, actor, store, lang
        self._shops: list[ShopView] = []
        self._editing: str | None = None  # the code of the shop in the form; None: a new shop
        zh = lang == "zh"
        self.list = table([label("shop", k, lang) for k in COLUMNS])
        self.list.itemSelectionChanged.connect(self._picked)
        self.code, self.name, self.url = QLineEdit(), QLineEdit(), QLineEdit()
        self.platform = QComboBox()
        for code in CODE_LISTS["platform"]:
            self.platform.addItem(code_label("platform", code, lang), code)
        self.platform.currentIndexChanged.connect(self._platform_changed)
        self.shop_id, self.app_key = QLineEdit(), QLineEdit()
        self.secret, self.access_token, self.refresh_token = QLineEdit(), QLineEdit(), QLineEdit()
        for secret in (self.secret, self.access_token, self.refresh_token):
            secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.enabled = QCheckBox(label("shop", "enabled", lang))
        self.enabled.setChecked(True)
        form = QFormLayout()
        for key, widget in (("code", self.code), ("name", self.name), ("platform", self.platform),
                            ("api_base_url", self.url), ("platform_shop_id", self.shop_id), ("app_key", self.app_key),
                            ("app_secret", self.secret), ("access_token", self.access_token),
                            ("refresh_token", self.refresh_token)):
            form.addRow(label("shop", key, lang), widget)
        form.addRow("", self.enabled)
        self.new_button = QPushButton("新建店铺" if zh else "New shop")
        self.save_button = QPushButton("保存" if zh else "Save")
        self.switch_button = QPushButton("停用" if zh else "Disable")
        self.test_button = QPushButton("测试连接" if zh else "Test connection")
        self.new_button.clicked.connect(self.new_shop)
        self.save_button.clicked.connect(self.save)
        self.switch_button.clicked.connect(self.toggle)
        self.test_button.clicked.connect(self.test_connection)
        buttons = QHBoxLayout()
        for b in (self.new_button, self.save_button, self.switch_button, self.test_button):
            buttons.addWidget(b)
        self.message = message_label()
        self.hint = QLabel(("密钥只保存在本机的系统钥匙串或私有密钥文件中，不写入数据库；编辑时密钥留空表示保留原密钥。"
                            if zh else "Secrets are kept in this computer's keyring or private secrets file, never in the "
                            "database; leave them empty when editing to keep the stored ones."))
        self.hint.setWordWrap(True)
        self.hint.setMinimumHeight(self.hint.fontMetrics().lineSpacing() * 2 + 4)
        right = QWidget()
        side = QVBoxLayout(right)
        side.addLayout(form)
        side.addLayout(buttons)
        side.addWidget(self.hint)
        side.addWidget(self.message)
        side.addStretch(1)
        split = QSplitter()
        split.addWidget(self.list)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([760, 520])
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self._worker = Background(self)
        self._worker.finished.connect(self._tested)
        self.last_check: ConnectionCheck | None = None
        if store is None:
            for b in (self.save_button, self.test_button):
                b.setEnabled(False)
            say(self.message, "本工作站没有可用的凭据库，不能保存密钥" if zh else "No credential store on this station",
                ok=False)
        self.new_shop()
        self.refresh()

    # -- list and form ------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        if self._store is None:
            return
        try:
            self._shops = shop_admin.list_shops(self._uow(), self._store)
        except BusinessError as err:
            say(self.message, err.message(self._lang), ok=False)
            return
        yes, no = render("YES", self._lang), render("NO", self._lang)
        fill(self.list, [(s.code, s.name, code_label("platform", s.platform, self._lang), s.api_base_url, s.app_key,
                          yes if s.has_secret else no, yes if s.enabled else no) for s in self._shops],
             marked=[not s.enabled for s in self._shops])

    def _picked(self) -> None:
        rows = self.list.selectionModel().selectedRows()
        if rows:
            self.edit(self._shops[rows[0].row()].code)

    def edit(self, code: str) -> None:
        """Load a shop into the form (its secrets stay in the store: the fields stay empty)."""
        shop = next(s for s in self._shops if s.code == code)
        self._editing = code
        self.code.setText(shop.code)
        self.code.setReadOnly(True)
        self.name.setText(shop.name)
        self.platform.setCurrentIndex(self.platform.findData(shop.platform))
        self.url.setText(shop.api_base_url)
        self.shop_id.setText(shop.platform_shop_id)
        self.app_key.setText(shop.app_key)
        for secret in (self.secret, self.access_token, self.refresh_token):
            secret.clear()
        kept = "已保存（留空则保留）" if self._lang == "zh" else "stored (leave empty to keep)"
        self.secret.setPlaceholderText(kept if shop.has_secret else "")
        self.enabled.setChecked(shop.enabled)
        self.switch_button.setText(("停用" if shop.enabled else "启用") if self._lang == "zh"
                                   else ("Disable" if shop.enabled else "Enable"))
        self.switch_button.setEnabled(self._store is not None)
        self.test_button.setEnabled(self._store is not None)

    def new_shop(self) -> None:
        self._editing = None
        for field in (self.code, self.name, self.shop_id, self.app_key, self.secret, self.access_token,
                      self.refresh_token):
            field.clear()
        self.code.setReadOnly(False)
        self.secret.setPlaceholderText("")
        self.enabled.setChecked(True)
        self.url.setText(shop_admin.gateway_for(self.platform.currentData()))
        self.switch_button.setEnabled(False)
        self.test_button.setEnabled(False)

    def _platform_changed(self) -> None:
        """A new platform brings its real gateway, unless someone typed their own address."""
        if not self.url.text().strip() or shop_admin.is_default_gateway(self.url.text().strip()):
            self.url.setText(shop_admin.gateway_for(self.platform.currentData()))

    # -- actions -------------------------------------------------------------------------------------------------
    def draft(self) -> ShopDraft:
        return ShopDraft(self.code.text(), self.name.text(), self.platform.currentData(), self.url.text(),
                         self.shop_id.text(), self.app_key.text(), self.secret.text(), self.access_token.text(),
                         self.refresh_token.text(), self.enabled.isChecked())

    def save(self) -> bool:
        assert self._store is not None
        store, is_new = self._store, self._editing is None
        saved: list[ShopView] = []

        def act() -> str:
            view, said = shop_admin.save_shop(self._uow(), store, self.draft(), self._actor, is_new=is_new,
                                              lang=self._lang)
            saved.append(view)
            return said

        if not attempt(self.message, self._lang, act):
            return False
        self.refresh()
        self.edit(saved[0].code)
        return True

    def toggle(self) -> bool:
        if self._editing is None or self._store is None:
            return False
        shop = next(s for s in self._shops if s.code == self._editing)
        code = "SHOP_DISABLED" if shop.enabled else "SHOP_ENABLED"
        store = self._store
        done = attempt(self.message, self._lang, lambda: render(code, self._lang, shop=shop_admin.set_shop_enabled(
            self._uow(), store, shop.code, not shop.enabled, self._actor).name))
        self.refresh()
        self.edit(shop.code)
        return done

    def test_connection(self) -> None:
        """One signed call through the shop's connector, off the GUI thread; the answer in words."""
        if self._editing is None or self._store is None:
            return
        code, store = self._editing, self._store
        self.test_button.setEnabled(False)
        say(self.message, "正在连接平台…" if self._lang == "zh" else "Calling the platform…", ok=True)
        self._worker.run(lambda: shop_admin.check_connection(self._uow(), store, code, self._actor))

    def _tested(self, generation: int, result: Any) -> None:
        if generation != self._worker.generation:
            return
        self.test_button.setEnabled(True)
        if isinstance(result, BusinessError):
            say(self.message, result.message(self._lang), ok=False)
            return
        self.last_check = result
        say(self.message, result.message(self._lang), ok=result.outcome == "ok")

    def shutdown(self) -> None:
        self._worker.wait()
