"""The order list's single filters served in list order by an index each (issue #18: a filter click at 2M).

Revision ID: 0047
Revises: 0039

A status, shop, warehouse or province filter sorted newest first walked ``ix_orders_ordered_at`` and threw
away every row of another status until it had a page: for 已取消 at 200,000 orders 4,000 heap pages and
206 ms for 200 rows (售后中 108 ms), more the larger and colder the table; 已付款 / 分配中 read every such
order and sorted them. Each filter now has ``(column, ordered_at DESC, id DESC)``, so the first page (and
every keyset page after it) is an index range of exactly the rows shown. ``ix_orders_province`` becomes the
province's ordered index (it answers equality on province as before).

The map's exception rate counts unshipped orders past ship-by per province. The planner, unable to see that
open orders are the newest ones, estimated most of them overdue and read every open order's heap row through
``ix_orders_status_platform_province`` (2,000,000 orders: 12,771 open, 8,481 heap pages, 62 ms per map
re-count, ten times the 200,000 figure) to find 59. ``ix_orders_open_ship_by`` now carries what that count and
its filters read (INCLUDE), so the count is an index-only range of the overdue entries: 0.09 ms at 2M.
"""
from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

revision: str = "0047"
down_revision: Union[str, Sequence[str], None] = "0039"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_ORDERED = (sa.text("ordered_at DESC"), sa.text("id DESC"))
_NEW = {"ix_orders_status_ordered": "status", "ix_orders_shop_ordered": "shop_id",
        "ix_orders_warehouse_ordered": "warehouse_id", "ix_orders_province_ordered": "province"}
# what the map's overdue count filters and groups on (app/services/map_counts._overdue), read from the index
_OPEN_CARRIES = ["province", "status", "platform", "shop_id", "warehouse_id", "ordered_at"]


def upgrade() -> None:
    for name, column in _NEW.items():
        op.create_index(name, "orders", [sa.text(column), *_ORDERED])
    op.drop_index("ix_orders_province", table_name="orders")
    op.drop_index("ix_orders_open_ship_by", table_name="orders")
    op.create_index("ix_orders_open_ship_by", "orders", ["ship_by"], postgresql_include=_OPEN_CARRIES,
                    postgresql_where=sa.text("status IN ('paid', 'allocating')"))


def downgrade() -> None:
    op.drop_index("ix_orders_open_ship_by", table_name="orders")
    op.create_index("ix_orders_open_ship_by", "orders", ["ship_by"], postgresql_where=sa.text("status IN ('paid', 'allocating')"))
    op.create_index("ix_orders_province", "orders", ["province"])
    for name in _NEW:
        op.drop_index(name, table_name="orders")
