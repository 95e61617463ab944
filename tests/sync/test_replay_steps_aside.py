"""A station's replay behind an order busy elsewhere does not hold up the colleagues' changes (issue #18).

The station's one worker thread replays its outbox, then pulls. At the peak a customer-service note
on an order the hub was routing waited for the router's lock, and every change made by colleagues
waited behind it (8–14 s at load 20). The replay now waits at most ``REPLAY_LOCK_WAIT_MS`` for a
lock, rolls back, pulls, and replays again a moment later: the command lands once, in order.
"""

import sqlalchemy as sa

from app.services import orders
from tests.support.factories import make_order
from tests.sync.test_commands import CS


def test_a_replay_behind_a_busy_order_steps_aside_the_pull_goes_on_and_the_command_lands_once_later(
        hub, make_station):
    busy_no, busy_v = make_order(hub, "paid")
    other_no, other_v = make_order(hub, "paid")
    station = make_station(hub.engine.url, start=False)
    station.sync_once()  # the first load
    first = station.submit(CS, "order.add_warehouse_note", {"order_no": busy_no, "expected_version": busy_v,
                                                            "text": "改天发货"})
    second = station.submit(CS, "order.add_warehouse_note", {"order_no": other_no, "expected_version": other_v,
                                                             "text": "加急"})
    holder = hub.engine.connect()  # the hub routing the order: its row locked in an open transaction
    holder.execute(sa.text("SELECT id FROM orders WHERE order_no = :o FOR UPDATE"), {"o": busy_no})
    try:
        colleague = orders.change_status(hub.uow(), other_no, "allocating", expected_version=other_v, actor=CS)
        station.sync_once()
        assert station.cache.get(other_no).version == colleague.version  # pulled, not kept behind the replay
        assert station.replay_stats["stepped_aside"] == 1
        # nothing of the batch landed, and the one behind it waits its turn (commands replay in order)
        assert [e.command.id for e in station.outbox.pending()] == [first.command.id, second.command.id]
        assert station._next_wait() == station.REPLAY_RETRY_S  # tried again in a moment, not at the next pull
    finally:
        holder.rollback()
        holder.close()
    station.sync_once()
    assert station.outbox.waiting() == (0, 1)  # the first applied; the second refused: the colleague moved it
    assert station.outbox.entry(first.command.id).state == "accepted"
    assert station.outbox.entry(second.command.id).result["code"] == "VERSION_CONFLICT"
    assert station._next_wait() == station.pull_interval
    with hub.engine.connect() as conn:
        recorded = conn.scalar(sa.text("SELECT count(*) FROM applied_commands WHERE command_id = :i"),
                               {"i": str(first.command.id)})
        note = conn.scalar(sa.text("SELECT seller_note FROM orders WHERE order_no = :o"), {"o": busy_no})
    assert recorded == 1 and note.count("改天发货") == 1
