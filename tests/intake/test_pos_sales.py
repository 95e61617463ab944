"""门店POS: stores push signed sales to the hub; nothing unsigned, stale or unreadable gets in, nothing is lost."""

import asyncio
import json

import pytest
import sqlalchemy as sa

from app.domain.actor import SYSTEM
from app.db.models import Order, OrderExtAttr, RawPayload
from app.hub.receiver import Receiver, ReceiverServer
from app.services import ingest
from connectors.pos import PosReceiver, sign
from connectors.simulators.pos import PosStoreSimulator, sale_body
from connectors.simulators.world import SimWorld
from tests.support import door_abuse
from tests.support.lost_connection import LoseTheConnection


def _factory(shop, creds):  # POS shops are never polled; the receiver verifies them itself
    raise AssertionError("POS needs no connector")


@pytest.fixture
def store(hub, add_shop, credentials):
    shop_id = add_shop("pos", "POS-HZ-HUBIN", name="杭州湖滨银泰门店")
    server = ReceiverServer(Receiver(hub, _factory, credentials), inbox_worker=False).start()  # store sales only
    till = PosStoreSimulator(SimWorld("pos", seed=4), server.url, "POS-HZ-HUBIN", "store-secret")
    yield shop_id, till
    server.stop()


def _orders(hub):
    door_abuse.create_received(hub)  # the inbox worker's part: the received sales' orders created
    with hub.uow() as uow:
        return list(uow.session.execute(sa.select(Order).order_by(Order.id)).scalars())


def test_signed_sales_become_completed_orders_with_every_line_and_the_cashier(hub, store):
    shop_id, till = store
    answers = till.sell(5)
    assert all(a.status_code == 200 and a.json()["ok"] and a.json()["verdict"] == "accepted" for a in answers)
    with hub.uow() as uow:  # answered once stored; the orders are created afterwards, off the answer path
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(RawPayload).where(RawPayload.status == "pending")) == 5
    orders = _orders(hub)
    assert len(orders) == 5 and {o.status for o in orders} == {"completed"} and {o.platform for o in orders} == {"pos"}
    first = orders[0]
    assert first.platform_order_no == answers[0].json()["sale_no"]
    assert door_abuse.create_received(hub) == 0  # each created once
    assert sum(sum((__import__("decimal").Decimal(i["paid"]) for i in o.items), 0) for o in orders) == sum(
        o.paid_amount for o in orders)
    with hub.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(RawPayload).where(RawPayload.status == "parsed")) == 5
        cashier = uow.session.scalar(sa.select(OrderExtAttr.value).where(OrderExtAttr.order_id == first.id,
                                                                         OrderExtAttr.key == "cashier"))
    assert cashier == "店员 何佳"


def test_the_same_sale_pushed_twice_is_one_order(hub, store):
    _, till = store
    order = till.world.create(1, status="completed")[0]
    body = sale_body(order, "POS-HZ-HUBIN")
    assert till.push(body).json()["verdict"] == "accepted"
    assert till.push(body).json()["verdict"] == "duplicate"
    assert len(_orders(hub)) == 1


def test_a_wrong_signature_is_refused_recorded_and_nothing_is_stored(hub, store, caplog):
    _, till = store
    order = till.world.create(1, status="completed")[0]
    answer = till.push(sale_body(order, "POS-HZ-HUBIN"), secret="guessed")
    assert answer.status_code == 401 and answer.json()["message"] == "门店销售单签名不正确"
    assert _orders(hub) == []
    with hub.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(RawPayload)) == 0
    assert any("POS-HZ-HUBIN" in r.getMessage() and "sign" in r.getMessage() for r in caplog.records)  # in the hub's log


def test_a_replayed_sale_from_an_hour_ago_is_refused(hub, store):
    _, till = store
    order = till.world.create(1, status="completed")[0]
    import time

    answer = till.push(sale_body(order, "POS-HZ-HUBIN"), timestamp=int(time.time()) - 3600)
    assert answer.status_code == 401 and "5 分钟" in answer.json()["message"]


def test_an_unreadable_sale_is_kept_in_quarantine_and_can_be_retried(hub, store):
    shop_id, till = store
    answer = till.push(b'{"sale_no": "S1", "store_code": "POS-HZ-HUBIN", "lines": [{"sku": "T1"')
    assert answer.status_code == 200 and answer.json()["quarantined"]
    assert "不是有效的 JSON" in answer.json()["message"]
    [held] = ingest.list_quarantined(hub.uow())
    assert held.source == "pos" and held.shop_id == shop_id and held.size > 0
    again = ingest.retry_quarantined(hub.uow(), held.id, PosReceiver("POS-HZ-HUBIN", "store-secret").normalise,
                                     actor=SYSTEM)
    assert again.verdict == "quarantined"
    assert ingest.list_quarantined(hub.uow())[0].attempts == 2
    assert _orders(hub) == []


