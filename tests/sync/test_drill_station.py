"""Fault drills on one station: its clock a day off, eight hours offline, its disk full, its folder held by another program."""

import os

import pytest

from app.domain.errors import BusinessError
from app.sync.station_sync import LOCKED, ONLINE
from app.ui import fonts
from app.ui.order_drill_down import OrderDrillDown
from app.ui.sync_status import SyncBridge, SyncStatusWidget
from tests.support.factories import make_order
from tests.sync.conftest import wait_for, wait_online
from tests.sync.divergence import assert_converged, note_lines
from tests.sync.drills import CS, clock_skew, long_offline
from tests.sync.proxy import LoopbackProxy

SHOTS = os.environ.get("ORDERHUB_SCREENSHOTS", "/tmp/orderhub-screens")


@pytest.mark.slow
def test_stations_a_day_ahead_and_a_day_behind_collide_on_nothing_and_follow_the_servers_time(hub, tmp_path):
    order_no, _ = make_order(hub, "paid")
    figures = clock_skew(hub.engine.url, hub.engine, tmp_path, order_no, rounds=4)
    assert figures["distinct_command_ids"] == figures["applied"] == 4
    assert figures["order_follows_the_server"], figures
    # what they stamp is the server's time, not their own clock's (a day off would be 86,400 s)
    assert figures["worst_note_stamp_off_s"] <= 300 and figures["worst_command_stamp_off_s"] <= 300, figures


@pytest.mark.slow
def test_eight_hours_offline_with_two_hundred_commands_queued_all_drain_once_after_reconnecting(hub, make_station):
    placed = [make_order(hub, "paid") for _ in range(10)]
    proxy = LoopbackProxy.to(hub.engine.url)
    try:
        station = make_station(proxy.url(hub.engine.url), start=False, op_timeout=1.5, connect_timeout=1)
        figures = long_offline(hub.engine, station, proxy, placed, commands=200)
    finally:
        proxy.close()
    assert figures["queued"] == 200 and figures["applied"] == 200, figures
    assert {k: figures[k] for k in ("lost", "doubled", "out_of_order", "divergent")} == dict.fromkeys(
        ("lost", "doubled", "out_of_order", "divergent"), 0), figures
    assert station.outbox.counts() == {"accepted": 200}


@pytest.mark.slow
def test_a_full_disk_while_saving_a_command_is_told_to_the_operator_and_nothing_is_silently_dropped(
        qtbot, qapp, hub, make_station):
    order_no, _ = make_order(hub, "paid")
    station = make_station(hub.engine.url, start=False)
    fonts.install(qapp)
    view = OrderDrillDown(hub.uow, CS, sync=SyncBridge(station))
    qtbot.addWidget(view)
    view.show_order(order_no)
    conn = station.db.connect()  # this thread's connection is the one the GUI saves commands with
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 4}")  # the disk fills up a few pages from now
    said = []
    for n in range(5000):
        if not view.add_note(f"留言{n:04d}" + "长" * 200):
            break
        said.append(f"留言{n:04d}" + "长" * 200)
    else:
        raise AssertionError("the disk never filled")
    assert "磁盘已满" in view.message.text() and "没有保存" in view.message.text()
    os.makedirs(SHOTS, exist_ok=True)
    assert view.grab().save(f"{SHOTS}/sync_disk_full.png")
    kept = [e.command.args["text"] for e in station.outbox.all()]
    assert kept == said  # every change the person was told is saved is there; the refused one is not
    with pytest.raises(BusinessError) as refused:
        station.submit(CS, "order.add_warehouse_note", {"order_no": order_no, "expected_version": 1, "text": "满" * 2000})
    assert refused.value.code == "STATION_DISK_FULL" and "disk is full" in refused.value.message("en")
    conn.execute("PRAGMA max_page_count = 1073741823")  # space freed: the person does it again
    assert view.add_note("重新保存的留言")
    station.start()
    wait_online(station, 30)
    assert note_lines(hub.engine, order_no) == [*said, "重新保存的留言"]
    assert_converged(station.cache, hub.engine)
    station.stop()  # before the window goes: its bridge must not hear from the worker once deleted


@pytest.mark.slow
def test_a_second_window_on_the_same_data_folder_says_who_sends_the_changes_and_takes_over_when_it_ends(
        qtbot, qapp, hub, make_station):
    order_no, version = make_order(hub, "paid")
    first = make_station(hub.engine.url, name="同一文件夹")
    wait_online(first, 30)
    second = make_station(hub.engine.url, name="同一文件夹")
    wait_for(lambda: second.status.state == LOCKED, 10, "the second told it is locked out")
    assert str(os.getpid()) in second.status.text() and "Another" not in second.status.text()
    assert "another station program" in second.status.text("en")
    fonts.install(qapp)
    widget = SyncStatusWidget(SyncBridge(second))
    qtbot.addWidget(widget)
    widget.show()
    os.makedirs(SHOTS, exist_ok=True)
    assert widget.grab().save(f"{SHOTS}/sync_folder_locked.png")
    second.submit(CS, "order.add_warehouse_note", {"order_no": order_no, "expected_version": version,
                                                   "text": "第二个窗口写的"})
    wait_for(lambda: not first.status.pending and first.outbox.counts().get("accepted") == 1, 20,
             "the holder sent it")
    assert second.status.state == LOCKED
    first.stop()
    wait_for(lambda: second.status.state == ONLINE, 20, "the second took over")
    assert note_lines(hub.engine, order_no) == ["第二个窗口写的"]
    second.stop()  # before the widget goes: its news would reach a deleted bridge
    assert_converged(second.cache, hub.engine)
