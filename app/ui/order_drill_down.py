"""订单穿透视图: one order, its whole story, each layer expandable; cancel and address change from here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QScrollArea, QTableWidget, QTableWidgetItem, QToolBox, QVBoxLayout, QWidget)

from app.domain.actor import Actor
from app.domain.clock import local
from app.domain.errors import BusinessError
from app.domain.fields import ITEM_FIELDS, Lang, code_label, label
from app.services import orders
from app.services.drill_down import OrderDetail, order_detail
from app.services.unit_of_work import UnitOfWork
from app.ui.invoice_thumbnail import InvoiceThumbnail
from app.ui.timeline import CourierCard, TimelineView, titled
from app.ui.timeline_items import scan_items, story_items, tracking_items

ITEM_COLUMNS = ("sku", "name", "color", "size", "qty", "unit_price", "paid", "is_gift", "line_status")


def _when(moment: Any) -> str:
    return local(moment).strftime("%Y-%m-%d %H:%M") if moment else "-"


class OrderDrillDown(QWidget):
    """Shows one order; actions go through the same service functions as everywhere else."""

    order_changed = Signal(str)

    def __init__(self, uow: Callable[[], UnitOfWork], actor: Actor, *, role: str = "cs", lang: Lang = "zh",
                 parent: Any = None, sync: Any = None, delay_hours: float = 24.0) -> None:
        super().__init__(parent)
        self._uow, self._actor, self._role, self._lang = uow, actor, role, lang
        self._delay_hours = delay_hours  # a tracking node this long after the one before is marked late
        self.courier_card: CourierCard | None = None
        self.tracking_view = self.scan_view = self.story_view = None  # type: ignore[assignment]
        # With a station sync every write is a command in the station's outbox (saved on disk, replayed
        # in order when the link is back); its outcome comes back through ``command_finished``.
        self._sync = sync
        self._waiting: dict[Any, str] = {}
        if sync is not None:
            sync.command_finished.connect(self._command_finished)
        self.detail: OrderDetail | None = None
        self.cached: Any = None  # an OrderRow from the station's cache while offline
        self.invoice_thumbnails: list[InvoiceThumbnail] = []
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 16pt; font-weight: bold;")
        self.header = QGridLayout()
        self.items = QTableWidget(0, len(ITEM_COLUMNS))
        self.items.setHorizontalHeaderLabels([ITEM_FIELDS[k].label(lang) for k in ITEM_COLUMNS])
        self.items.verticalHeader().setVisible(False)
        self.items.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.layers = QToolBox()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.cancel_button = QPushButton(self._t("取消订单", "Cancel order"))
        self.address_button = QPushButton(self._t("修改地址", "Change address"))
        self.note_button = QPushButton(self._t("给仓库留言", "Note for warehouse"))
        self.after_sales_button = QPushButton(self._t("售后", "After-sales"))
        self.after_sales_button.clicked.connect(self.open_after_sales)
        self.note_button.clicked.connect(self._ask_note)
        self.cancel_button.clicked.connect(self._ask_cancel)
        self.address_button.clicked.connect(self._ask_address)
        actions = QHBoxLayout()
        actions.addWidget(self.message, 1)
        actions.addWidget(self.after_sales_button)
        actions.addWidget(self.note_button)
        actions.addWidget(self.address_button)
        actions.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(self.header)
        layout.addWidget(self.items)
        layout.addWidget(self.layers, 1)
        layout.addLayout(actions)

    def _t(self, zh: str, en: str) -> str:
        return zh if self._lang == "zh" else en

    # --- showing -------------------------------------------------------------------------------------
    def show_order(self, order_no: str) -> None:
        if self._sync is not None and self._sync.station.status.state == "offline":
            cached = self._sync.cache.get(order_no)
            if cached is not None:  # the link is down: show what this station keeps, and say so
                self._show_cached(cached)
                return
        try:
            self.detail = order_detail(self._uow(), order_no, role=self._role, lang=self._lang)
        except BusinessError as err:
            self.message.setText(err.message(self._lang))
            return
        self.cached = None
        self.items.setVisible(True)
        d, lang = self.detail, self._lang
        self.title.setText(f"{label('order', 'order_no', lang)} {d.order_no}　"
                           f"{code_label('order_status', d.status, lang)}")
        while self.header.count():
            taken = self.header.takeAt(0)
            if taken.widget():
                taken.widget().hide()  # a refresh must not paint over the old labels until Qt deletes them
                taken.widget().deleteLater()
        pairs = [
            (label("order", "platform", lang), code_label("platform", d.platform, lang)),
            (label("order", "shop", lang), d.shop),
            (label("order", "ordered_at", lang), _when(d.ordered_at)),
            (label("order", "original_amount", lang), f"¥{d.original_amount:,.2f}"),
            (label("order", "paid_amount", lang), f"¥{d.paid_amount:,.2f}"),
            (label("order", "invoice_status", lang), code_label("invoice_status", d.invoice_status, lang)),
            (label("order", "warehouse", lang), d.warehouse or "-"),
            (label("order", "ship_by", lang), _when(d.ship_by)),
            (label("order", "tracking_no", lang), d.tracking_no or "-"),
            (label("order", "receiver_name", lang), d.receiver.name or "-"),
            (label("order", "receiver_phone", lang), d.receiver.phone or "-"),
            (label("order", "receiver_address", lang), d.receiver.address or "-"),
            (label("order", "buyer_note", lang), d.buyer_note or "-"),
            (label("order", "seller_note", lang), (d.seller_note or "-").replace("\n", "；")),
        ] + [(f.label(lang), f"{f.value}%" if f.value_type == "percent" else f.value) for f in d.ext]
        for n, (caption, value) in enumerate(pairs):
            row, col = divmod(n, 3)
            key, val = QLabel(f"{caption}："), QLabel(value)
            key.setStyleSheet("color: #5b6b7f;")
            val.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.header.addWidget(key, row, col * 2)
            self.header.addWidget(val, row, col * 2 + 1)
        self._fill_items(d)
        self._fill_layers(d)
        closed = d.status in ("shipped", "completed", "cancelled")
        self.cancel_button.setEnabled(d.status in ("pending_payment", "paid", "allocating", "partially_shipped", "after_sales"))
        self.address_button.setEnabled(not closed)
        self.note_button.setEnabled(d.status not in ("completed", "cancelled"))
        self.after_sales_button.setEnabled(d.status not in ("pending_payment", "cancelled"))

    def _show_cached(self, row: Any) -> None:
        """Offline: the order as this station's cache has it; writes still queue in the outbox."""
        lang = self._lang
        self.cached = row
        self.title.setText(f"{label('order', 'order_no', lang)} {row.order_no}　{code_label('order_status', row.status, lang)}")
        while self.header.count():
            taken = self.header.takeAt(0)
            if taken.widget():
                taken.widget().hide()
                taken.widget().deleteLater()
        pairs = [(label("order", "platform", lang), code_label("platform", row.platform, lang)),
                 (label("order", "shop", lang), row.shop), (label("order", "ordered_at", lang), _when(row.ordered_at)),
                 (label("order", "paid_amount", lang), f"¥{row.paid_amount:,.2f}"),
                 (label("order", "invoice_status", lang), code_label("invoice_status", row.invoice_status, lang)),
                 (label("order", "warehouse", lang), row.warehouse or "-"), (label("order", "ship_by", lang), _when(row.ship_by)),
                 (label("order", "tracking_no", lang), row.tracking_no or "-"),
                 (label("order", "province", lang), row.province or "-")]
        for n, (caption, value) in enumerate(pairs):
            r, c = divmod(n, 3)
            self.header.addWidget(QLabel(f"{caption}："), r, c * 2)
            self.header.addWidget(QLabel(value), r, c * 2 + 1)
        self.items.setRowCount(0)
        self.items.setVisible(False)  # the lines are not in the cache: no empty grid pretending otherwise
        while self.layers.count():
            page = self.layers.widget(0)
            self.layers.removeItem(0)
            page.hide()
            page.deleteLater()
        self._say(self._t("离线：显示本工作站缓存的订单信息；商品明细、物流、仓库记录与发票联网后显示。您的改动会先保存在本工作站，联网后自动提交",
                          "Offline: showing what this station keeps; items, logistics, warehouse log and invoices "
                          "come back with the link. Changes are saved here and sent when it returns"), "#8a6d00")
        self.cancel_button.setEnabled(row.status in ("pending_payment", "paid", "allocating", "partially_shipped", "after_sales"))
        self.address_button.setEnabled(row.status not in ("shipped", "completed", "cancelled"))
        self.note_button.setEnabled(row.status not in ("completed", "cancelled"))
        self.after_sales_button.setEnabled(False)  # needs the order's lines

    def _current(self) -> tuple[str, int]:
        """(order no., version) of what is on screen, from the server or, offline, from the cache."""
        if self.cached is not None:
            return self.cached.order_no, self.cached.version
        assert self.detail is not None
        return self.detail.order_no, self.detail.version

    def _fill_items(self, d: OrderDetail) -> None:
        self.items.setRowCount(len(d.items))
        for r, item in enumerate(d.items):
            for c, key in enumerate(ITEM_COLUMNS):
                value = item.get(key)
                if key == "is_gift":
                    text = self._t("赠品", "gift") if value else ""
                elif key == "line_status":
                    text = code_label("line_status", value, self._lang)
                elif key in ("unit_price", "paid"):
                    text = f"¥{value}"
                else:
                    text = "" if value is None else str(value)
                self.items.setItem(r, c, QTableWidgetItem(text))
        self.items.resizeColumnsToContents()
        self.items.setMaximumHeight(36 + 30 * max(1, len(d.items)))

    def _fill_layers(self, d: OrderDetail) -> None:
        while self.layers.count():
            page = self.layers.widget(0)
            self.layers.removeItem(0)  # removeItem only unlists the page: hide and delete it too
            page.hide()
            page.deleteLater()
        t = self._t
        self.courier_card = None
        self.tracking_view = TimelineView(self._lang)
        self.tracking_view.set_items(tracking_items(d, self._lang, self._delay_hours))
        tracking_parts: list[QWidget] = []
        if d.tracking:
            now = d.tracking[0]
            tracking_parts.append(QLabel(t(f"{now.carrier}　运单号 {now.tracking_no}　当前位置：{now.location}",
                                           f"{now.carrier}  tracking no. {now.tracking_no}  now at: {now.location}")))
            courier = next((n for n in d.tracking if n.courier_name), None)
            if courier is not None:
                self.courier_card = CourierCard(courier.courier_name or "", courier.courier_phone, now.location,
                                                courier.carrier, lang=self._lang)
                self.courier_card.copied.connect(lambda phone: self._say(
                    t(f"已复制快递员电话 {phone}", f"Courier's phone {phone} copied"), "#1e7b34"))
                tracking_parts.append(self.courier_card)
        tracking_parts.append(self.tracking_view if d.tracking else QLabel(t("还没有物流信息", "No tracking yet")))
        self.scan_view = TimelineView(self._lang)
        self.scan_view.set_items(scan_items(d, self._lang))
        self.story_view = TimelineView(self._lang)
        self.story_view.set_items(story_items(d.story, self._lang))
        invoices = [f"{code_label('invoice_kind', i.kind, self._lang)}　{i.invoice_no}　¥{i.amount:,.2f}　{_when(i.issued_at)}　{i.title}"
                    + (t(f"　红冲原发票 {i.red_flush_of}（红字确认单 {i.red_confirmation_no}）",
                         f"  flushes {i.red_flush_of} (confirmation {i.red_confirmation_no})") if i.red_flush_of else "")
                    + (t("　待重开", "  to be re-issued") if i.reissue_pending else "") for i in d.invoices]
        finance = QLabel("\n".join(invoices) if invoices else t("没有发票", "No invoices"))
        finance.setWordWrap(True)
        finance.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        finance.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        finance_page: QWidget = finance
        if d.invoices:
            finance_page = QWidget()
            column = QVBoxLayout(finance_page)
            column.addWidget(finance)
            row = QHBoxLayout()
            self.invoice_thumbnails = [InvoiceThumbnail(i, d.shop) for i in d.invoices]
            for thumb in self.invoice_thumbnails:
                row.addWidget(thumb)
            row.addStretch(1)
            column.addLayout(row)
            column.addStretch(1)
        scans_page = self.scan_view if d.scans else QLabel(t("仓库还没有扫描记录", "No warehouse scans yet"))
        for title, page, count in (
            (t("物流轨迹", "Logistics"), titled("", *tracking_parts), len(d.tracking)),
            (t("仓库作业记录", "Warehouse log"), scans_page, len(d.scans)),
            (t("财务", "Finance"), finance_page, len(d.invoices)),
            (t("规则与变更", "Rules and changes"), self.story_view, len(d.story)),
        ):
            self.layers.addItem(page, (f"{title}（{count}）" if self._lang == "zh" else f"{title} ({count})") if count else title)
            area = page.parentWidget().parentWidget() if page.parentWidget() else None
            if isinstance(area, QScrollArea):  # the timeline scrolls itself; the page never scrolls sideways
                area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for view in (self.tracking_view, self.scan_view, self.story_view):
            view.setMinimumHeight(view.fontMetrics().height() * 12)  # several nodes visible even on a small screen

    # --- actions -------------------------------------------------------------------------------------
    def cancel_order(self, basis: str) -> bool:
        """Cancel with a basis; the outcome (or the refusal, in business words) shows under the order."""
        return self._act("order.cancel", {"basis": basis},
                         lambda v: orders.cancel(self._uow(), self._current()[0], expected_version=v,
                                                 actor=self._actor, basis=basis), self._t("订单已取消", "Order cancelled"))

    def change_address(self, name: str, phone: str, address: str, basis: str) -> bool:
        change = orders.AddressChange(name, phone, address)
        return self._act("order.change_address", {"receiver_name": name, "receiver_phone": phone,
                                                  "receiver_address": address, "basis": basis},
                         lambda v: orders.change_address(self._uow(), self._current()[0], change,
                                                         expected_version=v, actor=self._actor, basis=basis),
                         self._t("收货地址已修改", "Address changed"))

    def _act(self, name: str, args: dict[str, Any], command: Callable[[int], Any], done: str) -> bool:
        order_no, version = self._current()
        if self._sync is not None:
            try:
                entry = self._sync.submit(self._actor, name, {"order_no": order_no, "expected_version": version, **args})
            except BusinessError as err:  # not saved on this station (disk full): say so, keep nothing
                self._say(err.message(self._lang), "#c0392b")
                return False
            self._waiting[entry.command.id] = done
            self._say(self._t("已保存在本工作站，正在同步…", "Saved on this station; syncing…"), "#8a6d00")
            return True
        try:
            command(version)
        except BusinessError as err:
            self._say(err.message(self._lang), "#c0392b")
            return False
        self.show_order(order_no)
        self._say(done, "#1e7b34")
        self.order_changed.emit(order_no)
        return True

    def _command_finished(self, entry: Any, outcome: Any) -> None:
        done = self._waiting.pop(entry.command.id, None)
        if done is None or (self.detail is None and self.cached is None):
            return
        order_no = self._current()[0]
        if outcome.accepted:
            self.show_order(order_no)
            self._say(done, "#1e7b34")
            self.order_changed.emit(order_no)
        else:
            self._say(outcome.reason(self._lang), "#c0392b")

    def _say(self, text: str, colour: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {colour};")

    def add_note(self, text: str) -> bool:
        return self._act("order.add_warehouse_note", {"text": text},
                         lambda v: orders.add_warehouse_note(self._uow(), self._current()[0], text,
                                                             expected_version=v, actor=self._actor),
                         self._t("留言已发给仓库", "Note sent to the warehouse"))

    def open_after_sales(self, *, modal: bool = True) -> Any:
        """The order's after-sales cases in a window: open one, take the steps its flow allows."""
        from app.ui.after_sales_panel import AfterSalesDialog

        if self.detail is None:
            return None
        dialog = AfterSalesDialog(self._uow, self._actor, self.detail.order_no, lang=self._lang, parent=self,
                                  sync=self._sync)
        dialog.panel.changed.connect(lambda no: (self.show_order(no), self.order_changed.emit(no)))
        if modal:
            dialog.exec()
        return dialog

    def _ask_note(self) -> None:
        answer = self._ask([(self._t("给仓库的留言", "Note for the warehouse"), "")])
        if answer is not None:
            self.add_note(answer[0])

    def _ask_cancel(self) -> None:
        basis = self._ask([(self._t("原始依据（工单号、聊天记录或截图）", "Basis (ticket, chat, screenshot)"), "")])
        if basis is not None:
            self.cancel_order(basis[0])

    def _ask_address(self) -> None:
        d = self.detail
        if d is None:
            return
        answer = self._ask([(label("order", "receiver_name", self._lang), d.receiver.name),
                            (label("order", "receiver_phone", self._lang), d.receiver.phone),
                            (label("order", "receiver_address", self._lang), d.receiver.address),
                            (self._t("原始依据（工单号、聊天记录或截图）", "Basis (ticket, chat, screenshot)"), "")])
        if answer is not None:
            self.change_address(*answer)

    def _ask(self, fields: list[tuple[str, str]]) -> list[str] | None:
        dialog = QDialog(self)
        form = QFormLayout(dialog)
        edits = [QLineEdit(value) for _, value in fields]
        for (caption, _), edit in zip(fields, edits, strict=True):
            form.addRow(caption, edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        form.addRow(buttons)
        return [e.text() for e in edits] if dialog.exec() == QDialog.DialogCode.Accepted else None
