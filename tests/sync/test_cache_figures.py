"""The station's cache answers the map like the server does, keeps its counts through every change, and loads fast."""

import random
import sqlite3
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.domain import clock
from app.services import order_queries
from app.services.order_queries import OrderFilter
from app.sync.cache import OrderCache, Scope
from app.sync.local_db import CACHE_INDEX_NAMES, LocalDb
from tests.support.factories import make_order, make_shop, make_warehouse

FILTERS = [OrderFilter(), OrderFilter(status="paid"), OrderFilter(platform="tmall"), OrderFilter(hours=(18, 22)),
           OrderFilter(hours=(0, 12)), OrderFilter(hours=(19, 23)), OrderFilter(risk="overdue"),
           OrderFilter(status="after_sales", platform="douyin")]


def _spread(hub, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    shops = {"douyin": make_shop(hub, "douyin"), "tmall": make_shop(hub, "tmall")}
    house = make_warehouse(hub)
    made = []
    for _ in range(n):
        platform = rng.choice(list(shops))
        made.append(make_order(hub, rng.choice(["paid", "allocating", "shipped", "after_sales"]), shop_id=shops[platform],
                               platform=platform, warehouse_id=rng.choice([house, None]),
                               ordered_at=clock.now() - timedelta(hours=rng.randrange(1, 100)))[0])
    with hub.engine.begin() as conn:
        for order_no in made:
            conn.execute(sa.text("UPDATE orders SET province = :p, ship_by = ordered_at + make_interval(hours => :h) "
                                 "WHERE order_no = :o"),
                         {"p": rng.choice(["浙江省", "广东省", "四川省", None]), "h": rng.choice([2, 48, 200]),
                          "o": order_no})
    return made


def _agree(station, hub) -> None:
    with hub.engine.connect() as conn:
        shops = [OrderFilter(shop_id=s) for s in conn.scalars(sa.text("SELECT DISTINCT shop_id FROM orders"))]
    for flt in [*FILTERS, *shops]:
        counts, rates = station.cache.province_figures(flt)
        want_counts, want_rates = order_queries.province_figures(hub.uow(), flt)
        assert counts == want_counts, flt
        assert rates == pytest.approx(want_rates), flt


def test_the_cache_counts_the_map_like_the_server_and_follows_every_change(hub, make_station):
    made = _spread(hub, 40, seed=3)
    station = make_station(hub.engine.url, start=False)
    station.sync_once()
    _agree(station, hub)
    with hub.engine.begin() as conn:  # another station moves orders between every key the counts keep
        conn.execute(sa.text("UPDATE orders SET status = 'after_sales', province = '四川省' WHERE order_no = :o"),
                     {"o": made[0]})
        conn.execute(sa.text("UPDATE orders SET warehouse_id = NULL, ordered_at = ordered_at - interval '5 hours' "
                             "WHERE order_no = :o"), {"o": made[1]})
        conn.execute(sa.text("UPDATE orders SET province = NULL WHERE order_no = :o"), {"o": made[2]})
    station.sync_once()
    _agree(station, hub)


def test_a_warehouse_cache_takes_orders_that_leave_its_open_work_out_of_its_counts(hub, make_station):
    house = make_warehouse(hub)
    placed = [make_order(hub, "allocating", warehouse_id=house)[0] for _ in range(4)]
    station = make_station(hub.engine.url, scope=Scope("warehouse", warehouse_id=house), start=False)
    station.sync_once()
    assert station.cache.province_figures()[0] == {"浙江省": 4}
    with hub.engine.begin() as conn:
        conn.execute(sa.text("UPDATE orders SET status = 'shipped' WHERE order_no = ANY(:o)"), {"o": placed[:3]})
    station.sync_once()
    assert station.cache.count() == 1 and station.cache.province_figures()[0] == {"浙江省": 1}


def test_a_new_station_shows_the_newest_orders_before_its_whole_scope_has_loaded(hub, make_station):
    placed = [make_order(hub, "paid", ordered_at=clock.now() - timedelta(hours=h))[0] for h in range(1, 13)]
    station = make_station(hub.engine.url, start=False)
    assert station.feed.preload(station._engine, newest=5) == set(placed[:5])
    assert station.feed.cursor is None  # not yet caught up: the first load still runs
    assert [r.order_no for r in station.cache.list_orders()] == placed[:5]
    station.sync_once()
    assert [r.order_no for r in station.cache.list_orders()] == placed
    assert station.feed.cursor is not None


def _rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    now = clock.now()
    out = []
    for i in range(n):
        at = now - timedelta(minutes=rng.randrange(1, 7 * 24 * 60 - 10))
        out.append(dict(id=i + 1, order_no=f"OH{i:08d}", platform=rng.choice(["tmall", "douyin"]), platform_order_no=f"P{i}",
                        shop="店", ordered_at=at, customer_id="c", original_amount=Decimal("9.90"), paid_amount=Decimal("9.90"),
                        status=rng.choice(["paid", "shipped", "after_sales"]), tracking_no=f"SF{i}", invoice_status="none",
                        province=rng.choice(["浙江省", "广东省", None]), city=None, warehouse=None,
                        warehouse_id=rng.choice([1, None]), ship_by=at + timedelta(hours=48), version=1, change_seq=i + 1,
                        receiver_name=f"张{i % 50}", receiver_phone_tail=f"{i % 10000:04d}", shop_id=1))
    return out


def _recount(cache: OrderCache) -> dict[str, int]:
    """The province counts by looking at every row (what the kept counts must equal)."""
    totals: dict[str, int] = {}
    after = None
    while page := cache.list_orders(limit=1000, after=after):
        for r in page:
            if r.province:
                totals[r.province] = totals.get(r.province, 0) + 1
        after = (page[-1].ordered_at, page[-1].id)
    return totals


def test_a_first_load_into_an_empty_cache_rebuilds_every_index_and_keeps_the_counts(tmp_path):
    db = LocalDb(tmp_path / "station.sqlite3")
    cache = OrderCache(db, Scope("cs"))
    rows = _rows(6000, seed=1)
    assert len(cache.apply(rows)) == 6000  # more than 5,000 into an empty cache: the bulk path
    indexes = {r[1] for r in db.connect().execute("PRAGMA index_list(orders_cache)")}
    assert set(CACHE_INDEX_NAMES) <= indexes
    assert cache.province_figures()[0] == _recount(cache)
    assert [r.order_no for r in cache.list_orders(OrderFilter(search="SF4321"))] == ["OH00004321"]
    newer = [dict(r, status="after_sales", province="四川省", change_seq=r["change_seq"] + 10_000) for r in rows[:300]]
    cache.apply(newer)  # an ordinary pull over the top: counts move with the rows
    assert cache.province_figures()[0] == _recount(cache)


def test_a_station_file_from_before_the_map_counts_gets_them_when_it_opens(tmp_path):
    path = tmp_path / "station.sqlite3"
    cache = OrderCache(LocalDb(path), Scope("cs"))
    cache.apply(_rows(500, seed=2))
    want = cache.province_figures()
    conn = sqlite3.connect(path)  # the file as an older station left it: no counts, no band column
    conn.executescript("DROP TABLE cache_map_counts; DELETE FROM sync_meta WHERE key = 'map_counts';"
                       "DROP INDEX ix_cache_open; ALTER TABLE orders_cache DROP COLUMN hour_band;")
    conn.close()
    reopened = OrderCache(LocalDb(path), Scope("cs"))
    assert reopened.province_figures() == want
    assert reopened.list_orders(OrderFilter(hours=(18, 22)), limit=500) == cache.list_orders(OrderFilter(hours=(18, 22)), limit=500)


def _two_shops(hub) -> tuple[int, int, list[str], list[str]]:
    first, second = make_shop(hub, "tmall"), make_shop(hub, "tmall")
    in_first = [make_order(hub, "paid", shop_id=first, platform="tmall",
                           ordered_at=clock.now() - timedelta(hours=h))[0] for h in (1, 3, 5)]
    in_second = [make_order(hub, "allocating", shop_id=second, platform="tmall",
                            ordered_at=clock.now() - timedelta(hours=h))[0] for h in (2, 4)]
    return first, second, in_first, in_second


def test_the_shop_filter_of_a_synced_station_lists_and_counts_that_shops_orders(hub, make_station):
    first, second, in_first, in_second = _two_shops(hub)
    station = make_station(hub.engine.url, start=False)
    station.sync_once()
    for shop, placed in ((first, in_first), (second, in_second)):
        flt = OrderFilter(shop_id=shop)
        assert [r.order_no for r in station.cache.list_orders(flt)] == placed
        assert station.cache.list_orders(flt) == order_queries.list_orders(hub.uow(), flt)
        assert station.cache.count(flt) == len(placed)
        assert station.cache.province_figures(flt) == order_queries.province_figures(hub.uow(), flt)
    with hub.engine.begin() as conn:  # an order moved to the other shop follows through the feed
        conn.execute(sa.text("UPDATE orders SET shop_id = :s WHERE order_no = :o"), {"s": second, "o": in_first[0]})
    station.sync_once()
    assert [r.order_no for r in station.cache.list_orders(OrderFilter(shop_id=second))] == [in_first[0], *in_second]
    for shop in (first, second):  # the map's kept counts moved with the order
        assert station.cache.province_figures(OrderFilter(shop_id=shop)) == order_queries.province_figures(
            hub.uow(), OrderFilter(shop_id=shop))
    assert station.cache.list_orders(OrderFilter(shop_id=first, status="paid")) == order_queries.list_orders(
        hub.uow(), OrderFilter(shop_id=first, status="paid"))


def test_a_station_file_from_before_the_shop_id_keeps_its_rows_and_reloads_them_with_it(hub, make_station):
    first, _, in_first, _ = _two_shops(hub)
    station = make_station(hub.engine.url, name="旧工作台", start=False)
    station.sync_once()
    station.stop()
    path = station.db.path
    conn = sqlite3.connect(path)  # the file as an older station left it: no shop id, counts without a shop key
    conn.executescript(
        "DROP INDEX ix_cache_shop; DROP INDEX ix_cache_open; ALTER TABLE orders_cache DROP COLUMN shop_id;"
        "DROP TABLE cache_map_counts; CREATE TABLE cache_map_counts (province TEXT NOT NULL, status TEXT NOT NULL,"
        " platform TEXT NOT NULL, warehouse_id INTEGER NOT NULL, hour_band INTEGER NOT NULL, orders INTEGER NOT NULL,"
        " PRIMARY KEY (province, status, platform, warehouse_id, hour_band)) WITHOUT ROWID;"
        "INSERT INTO cache_map_counts SELECT province, status, platform, coalesce(warehouse_id, 0), hour_band, count(*)"
        " FROM orders_cache WHERE province IS NOT NULL GROUP BY 1, 2, 3, 4, 5;")
    conn.close()
    again = make_station(hub.engine.url, name="旧工作台", start=False)
    assert again.cache.count() == 5  # readable offline before any pull
    again.sync_once()
    assert [r.order_no for r in again.cache.list_orders(OrderFilter(shop_id=first))] == in_first
    for flt in (OrderFilter(), OrderFilter(shop_id=first), OrderFilter(shop_id=first, status="paid")):
        assert again.cache.province_figures(flt) == order_queries.province_figures(hub.uow(), flt)
