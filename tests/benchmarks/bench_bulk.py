"""Bulk-loading orders for the scale benchmarks: copies of the seeded demo orders made by SQL, then VACUUM ANALYZE."""

from __future__ import annotations

import time

import sqlalchemy as sa

_COLUMNS = ("order_no, platform, platform_order_no, shop_id, ordered_at, paid_at, customer_id, items, original_amount,"
            " paid_amount, status, tracking_no, invoice_status, receiver_name, receiver_phone, receiver_phone_tail,"
            " receiver_address, receiver_token, province, city, district, warehouse_id, ship_by, buyer_note, version")


def bulk_orders(hub, target: int, *, days: float = 7.0, chunk: int = 200_000) -> float:
    """Grow ``orders`` to ``target`` rows with server-side copies of the seeded ones (generate_series),
    spread evenly over the last ``days`` days (ship-by 48 h after ordering, phone tails and receivers
    varied so searches find one order or a handful; orders older than 3 days are no longer open, as in life). Returns seconds, VACUUM ANALYZE included.
    """
    started = time.perf_counter()
    with hub.engine.connect() as conn:
        have = int(conn.scalar(sa.text("SELECT count(*) FROM orders")))
        seeds = int(conn.scalar(sa.text("SELECT max(id) FROM orders")))
        conn.rollback()
    made, chunk_no = 0, 0
    while have + made < target:
        chunk_no += 1
        n = min(chunk, target - have - made)
        rounds = (n + have - 1) // have
        with hub.engine.begin() as conn:
            conn.execute(sa.text(
                f"INSERT INTO orders ({_COLUMNS}) "
                "SELECT o.order_no || '-' || (:base + g), o.platform, o.platform_order_no || '-' || (:base + g), o.shop_id,"
                " t.at, t.at, o.customer_id, o.items, o.original_amount, o.paid_amount, CASE WHEN t.at < now() - interval '3 days' AND o.status IN ('pending_payment', 'paid', 'allocating') THEN 'completed' ELSE o.status END,"
                " CASE WHEN o.tracking_no IS NULL THEN NULL ELSE o.tracking_no || '-' || (:base + g) END,"
                " o.invoice_status, o.receiver_name || (g % 997), o.receiver_phone,"
                " lpad(((o.id * 7919 + g * 104729) % 10000)::text, 4, '0'), o.receiver_address, o.receiver_token,"
                " o.province, o.city, o.district, o.warehouse_id, t.at + interval '48 hours', o.buyer_note, 1"
                " FROM generate_series(1, :rounds) g CROSS JOIN orders o"
                " CROSS JOIN LATERAL (SELECT now() - make_interval(secs => random() * :span + 0 * g + 0 * o.id) AS at) t"
                " WHERE o.id <= :seeds ORDER BY g, o.id LIMIT :n"),
                {"base": have * 1000 + chunk_no * 100_000, "rounds": rounds, "seeds": seeds, "n": n,
                 "span": days * 86400})
        made += n
    with hub.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE orders"))
    return time.perf_counter() - started
