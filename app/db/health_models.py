"""Health rollups (issue #16): one fact row per order and hourly sums, kept current by triggers.

Migration 0012 creates these tables plus the view ``health_fact_source`` (an order's facts computed
from scratch) and the statement triggers on orders, shipments, audit_log and order_outside_status
that re-derive the facts of the orders a statement touched and add the difference to the sums, in
the same transaction. A view never scans all orders: it reads the sums.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base


class OrderOutsideStatus(Base):
    """The stage an outside source of truth last reported for an order (source ``platform`` or ``erp``).

    The platform row is written by a trigger whenever intake applies a platform version (the stage it
    implied at that moment); an ERP bridge upserts its own rows with source ``erp``.
    """

    __tablename__ = "order_outside_status"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    stage: Mapped[str] = mapped_column(String(20))
    raw_status: Mapped[str | None] = mapped_column(String(40))
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HealthOrderFact(Base):
    """What one order contributes to the health sums, as last derived (no FK: a deleted order's row
    must still be there for the trigger to subtract it)."""

    __tablename__ = "health_order_facts"
    __table_args__ = (
        Index("ix_health_order_facts_bucket", "bucket", "shop_id", "warehouse_id"),
        Index("ix_health_order_facts_exception", "bucket", postgresql_where=text("exception")),
    )

    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    shop_id: Mapped[int] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(20))
    warehouse_id: Mapped[int] = mapped_column(Integer)  # 0: not assigned yet
    shipped: Mapped[bool] = mapped_column(Boolean)
    on_time: Mapped[bool] = mapped_column(Boolean)
    late: Mapped[bool] = mapped_column(Boolean)
    rescues: Mapped[int] = mapped_column(Integer)
    checked: Mapped[bool] = mapped_column(Boolean)
    mismatched: Mapped[bool] = mapped_column(Boolean)
    exception: Mapped[bool] = mapped_column(Boolean)  # late, rescued, split, held or intercepted
    untraceable: Mapped[bool] = mapped_column(Boolean)  # its story does not resolve (see the migration)


class HealthRollup(Base):
    """Hourly sums of the facts per shop and warehouse (the hour the order was placed, UTC)."""

    __tablename__ = "health_rollup"
    __table_args__ = {"postgresql_with": {"fillfactor": 40}}  # HOT updates: see migration 0012

    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    shop_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    warehouse_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)
    shipped: Mapped[int] = mapped_column(Integer)
    on_time: Mapped[int] = mapped_column(Integer)
    on_time_clean: Mapped[int] = mapped_column(Integer)  # on time and never rescued by hand
    rescued: Mapped[int] = mapped_column(Integer)  # orders with at least one rescue
    rescues: Mapped[int] = mapped_column(Integer)  # rescues in all (an order rescued twice counts 2)
    late: Mapped[int] = mapped_column(Integer)
    checked: Mapped[int] = mapped_column(Integer)  # orders an outside source reported on
    mismatched: Mapped[int] = mapped_column(Integer)
    exceptions: Mapped[int] = mapped_column(Integer)
    untraceable: Mapped[int] = mapped_column(Integer)  # exception orders whose story does not resolve


class HealthAgentOrder(Base):
    """An order an agent worked on during a (China) day, from the audit trail: orders per agent per day."""

    __tablename__ = "health_agent_orders"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    operator: Mapped[str] = mapped_column(String(60), primary_key=True)
    order_no: Mapped[str] = mapped_column(String(64), primary_key=True)
