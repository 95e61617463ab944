"""People who sign in to a station, with their role."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.db.models import User
from app.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class UserView:
    login: str
    display_name: str
    role: str


def list_users(uow: UnitOfWork) -> list[UserView]:
    """Enabled users, by role then name."""
    with uow:
        rows = uow.session.execute(sa.select(User.login, User.display_name, User.role).where(User.enabled)
                                   .order_by(User.role, User.login))
        return [UserView(*row) for row in rows]
