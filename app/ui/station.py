"""Starts the station window (`orderhub station`, `orderhub demo`): first administrator, sign-in, the window.

The same path for a real company and the demo; the demo only adds a hint with its password. While
the database cannot be reached, the station opens from its cache with the people who signed in
here before (their argon2 hashes kept in ``station.sqlite3``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QApplication

from app.domain.errors import BusinessError
from app.domain.fields import Lang
from app.domain.idle import IdleWatch
from app.services import auth
from app.services.pick_slips import SlipPrinter
from app.sync.cache import Scope
from app.sync.known_users import KnownUsers
from app.sync.local_db import LocalDb
from app.sync.print_reports import PrintFailureReporter
from app.sync.station_sync import StationSync
from app.settings import config_file_path
from app.ui import fonts, smoke
from app.ui.login import ChangePasswordDialog, FirstAdminDialog, LoginDialog
from app.ui.main_window import StationWindow
from app.ui.scanner import scanner_settings
from app.ui.sync_status import SyncBridge

if TYPE_CHECKING:
    from app.bootstrap import OrderHub


def sign_in_screen(hub: OrderHub, known: KnownUsers, *, offline: bool, lang: Lang,
                   hint: str | None = None) -> LoginDialog:
    """The sign-in form wired to the service (online) or to this station's kept hashes (offline)."""
    settings = hub.settings
    ip = hub.actor("-").station_ip
    policy = auth.Policy.from_settings(settings)

    def online(login: str, password: str) -> auth.SignedIn:
        who = auth.sign_in(hub.uow(), login, password, station=settings.station_name,
                           station_ip=ip, policy=policy, allowed_roles=settings.allowed_roles)
        known.remember(who)
        return who

    def kept(login: str, password: str) -> auth.SignedIn:
        return known.sign_in(login, password, allowed_roles=settings.allowed_roles)

    return LoginDialog(kept if offline else online, lang, station=settings.station_name, offline=offline, hint=hint,
                       offline_reason=getattr(hub, "offline_reason", None) if offline else None)


def first_run(check: Any, config_path: Any, lang: Lang, *, default_station: str = "") -> bool:
    """The first-start screen (provisioning file, preview, database check); False when the person cancelled."""
    from app.ui.first_run import FirstRunDialog

    app = QApplication.instance() or QApplication(sys.argv)
    fonts.install(app)  # type: ignore[arg-type]
    dialog = FirstRunDialog(check, config_path, lang, default_station=default_station)
    accepted = dialog.exec() == FirstRunDialog.DialogCode.Accepted
    dialog.wait()
    return accepted


def station_known_users(hub: OrderHub) -> KnownUsers:
    """This station's kept people and offline sign-in queue, stamped with its name and IP."""
    return KnownUsers(LocalDb(hub.settings.data_dir / "station.sqlite3"), actor=hub.actor("-"),
                      policy=auth.Policy.from_settings(hub.settings))


def end_session(hub: OrderHub, known: KnownUsers | None, who: auth.SignedIn, reason: str) -> None:
    """Sign ``who`` out: on the server for an online session, into the offline queue for an offline one."""
    if who.offline:
        if known is not None:
            known.signed_out(who, reason)
        return
    if who.token:
        try:
            auth.sign_out(hub.uow(), who.token, hub.actor(who.login), reason=reason)
        except BusinessError:
            pass  # the link dropped meanwhile: the session ends by itself on the server (idle)


def first_admin_screen(hub: OrderHub, lang: Lang) -> FirstAdminDialog:
    return FirstAdminDialog(lambda login, name, password: auth.create_first_admin(
        hub.uow(), login, name, password, station=hub.settings.station_name,
        station_ip=hub.actor("-").station_ip), lang)


def station_heartbeat(settings: Any, who: auth.SignedIn) -> Any:
    """What this station says about itself every beat (the sync worker adds its outbox size)."""
    from app import __version__
    from app.services.stations import Heartbeat

    every = max(int(settings.station_heartbeat_seconds), 1)
    return lambda pending: Heartbeat(settings.station_name, settings.allowed_roles, who.login, who.display_name,
                                     who.role, __version__, pending, every)


