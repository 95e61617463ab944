"""提醒: what the hub tells people (procurement: restock this; customer service: tell the customer that),
read from the outbox in business language, marked handled by whoever deals with it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from app.domain.actor import Actor
from app.domain.clock import local
from app.domain.errors import BusinessError
from app.domain.fields import Lang, code_label
from app.domain.messages import render
from app.services import outbox
from app.services.unit_of_work import UnitOfWork

TOPICS = ("cs.notice", "procurement.alert")


class NoticesPanel(QWidget):
    """Open notices for people, newest first; 「已处理」 acknowledges the selected one (kept with who did it)."""

    def __init__(self, uow: Callable[[], UnitOfWork], actor: Actor, *, lang: Lang = "zh", topics: tuple[str, ...] = TOPICS,
                 parent: Any = None) -> None:
        super().__init__(parent)
        self._uow, self._actor, self._lang, self._topics = uow, actor, lang, topics
        self.rows: list[dict[str, Any]] = []
        zh = lang == "zh"
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["时间", "类型", "内容"] if zh else ["Time", "Kind", "Message"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.count = QLabel()
        self.done_button = QPushButton("已处理" if zh else "Handled")
        self.done_button.clicked.connect(self.acknowledge_selected)
        bar = QHBoxLayout()
        bar.addWidget(self.count, 1)
        bar.addWidget(self.done_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        self.refresh()

    def text_of(self, row: dict[str, Any]) -> str:
        p = row["payload"]
        return render(p["message"], self._lang, **(p.get("params") or {})) if p.get("message") else row["dedupe_key"]

    def refresh(self) -> None:
        try:
            self.rows = outbox.listing(self._uow(), topics=self._topics, statuses=("pending",))
        except BusinessError as err:  # the database is away: say so, keep what was shown, try again next time
            self.count.setText(err.message(self._lang))
            return
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            for c, text in enumerate((f"{local(row['created_at']):%m-%d %H:%M}",
                                      code_label("outbox_topic", row["topic"], self._lang), self.text_of(row))):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(1)
        self.count.setText(f"待处理提醒 {len(self.rows)} 条" if self._lang == "zh" else f"{len(self.rows)} open notices")

    def acknowledge_selected(self) -> None:
        row = self.table.currentRow()
        if 0 <= row < len(self.rows):
            try:
                outbox.acknowledge(self._uow(), self.rows[row]["id"], self._actor)
            except BusinessError as err:
                self.count.setText(err.message(self._lang))
                return
            self.refresh()
