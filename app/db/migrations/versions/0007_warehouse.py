"""The warehouse: waves (an order in at most one open wave), picks (at most one live pick per order),
refused scans, and every pick slip printed (补打 with who and why).

Revision ID: 0007
Revises: 0003
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""

    op.create_table('waves',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('wave_no', sa.String(length=40), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), server_default=sa.text("'open'"), nullable=False),
    sa.Column('max_orders', sa.Integer(), nullable=True),
    sa.Column('zones', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('created_by', sa.String(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('printed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('open', 'closed')", name=op.f('ck_waves_status_code')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_waves_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waves')),
    sa.UniqueConstraint('wave_no', name=op.f('uq_waves_wave_no'))
    )
    op.create_index('ix_waves_warehouse_status', 'waves', ['warehouse_id', 'status'], unique=False)
    op.create_table('picks',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('wave_id', sa.BigInteger(), nullable=True),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('picker', sa.String(length=60), nullable=False),
    sa.Column('station', sa.String(length=60), nullable=False),
    sa.Column('status', sa.String(length=10), server_default=sa.text("'picking'"), nullable=False),
    sa.Column('scanned', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('box_no', sa.String(length=40), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('touched_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('shipped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stop_reason', sa.String(length=20), nullable=True),
    sa.CheckConstraint("status IN ('picking', 'confirmed', 'shipped', 'stopped')", name=op.f('ck_picks_status_code')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_picks_order_id_orders')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_picks_warehouse_id_warehouses')),
    sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_picks_wave_id_waves')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_picks'))
    )
    op.create_index('ix_picks_picker_touched', 'picks', ['picker', 'touched_at'], unique=False)
    op.create_index('uq_picks_live_order', 'picks', ['order_id'], unique=True, postgresql_where=sa.text("status IN ('picking', 'confirmed')"))
    op.create_table('slip_prints',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('wave_id', sa.BigInteger(), nullable=True),
    sa.Column('reprint', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('profile', sa.String(length=10), nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=True),
    sa.Column('printed_by', sa.String(length=60), nullable=False),
    sa.Column('station', sa.String(length=60), nullable=False),
    sa.Column('printed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_slip_prints_order_id_orders')),
    sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_slip_prints_wave_id_waves')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slip_prints'))
    )
    op.create_index('ix_slip_prints_order', 'slip_prints', ['order_id', 'printed_at'], unique=False)
    op.create_table('wave_orders',
    sa.Column('wave_id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('open', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_wave_orders_order_id_orders')),
    sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_wave_orders_wave_id_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('wave_id', 'order_id', name=op.f('pk_wave_orders'))
    )
    op.create_index('uq_wave_orders_open_order', 'wave_orders', ['order_id'], unique=True, postgresql_where=sa.text('open'))
    op.create_table('scan_refusals',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('pick_id', sa.BigInteger(), nullable=True),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('barcode', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('operator', sa.String(length=60), nullable=False),
    sa.Column('station', sa.String(length=60), nullable=False),
    sa.Column('scanned_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("reason IN ('wrong_item', 'too_many', 'cancelled', 'no_pick', 'unknown', 'notice_open', 'not_ready', 'taken', 'bad_tracking')", name=op.f('ck_scan_refusals_reason_code')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_scan_refusals_order_id_orders')),
    sa.ForeignKeyConstraint(['pick_id'], ['picks.id'], name=op.f('fk_scan_refusals_pick_id_picks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_refusals'))
    )
    op.create_index('ix_scan_refusals_operator_at', 'scan_refusals', ['operator', 'scanned_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    for table in ("scan_refusals", "wave_orders", "slip_prints", "picks", "waves"):
        op.drop_table(table)
