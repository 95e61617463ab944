"""Click-to-sort on the customer-service list: sorted by the query (server or station cache), paged by keyset, remembered per person."""

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtCore import QPoint, Qt

from app.demo.seed import seed_demo
from app.domain.clock import now
from app.services.order_queries import SORTABLE, OrderFilter, OrderSort, keyset, list_orders, sort_value
from app.sync.cache import OrderCache, Scope
from app.sync.feed import ChangeFeed
from app.sync.local_db import LocalDb
from app.sync.preferences import OperatorPreferences
from app.ui.cs_workspace import CustomerServiceWorkspace
from app.ui.order_table import COLUMNS


@pytest.fixture
def sorted_hub(hub):
    seed_demo(hub, seed=21, n_orders=260, anchor=now() - timedelta(hours=3))
    return hub


TEXT = ("order_no", "shop", "province", "warehouse", "tracking_no")


def _all_pages(fetch, page=37):
    rows, after = [], None
    while True:
        got = fetch(after, page)
        rows += got
        if len(got) < page:
            return rows
        after = got[-1]


def _in_order(rows, sort):
    values = [(sort_value(r, sort.key), r.id) for r in rows]
    return values == sorted(values, reverse=sort.descending)


def test_every_column_sorts_both_ways_in_the_query_and_pages_never_skip_or_repeat_a_row(sorted_hub):
    for key in SORTABLE:  # one database for all twenty: seeding per case would cost minutes
        for descending in (True, False):
            sort = OrderSort(key, descending)
            rows = _all_pages(lambda after, n: list_orders(sorted_hub.uow(), OrderFilter(), limit=n, sort=sort,
                                                           after=None if after is None else keyset(after, sort)))
            whole = list_orders(sorted_hub.uow(), OrderFilter(), limit=10_000, sort=sort)
            assert [r.id for r in rows] == [r.id for r in whole] and len(whole) >= 260, sort
            if key not in TEXT:  # text follows the database's collation, checked by the database below
                assert _in_order(whole, sort), sort
            assert len({sort_value(r, key) for r in whole}) > 1, key  # the demo data really varies in it


def test_the_station_cache_sorts_each_column_like_the_server(sorted_hub, tmp_path):
    db = LocalDb(tmp_path / "station.sqlite3")
    cache = OrderCache(db, Scope("cs", days=30))
    ChangeFeed(db, cache).pull(sorted_hub.engine)
    for key, descending in ((k, d) for k in SORTABLE for d in (True, False)):
        sort = OrderSort(key, descending)
        rows = _all_pages(lambda after, n: cache.list_orders(OrderFilter(), limit=n, sort=sort,
                                                             after=None if after is None else keyset(after, sort)))
        assert len(rows) == cache.count() and len({r.id for r in rows}) == len(rows) > 200
        if key not in TEXT:
            assert _in_order(rows, sort), sort
        else:  # SQLite compares text by code point: so does Python
            assert [(sort_value(r, key), r.id) for r in rows] == sorted(
                ((sort_value(r, key), r.id) for r in rows), reverse=descending)


def _workspace(qtbot, hub, prefs, lang="zh"):
    ws = CustomerServiceWorkspace(hub.uow, lang, prefs=prefs)
    qtbot.addWidget(ws)
    ws.resize(1400, 760)
    ws.show()
    qtbot.waitExposed(ws)
    return ws


def _click_header(qtbot, ws, key):
    header = ws.table.horizontalHeader()
    section = next(n for n, c in enumerate(COLUMNS) if c.key == key)
    x = header.sectionViewportPosition(section) + header.sectionSize(section) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))


def _shown(ws):
    while ws.model.canFetchMore():
        ws.model.fetchMore()
    return [ws.model.row_at(r) for r in range(ws.model.rowCount())]


def test_clicking_a_column_header_sorts_the_list_and_clicking_again_turns_it_round(
        qtbot, sorted_hub, tmp_path, cjk_font, shots_dir):
    ws = _workspace(qtbot, sorted_hub, OperatorPreferences(LocalDb(tmp_path / "s.sqlite3"), "xiaomei"))
    assert ws.sort == OrderSort("ordered_at", True)  # newest first until someone chooses
    _click_header(qtbot, ws, "paid_amount")
    first = ws.sort
    rows = _shown(ws)
    assert first.key == "paid_amount" and _in_order(rows, first) and len(rows) >= 260
    assert ws.table.horizontalHeader().sortIndicatorSection() == [c.key for c in COLUMNS].index("paid_amount")
    _click_header(qtbot, ws, "paid_amount")
    assert ws.sort == OrderSort("paid_amount", not first.descending)
    assert [r.id for r in _shown(ws)] == [r.id for r in reversed(rows)] or _in_order(_shown(ws), ws.sort)
    ws.sort_by("paid_amount", True)
    ws.table.scrollToTop()
    qtbot.wait(50)
    assert ws.grab().save(str(Path(shots_dir) / "cs-sorted-by-amount.png"))
    ws.status.setCurrentIndex(ws.status.findData("paid"))  # a filter keeps the sort
    narrowed = _shown(ws)
    assert narrowed and {r.status for r in narrowed} == {"paid"} and _in_order(narrowed, ws.sort)


def test_the_sort_is_remembered_per_person_and_a_damaged_one_falls_back_to_newest_first(
        qtbot, sorted_hub, tmp_path, cjk_font, shots_dir):
    station = LocalDb(tmp_path / "station.sqlite3")
    ws = _workspace(qtbot, sorted_hub, OperatorPreferences(station, "xiaomei"), lang="en")
    ws.sort_by("ship_by", False)
    ws.close()
    back = _workspace(qtbot, sorted_hub, OperatorPreferences(LocalDb(station.path), "xiaomei"), lang="en")
    header = back.table.horizontalHeader()
    assert back.sort == OrderSort("ship_by", False)
    assert (header.sortIndicatorSection(), header.sortIndicatorOrder()) == (
        [c.key for c in COLUMNS].index("ship_by"), Qt.SortOrder.AscendingOrder)
    assert _in_order(_shown(back), back.sort)
    back.table.scrollToTop()
    assert back.grab().save(str(Path(shots_dir) / "cs-sorted-remembered-en.png"))
    other = _workspace(qtbot, sorted_hub, OperatorPreferences(station, "laowang"))
    assert other.sort == OrderSort("ordered_at", True)
    with station.connect() as conn:
        conn.execute("INSERT INTO operator_prefs VALUES ('damaged', 'sort', '{\"key\": \"no_such_column\"}')")
        conn.execute("INSERT INTO operator_prefs VALUES ('broken', 'sort', 'not json')")
    for person in ("damaged", "broken"):
        assert _workspace(qtbot, sorted_hub, OperatorPreferences(station, person)).sort == OrderSort("ordered_at", True)


def test_the_sorted_query_is_answered_by_the_database_not_by_sorting_loaded_rows(sorted_hub):
    with sorted_hub.uow() as uow:
        expected = list(uow.session.scalars(sa.text(
            "SELECT order_no FROM orders ORDER BY paid_amount ASC, id ASC LIMIT 25")))
    got = list_orders(sorted_hub.uow(), OrderFilter(), limit=25, sort=OrderSort("paid_amount", False))
    assert [r.order_no for r in got] == expected
