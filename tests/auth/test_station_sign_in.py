"""The station's sign-in screens as people see them: first administrator, password, offline, users and roles."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from PySide6.QtCore import Qt

from app.bootstrap import connect_or_offline
from app.domain.idle import IdleWatch
from app.services import auth, users
from app.sync.cache import Scope
from app.sync.known_users import KnownUsers
from app.sync.local_db import LocalDb
from app.sync.station_sync import StationSync
from app.ui.login import FirstAdminDialog
from app.ui.main_window import StationWindow
from app.ui.station import first_admin_screen, sign_in_screen
from app.ui.sync_status import SyncBridge
from app.ui.users_admin import UsersAdmin
from tests.auth.conftest import actor_of
from tests.conftest import STAFF_PASSWORD


def _known(hub) -> KnownUsers:
    return KnownUsers(LocalDb(hub.settings.data_dir / "station.sqlite3"))


def test_an_empty_database_asks_for_the_first_administrator_who_can_then_sign_in(qtbot, hub, cjk_font, shots_dir):
    with hub.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM users WHERE role <> 'service'"))
    assert auth.needs_first_admin(hub.uow())
    dialog = first_admin_screen(hub, "zh")
    qtbot.addWidget(dialog)
    dialog.login.setText("boss")
    dialog.name.setText("王老板")
    dialog.password.setText("first-admin-pw")
    dialog.again.setText("first-admin-pX")
    dialog.try_create()
    assert dialog.error.text() == "两次输入的密码不一致" and dialog.result() != FirstAdminDialog.DialogCode.Accepted
    dialog.again.setText("first-admin-pw")
    dialog.show()
    assert dialog.grab().save(str(Path(shots_dir) / "auth-first-admin.png"))
    dialog.try_create()
    assert dialog.result() == FirstAdminDialog.DialogCode.Accepted
    assert not auth.needs_first_admin(hub.uow())
    login = sign_in_screen(hub, _known(hub), offline=False, lang="zh")
    qtbot.addWidget(login)
    login.login.setText("boss")
    login.password.setText("first-admin-pw")
    login.try_sign_in()
    who, lang = login.chosen()
    assert (who.login, who.role, lang) == ("boss", "admin", "zh")


def test_a_wrong_password_is_said_on_the_form_which_stays_open_with_the_password_cleared(qtbot, hub, cjk_font,
                                                                                          shots_dir):
    login = sign_in_screen(hub, _known(hub), offline=False, lang="zh",
                           hint="演示公司：所有人的密码都是 demo1234（如 xiaomei 客服、li.sf 拣货员、liu.gong 管理员）")
    qtbot.addWidget(login)
    login.show()
    login.login.setText("xiaomei")
    login.password.setText("wrong-password")
    login.try_sign_in()
    assert login.error.isVisible() and login.error.text() == "用户名或密码不正确"
    assert login.password.text() == "" and login.signed_in is None
    assert login.grab().save(str(Path(shots_dir) / "auth-sign-in.png"))


def test_the_station_opens_without_its_database_and_lets_recent_people_sign_in_offline(qtbot, hub, cjk_font,
                                                                                      shots_dir):
    known = _known(hub)
    online = sign_in_screen(hub, known, offline=False, lang="zh")
    qtbot.addWidget(online)
    online.login.setText("li.sf")
    online.password.setText(STAFF_PASSWORD)
    online.try_sign_in()
    assert online.chosen()[0].login == "li.sf" and known.logins() == ["li.sf"]
    # the database is now out of reach (nothing listens on port 1): the station still starts
    away = replace(hub.settings, database_url="postgresql://orderhub_station@127.0.0.1:1/orderhub")
    offline_hub, offline = connect_or_offline(away)
    try:
        assert offline
        login = sign_in_screen(offline_hub, known, offline=True, lang="zh")
        qtbot.addWidget(login)
        login.show()
        assert login.offline_note.isVisible() and "离线登录" in login.offline_note.text()
        login.login.setText("xiaomei")  # never signed in here
        login.password.setText(STAFF_PASSWORD)
        login.try_sign_in()
        assert "未在本机登录过" in login.error.text()
        login.login.setText("li.sf")
        login.password.setText("not-the-password")
        login.try_sign_in()
        assert login.error.text() == "用户名或密码不正确"
        assert login.grab().save(str(Path(shots_dir) / "auth-offline-sign-in.png"))
        login.password.setText(STAFF_PASSWORD)
        login.try_sign_in()
        who, _ = login.chosen()
        assert (who.login, who.role, who.offline) == ("li.sf", "picker", True)
        # and the station window opens for them without its database (work waits in the station's files)
        sync = StationSync(offline_hub.engine.url, offline_hub.settings.data_dir, Scope("cs"))
        window = StationWindow(offline_hub.uow, operator=who.display_name, station="仓库工作台-01",
                               database="db.xsm.local", actor=offline_hub.actor(who.login), role=who.role,
                               sync=SyncBridge(sync))
        qtbot.addWidget(window)
        window.show()
        assert window.warehouse is not None and window.tabs.currentIndex() == 1
    finally:
        offline_hub.close()


def test_the_users_admin_adds_resets_disables_and_edits_grants_through_the_services(qtbot, hub, cjk_font, shots_dir):
    admin = UsersAdmin(hub.uow, actor_of("admin"))
    qtbot.addWidget(admin)
    admin.resize(1200, 820)
    temp = admin.add_user("xiao.wu", "小吴", "picker")
    assert temp and temp in admin.message.text() and "首次登录须修改" in admin.message.text()
    logins = [admin.users.item(n, 0).text() for n in range(admin.users.rowCount())]
    row = logins.index("xiao.wu")
    assert admin.users.item(row, 2).text() == "拣货员" and admin.users.item(row, 3).text() == "需改密码"
    admin.users.selectRow(row)
    admin.change_selected_role("wh_lead")
    admin.users.selectRow(row)
    admin.toggle_selected()
    assert admin.users.item(row, 2).text() == "仓管班长" and admin.users.item(row, 3).text() == "已停用"
    # the role → action table: tick 强制改订单环节 for 客服, and the admin's own rights are locked
    assert admin.set_grant("cs", "order.override_status", True)
    assert not admin.set_grant("admin", "users.manage", False)
    assert "不能收回" in admin.message.text()
    actions = [admin.grants.verticalHeaderItem(n).text() for n in range(admin.grants.rowCount())]
    roles = [admin.grants.horizontalHeaderItem(c).text() for c in range(admin.grants.columnCount())]
    item = admin.grants.item(actions.index("强制改订单环节"), roles.index("客服"))
    assert item.checkState() == Qt.CheckState.Checked
    admin.show()
    assert admin.grab().save(str(Path(shots_dir) / "auth-users-admin.png"))


def test_only_the_administrator_sees_users_and_roles_and_the_service_refuses_the_others(qtbot, hub, cjk_font):
    window = StationWindow(hub.uow, operator="小美", station="客服工作台-01", database="内置数据库",
                           actor=actor_of("cs"), role="cs")
    qtbot.addWidget(window)
    assert window.tabs.tabText(3) == "配置" and "仅管理员可用" in window.tabs.widget(3).text()
    refused = UsersAdmin(hub.uow, actor_of("supervisor"))  # even if someone builds the screen, the service says no
    qtbot.addWidget(refused)
    assert refused.users.rowCount() == 0 and "「主管」没有「管理用户」的权限" in refused.message.text()
    boss = StationWindow(hub.uow, operator="刘工", station="配置工作站", database="内置数据库",
                         actor=actor_of("admin"), role="admin")
    qtbot.addWidget(boss)
    page = boss.tabs.widget(3)
    names = [page.nav.item(n).text() for n in range(page.nav.count())]
    assert "售后流程" in names and "用户与权限" in names
    assert page.show_page("users") is page.users
    assert users.admin_list(hub.uow(), actor_of("admin"))


def test_an_idle_station_signs_its_person_out_on_a_clock_the_test_moves(qtbot, hub, cjk_font):
    now = [datetime.now(UTC)]
    watch = IdleWatch(30, lambda: now[0])
    window = StationWindow(hub.uow, operator="小美", station="客服工作台-01", database="内置数据库",
                           actor=actor_of("cs"), role="cs", idle=watch)
    qtbot.addWidget(window)
    reasons: list[str] = []
    window.sign_out_requested.connect(reasons.append)
    now[0] += timedelta(minutes=29)
    assert not window.check_idle() and reasons == []
    now[0] += timedelta(minutes=1)
    assert window.check_idle() and reasons == ["expired"]


def test_a_temporary_password_must_be_replaced_and_the_form_says_why_not(qtbot, hub, cjk_font, shots_dir):
    from app.ui.login import ChangePasswordDialog

    temp = users.reset_password(hub.uow(), "ajie", actor_of("admin"))
    me = hub.actor("ajie")
    dialog = ChangePasswordDialog(lambda old, new: auth.change_password(hub.uow(), "ajie", old, new, me), "zh")
    qtbot.addWidget(dialog)
    dialog.old.setText(temp)
    dialog.new.setText("short")
    dialog.again.setText("short")
    dialog.try_change()
    assert dialog.error.text() == "密码至少 8 位"
    dialog.show()
    assert dialog.grab().save(str(Path(shots_dir) / "auth-change-password.png"))
    dialog.new.setText("ajie-own-password")
    dialog.again.setText("ajie-own-password")
    dialog.try_change()
    assert dialog.result() == ChangePasswordDialog.DialogCode.Accepted
    assert not auth.sign_in(hub.uow(), "ajie", "ajie-own-password", station="x").must_change_password
