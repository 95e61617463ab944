"""The order map's counts (migration 0020) agree with a count of every order, whatever writers did, folded or not."""

import random
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.domain import clock
from app.domain.fields import CODE_LISTS
from app.domain.hour_bands import HOUR_BANDS, bands_for
from app.services import map_counts, order_queries
from app.services.order_queries import OrderFilter
from tests.support.factories import make_order, make_shop, make_warehouse

PROVINCES = ("浙江省", "广东省", "四川省", None)
FILTERS = [OrderFilter(), OrderFilter(status="paid"), OrderFilter(status="after_sales"), OrderFilter(platform="tmall"),
           OrderFilter(hours=(18, 22)), OrderFilter(hours=(0, 12)), OrderFilter(status="paid", platform="douyin"),
           OrderFilter(status="allocating", hours=(18, 22))]


def _spread(hub, n: int, seed: int) -> list[str]:
    """Orders over several provinces, statuses, shops, warehouses and hours of the day (some overdue)."""
    rng = random.Random(seed)
    shops = [make_shop(hub, "douyin"), make_shop(hub, "tmall")]
    houses = [make_warehouse(hub), None]
    made = []
    for _ in range(n):
        shop = rng.choice(shops)
        order_no, _v = make_order(hub, rng.choice(["paid", "allocating", "shipped", "after_sales"]), shop_id=shop,
                                  platform="douyin" if shop == shops[0] else "tmall", warehouse_id=rng.choice(houses),
                                  ordered_at=clock.now() - timedelta(hours=rng.randrange(1, 72)))
        made.append(order_no)
    with hub.engine.begin() as conn:
        for order_no in made:
            conn.execute(sa.text("UPDATE orders SET province = :p, ship_by = ordered_at + make_interval(hours => :h) "
                                 "WHERE order_no = :o"),
                         {"p": rng.choice(PROVINCES), "h": rng.choice([2, 24, 48]), "o": order_no})
    return made


def _both(hub, flt):
    return map_counts.province_figures(hub.uow(), flt), order_queries.province_figures(hub.uow(), flt)


def _same(hub, flt) -> None:
    (counts, rates), (want_counts, want_rates) = _both(hub, flt)
    assert counts == want_counts, flt
    assert rates == pytest.approx(want_rates), flt


def test_the_counts_match_a_count_of_every_order_after_inserts_updates_and_deletes_folded_or_not(hub):
    made = _spread(hub, 40, seed=18)
    with hub.engine.connect() as conn:
        shop, house = conn.execute(sa.text("SELECT shop_id, warehouse_id FROM orders WHERE order_no = :o"),
                                   {"o": made[0]}).one()
    for flt in [*FILTERS, OrderFilter(shop_id=shop), OrderFilter(warehouse_id=house, status="allocating")]:
        _same(hub, flt)  # straight from the deltas the writers appended
    with hub.engine.begin() as conn:  # an order moves province, status and warehouse; another is deleted
        conn.execute(sa.text("UPDATE orders SET province = '四川省', status = 'after_sales', warehouse_id = NULL "
                             "WHERE order_no = :o"), {"o": made[0]})
        conn.execute(sa.text("UPDATE orders SET ordered_at = ordered_at + interval '7 hours' WHERE order_no = :o"),
                     {"o": made[1]})
        conn.execute(sa.text("DELETE FROM orders WHERE order_no = :o"), {"o": made[2]})
    for flt in FILTERS:
        _same(hub, flt)
    map_counts.fold(hub.uow())
    with hub.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM order_map_deltas")) == 0
        assert conn.scalar(sa.text("SELECT count(*) FROM order_map_counts WHERE orders <= 0")) == 0
    for flt in FILTERS:
        _same(hub, flt)


def test_a_filter_the_counts_cannot_answer_is_counted_from_the_orders_themselves(hub):
    _spread(hub, 20, seed=7)
    for flt in (OrderFilter(hours=(19, 23)), OrderFilter(risk="overdue"), OrderFilter(risk="on_track")):
        assert not map_counts.answerable(flt)
        _same(hub, flt)