def run(hub: OrderHub, *, offline: bool = False, hint: str | None = None, credentials: Any = None) -> int:
    """First administrator (empty database), sign in, open the station; back to sign-in after a sign-out.

    ``credentials`` is the shop credential store (built by the composition root: the UI may not reach
    app.hub); without one the 配置 shop page can list shops but not save secrets.
    """
    app = QApplication.instance() or QApplication(sys.argv)
    fonts.install(app)  # type: ignore[arg-type]
    smoke.arm(app)  # type: ignore[arg-type]  # ORDERHUB_SMOKE (CI, benchmarks): prove the sign-in opened
    settings = hub.settings
    lang: Lang = "en" if settings.language == "en" else "zh"
    known = station_known_users(hub)
    if not offline and auth.needs_first_admin(hub.uow()):
        if first_admin_screen(hub, lang).exec() != FirstAdminDialog.DialogCode.Accepted:
            return 0
    while True:
        login = sign_in_screen(hub, known, offline=offline, lang=lang, hint=hint)
        if login.exec() != LoginDialog.DialogCode.Accepted:
            return 0
        who, lang = login.chosen()
        if who.must_change_password:
            change = ChangePasswordDialog(lambda old, new: auth.change_password(
                hub.uow(), who.login, old, new, hub.actor(who.login)), lang)
            if change.exec() != ChangePasswordDialog.DialogCode.Accepted:
                continue
        reason = _open_window(app, hub, who, lang, offline=offline, credentials=credentials, known=known)
        if reason is None:
            return 0


def _open_window(app: QApplication, hub: OrderHub, who: auth.SignedIn, lang: Lang, *, offline: bool,
                 credentials: Any = None, known: KnownUsers | None = None) -> str | None:
    """Run the station for one signed-in person; the sign-out reason, or None when the window was closed."""
    settings = hub.settings
    printing = None
    if who.role in ("picker", "wh_lead"):
        try:
            printing = SlipPrinter.from_settings(settings, hub.uow, lang=lang)
        except BusinessError as err:
            print(err.message(lang), file=sys.stderr)
    warehouse_setup = {"printing": printing, "scanner": scanner_settings(settings),
                       "serial_port": settings.scanner_serial_port,
                       "held_path": settings.data_dir / "held_scans.sqlite3"}
    station_sync = StationSync(hub.engine.url, settings.data_dir, Scope("cs"),
                               heartbeat=station_heartbeat(settings, who),
                               heartbeat_every=settings.station_heartbeat_seconds)
    reporter = None
    if printing is not None:  # its failures go to the server through the outbox (the 主管 station counts them)
        reporter = PrintFailureReporter(printing.queue, station_sync, hub.actor(who.login),
                                        printer=printing.queue.backend.name)
        printing.queue.on_failure = reporter.forward
        reporter.forward()  # what an earlier session could not hand on
    bridge = SyncBridge(station_sync)
    database = (("内置数据库（本机）" if lang == "zh" else "built-in database (this computer)")
                if hub.target.embedded else hub.target.masked())
    window = StationWindow(hub.uow, operator=who.display_name, station=settings.station_name, database=database,
                           lang=lang, actor=hub.actor(who.login), role=who.role, sync=bridge,
                           warehouse_setup=warehouse_setup, idle=IdleWatch(settings.idle_sign_out_minutes),
                           delay_hours=settings.tracking_delay_hours,
                           admin_setup={"credentials": credentials, "settings": settings,
                                        "config_path": config_file_path()})
    ended: list[str] = []

    def sign_out(reason: str) -> None:
        ended.append(reason)
        end_session(hub, known, who, reason)
        window.close()

    window.sign_out_requested.connect(sign_out)
    window.change_password_requested.connect(lambda: ChangePasswordDialog(lambda old, new: auth.change_password(
        hub.uow(), who.login, old, new, hub.actor(who.login)), lang, window, forced=False).exec())
    station_sync.start()
    if printing is not None:
        printing.start()
    window.show()
    try:
        app.exec()
    finally:
        station_sync.stop()
        if printing is not None:
            printing.stop()
    return ended[0] if ended else None
