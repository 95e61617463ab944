"""Health rollups (issue #16): outside statuses, per-order facts, hourly sums, orders per agent per day,
and the triggers that keep them current in the writer's own transaction.

Revision ID: 0012
Revises: 0014

Every trigger is statement-level with transition tables, so a COPY of 10,000 orders re-derives
10,000 facts in a few set-based statements, not 10,000 function calls. ``health_refresh(ids)``
is the one place facts change: it locks the orders (so two writers of one order take turns), takes
the old facts out of the sums, derives the new ones from ``health_fact_source`` and adds them.
"""
from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: Union[str, Sequence[str], None] = "0014"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Kept literally (a migration never changes once released); app.domain.health.RESCUE_ACTIONS must match
# (tests/health/test_rollups.py checks).
RESCUE_ACTIONS = "('order.status_override', 'order.expedite', 'order.warehouse_change', 'slip.reprint')"

COUNTERS = ("orders", "shipped", "on_time", "on_time_clean", "rescued", "rescues", "late", "checked", "mismatched",
            "exceptions", "untraceable")

FACT_SOURCE = f"""
CREATE VIEW health_fact_source AS
SELECT o.id AS order_id,
       date_trunc('hour', o.ordered_at, 'UTC') AS bucket,
       o.shop_id, o.platform, coalesce(o.warehouse_id, 0) AS warehouse_id,
       s.shipped_at IS NOT NULL AS shipped,
       coalesce(s.shipped_at <= o.ship_by, false) AS on_time,
       coalesce(s.shipped_at > o.ship_by, false) AS late,
       coalesce(a.n, 0)::int AS rescues,
       coalesce(m.checked, false) AS checked,
       coalesce(m.mismatched, false) AS mismatched,
       -- 规则可追溯性: exception orders (late, rescued, split, held, intercepted) and whether their story
       -- fails to resolve (a decision naming a rule version not on record, a rescue without who or basis,
       -- a shipped order without its parcel)
       (coalesce(s.shipped_at > o.ship_by, false) OR coalesce(a.n, 0) > 0 OR coalesce(d.exceptional, false)
        OR coalesce(cn.intercepted, false)) AS exception,
       (coalesce(d.missing_version, false) OR coalesce(a.no_basis, 0) > 0
        OR (o.status IN ('shipped', 'completed') AND coalesce(s.parcels, 0) = 0)) AS untraceable
FROM orders o
LEFT JOIN LATERAL (SELECT min(sh.shipped_at) AS shipped_at, count(*) AS parcels FROM shipments sh
                   WHERE sh.order_id = o.id) s ON true
LEFT JOIN LATERAL (SELECT count(*) AS n,
                          count(*) FILTER (WHERE coalesce(al.basis, '') = '' OR coalesce(al.operator, '') = '') AS no_basis
                   FROM audit_log al
                   WHERE al.entity_type = 'order' AND al.entity_id = o.order_no
                     AND al.action IN {RESCUE_ACTIONS}) a ON true
LEFT JOIN LATERAL (SELECT bool_or(rd.outcome IN ('split', 'held')) AS exceptional,
                          bool_or(EXISTS (SELECT 1 FROM unnest(rd.fired_rule_version_ids) v(id)
                                          WHERE NOT EXISTS (SELECT 1 FROM rule_versions rv WHERE rv.id = v.id)))
                              AS missing_version
                   FROM routing_decisions rd WHERE rd.order_id = o.id) d ON true
LEFT JOIN LATERAL (SELECT bool_or(n.interception) AS intercepted FROM change_notices n
                   WHERE n.order_id = o.id) cn ON true
LEFT JOIN LATERAL (SELECT true AS checked,
                          bool_or(NOT (x.stage = o.status
                                       OR (x.stage IN ('paid', 'allocating') AND o.status IN ('paid', 'allocating'))))
                              AS mismatched
                   FROM order_outside_status x WHERE x.order_id = o.id) m ON true
"""