def test_amounts_that_do_not_add_up_are_quarantined_not_guessed(hub, store):
    _, till = store
    order = till.world.create(1, status="completed")[0]
    sale = json.loads(sale_body(order, "POS-HZ-HUBIN"))
    sale["paid"] = "0.01"
    answer = till.push(json.dumps(sale, ensure_ascii=False).encode())
    assert answer.json()["quarantined"] and "不符" in answer.json()["message"]


def test_a_sale_the_database_refuses_is_quarantined_by_the_worker_with_its_reason_and_holds_up_no_other(hub, store):
    _, till = store
    sales = [json.loads(sale_body(o, "POS-HZ-HUBIN")) for o in till.world.create(3, status="completed")]
    sales[1]["sale_no"] = "S" * 80  # read fine at the doors, but longer than an order's platform number may be
    answers = [till.push(json.dumps(s, ensure_ascii=False).encode()).json() for s in sales]
    assert [a["verdict"] for a in answers] == ["accepted"] * 3
    assert {o.platform_order_no for o in _orders(hub)} == {sales[0]["sale_no"], sales[2]["sale_no"]}
    [held] = ingest.list_quarantined(hub.uow())
    assert held.error.startswith("门店销售单无法生成订单（数据库拒绝：")
    assert door_abuse.create_received(hub) == 0


def _signed(body: bytes, secret: str = "store-secret") -> dict[str, str]:
    import time

    stamp = str(int(time.time()))  # the till's own clock, as PosStoreSimulator signs
    return {"x-orderhub-timestamp": stamp, "x-orderhub-signature": sign(secret, stamp, body)}


def test_a_sale_is_taken_on_the_event_loop_once_its_shop_is_known_and_answered_only_when_stored(hub, add_shop, credentials):
    add_shop("pos", "POS-HZ-HUBIN", name="杭州湖滨银泰门店")
    receiver = Receiver(hub, _factory, credentials)
    world = SimWorld("pos", seed=9)
    first, second, forged = (sale_body(o, "POS-HZ-HUBIN") for o in world.create(3, status="completed"))
    try:
        # The shop list has not been read: that needs the database, so the worker thread takes the sale.
        assert asyncio.run(receiver.fast("/pos/POS-HZ-HUBIN", _signed(first), first)) is None
        assert receiver.handle("/pos/POS-HZ-HUBIN", _signed(first), first)[1]["verdict"] == "accepted"
        # Now known: verified and group-committed on the loop; its answer names the sale, whose order follows.
        status, answer = asyncio.run(receiver.fast("/pos/POS-HZ-HUBIN", _signed(second), second))
        assert status == 200 and answer["verdict"] == "accepted"
        assert answer["sale_no"] in {o.platform_order_no for o in _orders(hub)}
        again = asyncio.run(receiver.fast("/pos/POS-HZ-HUBIN", _signed(second), second))
        assert again[0] == 200 and again[1]["verdict"] == "duplicate"
        status, refused = asyncio.run(receiver.fast("/pos/POS-HZ-HUBIN", _signed(forged, "guessed"), forged))
        assert status == 401 and refused["message"] == "门店销售单签名不正确"
        # Anything else (an ERP webhook, a carrier's push) goes to the worker threads.
        assert asyncio.run(receiver.fast("/erp/POS-HZ-HUBIN", _signed(first), first)) is None
    finally:
        receiver.batcher.stop()
    assert len(_orders(hub)) == 2


def test_a_database_lost_under_a_sale_answers_503_and_the_resent_sale_is_stored_once(hub, store):
    _, till = store
    assert till.sell(1)[0].status_code == 200  # the shop is known now: later sales take the event loop's door
    body = sale_body(till.world.create(1, status="completed")[0], "POS-HZ-HUBIN")
    loss = LoseTheConnection(hub, "INSERT INTO raw_payloads")
    try:
        answer = till.push(body)
        assert loss.kills >= 1
        assert answer.status_code == 503 and not answer.json()["ok"]  # retryable; never 200 for what is not stored
        assert len(_orders(hub)) == 1
        loss.on = False
        resent = till.push(body)
    finally:
        loss.close()
    assert resent.status_code == 200 and resent.json()["verdict"] == "accepted"
    assert till.push(body).json()["verdict"] == "duplicate"
    assert len(_orders(hub)) == 2


