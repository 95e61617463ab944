"""The link between station and database is cut (connections reset) or stalled (silence) in the middle of work."""

import pytest
import sqlalchemy as sa

from app.sync.station_sync import OFFLINE
from tests.support.factories import make_order
from tests.sync.conftest import wait_for, wait_online
from tests.sync.proxy import LoopbackProxy
from tests.sync.test_commands import CS


def _note_lines(hub, order_no):
    with hub.engine.connect() as conn:
        return (conn.scalar(sa.text("SELECT seller_note FROM orders WHERE order_no = :o"), {"o": order_no}) or "").splitlines()


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["drop", "stall"])
def test_a_link_cut_mid_replay_resumes_by_itself_and_lands_each_command_once(hub, make_station, fault):
    order_no, version = make_order(hub, "paid")
    proxy = LoopbackProxy.to(hub.engine.url)
    try:
        station = make_station(proxy.url(hub.engine.url), start=False, op_timeout=1.5, connect_timeout=1)
        for n in range(200):
            station.submit(CS, "order.add_warehouse_note", {"order_no": order_no, "expected_version": version,
                                                            "text": f"第{n:03d}条"})
        station.start()
        wait_for(lambda: station.outbox.counts().get("accepted", 0) >= 20, 30, "replay under way")
        getattr(proxy, fault)()
        wait_for(lambda: station.status.state == OFFLINE, 15, "offline")
        station.submit(CS, "order.add_warehouse_note", {"order_no": order_no, "expected_version": version,
                                                        "text": "第200条"})  # made while cut off
        assert station.status.state == OFFLINE and station.status.pending > 0
        proxy.resume()
        wait_online(station, 30)
    finally:
        proxy.close()
    lines = [line.rsplit(" ", 1)[-1] for line in _note_lines(hub, order_no)]
    assert lines == [f"第{n:03d}条" for n in range(201)]
    assert station.outbox.counts() == {"accepted": 201}
