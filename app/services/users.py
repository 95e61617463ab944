"""People who sign in to a station, with their role; the administrator's user screen works through here."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.db.models import User
from app.domain.actor import Actor
from app.domain.errors import BusinessError, NotFound
from app.domain.permissions import PERSON_ROLES
from app.services import audit
from app.services.auth import hash_password
from app.services.permissions import require
from app.services.unit_of_work import UnitOfWork

_LOGIN = re.compile(r"^[A-Za-z0-9._-]{2,40}$")


@dataclass(frozen=True, slots=True)
class UserView:
    login: str
    display_name: str
    role: str


@dataclass(frozen=True, slots=True)
class UserRow:
    """A line of the admin's user list (never the hash)."""

    login: str
    display_name: str
    role: str
    enabled: bool
    locked_until: datetime | None
    must_change_password: bool
    last_sign_in_at: datetime | None


def check_login(login: str) -> None:
    if not _LOGIN.match(login or ""):
        raise BusinessError("USER_LOGIN_INVALID")


def list_users(uow: UnitOfWork) -> list[UserView]:
    """Enabled people, by role then name."""
    with uow:
        rows = uow.session.execute(sa.select(User.login, User.display_name, User.role)
                                   .where(User.enabled, User.role.in_(PERSON_ROLES)).order_by(User.role, User.login))
        return [UserView(*row) for row in rows]


def admin_list(uow: UnitOfWork, actor: Actor) -> list[UserRow]:
    """Every person, enabled or not, for the administrator."""
    with uow:
        require(uow, actor, "users.manage")
        rows = uow.session.execute(
            sa.select(User.login, User.display_name, User.role, User.enabled, User.locked_until,
                      User.must_change_password, User.last_sign_in_at)
            .where(User.role.in_(PERSON_ROLES)).order_by(User.login))
        return [UserRow(*row) for row in rows]


def temporary_password() -> str:
    """Ten characters, no look-alikes (0/O, 1/l), easy to read out over the phone."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))


def add_user(uow: UnitOfWork, login: str, display_name: str, role: str, actor: Actor,
             password: str | None = None) -> str:
    """A new person; returns their temporary password (they must change it at first sign-in)."""
    check_login(login)
    if role not in PERSON_ROLES:
        raise BusinessError("INVALID_VALUE", field="role", value=role, reason="-")
    temp = password or temporary_password()
    new_hash = hash_password(temp)
    with uow:
        require(uow, actor, "users.manage")
        if uow.session.scalar(sa.select(sa.exists().where(User.login == login))):
            raise BusinessError("USER_EXISTS", login=login)
        uow.session.add(User(login=login, display_name=display_name.strip() or login, role=role,
                             password_hash=new_hash, must_change_password=True))
        audit.record(uow.session, actor, "user.created", "user", login, basis=None, before=None,
                     after={"role": role, "display_name": display_name})
        uow.commit()
    return temp


def _person(uow: UnitOfWork, login: str) -> User:
    user = uow.session.scalar(sa.select(User).where(User.login == login, User.role.in_(PERSON_ROLES)).with_for_update())
    if user is None:
        raise NotFound(what="user", key=login)
    return user


def set_enabled(uow: UnitOfWork, login: str, enabled: bool, actor: Actor) -> None:
    """Disable (or enable again) a person; their open sessions end with it."""
    with uow:
        require(uow, actor, "users.manage")
        user = _person(uow, login)
        if user.enabled != enabled:
            user.enabled = enabled
            audit.record(uow.session, actor, "user.enabled" if enabled else "user.disabled", "user", login, basis=None,
                         before={"enabled": not enabled}, after={"enabled": enabled})
            if not enabled:
                uow.session.execute(sa.text("UPDATE auth_sessions SET ended_at = now(), end_reason = 'disabled' "
                                            "WHERE login = :l AND ended_at IS NULL"), {"l": login})
        uow.commit()


def change_role(uow: UnitOfWork, login: str, role: str, actor: Actor) -> None:
    if role not in PERSON_ROLES:
        raise BusinessError("INVALID_VALUE", field="role", value=role, reason="-")
    with uow:
        require(uow, actor, "users.manage")
        user = _person(uow, login)
        if user.role != role:
            audit.record(uow.session, actor, "user.role_changed", "user", login, basis=None,
                         before={"role": user.role}, after={"role": role})
            user.role = role
        uow.commit()


def reset_password(uow: UnitOfWork, login: str, actor: Actor) -> str:
    """An administrator gives a person a temporary password (changed at their next sign-in); unlocks them."""
    temp = temporary_password()
    new_hash = hash_password(temp)
    with uow:
        require(uow, actor, "users.manage")
        user = _person(uow, login)
        user.password_hash, user.must_change_password = new_hash, True
        user.failed_attempts, user.locked_until = 0, None
        audit.record(uow.session, actor, "auth.password_reset", "user", login, basis=None, before=None, after=None)
        uow.commit()
    return temp
