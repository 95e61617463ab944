"""Routing tables: rules and their immutable versions, routing decisions, stock reservations, holds.

Declared on the same ``Base`` as ``app.db.models`` so Alembic and the schema test see one
metadata. ``rule_versions`` and ``routing_decisions`` are append-only in the database (the
0003 migration adds triggers refusing UPDATE, DELETE and TRUNCATE): a decision must keep
pointing at exactly the rule text that made it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, _codes


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class RoutingRule(Base):
    """路由规则: a rule's identity, whether it is on, and which version is current.

    What the rule says lives in :class:`RuleVersion`; saving a change adds a version and moves
    ``version`` here, so old decisions keep their own text.
    """

    __tablename__ = "routing_rules"
    __table_args__ = (CheckConstraint("version >= 1", name="version_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = _now()
    created_by: Mapped[str] = mapped_column(String(60))
    updated_at: Mapped[datetime] = _now()
    updated_by: Mapped[str] = mapped_column(String(60))


class RuleVersion(Base):
    """One version of a rule exactly as saved (canonical JSON), with its author. Never changed."""

    __tablename__ = "rule_versions"
    __table_args__ = (
        UniqueConstraint("rule_id", "version", name="uq_rule_versions_rule_version"),
        CheckConstraint("jsonb_typeof(actions) = 'array'", name="actions_is_array"),
        CheckConstraint("jsonb_typeof(condition) = 'object'", name="condition_is_object"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("routing_rules.id"))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    priority: Mapped[int] = mapped_column(Integer)
    condition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    author: Mapped[str] = mapped_column(String(60))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class RoutingDecision(Base):
    """One routing decision for one order: every rule evaluated (with the version), which fired,
    the inputs they saw, and the outcome with its reasons. Never changed."""

    __tablename__ = "routing_decisions"
    __table_args__ = (
        _codes("trigger", "routing_trigger"),
        _codes("outcome", "routing_outcome"),
        # unique so a reservation's (order_id, decision_id) can reference it: its decision, of its order
        Index("ix_routing_decisions_order", "order_id", "id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    order_version: Mapped[int] = mapped_column(Integer)
    decided_at: Mapped[datetime] = _now()
    trigger: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))
    operator: Mapped[str] = mapped_column(String(60))
    station: Mapped[str | None] = mapped_column(String(60))
    # Every rule version evaluated, in evaluation order (fired or not)…
    evaluated_rule_version_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default=text("'{}'"))
    # …and the ones that fired: [{"id": version id, "code", "version", "applied": [action types]}, …]
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    fired_rule_version_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default=text("'{}'"))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Digest of the lines this decision routed: an order whose lines still match needs no new decision.
    items_key: Mapped[str | None] = mapped_column(String(64))


class StockReservation(Base):
    """Stock held for one order line in one warehouse bin, until shipped (consumed) or released.

    ``stock.reserved`` is the sum of the active rows for that stock row; routing changes both in
    one transaction. Indexed by stock row so a stock drop reported by the ERP can find the orders
    that hold it.
    """

    __tablename__ = "stock_reservations"
    __table_args__ = (
        _codes("status", "reservation_status"),
        CheckConstraint("qty > 0", name="qty_positive"),
        Index("ix_stock_reservations_order_active", "order_id", postgresql_where=text("status = 'active'")),
        Index("ix_stock_reservations_stock_active", "stock_id", postgresql_where=text("status = 'active'")),
        # Two composite keys instead of five single ones (migration 0031): fewer lookups per reserved row,
        # and the order, SKU and warehouse kept beside them cannot disagree with the decision and stock row.
        ForeignKeyConstraint(["order_id", "decision_id"], ["routing_decisions.order_id", "routing_decisions.id"]),
        ForeignKeyConstraint(["stock_id", "sku_id", "warehouse_id"], ["stock.id", "stock.sku_id", "stock.warehouse_id"]),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger)
    decision_id: Mapped[int] = mapped_column(BigInteger)
    stock_id: Mapped[int] = mapped_column(Integer)
    sku_id: Mapped[int] = mapped_column(Integer)
    warehouse_id: Mapped[int] = mapped_column(Integer)
    line_no: Mapped[int] = mapped_column(Integer)
    part_no: Mapped[int] = mapped_column(Integer)
    qty: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), server_default=text("'active'"))
    created_at: Mapped[datetime] = _now()
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_by_decision_id: Mapped[int | None] = mapped_column(ForeignKey("routing_decisions.id"))


class OrderHold(Base):
    """An order put on hold for review (by a rule or by hand), and who released it on what basis."""

    __tablename__ = "order_holds"
    __table_args__ = (
        _codes("reason", "hold_reason"),
        # At most one open hold per reason: re-routing a held order does not stack holds.
        Index("uq_order_holds_open", "order_id", "reason", unique=True, postgresql_where=text("released_at IS NULL")),
        Index("ix_order_holds_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    reason: Mapped[str] = mapped_column(String(30))
    rule_version_id: Mapped[int | None] = mapped_column(ForeignKey("rule_versions.id"))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("routing_decisions.id"))
    created_at: Mapped[datetime] = _now()
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_by: Mapped[str | None] = mapped_column(String(60))
    release_basis: Mapped[str | None] = mapped_column(Text)
