"""The pull sends each change to a station once (issue #18's peak day) and still never skips a late committer.

The cursor lags one pull behind (see app/sync/feed.py), so the rows just above it used to be sent
again on every pull: each intake page was pulled and applied twice by every customer-service desk.
The pull now names the change numbers above the cursor it already holds, and the server leaves
them out. These tests interleave intake pages (many rows in one statement), colleagues' changes
(one row), late committers (an open transaction holding a smaller number) and pulls, in an order
drawn from a seeded random generator, and check at the end: no change received twice, zero
divergent rows against the database, and the cursor at the sequence's last number once settled.
"""

import random

import pytest
import sqlalchemy as sa

from app.sync import feed as feed_module
from app.sync.cache import OrderCache, Scope
from app.sync.feed import ChangeFeed
from app.sync.local_db import LocalDb
from tests.support.factories import make_order, make_shop
from tests.sync.divergence import divergent_rows

# an intake page: copies of a template order, ordered now, in one INSERT statement (one NOTIFY, many rows)
_PAGE = sa.text(
    "INSERT INTO orders (order_no, platform, platform_order_no, shop_id, ordered_at, customer_id, items,"
    " original_amount, paid_amount, status, receiver_name, receiver_phone, receiver_phone_tail, receiver_address,"
    " province, city, district)"
    " SELECT o.order_no || '-' || :tag || '-' || g, o.platform, o.platform_order_no || '-' || :tag || '-' || g,"
    " o.shop_id, o.ordered_at, o.customer_id, o.items, o.original_amount, o.paid_amount, o.status, o.receiver_name,"
    " o.receiver_phone, o.receiver_phone_tail, o.receiver_address, o.province, o.city, o.district"
    " FROM orders o, generate_series(1, :n) g WHERE o.order_no = :template")
_NOTE = sa.text("UPDATE orders SET seller_note = coalesce(seller_note, '') || :text WHERE order_no = :o")
_LAST = sa.text("SELECT last_value FROM order_change_seq")


def _received(cache: OrderCache) -> list[int]:
    """Every change number the cache is handed by the feed's pulls (the real apply still runs)."""
    got: list[int] = []
    apply = cache.apply

    def recording(rows, **options):  # noqa: ANN001, ANN202 - the same signature as OrderCache.apply
        got.extend(r["change_seq"] for r in rows)
        return apply(rows, **options)

    cache.apply = recording  # type: ignore[method-assign]
    return got


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_random_interleaving_of_intake_pages_changes_and_late_commits_arrives_once_and_whole(
        hub, tmp_path, monkeypatch, seed):
    monkeypatch.setattr(feed_module, "PAGE", 7)  # small pages, so a pull also runs on past a full one
    rng = random.Random(seed)
    shop = make_shop(hub)
    template, _ = make_order(hub, "paid", shop_id=shop)
    for _ in range(3):
        make_order(hub, "paid", shop_id=shop)
    db = LocalDb(tmp_path / "s.sqlite3")
    cache = OrderCache(db, Scope())
    feed = ChangeFeed(db, cache)
    feed.pull(hub.engine)
    received = _received(cache)
    open_: list[tuple[sa.Connection, str]] = []  # late committers and the order each holds locked
    pages = 0
    for step in range(40):
        kind = rng.choice(["page", "page", "note", "note", "late", "commit", "pull", "pull"])
        if kind == "page":
            pages += 1
            with hub.engine.begin() as conn:
                conn.execute(_PAGE, {"tag": f"{seed}p{pages}", "n": rng.randint(1, 20), "template": template})
        elif kind in ("note", "late"):
            locked = {o for _, o in open_}  # an update of a row an open transaction holds would wait for it
            with hub.engine.connect() as conn:
                free = [o for o in conn.scalars(sa.text("SELECT order_no FROM orders ORDER BY id")) if o not in locked]
                conn.rollback()
            if not free:
                continue
            order_no = rng.choice(free)
            conn = hub.engine.connect()
            conn.execute(_NOTE, {"text": f"[{step}]", "o": order_no})
            if kind == "note":
                conn.commit()
                conn.close()
            else:  # holds its (smaller) change number while later ones commit and get pulled
                open_.append((conn, order_no))
        elif kind == "commit" and open_:
            conn, _ = open_.pop(rng.randrange(len(open_)))
            conn.commit()
            conn.close()
        else:
            feed.pull(hub.engine)
    for conn, _ in open_:
        conn.commit()
        conn.close()
    for _ in range(3):
        feed.pull(hub.engine)
    assert divergent_rows(cache, hub.engine) == []
    assert len(received) == len(set(received)), "a change was sent to the station twice"
    with hub.engine.connect() as conn:
        last = conn.scalar(_LAST)
        conn.rollback()
    assert feed.cursor == last  # settled: nothing in flight, the cursor has caught up


def test_an_intake_page_is_received_once_although_the_cursor_lags_a_pull(hub, tmp_path):
    shop = make_shop(hub)
    template, _ = make_order(hub, "paid", shop_id=shop)
    db = LocalDb(tmp_path / "s.sqlite3")
    cache = OrderCache(db, Scope())
    feed = ChangeFeed(db, cache)
    feed.pull(hub.engine)
    received = _received(cache)
    with hub.engine.begin() as conn:
        conn.execute(_PAGE, {"tag": "once", "n": 100, "template": template})
    feed.pull(hub.engine)
    cursor_after_first = feed.cursor
    feed.pull(hub.engine)  # the cursor moves up to the page only now: the page is above it during this pull
    assert feed.cursor > cursor_after_first
    assert len(received) == 100
    assert feed.stats["rows"] == 100
    assert cache.count() == 101
