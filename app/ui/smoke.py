"""A started station proves it reached its sign-in window (ORDERHUB_SMOKE): screenshot, a log line, exit.

Used by CI against the built bundle (tests/installer/test_bundle.py) and by tests/benchmarks/bench_bundle.py.
Nothing happens unless ``ORDERHUB_SMOKE`` names a folder. Then, once the sign-in dialog is on screen, the
station prints ``ORDERHUB_SMOKE sign-in shown: <title>``, saves the dialog as ``sign_in.png`` in that
folder and closes it (the station exits 0). With ``ORDERHUB_SMOKE_SIGN_IN=1`` it types
``ORDERHUB_SMOKE_LOGIN`` and ``ORDERHUB_SMOKE_PASSWORD`` into the sign-in and signs in for real instead
(the same service check as a person's), waits until the station window is shown, prints
``ORDERHUB_SMOKE station shown``, lets it idle ``ORDERHUB_SMOKE_IDLE`` seconds (default 5; a benchmark
reads the memory then), saves ``station.png`` and quits.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QMainWindow, QWidget

FOLDER_ENV = "ORDERHUB_SMOKE"
SIGN_IN_ENV = "ORDERHUB_SMOKE_SIGN_IN"
IDLE_ENV = "ORDERHUB_SMOKE_IDLE"
LOGIN_ENV, PASSWORD_ENV = "ORDERHUB_SMOKE_LOGIN", "ORDERHUB_SMOKE_PASSWORD"
GIVE_UP_SECONDS = 120.0


def arm(app: QApplication) -> None:
    """Start watching for the sign-in window if ``ORDERHUB_SMOKE`` asks for it; otherwise do nothing."""
    folder = os.environ.get(FOLDER_ENV)
    if folder:
        probe = _Probe(app, Path(folder), sign_in=os.environ.get(SIGN_IN_ENV) == "1",
                       idle_seconds=float(os.environ.get(IDLE_ENV) or 5))
        probe.setParent(app)  # lives as long as the application


def _say(line: str) -> None:
    print(f"ORDERHUB_SMOKE {line}", flush=True)


class _Probe(QObject):
    """Polls the top-level windows; steps: sign-in dialog → (station window → idle) → done."""

    def __init__(self, app: QApplication, folder: Path, *, sign_in: bool, idle_seconds: float) -> None:
        super().__init__()
        self.app, self.folder, self.sign_in, self.idle_seconds = app, folder, sign_in, idle_seconds
        self.folder.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        self.step = "sign_in"
        self.timer = QTimer(self)
        self.timer.setInterval(20)
        self.timer.timeout.connect(self._poll)
        self.timer.start()

    def _shown(self, kind: type[QWidget]) -> QWidget | None:
        return next((w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()), None)

    def _poll(self) -> None:
        if time.monotonic() - self.started > GIVE_UP_SECONDS:
            _say(f"failed: no {self.step.replace('_', '-')} window after {GIVE_UP_SECONDS:.0f} s")
            sys.stdout.flush()
            os._exit(3)  # the window never came; nothing of ours to save
        if self.step == "sign_in":
            dialog = self._shown(QDialog)
            if dialog is None:
                return
            _say(f"sign-in shown: {dialog.windowTitle()}")
            dialog.grab().save(str(self.folder / "sign_in.png"))
            if self.sign_in:
                self.step = "station"
                dialog.login.setText(os.environ.get(LOGIN_ENV, ""))  # type: ignore[attr-defined]
                dialog.password.setText(os.environ.get(PASSWORD_ENV, ""))  # type: ignore[attr-defined]
                dialog.try_sign_in()  # type: ignore[attr-defined]
            else:
                self.timer.stop()
                dialog.reject()  # type: ignore[attr-defined]
        elif self.step == "station":
            window = self._shown(QMainWindow)
            if window is None:
                return
            _say(f"station shown: {window.windowTitle()}")
            self.step = "idle"
            self.timer.stop()
            QTimer.singleShot(int(self.idle_seconds * 1000), lambda: self._finish(window))

    def _finish(self, window: QWidget) -> None:
        window.grab().save(str(self.folder / "station.png"))
        _say("station idle; quitting")
        self.app.quit()
