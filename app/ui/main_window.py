"""The station window: a workspace per role, the signed-in person and the connection always visible."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QMainWindow, QTabWidget, QWidget

from app.domain.fields import Lang
from app.ui.cs_workspace import CustomerServiceWorkspace, UowFactory

ROLES = (("cs", "客服", "Customer service"), ("warehouse", "仓库", "Warehouse"),
         ("supervisor", "主管", "Supervisor"), ("admin", "配置", "Admin"))


class StationWindow(QMainWindow):
    """Only the customer-service workspace is built so far; the others say what is coming."""

    def __init__(self, uow: UowFactory, *, operator: str, station: str, database: str, lang: Lang = "zh",
                 parent: Any = None) -> None:
        super().__init__(parent)
        zh = lang == "zh"
        self.setWindowTitle("OrderHub 订单中枢" if zh else "OrderHub")
        self.tabs = QTabWidget()
        self.cs = CustomerServiceWorkspace(uow, lang)
        for key, zh_name, en_name in ROLES:
            page: QWidget = self.cs if key == "cs" else QLabel(
                ("该工作台将在后续版本提供" if zh else "This workspace comes in a later release"))
            self.tabs.addTab(page, zh_name if zh else en_name)
        self.setCentralWidget(self.tabs)
        self.connection = QLabel(("已连接：" if zh else "Connected: ") + database)
        self.person = QLabel(("操作人：" if zh else "Operator: ") + f"{operator} · {station}")
        self.statusBar().addWidget(self.person)
        self.statusBar().addPermanentWidget(self.connection)
        self.resize(1280, 760)
