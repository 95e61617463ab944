"""Each order's health facts derived once per write, not twice (issue #18).

Revision ID: 0037
Revises: 0035

``health_orders_inserted`` / ``health_orders_updated`` write the platform's side of 状态一致性 into
``order_outside_status``; that table's own statement trigger (``health_by_order_id``) already re-derives
the facts of exactly those orders, after the orders row is visible. The orders trigger then re-derived
them a second time (delete the facts from the sums, derive, add back). Now the orders trigger refreshes
only the orders the nested write did not cover, so every order is refreshed once and the rollups stay
exact: an insert refreshes every new order (through one path or the other), an update every order whose
own columns or platform report changed.

``order_hour_band`` (下单时段, in the order map's statement triggers, twice per updated order) becomes one
expression, which the planner inlines instead of calling a SQL function per row; same bands as 0020.
"""
from collections.abc import Sequence
from typing import Union

from alembic import op

revision: str = "0037"
down_revision: Union[str, Sequence[str], None] = "0035"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UPGRADE = r"""
CREATE OR REPLACE FUNCTION order_hour_band(at timestamptz) RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ('{0,0,0,0,0,0,6,6,6,6,6,6,12,12,12,12,12,12,18,18,18,18,22,22}'::smallint[])
           [extract(hour FROM at AT TIME ZONE 'Asia/Shanghai')::int + 1]
$$;

CREATE OR REPLACE FUNCTION health_orders_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- the stage the platform implied when intake stored this version: the platform's side of 状态一致性;
    -- the statement trigger on order_outside_status refreshes the facts of these orders
    INSERT INTO order_outside_status (order_id, source, stage, raw_status, reported_at)
    SELECT n.id, 'platform', n.status, n.platform_status, n.platform_updated_at FROM new_rows n
    WHERE n.platform_updated_at IS NOT NULL AND n.platform <> 'pos'
    ON CONFLICT (order_id, source) DO UPDATE SET stage = excluded.stage, raw_status = excluded.raw_status,
        reported_at = excluded.reported_at;
    -- the rest: orders with no platform report
    PERFORM health_refresh(ARRAY(SELECT n.id FROM new_rows n
                                 WHERE NOT (n.platform_updated_at IS NOT NULL AND n.platform <> 'pos')));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION health_orders_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- refreshed by the statement trigger on order_outside_status
    INSERT INTO order_outside_status (order_id, source, stage, raw_status, reported_at)
    SELECT n.id, 'platform', n.status, n.platform_status, n.platform_updated_at
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.platform_updated_at IS NOT NULL AND n.platform <> 'pos'
      AND n.platform_updated_at IS DISTINCT FROM o.platform_updated_at
    ON CONFLICT (order_id, source) DO UPDATE SET stage = excluded.stage, raw_status = excluded.raw_status,
        reported_at = excluded.reported_at;
    -- orders whose own columns changed and whose platform report did not
    PERFORM health_refresh(ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.status, n.shop_id, n.platform, n.warehouse_id, n.ship_by, n.ordered_at, n.order_no)
              IS DISTINCT FROM (o.status, o.shop_id, o.platform, o.warehouse_id, o.ship_by, o.ordered_at, o.order_no)
          AND NOT (n.platform_updated_at IS NOT NULL AND n.platform <> 'pos'
                   AND n.platform_updated_at IS DISTINCT FROM o.platform_updated_at)));
    RETURN NULL;
END $$;
"""

# The 0020 / 0012 definitions, as they were.
DOWNGRADE = r"""
CREATE OR REPLACE FUNCTION order_hour_band(at timestamptz) RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE WHEN h < 6 THEN 0 WHEN h < 12 THEN 6 WHEN h < 18 THEN 12 WHEN h < 22 THEN 18 ELSE 22 END)::smallint
    FROM (SELECT extract(hour FROM at AT TIME ZONE 'Asia/Shanghai')::int AS h) x
$$;

CREATE OR REPLACE FUNCTION health_orders_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- the stage the platform implied when intake stored this version: the platform's side of 状态一致性
    INSERT INTO order_outside_status (order_id, source, stage, raw_status, reported_at)
    SELECT n.id, 'platform', n.status, n.platform_status, n.platform_updated_at FROM new_rows n
    WHERE n.platform_updated_at IS NOT NULL AND n.platform <> 'pos'
    ON CONFLICT (order_id, source) DO UPDATE SET stage = excluded.stage, raw_status = excluded.raw_status,
        reported_at = excluded.reported_at;
    PERFORM health_refresh(ARRAY(SELECT id FROM new_rows));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION health_orders_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO order_outside_status (order_id, source, stage, raw_status, reported_at)
    SELECT n.id, 'platform', n.status, n.platform_status, n.platform_updated_at
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.platform_updated_at IS NOT NULL AND n.platform <> 'pos'
      AND n.platform_updated_at IS DISTINCT FROM o.platform_updated_at
    ON CONFLICT (order_id, source) DO UPDATE SET stage = excluded.stage, raw_status = excluded.raw_status,
        reported_at = excluded.reported_at;
    PERFORM health_refresh(ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.status, n.shop_id, n.platform, n.warehouse_id, n.ship_by, n.ordered_at, n.order_no)
              IS DISTINCT FROM (o.status, o.shop_id, o.platform, o.warehouse_id, o.ship_by, o.ordered_at, o.order_no)));
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
