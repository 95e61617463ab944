"""Stations report to the server: heartbeats (online/offline) and print-queue failures (issue #16).

Revision ID: 0018
Revises: 0017
"""
from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: Union[str, Sequence[str], None] = "0017"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "station_heartbeats",
        sa.Column("station", sa.String(length=120), nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.String(length=20)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("operator", sa.String(length=120), nullable=True),
        sa.Column("operator_name", sa.String(length=120), nullable=True),
        sa.Column("operator_role", sa.String(length=20), nullable=True),
        sa.Column("app_version", sa.String(length=40), nullable=False),
        sa.Column("pending_outbox", sa.Integer(), nullable=False),
        sa.Column("every_seconds", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("station", name=op.f("pk_station_heartbeats")),
    )
    op.create_table(
        "print_failures",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("station", sa.String(length=120), nullable=False),
        sa.Column("printer", sa.String(length=120), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=60), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"),
                  nullable=False),
        sa.Column("operator", sa.String(length=120), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_failures")),
        sa.UniqueConstraint("station", "job_id", "attempt", name="uq_print_failures_station_job_attempt"),
    )
    op.create_index("ix_print_failures_failed_at", "print_failures", ["failed_at"])


def downgrade() -> None:
    op.drop_index("ix_print_failures_failed_at", table_name="print_failures")
    op.drop_table("print_failures")
    op.drop_table("station_heartbeats")
