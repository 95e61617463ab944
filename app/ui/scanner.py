"""Barcode scanners at the station: USB scanners that type like a keyboard, and serial scanners.

A USB scanner sends a code as key presses a few milliseconds apart, ending with Enter; a person
types at best about 30 ms apart. :class:`KeyboardScanFilter` sits on the whole application, holds
back printable key presses for a moment, and decides by the gaps between them: a fast run ending
in Enter is a scan (emitted as :attr:`scanned`, never typed into a field); anything slower is
handed on, unchanged and in order, to the widget it was meant for. Nothing is lost either way.

:class:`SerialScanReader` reads a serial scanner (pyserial) on its own thread and emits the same
signal, so the station treats both alike. :class:`ScanWorker` answers scans one after another on
a worker thread: scans that come faster than the database answers wait in its queue (first in
first out), and the window keeps painting.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QObject, QThread, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)

_ENTER = (0x01000004, 0x01000005)  # Qt.Key_Return, Qt.Key_Enter
_NO_TEXT_MODIFIERS = 0x04000000 | 0x08000000 | 0x10000000  # Control, Alt, Meta: shortcuts, not characters


@dataclass(frozen=True, slots=True)
class ScannerSettings:
    """How the station tells a scanner from a person (defaults suit common USB scanners).

    Attributes:
        max_gap_ms: keys closer than this belong to one scan burst.
        typing_gap_ms: a person types keys at least this far apart (documentation of the margin;
            anything between ``max_gap_ms`` and it is treated as typing).
        min_length: shorter bursts are typing, even if fast (a quick double key press).
        hold_ms: how long a held key may wait for a following scanner key before it is typed.
        stall_ms: one longer gap inside a burst already under way (at least 3 fast keys) is the
            machine being busy, not a person: tolerated once per scan, up to this long.
    """

    max_gap_ms: float = 20.0
    typing_gap_ms: float = 30.0
    min_length: int = 4
    hold_ms: float = 25.0
    stall_ms: float = 150.0


def scanner_settings(settings: Any) -> ScannerSettings:
    """The thresholds from the station's settings (values may arrive as text from the environment)."""
    return ScannerSettings(max_gap_ms=float(settings.scanner_max_gap_ms),
                           typing_gap_ms=float(settings.scanner_typing_gap_ms))


def is_scan(gaps_ms: list[float], length: int, settings: ScannerSettings) -> bool:
    """A burst is a scan when it is long enough and its gaps (including the one before Enter) are short,
    but for at most one stall after the burst was clearly under way."""
    slow = [n for n, g in enumerate(gaps_ms) if g > settings.max_gap_ms]
    if length < settings.min_length or len(slow) > 1:
        return False
    return not slow or (slow[0] >= 3 and gaps_ms[slow[0]] <= settings.stall_ms)


def _burst_under_way(gaps_ms: list[float], settings: ScannerSettings) -> bool:
    return len(gaps_ms) >= 3 and all(g <= settings.max_gap_ms for g in gaps_ms)


def _now_ms() -> float:
    return time.perf_counter_ns() / 1e6


class KeyboardScanFilter(QObject):
    """An application-wide event filter that turns keyboard-scanner bursts into :attr:`scanned`."""

    scanned = Signal(str)

    def __init__(self, settings: ScannerSettings | None = None, parent: QObject | None = None,
                 clock: Callable[[], float] = _now_ms) -> None:
        super().__init__(parent)
        self.settings = settings or ScannerSettings()
        self._clock = clock
        self._held: list[tuple[Any, int, Any, str, float]] = []  # (target, key, modifiers, text, at ms)
        self._swallowed_releases: dict[int, int] = {}
        self._replaying = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._hold_expired)
        self.installed_on: QApplication | None = None

    def install(self, app: QApplication | None = None) -> KeyboardScanFilter:
        self.installed_on = app or QApplication.instance()  # type: ignore[assignment]
        assert self.installed_on is not None
        self.installed_on.installEventFilter(self)
        return self

    def uninstall(self) -> None:
        if self.installed_on is not None:
            self.installed_on.removeEventFilter(self)
            self.installed_on = None
        self._timer.stop()
        self._type_held()

    # -- the filter ----------------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if self._replaying or kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        assert isinstance(event, QKeyEvent)
        key = event.key()
        if kind == QEvent.Type.KeyRelease:
            if self._swallowed_releases.get(key):
                self._swallowed_releases[key] -= 1
                return True
            return False
        # The window system's own time stamp when there is one (a busy GUI thread does not squeeze
        # a person's typing into a burst); synthesised events carry none, so the clock is used then.
        stamp = event.timestamp()
        at = float(stamp) if stamp else self._clock()
        if stamp and self._held and self._held[-1][4] > at + 10_000:  # clock source changed under us
            self._type_held()
        text = event.text()
        if key in _ENTER:
            if self._held and is_scan(self._gaps(at), len(self._held), self.settings):
                code = "".join(h[3] for h in self._held)
                self._held.clear()
                self._timer.stop()
                self._swallowed_releases[key] = self._swallowed_releases.get(key, 0) + 1
                self.scanned.emit(code)
                return True
            self._type_held()
            return False
        if not text or not text.isprintable() or int(event.modifiers().value) & _NO_TEXT_MODIFIERS:
            self._type_held()
            return False
        if self._held:
            gap = at - self._held[-1][4]
            if gap > self.settings.max_gap_ms and not (
                    gap <= self.settings.stall_ms and _burst_under_way(self._gaps(), self.settings)):
                self._type_held()  # too slow to belong to the held burst: those were typed
        self._held.append((obj, key, event.modifiers(), text, at))
        self._swallowed_releases[key] = self._swallowed_releases.get(key, 0) + 1
        self._arm()
        return True

    def _gaps(self, enter_at: float | None = None) -> list[float]:
        times = [h[4] for h in self._held] + ([enter_at] if enter_at is not None else [])
        return [b - a for a, b in zip(times, times[1:])]

    def _arm(self) -> None:
        """Wait briefly for the next key; longer once a scan is clearly under way (Enter is coming)."""
        under_way = len(self._held) >= 4 and _burst_under_way(self._gaps()[:3], self.settings)
        self._timer.start(int(max(self.settings.stall_ms if under_way else self.settings.hold_ms, 1)))

    def _hold_expired(self) -> None:
        self._type_held()

    def _type_held(self) -> None:
        """Hand held keys on to the widgets they were meant for, in order (they were typing)."""
        held, self._held = self._held, []
        self._timer.stop()
        self._replaying = True
        try:
            for target, key, modifiers, text, _ in held:
                if target is None:
                    continue
                QApplication.sendEvent(target, QKeyEvent(QEvent.Type.KeyPress, key, modifiers, text))
                QApplication.sendEvent(target, QKeyEvent(QEvent.Type.KeyRelease, key, modifiers, text))
        finally:
            self._replaying = False

    @property
    def holding(self) -> int:
        return len(self._held)


