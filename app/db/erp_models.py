"""ERP bridge and 数电票 tables: webhook endpoints, deliveries and their attempts, inbound messages, the ERP's
view of each order, and e-invoice requests to the tax provider.

On the same ``Base`` as ``app.db.models``. Outbound events are written by database triggers (see
migration 0013) in the transaction of the change itself, so no writer (ORM, COPY, raw SQL) can
forget them. Secrets are never here: an endpoint names its entry in the credential store.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, _codes, _now


class ErpEndpoint(Base):
    """A webhook endpoint of the ERP: where events go (``url``) and which inbound profile it signs with."""

    __tablename__ = "erp_endpoints"
    __table_args__ = (_codes("inbound_scheme", "erp_scheme"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str | None] = mapped_column(String(400))  # None: receives nothing, only sends to us
    #: event types this endpoint wants; empty = all
    events: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    inbound_scheme: Mapped[str] = mapped_column(String(20), server_default=text("'standard'"))
    secret_ref: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    max_attempts: Mapped[int] = mapped_column(Integer, server_default=text("8"))
    created_at: Mapped[datetime] = _now()


class ErpDelivery(Base):
    """One outbox message bound for one endpoint, with what ordering needs (per endpoint, per order)."""

    __tablename__ = "erp_deliveries"
    __table_args__ = (Index("ix_erp_deliveries_order", "endpoint_id", "order_id", "outbox_id"),)

    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("erp_endpoints.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    event_id: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(40))


class ErpDeliveryAttempt(Base):
    """Every attempt to deliver a webhook: when, the answer's status, how long, a short excerpt."""

    __tablename__ = "erp_delivery_attempts"
    __table_args__ = (Index("ix_erp_delivery_attempts_outbox", "outbox_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = _now()
    ok: Mapped[bool] = mapped_column(Boolean)
    http_status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    excerpt: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)


class ErpInbound(Base):
    """Every request the ERP sent us, accepted or refused, with why; accepted ones are unique per message key.

    ``subject`` names what a message reports on (``order:<no>``, ``stock:<sku>@<wh>``) so an older
    report arriving after a newer one is recognised and not applied.
    """

    __tablename__ = "erp_inbound"
    __table_args__ = (
        _codes("verdict", "erp_inbound_verdict"),
        Index("uq_erp_inbound_accepted", "endpoint_id", "message_key", unique=True,
              postgresql_where=text("verdict IN ('applied', 'quarantined', 'stale')")),
        Index("ix_erp_inbound_subject", "subject", "reported_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("erp_endpoints.id"))
    scheme: Mapped[str] = mapped_column(String(20))
    message_key: Mapped[str | None] = mapped_column(String(200))
    verdict: Mapped[str] = mapped_column(String(20))
    http_status: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(120))
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    raw_payload_id: Mapped[int | None] = mapped_column(ForeignKey("raw_payloads.id"))
    received_at: Mapped[datetime] = _now()


class ErpOrderStatus(Base):
    """What the ERP says about an order: its stage (as one of our stage codes), its own order no., when."""

    __tablename__ = "erp_order_status"
    __table_args__ = (_codes("erp_status", "order_status"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    erp_status: Mapped[str | None] = mapped_column(String(20))
    erp_order_no: Mapped[str | None] = mapped_column(String(60))
    erp_raw_status: Mapped[str | None] = mapped_column(String(60))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = _now()


class EinvoiceProvider(Base):
    """The 数电票 provider account: where to call and as which seller (its app secret is in the credential store).

    While one is enabled, invoices are issued and red-flushed through it (via the outbox); without
    one, red-letter confirmations are numbered locally as before (demo and tests of other flows).
    """

    __tablename__ = "einvoice_providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    api_url: Mapped[str] = mapped_column(String(400))
    token_url: Mapped[str] = mapped_column(String(400))
    secret_ref: Mapped[str] = mapped_column(String(100))
    seller_tax_no: Mapped[str] = mapped_column(String(20))
    seller_name: Mapped[str] = mapped_column(String(100))
    clerk: Mapped[str] = mapped_column(String(20))
    invoice_line: Mapped[str] = mapped_column(String(4), server_default=text("'pc'"))
    goods_code: Mapped[str] = mapped_column(String(19))
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class EinvoiceRequest(Base):
    """One request to the 数电票 provider (blue, red confirmation, red, re-issue) and where it stands.

    ``provider_order_no`` is the unique ``orderNo`` we give the provider (≤20 chars): asking again
    with the same one after a lost answer finds the first request instead of issuing twice.
    """

    __tablename__ = "einvoice_requests"
    __table_args__ = (
        _codes("kind", "einvoice_kind"),
        _codes("state", "einvoice_state"),
        Index("ix_einvoice_requests_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    kind: Mapped[str] = mapped_column(String(20))
    provider_order_no: Mapped[str] = mapped_column(String(20), unique=True)
    serial_no: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), server_default=text("'submitted'"))
    blue_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    confirmation_id: Mapped[int | None] = mapped_column(ForeignKey("red_letter_confirmations.id"))
    provider_code: Mapped[str | None] = mapped_column(String(20))
    provider_message: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

