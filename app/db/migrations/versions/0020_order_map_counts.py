"""The order map's counts (issue #18): deltas appended by statement triggers, folded into counts.

Revision ID: 0020
Revises: 0018

A re-count after a filter change used to group every order by province (p50 280 ms at 200,000
orders, growing with the table). Now every insert, update and delete of orders appends its net
change per (province, status, platform, shop, warehouse, 下单时段) to ``order_map_deltas``:
append-only, so concurrent writers never wait on one counter row. ``order_map_fold()`` (the hub
calls it every few seconds; readers may too) moves the deltas into ``order_map_counts`` under an
advisory lock. Readers sum both tables in one snapshot, so counts are exact at any moment.
Orders without a province are not on the map and not counted.
"""

from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: Union[str, Sequence[str], None] = "0018"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Kept literally (a migration never changes once released); the 下单时段 code list in
# app/domain/fields.py must start its bands at these hours (tests/sync/test_map_counts.py checks).
HOUR_BANDS = (0, 6, 12, 18, 22)

_KEY = "province, status, platform, shop_id, warehouse_id, hour_band"
_FROM_ROWS = ("SELECT province, status, platform, shop_id, coalesce(warehouse_id, 0), order_hour_band(ordered_at), {sign} "
              "FROM {rows} WHERE province IS NOT NULL")

SQL = f"""
CREATE FUNCTION order_hour_band(at timestamptz) RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE WHEN h < 6 THEN 0 WHEN h < 12 THEN 6 WHEN h < 18 THEN 12 WHEN h < 22 THEN 18 ELSE 22 END)::smallint
    FROM (SELECT extract(hour FROM at AT TIME ZONE 'Asia/Shanghai')::int AS h) x
$$;

CREATE FUNCTION order_map_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO order_map_deltas ({_KEY}, orders)
        SELECT {_KEY}, sum(n) FROM ({_FROM_ROWS.format(sign='1 AS n', rows='new_rows')}) c({_KEY}, n)
        GROUP BY {_KEY};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO order_map_deltas ({_KEY}, orders)
        SELECT {_KEY}, sum(n) FROM ({_FROM_ROWS.format(sign='-1 AS n', rows='old_rows')}) c({_KEY}, n)
        GROUP BY {_KEY};
    ELSE
        INSERT INTO order_map_deltas ({_KEY}, orders)
        SELECT {_KEY}, sum(n) FROM ({_FROM_ROWS.format(sign='1 AS n', rows='new_rows')}
                                    UNION ALL {_FROM_ROWS.format(sign='-1', rows='old_rows')}) c({_KEY}, n)
        GROUP BY {_KEY} HAVING sum(n) <> 0;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER orders_map_insert AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION order_map_note();
CREATE TRIGGER orders_map_update AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION order_map_note();
CREATE TRIGGER orders_map_delete AFTER DELETE ON orders
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION order_map_note();

CREATE FUNCTION order_map_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM order_map_deltas;
    DELETE FROM order_map_counts;
    RETURN NULL;
END $$;
CREATE TRIGGER orders_map_truncate AFTER TRUNCATE ON orders FOR EACH STATEMENT EXECUTE FUNCTION order_map_clear();

-- Moves the deltas into the counts; one folder at a time (a second caller returns at once).
CREATE FUNCTION order_map_fold() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    moved bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('order_map_fold')) THEN
        RETURN 0;
    END IF;
    WITH d AS (DELETE FROM order_map_deltas RETURNING {_KEY}, orders)
    INSERT INTO order_map_counts AS c ({_KEY}, orders)
    SELECT {_KEY}, sum(orders) FROM d GROUP BY {_KEY}
    ON CONFLICT ({_KEY}) DO UPDATE SET orders = c.orders + excluded.orders;
    GET DIAGNOSTICS moved = ROW_COUNT;
    IF moved > 0 THEN
        DELETE FROM order_map_counts WHERE orders = 0;
    END IF;
    RETURN moved;
END $$;

INSERT INTO order_map_counts ({_KEY}, orders)
SELECT province, status, platform, shop_id, coalesce(warehouse_id, 0), order_hour_band(ordered_at), count(*)
FROM orders WHERE province IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6;
"""


def upgrade() -> None:
    op.create_table(
        "order_map_counts",
        sa.Column("province", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("hour_band", sa.SmallInteger(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("province", "status", "platform", "shop_id", "warehouse_id", "hour_band",
                                name=op.f("pk_order_map_counts")),
    )
    op.create_table(
        "order_map_deltas",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("province", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("hour_band", sa.SmallInteger(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_map_deltas")),
    )
    op.create_index("ix_orders_open_ship_by", "orders", ["ship_by"],
                    postgresql_where=sa.text("status IN ('paid', 'allocating')"))
    op.execute(SQL)


def downgrade() -> None:
    op.execute("DROP TRIGGER orders_map_truncate ON orders; DROP TRIGGER orders_map_delete ON orders;"
               "DROP TRIGGER orders_map_update ON orders; DROP TRIGGER orders_map_insert ON orders;"
               "DROP FUNCTION order_map_fold(); DROP FUNCTION order_map_clear(); DROP FUNCTION order_map_note();"
               "DROP FUNCTION order_hour_band(timestamptz);")
    op.drop_index("ix_orders_open_ship_by", table_name="orders")
    op.drop_table("order_map_deltas")
    op.drop_table("order_map_counts")
