"""ERP推送: deliveries to the ERP that used up their attempts, with the reason, and 「重新发送」 for an admin;
the 状态一致性 with the ERP and the last daily audit anchor sent in the stream above them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from app.domain.actor import Actor
from app.domain.clock import local
from app.domain.errors import BusinessError
from app.domain.fields import Lang, code_label, label
from app.domain.messages import render
from app.services import erp_outbound, erp_reconcile
from app.services.erp_outbound import DeliveryRow
from app.services.unit_of_work import UnitOfWork

COLUMNS = ("delivery_id", "endpoint", "event", "order_no", "attempts", "created_at", "last_error")


class ErpDeliveriesPanel(QWidget):
    """Dead letters newest first; replaying one puts it back in the queue with a fresh round of attempts (audited)."""

    def __init__(self, uow: Callable[[], UnitOfWork], actor: Actor, *, lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._uow, self._actor, self._lang = uow, actor, lang
        self.rows: list[DeliveryRow] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([label("order", "order_no", lang) if c == "order_no" else label("erp", c, lang)
                                              for c in COLUMNS])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.consistency = QLabel()
        self.anchor = QLabel()
        self.count = QLabel()
        self.replay_button = QPushButton("重新发送" if lang == "zh" else "Send again")
        self.replay_button.clicked.connect(self.replay_selected)
        bar = QHBoxLayout()
        bar.addWidget(self.consistency, 1)
        bar.addWidget(self.count)
        bar.addWidget(self.replay_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.anchor)
        layout.addWidget(self.table, 1)
        self.refresh()

    def refresh(self) -> None:
        try:
            self.rows = erp_outbound.dead_letters(self._uow())
            result = erp_reconcile.reconcile(self._uow(), limit=0)
            anchors = erp_outbound.anchor_deliveries(self._uow(), limit=1000)
        except BusinessError as err:  # the database is away: say so, keep what was shown
            self.count.setText(err.message(self._lang))
            return
        ratio = f"{result.ratio:.1%}" if result.ratio is not None else "-"
        self.consistency.setText(render("ERP_RECONCILE", self._lang, matching=result.matching, compared=result.compared,
                                        ratio=ratio, count=result.compared - result.matching))
        self.anchor.setText(render("ERP_ANCHOR_LAST", self._lang, at=f"{local(anchors[0].created_at):%Y-%m-%d %H:%M}",
                                   status=code_label("outbox_status", anchors[0].status, self._lang),
                                   count=len(anchors)) if anchors else render("ERP_ANCHOR_NONE", self._lang))
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            cells = (str(row.outbox_id), row.endpoint_code, code_label("erp_event", row.event_type, self._lang),
                     row.order_no or "", str(row.attempts), f"{local(row.created_at):%m-%d %H:%M}", row.last_error or "")
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        for c in range(len(COLUMNS) - 1):
            self.table.resizeColumnToContents(c)
        self.count.setText(render("ERP_DEAD_COUNT", self._lang, count=len(self.rows)))

    def replay_selected(self) -> None:
        row = self.table.currentRow()
        if 0 <= row < len(self.rows):
            try:
                erp_outbound.replay(self._uow(), self.rows[row].outbox_id, self._actor,
                                    basis=render("ERP_REPLAY_BASIS", self._lang))
            except BusinessError as err:
                self.count.setText(err.message(self._lang))
                return
            self.refresh()
