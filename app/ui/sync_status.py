"""The station's sync state in the status bar, and the bridge that brings the sync worker's news to the GUI thread.

The worker (a plain thread in :mod:`app.sync`) calls back on its own thread; the bridge turns
each callback into a Qt signal, which Qt delivers on the GUI thread (queued), so widgets are
only ever touched there and the GUI never waits for the network.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QVBoxLayout, QWidget)

from app.domain.actor import Actor
from app.domain.fields import Lang
from app.sync.applier import Outcome, refusal_text
from app.sync.outbox import OutboxEntry
from app.sync.station_sync import OFFLINE, ONLINE, StationSync, SyncStatus

_COLOURS = {ONLINE: "#2e7d32", OFFLINE: "#c62828"}


class SyncBridge(QObject):
    """Signals for what the sync worker reports; create it on the GUI thread."""

    status_changed = Signal(object)  # SyncStatus
    orders_changed = Signal(object)  # set of order nos now different in the cache
    command_finished = Signal(object, object)  # OutboxEntry, Outcome
    _delivered = Signal(object, object)  # (callback, result): runs the callback on the GUI thread

    def __init__(self, station: StationSync, parent: Any = None) -> None:
        super().__init__(parent)
        self.station = station
        station.on_status = self.status_changed.emit
        station.on_orders_changed = self.orders_changed.emit
        station.on_command_finished = self.command_finished.emit
        self._delivered.connect(lambda done, result: done(result))

    @property
    def cache(self) -> Any:
        return self.station.cache

    def submit(self, actor: Actor, name: str, args: dict[str, Any]) -> OutboxEntry:
        """Queue a command (saved on disk when this returns)."""
        return self.station.submit(actor, name, args)

    def call(self, work: Callable[..., Any], done: Callable[[Any], None]) -> None:
        """Run ``work`` on the sync worker; ``done(result)`` runs later on the GUI thread."""
        self.station.call(work, lambda result: self._delivered.emit(done, result))


class SyncStatusWidget(QWidget):
    """「在线 / 离线 / 正在同步」, the number of changes waiting, and refused changes to look at."""

    def __init__(self, bridge: SyncBridge, lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._bridge, self._lang = bridge, lang
        self.dot = QLabel("●")
        self.label = QLabel()
        self.review = QPushButton("查看未接受的改动" if lang == "zh" else "Review refused changes")
        self.review.setFlat(True)
        self.review.clicked.connect(self.show_refused)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.dot, self.label, self.review):
            layout.addWidget(w)
        bridge.status_changed.connect(self.show_status)
        self.show_status(bridge.station.status)

    def show_status(self, status: SyncStatus) -> None:
        self.label.setText(status.text(self._lang))
        self.dot.setStyleSheet(f"color: {_COLOURS.get(status.state, '#f9a825')}")
        self.review.setVisible(status.rejected > 0)

    def show_refused(self) -> RefusedChangesDialog:
        dialog = RefusedChangesDialog(self._bridge, self._lang, self)
        dialog.show()
        return dialog


class RefusedChangesDialog(QDialog):
    """Every change the server refused, with why and what the order is now, until the person acknowledges it."""

    def __init__(self, bridge: SyncBridge, lang: Lang = "zh", parent: Any = None) -> None:
        super().__init__(parent)
        self._bridge, self._lang = bridge, lang
        self.setWindowTitle("未被接受的改动" if lang == "zh" else "Changes not accepted")
        self.list = QListWidget()
        self.list.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.acknowledge = buttons.addButton("知道了" if lang == "zh" else "Got it",
                                             QDialogButtonBox.ButtonRole.AcceptRole)
        self.acknowledge.clicked.connect(self._acknowledge)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.resize(640, 320)
        self.reload()

    def reload(self) -> None:
        self.list.clear()
        for entry in self._bridge.station.outbox.rejected():
            item = QListWidgetItem(refusal_text(entry.command.name, entry.order_no, entry.result or {}, self._lang))
            item.setData(256, str(entry.command.id))
            self.list.addItem(item)

    def _acknowledge(self) -> None:
        for n in range(self.list.count()):
            self._bridge.station.acknowledge(self.list.item(n).data(256))
        self.accept()


__all__ = ["Outcome", "RefusedChangesDialog", "SyncBridge", "SyncStatusWidget"]
