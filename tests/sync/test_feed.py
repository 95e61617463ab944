"""The change feed reaches a station's cache: live, without a refresh, and never skipping a late committer."""

import pytest
import sqlalchemy as sa

from app.services import orders
from app.sync.cache import Scope
from app.sync.local_db import LocalDb
from app.sync.cache import OrderCache
from app.sync.feed import ChangeFeed
from app.services.order_queries import OrderFilter
from tests.support.factories import make_order, make_warehouse
from tests.sync.conftest import wait_for, wait_online
from tests.sync.test_commands import CS


def test_a_change_made_elsewhere_reaches_the_station_cache_without_a_refresh(hub, make_station):
    order_no, version = make_order(hub, "paid")
    seen = []
    station = make_station(hub.engine.url, pull_interval=30.0)  # only the notification can bring it quickly
    station.on_orders_changed = seen.append
    wait_online(station)
    assert station.cache.get(order_no).version == version
    orders.change_status(hub.uow(), order_no, "allocating", expected_version=version, actor=CS)
    wait_for(lambda: station.cache.get(order_no).status == "allocating", 5, "the change in the cache")
    assert any(order_no in batch for batch in seen)


def test_a_transaction_that_commits_late_with_a_smaller_change_number_is_not_missed(hub, tmp_path):
    late_no, late_v = make_order(hub, "paid")
    quick_no, quick_v = make_order(hub, "paid")
    db = LocalDb(tmp_path / "s.sqlite3")
    cache = OrderCache(db, Scope())
    feed = ChangeFeed(db, cache)
    feed.pull(hub.engine)
    slow = hub.engine.connect()
    slow.execute(sa.text("UPDATE orders SET seller_note = '晚提交' WHERE order_no = :o"), {"o": late_no})
    late_seq = slow.scalar(sa.text("SELECT change_seq FROM orders WHERE order_no = :o"), {"o": late_no})
    quick = orders.change_status(hub.uow(), quick_no, "allocating", expected_version=quick_v, actor=CS)
    assert quick.change_seq > late_seq  # the order of numbers is not the order of commits
    for _ in range(3):
        feed.pull(hub.engine)
    assert cache.get(quick_no).status == "allocating"
    assert cache.get(late_no).version == late_v
    assert feed.cursor < late_seq  # the cursor waits below the open transaction's number
    slow.commit()
    slow.close()
    feed.pull(hub.engine)
    assert cache.get(late_no).version == late_v + 1
    feed.pull(hub.engine)
    feed.pull(hub.engine)
    assert feed.cursor >= quick.change_seq  # and moves on once it has settled


def test_customer_service_search_works_offline_by_every_handle(hub, tmp_path):
    order_no, _ = make_order(hub, "paid")
    db = LocalDb(tmp_path / "s.sqlite3")
    cache = OrderCache(db, Scope())
    ChangeFeed(db, cache).pull(hub.engine)
    with hub.engine.begin() as conn:
        row = conn.execute(sa.text("SELECT platform_order_no, receiver_name FROM orders WHERE order_no = :o"),
                           {"o": order_no}).one()
        conn.execute(sa.text("UPDATE orders SET tracking_no = 'SF1234567890' WHERE order_no = :o"), {"o": order_no})
    ChangeFeed(db, cache).pull(hub.engine)
    for term in (order_no, order_no.lower(), row.platform_order_no, "5678", "sf1234567890", row.receiver_name):
        found = cache.list_orders(OrderFilter(search=term))
        assert order_no in [r.order_no for r in found], term
    assert cache.list_orders(OrderFilter(search="0000")) == [] or all(
        r.order_no != order_no for r in cache.list_orders(OrderFilter(search="0000")))


def test_a_warehouse_station_keeps_its_open_work_and_drops_what_leaves_it(hub, tmp_path):
    wh = make_warehouse(hub)
    mine, v = make_order(hub, "allocating", warehouse_id=wh)
    other, _ = make_order(hub, "allocating")
    db = LocalDb(tmp_path / "w.sqlite3")
    cache = OrderCache(db, Scope("warehouse", warehouse_id=wh))
    feed = ChangeFeed(db, cache)
    feed.pull(hub.engine)
    assert cache.get(mine) is not None and cache.get(other) is None
    orders.change_status(hub.uow(), mine, "shipped", expected_version=v, actor=CS)
    feed.pull(hub.engine)
    assert cache.get(mine) is None


def test_two_quick_changes_on_one_order_follow_each_other_rather_than_conflict(hub, make_station):
    order_no, version = make_order(hub, "paid")
    station = make_station(hub.engine.url)
    wait_online(station)
    seen = station.cache.get(order_no).version
    station.submit(CS, "order.add_warehouse_note", {"order_no": order_no, "expected_version": seen, "text": "一"})
    wait_for(lambda: station.outbox.counts().get("accepted") == 1, 10, "first applied")
    # made on the same screen, before the list caught up: it follows this station's own change
    station.submit(CS, "order.add_warehouse_note", {"order_no": order_no, "expected_version": seen, "text": "二"})
    wait_online(station)
    assert station.outbox.counts() == {"accepted": 2}
    wait_for(lambda: station.cache.get(order_no).version == version + 2, 5, "cache caught up")


def test_a_station_starting_during_a_long_transaction_waits_for_it_rather_than_skip_it(hub, make_station):
    order_no, version = make_order(hub, "paid")
    slow = hub.engine.connect()
    slow.execute(sa.text("UPDATE orders SET seller_note = '长事务' WHERE order_no = :o"), {"o": order_no})
    try:
        station = make_station(hub.engine.url)
        import time

        time.sleep(3.0)
        assert station.status.state == "syncing" and station.feed.cursor is None  # no unsafe starting point
    finally:
        slow.commit()
        slow.close()
    wait_online(station)
    assert station.cache.get(order_no).version == version + 1


@pytest.mark.parametrize("flt", [
    OrderFilter(), OrderFilter(status="paid"), OrderFilter(platform="taobao"), OrderFilter(province="浙江省"),
    OrderFilter(search="5678"), OrderFilter(status="allocating", platform="douyin"), OrderFilter(hours=(0, 12)),
    OrderFilter(hours=(12, 18)),
], ids=lambda f: repr(f)[12:60])
def test_the_cache_lists_what_the_server_lists_for_the_same_filter(hub, tmp_path, flt):
    from app.services.order_queries import list_orders

    for n, (status, platform) in enumerate([("paid", "douyin"), ("allocating", "douyin"), ("paid", "taobao"),
                                            ("shipped", "taobao"), ("allocating", "douyin"), ("cancelled", "pdd")]):
        make_order(hub, status, platform=platform)
    with hub.engine.begin() as conn:  # spread over the last days, inside the customer-service window
        conn.execute(sa.text("UPDATE orders SET ordered_at = now() - (id % 5) * interval '13 hours', "
                             "province = CASE WHEN id % 2 = 0 THEN '浙江省' ELSE '广东省' END"))
    db = LocalDb(tmp_path / "s.sqlite3")
    cache = OrderCache(db, Scope())
    ChangeFeed(db, cache).pull(hub.engine)
    assert cache.list_orders(flt, limit=3) == list_orders(hub.uow(), flt, limit=3)
    first = cache.list_orders(flt, limit=3)
    if first:
        after = (first[-1].ordered_at, first[-1].id)
        assert cache.list_orders(flt, limit=3, after=after) == list_orders(hub.uow(), flt, limit=3, after=after)
