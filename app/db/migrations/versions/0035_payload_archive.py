"""Payload archive: raw platform payloads older than the retention move to compressed files; the row stays.

Revision ID: 0035
Revises: 0031

``raw_payloads`` keeps every row (id, source, kind, sha256, status, order) so the order's story and the
audit chain still name each payload; an archived row's ``body`` is emptied and ``archive_file`` names
the gzip JSON-lines file holding its bytes (``archived_at`` when it moved). ``ix_raw_payloads_order``
finds an order's payloads for the story without reading the table; ``ix_raw_payloads_hot`` finds the
rows still holding their bytes by age for the archive run. Grants of ``payloads.archive`` are written
out here (admin and the hub's service account), so this revision never changes with the code.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: Union[str, Sequence[str], None] = "0031"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ACTIONS = ("payloads.archive",)
DEFAULT_GRANTS = [("admin", "payloads.archive"), ("service", "payloads.archive")]


def upgrade() -> None:
    op.add_column('raw_payloads', sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('raw_payloads', sa.Column('archive_file', sa.Text(), nullable=True))
    op.create_index('ix_raw_payloads_order', 'raw_payloads', ['order_id'], unique=False)
    op.create_index('ix_raw_payloads_hot', 'raw_payloads', ['received_at', 'id'], unique=False,
                    postgresql_where=sa.text('archived_at IS NULL'))
    grants = sa.table('role_permissions', sa.column('role', sa.String), sa.column('action', sa.String),
                      sa.column('granted_by', sa.String))
    op.bulk_insert(grants, [{"role": r, "action": a, "granted_by": "system:migration"} for r, a in DEFAULT_GRANTS])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM role_permissions WHERE action = ANY(:actions)")
               .bindparams(actions=list(ACTIONS)))
    op.drop_index('ix_raw_payloads_hot', table_name='raw_payloads')
    op.drop_index('ix_raw_payloads_order', table_name='raw_payloads')
    op.drop_column('raw_payloads', 'archive_file')
    op.drop_column('raw_payloads', 'archived_at')
