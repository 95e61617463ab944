"""The station window: a workspace per role, the signed-in person and the connection always visible."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QTabWidget, QWidget

from app.domain.actor import Actor
from app.domain.fields import Lang, code_label
from app.ui.cs_workspace import CustomerServiceWorkspace, UowFactory
from app.ui.flow_editor import FlowEditor
from app.ui.notices_panel import NoticesPanel
from app.ui.order_drill_down import OrderDrillDown
from app.ui.supervisor.workspace import SupervisorWorkspace
from app.ui.sync_status import SyncBridge, SyncStatusWidget
from app.ui.warehouse_station import WarehouseStation

_WORKSPACE = {"cs": "cs", "cs_lead": "cs", "picker": "warehouse", "wh_lead": "warehouse", "supervisor": "supervisor",
              "admin": "admin"}
ROLES = (("cs", "客服", "Customer service"), ("warehouse", "仓库", "Warehouse"),
         ("supervisor", "主管", "Supervisor"), ("admin", "配置", "Admin"))


class StationWindow(QMainWindow):
    """Only the customer-service workspace is built so far; the others say what is coming."""

    def __init__(self, uow: UowFactory, *, operator: str, station: str, database: str, lang: Lang = "zh",
                 actor: Actor | None = None, role: str = "cs", parent: Any = None,
                 sync: SyncBridge | None = None, warehouse_setup: dict[str, Any] | None = None) -> None:
        super().__init__(parent)
        self._uow, self._lang, self._role = uow, lang, role
        self._actor = actor or Actor(operator, station)
        zh = lang == "zh"
        self.setWindowTitle("OrderHub 订单中枢" if zh else "OrderHub")
        self.tabs = QTabWidget()
        self.cs = CustomerServiceWorkspace(uow, lang, sync=sync)
        self._sync = sync
        self.admin = FlowEditor(uow, self._actor, lang=lang)  # 配置: after-sales flows (more settings to come)
        # 仓库: the warehouse station for warehouse roles only (it listens to the scanner application-wide)
        self.warehouse: WarehouseStation | None = (
            WarehouseStation(uow, self._actor, role=role, lang=lang, **(warehouse_setup or {}))
            if _WORKSPACE.get(role) == "warehouse" else None)
        # 主管: 订单健康度 for supervisors and administrators (issue #16)
        self.supervisor: SupervisorWorkspace | None = (
            SupervisorWorkspace(uow, lang, sync=sync) if role in ("supervisor", "admin") else None)
        if self.supervisor is not None:
            self.supervisor.order_opened.connect(self.open_order)
        for key, zh_name, en_name in ROLES:
            page: QWidget = self.cs if key == "cs" else self.admin if key == "admin" else (
                self.warehouse if key == "warehouse" and self.warehouse is not None else
                self.supervisor if key == "supervisor" and self.supervisor is not None else QLabel(
                    ("订单健康度仅对运营总监开放" if zh else "Order health is for operations directors")
                    if key == "supervisor" else
                    ("该工作台将在后续版本提供" if zh else "This workspace comes in a later release")))
            self.tabs.addTab(page, zh_name if zh else en_name)
        self.tabs.setTabsClosable(True)
        for n in range(len(ROLES)):  # role workspaces stay; order tabs can be closed
            # hide the close button (passing None to setTabButton trips a PySide refcount bug)
            button = self.tabs.tabBar().tabButton(n, self.tabs.tabBar().ButtonPosition.RightSide)
            if button is not None:
                button.hide()
        self.tabs.tabCloseRequested.connect(lambda n: self.tabs.removeTab(n) if n >= len(ROLES) else None)
        self.cs.order_opened.connect(self.open_order)
        self.tabs.setCurrentIndex(next((n for n, (key, _, _) in enumerate(ROLES) if key == _WORKSPACE.get(role)), 0))
        self.setCentralWidget(self.tabs)
        # 提醒: procurement alerts and customer-service notices from after-sales, always in view.
        self.notices = NoticesPanel(uow, self._actor, lang=lang)
        self.notices_dock = QDockWidget("提醒" if zh else "Notices")
        self.notices_dock.setObjectName("notices")
        self.notices_dock.setWidget(self.notices)
        self.notices_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                      | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.notices_dock)
        self.resizeDocks([self.notices_dock], [150], Qt.Orientation.Vertical)
        self.notices_timer = QTimer(self)
        # with a station sync, the periodic refresh only asks the database while the link is known good
        self.notices_timer.timeout.connect(
            lambda: self.notices.refresh() if sync is None or sync.station.status.state == "online" else None)
        self.notices_timer.start(30_000)
        self.connection = QLabel(("已连接：" if zh else "Connected: ") + database)
        self.person = QLabel(("操作人：" if zh else "Operator: ")
                             + f"{operator}（{code_label('role', role, lang)}）· {station}")
        self.statusBar().addWidget(self.person)
        self.statusBar().addPermanentWidget(self.connection)
        # 在线 / 离线 / 正在同步 and the changes waiting: the station works on through a network drop
        self.sync_status = SyncStatusWidget(sync, lang) if sync is not None else None
        if self.sync_status is not None:
            self.statusBar().addPermanentWidget(self.sync_status)
            self.connection.setText(("数据库：" if zh else "Database: ") + database)  # the link state is the widget's
        self.resize(1280, 760)

    def open_order(self, order_no: str) -> OrderDrillDown:
        """The order's drill-down in its own tab (reused if it is already open)."""
        for n in range(len(ROLES), self.tabs.count()):
            page = self.tabs.widget(n)
            if isinstance(page, OrderDrillDown) and page.detail is not None and page.detail.order_no == order_no:
                self.tabs.setCurrentIndex(n)
                return page
        view = OrderDrillDown(self._uow, self._actor, role=self._role, lang=self._lang, sync=self._sync)
        view.show_order(order_no)
        view.order_changed.connect(lambda _: (self.cs.refresh(), self.notices.refresh()))
        self.tabs.setCurrentIndex(self.tabs.addTab(view, order_no))
        return view

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        self.notices_timer.stop()
        self.cs.shutdown()  # no database work may outlive the window
        if self.warehouse is not None:
            self.warehouse.shutdown()
        super().closeEvent(event)
