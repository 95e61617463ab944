"""Change notices indexed by order: the health facts read every order's notices (issue #18).

Revision ID: 0055
Revises: 0052

``health_fact_source`` (0012), which ``health_refresh`` runs for every order intake or routing writes, asks
each order whether any of its change notices was an interception: ``change_notices WHERE order_id = o.id``, all
of them, acknowledged ones included. Only open notices were indexed by order (``uq_change_notices_open_order``),
so each order read the whole table: with 60,000 notices PostgreSQL spent 6.16 ms CPU per refreshed order (a
sequential scan per order; 1,033 ms per 100 orders) and 0.08 ms with this index (18 ms per 100), measured with
``tests/benchmarks/bench_health_notices.py [--without-index]`` at load 10–16. Notices only accumulate
(acknowledged ones stay as the order's story), so without it intake slowed as the business aged.
"""
from collections.abc import Sequence
from typing import Union

from alembic import op

revision: str = "0055"
down_revision: Union[str, Sequence[str], None] = "0052"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index("ix_change_notices_order", "change_notices", ["order_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_change_notices_order", table_name="change_notices")
