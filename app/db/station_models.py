"""What stations report to the server (issue #16, migration 0018): their heartbeat and their printers' failures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, BigInteger, DateTime, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base


class StationHeartbeat(Base):
    """A station's last heartbeat: one row per station, overwritten every beat.

    ``every_seconds`` is the station's own beat interval, so "offline" (no beat for twice that) holds
    for a station configured to beat more or less often than the others.
    """

    __tablename__ = "station_heartbeats"

    station: Mapped[str] = mapped_column(String(120), primary_key=True)
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default=text("'{}'"))
    operator: Mapped[str | None] = mapped_column(String(120))  # login of the person signed in, if any
    operator_name: Mapped[str | None] = mapped_column(String(120))
    operator_role: Mapped[str | None] = mapped_column(String(20))
    app_version: Mapped[str] = mapped_column(String(40))
    pending_outbox: Mapped[int] = mapped_column(Integer)
    every_seconds: Mapped[int] = mapped_column(Integer)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PrintFailure(Base):
    """One failed attempt of one print job on one station's printer, as the station reported it.

    A station may report the same failure twice (a replay after a lost answer): (station, job, attempt)
    is unique and a repeat changes nothing.
    """

    __tablename__ = "print_failures"
    __table_args__ = (
        UniqueConstraint("station", "job_id", "attempt", name="uq_print_failures_station_job_attempt"),
        Index("ix_print_failures_failed_at", "failed_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    station: Mapped[str] = mapped_column(String(120))
    printer: Mapped[str] = mapped_column(String(120))
    job_id: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    order_no: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(60))  # the queue's problem code (PRINTER_PAPER_OUT …)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    operator: Mapped[str] = mapped_column(String(120))
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
