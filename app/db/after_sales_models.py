"""After-sales tables: flow definitions and their immutable versions, case steps, 红字确认单, SMS log.

On the same ``Base`` as ``app.db.models``. ``after_sales_flow_versions`` and ``after_sales_events``
are append-only in the database (the 0005 migration adds triggers refusing UPDATE, DELETE and
TRUNCATE): a case must keep pointing at exactly the flow text it started with, and its steps are
its history.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, Money, _now


class AfterSalesFlow(Base):
    """售后流程: one per after-sales kind, pointing at its current version."""

    __tablename__ = "after_sales_flows"
    __table_args__ = (CheckConstraint("version >= 1", name="version_positive"),)

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = _now()
    updated_by: Mapped[str] = mapped_column(String(60))


class AfterSalesFlowVersion(Base):
    """One version of a flow exactly as saved (JSON), with its author. Never changed."""

    __tablename__ = "after_sales_flow_versions"
    __table_args__ = (
        UniqueConstraint("flow_code", "version", name="uq_after_sales_flow_versions_code_version"),
        CheckConstraint("jsonb_typeof(definition) = 'object'", name="definition_is_object"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    flow_code: Mapped[str] = mapped_column(ForeignKey("after_sales_flows.code"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    author: Mapped[str] = mapped_column(String(60))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class AfterSalesCaseExtra(Base):
    """What a case needs beyond ``after_sales_cases``: the phone to text and the flow's working facts."""

    __tablename__ = "after_sales_case_extras"

    case_id: Mapped[int] = mapped_column(ForeignKey("after_sales_cases.id", ondelete="CASCADE"), primary_key=True)
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    context: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class AfterSalesEvent(Base):
    """One step of one case: from → to, by whom, from where, on what basis. Never changed."""

    __tablename__ = "after_sales_events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_after_sales_events_case_seq"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("after_sales_cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    flow_version: Mapped[int] = mapped_column(Integer)
    operator: Mapped[str] = mapped_column(String(60))
    station: Mapped[str | None] = mapped_column(String(60))
    station_ip: Mapped[str | None] = mapped_column(INET)
    basis: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    occurred_at: Mapped[datetime] = _now()


class RedLetterConfirmation(Base):
    """红字发票信息确认单: the way to a red invoice, with its state (01–10) and the 72-hour void timer."""

    __tablename__ = "red_letter_confirmations"
    __table_args__ = (
        CheckConstraint("state IN ('01','02','03','04','05','06','07','08','09','10')", name="state_code"),
        CheckConstraint("reason IN ('01','02','03','04')", name="reason_code"),
        CheckConstraint("initiator IN ('0','1')", name="initiator_code"),
        Index("ix_red_letter_open_due", "state", "void_due_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    confirm_no: Mapped[str] = mapped_column(String(40), unique=True)
    blue_invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("after_sales_cases.id"))
    state: Mapped[str] = mapped_column(String(2))
    reason: Mapped[str] = mapped_column(String(2))
    initiator: Mapped[str] = mapped_column(String(1), server_default=text("'0'"))  # 0 销方, 1 购方
    partial: Mapped[bool] = mapped_column(Boolean)
    red_amount: Mapped[Decimal] = mapped_column(Money)
    red_tax: Mapped[Decimal] = mapped_column(Money)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    created_at: Mapped[datetime] = _now()
    void_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    red_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))


class SmsLog(Base):
    """Every SMS attempt: to whom, which template with which values, and what the gateway said."""

    __tablename__ = "sms_log"
    __table_args__ = (Index("ix_sms_log_outbox", "outbox_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    phone: Mapped[str] = mapped_column(String(20))
    sign_name: Mapped[str] = mapped_column(String(40))
    template_code: Mapped[str] = mapped_column(String(40))
    template_param: Mapped[dict[str, Any]] = mapped_column(JSONB)
    ok: Mapped[bool] = mapped_column(Boolean)
    code: Mapped[str] = mapped_column(String(60))
    message: Mapped[str | None] = mapped_column(Text)
    biz_id: Mapped[str | None] = mapped_column(String(60))
    request_id: Mapped[str | None] = mapped_column(String(60))
    attempted_at: Mapped[datetime] = _now()
