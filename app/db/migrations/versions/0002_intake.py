"""Intake: per-shop sync state, coalesced change notices, pushed-message dedupe, raw platform status.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 06:10:18.961633

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('inbound_messages',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('msg_id', sa.String(length=128), nullable=False),
    sa.Column('topic', sa.String(length=80), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_messages')),
    sa.UniqueConstraint('source', 'msg_id', name='uq_inbound_messages_source_msg_id')
    )
    op.create_table('shop_sync_state',
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('high_water', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('consecutive_failures', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('orders_ingested', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('owner_hub', sa.String(length=80), nullable=True),
    sa.Column('owner_heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_shop_sync_state_shop_id_shops')),
    sa.PrimaryKeyConstraint('shop_id', name=op.f('pk_shop_sync_state'))
    )
    op.create_table('change_notices',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), server_default=sa.text("'open'"), nullable=False),
    sa.Column('interception', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('kinds', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('changes', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('change_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=60), nullable=True),
    sa.CheckConstraint("status IN ('open', 'acknowledged')", name=op.f('ck_change_notices_status')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_change_notices_order_id_orders')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_change_notices_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_notices'))
    )
    op.create_index('ix_change_notices_warehouse_open', 'change_notices', ['warehouse_id', 'status'], unique=False)
    op.create_index('uq_change_notices_open_order', 'change_notices', ['order_id'], unique=True, postgresql_where=sa.text("status = 'open'"))
    op.add_column('orders', sa.Column('platform_status', sa.String(length=40), nullable=True))
    op.add_column('orders', sa.Column('payload_sha256', sa.String(length=64), nullable=True))
    op.add_column('orders', sa.Column('receiver_fingerprint', sa.String(length=64), nullable=True))
    # The customer-service search box ORs several handles; every branch needs an index.
    op.create_index('ix_orders_platform_order_no', 'orders', ['platform_order_no'], unique=False)
    op.create_index('ix_orders_receiver_name', 'orders', ['receiver_name'], unique=False)
    op.create_index('ix_orders_status_platform_province', 'orders', ['status', 'platform', 'province'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_orders_status_platform_province', table_name='orders')
    op.drop_index('ix_orders_receiver_name', table_name='orders')
    op.drop_index('ix_orders_platform_order_no', table_name='orders')
    op.drop_column('orders', 'receiver_fingerprint')
    op.drop_column('orders', 'payload_sha256')
    op.drop_column('orders', 'platform_status')
    op.drop_index('uq_change_notices_open_order', table_name='change_notices', postgresql_where=sa.text("status = 'open'"))
    op.drop_index('ix_change_notices_warehouse_open', table_name='change_notices')
    op.drop_table('change_notices')
    op.drop_table('shop_sync_state')
    op.drop_table('inbound_messages')
