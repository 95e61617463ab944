"""Warehouse tables: waves and their orders, picks (one per order being picked), refused scans, slip prints.

On the same ``Base`` as ``app.db.models``. Two partial unique indexes carry the rules people rely
on: an order is in at most one open wave, and an order has at most one live pick (being picked
or picked and waiting for its tracking label).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, _codes, _now


class Wave(Base):
    """波次: orders of one warehouse picked together, slips printed in one go."""

    __tablename__ = "waves"
    __table_args__ = (_codes("status", "wave_status"), Index("ix_waves_warehouse_status", "warehouse_id", "status"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    wave_no: Mapped[str] = mapped_column(String(40), unique=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    status: Mapped[str] = mapped_column(String(10), server_default=text("'open'"))
    max_orders: Mapped[int | None] = mapped_column(Integer)
    zones: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    created_by: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = _now()
    printed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WaveOrder(Base):
    """One order in one wave, in pick order; ``open`` goes false when the wave closes."""

    __tablename__ = "wave_orders"
    __table_args__ = (
        # The rule "an order is in at most one open wave", kept by the database itself.
        Index("uq_wave_orders_open_order", "order_id", unique=True, postgresql_where=text("open")),
    )

    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    open: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class Pick(Base):
    """One picker's work on one order: counts scanned per barcode, then confirmed, then shipped (or stopped)."""

    __tablename__ = "picks"
    __table_args__ = (
        _codes("status", "pick_status"),
        Index("uq_picks_live_order", "order_id", unique=True,
              postgresql_where=text("status IN ('picking', 'confirmed')")),
        Index("ix_picks_picker_touched", "picker", "touched_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("waves.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    picker: Mapped[str] = mapped_column(String(60))
    station: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(10), server_default=text("'picking'"))
    scanned: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    box_no: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime] = _now()
    # Last opened or resumed: a picker's current pick is their live pick touched last.
    touched_at: Mapped[datetime] = _now()
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stop_reason: Mapped[str | None] = mapped_column(String(20))


class ScanRefusal(Base):
    """A scan the station refused (wrong item, one too many…): kept, so nothing a picker did is lost."""

    __tablename__ = "scan_refusals"
    __table_args__ = (_codes("reason", "scan_refusal"), Index("ix_scan_refusals_operator_at", "operator", "scanned_at"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pick_id: Mapped[int | None] = mapped_column(ForeignKey("picks.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    barcode: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(20))
    operator: Mapped[str] = mapped_column(String(60))
    station: Mapped[str] = mapped_column(String(60))
    scanned_at: Mapped[datetime] = _now()


class SlipPrint(Base):
    """Every pick slip sent to a printer: first print or 补打 (with who and why), and the printer job id."""

    __tablename__ = "slip_prints"
    __table_args__ = (Index("ix_slip_prints_order", "order_id", "printed_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("waves.id"))
    reprint: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    reason: Mapped[str | None] = mapped_column(Text)
    profile: Mapped[str] = mapped_column(String(10))
    job_id: Mapped[str | None] = mapped_column(String(64))
    printed_by: Mapped[str] = mapped_column(String(60))
    station: Mapped[str] = mapped_column(String(60))
    printed_at: Mapped[datetime] = _now()
