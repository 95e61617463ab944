"""Offline replay in batches: several commands per server transaction, each still applied once and refused alone."""

import re

import sqlalchemy as sa

from app.sync import commands
from tests.support.factories import make_order
from tests.sync.round_trips import RoundTrips
from tests.sync.test_commands import CS


def _state(hub, order_no):
    with hub.engine.connect() as conn:
        return conn.execute(sa.text("SELECT seller_note, version FROM orders WHERE order_no = :o"), {"o": order_no}).one()


def _recorded(hub):
    with hub.engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT outcome, count(*) FROM applied_commands GROUP BY outcome")).all())


def _queue_notes(station, placed, per_order):
    for k in range(per_order):
        for order_no, version in placed:
            station.submit(CS, "order.add_warehouse_note", {"order_no": order_no, "expected_version": version,
                                                            "text": f"离线{k}"})


def test_a_batched_replay_applies_chained_commands_in_order_and_refuses_only_the_stale_one(hub, make_station):
    placed = [make_order(hub, "paid") for _ in range(4)]
    other = make_order(hub, "paid")[0]
    station = make_station(hub.engine.url, start=False, replay_batch=7)
    _queue_notes(station, placed[:2], per_order=5)
    stale = station.submit(CS, "order.add_warehouse_note",  # a version the order never had: refused, alone
                           {"order_no": other, "expected_version": 999, "text": "过期"})
    _queue_notes(station, placed[2:], per_order=5)  # 20 commands in all, chained per order, batches cut the chains
    assert station.replay() == 21
    entries = {e.command.id: e for e in station.outbox.all()}
    assert [e.state for e in entries.values()].count("accepted") == 20
    assert entries[stale.command.id].state == "rejected"
    for order_no, version in placed:
        note, now = _state(hub, order_no)
        assert [int(k) for k in re.findall(r"离线(\d)", note)] == [0, 1, 2, 3, 4]  # once each, in order made
        assert now == version + 5
    assert _recorded(hub) == {"accepted": 20, "rejected": 1}


def test_a_batch_whose_answer_was_lost_is_looked_up_and_not_applied_twice(hub, make_station):
    placed = [make_order(hub, "paid") for _ in range(3)]
    station = make_station(hub.engine.url, start=False, replay_batch=10)
    _queue_notes(station, placed, per_order=3)
    batch = station.outbox.pending(10)
    # the server commits the batch, then the link dies before the station records a single answer
    outcomes = station._apply_batch(batch, look_first=True)
    assert all(o.accepted for o in outcomes)
    assert {e.state for e in station.outbox.all()} == {"pending"}
    assert station.replay() == 9  # reconnected: the first batch is in doubt, so each command is looked up
    assert {e.state for e in station.outbox.all()} == {"accepted"}
    for order_no, version in placed:
        note, now = _state(hub, order_no)
        assert note.count("离线") == 3 and now == version + 3
    assert _recorded(hub) == {"accepted": 9}


def test_a_command_that_trips_a_bug_is_set_aside_in_its_batch_and_the_commands_around_it_go_through(hub, make_station):
    def broken(uow, args, actor):
        raise RuntimeError("a bug in a handler")

    commands.register("test.broken", broken)
    try:
        placed = [make_order(hub, "paid") for _ in range(2)]
        station = make_station(hub.engine.url, start=False, replay_batch=25)
        _queue_notes(station, placed, per_order=2)  # four good commands first
        bad = station.submit(CS, "test.broken", {"order_no": placed[0][0]})
        after = station.submit(CS, "order.add_warehouse_note",
                               {"order_no": placed[1][0], "expected_version": placed[1][1], "text": "之后"})
        assert station.replay() == 6  # one batch: the bug is refused in its savepoint, the others commit with it
        states = {e.command.id: e.state for e in station.outbox.all()}
        assert states[bad.command.id] == "rejected" and states[after.command.id] == "accepted"
        assert list(states.values()).count("accepted") == 5
        assert station.outbox.rejected()[0].result["code"] == "SYNC_COMMAND_FAILED"  # set aside with its reason
        assert _recorded(hub) == {"accepted": 5, "rejected": 1}
        assert _state(hub, placed[0][0]).seller_note.count("离线") == 2
        assert "之后" in _state(hub, placed[1][0]).seller_note
    finally:
        commands.REGISTRY.pop("test.broken", None)


