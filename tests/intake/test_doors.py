"""The hub's public doors under abuse: idle crowds, huge bodies, malformed requests, a burst of signed pushes."""

import json
import threading
import time

import pytest
import sqlalchemy as sa

from app.db.models import Order, RawPayload
from app.hub.doors import DoorLimits
from app.hub.receiver import Receiver, ReceiverServer
from connectors.simulators.pos import sale_body
from connectors.simulators.world import SimWorld
from tests.support import door_abuse

STORE = "POS-SH-DOORS"


def _factory(shop, creds):  # POS shops are never polled
    raise AssertionError("POS needs no connector")


@pytest.fixture
def doors(hub, add_shop, credentials):
    add_shop("pos", STORE, name="上海门店")
    # Store sales only: no push inbox worker process starting beside the timed answers.
    server = ReceiverServer(Receiver(hub, _factory, credentials), inbox_worker=False,
                            limits=DoorLimits(max_body=1024 * 1024, header_timeout=2.0, body_timeout=2.0)).start()
    yield server
    server.stop()


def _sales(n, seed=7):
    return [sale_body(o, STORE) for o in SimWorld("pos", seed=seed).create(n, status="completed")]


def _orders(hub):
    door_abuse.create_received(hub)  # the inbox worker's part: the received sales' orders created
    with hub.uow() as uow:
        return uow.session.scalar(sa.select(sa.func.count()).select_from(Order))


def _push_one(url, body):
    return door_abuse.paced_load(url, [door_abuse.signed_push(STORE, "store-secret", body)], rate=1, connections=1)


def test_signed_pushes_answer_within_a_second_while_300_idle_and_trickling_connections_are_held(hub, doors):
    first, *rest = _sales(4)
    assert _push_one(doors.url, first).statuses == [200]  # warm: the shop's intake lane and a pooled connection
    crowd = door_abuse.IdleCrowd(doors.url, 300).open()
    try:
        for body in rest:
            crowd.trickle()
            answer = _push_one(doors.url, body)
            assert answer.statuses == [200] and not answer.errors
            # Issue #19: a real push answers within 1 s while the crowd is held (the drill holds 5,000).
            assert answer.latencies[0] < 1000, answer.latencies
        assert crowd.still_open() == 300  # the crowd was held, not shed, while the pushes went through
    finally:
        crowd.close()
    assert _orders(hub) == 4


def test_connections_that_never_finish_their_headers_are_closed_after_the_header_deadline(doors):
    crowd = door_abuse.IdleCrowd(doors.url, 20).open()
    try:
        assert crowd.still_open() == 20
        deadline = time.monotonic() + 15  # header_timeout is 2 s; generous under a loaded machine
        while crowd.still_open() and time.monotonic() < deadline:
            time.sleep(0.25)
        assert crowd.still_open() == 0
    finally:
        crowd.close()


def test_a_declared_50_mb_body_is_refused_with_413_before_it_is_read(hub, doors):
    status, seconds = door_abuse.declare_huge_body(doors.url, 50 * 1024 * 1024)
    assert status == 413
    assert seconds < 5  # answered from the headers: the 50 MB were never sent, so never waited for
    with hub.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(RawPayload)) == 0


def test_a_streamed_body_with_no_declared_length_is_cut_off_at_the_limit_with_413(doors):
    status, sent = door_abuse.stream_huge_body(doors.url, 50 * 1024 * 1024)
    assert status == 413
    assert sent < 50 * 1024 * 1024  # the server stopped it long before the client was done


def test_a_body_that_trickles_slower_than_the_body_deadline_is_answered_408(doors):
    status = door_abuse.status_of(door_abuse.raw_exchange(
        doors.url, b"POST /pos/X HTTP/1.1\r\nHost: hub\r\nContent-Length: 100\r\n\r\n{", timeout=15))
    assert status == 408


@pytest.mark.parametrize("name", sorted(door_abuse.MALFORMED))
def test_a_malformed_request_is_answered_400_not_dropped(doors, name):
    reply = door_abuse.raw_exchange(doors.url, door_abuse.MALFORMED[name])
    assert door_abuse.status_of(reply) == 400, reply[:200]


def test_200_signed_pushes_in_a_burst_all_answer_and_every_sale_is_one_order(hub, doors):
    bodies = _sales(200, seed=11)
    result = door_abuse.paced_load(doors.url, [door_abuse.signed_push(STORE, "store-secret", b) for b in bodies],
                                   rate=200, connections=16)
    assert not result.errors and result.statuses == [200] * 200
    assert {json.loads(b)["verdict"] for b in result.bodies} == {"accepted"}
    assert _orders(hub) == 200
    # Pushed again (a till that never saw the answers): nothing doubles.
    again = door_abuse.paced_load(doors.url, [door_abuse.signed_push(STORE, "store-secret", b) for b in bodies[:50]],
                                  rate=200, connections=8)
    assert {json.loads(b)["verdict"] for b in again.bodies} == {"duplicate"} and _orders(hub) == 200


def test_a_bad_signature_is_still_401_and_the_push_is_not_recorded(hub, doors):
    body = _sales(1)[0]
    reply = door_abuse.raw_exchange(doors.url, door_abuse.signed_push(STORE, "wrong-secret", body))
    assert door_abuse.status_of(reply) == 401
    assert _orders(hub) == 0


def test_stopping_the_doors_while_connections_are_open_returns_promptly(hub, add_shop, credentials):
    server = ReceiverServer(Receiver(hub, _factory, credentials)).start()
    crowd = door_abuse.IdleCrowd(server.url, 50).open()
    started = time.monotonic()
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    stopper.join(30)
    crowd.close()
    assert not stopper.is_alive() and time.monotonic() - started < 30


def test_unreadable_sales_in_a_group_committed_burst_are_quarantined_alone_and_the_rest_go_in(hub, doors):
    bodies = _sales(25, seed=13)
    for i in (3, 9, 15, 21):
        bodies[i] = f'{{"sale_no": "BAD-{i}", "lines": "not a list"'.encode()  # signed, but not a sale
    result = door_abuse.paced_load(doors.url, [door_abuse.signed_push(STORE, "store-secret", b) for b in bodies],
                                   rate=500, connections=25)
    assert result.statuses == [200] * 25 and not result.errors
    answers = [json.loads(b) for b in result.bodies]
    assert sum(1 for a in answers if a.get("quarantined")) == 4
    assert sum(1 for a in answers if a.get("verdict") == "accepted") == 21
    assert _orders(hub) == 21
    with hub.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(RawPayload)
                                  .where(RawPayload.status == "quarantined")) == 4