def _sums(alias: str, sign: str) -> str:
    return (f"{sign} count(*), {sign} count(*) FILTER (WHERE {alias}.shipped), "
            f"{sign} count(*) FILTER (WHERE {alias}.on_time), "
            f"{sign} count(*) FILTER (WHERE {alias}.on_time AND {alias}.rescues = 0), "
            f"{sign} count(*) FILTER (WHERE {alias}.rescues > 0), {sign} coalesce(sum({alias}.rescues), 0), "
            f"{sign} count(*) FILTER (WHERE {alias}.late), {sign} count(*) FILTER (WHERE {alias}.checked), "
            f"{sign} count(*) FILTER (WHERE {alias}.mismatched), {sign} count(*) FILTER (WHERE {alias}.exception), "
            f"{sign} count(*) FILTER (WHERE {alias}.exception AND {alias}.untraceable)")


_UPSERT = ("ON CONFLICT (bucket, shop_id, warehouse_id, platform) DO UPDATE SET "
           + ", ".join(f"{c} = health_rollup.{c} + excluded.{c}" for c in COUNTERS))

REFRESH = f"""
CREATE FUNCTION health_refresh(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    -- writers of the same order take turns: the next statement's snapshot then sees the other's facts
    -- ids joined as a set, not "= ANY(ids)": a statement touching a million orders stays a hash join
    PERFORM 1 FROM orders o JOIN unnest(ids) AS i(id) ON o.id = i.id ORDER BY o.id FOR NO KEY UPDATE OF o;
    WITH old AS (DELETE FROM health_order_facts f USING unnest(ids) AS i(id) WHERE f.order_id = i.id RETURNING f.*)
    INSERT INTO health_rollup (bucket, shop_id, warehouse_id, platform, {", ".join(COUNTERS)})
    SELECT bucket, shop_id, warehouse_id, platform, {_sums("old", "-")} FROM old
    GROUP BY bucket, shop_id, warehouse_id, platform ORDER BY bucket, shop_id, warehouse_id, platform
    {_UPSERT};
    WITH new AS (INSERT INTO health_order_facts SELECT v.* FROM health_fact_source v
                 JOIN (SELECT DISTINCT id FROM unnest(ids) AS i(id)) i ON v.order_id = i.id RETURNING *)
    INSERT INTO health_rollup (bucket, shop_id, warehouse_id, platform, {", ".join(COUNTERS)})
    SELECT bucket, shop_id, warehouse_id, platform, {_sums("new", "+")} FROM new
    GROUP BY bucket, shop_id, warehouse_id, platform ORDER BY bucket, shop_id, warehouse_id, platform
    {_UPSERT};
END $$;
"""

TRIGGERS = f"""
CREATE FUNCTION health_orders_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE FUNCTION health_orders_updated() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE FUNCTION health_orders_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM health_refresh(ARRAY(SELECT id FROM old_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION health_by_order_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM health_refresh(ARRAY(SELECT DISTINCT order_id FROM old_rows WHERE order_id IS NOT NULL));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM health_refresh(ARRAY(SELECT order_id FROM new_rows WHERE order_id IS NOT NULL
                                     UNION SELECT order_id FROM old_rows WHERE order_id IS NOT NULL));
    ELSE
        PERFORM health_refresh(ARRAY(SELECT DISTINCT order_id FROM new_rows WHERE order_id IS NOT NULL));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION health_audit_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO health_agent_orders (day, operator, order_no)
    SELECT DISTINCT (n.occurred_at AT TIME ZONE 'Asia/Shanghai')::date, n.operator, n.entity_id FROM new_rows n
    WHERE n.entity_type = 'order' AND n.operator NOT LIKE 'system:%'
    ON CONFLICT DO NOTHING;
    PERFORM health_refresh(ARRAY(
        SELECT o.id FROM orders o JOIN new_rows n ON n.entity_type = 'order' AND n.entity_id = o.order_no
        WHERE n.action IN {RESCUE_ACTIONS}));
    RETURN NULL;
END $$;

CREATE TRIGGER health_orders_ins AFTER INSERT ON orders REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION health_orders_inserted();
CREATE TRIGGER health_orders_upd AFTER UPDATE ON orders REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION health_orders_updated();
CREATE TRIGGER health_orders_del AFTER DELETE ON orders REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION health_orders_deleted();
"""

