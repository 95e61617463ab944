"""Bulk-loading orders for the scale benchmarks: copies of the seeded demo orders made by SQL, then VACUUM ANALYZE.

Fast at 2,000,000 (issue #18): the rows are generated inside PostgreSQL in one transaction with the orders'
secondary indexes dropped and rebuilt afterwards (a sorted build instead of millions of random inserts), and
the statement triggers that keep derived tables (map deltas, health facts and rollup, the change NOTIFY, ERP
events) switched off during the copy and replaced by one set-wise pass over the new rows through the same
definitions: the map's deltas by ``order_hour_band`` as its trigger groups them, the health facts by the
product's own ``health_refresh``. Row triggers stay on (the change stamp and the e-invoice request fire as for
any insert). :func:`consistent` compares the result with a full recount.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

_COLUMNS = ("order_no, platform, platform_order_no, shop_id, ordered_at, paid_at, customer_id, items, original_amount,"
            " paid_amount, status, tracking_no, invoice_status, receiver_name, receiver_phone, receiver_phone_tail,"
            " receiver_address, receiver_token, province, city, district, warehouse_id, ship_by, buyer_note, version")

# statement triggers whose work is redone set-wise below (or, for the NOTIFY and ERP events, has no listener
# in a benchmark: an ERP endpoint is not configured in the demo company, so its trigger writes nothing anyway)
_DERIVED_TRIGGERS = ("orders_map_insert", "health_orders_ins", "orders_notify_insert", "orders_erp_created")

_MAP_KEY = "province, status, platform, shop_id, warehouse_id, hour_band"

# the secondary indexes of orders that no constraint owns (the primary key and unique keys stay)
_INDEXES = """
SELECT i.indexname, i.indexdef FROM pg_indexes i
WHERE i.schemaname = current_schema() AND i.tablename = 'orders'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.schemaname) || '.' ||
                                                                     quote_ident(i.indexname))::regclass)
