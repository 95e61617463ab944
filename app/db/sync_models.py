"""Station sync tables: the commands the server has applied (at most once per UUID). Migration 0006."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base


class AppliedCommand(Base):
    """One station command the server has decided on: accepted (with the order as it left it) or refused (why)."""

    __tablename__ = "applied_commands"
    __table_args__ = (
        CheckConstraint("outcome IN ('accepted', 'rejected')", name="outcome_code"),
        Index("ix_applied_commands_station_applied", "station", "applied_at"),
    )

    command_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    station: Mapped[str] = mapped_column(String(120))
    operator: Mapped[str] = mapped_column(String(120))
    outcome: Mapped[str] = mapped_column(String(20))
    result: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))
