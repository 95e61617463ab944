"""Write-back and live logistics: every call to a platform or carrier, carrier pushes, each parcel's watch.

Revision ID: 0011
Revises: 0009
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

KINDS = "'ship', 'refund', 'intercept', 'subscribe'"
OUTCOMES = "'done', 'already', 'stopped', 'refund_pending', 'retry', 'refused', 'nothing'"
INTERCEPT = "'requested', 'succeeded', 'failed', 'unsupported'"


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('writeback_attempts',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('outbox_id', sa.BigInteger(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('call', sa.String(length=80), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('code', sa.String(length=120), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('tracking_no', sa.String(length=64), nullable=True),
    sa.Column('attempted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f('ck_writeback_attempts_kind_code')),
    sa.CheckConstraint(f"outcome IN ({OUTCOMES})", name=op.f('ck_writeback_attempts_outcome_code')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_writeback_attempts_order_id_orders')),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_writeback_attempts_outbox_id_outbox')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_writeback_attempts'))
    )
    op.create_index('ix_writeback_attempts_order', 'writeback_attempts', ['order_id', 'attempted_at'], unique=False)
    op.create_table('carrier_pushes',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('carrier', sa.String(length=20), nullable=False),
    sa.Column('accepted', sa.Boolean(), nullable=False),
    sa.Column('tracking_no', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('nodes', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carrier_pushes'))
    )
    op.create_index('ix_carrier_pushes_received', 'carrier_pushes', ['received_at'], unique=False)
    op.create_table('shipment_watch',
    sa.Column('shipment_id', sa.BigInteger(), nullable=False),
    sa.Column('subscribed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_node_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stale_flagged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('intercept_state', sa.String(length=20), nullable=True),
    sa.Column('intercept_message', sa.Text(), nullable=True),
    sa.CheckConstraint(f"intercept_state IN ({INTERCEPT})", name=op.f('ck_shipment_watch_intercept_state_code')),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_shipment_watch_shipment_id_shipments'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shipment_id', name=op.f('pk_shipment_watch'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('shipment_watch')
    op.drop_index('ix_carrier_pushes_received', table_name='carrier_pushes')
    op.drop_table('carrier_pushes')
    op.drop_index('ix_writeback_attempts_order', table_name='writeback_attempts')
    op.drop_table('writeback_attempts')
