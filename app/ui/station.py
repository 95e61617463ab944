"""Starts the station window (`orderhub`, `orderhub demo`)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication

from app.ui import fonts
from app.ui.main_window import StationWindow

if TYPE_CHECKING:
    from app.bootstrap import OrderHub


def run(hub: OrderHub, operator: str = "xiaomei") -> int:
    """Open the station for ``operator`` and run until the window closes."""
    app = QApplication.instance() or QApplication(sys.argv)
    fonts.install(app)  # type: ignore[arg-type]
    window = StationWindow(hub.uow, operator=operator, station=hub.settings.station_name, database=hub.target.masked(),
                           lang="en" if hub.settings.language == "en" else "zh", actor=hub.actor(operator))
    window.show()
    return app.exec()
