"""The central PostgreSQL schema as SQLAlchemy 2.0 models (Alembic migrations follow these).

Money is ``Numeric(14, 2)`` everywhere, read back as ``Decimal``. Coded values are stored as
short English codes with a CHECK constraint; their business names live in the field
dictionary (``app.domain.fields``), never here.
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
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.domain.fields import CODE_LISTS

Money = Numeric(14, 2, asdecimal=True)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _codes(column: str, codes: str) -> CheckConstraint:
    allowed = ", ".join(f"'{c}'" for c in CODE_LISTS[codes])
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_code")


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Shop(Base):
    """A shop on one platform (or one physical store with a POS)."""

    __tablename__ = "shops"
    __table_args__ = (_codes("platform", "platform"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    platform: Mapped[str] = mapped_column(String(20))
    platform_shop_id: Mapped[str | None] = mapped_column(String(80))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    poll_interval_s: Mapped[int] = mapped_column(Integer, server_default=text("15"))
    api_base_url: Mapped[str | None] = mapped_column(String(300))
    # A reference into the OS keyring (or the fallback secret store), never the secret itself.
    credentials_ref: Mapped[str | None] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = _now()


class Warehouse(Base):
    """The own warehouse or a cloud warehouse."""

    __tablename__ = "warehouses"
    __table_args__ = (_codes("kind", "warehouse_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10))
    province: Mapped[str] = mapped_column(String(40))
    city: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(300))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class Bin(Base):
    """A storage location (库位) with its coordinates for pick-path sorting."""

    __tablename__ = "bins"
    __table_args__ = (UniqueConstraint("warehouse_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    code: Mapped[str] = mapped_column(String(40))
    zone: Mapped[str] = mapped_column(String(10))
    aisle: Mapped[int] = mapped_column(Integer)
    rack: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    x: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    y: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    pick_sequence: Mapped[int] = mapped_column(Integer)


class Sku(Base):
    """A sellable item: one style in one colour and size, with its barcode."""

    __tablename__ = "skus"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku_code: Mapped[str] = mapped_column(String(40), unique=True)
    barcode: Mapped[str] = mapped_column(String(40), unique=True)
    style_code: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(120))
    color: Mapped[str] = mapped_column(String(20))
    size: Mapped[str] = mapped_column(String(20))
    price: Mapped[Decimal] = mapped_column(Money)
    is_gift_item: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    shelf_life_days: Mapped[int | None] = mapped_column(Integer)


class Stock(Base):
    """Stock of one SKU in one warehouse bin: on hand, reserved for orders, and the safety level."""

    __tablename__ = "stock"
    __table_args__ = (
        UniqueConstraint("sku_id", "warehouse_id", "bin_id"),
        # what a reservation's (stock_id, sku_id, warehouse_id) references (migration 0031)
        UniqueConstraint("id", "sku_id", "warehouse_id"),
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("safety_stock >= 0", name="safety_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    bin_id: Mapped[int | None] = mapped_column(ForeignKey("bins.id"))
    on_hand: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    reserved: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    safety_stock: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    updated_at: Mapped[datetime] = _now()


class Order(Base):
    """订单主表: one customer order from any channel, as the hub knows it.

    ``version`` guards against lost updates (optimistic concurrency); ``change_seq`` is set
    by a trigger from one database-wide sequence on every insert and update, and every
    change is announced with NOTIFY on the ``order_changes`` channel.
    """

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("shop_id", "platform_order_no", name="uq_orders_shop_platform_order_no"),
        _codes("platform", "platform"),
        _codes("status", "order_status"),
        _codes("invoice_status", "invoice_status"),
        CheckConstraint("jsonb_typeof(items) = 'array'", name="items_is_array"),
        CheckConstraint("original_amount >= 0 AND paid_amount >= 0", name="amounts_not_negative"),
        Index("ix_orders_ordered_at", text("ordered_at DESC"), text("id DESC")),
        Index("ix_orders_status_platform_ordered", "status", "platform", text("ordered_at DESC"), text("id DESC")),
        Index("ix_orders_platform_ordered", "platform", text("ordered_at DESC"), text("id DESC")),
        Index("ix_orders_change_seq", "change_seq", unique=True),
        Index("ix_orders_tracking_no", "tracking_no"),
        Index("ix_orders_customer_id", "customer_id"),
        Index("ix_orders_receiver_phone_tail", "receiver_phone_tail"),
        Index("ix_orders_platform_order_no", "platform_order_no"),  # search box: without it an OR scans every row
        Index("ix_orders_receiver_name", "receiver_name"),
        # the order map counts by province under the status/platform filter: index-only scans
        Index("ix_orders_status_platform_province", "status", "platform", "province"),
        # the list's single filters, newest first (migration 0047): a page is an index range, not a filtered walk
        Index("ix_orders_status_ordered", "status", text("ordered_at DESC"), text("id DESC")),
        Index("ix_orders_shop_ordered", "shop_id", text("ordered_at DESC"), text("id DESC")),
        Index("ix_orders_warehouse_ordered", "warehouse_id", text("ordered_at DESC"), text("id DESC")),
        Index("ix_orders_province_ordered", "province", text("ordered_at DESC"), text("id DESC")),
        Index("ix_orders_warehouse_status", "warehouse_id", "status"),
        # 超时风险 and the map's exception rate: only unshipped orders, by deadline (migration 0020)
        Index("ix_orders_open_ship_by", "ship_by", postgresql_where=text("status IN ('paid', 'allocating')"),
              # the map's overdue count reads only the index (migration 0047)
              postgresql_include=["province", "status", "platform", "shop_id", "warehouse_id", "ordered_at"]),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_no: Mapped[str] = mapped_column(String(40), unique=True)
    platform: Mapped[str] = mapped_column(String(20))
    platform_order_no: Mapped[str] = mapped_column(String(64))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    ordered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    customer_id: Mapped[str] = mapped_column(String(128))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    original_amount: Mapped[Decimal] = mapped_column(Money)
    paid_amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(20))
    tracking_no: Mapped[str | None] = mapped_column(String(64))
    invoice_status: Mapped[str] = mapped_column(String(20), server_default=text("'none'"))
    # Receiver as the platform gave it: often masked (138****5678) or an encrypted token.
    receiver_name: Mapped[str | None] = mapped_column(String(120))
    receiver_phone: Mapped[str | None] = mapped_column(String(64))
    receiver_phone_tail: Mapped[str | None] = mapped_column(String(4))
    receiver_address: Mapped[str | None] = mapped_column(Text)
    receiver_token: Mapped[str | None] = mapped_column(String(256))
    receiver_fingerprint: Mapped[str | None] = mapped_column(String(64))
    province: Mapped[str | None] = mapped_column(String(40))
    city: Mapped[str | None] = mapped_column(String(40))
    district: Mapped[str | None] = mapped_column(String(40))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    ship_by: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    buyer_note: Mapped[str | None] = mapped_column(Text)
    seller_note: Mapped[str | None] = mapped_column(Text)
    platform_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    platform_status: Mapped[str | None] = mapped_column(String(40))
    # SHA-256 of the platform payload last applied: same time stamp + same hash = a duplicate.
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # Both set by the orders_change_feed trigger on every insert and update.
    change_seq: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=FetchedValue(), server_onupdate=FetchedValue()
    )

    shop: Mapped[Shop] = relationship(lazy="raise")
    warehouse: Mapped[Warehouse | None] = relationship(lazy="raise")

    __mapper_args__ = {"version_id_col": version, "eager_defaults": True}


class PlatformFieldDef(Base):
    """平台扩展属性的定义: which extra fields a platform sends, with business label and type."""

    __tablename__ = "platform_field_defs"
    __table_args__ = (
        _codes("platform", "platform"),
        CheckConstraint("value_type IN ('text', 'decimal', 'int', 'percent', 'datetime', 'bool')", name="value_type"),
    )

    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    label_zh: Mapped[str] = mapped_column(String(60))
    label_en: Mapped[str] = mapped_column(String(80))
    value_type: Mapped[str] = mapped_column(String(10))
    sort_order: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class OrderExtAttr(Base):
    """One platform extension value of one order; may be filled in after the order arrived."""

    __tablename__ = "order_ext_attrs"
    __table_args__ = (Index("ix_order_ext_attrs_key_value", "platform", "key", "value"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    value: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = _now()


class Shipment(Base):
    """A parcel of an order with one carrier and tracking number (one of several when the order is split)."""

    __tablename__ = "shipments"
    __table_args__ = (_codes("status", "shipment_status"), Index("ix_shipments_order", "order_id"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    carrier: Mapped[str] = mapped_column(String(40))
    tracking_no: Mapped[str] = mapped_column(String(64), unique=True)
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    status: Mapped[str] = mapped_column(String(20))
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: a split parcel's contents ``[{"line_no", "qty", "platform_line_id"}]``; NULL: the whole order
    lines: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)


class TrackingEvent(Base):
    """One node in a parcel's journey, with the courier's details when the carrier gives them."""

    __tablename__ = "tracking_events"
    __table_args__ = (
        UniqueConstraint("shipment_id", "occurred_at", "description", name="uq_tracking_events_node"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    location: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    courier_name: Mapped[str | None] = mapped_column(String(40))
    courier_phone: Mapped[str | None] = mapped_column(String(30))
    lon: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    lat: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))


class ScanLog(Base):
    """仓库扫描日志: who scanned what, where and when."""

    __tablename__ = "scan_log"
    __table_args__ = (_codes("action", "scan_action"), Index("ix_scan_log_order", "order_id", "scanned_at"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    action: Mapped[str] = mapped_column(String(10))
    barcode: Mapped[str] = mapped_column(String(64))
    box_no: Mapped[str | None] = mapped_column(String(40))
    operator: Mapped[str] = mapped_column(String(60))
    station: Mapped[str] = mapped_column(String(60))
    command_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    scanned_at: Mapped[datetime] = _now()


class Invoice(Base):
    """An electronic invoice: blue (normal) or red (credit), a red one pointing at the blue it flushes."""

    __tablename__ = "invoices"
    __table_args__ = (
        _codes("kind", "invoice_kind"),
        CheckConstraint("(kind = 'red') = (red_flush_of_id IS NOT NULL)", name="red_links_blue"),
        Index("ix_invoices_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    invoice_no: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal] = mapped_column(Money)
    tax_amount: Mapped[Decimal] = mapped_column(Money)
    title: Mapped[str] = mapped_column(String(200))
    buyer_tax_no: Mapped[str | None] = mapped_column(String(30))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    red_flush_of_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    red_confirmation_no: Mapped[str | None] = mapped_column(String(40))
    reissue_pending: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # The buyer confirmed use of / booked the invoice (用途确认/入账确认): a red-flush then needs their
    # confirmation, and only then may it be partial (数电票 rules).
    buyer_confirmed: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class AfterSalesCase(Base):
    """A customer's after-sales request and where it stands."""

    __tablename__ = "after_sales_cases"
    __table_args__ = (
        _codes("kind", "after_sales_kind"),
        _codes("state", "after_sales_state"),
        Index("ix_after_sales_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_no: Mapped[str] = mapped_column(String(40), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    flow_version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    reason: Mapped[str | None] = mapped_column(Text)
    refund_amount: Mapped[Decimal | None] = mapped_column(Money)
    exchange_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))


