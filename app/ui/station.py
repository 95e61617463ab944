"""Starts the station window (`orderhub`, `orderhub demo`)."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.ui import fonts, smoke
from app.services.users import list_users
from app.ui.login import LoginDialog
from app.domain.errors import BusinessError
from app.settings import config_file_path

if TYPE_CHECKING:
    from app.bootstrap import OrderHub

# The station window's modules (tables, map, drill-down, sync) cost as much to import as everything before
# the sign-in; they load while the sign-in is on screen (the person is typing) instead of before it.
STATION_MODULES = ("app.ui.main_window", "app.ui.sync_status", "app.sync.station_sync", "app.services.pick_slips",
                   "app.ui.scanner")


def _load_station_modules() -> None:
    for name in STATION_MODULES:
        importlib.import_module(name)


def run(hub: OrderHub, credentials: Any = None) -> int:
    """Sign in, open the station, run until the window closes.

    ``credentials`` is the shop credential store (built by the composition root: the UI may not reach
    app.hub); without one the 配置 shop page can list shops but not save secrets.
    """
    app = QApplication.instance() or QApplication(sys.argv)
    fonts.install(app)  # type: ignore[arg-type]
    smoke.arm(app)  # type: ignore[arg-type]  # ORDERHUB_SMOKE (CI, benchmarks): prove the sign-in opened
    QTimer.singleShot(250, _load_station_modules)
    login = LoginDialog(list_users(hub.uow()), "en" if hub.settings.language == "en" else "zh")
    if login.exec() != LoginDialog.DialogCode.Accepted:
        return 0
    user, lang = login.chosen()
    from app.services.pick_slips import SlipPrinter
    from app.sync.cache import Scope
    from app.sync.station_sync import StationSync
    from app.ui.main_window import StationWindow
    from app.ui.scanner import scanner_settings
    from app.ui.sync_status import SyncBridge

    # 仓库: the slip printer and the scanner thresholds from the settings (warehouse roles only); a printer
    # setting that names no printer is said on the console and the station opens without one
    printing = None
    if user.role in ("picker", "wh_lead"):
        try:
            printing = SlipPrinter.from_settings(hub.settings, hub.uow, lang=lang)
        except BusinessError as err:
            print(err.message(lang), file=sys.stderr)
    warehouse_setup = {"printing": printing, "scanner": scanner_settings(hub.settings),
                       "serial_port": hub.settings.scanner_serial_port,
                       "held_path": hub.settings.data_dir / "held_scans.sqlite3"}
    # the station's own file (outbox, cache) lives in its data folder; the worker reconnects by itself
    station_sync = StationSync(hub.engine.url, hub.settings.data_dir, Scope("cs"))
    bridge = SyncBridge(station_sync)
    window = StationWindow(hub.uow, operator=user.display_name, station=hub.settings.station_name,
                           database=(("内置数据库（本机）" if lang == "zh" else "built-in database (this computer)")
                                     if hub.target.embedded else hub.target.masked()), lang=lang, actor=hub.actor(user.login), role=user.role,
                           sync=bridge, warehouse_setup=warehouse_setup,
                           admin_setup={"credentials": credentials, "settings": hub.settings,
                                        "config_path": config_file_path()})
    station_sync.start()
    if printing is not None:
        printing.start()
    window.show()
    try:
        return app.exec()
    finally:
        station_sync.stop()
        if printing is not None:
            printing.stop()
