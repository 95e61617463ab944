"""People and permissions: the role → action grants (data an admin edits) and sign-in sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, _now


class RolePermission(Base):
    """One grant: ``role`` may do ``action`` (names from ``app.domain.permissions``)."""

    __tablename__ = "role_permissions"

    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    action: Mapped[str] = mapped_column(String(40), primary_key=True)
    granted_by: Mapped[str | None] = mapped_column(String(60))
    granted_at: Mapped[datetime] = _now()


class AuthSession(Base):
    """A signed-in person at a station or on the command line; only the token's SHA-256 is kept."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_open", "login", postgresql_where=text("ended_at IS NULL")),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    login: Mapped[str] = mapped_column(ForeignKey("users.login", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # 'station' or 'cli'
    station: Mapped[str | None] = mapped_column(String(60))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(20))
