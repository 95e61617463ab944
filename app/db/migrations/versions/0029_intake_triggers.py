"""Intake cost in PostgreSQL: raw payload bodies compressed with lz4 where the server has it.

Revision ID: 0029
Revises: 0024

Payload bodies (several KB of JSON each) are compressed when stored; lz4 costs a fraction of the
CPU of the default pglz. A server built without lz4 keeps pglz (the statement is skipped).

(The ERP "order.created" event from one statement-level trigger instead of one call per inserted
row, first written here, is done by 0031 together with the stage-change event.)
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0029"
down_revision: Union[str, Sequence[str], None] = "0024"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UPGRADE = """
DO $$
BEGIN
    ALTER TABLE raw_payloads ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;  -- built without lz4: pglz stays
END $$;
"""

DOWNGRADE = """
ALTER TABLE raw_payloads ALTER COLUMN body SET COMPRESSION DEFAULT;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