"""


def bulk_orders(hub, target: int, *, days: float = 7.0, chunk: int = 500_000, phases: dict[str, float] | None = None) -> float:
    """Grow ``orders`` to ``target`` rows with server-side copies of the seeded ones (generate_series),
    spread evenly over the last ``days`` days (ship-by 48 h after ordering, phone tails and receivers
    varied so searches find one order or a handful; an order past its ship-by is no longer open except 1 in 200, so
    overdue orders are 0.5 % of a day's orders, not a whole day of them as the earlier generator left: that made the
    map's overdue count grow tenfold with the table, 66,000 overdue at 2M, which no shop has).
    A database already at ``target`` is left as it is (a kept benchmark database is reused). Returns seconds,
    VACUUM ANALYZE included; ``phases`` (if given) receives the seconds of each step.
    """
    phases = {} if phases is None else phases
    mark = [time.perf_counter()]

    def step(name: str) -> None:
        now = time.perf_counter()
        phases[name] = round(now - mark[0], 1)
        mark[0] = now

    started = time.perf_counter()
    with hub.engine.connect() as conn:
        have = int(conn.scalar(sa.text("SELECT count(*) FROM orders")))
        seeds = int(conn.scalar(sa.text("SELECT max(id) FROM orders")))
        conn.rollback()
    if have >= target:
        return time.perf_counter() - started
    made, chunk_no = 0, 0
    with hub.engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL maintenance_work_mem = '256MB'"))
        top = int(conn.scalar(sa.text("SELECT max(id) FROM orders")))
        for name in _DERIVED_TRIGGERS:
            conn.execute(sa.text(f"ALTER TABLE orders DISABLE TRIGGER {name}"))
        indexes = conn.execute(sa.text(_INDEXES)).all()
        for name, _ in indexes:
            conn.execute(sa.text(f'DROP INDEX "{name}"'))
        while have + made < target:
            chunk_no += 1
            n = min(chunk, target - have - made)
            conn.execute(sa.text(
                f"INSERT INTO orders ({_COLUMNS}) "
                "SELECT o.order_no || '-' || (:base + g), o.platform, o.platform_order_no || '-' || (:base + g), o.shop_id,"
                " t.at, t.at, o.customer_id, o.items, o.original_amount, o.paid_amount, CASE WHEN t.at < now() - interval '48 hours' AND o.status IN ('pending_payment', 'paid', 'allocating') AND s % 200 <> 0 THEN 'completed' ELSE o.status END,"
                " CASE WHEN o.tracking_no IS NULL THEN NULL ELSE o.tracking_no || '-' || (:base + g) END,"
                " o.invoice_status, o.receiver_name || (g % 997), o.receiver_phone,"
                " lpad(((o.id * 7919 + g * 104729) % 10000)::text, 4, '0'), o.receiver_address, o.receiver_token,"
                " o.province, o.city, o.district, o.warehouse_id, t.at + interval '48 hours', o.buyer_note, 1"
                # row s copies seed number s mod have in round g = s div have + 1: a hash join, no sort of wide rows
                " FROM generate_series(0, :n - 1) s"
                " CROSS JOIN LATERAL (SELECT s / :have + 1 AS g) r(g)"
                " JOIN (SELECT x.*, row_number() OVER (ORDER BY x.id) - 1 AS k FROM orders x WHERE x.id <= :seeds) o"
                " ON o.k = s % :have"
                " CROSS JOIN LATERAL (SELECT now() - make_interval(secs => random() * :span + 0 * s) AS at) t"),
                {"base": have * 1000 + chunk_no * 100_000, "have": have, "seeds": seeds, "n": n,
                 "span": days * 86400})
            made += n
        step("insert")
        for _, definition in indexes:
            conn.execute(sa.text(definition))
        step("indexes")
        for name in _DERIVED_TRIGGERS:
            conn.execute(sa.text(f"ALTER TABLE orders ENABLE TRIGGER {name}"))
        # what the map's statement trigger appends for an insert (migration 0020), for all new rows at once
        conn.execute(sa.text(
            f"INSERT INTO order_map_deltas ({_MAP_KEY}, orders) "
            "SELECT province, status, platform, shop_id, coalesce(warehouse_id, 0), order_hour_band(ordered_at), count(*) "
            "FROM orders WHERE id > :top AND province IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6"), {"top": top})
        step("map_deltas")
        # the health trigger's own call: the copies carry no platform report, so every new order is refreshed
        conn.execute(sa.text("SELECT health_refresh(ARRAY(SELECT id FROM orders WHERE id > :top))"), {"top": top})
        step("health_refresh")
    step("commit")
    with hub.engine.begin() as conn:
        conn.execute(sa.text("SELECT order_map_fold()"))
    with hub.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("orders", "order_map_counts", "order_map_deltas", "health_order_facts", "health_rollup"):
            conn.execute(sa.text(f"VACUUM ANALYZE {table}"))
    step("fold_and_vacuum")
    return time.perf_counter() - started


def consistent(hub) -> dict[str, int]:
    """Kept counts against a recount of every order: map count rows and health rollup keys that differ (0, 0 is
    right), from the product's own recount (``health_ops``) and the map's group-by."""
    from app.services import health_ops

    stored, recount = health_ops.stored_rollup(hub.uow()), health_ops.recomputed_rollup(hub.uow())
    health_off = sum(1 for k in stored.keys() | recount.keys() if stored.get(k) != recount.get(k))
    with hub.engine.connect() as conn:
        map_off = int(conn.scalar(sa.text(
            f"WITH kept AS (SELECT {_MAP_KEY}, sum(orders) AS n FROM (SELECT {_MAP_KEY}, orders FROM order_map_counts "
            f"UNION ALL SELECT {_MAP_KEY}, orders FROM order_map_deltas) u GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(orders) <> 0), "
            "counted AS (SELECT province, status, platform, shop_id, coalesce(warehouse_id, 0) AS warehouse_id, "
            "order_hour_band(ordered_at) AS hour_band, count(*) AS n FROM orders WHERE province IS NOT NULL "
            "GROUP BY 1, 2, 3, 4, 5, 6) "
            f"SELECT count(*) FROM kept FULL JOIN counted USING ({_MAP_KEY}) WHERE kept.n IS DISTINCT FROM counted.n")))
        conn.rollback()
    return {"map_rows_off": map_off, "health_keys_off": health_off}
