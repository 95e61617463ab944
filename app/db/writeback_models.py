"""Write-back and live-logistics tables: every call to a platform or carrier, every carrier push, each parcel's watch.

On the same ``Base`` as ``app.db.models``. ``writeback_attempts`` is what the order's story shows
for each try (ship confirmation, refund answer, interception, subscription); ``carrier_pushes``
keeps every push received, refused ones included; ``shipment_watch`` holds a parcel's subscription,
last movement, "no movement" flag and interception state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, _codes, _now


class WritebackAttempt(Base):
    """One try at telling a platform or carrier something about an order, and how it went."""

    __tablename__ = "writeback_attempts"
    __table_args__ = (_codes("kind", "writeback_kind"), _codes("outcome", "writeback_outcome"),
                      Index("ix_writeback_attempts_order", "order_id", "attempted_at"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    kind: Mapped[str] = mapped_column(String(20))
    call: Mapped[str] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(20))
    code: Mapped[str | None] = mapped_column(String(120))
    message: Mapped[str | None] = mapped_column(Text)
    tracking_no: Mapped[str | None] = mapped_column(String(64))
    attempted_at: Mapped[datetime] = _now()


class CarrierPush(Base):
    """A carrier's tracking push as it arrived: accepted or refused (bad signature, unreadable), never lost."""

    __tablename__ = "carrier_pushes"
    __table_args__ = (Index("ix_carrier_pushes_received", "received_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    carrier: Mapped[str] = mapped_column(String(20))
    accepted: Mapped[bool] = mapped_column(Boolean)
    tracking_no: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))
    nodes: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    received_at: Mapped[datetime] = _now()


class ShipmentWatch(Base):
    """A parcel's live-logistics state: subscribed, last movement, flagged still, interception."""

    __tablename__ = "shipment_watch"
    __table_args__ = (_codes("intercept_state", "intercept_state"),)

    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True)
    subscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_node_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stale_flagged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    intercept_state: Mapped[str | None] = mapped_column(String(20))
    intercept_message: Mapped[str | None] = mapped_column(Text)
