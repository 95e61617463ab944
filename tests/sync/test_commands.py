"""Station commands on the real database: applied at most once per UUID, refusals recorded with what happened instead."""

import threading

import pytest
import sqlalchemy as sa

from app.domain.actor import Actor
from app.services import orders
from app.sync import applier
from app.sync.commands import REGISTRY, Command, register
from tests.support.factories import make_order

CS = Actor("xiaomei", "客服工作台-01", "10.20.1.17")


def _state(hub, order_no):
    with hub.uow() as uow:
        return uow.session.execute(sa.text("SELECT status, version, seller_note FROM orders WHERE order_no = :o"),
                                   {"o": order_no}).one()


def _records(hub):
    with hub.uow() as uow:
        return uow.session.execute(sa.text("SELECT command_id, name, station, operator, outcome, result "
                                           "FROM applied_commands ORDER BY applied_at")).all()


def test_a_command_applied_twice_changes_the_order_once_and_returns_the_recorded_outcome(hub):
    order_no, version = make_order(hub, "paid")
    note = Command.made_by(CS, "order.add_warehouse_note", {"order_no": order_no, "expected_version": version,
                                                            "text": "请勿放干燥剂"})
    first = applier.apply(hub.session_factory, note)
    again = applier.apply(hub.session_factory, note)
    assert first.accepted and not first.duplicate
    assert again.accepted and again.duplicate and again.result == first.result
    status, version_after, seller_note = _state(hub, order_no)
    assert version_after == version + 1 == first.result["version"]
    assert seller_note.count("请勿放干燥剂") == 1
    [record] = _records(hub)
    assert (record.command_id, record.name, record.station, record.operator, record.outcome) == (
        note.id, "order.add_warehouse_note", "客服工作台-01", "xiaomei", "accepted")


def test_a_command_the_order_no_longer_allows_is_recorded_as_refused_with_the_order_as_it_is_now(hub):
    order_no, version = make_order(hub, "paid")
    orders.cancel(hub.uow(), order_no, expected_version=version, actor=CS, basis="工单 T-1")
    late = Command.made_by(CS, "order.change_address", {
        "order_no": order_no, "expected_version": version, "basis": "客户来电",
        "receiver_name": "李雷", "receiver_phone": "13900001111", "receiver_address": "浙江省杭州市西湖区文一路1号"})
    outcome = applier.apply(hub.session_factory, late)
    assert not outcome.accepted
    assert outcome.result["code"] == "VERSION_CONFLICT"
    assert outcome.result["now"]["status"] == "cancelled"
    text = applier.refusal_text(late.name, order_no, outcome.result)
    assert "修改收货地址" in text and "已被他人修改" in text and "已取消" in text
    assert "Change delivery address" in applier.refusal_text(late.name, order_no, outcome.result, "en")
    # replaying the refused command gets the same refusal, and still changes nothing
    assert applier.apply(hub.session_factory, late).result == outcome.result
    assert _state(hub, order_no).status == "cancelled"
    assert [r.outcome for r in _records(hub)] == ["rejected"]


def test_an_illegal_step_is_refused_in_business_language(hub):
    order_no, version = make_order(hub, "shipped")
    outcome = applier.apply(hub.session_factory, Command.made_by(
        CS, "order.change_address", {"order_no": order_no, "expected_version": version, "basis": "客户来电",
                                     "receiver_name": "李雷", "receiver_phone": "13900001111",
                                     "receiver_address": "浙江省杭州市西湖区文一路1号"}))
    assert outcome.result["code"] == "ADDRESS_CHANGE_TOO_LATE"
    assert "已发货" in outcome.reason("zh")


def test_a_malformed_or_unknown_command_is_refused_not_crashed(hub):
    order_no, version = make_order(hub, "paid")
    missing = applier.apply(hub.session_factory, Command.made_by(CS, "order.cancel", {"order_no": order_no}))
    unknown = applier.apply(hub.session_factory, Command.made_by(CS, "order.teleport", {"order_no": order_no}))
    assert missing.result["code"] == "SYNC_COMMAND_INVALID" and unknown.result["code"] == "SYNC_UNKNOWN_COMMAND"
    assert _state(hub, order_no).version == version


def test_the_record_commits_with_the_change_so_a_racing_twin_leaves_exactly_one(hub):
    """Two replays of one UUID race: the loser's order change rolls back with its record."""
    order_no, version = make_order(hub, "paid")
    note = Command.made_by(CS, "order.add_warehouse_note", {"order_no": order_no, "expected_version": version,
                                                            "text": "加急"})
    blocker = hub.engine.connect()
    blocker.execute(sa.text("INSERT INTO applied_commands (command_id, name, station, operator, outcome, result) "
                            "VALUES (:id, 'order.add_warehouse_note', 'twin', 'xiaomei', 'accepted', "
                            "'{\"twin\": true}')"), {"id": note.id})
    got = []
    racer = threading.Thread(target=lambda: got.append(applier.apply(hub.session_factory, note)))
    racer.start()
    racer.join(1.0)
    assert racer.is_alive()  # its commit waits on the twin's uncommitted record
    blocker.commit()
    blocker.close()
    racer.join(10)
    assert got and got[0].result == {"twin": True}
    assert _state(hub, order_no).version == version  # the racer's note was rolled back with its record


def test_features_register_their_own_commands(hub):
    order_no, version = make_order(hub, "paid")
    calls = []

    def stamp(uow, args, actor):
        calls.append(args)
        return orders.add_warehouse_note(uow, args["order_no"], f"扫描 {args['code']}",
                                         expected_version=args["expected_version"], actor=actor)

    register("test.pick_scan", stamp)
    try:
        scan = Command.made_by(CS, "test.pick_scan", {"order_no": order_no, "expected_version": version, "code": "X1"})
        assert applier.apply(hub.session_factory, scan).accepted
        assert applier.apply(hub.session_factory, scan).duplicate
        assert len(calls) == 1
    finally:
        REGISTRY.pop("test.pick_scan")


@pytest.mark.parametrize("name", ["order.cancel", "order.change_address", "order.add_warehouse_note",
                                  "order.change_status"])
def test_every_order_command_is_registered(name):
    assert name in REGISTRY
