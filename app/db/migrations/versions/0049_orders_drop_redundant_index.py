"""Drop an index on ``orders`` that 0047's composites made redundant (issue #18: intake ≥ 1,000 orders/s).

Revision ID: 0049
Revises: 0047

Every new order is written into each index on ``orders`` (COPY at intake), and routing's update of status /
warehouse writes it again. ``ix_orders_status_platform_province`` (status, platform, province) served the
map's re-count under a status / platform filter before 0047; since 0047 the overdue count reads
``ix_orders_open_ship_by`` alone, the counts come from ``order_map_counts``, and the filters that still read
``orders`` (the list, the map's fallback when a 超时风险 or odd hour window is chosen) find their rows through
``ix_orders_status_platform_ordered`` / ``ix_orders_status_ordered`` / ``ix_orders_platform_ordered`` with the
same equality prefix. The fallback reads ``ship_by`` from the heap either way (it is not in this index), so
it never was an index-only scan. EXPLAIN of each such query, with and without it, in the merge notes.
"""
from collections.abc import Sequence
from typing import Union

from alembic import op

revision: str = "0049"
down_revision: Union[str, Sequence[str], None] = "0047"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.drop_index("ix_orders_status_platform_province", table_name="orders")


def downgrade() -> None:
    op.create_index("ix_orders_status_platform_province", "orders", ["status", "platform", "province"])
