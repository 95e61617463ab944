"""Platform pushes (``/push/<shop>``) group-committed (issue #19): each answered only after its own order is stored.

The 抖店 simulator serves the order details over real HTTP; its signed pushes are sent to the hub's
doors as a platform sends them, many at once so they share commits.
"""

import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.db.models import InboundMessage, Order, RawPayload
from app.hub.receiver import Receiver, ReceiverServer
from app.hub.registry import connector_for, simulator_module
from app.services import ingest
from connectors.base import Credentials, RetryPolicy
from connectors.douyin import DouyinConnector
from connectors.simulators.server import SimServer
from connectors.simulators.world import SimWorld
from tests.support import door_abuse
from tests.support.lost_connection import LoseTheConnection

SHOP = "DY-PUSH"
ACK = DouyinConnector.push_ack
CREDS = Credentials(app_key="1234567890123456789", app_secret="push-secret", access_token="token-1")


class Platform:
    """抖店 for one shop: its world, its API on a simulator server, and the hub's doors it pushes to."""

    def __init__(self, hub, add_shop, credentials) -> None:
        self.world = SimWorld("douyin", seed=23)
        self.sim = simulator_module("douyin").make_simulator(self.world, CREDS)
        self.server = SimServer(self.sim.handle).start()
        add_shop("douyin", SHOP, url=self.server.url, creds=CREDS, platform_shop_id="77001")
        no_sleep = RetryPolicy(sleep=lambda s: None)
        self.doors = ReceiverServer(Receiver(hub, lambda s, c: connector_for(s, c, policy=no_sleep), credentials)).start()

    def pushes(self, n: int) -> list[bytes]:
        """A signed 抖店 push for each of ``n`` new orders, as raw HTTP requests to the hub."""
        orders = self.world.create(n, at=self.world.now() - timedelta(minutes=5))
        return [door_abuse.post(f"/push/{SHOP}", *self.sim.push_message("address_changed", o)) for o in orders]

    def send(self, requests: list[bytes]) -> door_abuse.LoadResult:
        return door_abuse.paced_load(self.doors.url, requests, rate=5000, connections=min(len(requests), 64))

    def close(self) -> None:
        self.doors.stop()
        self.server.stop()


@pytest.fixture
def platform(hub, add_shop, credentials):
    p = Platform(hub, add_shop, credentials)
    yield p
    p.close()


def _count(hub, model, *where) -> int:
    with hub.uow() as uow:
        return uow.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_200_concurrent_signed_pushes_are_all_stored_exactly_once(hub, platform):
    result = platform.send(platform.pushes(200))
    assert not result.errors and sorted(result.statuses) == [200] * 200
    assert set(result.bodies) == {ACK}  # 抖店's own "received", so it does not resend
    assert _count(hub, Order) == 200
    assert _count(hub, InboundMessage) == 200
    with hub.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count(sa.distinct(Order.platform_order_no)))) == 200


def test_a_push_repeated_in_the_same_burst_is_stored_once(hub, platform):
    pushes = platform.pushes(40)
    burst = [p for pair in zip(pushes, pushes, strict=True) for p in pair]  # each sent twice, back to back
    result = platform.send(burst)
    assert not result.errors and sorted(result.statuses) == [200] * 80
    assert _count(hub, Order) == 40 and _count(hub, InboundMessage) == 40
    assert _count(hub, RawPayload) == 40  # the repeat's fetched detail is not kept a second time


def test_a_message_repeated_within_one_group_is_recorded_once_and_its_repeat_is_a_duplicate(hub, platform):
    # The same group, deterministically: one ingest batch holding a message twice, as the lane builds it.
    [request] = platform.pushes(1)
    connector = connector_for(*_shop_and_creds(hub, platform))
    head, _, body = request.partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    [message] = connector.parse_pushes({k.lower(): v for k, v in headers.items()}, body)
    raw = connector.fetch(message.platform_order_no)
    payload = ingest.Payload(raw.kind, raw.body)
    with hub.uow() as uow:
        shop_id = uow.session.scalar(sa.text("SELECT id FROM shops WHERE code = :c"), {"c": SHOP})
    result = ingest.ingest_batch(hub.uow(), shop_id=shop_id, source="douyin", payloads=[payload, payload],
                                 normalise=lambda b: connector.normalise(raw),
                                 messages=[(message.msg_id, message.topic)] * 2)
    assert [o.verdict for o in result.outcomes] == ["new", "duplicate"]
    again = ingest.ingest_batch(hub.uow(), shop_id=shop_id, source="douyin", payloads=[payload],
                                normalise=lambda b: connector.normalise(raw), messages=[(message.msg_id, message.topic)])
    assert [o.verdict for o in again.outcomes] == ["duplicate"]
    assert _count(hub, Order) == 1 and _count(hub, InboundMessage) == 1
    connector.close()


def _shop_and_creds(hub, platform):
    from app.services import shop_sync

    shop = next(s for s in shop_sync.enabled_shops(hub.uow()) if s.code == SHOP)
    return shop, CREDS


def test_a_bad_signature_and_an_unreadable_push_in_a_burst_are_refused_and_recorded_while_the_rest_are_stored(
        hub, platform, caplog):
    good = platform.pushes(20)
    forged = good[5].replace(b"event-sign: ", b"event-sign: 0")  # the signature no longer matches
    unreadable_body = b'[{"tag":"105","msg_id":"1"}]'  # signed by the platform, but names no order
    from connectors.douyin import push_sign

    unreadable = door_abuse.post(f"/push/{SHOP}", {"Content-Type": "application/json", "app-id": CREDS.app_key,
                                                   "event-sign": push_sign(CREDS.app_key, CREDS.app_secret,
                                                                           unreadable_body, "md5")}, unreadable_body)
    burst = good[:5] + [forged] + good[5:10] + [unreadable] + good[10:]
    with caplog.at_level(logging.WARNING, logger="app.hub.receiver"):
        result = platform.send(burst)
    assert not result.errors
    assert sorted(result.statuses) == [200] * 21 + [401]  # answers come back in the order they finish
    assert any("refused" in r.getMessage() and SHOP in r.getMessage() for r in caplog.records)  # the refusal is recorded
    assert _count(hub, Order) == 20 and _count(hub, InboundMessage) == 20
    # The unreadable one is kept in quarantine with its reason (a person looks at it); the platform got its ack.
    with hub.uow() as uow:
        kept = uow.session.execute(sa.select(RawPayload.body, RawPayload.error)
                                   .where(RawPayload.status == "quarantined")).all()
    assert [k.body for k in kept] == [unreadable_body] and kept[0].error


def test_a_database_connection_lost_mid_group_answers_5xx_never_200_and_the_resend_is_stored_once(hub, platform):
    pushes = platform.pushes(30)
    loss = LoseTheConnection(hub, "INSERT INTO INBOUND_MESSAGES")  # a group's pushed messages
    try:
        result = platform.send(pushes)
        assert loss.kills >= 1 and not result.errors
        assert sorted(result.statuses) == [503] * 30  # retryable (the database is away): the platform resends; nothing was answered as stored
        assert _count(hub, Order) == 0 and _count(hub, InboundMessage) == 0
        loss.on = False
        again = platform.send(pushes)  # 抖店 resends what was not acknowledged
    finally:
        loss.close()
    assert sorted(again.statuses) == [200] * 30 and set(again.bodies) == {ACK}
    assert _count(hub, Order) == 30 and _count(hub, InboundMessage) == 30
