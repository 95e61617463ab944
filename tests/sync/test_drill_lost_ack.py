"""Fault drill: the server commits, the answer is lost, on every command's first attempt (odoo/odoo#40567)."""

import pytest

from tests.support.factories import make_order
from tests.sync.drills import lost_ack
from tests.sync.lost_ack_proxy import LostAckProxy

COMMANDS = 50


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 25], ids=["one-per-transaction", "replay-batches-of-25"])
def test_fifty_commands_whose_every_first_acknowledgement_is_lost_are_applied_exactly_once(hub, make_station, batch):
    placed = [make_order(hub, "paid") for _ in range(5)]
    proxy = LostAckProxy.to(hub.engine.url)
    try:
        station = make_station(proxy.url(hub.engine.url), start=False, min_backoff=0.0, connect_timeout=2,
                               replay_batch=batch)
        figures = lost_ack(hub.engine, station, proxy, placed, commands=COMMANDS)
    finally:
        proxy.close()
    # each transaction's first answer really was lost after the commit (a batch commits its commands together)
    assert figures["acks_lost"] == -(-COMMANDS // batch)
    assert figures["applied"] == figures["commands"] == COMMANDS, figures
    assert {k: figures[k] for k in ("lost", "doubled", "out_of_order", "divergent")} == dict.fromkeys(
        ("lost", "doubled", "out_of_order", "divergent"), 0), figures
    assert station.outbox.counts() == {"accepted": COMMANDS}