def test_a_batch_costs_about_one_round_trip_per_command(hub, make_station):
    placed = [make_order(hub, "paid") for _ in range(30)]
    station = make_station(hub.engine.url, start=False, replay_batch=30)
    _queue_notes(station, placed, per_order=1)
    trips = RoundTrips(station._engine)
    assert station.replay() == 30
    # BEGIN, the bounded lock wait (SET LOCAL lock_timeout: a busy order makes the replay step aside, not
    # hold up the pull), the orders locked together, one grant look-up, 30 UPDATEs, the 30 records in one
    # INSERT, COMMIT
    assert trips.n <= 30 + 7, trips.n
    assert _recorded(hub) == {"accepted": 30}
    for order_no, version in placed:
        note, now = _state(hub, order_no)
        assert note.count("离线0") == 1 and now == version + 1


def test_a_refusal_deep_in_a_big_batch_costs_about_one_batch_more_not_the_group_one_by_one(hub, make_station):
    placed = [make_order(hub, "paid") for _ in range(40)]
    other = make_order(hub, "paid")[0]
    station = make_station(hub.engine.url, start=False, replay_batch=100)
    _queue_notes(station, placed[:30], per_order=1)
    stale = station.submit(CS, "order.add_warehouse_note", {"order_no": other, "expected_version": 999, "text": "过期"})
    _queue_notes(station, placed[30:], per_order=2)  # 20 more behind the refusal, chained two per order
    trips = RoundTrips(station._engine)
    assert station.replay() == 51
    entries = {e.command.id: e for e in station.outbox.all()}
    assert entries[stale.command.id].state == "rejected"
    assert entries[stale.command.id].result["code"] == "VERSION_CONFLICT"  # refused with its reason, recorded
    assert [e.state for e in entries.values()].count("accepted") == 50
    assert _recorded(hub) == {"accepted": 50, "rejected": 1}
    for order_no, version in placed[:30]:
        note, now = _state(hub, order_no)
        assert note.count("离线") == 1 and now == version + 1
    for order_no, version in placed[30:]:
        note, now = _state(hub, order_no)
        assert [int(k) for k in re.findall(r"离线(\d)", note)] == [0, 1] and now == version + 2
    # the first try (rolled back), the 30 before it again, the refusal alone, the 20 after it: not 51 × 6
    assert trips.n <= 2 * 51 + 30, trips.n


def test_a_batch_whose_record_a_twin_wrote_first_is_rolled_back_and_each_command_looked_up(hub, make_station):
    placed = [make_order(hub, "paid") for _ in range(5)]
    station = make_station(hub.engine.url, start=False, replay_batch=10)
    _queue_notes(station, placed, per_order=1)
    group = station.outbox.pending(10)
    twin = group[2].command
    with hub.engine.begin() as conn:  # another program on the same queue recorded this UUID a moment ago
        conn.execute(sa.text("INSERT INTO applied_commands (command_id, name, station, operator, outcome, result) "
                             "VALUES (:id, :name, :station, :operator, 'accepted', CAST(:result AS jsonb))"),
                     {"id": twin.id, "name": twin.name, "station": twin.station, "operator": twin.operator,
                      "result": '{"twin": true}'})
    outcomes = station._apply_batch(group, look_first=False)  # not in doubt: the batch finds out only at its record
    assert [o.accepted for o in outcomes] == [True] * 5
    assert outcomes[2].duplicate and outcomes[2].result == {"twin": True}  # the twin's outcome stands
    assert _recorded(hub) == {"accepted": 5}
    for n, (order_no, version) in enumerate(placed):
        note, now = _state(hub, order_no)
        assert (note or "").count("离线0") == (0 if n == 2 else 1) and now == version + (0 if n == 2 else 1)
