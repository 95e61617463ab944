"""Initial schema: orders and everything around them, the change feed and the append-only audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 05:45:46.199257

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


CHANGE_FEED_SQL = """
CREATE SEQUENCE order_change_seq;

-- Every insert and update of an order takes the next number of one database-wide sequence,
-- so a station can pull "everything after N". A raw-SQL update that forgot the version still
-- bumps it, so optimistic concurrency holds for every writer.
CREATE FUNCTION orders_stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_seq := nextval('order_change_seq');
    NEW.updated_at := clock_timestamp();
    IF TG_OP = 'INSERT' THEN
        NEW.version := coalesce(NEW.version, 1);
    ELSIF NEW.version <= OLD.version THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER orders_stamp_change BEFORE INSERT OR UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_stamp_change();

-- One NOTIFY per statement (not per row), so a bulk import of 10,000 orders is one message;
-- listeners pull by sequence anyway, the payload only says how far to pull.
CREATE FUNCTION orders_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    top bigint;
    n bigint;
BEGIN
    SELECT max(change_seq), count(*) INTO top, n FROM changed;
    IF n > 0 THEN
        PERFORM pg_notify('order_changes', json_build_object('max_seq', top, 'count', n, 'op', lower(TG_OP))::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER orders_notify_insert AFTER INSERT ON orders
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION orders_notify_change();
CREATE TRIGGER orders_notify_update AFTER UPDATE ON orders
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION orders_notify_change();
"""

AUDIT_SQL = """
CREATE SEQUENCE audit_log_id_seq;

CREATE FUNCTION audit_part(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN v IS NULL THEN '-' ELSE length(v)::text || ':' || v END
$$;

-- The chain: under one transaction-scoped lock, take the next id, stamp the server time,
-- link to the newest record and hash. The lock is held to commit, so ids are assigned in
-- chain order and two writers can never link to the same predecessor. The canonical text
-- is rebuilt independently in app/domain/audit_chain.py by `orderhub audit verify`.
CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_hash text;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit records must be written in READ COMMITTED transactions'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM pg_advisory_xact_lock(7428002);
    NEW.id := nextval('audit_log_id_seq');
    NEW.occurred_at := clock_timestamp();
    SELECT hash INTO last_hash FROM audit_log ORDER BY id DESC LIMIT 1;
    NEW.prev_hash := coalesce(last_hash, repeat('0', 64));
    NEW.hash := encode(sha256(convert_to(concat_ws('|',
        audit_part(NEW.id::text),
        audit_part(to_char(NEW.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
        audit_part(NEW.operator),
        audit_part(host(NEW.station_ip)),
        audit_part(NEW.station),
        audit_part(NEW.action),
        audit_part(NEW.entity_type),
        audit_part(NEW.entity_id),
        audit_part(NEW.basis),
        audit_part(NEW.before::text),
        audit_part(NEW.after::text),
        audit_part(NEW.prev_hash)), 'UTF8')), 'hex');
    RETURN NEW;
END $$;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
-- ALWAYS: the triggers fire even under session_replication_role = replica.
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_chain;
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_change;
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate;
"""


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), server_default=sa.FetchedValue(), autoincrement=False, nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.FetchedValue(), nullable=False),
    sa.Column('operator', sa.String(length=60), nullable=False),
    sa.Column('station_ip', postgresql.INET(), nullable=True),
    sa.Column('station', sa.String(length=60), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('entity_type', sa.String(length=30), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('basis', sa.Text(), nullable=True),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), server_default=sa.text("''"), nullable=False),
    sa.Column('hash', sa.String(length=64), server_default=sa.text("''"), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('ix_audit_log_entity', 'audit_log', ['entity_type', 'entity_id'], unique=False)
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('topic', sa.String(length=40), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=20), server_default=sa.text("'pending'"), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f('ck_outbox_status_code')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_dedupe_key'))
    )
    op.create_index('ix_outbox_due', 'outbox', ['status', 'next_attempt_at'], unique=False)
    op.create_table('platform_field_defs',
    sa.Column('platform', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('label_zh', sa.String(length=60), nullable=False),
    sa.Column('label_en', sa.String(length=80), nullable=False),
    sa.Column('value_type', sa.String(length=10), nullable=False),
    sa.Column('sort_order', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.CheckConstraint("platform IN ('taobao', 'tmall', 'douyin', 'wechat', 'pdd', 'pos')", name=op.f('ck_platform_field_defs_platform_code')),
    sa.CheckConstraint("value_type IN ('text', 'decimal', 'int', 'percent', 'datetime', 'bool')", name=op.f('ck_platform_field_defs_value_type')),
    sa.PrimaryKeyConstraint('platform', 'key', name=op.f('pk_platform_field_defs'))
    )
    op.create_table('shops',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('platform', sa.String(length=20), nullable=False),
    sa.Column('platform_shop_id', sa.String(length=80), nullable=True),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('poll_interval_s', sa.Integer(), server_default=sa.text('15'), nullable=False),
    sa.Column('api_base_url', sa.String(length=300), nullable=True),
    sa.Column('credentials_ref', sa.String(length=200), nullable=True),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("platform IN ('taobao', 'tmall', 'douyin', 'wechat', 'pdd', 'pos')", name=op.f('ck_shops_platform_code')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shops')),
    sa.UniqueConstraint('code', name=op.f('uq_shops_code'))
    )
    op.create_table('skus',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sku_code', sa.String(length=40), nullable=False),
    sa.Column('barcode', sa.String(length=40), nullable=False),
    sa.Column('style_code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('color', sa.String(length=20), nullable=False),
    sa.Column('size', sa.String(length=20), nullable=False),
    sa.Column('price', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('is_gift_item', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('shelf_life_days', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_skus')),
    sa.UniqueConstraint('barcode', name=op.f('uq_skus_barcode')),
    sa.UniqueConstraint('sku_code', name=op.f('uq_skus_sku_code'))
    )
    op.create_index(op.f('ix_skus_style_code'), 'skus', ['style_code'], unique=False)
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('login', sa.String(length=40), nullable=False),
    sa.Column('display_name', sa.String(length=60), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.CheckConstraint("role IN ('cs', 'cs_lead', 'picker', 'wh_lead', 'supervisor', 'admin')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('login', name=op.f('uq_users_login'))
    )
    op.create_table('warehouses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('province', sa.String(length=40), nullable=False),
    sa.Column('city', sa.String(length=40), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.CheckConstraint("kind IN ('own', 'cloud')", name=op.f('ck_warehouses_kind_code')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warehouses')),
    sa.UniqueConstraint('code', name=op.f('uq_warehouses_code'))
    )
    op.create_table('bins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('zone', sa.String(length=10), nullable=False),
    sa.Column('aisle', sa.Integer(), nullable=False),
    sa.Column('rack', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('x', sa.Numeric(precision=8, scale=2), nullable=False),
    sa.Column('y', sa.Numeric(precision=8, scale=2), nullable=False),
    sa.Column('pick_sequence', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_bins_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bins')),
    sa.UniqueConstraint('warehouse_id', 'code', name=op.f('uq_bins_warehouse_id'))
    )
    op.create_table('orders',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_no', sa.String(length=40), nullable=False),
    sa.Column('platform', sa.String(length=20), nullable=False),
    sa.Column('platform_order_no', sa.String(length=64), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('ordered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('items', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('original_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('paid_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('tracking_no', sa.String(length=64), nullable=True),
    sa.Column('invoice_status', sa.String(length=20), server_default=sa.text("'none'"), nullable=False),
    sa.Column('receiver_name', sa.String(length=120), nullable=True),
    sa.Column('receiver_phone', sa.String(length=64), nullable=True),
    sa.Column('receiver_phone_tail', sa.String(length=4), nullable=True),
    sa.Column('receiver_address', sa.Text(), nullable=True),
    sa.Column('receiver_token', sa.String(length=256), nullable=True),
    sa.Column('province', sa.String(length=40), nullable=True),
    sa.Column('city', sa.String(length=40), nullable=True),
    sa.Column('district', sa.String(length=40), nullable=True),
    sa.Column('warehouse_id', sa.Integer(), nullable=True),
    sa.Column('ship_by', sa.DateTime(timezone=True), nullable=True),
    sa.Column('buyer_note', sa.Text(), nullable=True),
    sa.Column('seller_note', sa.Text(), nullable=True),
    sa.Column('platform_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('change_seq', sa.BigInteger(), server_default=sa.FetchedValue(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.FetchedValue(), nullable=False),
    sa.CheckConstraint("invoice_status IN ('none', 'pending', 'issued', 'red_flushed', 'reissue_pending')", name=op.f('ck_orders_invoice_status_code')),
    sa.CheckConstraint("jsonb_typeof(items) = 'array'", name=op.f('ck_orders_items_is_array')),
    sa.CheckConstraint("platform IN ('taobao', 'tmall', 'douyin', 'wechat', 'pdd', 'pos')", name=op.f('ck_orders_platform_code')),
    sa.CheckConstraint("status IN ('pending_payment', 'paid', 'allocating', 'shipped', 'completed', 'cancelled', 'after_sales')", name=op.f('ck_orders_status_code')),
    sa.CheckConstraint('original_amount >= 0 AND paid_amount >= 0', name=op.f('ck_orders_amounts_not_negative')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_orders_shop_id_shops')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_orders_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('order_no', name=op.f('uq_orders_order_no')),
    sa.UniqueConstraint('shop_id', 'platform_order_no', name='uq_orders_shop_platform_order_no')
    )
    op.create_index('ix_orders_change_seq', 'orders', ['change_seq'], unique=True)
    op.create_index('ix_orders_customer_id', 'orders', ['customer_id'], unique=False)
    op.create_index('ix_orders_ordered_at', 'orders', [sa.literal_column('ordered_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('ix_orders_platform_ordered', 'orders', ['platform', sa.literal_column('ordered_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('ix_orders_province', 'orders', ['province'], unique=False)
    op.create_index('ix_orders_receiver_phone_tail', 'orders', ['receiver_phone_tail'], unique=False)
    op.create_index('ix_orders_status_platform_ordered', 'orders', ['status', 'platform', sa.literal_column('ordered_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('ix_orders_tracking_no', 'orders', ['tracking_no'], unique=False)
    op.create_index('ix_orders_warehouse_status', 'orders', ['warehouse_id', 'status'], unique=False)
    op.create_table('after_sales_cases',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_no', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('flow_version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('lines', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('refund_amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('exchange_order_id', sa.BigInteger(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=60), nullable=False),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.CheckConstraint("kind IN ('exchange', 'return_refund', 'refund_only', 'reship')", name=op.f('ck_after_sales_cases_kind_code')),
    sa.CheckConstraint("state IN ('requested', 'approved', 'awaiting_return', 'received', 'refunded', 'exchange_created', 'reshipped', 'closed', 'rejected')", name=op.f('ck_after_sales_cases_state_code')),
    sa.ForeignKeyConstraint(['exchange_order_id'], ['orders.id'], name=op.f('fk_after_sales_cases_exchange_order_id_orders')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_after_sales_cases_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_after_sales_cases')),
    sa.UniqueConstraint('case_no', name=op.f('uq_after_sales_cases_case_no'))
    )
    op.create_index('ix_after_sales_order', 'after_sales_cases', ['order_id'], unique=False)
    op.create_table('invoices',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('invoice_no', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('tax_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('buyer_tax_no', sa.String(length=30), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('red_flush_of_id', sa.BigInteger(), nullable=True),
    sa.Column('red_confirmation_no', sa.String(length=40), nullable=True),
    sa.Column('reissue_pending', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.CheckConstraint("(kind = 'red') = (red_flush_of_id IS NOT NULL)", name=op.f('ck_invoices_red_links_blue')),
    sa.CheckConstraint("kind IN ('blue', 'red')", name=op.f('ck_invoices_kind_code')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_invoices_order_id_orders')),
    sa.ForeignKeyConstraint(['red_flush_of_id'], ['invoices.id'], name=op.f('fk_invoices_red_flush_of_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('invoice_no', name=op.f('uq_invoices_invoice_no'))
    )
    op.create_index('ix_invoices_order', 'invoices', ['order_id'], unique=False)
    op.create_table('order_ext_attrs',
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('platform', sa.String(length=20), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_ext_attrs_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_id', 'key', name=op.f('pk_order_ext_attrs'))
    )
    op.create_index('ix_order_ext_attrs_key_value', 'order_ext_attrs', ['platform', 'key', 'value'], unique=False)
    op.create_table('raw_payloads',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.CheckConstraint("status IN ('parsed', 'quarantined')", name=op.f('ck_raw_payloads_status_code')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_raw_payloads_order_id_orders')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_raw_payloads_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_raw_payloads')),
    sa.UniqueConstraint('source', 'sha256', name='uq_raw_payloads_source_sha256')
    )
    op.create_index('ix_raw_payloads_status', 'raw_payloads', ['status'], unique=False)
    op.create_table('scan_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('barcode', sa.String(length=64), nullable=False),
    sa.Column('box_no', sa.String(length=40), nullable=True),
    sa.Column('operator', sa.String(length=60), nullable=False),
    sa.Column('station', sa.String(length=60), nullable=False),
    sa.Column('command_id', sa.String(length=36), nullable=True),
    sa.Column('scanned_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("action IN ('pick', 'pack', 'ship')", name=op.f('ck_scan_log_action_code')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_scan_log_order_id_orders')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_scan_log_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_log')),
    sa.UniqueConstraint('command_id', name=op.f('uq_scan_log_command_id'))
    )
    op.create_index('ix_scan_log_order', 'scan_log', ['order_id', 'scanned_at'], unique=False)
    op.create_table('shipments',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('carrier', sa.String(length=40), nullable=False),
    sa.Column('tracking_no', sa.String(length=64), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('shipped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('created', 'in_transit', 'delivering', 'delivered', 'exception')", name=op.f('ck_shipments_status_code')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_shipments_order_id_orders')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_shipments_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipments')),
    sa.UniqueConstraint('tracking_no', name=op.f('uq_shipments_tracking_no'))
    )
    op.create_index('ix_shipments_order', 'shipments', ['order_id'], unique=False)
    op.create_table('stock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('bin_id', sa.Integer(), nullable=True),
    sa.Column('on_hand', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('reserved', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('safety_stock', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('on_hand >= 0', name=op.f('ck_stock_on_hand_not_negative')),
    sa.CheckConstraint('reserved >= 0', name=op.f('ck_stock_reserved_not_negative')),
    sa.CheckConstraint('safety_stock >= 0', name=op.f('ck_stock_safety_not_negative')),
    sa.ForeignKeyConstraint(['bin_id'], ['bins.id'], name=op.f('fk_stock_bin_id_bins')),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_stock_sku_id_skus')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_stock_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock')),
    sa.UniqueConstraint('sku_id', 'warehouse_id', 'bin_id', name=op.f('uq_stock_sku_id'))
    )
    op.create_table('tracking_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('shipment_id', sa.BigInteger(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('location', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('courier_name', sa.String(length=40), nullable=True),
    sa.Column('courier_phone', sa.String(length=30), nullable=True),
    sa.Column('lon', sa.Numeric(precision=9, scale=6), nullable=True),
    sa.Column('lat', sa.Numeric(precision=9, scale=6), nullable=True),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_tracking_events_shipment_id_shipments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_events')),
    sa.UniqueConstraint('shipment_id', 'occurred_at', 'description', name='uq_tracking_events_node')
    )
    op.create_index(op.f('ix_tracking_events_shipment_id'), 'tracking_events', ['shipment_id'], unique=False)
    op.execute(CHANGE_FEED_SQL)
    op.execute(AUDIT_SQL)


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("DROP TRIGGER audit_log_no_change ON audit_log; DROP TRIGGER audit_log_no_truncate ON audit_log")
    op.drop_index(op.f('ix_tracking_events_shipment_id'), table_name='tracking_events')
    op.drop_table('tracking_events')
    op.drop_table('stock')
    op.drop_index('ix_shipments_order', table_name='shipments')
    op.drop_table('shipments')
    op.drop_index('ix_scan_log_order', table_name='scan_log')
    op.drop_table('scan_log')
    op.drop_index('ix_raw_payloads_status', table_name='raw_payloads')
    op.drop_table('raw_payloads')
    op.drop_index('ix_order_ext_attrs_key_value', table_name='order_ext_attrs')
    op.drop_table('order_ext_attrs')
    op.drop_index('ix_invoices_order', table_name='invoices')
    op.drop_table('invoices')
    op.drop_index('ix_after_sales_order', table_name='after_sales_cases')
    op.drop_table('after_sales_cases')
    op.drop_index('ix_orders_warehouse_status', table_name='orders')
    op.drop_index('ix_orders_tracking_no', table_name='orders')
    op.drop_index('ix_orders_status_platform_ordered', table_name='orders')
    op.drop_index('ix_orders_receiver_phone_tail', table_name='orders')
    op.drop_index('ix_orders_province', table_name='orders')
    op.drop_index('ix_orders_platform_ordered', table_name='orders')
    op.drop_index('ix_orders_ordered_at', table_name='orders')
    op.drop_index('ix_orders_customer_id', table_name='orders')
    op.drop_index('ix_orders_change_seq', table_name='orders')
    op.drop_table('orders')
    op.drop_table('bins')
    op.drop_table('warehouses')
    op.drop_table('users')
    op.drop_index(op.f('ix_skus_style_code'), table_name='skus')
    op.drop_table('skus')
    op.drop_table('shops')
    op.drop_table('platform_field_defs')
    op.drop_index('ix_outbox_due', table_name='outbox')
    op.drop_table('outbox')
    op.drop_index('ix_audit_log_entity', table_name='audit_log')
    op.drop_table('audit_log')
    op.execute(
        "DROP FUNCTION audit_log_refuse(); DROP FUNCTION audit_log_chain(); DROP FUNCTION audit_part(text);"
        "DROP FUNCTION orders_notify_change(); DROP FUNCTION orders_stamp_change();"
        "DROP SEQUENCE audit_log_id_seq; DROP SEQUENCE order_change_seq;"
    )
