"""售后 in the customer-service station: an order's cases, the steps each may take now, and opening a new one.

The steps offered are exactly those the case's own flow version allows from its state, named in
business language; a refusal (stale view, conditions unmet, no basis) is shown in plain words and
changes nothing. Everything goes through the after-sales service, as the CLI and the hub do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QListWidget, QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app.domain.actor import Actor
from app.domain.clock import local
from app.domain.errors import BusinessError
from app.domain.fields import CODE_LISTS, Lang, code_label
from app.domain.messages import render
from app.services import after_sales
from app.services.unit_of_work import UnitOfWork

#: Steps that are key changes in the demo flows ask for a basis before they are tried.
ASK_BASIS = {"reject", "refund"}


class AfterSalesPanel(QWidget):
    """The cases of one order: pick a case, see its story, take one of its allowed steps."""

    changed = Signal(str)  # order no.

    def __init__(self, uow: Callable[[], UnitOfWork], actor: Actor, order_no: str, *, lang: Lang = "zh",
                 parent: Any = None, sync: Any = None) -> None:
        super().__init__(parent)
        self._uow, self._actor, self._lang, self.order_no = uow, actor, lang, order_no
        # With a station sync, opening a case and taking a step are commands in the station's outbox.
        self._sync = sync
        self._waiting: dict[Any, str | None] = {}
        if sync is not None:
            sync.command_finished.connect(self._command_finished)
        self.cases: list[after_sales.CaseView] = []
        self.case_list = QListWidget()
        self.case_list.currentRowChanged.connect(self._show_case)
        self.case_list.setMaximumHeight(110)
        self.story = QTableWidget(0, 5)
        self.story.setHorizontalHeaderLabels([self._t(z, e) for z, e in (("时间", "Time"), ("步骤", "Step"), ("状态", "State"),
                                                                          ("操作人", "Operator"), ("依据", "Basis"))])
        self.story.verticalHeader().setVisible(False)
        self.story.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.story.horizontalHeader().setStretchLastSection(True)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.steps = QHBoxLayout()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.open_button = QPushButton(self._t("发起售后", "Open a case"))
        self.open_button.clicked.connect(self._ask_open)
        top = QHBoxLayout()
        top.addWidget(QLabel(self._t(f"订单 {order_no} 的售后单", f"Cases of order {order_no}")), 1)
        top.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.case_list)
        layout.addWidget(self.summary)
        layout.addWidget(self.story, 1)
        layout.addLayout(self.steps)
        layout.addWidget(self.message)
        self.refresh()

    def _t(self, zh: str, en: str) -> str:
        return zh if self._lang == "zh" else en

    def refresh(self, select: str | None = None) -> None:
        current = select or (self.current.case_no if self.current else None)
        self.cases = after_sales.cases_of_order(self._uow(), self.order_no)
        self.case_list.blockSignals(True)
        self.case_list.clear()
        for c in self.cases:
            self.case_list.addItem(f"{c.case_no}　{code_label('after_sales_kind', c.kind, self._lang)}　"
                                   f"{code_label('after_sales_state', c.state, self._lang)}")
        self.case_list.blockSignals(False)
        row = next((i for i, c in enumerate(self.cases) if c.case_no == current), len(self.cases) - 1)
        self.case_list.setCurrentRow(row)
        self._show_case(row)

    @property
    def current(self) -> after_sales.CaseView | None:
        row = self.case_list.currentRow()
        return self.cases[row] if 0 <= row < len(self.cases) else None

    def _show_case(self, row: int) -> None:
        while self.steps.count():
            taken = self.steps.takeAt(0)
            if taken.widget():
                taken.widget().hide()  # out of sight now; Qt deletes it when the event loop comes round
                taken.widget().deleteLater()
        c = self.current
        if c is None:
            self.summary.setText(self._t("这个订单还没有售后单", "No cases on this order"))
            self.story.setRowCount(0)
            return
        lang = self._lang
        parts = [self._t(f"流程第 {c.flow_version} 版", f"flow version {c.flow_version}"),
                 self._t("售后商品：", "lines: ") + "、".join(
                     f"{ln.get('name') or ln['sku']} ×{ln['qty']}" + (f" → {ln['new_size']}" if ln.get("new_size") else "")
                     + (self._t("（赠品需退回）", " (gift to return)") if ln.get("gift_return") else "") for ln in c.lines)]
        if c.refund_amount is not None:
            parts.append(self._t(f"退款 ¥{c.refund_amount}", f"refund ¥{c.refund_amount}"))
        if c.linked_order_no:
            parts.append(self._t(f"换货/补发单 {c.linked_order_no}", f"linked order {c.linked_order_no}"))
        for r in c.red_letters:
            parts.append(self._t("红字确认单 ", "red-letter ") + f"{r['confirm_no']} {code_label('red_confirm_state', r['state'], lang)}")
        self.summary.setText("；".join(parts) if lang == "zh" else "; ".join(parts))
        self.story.setRowCount(len(c.events))
        for r, e in enumerate(c.events):
            for col, text in enumerate((f"{local(e['at']):%m-%d %H:%M}", code_label("as_step", e["step"], lang),
                                        code_label("after_sales_state", e["to"], lang), e["operator"], e["basis"] or "")):
                self.story.setItem(r, col, QTableWidgetItem(text))
        self.story.resizeColumnsToContents()
        for step in c.allowed_steps:
            button = QPushButton(code_label("as_step", step, lang))
            button.setObjectName(f"step-{step}")
            button.clicked.connect(lambda _=False, s=step: self._ask_step(s))
            self.steps.addWidget(button)
        self.steps.addStretch(1)

    # --- actions ------------------------------------------------------------------------------
    def take_step(self, step: str, *, basis: str | None = None, passed: bool = True) -> bool:
        c = self.current
        if c is None:
            return False
        args = {"order_no": self.order_no, "case_no": c.case_no, "step": step, "expected_version": c.version,
                "basis": basis, "params": {"passed": passed}}
        return self._act("after_sales.step", args,
                         lambda: after_sales.step(self._uow(), c.case_no, step, expected_version=c.version,
                                                  actor=self._actor, basis=basis, params={"passed": passed}), c.case_no)

    def open_case(self, kind: str, lines: list[dict[str, Any]], *, reason: str, basis: str | None = None,
                  phone: str | None = None) -> bool:
        args = {"order_no": self.order_no, "kind": kind, "lines": lines, "reason": reason, "basis": basis,
                "contact_phone": phone or None}
        return self._act("after_sales.open", args,
                         lambda: after_sales.open_case(self._uow(), self.order_no, kind, lines, actor=self._actor,
                                                       reason=reason, basis=basis, contact_phone=phone or None), None)

    def _act(self, name: str, args: dict[str, Any], command: Callable[[], after_sales.CaseView],
             case_no: str | None) -> bool:
        if self._sync is not None:
            try:
                entry = self._sync.submit(self._actor, name, args)
            except BusinessError as err:  # not saved on this station (disk full): say so, keep nothing
                self.message.setText(err.message(self._lang))
                self.message.setStyleSheet("color: #c0392b; font-weight: bold;")
                return False
            self._waiting[entry.command.id] = case_no
            self.message.setText(self._t("已保存在本工作站，正在同步…", "Saved on this station; syncing…"))
            self.message.setStyleSheet("color: #8a6d00;")
            return True
        try:
            view = command()
        except BusinessError as err:
            self.message.setText(err.message(self._lang))
            self.message.setStyleSheet("color: #c0392b; font-weight: bold;")
            self.refresh(case_no)
            return False
        self.refresh(view.case_no)
        self.message.setText(render("AS_CASE_STEPPED", self._lang, case_no=view.case_no,
                                    step=code_label("as_step", view.events[-1]["step"], self._lang),
                                    state=code_label("after_sales_state", view.state, self._lang)))
        self.message.setStyleSheet("color: #1e7b34;")
        self.changed.emit(self.order_no)
        return True

    def _command_finished(self, entry: Any, outcome: Any) -> None:
        if entry.command.id not in self._waiting:
            return
        case_no = self._waiting.pop(entry.command.id)
        try:
            self.refresh(case_no)
        except BusinessError as err:
            self.message.setText(err.message(self._lang))
            return
        if outcome.accepted:
            c = self.current
            self.message.setText(render("AS_CASE_STEPPED", self._lang, case_no=c.case_no,
                                        step=code_label("as_step", c.events[-1]["step"], self._lang),
                                        state=code_label("after_sales_state", c.state, self._lang)) if c else "")
            self.message.setStyleSheet("color: #1e7b34;")
            self.changed.emit(self.order_no)
        else:
            self.message.setText(outcome.reason(self._lang))
            self.message.setStyleSheet("color: #c0392b; font-weight: bold;")

    def _ask_step(self, step: str) -> None:
        basis = None
        if step in ASK_BASIS:
            dialog = _Form(self, [(self._t("原始依据（工单号、聊天记录或截图）", "Basis"), QLineEdit())])
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            basis = dialog.values()[0]
        self.take_step(step, basis=basis)

    def _ask_open(self) -> None:
        dialog = OpenCaseDialog(self._uow, self.order_no, lang=self._lang, parent=self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            kind, lines, reason, basis, phone = dialog.result_values()
            self.open_case(kind, lines, reason=reason, basis=basis, phone=phone)


class _Form(QDialog):
    def __init__(self, parent: QWidget, rows: list[tuple[str, QWidget]]) -> None:
        super().__init__(parent)
        form = QFormLayout(self)
        self.widgets = [w for _, w in rows]
        for caption, widget in rows:
            form.addRow(caption, widget)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> list[str]:
        return [w.text() for w in self.widgets if isinstance(w, QLineEdit)]


class OpenCaseDialog(QDialog):
    """发起售后: kind, which lines (and the new size for an exchange, with the stock of each size), reason, basis, phone."""

    def __init__(self, uow: Callable[[], UnitOfWork], order_no: str, *, lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._uow, self.order_no, self._lang = uow, order_no, lang
        t = (lambda z, e: z if lang == "zh" else e)
        self.setWindowTitle(t("发起售后", "Open an after-sales case"))
        self.kind = QComboBox()
        for code in CODE_LISTS["after_sales_kind"]:
            self.kind.addItem(code_label("after_sales_kind", code, lang), code)
        self.line = QSpinBox()
        self.line.setRange(1, 99)
        self.qty = QSpinBox()
        self.qty.setRange(1, 99)
        self.size = QComboBox()
        self.reason, self.basis, self.phone = QLineEdit(), QLineEdit(), QLineEdit()
        self.phone.setPlaceholderText(t("收货电话已脱敏时，请填写客户留的手机号", "the customer's phone if the receiver's is masked"))
        self.line.valueChanged.connect(self._sizes)
        self.kind.currentIndexChanged.connect(self._sizes)
        form = QFormLayout(self)
        for caption, widget in ((t("售后类型", "Kind"), self.kind), (t("商品行号", "Line"), self.line),
                                (t("数量", "Quantity"), self.qty), (t("换成尺码（库存）", "New size (stock)"), self.size),
                                (t("客户诉求", "Reason"), self.reason), (t("原始依据", "Basis"), self.basis),
                                (t("短信手机号", "Phone for SMS"), self.phone)):
            form.addRow(caption, widget)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self._sizes()

    def _sizes(self) -> None:
        self.size.clear()
        exchange = self.kind.currentData() == "exchange"
        self.size.setEnabled(exchange)
        if not exchange:
            return
        try:
            sizes = after_sales.exchange_sizes(self._uow(), self.order_no, self.line.value())
        except BusinessError:
            return
        for size, free in sizes:
            self.size.addItem(f"{size}（{'有货' if free else '缺货'} {free}）" if self._lang == "zh"
                              else f"{size} ({free} free)", size)

    def result_values(self) -> tuple[str, list[dict[str, Any]], str, str, str]:
        line: dict[str, Any] = {"line_no": self.line.value(), "qty": self.qty.value()}
        if self.kind.currentData() == "exchange" and self.size.currentData():
            line["new_size"] = self.size.currentData()
        return (self.kind.currentData(), [line], self.reason.text(), self.basis.text(), self.phone.text())


class AfterSalesDialog(QDialog):
    """The panel in its own window, opened from the order's drill-down."""

    def __init__(self, uow: Callable[[], UnitOfWork], actor: Actor, order_no: str, *, lang: Lang = "zh",
                 parent: Any = None, sync: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(("售后 " if lang == "zh" else "After-sales ") + order_no)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.panel = AfterSalesPanel(uow, actor, order_no, lang=lang, parent=self, sync=sync)
        layout = QVBoxLayout(self)
        layout.addWidget(self.panel)
        self.resize(900, 600)
