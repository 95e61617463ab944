"""配置: the admin station's pages (shops, master data, routing rules, after-sales flows, users, ERP webhooks, platform fields, printer)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QListWidget, QStackedWidget, QWidget

from app.domain.actor import Actor
from app.domain.fields import Lang
from app.services.shop_admin import CredentialStore
from app.services.unit_of_work import UnitOfWork
from app.settings import Settings, config_file_path
from app.ui.admin.field_defs_page import FieldDefsPage
from app.ui.admin.master_data_page import MasterDataPage
from app.ui.admin.printer_page import PrinterPage
from app.ui.admin.rules_page import RulesPage
from app.ui.admin.shops_page import ShopsPage
from app.ui.admin.webhooks_page import WebhooksPage
from app.ui.flow_editor import FlowEditor
from app.ui.users_admin import UsersAdmin

PAGES = (("shops", "店铺与授权", "Shops"), ("master_data", "仓库与库位", "Warehouses and bins"),
         ("rules", "路由规则", "Routing rules"), ("flows", "售后流程", "After-sales flows"),
         ("users", "用户与权限", "Users and roles"), ("webhooks", "ERP推送", "ERP webhooks"), ("field_defs", "平台字段定义", "Platform fields"), ("printer", "打印机设置", "Printer"))


class AdminStation(QWidget):
    """The pages listed on the left, one shown at a time; each page loads its data when built."""

    def __init__(self, uow: Callable[[], UnitOfWork], actor: Actor, *, lang: Lang = "zh",
                 credentials: CredentialStore | None = None, settings: Settings | None = None,
                 config_path: Path | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        settings = settings or Settings()
        self.nav = QListWidget()
        self.stack = QStackedWidget()
        self.shops = ShopsPage(uow, actor, credentials, lang=lang)
        self.master_data = MasterDataPage(uow, actor, lang=lang)
        self.rules = RulesPage(uow, actor, lang=lang)
        self.flows = FlowEditor(uow, actor, lang=lang)
        self.users = UsersAdmin(uow, actor, lang=lang)
        self.webhooks = WebhooksPage(uow, actor, credentials, lang=lang)
        self.field_defs = FieldDefsPage(uow, actor, lang=lang)
        self.printer = PrinterPage(uow, actor, settings, config_path or config_file_path(), lang=lang)
        for key, zh, en in PAGES:
            self.nav.addItem(zh if lang == "zh" else en)
            self.stack.addWidget(getattr(self, key))
        self.nav.setFixedWidth(max(self.nav.sizeHintForColumn(0) + 32, 140))
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.nav.setCurrentRow(0)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)

    def show_page(self, key: str) -> QWidget:
        """Switch to a page by its key (``shops``, ``master_data``, ``rules``, ``flows``, ``users``, ``webhooks``, ``field_defs``, ``printer``)."""
        self.nav.setCurrentRow([k for k, _, _ in PAGES].index(key))
        return self.stack.currentWidget()

    def shutdown(self) -> None:
        """Wait for a connection test, dry run or test print still running (the window is closing)."""
        for page in (self.shops, self.master_data, self.rules, self.printer):
            page.shutdown()
