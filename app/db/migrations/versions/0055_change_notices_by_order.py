"""Change notices indexed by order: the health facts read every order's notices (issue #18).

Revision ID: 0055
Revises: 0051

``health_fact_source`` (0012), which ``health_refresh`` runs for every order intake or routing writes, asks
each order whether any of its change notices was an interception: ``change_notices WHERE order_id = o.id``, all
of them, acknowledged ones included. Only open notices were indexed by order (``uq_change_notices_open_order``),
so each order read the whole table: measured with 60,000 notices, refreshing 100 orders took 1,173 ms
(a sequential scan per order) and 18 ms with this index (tests/benchmarks: session 26 report). Notices only
accumulate (acknowledged ones stay as the order's story), so without it intake slows as the business ages.
"""
from collections.abc import Sequence
from typing import Union

from alembic import op

revision: str = "0055"
down_revision: Union[str, Sequence[str], None] = "0051"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index("ix_change_notices_order", "change_notices", ["order_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_change_notices_order", table_name="change_notices")
