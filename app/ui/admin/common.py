"""What the 配置 pages share: tables filled from plain rows, a message line, and a worker for slow calls."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem

from app.domain.errors import BusinessError
from app.domain.fields import Lang

log = logging.getLogger(__name__)
REFUSED = QColor("#fde2e1")
GOOD = "color: #1b5e20;"
BAD = "color: #b71c1c;"


def table(headers: Sequence[str], *, stretch_last: bool = True) -> QTableWidget:
    """A read-only table with business headers, whole-row selection."""
    view = QTableWidget(0, len(headers))
    view.setHorizontalHeaderLabels(list(headers))
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.verticalHeader().setVisible(False)
    view.setWordWrap(False)
    view.horizontalHeader().setStretchLastSection(stretch_last)
    return view


def fill(view: QTableWidget, rows: Sequence[Sequence[Any]], *, marked: Sequence[bool] = ()) -> None:
    """Replace the table's rows; rows marked True get the refused colour."""
    view.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            item = QTableWidgetItem("" if value is None else str(value))
            item.setToolTip(item.text())
            if r < len(marked) and marked[r]:
                item.setBackground(REFUSED)
            view.setItem(r, c, item)
    view.resizeColumnsToContents()
    header = view.horizontalHeader()
    for c in range(view.columnCount()):
        if header.sectionSize(c) > 360:
            header.resizeSection(c, 360)
    if view.horizontalHeader().stretchLastSection() and view.columnCount():
        header.setSectionResizeMode(view.columnCount() - 1, QHeaderView.ResizeMode.Stretch)
    if view.wordWrap():
        view.resizeRowsToContents()  # long sentences (a row's problems) wrap instead of being cut off


def message_label(lines: int = 3) -> QLabel:
    """A label for answers in words: wraps, and keeps room for ``lines`` lines so a long answer is never clipped."""
    label = QLabel()
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    label.setMinimumHeight(label.fontMetrics().lineSpacing() * lines + 4)
    return label


def say(label: QLabel, text: str, *, ok: bool) -> None:
    label.setText(text)
    label.setStyleSheet(GOOD if ok else BAD)


def attempt(label: QLabel, lang: Lang, action: Callable[[], str]) -> bool:
    """Run ``action``; its answer or the business error's sentence goes to ``label``."""
    try:
        said = action()
    except BusinessError as err:
        say(label, err.message(lang), ok=False)
        return False
    say(label, said, ok=True)
    return True


class Background(QObject):
    """Runs one slow call (a platform, a printer) off the GUI thread; the newest answer wins."""

    finished = Signal(int, object)  # (generation, result or BusinessError)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.generation = 0

    def run(self, call: Callable[[], Any]) -> int:
        self.generation += 1
        generation = self.generation

        def work() -> None:
            try:
                result: Any = call()
            except BusinessError as err:
                result = err
            except Exception as err:  # noqa: BLE001 — a driver's surprise must still reach the person, in words
                log.exception("admin station background call failed")
                result = BusinessError("ADMIN_CALL_FAILED", detail=str(err)[:160] or type(err).__name__)
            self.finished.emit(generation, result)

        self.pool.start(work)
        return generation

    def wait(self) -> None:
        self.pool.waitForDone(15_000)
