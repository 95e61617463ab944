"""The one permission check every service calls, and the admin's editing of the role → action table.

The role is always looked up here, from the operator's login, in the caller's transaction; nothing a
station sends about a role is believed. ``system:*`` actors are the hub's named service account
(``system:hub``) and hold that account's grants.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db.auth_models import RolePermission
from app.db.models import User
from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.messages import Coded
from app.domain.permissions import ACTIONS, LOCKED_GRANTS, ROLES, SERVICE_LOGIN, allowed, is_service_login
from app.services import audit
from app.services.unit_of_work import UnitOfWork, batch_memo


class NotPermitted(BusinessError):
    """The operator's role does not hold the action (or the operator is not an enabled user); nothing changed."""

    code = "NOT_PERMITTED"


def role_of(session: Session, operator: str) -> str | None:
    """The enabled role of ``operator`` (``system:*`` → the service account's), or None."""
    login = SERVICE_LOGIN if is_service_login(operator) else operator
    return session.scalar(sa.select(User.role).where(User.login == login, User.enabled))


def require(where: UnitOfWork | Session, actor: Actor | None, action: str) -> str:
    """Refuse unless ``actor``'s role (looked up now) holds ``action``; returns the role.

    Call it inside the service's own transaction, before anything is written, so a refusal
    changes nothing and the check sees the same data the change would.

    Raises:
        NotPermitted: rendered as "「拣货员」没有「取消订单」的权限" in the reader's language.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown permission action {action!r}")
    session = where.session if isinstance(where, UnitOfWork) else where
    operator = actor.operator if actor is not None else ""
    memo = batch_memo(session)  # a station's replay batch: one look-up per operator and action, not per command
    if memo is not None and ("grant", operator, action) in memo:
        return memo["grant", operator, action]
    login = SERVICE_LOGIN if is_service_login(operator) else operator
    row = session.execute(  # the role and whether it holds the action, in one round trip
        sa.select(User.role, sa.exists().where(RolePermission.role == User.role, RolePermission.action == action))
        .where(User.login == login, User.enabled)).one_or_none() if operator else None
    if row is None:
        raise NotPermitted("NOT_PERMITTED_UNKNOWN", operator=operator or "-", action=Coded("permission_action", action))
    role, granted = row
    if not granted:
        raise NotPermitted(role=Coded("role", role), action=Coded("permission_action", action))
    if memo is not None:
        memo["grant", operator, action] = role
    return role


def may(uow: UnitOfWork, operator: str, action: str) -> bool:
    """Whether ``operator`` may do ``action`` now (for hiding what the check would refuse anyway)."""
    with uow:
        return allowed(grants_in(uow.session), role_of(uow.session, operator), action)


def grants_in(session: Session) -> set[tuple[str, str]]:
    return {(r, a) for r, a in session.execute(sa.select(RolePermission.role, RolePermission.action))}


@dataclass(frozen=True, slots=True)
class GrantTable:
    """The whole role → action table, for the admin screen."""

    roles: tuple[str, ...]
    actions: tuple[str, ...]
    granted: frozenset[tuple[str, str]]
    locked: frozenset[tuple[str, str]]


def grant_table(uow: UnitOfWork) -> GrantTable:
    with uow:
        return GrantTable(ROLES, ACTIONS, frozenset(grants_in(uow.session)), LOCKED_GRANTS)


def set_grant(uow: UnitOfWork, role: str, action: str, granted: bool, actor: Actor) -> GrantTable:
    """Grant or withdraw one action from one role (audited); the admin's own set-up rights stay."""
    if role not in ROLES or action not in ACTIONS:
        raise BusinessError("INVALID_VALUE", field=role, value=action, reason="-")
    with uow:
        require(uow, actor, "permissions.edit")
        if not granted and (role, action) in LOCKED_GRANTS:
            raise BusinessError("PERMISSION_LOCKED", action=Coded("permission_action", action))
        s = uow.session
        exists = s.get(RolePermission, (role, action)) is not None
        if granted and not exists:
            s.add(RolePermission(role=role, action=action, granted_by=actor.operator))
        elif not granted and exists:
            s.execute(sa.delete(RolePermission).where(RolePermission.role == role, RolePermission.action == action))
        if granted != exists:
            audit.record(s, actor, "permission.granted" if granted else "permission.revoked", "role", role,
                         basis=None, before={"action": action, "granted": exists}, after={"action": action, "granted": granted})
        uow.commit()
    return grant_table(uow)