class RawPayload(Base):
    """Every inbound platform payload, verbatim, with its hash; a bad one is quarantined here."""

    __tablename__ = "raw_payloads"
    __table_args__ = (
        _codes("status", "payload_status"),
        UniqueConstraint("source", "sha256", name="uq_raw_payloads_source_sha256"),
        Index("ix_raw_payloads_status", "status"),
        Index("ix_raw_payloads_order", "order_id"),
        Index("ix_raw_payloads_hot", "received_at", "id", postgresql_where=text("archived_at IS NULL")),
        # store sales received, their orders not created yet (migration 0052; the inbox worker takes them)
        Index("ix_raw_payloads_pending", "id", postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"))
    kind: Mapped[str] = mapped_column(String(40))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    # checked at commit (migration 0051): intake stores a payload linked to the order it inserts after it
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", deferrable=True, initially="DEFERRED"))
    received_at: Mapped[datetime] = _now()
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    # archived (migration 0035): the bytes live in ``archive_file`` (gzip JSON lines), ``body`` is empty
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archive_file: Mapped[str | None] = mapped_column(Text)


class OutboxMessage(Base):
    """Everything the hub sends out (ERP webhooks, SMS, alerts, picker notices): at least once,
    idempotent by ``dedupe_key`` on our side, retried with backoff, failures visible."""

    __tablename__ = "outbox"
    __table_args__ = (
        _codes("status", "outbox_status"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    topic: Mapped[str] = mapped_column(String(40))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(20), server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = _now()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class User(Base):
    """A person who logs in to a station, with one role."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('cs', 'cs_lead', 'picker', 'wh_lead', 'supervisor', 'admin', 'service')",
                                      name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # issue #14: argon2 hash (never the password), lockout after repeated failures, forced change after a reset
    # deferred: never loaded with the row (a station's database role may not read it; see app/db/roles.py)
    password_hash: Mapped[str | None] = mapped_column(String(200), deferred=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    must_change_password: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditLog(Base):
    """审计日志: append-only and hash-chained.

    Triggers (see the migration) assign ``id`` under a lock so the chain is linear, compute
    ``prev_hash`` and ``hash``, stamp ``occurred_at`` with the server's clock, and refuse
    every UPDATE, DELETE and TRUNCATE.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)

    # id and occurred_at are assigned by the trigger, under the chain lock.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False, server_default=FetchedValue())
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=FetchedValue())
    operator: Mapped[str] = mapped_column(String(60))
    station_ip: Mapped[str | None] = mapped_column(INET)
    station: Mapped[str | None] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(64))
    basis: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    prev_hash: Mapped[str] = mapped_column(String(64), server_default=text("''"))
    hash: Mapped[str] = mapped_column(String(64), server_default=text("''"))
    # Which algorithm ``hash`` was made with ("sha256" or "sm3"), stamped by the trigger (migration 0022).
    hash_alg: Mapped[str] = mapped_column(String(8), server_default=text("'sha256'"))


class AuditSettings(Base):
    """One row: the hash algorithm new audit records use (the chain trigger reads it; migration 0022)."""

    __tablename__ = "audit_settings"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),
                      CheckConstraint("hash_alg IN ('sha256', 'sm3')", name="hash_alg"))

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    hash_alg: Mapped[str] = mapped_column(String(8), server_default=text("'sha256'"))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))