class SerialScanReader(QThread):
    """Reads a serial scanner (pyserial) line by line and emits each code as :attr:`scanned`."""

    scanned = Signal(str)
    failed = Signal(str)
    opened = Signal()  # the port is open: from now on nothing the scanner sends is missed

    def __init__(self, port: str, baudrate: int = 9600, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.port, self.baudrate = port, baudrate
        self._stop = False

    def run(self) -> None:
        import serial  # pyserial; imported here so stations without a serial scanner do not need it

        try:
            device = serial.Serial(self.port, self.baudrate, timeout=0.05)
        except (serial.SerialException, OSError) as err:
            self.failed.emit(str(err))
            return
        self.opened.emit()
        buffer = bytearray()
        try:
            while not self._stop:
                try:
                    chunk = device.read(256)
                except (serial.SerialException, OSError) as err:
                    self.failed.emit(str(err))
                    return
                if not chunk:
                    continue
                buffer.extend(chunk)
                while True:
                    cut = min((i for i in (buffer.find(b"\r"), buffer.find(b"\n")) if i >= 0), default=-1)
                    if cut < 0:
                        break
                    line, buffer = bytes(buffer[:cut]), buffer[cut + 1:]
                    code = line.decode("utf-8", errors="replace").strip()
                    if code:
                        self.scanned.emit(code)
        finally:
            device.close()

    def stop(self) -> None:
        self._stop = True
        self.wait(2000)


class ScanWorker(QObject):
    """Answers scans in arrival order on its own thread: ``submit`` queues, ``answered`` reports.

    ``handler(code, context)`` does the work (a service call with its own transaction) and returns
    the answer; ``context`` is whatever the station attached when the scan came in (the box number
    then, say), so the worker never reads widgets. An exception is reported as ``failed`` with the
    code, so a scan is never silently dropped.

    The thread is a plain daemon thread, not a QThread: a QThread destroyed while it runs aborts the
    whole process, and a scan stuck on a stalled database link can outlast any wait on close. Signals
    emitted from the thread reach the station's widgets queued, on the GUI thread.
    """

    answered = Signal(int, str, object)
    failed = Signal(int, str, object)

    SHUTDOWN_WAIT_S = 5.0

    def __init__(self, handler: Callable[[str, Any], Any]) -> None:
        super().__init__()
        self._handler = handler
        self._seq = 0
        self.done = 0
        self._queue: queue.SimpleQueue[tuple[int, str, Any] | None] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scan-worker", daemon=True)
        self._thread.start()

    def submit(self, code: str, context: Any = None) -> int:
        """Queue a scan; returns its sequence number (answers come back in the same order)."""
        self._seq += 1
        self._queue.put((self._seq, code, context))
        return self._seq

    @property
    def waiting(self) -> int:
        return self._seq - self.done

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            seq, code, context = item
            try:
                result = self._handler(code, context)
            except Exception as err:  # noqa: BLE001 - reported to the station, never lost
                self._report(self.failed, seq, code, err)
            else:
                self._report(self.answered, seq, code, result)

    def _report(self, signal: Any, seq: int, code: str, outcome: Any) -> None:
        self.done += 1
        if self._closed.is_set():
            return  # the station has closed: nobody is left to show it (the service call itself is done)
        try:
            signal.emit(seq, code, outcome)
        except RuntimeError:  # the station's objects are already gone
            pass

    def shutdown(self) -> bool:
        """Stop taking scans; wait a little for the one being answered. Never blocks the close for long.

        Returns True when the thread finished; False when a scan is still stuck (a stalled database
        link): the thread is left to end with its call, and the process can exit regardless.
        """
        self._queue.put(None)
        self._thread.join(self.SHUTDOWN_WAIT_S)
        self._closed.set()
        if self._thread.is_alive():
            log.warning("scan worker still busy with a scan when the station closed; left to finish on its own")
            return False
        return True
