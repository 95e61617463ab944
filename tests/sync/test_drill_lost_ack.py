"""Fault drill: the server commits, the answer is lost, on every command's first attempt (odoo/odoo#40567)."""

import pytest

from tests.support.factories import make_order
from tests.sync.conftest import wait_online
from tests.sync.divergence import applied_counts, assert_converged, note_lines
from tests.sync.lost_ack_proxy import LostAckProxy
from tests.sync.test_commands import CS

COMMANDS, ORDERS = 50, 5


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 25], ids=["one-per-transaction", "replay-batches-of-25"])
def test_fifty_commands_whose_every_first_acknowledgement_is_lost_are_applied_exactly_once(hub, make_station, batch):
    placed = [make_order(hub, "paid") for _ in range(ORDERS)]
    proxy = LostAckProxy.to(hub.engine.url)
    try:
        station = make_station(proxy.url(hub.engine.url), start=False, min_backoff=0.0, connect_timeout=2,
                               replay_batch=batch)
        for n in range(COMMANDS):
            order_no, version = placed[n % ORDERS]
            station.submit(CS, "order.add_warehouse_note", {"order_no": order_no, "expected_version": version,
                                                            "text": f"第{n:03d}条"})
        station.start()
        wait_online(station, 60)
    finally:
        proxy.close()
    assert proxy.dropped == -(-COMMANDS // batch)  # each transaction's first answer really was lost after the commit
    assert applied_counts(hub.engine) == (COMMANDS, COMMANDS)
    for k, (order_no, _) in enumerate(placed):
        assert note_lines(hub.engine, order_no) == [f"第{n:03d}条" for n in range(k, COMMANDS, ORDERS)]
    assert station.outbox.counts() == {"accepted": COMMANDS}
    assert_converged(station.cache, hub.engine)
