"""Signing in: argon2 hashes, lockout after repeated failures, idle expiry, change and reset — all audited."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.idle import IdleWatch
from app.services import auth, users
from tests.auth.conftest import actor_of
from tests.conftest import STAFF_PASSWORD

STATION, IP = "客服工作台-07", "10.20.1.77"
POLICY = auth.Policy(max_failures=5, lock_minutes=15, idle_minutes=30)
T0 = datetime.now(UTC).replace(microsecond=0)


def _sign_in(hub, login="xiaomei", password=STAFF_PASSWORD, at=T0, **kw):
    return auth.sign_in(hub.uow(), login, password, station=STATION, station_ip=IP, policy=POLICY, now=at, **kw)


def _audit(hub, login):
    with hub.uow() as uow:
        return uow.session.execute(sa.text(
            "SELECT action, station, host(station_ip), after FROM audit_log WHERE entity_type = 'user' "
            "AND entity_id = :l ORDER BY id"), {"l": login}).all()


def test_passwords_are_kept_only_as_argon2_hashes(hub):
    with hub.uow() as uow:
        stored = uow.session.scalar(sa.text("SELECT password_hash FROM users WHERE login = 'xiaomei'"))
    assert stored.startswith("$argon2id$") and STAFF_PASSWORD not in stored


def test_a_sign_in_opens_a_session_and_is_audited_with_station_and_ip(hub):
    who = _sign_in(hub)
    assert (who.login, who.display_name, who.role, who.must_change_password) == ("xiaomei", "小美", "cs", False)
    assert who.token and who.token not in repr(who) and who.password_hash not in repr(who)
    [(action, station, ip, after)] = _audit(hub, "xiaomei")
    assert (action, station, ip, after["kind"]) == ("auth.sign_in", STATION, IP, "station")
    with hub.uow() as uow:
        kept = uow.session.scalar(sa.text("SELECT token_sha256 FROM auth_sessions"))
    assert kept == auth.token_digest(who.token) and who.token not in kept


def test_a_wrong_password_and_an_unknown_login_get_the_same_words_and_are_both_recorded(hub):
    with pytest.raises(BusinessError) as wrong:
        _sign_in(hub, password="not-it-at-all")
    with pytest.raises(BusinessError) as unknown:
        _sign_in(hub, login="nobody")
    assert wrong.value.message("zh") == unknown.value.message("zh") == "用户名或密码不正确"
    assert [a[0] for a in _audit(hub, "xiaomei")] == ["auth.sign_in_failed"]
    assert [a[0] for a in _audit(hub, "nobody")] == ["auth.sign_in_failed"]


def test_five_wrong_passwords_in_a_row_lock_the_account_for_fifteen_minutes(hub):
    for n in range(4):
        with pytest.raises(BusinessError) as caught:
            _sign_in(hub, password="guess-%d" % n, at=T0 + timedelta(seconds=n))
        assert caught.value.code == "SIGN_IN_FAILED"
    with pytest.raises(BusinessError) as caught:
        _sign_in(hub, password="guess-5", at=T0 + timedelta(seconds=5))
    assert caught.value.code == "SIGN_IN_LOCKED"
    # even the right password is refused while locked …
    with pytest.raises(BusinessError) as caught:
        _sign_in(hub, at=T0 + timedelta(minutes=14))
    assert caught.value.code == "SIGN_IN_LOCKED" and "锁定到" in caught.value.message("zh")
    # … and works once the 15 minutes are over, clearing the count
    assert _sign_in(hub, at=T0 + timedelta(minutes=15, seconds=6)).login == "xiaomei"
    actions = [a[0] for a in _audit(hub, "xiaomei")]
    assert actions == ["auth.sign_in_failed"] * 5 + ["auth.locked", "auth.sign_in_failed", "auth.sign_in"]


def test_a_right_password_between_failures_starts_the_count_again(hub):
    for n in range(4):
        with pytest.raises(BusinessError):
            _sign_in(hub, password=f"guess-{n}")
    _sign_in(hub)
    for n in range(4):
        with pytest.raises(BusinessError) as caught:
            _sign_in(hub, password=f"again-{n}")
        assert caught.value.code == "SIGN_IN_FAILED"


def test_a_session_expires_after_the_idle_time_and_the_expiry_is_audited(hub):
    who = _sign_in(hub)
    assert auth.session_user(hub.uow(), who.token, idle_minutes=30, now=T0 + timedelta(minutes=29)).login == "xiaomei"
    # activity at 29 minutes moved the idle clock: 58 minutes is still only 29 idle
    auth.session_user(hub.uow(), who.token, idle_minutes=30, now=T0 + timedelta(minutes=58))
    with pytest.raises(BusinessError) as caught:
        auth.session_user(hub.uow(), who.token, idle_minutes=30, now=T0 + timedelta(minutes=89))
    assert caught.value.code == "SIGN_IN_EXPIRED" and "30 分钟无操作" in caught.value.message("zh")
    with pytest.raises(BusinessError) as caught:  # an ended session stays ended
        auth.session_user(hub.uow(), who.token, idle_minutes=30, now=T0 + timedelta(minutes=90))
    assert caught.value.code == "SIGN_IN_REQUIRED"
    assert [a[0] for a in _audit(hub, "xiaomei")] == ["auth.sign_in", "auth.expired"]


def test_the_stations_idle_watch_counts_from_the_last_activity_on_a_clock_the_test_moves():
    now = [T0]
    watch = IdleWatch(30, lambda: now[0])
    now[0] = T0 + timedelta(minutes=20)
    watch.touch()
    now[0] = T0 + timedelta(minutes=49)
    assert not watch.expired()
    now[0] = T0 + timedelta(minutes=50)
    assert watch.expired()


def test_sign_out_ends_the_session_and_is_audited(hub):
    who = _sign_in(hub)
    auth.sign_out(hub.uow(), who.token, Actor("xiaomei", STATION, IP), now=T0 + timedelta(minutes=1))
    with pytest.raises(BusinessError):
        auth.session_user(hub.uow(), who.token, idle_minutes=30, now=T0 + timedelta(minutes=2))
    assert [a[0] for a in _audit(hub, "xiaomei")] == ["auth.sign_in", "auth.sign_out"]


def test_a_person_changes_their_own_password_with_the_old_one(hub):
    me = Actor("xiaomei", STATION, IP)
    with pytest.raises(BusinessError):
        auth.change_password(hub.uow(), "xiaomei", "wrong-old-pass", "a-new-password", me)
    with pytest.raises(BusinessError) as short:
        auth.change_password(hub.uow(), "xiaomei", STAFF_PASSWORD, "short", me)
    assert short.value.message("zh") == "密码至少 8 位"
    auth.change_password(hub.uow(), "xiaomei", STAFF_PASSWORD, "a-new-password", me)
    with pytest.raises(BusinessError):
        _sign_in(hub)
    assert _sign_in(hub, password="a-new-password").login == "xiaomei"


def test_an_admin_resets_a_password_which_must_be_changed_at_the_next_sign_in(hub):
    for n in range(5):  # locked out first: a reset also unlocks
        with pytest.raises(BusinessError):
            _sign_in(hub, password=f"guess-{n}")
    temp = users.reset_password(hub.uow(), "xiaomei", actor_of("admin"))
    who = _sign_in(hub, password=temp)
    assert who.must_change_password
    auth.change_password(hub.uow(), "xiaomei", temp, "my-own-password", Actor("xiaomei", STATION, IP))
    assert not _sign_in(hub, password="my-own-password").must_change_password
    with pytest.raises(BusinessError) as caught:
        users.reset_password(hub.uow(), "xiaomei", actor_of("cs_lead"))
    assert caught.value.code == "NOT_PERMITTED"


def test_an_admin_adds_disables_and_re_roles_people_and_a_disabled_person_cannot_sign_in(hub):
    admin = actor_of("admin")
    temp = users.add_user(hub.uow(), "xiao.li", "小李", "picker", admin)
    assert _sign_in(hub, login="xiao.li", password=temp).must_change_password
    users.change_role(hub.uow(), "xiao.li", "wh_lead", admin)
    users.set_enabled(hub.uow(), "xiao.li", False, admin)
    with pytest.raises(BusinessError) as caught:
        _sign_in(hub, login="xiao.li", password=temp)
    assert caught.value.code == "SIGN_IN_FAILED"
    with pytest.raises(BusinessError) as caught:
        users.add_user(hub.uow(), "xiao.li", "又一个", "cs", admin)
    assert caught.value.message("zh") == "用户「xiao.li」已存在"
    rows = {r.login: r for r in users.admin_list(hub.uow(), admin)}
    assert rows["xiao.li"].role == "wh_lead" and not rows["xiao.li"].enabled
    assert [a[0] for a in _audit(hub, "xiao.li")][:4] == ["user.created", "auth.sign_in", "user.role_changed",
                                                          "user.disabled"]


def test_a_station_for_pickers_refuses_other_roles_at_sign_in(hub):
    with pytest.raises(BusinessError) as caught:
        _sign_in(hub, allowed_roles=("picker", "wh_lead"))
    assert caught.value.message("zh") == "「客服」不能在本工作站登录（本站允许：拣货员、仓管班长）"
    assert _sign_in(hub, login="li.sf", allowed_roles=("picker", "wh_lead")).role == "picker"


def test_the_hubs_service_account_cannot_sign_in_as_a_person(hub):
    with pytest.raises(BusinessError) as caught:
        _sign_in(hub, login="system:hub", password="anything-at-all")
    assert caught.value.code == "SIGN_IN_FAILED"


def test_the_first_administrator_is_created_only_on_an_empty_database(hub):
    assert not auth.needs_first_admin(hub.uow())
    with pytest.raises(BusinessError) as caught:
        auth.create_first_admin(hub.uow(), "boss", "老板", "boss-password", station=STATION)
    assert caught.value.code == "FIRST_ADMIN_EXISTS"
    with hub.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM users WHERE role <> 'service'"))
    assert auth.needs_first_admin(hub.uow())
    auth.create_first_admin(hub.uow(), "boss", "老板", "boss-password", station=STATION)
    who = _sign_in(hub, login="boss", password="boss-password")
    assert (who.role, who.must_change_password) == ("admin", False)


def test_passwords_tokens_and_hashes_never_reach_the_log(hub, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # even with SQL echo on
    try:
        who = _sign_in(hub)
        with pytest.raises(BusinessError):
            _sign_in(hub, password="a-wrong-secret-guess")
        temp = users.reset_password(hub.uow(), "ajie", actor_of("admin"))
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    text = caplog.text
    with hub.uow() as uow:
        new_hash = uow.session.scalar(sa.text("SELECT password_hash FROM users WHERE login = 'ajie'"))
    assert "UPDATE users SET password_hash" in text  # the log was really recorded, statements and all
    for secret in (STAFF_PASSWORD, "a-wrong-secret-guess", temp, who.token, who.password_hash, new_hash):
        assert secret not in text
    with hub.uow() as uow:  # nor the audit trail, which is exported
        trail = uow.session.scalar(sa.text("SELECT string_agg(coalesce(after::text, ''), ' ') FROM audit_log"))
    for secret in (STAFF_PASSWORD, "a-wrong-secret-guess", temp, who.token):
        assert secret not in trail
