"""A station keeps working while the database is down, and catches up by itself when it returns."""

import pytest
import sqlalchemy as sa

from app.services.order_queries import OrderFilter
from app.sync.station_sync import OFFLINE, ONLINE
from tests.support.factories import make_order
from tests.sync.conftest import wait_for, wait_online
from tests.sync.test_commands import CS


def _notes(hub, order_no):
    with hub.engine.connect() as conn:
        return conn.execute(sa.text("SELECT seller_note, version FROM orders WHERE order_no = :o"),
                            {"o": order_no}).one()


def _applied(hub):
    with hub.engine.connect() as conn:
        return conn.scalar(sa.text("SELECT count(*) FROM applied_commands WHERE outcome = 'accepted'"))


@pytest.mark.slow
def test_with_the_database_stopped_reads_come_from_the_cache_and_writes_wait_then_replay_once(own_pg, own_hub,
                                                                                              make_station):
    placed = [make_order(own_hub, "paid") for _ in range(3)]
    statuses = []
    station = make_station(own_hub.engine.url, on_status=statuses.append)
    wait_online(station)
    own_hub.engine.dispose()
    own_pg.stop()
    wait_for(lambda: station.status.state == OFFLINE, 15, "offline")
    # reads and searches still work, from the station's own file
    assert {r.order_no for r in station.cache.list_orders()} >= {n for n, _ in placed}
    assert [r.order_no for r in station.cache.list_orders(OrderFilter(search=placed[0][0]))] == [placed[0][0]]
    # writes queue: two notes on one order (chained), one on another
    first, v1 = placed[0]
    station.submit(CS, "order.add_warehouse_note", {"order_no": first, "expected_version": v1, "text": "离线一"})
    station.submit(CS, "order.add_warehouse_note", {"order_no": first, "expected_version": v1, "text": "离线二"})
    station.submit(CS, "order.cancel", {"order_no": placed[1][0], "expected_version": placed[1][1], "basis": "电话"})
    assert station.status.state == OFFLINE and station.status.pending == 3
    assert "离线" in station.status.text() and "3" in station.status.text()
    own_pg.start()
    wait_online(station, 30)
    note, version = _notes(own_hub, first)
    assert note.count("离线一") == 1 and note.count("离线二") == 1 and note.index("离线一") < note.index("离线二")
    assert version == v1 + 2
    assert _applied(own_hub) == 3
    wait_for(lambda: station.cache.get(placed[1][0]).status == "cancelled", 5, "cancel in the cache")
    assert [e.state for e in station.outbox.all()] == ["accepted"] * 3
    assert ONLINE in [s.state for s in statuses] and OFFLINE in [s.state for s in statuses]


@pytest.mark.slow
def test_a_database_killed_during_a_replay_resumes_without_doubling(own_pg, own_hub, make_station):
    order_no, version = make_order(own_hub, "paid")
    station = make_station(own_hub.engine.url, start=False)
    for n in range(300):
        station.submit(CS, "order.add_warehouse_note", {"order_no": order_no, "expected_version": version,
                                                        "text": f"第{n:03d}条"})
    station.start()
    wait_for(lambda: station.outbox.counts().get("accepted", 0) >= 30, 30, "replay under way")
    own_hub.engine.dispose()
    own_pg.kill()
    wait_for(lambda: station.status.state == OFFLINE, 15, "offline")
    midway = station.outbox.counts().get("accepted", 0)
    assert 0 < midway < 300
    own_pg.start()
    wait_online(station, 60)
    note, final_version = _notes(own_hub, order_no)
    lines = note.splitlines()
    assert len(lines) == 300 and [line.rsplit(" ", 1)[-1] for line in lines] == [f"第{n:03d}条" for n in range(300)]
    assert final_version == version + 300
    assert _applied(own_hub) == 300
    assert station.outbox.counts() == {"accepted": 300}
