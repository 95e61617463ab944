"""Property: over any sequence of commands and link cuts, the central state is the accepted commands applied once each, in order."""

import tempfile
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.sync.station_sync import StationSync
from tests.support.factories import make_order, make_shop
from tests.sync.conftest import wait_for, wait_online
from tests.sync.proxy import LoopbackProxy
from tests.sync.test_commands import CS

TARGETS = ("allocating", "shipped", "completed", "cancelled", "paid")
step = st.one_of(
    st.tuples(st.just("note"), st.integers(0, 2)),
    st.tuples(st.just("status"), st.integers(0, 2), st.sampled_from(TARGETS)),
    st.tuples(st.just("cut")),
    st.tuples(st.just("heal")),
    st.tuples(st.just("pause")),
)


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=12))
def test_accepted_commands_land_once_each_in_order_whatever_the_link_does(hub, steps):
    shop = make_shop(hub)
    placed = [make_order(hub, "paid", shop_id=shop) for _ in range(3)]
    start = {no: v for no, v in placed}
    proxy = LoopbackProxy.to(hub.engine.url)
    with tempfile.TemporaryDirectory() as tmp:
        station = StationSync(proxy.url(hub.engine.url), Path(tmp), pull_interval=0.3, op_timeout=2.0,
                              max_backoff=0.3)
        try:
            station.start()
            wait_online(station)
            made = []
            for n, action in enumerate(steps):
                if action[0] == "cut":
                    proxy.drop()
                elif action[0] == "heal":
                    proxy.resume()
                elif action[0] == "pause":
                    time.sleep(0.2)
                else:
                    order_no = placed[action[1]][0]
                    version = station.cache.get(order_no).version  # what the person sees
                    if action[0] == "note":
                        made.append(station.submit(CS, "order.add_warehouse_note",
                                                   {"order_no": order_no, "expected_version": version,
                                                    "text": f"第{n}步"}))
                    else:
                        made.append(station.submit(CS, "order.change_status",
                                                   {"order_no": order_no, "expected_version": version,
                                                    "target": action[2], "basis": "属性测试"}))
            proxy.resume()
            wait_for(lambda: not station.outbox.counts().get("pending"), 30, "outbox drained")
            entries = station.outbox.all()
        finally:
            station.stop()
            proxy.close()
    assert [e.command.id for e in entries] == [m.command.id for m in made]  # nothing lost, nothing added
    assert all(e.state in ("accepted", "rejected") for e in entries)
    # the expected central state: the accepted commands applied once each, in order
    expected = {no: {"notes": [], "status": "paid", "version": v} for no, v in start.items()}
    for e in entries:
        if e.state != "accepted":
            assert e.result.get("code"), e.result  # a refusal always carries its reason
            continue
        state = expected[e.order_no]
        if e.command.name == "order.add_warehouse_note":
            state["notes"].append(e.command.args["text"])
        else:
            state["status"] = e.command.args["target"]
        gap = 2 if state.get("cancelled") else 1  # giving stock back after a cancellation is its own step
        assert state["version"] + 1 <= e.result["version"] <= state["version"] + gap  # on the state the last left
        state["version"] = e.result["version"]
        state["cancelled"] = state["status"] == "cancelled"
    with hub.engine.connect() as conn:
        for order_no, want in expected.items():
            row = conn.execute(sa.text("SELECT status, seller_note, version FROM orders WHERE order_no = :o"),
                               {"o": order_no}).one()
            notes = [line.rsplit(" ", 1)[-1] for line in (row.seller_note or "").splitlines()]
            assert (row.status, notes) == (want["status"], want["notes"])
            assert row.version >= want["version"]  # a cancellation may also give stock back (its own step)
        ids = [e.command.id for e in entries]
        recorded = dict(conn.execute(sa.text("SELECT command_id, outcome FROM applied_commands "
                                             "WHERE command_id = ANY(:ids)"), {"ids": ids}).all())
    assert recorded == {e.command.id: e.state for e in entries}  # recorded exactly once each, as told
