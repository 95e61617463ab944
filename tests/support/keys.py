"""Key events as a window system delivers them: time-stamped, so a loaded machine cannot change the gaps."""

from __future__ import annotations

import itertools

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

_bursts = itertools.count(1_000)  # each burst starts a second of stamps after the last one


def _key(widget, kind: QEvent.Type, key: int, text: str, at_ms: int) -> None:
    event = QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, text)
    event.setTimestamp(at_ms)
    QApplication.sendEvent(widget, event)


def send_keys(widget, text: str, gap_ms: int, enter: bool = True) -> None:
    """Press and release each character of ``text`` (then Enter) into ``widget``, stamped ``gap_ms`` apart.

    The scanner filter reads the window system's stamps when events carry them (app/ui/scanner.py),
    so the stamps, not how busy the machine is, decide what is a scanner burst.
    """
    at = next(_bursts) * 1000
    keys = [(ord(ch.upper()), ch) for ch in text] + ([(int(Qt.Key.Key_Return), "\r")] if enter else [])
    for key, ch in keys:
        _key(widget, QEvent.Type.KeyPress, key, ch, at)
        _key(widget, QEvent.Type.KeyRelease, key, ch, at + 1)
        at += gap_ms
