"""`orderhub station` for real: an empty database asks for its first administrator, nothing is seeded,
sign-in opens the window, signing out returns to the sign-in screen."""

from __future__ import annotations

import sqlalchemy as sa
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.ui import station
from app.ui.login import FirstAdminDialog, LoginDialog
from app.ui.main_window import StationWindow


def test_a_first_start_creates_the_administrator_signs_in_and_signs_out_without_seeding(qtbot, hub, cjk_font):
    with hub.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM users WHERE role <> 'service'"))
    seen: list[str] = []
    logins = iter(["first", "again"])

    def drive() -> None:
        modal = QApplication.activeModalWidget()
        if isinstance(modal, FirstAdminDialog) and "first_admin" not in seen:
            seen.append("first_admin")
            modal.login.setText("it.admin")
            modal.name.setText("信息部")
            modal.password.setText("start-for-real")
            modal.again.setText("start-for-real")
            modal.try_create()
        elif isinstance(modal, LoginDialog):
            turn = next(logins, None)
            if turn == "first":
                seen.append("sign_in")
                modal.login.setText("it.admin")
                modal.password.setText("start-for-real")
                modal.try_sign_in()
            elif turn == "again":
                seen.append("back_at_sign_in")
                modal.reject()
        elif modal is None:
            windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, StationWindow) and w.isVisible()]
            if windows and "window" not in seen:
                seen.append("window")
                assert "信息部（管理员）" in windows[0].person.text()
                windows[0].sign_out_requested.emit("signed_out")

    timer = QTimer()
    timer.timeout.connect(drive)
    timer.start(100)
    try:
        assert station.run(hub) == 0
    finally:
        timer.stop()
    assert seen == ["first_admin", "sign_in", "window", "back_at_sign_in"]
    with hub.uow() as uow:
        assert uow.session.scalar(sa.text("SELECT count(*) FROM orders")) == 0  # nothing seeded
        actions = list(uow.session.scalars(sa.text(
            "SELECT action FROM audit_log WHERE entity_id = 'it.admin' ORDER BY id")))
    assert actions == ["user.created", "auth.sign_in", "auth.sign_out"]