def test_two_writers_adding_orders_of_the_same_kind_at_once_never_wait_on_a_shared_counter(hub):
    make_order(hub, "paid")  # the same province, status, shop kind and hour as the two below
    first = hub.engine.connect()
    first.begin()
    first.execute(sa.text("UPDATE orders SET status = 'allocating'"))  # holds its order's row, appends its delta
    try:
        with hub.engine.connect() as second:
            second.execute(sa.text("SET lock_timeout = '2s'"))
            make_order(hub, "paid")  # a second writer, same counter key: commits without waiting
            second.execute(sa.text("SELECT order_map_fold()"))  # even a fold does not wait on the open writer
            second.commit()
    finally:
        first.rollback()
        first.close()
    _same(hub, OrderFilter())


def test_the_hour_bands_of_the_counts_are_the_bands_the_filter_bar_offers():
    text = (Path(__file__).parents[2] / "app/db/migrations/versions/0020_order_map_counts.py").read_text(encoding="utf-8")
    literal = re.search(r"HOUR_BANDS = \(([\d, ]+)\)", text)
    assert literal is not None
    assert tuple(int(h) for h in literal.group(1).split(",")) == tuple(start for start, _ in HOUR_BANDS)
    offered = [tuple(int(h) for h in code.split("-")) for code in CODE_LISTS["hour_band"]]
    assert offered == list(HOUR_BANDS)
    assert all(bands_for(band) == [band[0]] for band in offered)
    assert bands_for((0, 24)) == [0, 6, 12, 18, 22] and bands_for((7, 12)) is None


def test_without_a_hub_to_fold_them_a_reader_folds_the_deltas_once_enough_are_waiting(hub, monkeypatch):
    monkeypatch.setattr(map_counts, "FOLD_AT", 3)
    _spread(hub, 6, seed=5)  # more keys changed than the threshold
    with hub.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM order_map_deltas")) >= 3
    _same(hub, OrderFilter())
    with hub.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM order_map_deltas")) == 0
    _same(hub, OrderFilter())  # and the folded counts still agree


def test_the_hour_band_of_every_hour_of_the_day_and_the_planner_inlines_it(hub):
    """0037 rewrote order_hour_band as one expression: same band for every hour (北京时间), no call per row."""
    starts = [start for start, _ in HOUR_BANDS]
    with hub.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT h, order_hour_band(make_timestamptz(2026, 3, 1, h, 30, 0, 'Asia/Shanghai'))"
            " FROM generate_series(0, 23) h ORDER BY h")).all()
        plan = "\n".join(conn.scalars(sa.text(
            "EXPLAIN (VERBOSE) SELECT order_hour_band(ordered_at) FROM orders")))
    assert [band for _, band in rows] == [max(s for s in starts if s <= h) for h, _ in rows]
    assert "order_hour_band" not in plan


def test_the_overdue_count_reads_only_the_overdue_entries_whatever_the_filter(hub):
    """The filter narrows the count, not the rows read: the plan is the partial index's range of overdue entries
    for every filter (a status in WHERE let the planner walk all that status's orders, a read that grows with the
    table), and a status that is never unshipped asks nothing."""
    _spread(hub, 30, seed=25)
    plans = set()
    with hub.engine.connect() as conn:
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))  # the tiny test table would be read whole anyway
        conn.execute(sa.text("ANALYZE orders"))
        for flt in FILTERS:
            overdue = map_counts._overdue(flt)
            if flt.status == "after_sales":
                assert overdue is None
                continue
            sql = str(overdue.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            plan = "\n".join(conn.scalars(sa.text("EXPLAIN (COSTS OFF) " + sql)))
            plans.add("\n".join(line for line in plan.splitlines() if "Filter:" not in line))
            assert "ix_orders_open_ship_by" in plan, (flt, plan)
        conn.rollback()
    assert len(plans) == 1, plans  # one plan for every filter: only the aggregate's FILTER differs