for _table in ("shipments", "order_outside_status", "routing_decisions", "change_notices"):
    TRIGGERS += f"""
CREATE TRIGGER health_{_table}_ins AFTER INSERT ON {_table} REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION health_by_order_id();
CREATE TRIGGER health_{_table}_upd AFTER UPDATE ON {_table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION health_by_order_id();
CREATE TRIGGER health_{_table}_del AFTER DELETE ON {_table} REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION health_by_order_id();
"""
TRIGGERS += f"""
CREATE TRIGGER health_audit_ins AFTER INSERT ON audit_log REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION health_audit_inserted();

-- A rescue's order is locked *before* audit_log_chain takes the chain lock (BEFORE triggers fire in name
-- order): services lock an order and then write its audit, so taking the order after the chain lock
-- could deadlock with one of them.
CREATE FUNCTION health_audit_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM orders WHERE order_no = NEW.entity_id FOR NO KEY UPDATE;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_health_lock BEFORE INSERT ON audit_log FOR EACH ROW
    WHEN (NEW.entity_type = 'order' AND NEW.action IN {RESCUE_ACTIONS})
    EXECUTE FUNCTION health_audit_lock();
"""


def upgrade() -> None:
    op.create_table(
        "order_outside_status",
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("raw_status", sa.String(length=40), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_outside_status_order_id_orders"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id", "source", name=op.f("pk_order_outside_status")),
    )
    op.create_table(
        "health_order_facts",
        sa.Column("order_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("shipped", sa.Boolean(), nullable=False),
        sa.Column("on_time", sa.Boolean(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("rescues", sa.Integer(), nullable=False),
        sa.Column("checked", sa.Boolean(), nullable=False),
        sa.Column("mismatched", sa.Boolean(), nullable=False),
        sa.Column("exception", sa.Boolean(), nullable=False),
        sa.Column("untraceable", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_health_order_facts")),
    )
    op.create_index("ix_health_order_facts_bucket", "health_order_facts", ["bucket", "shop_id", "warehouse_id"])
    # the few orders a traceability list or a "late"/"rescued" click needs, without reading the rest
    op.create_index("ix_health_order_facts_exception", "health_order_facts", ["bucket"],
                    postgresql_where=sa.text("exception"))
    op.create_table(
        "health_rollup",
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shop_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("warehouse_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        *(sa.Column(c, sa.Integer(), nullable=False) for c in COUNTERS),
        sa.PrimaryKeyConstraint("bucket", "shop_id", "warehouse_id", "platform", name=op.f("pk_health_rollup")),
        # every order change updates a few of these rows: room on each page keeps the updates HOT (same
        # page, pruned as it goes) so a busy rollup does not grow into a large, slow-to-read file
        postgresql_with={"fillfactor": 40},
    )
    op.create_table(
        "health_agent_orders",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("operator", sa.String(length=60), nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("day", "operator", "order_no", name=op.f("pk_health_agent_orders")),
    )
    op.execute(FACT_SOURCE)
    op.execute(REFRESH)
    op.execute(TRIGGERS)
    # orders already there (an upgraded database) get their facts once
    op.execute("SELECT health_refresh(ARRAY(SELECT id FROM orders))")
    op.execute("""
        INSERT INTO health_agent_orders (day, operator, order_no)
        SELECT DISTINCT (occurred_at AT TIME ZONE 'Asia/Shanghai')::date, operator, entity_id FROM audit_log
        WHERE entity_type = 'order' AND operator NOT LIKE 'system:%'""")


def downgrade() -> None:
    for table in ("orders", "shipments", "order_outside_status", "routing_decisions", "change_notices"):
        for suffix in ("ins", "upd", "del"):
            op.execute(f"DROP TRIGGER IF EXISTS health_{table}_{suffix} ON {table}")
    op.execute("DROP TRIGGER IF EXISTS health_audit_ins ON audit_log")
    op.execute("DROP TRIGGER IF EXISTS audit_health_lock ON audit_log")
    for fn in ("health_orders_inserted", "health_orders_updated", "health_orders_deleted", "health_by_order_id",
               "health_audit_inserted", "health_audit_lock"):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
    op.execute("DROP FUNCTION IF EXISTS health_refresh(bigint[])")
    op.execute("DROP VIEW IF EXISTS health_fact_source")
    op.drop_table("health_agent_orders")
    op.drop_table("health_rollup")
    op.drop_index("ix_health_order_facts_exception", table_name="health_order_facts")
    op.drop_index("ix_health_order_facts_bucket", table_name="health_order_facts")
    op.drop_table("health_order_facts")
    op.drop_table("order_outside_status")
