"""Station sync: the commands the server has applied, one row per command UUID (at most once).

The row is written in the same transaction as the command's own changes, so "applied" and
"recorded" can never disagree; a replayed UUID finds its row and gets the recorded outcome.

Revision ID: 0006
Revises: 0003
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "applied_commands",
        sa.Column("command_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("station", sa.String(120), nullable=False),
        sa.Column("operator", sa.String(120), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False,
                  server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), server_default=sa.text("clock_timestamp()"),
                  nullable=False),
        sa.CheckConstraint("outcome IN ('accepted', 'rejected')", name=op.f("ck_applied_commands_outcome_code")),
    )
    op.create_index("ix_applied_commands_station_applied", "applied_commands", ["station", "applied_at"])


def downgrade() -> None:
    op.drop_index("ix_applied_commands_station_applied", table_name="applied_commands")
    op.drop_table("applied_commands")