def test_sales_committed_as_several_groups_in_flight_at_once_are_each_stored_exactly_once(hub, add_shop, credentials):
    import threading

    from tests.support import door_abuse

    shop_id = add_shop("pos", "POS-HZ-HUBIN", name="杭州湖滨银泰门店")
    server = ReceiverServer(Receiver(hub, _factory, credentials), inbox_worker=False).start()  # no worker starting beside the groups
    batcher = server.receiver.batcher
    held, second_group = threading.Event(), threading.Event()

    def hold_the_first_group(conn, cursor, statement, parameters, context, executemany) -> None:
        # The first group waits (bounded) inside its transaction until another group of the shop is being
        # committed beside it: two transactions in flight, whatever the machine's speed.
        if statement.startswith("INSERT INTO raw_payloads") and not held.is_set():
            held.set()
            deadline = threading.Event()
            for _ in range(600):
                if batcher.most_in_flight(shop_id, "sale:pos") >= 2:
                    break
                deadline.wait(0.05)
            second_group.set()

    sales = [sale_body(o, "POS-HZ-HUBIN") for o in SimWorld("pos", seed=31).create(60, status="completed")]
    bad = b'{"sale_no": "BAD-1", "store_code": "POS-HZ-HUBIN"}'  # signed, but no lines: quarantined, alone
    bodies = sales[:30] + [bad] + sales[30:] + sales[:10]  # the first ten resent: often in another group
    requests = [door_abuse.signed_push("POS-HZ-HUBIN", "store-secret", b) for b in bodies]
    assert till_warm(server.url)  # the shop is known: sales take the event loop's door
    sa.event.listen(hub.engine, "before_cursor_execute", hold_the_first_group)
    try:
        result = door_abuse.paced_load(server.url, requests, rate=5000, connections=32)
        most_in_flight = batcher.most_in_flight(shop_id, "sale:pos")
    finally:
        sa.event.remove(hub.engine, "before_cursor_execute", hold_the_first_group)
        server.stop()
    assert second_group.is_set() and most_in_flight >= 2
    assert not result.errors and sorted(result.statuses) == [200] * len(requests)
    verdicts = [json.loads(b).get("verdict") for b in result.bodies]
    assert verdicts.count("accepted") == 60 and verdicts.count("duplicate") == 10
    orders = _orders(hub)
    assert len(orders) == 61 and len({o.platform_order_no for o in orders}) == 61  # and the warm-up sale
    with hub.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(RawPayload)
                                  .where(RawPayload.status == "quarantined")) == 1


def till_warm(url: str) -> bool:
    """One sale through the worker threads, so the shop list is read and later sales take the loop's door."""
    from tests.support import door_abuse

    body = sale_body(SimWorld("pos", seed=32).create(1, status="completed")[0], "POS-HZ-HUBIN")
    return door_abuse.paced_load(url, [door_abuse.signed_push("POS-HZ-HUBIN", "store-secret", body)],
                                 rate=1, connections=1).statuses == [200]


def test_sales_answered_before_the_hub_went_away_get_their_orders_once_from_the_next_hub_s_worker(hub, add_shop, credentials):
    import time

    from app.db.models import ShopSyncState
    from app.hub.inbox_worker import received_sale
    from app.services import trace
    from app.services.unit_of_work import DatabaseUnavailable

    shop_id = add_shop("pos", "POS-HZ-HUBIN", name="杭州湖滨银泰门店")
    world = SimWorld("pos", seed=41)
    gone = ReceiverServer(Receiver(hub, _factory, credentials), inbox_worker=False).start()
    answers = PosStoreSimulator(world, gone.url, "POS-HZ-HUBIN", "store-secret").sell(2)
    gone.stop()  # answered, then the hub is gone before any order was created: the sales wait, stored
    assert [a.json()["verdict"] for a in answers] == ["accepted"] * 2
    loss = LoseTheConnection(hub, "UPDATE raw_payloads AS p")  # a worker's creation cut off before its commit
    try:
        with pytest.raises(DatabaseUnavailable):
            ingest.create_received(hub.uow(), received_sale)
    finally:
        loss.close()
    with hub.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0  # nothing half-made
    server = ReceiverServer(Receiver(hub, _factory, credentials)).start()  # the next hub, with its inbox worker process
    try:
        answers += PosStoreSimulator(world, server.url, "POS-HZ-HUBIN", "store-secret").sell(1)
        deadline = time.monotonic() + 60  # bounds a failure only: the worker looks at start and when the doors wake it
        while time.monotonic() < deadline:
            with hub.uow() as uow:
                if uow.session.scalar(sa.select(sa.func.count()).select_from(RawPayload)
                                      .where(RawPayload.status == "pending")) == 0:
                    break
            time.sleep(0.05)
    finally:
        server.stop()
    with hub.uow() as uow:
        orders = list(uow.session.execute(sa.select(Order).order_by(Order.id)).scalars())
        counted = uow.session.scalar(sa.select(ShopSyncState.orders_ingested).where(ShopSyncState.shop_id == shop_id))
    assert sorted(o.platform_order_no for o in orders) == sorted(a.json()["sale_no"] for a in answers)
    assert counted == 3  # the shop's intake figure counts each sale once
    assert all(o.change_seq for o in orders)  # on the change feed the stations pull (app/sync/feed.py)
    story = trace.render_story(trace.order_story(hub.uow(), orders[0].order_no))
    assert "收到门店销售单" in story and "门店销售单生成订单（收到后" in story
