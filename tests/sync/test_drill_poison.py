"""Fault drill: one command that can never apply among a hundred, and errors that only look permanent."""

import os

import pytest
import sqlalchemy as sa

from app.sync.commands import REGISTRY, register
from app.sync.station_sync import ONLINE
from app.ui import fonts
from app.ui.sync_status import SyncBridge, SyncStatusWidget
from tests.support.factories import make_order
from tests.sync.conftest import wait_for, wait_online
from tests.sync.divergence import assert_converged, note_lines
from tests.sync.drills import CS

SHOTS = os.environ.get("ORDERHUB_SCREENSHOTS", "/tmp/orderhub-screens")


@pytest.mark.slow
def test_a_poison_command_among_a_hundred_is_set_aside_with_its_reason_and_the_other_99_go_through(
        qtbot, qapp, hub, make_station):
    placed = [make_order(hub, "paid") for _ in range(4)]
    station = make_station(hub.engine.url, start=False)
    made = {order_no: [] for order_no, _ in placed}
    for n in range(100):
        order_no, version = placed[n % 4]
        text = f"第{n:03d}条" + ("\x00扫码枪乱码" if n == 37 else "")  # NUL: text PostgreSQL can never store
        station.submit(CS, "order.add_warehouse_note", {"order_no": order_no, "expected_version": version,
                                                        "text": text})
        if n != 37:
            made[order_no].append(text)
    station.start()
    wait_online(station, 30)
    assert station.outbox.counts() == {"accepted": 99, "rejected": 1}
    for order_no, texts in made.items():
        assert note_lines(hub.engine, order_no) == texts  # the commands after it on its order went on too
    poison = station.outbox.rejected()[0]
    assert poison.command.args["text"].startswith("第037条") and poison.result["code"] == "SYNC_COMMAND_BAD_DATA"
    assert station.status.rejected == 1
    assert_converged(station.cache, hub.engine)
    station.stop()  # the window below reads the station's file; the worker's news is not needed
    # where the station shows it: the status bar offers the review, the list says what and why, in business words
    fonts.install(qapp)
    bridge = SyncBridge(station)
    widget = SyncStatusWidget(bridge)
    qtbot.addWidget(widget)
    widget.show()
    assert widget.review.isVisible() and "1 条改动未被接受" in widget.label.text()
    dialog = widget.show_refused()
    qtbot.addWidget(dialog)
    shown = dialog.list.item(0).text()
    assert shown.startswith("您的「给仓库留言」") and shown.count("给仓库留言") == 1, shown
    assert "无法保存的字符" in shown and "order." not in shown and "DataError" not in shown, shown
    os.makedirs(SHOTS, exist_ok=True)
    assert dialog.grab().save(f"{SHOTS}/sync_poison_set_aside.png")
    assert widget.grab().save(f"{SHOTS}/sync_poison_status_bar.png")


@pytest.mark.slow
def test_timeouts_and_server_refusals_of_the_moment_are_retried_and_never_set_aside(hub, make_station):
    order_no, version = make_order(hub, "paid")
    attempts = []

    def flaky(uow, args, actor):
        attempts.append(1)
        with uow:
            if len(attempts) <= 3:  # the server gives up on the statement (a 5xx of a database)
                uow.session.execute(sa.text("SET LOCAL statement_timeout = '1ms'"))
                uow.session.execute(sa.text("SELECT pg_sleep(0.2)"))
            uow.commit()
        return {}

    register("drill.flaky", flaky, order_key=None)
    try:
        station = make_station(hub.engine.url, start=False, op_timeout=1.0, connect_timeout=1)
        station.submit(CS, "drill.flaky", {})
        station.start()
        wait_for(lambda: len(attempts) >= 4, 20, "the flaky command retried until it passed")
        wait_for(lambda: station.outbox.counts() == {"accepted": 1}, 20, "the flaky command accepted")
        with hub.engine.connect() as locker:  # the order's row held elsewhere: the note waits, times out
            locker.execute(sa.text("SELECT 1 FROM orders WHERE order_no = :o FOR UPDATE"), {"o": order_no})
            station.submit(CS, "order.add_warehouse_note", {"order_no": order_no, "expected_version": version,
                                                            "text": "等锁的备注"})
            wait_for(lambda: station.status.state != ONLINE, 10, "the locked note cut by the watchdog")
            states = {e.command.name: e.state for e in station.outbox.all()}
            assert states == {"drill.flaky": "accepted", "order.add_warehouse_note": "pending"}
            locker.rollback()
        wait_online(station, 30)
    finally:
        REGISTRY.pop("drill.flaky", None)
    assert [e.state for e in station.outbox.all()] == ["accepted", "accepted"]
    assert len(attempts) == 4 and note_lines(hub.engine, order_no) == ["等锁的备注"]
    assert_converged(station.cache, hub.engine)
