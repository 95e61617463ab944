"""ERP bridge and 数电票: webhook endpoints, deliveries and attempts, inbound messages, the ERP's view of each
order, e-invoice requests; triggers that write ERP events to the outbox in the transaction of the change.

Revision ID: 0013
Revises: 0011

The events are written by triggers, not by each service: orders arrive by COPY (intake, demo),
ORM (station commands) and raw SQL (routing), and a trigger is the one place none of them can
skip. With no enabled endpoint the triggers do nothing but one indexed look-up.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: Union[str, Sequence[str], None] = "0011"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TRIGGERS = r"""
CREATE SEQUENCE erp_event_seq;

-- One event, fanned out to every enabled endpoint that wants its type: an outbox row each (the
-- webhook-id is derived from its dedupe key) plus the delivery row that ordering per order needs.
CREATE FUNCTION erp_emit(p_order_id bigint, p_order_no text, p_type text, p_data jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE evt bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM erp_endpoints WHERE enabled AND url IS NOT NULL) THEN
        RETURN;
    END IF;
    evt := nextval('erp_event_seq');
    WITH targets AS (
        SELECT id, code FROM erp_endpoints
        WHERE enabled AND url IS NOT NULL AND (events = '[]'::jsonb OR events ? p_type)
    ), sent AS (
        INSERT INTO outbox (topic, dedupe_key, payload)
        SELECT 'erp', 'erp:' || t.code || ':' || evt,
               jsonb_build_object('endpoint', t.code, 'event_id', evt, 'type', p_type, 'order_no', p_order_no,
                                  'occurred_at', to_char(clock_timestamp() AT TIME ZONE 'UTC',
                                                         'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                  'data', p_data)
        FROM targets t
        RETURNING id, payload->>'endpoint' AS code
    )
    INSERT INTO erp_deliveries (outbox_id, endpoint_id, order_id, event_id, event_type)
    SELECT s.id, t.id, p_order_id, evt, p_type FROM sent s JOIN targets t ON t.code = s.code;
END $$;

CREATE FUNCTION orders_erp_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM erp_emit(NEW.id, NEW.order_no, 'order.created', jsonb_build_object(
            'order_no', NEW.order_no, 'platform', NEW.platform, 'platform_order_no', NEW.platform_order_no,
            'status', NEW.status, 'ordered_at', NEW.ordered_at, 'customer_id', NEW.customer_id,
            'original_amount', NEW.original_amount::text, 'paid_amount', NEW.paid_amount::text,
            'items', NEW.items, 'invoice_status', NEW.invoice_status, 'version', NEW.version));
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        PERFORM erp_emit(NEW.id, NEW.order_no,
                         CASE WHEN NEW.status = 'shipped' THEN 'order.shipped' ELSE 'order.stage_changed' END,
                         jsonb_build_object('order_no', NEW.order_no, 'status', NEW.status,
                                            'status_before', OLD.status, 'tracking_no', NEW.tracking_no,
                                            'version', NEW.version));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER orders_erp_event AFTER INSERT OR UPDATE OF status ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_erp_event();

CREATE FUNCTION after_sales_erp_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE kind text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        kind := 'after_sales.opened';
    ELSIF NEW.state IS DISTINCT FROM OLD.state THEN
        kind := CASE WHEN NEW.state IN ('approved', 'rejected') THEN 'after_sales.decided'
                     ELSE 'after_sales.changed' END;
    ELSE
        RETURN NULL;
    END IF;
    PERFORM erp_emit(NEW.order_id, (SELECT order_no FROM orders WHERE id = NEW.order_id), kind,
                     jsonb_build_object('case_no', NEW.case_no, 'kind', NEW.kind, 'state', NEW.state,
                                        'state_before', CASE WHEN TG_OP = 'UPDATE' THEN OLD.state END,
                                        'refund_amount', NEW.refund_amount::text, 'lines', NEW.lines));
    RETURN NULL;
END $$;
CREATE TRIGGER after_sales_erp_event AFTER INSERT OR UPDATE OF state ON after_sales_cases
    FOR EACH ROW EXECUTE FUNCTION after_sales_erp_event();

CREATE FUNCTION invoices_erp_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM erp_emit(NEW.order_id, (SELECT order_no FROM orders WHERE id = NEW.order_id),
                     CASE WHEN NEW.kind = 'red' THEN 'invoice.red_flushed' ELSE 'invoice.issued' END,
                     jsonb_build_object('invoice_no', NEW.invoice_no, 'kind', NEW.kind,
                                        'amount', NEW.amount::text, 'tax_amount', NEW.tax_amount::text,
                                        'title', NEW.title, 'issued_at', NEW.issued_at,
                                        'red_confirmation_no', NEW.red_confirmation_no,
                                        'red_flush_of', (SELECT invoice_no FROM invoices WHERE id = NEW.red_flush_of_id)));
    RETURN NULL;
END $$;
CREATE TRIGGER invoices_erp_event AFTER INSERT ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_erp_event();

-- 「小程序订单自动绑定电子发票」 and every other way an order comes to need an invoice (开票状态 → 待开票):
-- while a 数电票 provider is enabled, a blue-invoice request and its outbox message are written in the
-- same transaction. Routing writes orders in bulk SQL, so this is the one place that sees them all.
CREATE FUNCTION orders_einvoice_request() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE req bigint;
BEGIN
    IF NEW.invoice_status <> 'pending' OR (TG_OP = 'UPDATE' AND OLD.invoice_status = 'pending')
       OR NEW.status IN ('pending_payment', 'cancelled')
       OR NOT EXISTS (SELECT 1 FROM einvoice_providers WHERE enabled) THEN
        RETURN NULL;
    END IF;
    req := nextval(pg_get_serial_sequence('einvoice_requests', 'id'));
    INSERT INTO einvoice_requests (id, order_id, kind, provider_order_no)
    VALUES (req, NEW.id, 'blue', 'OH' || to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYMMDD') || lpad(req::text, 10, '0'));
    INSERT INTO outbox (topic, dedupe_key, payload)
    VALUES ('einvoice', 'einvoice:' || req, jsonb_build_object('request_id', req, 'kind', 'blue',
                                                                 'order_no', NEW.order_no));
    RETURN NULL;
END $$;
CREATE TRIGGER orders_einvoice_request AFTER INSERT OR UPDATE OF invoice_status ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_einvoice_request();
"""

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS orders_einvoice_request ON orders;
DROP FUNCTION IF EXISTS orders_einvoice_request();
DROP TRIGGER IF EXISTS invoices_erp_event ON invoices;
DROP TRIGGER IF EXISTS after_sales_erp_event ON after_sales_cases;
DROP TRIGGER IF EXISTS orders_erp_event ON orders;
DROP FUNCTION IF EXISTS invoices_erp_event();
DROP FUNCTION IF EXISTS after_sales_erp_event();
DROP FUNCTION IF EXISTS orders_erp_event();
DROP FUNCTION IF EXISTS erp_emit(bigint, text, text, jsonb);
DROP SEQUENCE IF EXISTS erp_event_seq;
"""


def upgrade() -> None:
    op.create_table('erp_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('url', sa.String(length=400), nullable=True),
    sa.Column('events', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('inbound_scheme', sa.String(length=20), server_default=sa.text("'standard'"), nullable=False),
    sa.Column('secret_ref', sa.String(length=100), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('max_attempts', sa.Integer(), server_default=sa.text('8'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("inbound_scheme IN ('standard', 'frappe')", name=op.f('ck_erp_endpoints_inbound_scheme_code')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erp_endpoints')),
    sa.UniqueConstraint('code', name=op.f('uq_erp_endpoints_code'))
    )
    op.create_table('erp_delivery_attempts',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('outbox_id', sa.BigInteger(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('excerpt', sa.String(length=300), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_erp_delivery_attempts_outbox_id_outbox')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erp_delivery_attempts'))
    )
    op.create_index('ix_erp_delivery_attempts_outbox', 'erp_delivery_attempts', ['outbox_id'], unique=False)
    op.create_table('erp_deliveries',
    sa.Column('outbox_id', sa.BigInteger(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['erp_endpoints.id'], name=op.f('fk_erp_deliveries_endpoint_id_erp_endpoints')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_erp_deliveries_order_id_orders')),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_erp_deliveries_outbox_id_outbox')),
    sa.PrimaryKeyConstraint('outbox_id', name=op.f('pk_erp_deliveries'))
    )
    op.create_index('ix_erp_deliveries_order', 'erp_deliveries', ['endpoint_id', 'order_id', 'outbox_id'], unique=False)
    op.create_table('erp_order_status',
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('erp_status', sa.String(length=20), nullable=True),
    sa.Column('erp_order_no', sa.String(length=60), nullable=True),
    sa.Column('erp_raw_status', sa.String(length=60), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("erp_status IN ('pending_payment', 'paid', 'allocating', 'shipped', 'completed', 'cancelled', 'after_sales')", name=op.f('ck_erp_order_status_erp_status_code')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_erp_order_status_order_id_orders')),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_erp_order_status'))
    )
    op.create_table('erp_inbound',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=True),
    sa.Column('scheme', sa.String(length=20), nullable=False),
    sa.Column('message_key', sa.String(length=200), nullable=True),
    sa.Column('verdict', sa.String(length=20), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('subject', sa.String(length=120), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('raw_payload_id', sa.BigInteger(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("verdict IN ('applied', 'duplicate', 'stale', 'quarantined', 'refused')", name=op.f('ck_erp_inbound_verdict_code')),
    sa.ForeignKeyConstraint(['endpoint_id'], ['erp_endpoints.id'], name=op.f('fk_erp_inbound_endpoint_id_erp_endpoints')),
    sa.ForeignKeyConstraint(['raw_payload_id'], ['raw_payloads.id'], name=op.f('fk_erp_inbound_raw_payload_id_raw_payloads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erp_inbound'))
    )
    op.create_index('ix_erp_inbound_subject', 'erp_inbound', ['subject', 'reported_at'], unique=False)
    op.create_index('uq_erp_inbound_accepted', 'erp_inbound', ['endpoint_id', 'message_key'], unique=True, postgresql_where=sa.text("verdict IN ('applied', 'quarantined', 'stale')"))
    op.create_table('einvoice_providers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('api_url', sa.String(length=400), nullable=False),
    sa.Column('token_url', sa.String(length=400), nullable=False),
    sa.Column('secret_ref', sa.String(length=100), nullable=False),
    sa.Column('seller_tax_no', sa.String(length=20), nullable=False),
    sa.Column('seller_name', sa.String(length=100), nullable=False),
    sa.Column('clerk', sa.String(length=20), nullable=False),
    sa.Column('invoice_line', sa.String(length=4), server_default=sa.text("'pc'"), nullable=False),
    sa.Column('goods_code', sa.String(length=19), nullable=False),
    sa.Column('tax_rate', sa.Numeric(precision=5, scale=4), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_einvoice_providers')),
    sa.UniqueConstraint('code', name=op.f('uq_einvoice_providers_code'))
    )
    op.create_table('einvoice_requests',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('provider_order_no', sa.String(length=20), nullable=False),
    sa.Column('serial_no', sa.String(length=40), nullable=True),
    sa.Column('state', sa.String(length=20), server_default=sa.text("'submitted'"), nullable=False),
    sa.Column('blue_invoice_id', sa.BigInteger(), nullable=True),
    sa.Column('invoice_id', sa.BigInteger(), nullable=True),
    sa.Column('confirmation_id', sa.BigInteger(), nullable=True),
    sa.Column('provider_code', sa.String(length=20), nullable=True),
    sa.Column('provider_message', sa.Text(), nullable=True),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('blue', 'red_confirm', 'reissue')", name=op.f('ck_einvoice_requests_kind_code')),
    sa.CheckConstraint("state IN ('submitted', 'issuing', 'confirming', 'issued', 'failed')", name=op.f('ck_einvoice_requests_state_code')),
    sa.ForeignKeyConstraint(['blue_invoice_id'], ['invoices.id'], name=op.f('fk_einvoice_requests_blue_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['confirmation_id'], ['red_letter_confirmations.id'], name=op.f('fk_einvoice_requests_confirmation_id_red_letter_confirmations')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_einvoice_requests_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_einvoice_requests_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_einvoice_requests')),
    sa.UniqueConstraint('provider_order_no', name=op.f('uq_einvoice_requests_provider_order_no'))
    )
    op.create_index('ix_einvoice_requests_order', 'einvoice_requests', ['order_id'], unique=False)
    op.execute(TRIGGERS)


def downgrade() -> None:
    op.execute(DROP_TRIGGERS)
    op.drop_index('ix_einvoice_requests_order', table_name='einvoice_requests')
    op.drop_table('einvoice_requests')
    op.drop_table('einvoice_providers')
    op.drop_index('uq_erp_inbound_accepted', table_name='erp_inbound', postgresql_where=sa.text("verdict IN ('applied', 'quarantined', 'stale')"))
    op.drop_index('ix_erp_inbound_subject', table_name='erp_inbound')
    op.drop_table('erp_inbound')
    op.drop_table('erp_order_status')
    op.drop_index('ix_erp_deliveries_order', table_name='erp_deliveries')
    op.drop_table('erp_deliveries')
    op.drop_index('ix_erp_delivery_attempts_outbox', table_name='erp_delivery_attempts')
    op.drop_table('erp_delivery_attempts')
    op.drop_table('erp_endpoints')