class ShopSyncState(Base):
    """Per shop: how far pulling has got (high-water mark), who pulls it, and how the last pull went."""

    __tablename__ = "shop_sync_state"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    # Only moves forward after a whole window was pulled and stored.
    high_water: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    orders_ingested: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    owner_hub: Mapped[str | None] = mapped_column(String(80))
    owner_heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ChangeNotice(Base):
    """One open notice per order for the warehouse, summing up every change since the last acknowledgement."""

    __tablename__ = "change_notices"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'acknowledged')", name="status"),
        Index("uq_change_notices_open_order", "order_id", unique=True, postgresql_where=text("status = 'open'")),
        Index("ix_change_notices_warehouse_open", "warehouse_id", "status"),
        # every order's notices, acknowledged ones too: the health facts ask for each order written (migration 0055)
        Index("ix_change_notices_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'open'"))
    interception: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    kinds: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    change_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    first_at: Mapped[datetime] = _now()
    last_at: Mapped[datetime] = _now()
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(60))


class InboundMessage(Base):
    """Pushed platform messages seen, by the platform's message id: pushes may repeat."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("source", "msg_id", name="uq_inbound_messages_source_msg_id"),
        CheckConstraint("state IN ('pending', 'done')", name="state_code"),
        # what the inbox worker may claim next (app/hub/inbox_worker.py)
        Index("ix_inbound_messages_due", "next_try_at", "id", postgresql_where=text("state = 'pending'")),
        Index("ix_inbound_messages_order", "shop_id", "platform_order_no"),  # an order's story
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    msg_id: Mapped[str] = mapped_column(String(128))
    topic: Mapped[str] = mapped_column(String(80))
    received_at: Mapped[datetime] = _now()
    # The push inbox (migration 0039): the message is stored when answered, its order's detail fetched after.
    shop_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("shops.id"))
    platform_order_no: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12), server_default="done")  # pending until the detail is stored
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_try_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # also a claiming worker's lease
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InboundMessageAttempt(Base):
    """One fetch of a pushed message's order detail, for the order's story."""

    __tablename__ = "inbound_message_attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("inbound_messages.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = _now()
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)


# Tables declared in their own modules join the same metadata (Alembic and the schema test see them).
import app.db.routing_models  # noqa: E402,F401
import app.db.after_sales_models  # noqa: E402,F401
import app.db.warehouse_models  # noqa: E402,F401
import app.db.sync_models  # noqa: E402,F401
import app.db.writeback_models  # noqa: E402,F401
import app.db.auth_models  # noqa: E402,F401
import app.db.erp_models  # noqa: E402,F401
import app.db.health_models  # noqa: E402,F401
import app.db.station_models  # noqa: E402,F401
import app.db.map_models  # noqa: E402,F401
