"""The demo company: reproducible from its seed, and as rich as a newcomer expects."""

import hashlib
import json
from datetime import UTC, datetime

import sqlalchemy as sa

from app.demo.seed import TABLES, seed_demo
from app.domain.address import load_regions
from app.domain.fields import CODE_LISTS
from app.services import audit

ANCHOR = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
# Columns the database fills in itself (clock, sequence) are not part of what the seed decides.
VOLATILE = {"created_at", "updated_at", "change_seq", "received_at", "next_attempt_at"}


def _digest(hub) -> str:
    h = hashlib.sha256()
    with hub.engine.connect() as conn:
        for table in (*TABLES, "audit_log"):
            columns = [c for c in sa.inspect(conn).get_columns(table) if c["name"] not in VOLATILE
                       and not (table == "audit_log" and c["name"] in ("occurred_at", "hash", "prev_hash"))]
            names = ", ".join(c["name"] for c in columns)
            for row in conn.execute(sa.text(f"SELECT {names} FROM {table} ORDER BY 1, 2")):
                h.update(json.dumps([str(v) for v in row], ensure_ascii=False).encode())
    return h.hexdigest()


def test_the_same_seed_gives_the_same_company(hub, database_url, pg_admin_url, tmp_path):
    from app.bootstrap import bootstrap
    from app.settings import Settings
    from tests.conftest import _numbers

    seed_demo(hub, seed=7, n_orders=400, anchor=ANCHOR)
    first = _digest(hub)
    other_name = f"demo_twin_{next(_numbers)}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {other_name} TEMPLATE orderhub_template"))
    twin = bootstrap(Settings(database_url=pg_admin_url.set(database=other_name).render_as_string(False),
                              data_dir=tmp_path))
    try:
        seed_demo(twin, seed=7, n_orders=400, anchor=ANCHOR)
        assert _digest(twin) == first
        twin_other = seed_demo(twin, seed=8, n_orders=400, anchor=ANCHOR, reset=True)
        assert twin_other.created and _digest(twin) != first
    finally:
        twin.close()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE {other_name} WITH (FORCE)"))
        admin.dispose()


def test_the_demo_company_looks_like_the_users_brand(hub):
    report = seed_demo(hub, seed=20261125, n_orders=3000, anchor=ANCHOR)
    assert report.created
    c = report.counts
    assert c["shops"] == 12 and c["warehouses"] == 4 and c["skus"] == 300
    assert c["orders"] >= 3000 and c["tracking_events"] > c["shipments"] > 1000
    with hub.engine.connect() as conn:
        q = lambda sql: conn.execute(sa.text(sql)).all()  # noqa: E731
        assert {p for (p,) in q("SELECT DISTINCT platform FROM shops")} == set(CODE_LISTS["platform"])
        assert {s for (s,) in q("SELECT DISTINCT status FROM orders")} == set(CODE_LISTS["order_status"])
        provinces = {p for (p,) in q("SELECT DISTINCT province FROM orders WHERE province IS NOT NULL")}
        assert provinces == {p.name for p in load_regions().provinces}  # every province, 台湾 and 港澳 included
        span = q("SELECT max(ordered_at) - min(ordered_at) FROM orders")[0][0]
        assert 6 <= span.days <= 7
        assert q("SELECT count(*) FROM invoices WHERE kind = 'red' AND red_flush_of_id IS NOT NULL")[0][0] >= 1
        assert q("SELECT count(*) FROM orders WHERE invoice_status = 'reissue_pending'")[0][0] >= 1
        assert q("SELECT count(DISTINCT kind) FROM after_sales_cases")[0][0] == 4
        assert q("SELECT count(*) FROM after_sales_cases WHERE exchange_order_id IS NOT NULL")[0][0] >= 1
        assert q("SELECT count(DISTINCT key) FROM order_ext_attrs WHERE key IN ('author_commission_rate', 'video_id',"
                 " 'taoke_pid', 'coupon_id')")[0][0] == 4
        assert q("SELECT count(*) FROM tracking_events WHERE courier_name IS NOT NULL AND courier_phone IS NOT NULL")[0][0] > 0
        # gifts: every order paid at 299 or more carries the socks line
        assert q("SELECT count(*) FROM orders WHERE paid_amount >= 299 AND original_amount > 0 AND NOT EXISTS ("
                 " SELECT 1 FROM jsonb_array_elements(items) it WHERE (it->>'is_gift')::bool)")[0][0] == 0
        # stock agrees with the orders being picked
        assert q("SELECT count(*) FROM stock WHERE reserved > on_hand")[0][0] == 0
        assert q("SELECT sum(reserved) FROM stock")[0][0] > 0
    assert audit.verify(hub.uow()).ok and c["audit_log"] > 50


def test_seeding_twice_leaves_the_existing_company_alone(hub):
    seed_demo(hub, seed=1, n_orders=50, anchor=ANCHOR)
    again = seed_demo(hub, seed=2, n_orders=50, anchor=ANCHOR)
    assert not again.created and again.counts["orders"] >= 50
