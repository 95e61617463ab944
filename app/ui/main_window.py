"""The station window: a workspace per role, the signed-in person and the connection always visible."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QTabWidget, QWidget

from app.domain.actor import Actor
from app.domain.fields import Lang, code_label
from app.domain.idle import IdleWatch
from app.sync.preferences import OperatorPreferences
from app.ui.cs_workspace import CustomerServiceWorkspace, UowFactory
from app.ui.admin import AdminStation
from app.ui.erp_panel import ErpDeliveriesPanel
from app.ui.notices_panel import NoticesPanel
from app.ui.order_drill_down import OrderDrillDown
from app.ui.supervisor.workspace import SupervisorWorkspace
from app.ui.sync_status import SyncBridge, SyncStatusWidget
from app.ui.warehouse_station import WarehouseStation

_WORKSPACE = {"cs": "cs", "cs_lead": "cs", "picker": "warehouse", "wh_lead": "warehouse", "supervisor": "supervisor",
              "admin": "admin"}
ROLES = (("cs", "客服", "Customer service"), ("warehouse", "仓库", "Warehouse"),
         ("supervisor", "主管", "Supervisor"), ("admin", "配置", "Admin"))


class _ActivityFilter(QObject):
    """Any key, click or wheel anywhere in the application counts as the person being there."""

    KINDS = (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel)

    def __init__(self, watch: IdleWatch) -> None:
        super().__init__()
        self.watch = watch

    def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in self.KINDS:
            self.watch.touch()
        return False


class StationWindow(QMainWindow):
    """Only the customer-service workspace is built so far; the others say what is coming."""

    sign_out_requested = Signal(str)  # "expired" after the idle time, "signed_out" from the menu
    change_password_requested = Signal()

    def __init__(self, uow: UowFactory, *, operator: str, station: str, database: str, lang: Lang = "zh",
                 actor: Actor | None = None, role: str = "cs", parent: Any = None,
                 sync: SyncBridge | None = None, warehouse_setup: dict[str, Any] | None = None,
                 admin_setup: dict[str, Any] | None = None, idle: IdleWatch | None = None,
                 delay_hours: float = 24.0) -> None:
        super().__init__(parent)
        self._uow, self._lang, self._role = uow, lang, role
        self._delay_hours = delay_hours  # the drill-down marks a tracking node this long after the last one
        self._actor = actor or Actor(operator, station)
        zh = lang == "zh"
        self.setWindowTitle("OrderHub 订单中枢" if zh else "OrderHub")
        self.tabs = QTabWidget()
        # each operator's saved filters, recent orders and column layout live in the station's own file
        prefs = OperatorPreferences(sync.station.db, operator) if sync is not None else None
        self.cs = CustomerServiceWorkspace(uow, lang, sync=sync, prefs=prefs)
        self._sync = sync
        # 配置 for the administrator: shops, master data, rules, after-sales flows, users, platform fields,
        # printer (admin_setup: credentials, settings, config_path from the composition root)
        self.admin = _admin_page(uow, self._actor, role, lang, admin_setup or {})
        # 仓库: the warehouse station for warehouse roles only (it listens to the scanner application-wide)
        self.warehouse: WarehouseStation | None = (
            WarehouseStation(uow, self._actor, role=role, lang=lang, **(warehouse_setup or {}))
            if _WORKSPACE.get(role) == "warehouse" else None)
        # 主管: 订单健康度 (issue #16); the health services decide who may read it (health.view) and the page
        # shows their refusal to anyone else
        self.supervisor: SupervisorWorkspace | None = SupervisorWorkspace(uow, lang, actor=self._actor, sync=sync,
                                                                                defer=True)
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
        self.cs.after_sales_requested.connect(self.open_after_sales)
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
        # ERP推送 (issue #17): failed deliveries to the ERP and 状态一致性, for administrators.
        self.erp: ErpDeliveriesPanel | None = None
        if role == "admin":
            self.erp = ErpDeliveriesPanel(uow, self._actor, lang=lang)
            self.erp_dock = QDockWidget("ERP推送" if zh else "ERP deliveries")
            self.erp_dock.setObjectName("erp")
            self.erp_dock.setWidget(self.erp)
            self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.erp_dock)
            self.tabifyDockWidget(self.notices_dock, self.erp_dock)
        self.notices_timer = QTimer(self)
        # with a station sync, the periodic refresh only asks the database while the link is known good
        self.notices_timer.timeout.connect(
            lambda: self.notices.refresh() if sync is None or sync.station.status.state == "online" else None)
        self.notices_timer.start(30_000)
        if self.erp is not None:
            self.notices_timer.timeout.connect(self.erp.refresh)
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
        # signing out after the idle time (a setting): the station returns to the sign-in screen
        self.idle = idle
        self.idle_timer = QTimer(self)
        if idle is not None:
            self._activity = _ActivityFilter(idle)
            from PySide6.QtWidgets import QApplication

            QApplication.instance().installEventFilter(self._activity)
            self.idle_timer.timeout.connect(self.check_idle)
            self.idle_timer.start(15_000)
        change = self.menuBar().addAction("修改密码" if zh else "Change password")
        change.triggered.connect(self.change_password_requested.emit)
        sign_out = self.menuBar().addAction("退出登录" if zh else "Sign out")
        sign_out.triggered.connect(lambda: self.sign_out_requested.emit("signed_out"))

    def check_idle(self) -> bool:
        """Sign out if nobody has touched the station for the idle time; True when it did."""
        if self.idle is None or not self.idle.expired():
            return False
        self.idle_timer.stop()
        self.sign_out_requested.emit("expired")
        return True

    def open_order(self, order_no: str) -> OrderDrillDown:
        """The order's drill-down in its own tab (reused if it is already open)."""
        for n in range(len(ROLES), self.tabs.count()):
            page = self.tabs.widget(n)
            if isinstance(page, OrderDrillDown) and page.detail is not None and page.detail.order_no == order_no:
                self.tabs.setCurrentIndex(n)
                return page
        view = OrderDrillDown(self._uow, self._actor, role=self._role, lang=self._lang, sync=self._sync,
                              delay_hours=self._delay_hours)
        view.show_order(order_no)
        view.order_changed.connect(lambda _: (self.cs.refresh(), self.notices.refresh()))
        self.tabs.setCurrentIndex(self.tabs.addTab(view, order_no))
        return view

    def open_after_sales(self, order_no: str) -> Any:
        """Key A in the list: the order's tab, and its after-sales window over it (not modal: the list stays usable)."""
        view = self.open_order(order_no)
        if not view.after_sales_button.isEnabled():  # the same rule as the button: not before payment, not cancelled
            self.cs.say("该订单现在不能发起售后（未付款或已取消）" if self._lang == "zh"
                        else "This order cannot go to after-sales now (unpaid or cancelled)")
            return None
        dialog = view.open_after_sales(modal=False)
        if dialog is not None:
            dialog.show()
        return dialog

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        self.notices_timer.stop()
        self.idle_timer.stop()
        if self.idle is not None:
            from PySide6.QtWidgets import QApplication

            QApplication.instance().removeEventFilter(self._activity)
        self.cs.shutdown()  # no database work may outlive the window
        if isinstance(self.admin, AdminStation):
            self.admin.shutdown()
        if self.warehouse is not None:
            self.warehouse.shutdown()
        super().closeEvent(event)


def _admin_page(uow: UowFactory, actor: Actor, role: str, lang: Lang, admin_setup: dict[str, Any]) -> QWidget:
    """配置 for the administrator; anyone else is told it is the admin's.

    Hiding is a courtesy only: every save here goes through services that check the role again.
    """
    if role != "admin":
        note = QLabel("「配置」仅管理员可用" if lang == "zh" else "Admin is for administrators only")
        note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        return note
    return AdminStation(uow, actor, lang=lang, **admin_setup)
