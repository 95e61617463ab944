"""Platform pushes (``/push/<shop>``) through the push inbox (issue #19): each answered only after its message
is committed; the inbox worker then fetches every named order's detail and stores it exactly once.

The 抖店 simulator serves the order details over real HTTP; its signed pushes are sent to the hub's
doors as a platform sends them, many at once so they share commits.
"""

import logging
import os
import signal
import time
from datetime import timedelta

import psutil
import pytest
import sqlalchemy as sa

from app.db.models import InboundMessage, InboundMessageAttempt, Order, RawPayload
from app.hub.inbox_worker import Backoff, DoorsFirst, InboxWorker
from app.hub.receiver import Receiver, ReceiverServer
from app.hub.registry import connector_for, simulator_module
from app.services import ingest
from connectors.base import Credentials, RetryPolicy
from connectors.douyin import DouyinConnector
from connectors.simulators.server import SimServer
from connectors.simulators.world import SimWorld
from tests.support import door_abuse
from tests.support.hub_restart import HubProcess, free_port, until
from tests.support.lost_connection import LoseTheConnection

SHOP = "DY-PUSH"
ACK = DouyinConnector.push_ack
CREDS = Credentials(app_key="1234567890123456789", app_secret="push-secret", access_token="token-1")


class Platform:
    """抖店 for one shop: its world, its API on a simulator server, and the hub's doors it pushes to."""

    def __init__(self, hub, add_shop, credentials, *, inbox_worker: bool = True, **inbox_options) -> None:
        self.hub, self.credentials = hub, credentials
        self.world = SimWorld("douyin", seed=23)
        self.sim = simulator_module("douyin").make_simulator(self.world, CREDS)
        self.server = SimServer(self.sim.handle).start()
        add_shop("douyin", SHOP, url=self.server.url, creds=CREDS, platform_shop_id="77001")
        self.receiver = Receiver(hub, _connector, credentials)
        # Failed fetches are due again at once: the test decides when the platform answers again.
        self.receiver.inbox.backoff = Backoff(first=0.0)
        self.receiver.inbox.options.update(inbox_options)
        self.doors = ReceiverServer(self.receiver, inbox_worker=inbox_worker).start()

    def pushes(self, n: int) -> list[bytes]:
        """A signed 抖店 push for each of ``n`` new orders, as raw HTTP requests to the hub."""
        orders = self.world.create(n, at=self.world.now() - timedelta(minutes=5))
        return [door_abuse.post(f"/push/{SHOP}", *self.sim.push_message("address_changed", o)) for o in orders]

    def send(self, requests: list[bytes]) -> door_abuse.LoadResult:
        return door_abuse.paced_load(self.doors.url, requests, rate=5000, connections=min(len(requests), 64))

    def close(self) -> None:
        self.doors.stop()
        self.server.stop()


def _connector(shop, creds):
    return connector_for(shop, creds, policy=RetryPolicy(sleep=lambda s: None))


def _settled(hub, orders: int, *, timeout: float = 60.0) -> None:
    """Waits until the inbox worker has stored ``orders`` orders and no message is pending (bounded, not timed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _count(hub, Order) >= orders and _count(hub, InboundMessage, InboundMessage.state == "pending") == 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"{_count(hub, Order)} orders stored, "
                         f"{_count(hub, InboundMessage, InboundMessage.state == 'pending')} messages pending")


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
    _settled(hub, 200)
    assert _count(hub, Order) == 200
    assert _count(hub, InboundMessage) == 200
    with hub.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count(sa.distinct(Order.platform_order_no)))) == 200


def test_a_push_repeated_in_the_same_burst_is_stored_once(hub, platform):
    pushes = platform.pushes(40)
    burst = [p for pair in zip(pushes, pushes, strict=True) for p in pair]  # each sent twice, back to back
    result = platform.send(burst)
    assert not result.errors and sorted(result.statuses) == [200] * 80
    _settled(hub, 40)
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
    _settled(hub, 20)
    assert _count(hub, Order) == 20 and _count(hub, InboundMessage) == 20
    # The unreadable one is kept in quarantine with its reason (a person looks at it); the platform got its ack.
    with hub.uow() as uow:
        kept = uow.session.execute(sa.select(RawPayload.body, RawPayload.error)
                                   .where(RawPayload.status == "quarantined")).all()
    assert [k.body for k in kept] == [unreadable_body] and kept[0].error


def test_a_database_connection_lost_mid_group_answers_5xx_never_200_and_the_resend_is_stored_once(hub, platform):
    pushes = platform.pushes(30)
    loss = LoseTheConnection(hub, "INSERT INTO INBOUND_MESSAGES")  # a group's pushed messages, into the inbox
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
    _settled(hub, 30)
    assert _count(hub, Order) == 30 and _count(hub, InboundMessage) == 30


def test_pushes_answered_while_no_worker_runs_are_fetched_once_by_the_worker_of_the_next_start(hub, add_shop, credentials):
    # The hub died after its 200s and before any detail fetch: the inbox holds the messages durably.
    first = Platform(hub, add_shop, credentials, inbox_worker=False)
    try:
        pushes = first.pushes(25)
        result = first.send(pushes + pushes[:5])  # 抖店 repeats a few meanwhile
        assert not result.errors and sorted(result.statuses) == [200] * 30
    finally:
        first.doors.stop()  # the hub goes; the platform stays
    assert _count(hub, Order) == 0
    assert _count(hub, InboundMessage, InboundMessage.state == "pending") == 25
    restarted = InboxWorker(hub, _connector, credentials)  # the next start of the hub: a new worker
    restarted.start()
    try:
        _settled(hub, 25)
    finally:
        restarted.stop()
        first.server.stop()
    assert _count(hub, Order) == 25 and _count(hub, InboundMessage, InboundMessage.state == "done") == 25
    with hub.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count(sa.distinct(Order.platform_order_no)))) == 25


def test_a_detail_fetch_that_fails_stays_pending_with_its_reason_and_the_retry_stores_the_order_once(hub, platform):
    from app.services import trace

    platform.world.faults.error_5xx_next = 4  # the connector's own three retries fail too
    platform.doors.receiver.inbox.stop()  # rounds are run by the test, one at a time
    worker = InboxWorker(hub, _connector, platform.credentials, backoff=Backoff(first=0.0))
    [push] = platform.pushes(1)
    assert platform.send([push]).statuses == [200]
    worker.run_once()
    with hub.uow() as uow:
        pending = uow.session.execute(sa.select(InboundMessage)).scalar_one()
        assert pending.state == "pending" and pending.attempts == 1 and pending.last_error  # the reason, kept
    assert _count(hub, Order) == 0
    assert platform.send([push]).statuses == [200]  # the platform's resend: already in the inbox, not a new fetch
    worker.run_once()  # due again at once (no pause in this test): the platform answers now
    worker.stop()
    assert _count(hub, Order) == 1 and _count(hub, InboundMessage) == 1
    assert [a.ok for a in _attempts(hub)] == [False, True]
    with hub.uow() as uow:
        order_no = uow.session.scalar(sa.select(Order.order_no))
    story = trace.render_story(trace.order_story(hub.uow(), order_no))
    assert "第 1 次取订单详情失败" in story and "第 2 次取订单详情成功" in story


def _attempts(hub):
    with hub.uow() as uow:
        return uow.session.execute(sa.select(InboundMessageAttempt).order_by(InboundMessageAttempt.id)).scalars().all()


def test_several_messages_naming_one_order_fetch_its_detail_once(hub, platform):
    platform.doors.receiver.inbox.stop()
    [order] = platform.world.create(1, at=platform.world.now() - timedelta(minutes=5))
    pushes = [door_abuse.post(f"/push/{SHOP}", *platform.sim.push_message(topic, order))
              for topic in ("address_changed", "cancelled", "address_changed")]
    assert platform.send(pushes).statuses == [200] * 3
    worker = InboxWorker(hub, _connector, platform.credentials)
    worker.run_once()
    worker.stop()
    assert _count(hub, Order) == 1 and _count(hub, InboundMessage, InboundMessage.state == "done") == 3
    assert len(_attempts(hub)) == 3 and _count(hub, RawPayload) == 1  # one detail, fetched and stored once


def test_the_worker_runs_in_a_process_of_its_own_at_a_lower_priority_and_ends_when_the_hub_stops(hub, add_shop,
                                                                                                  credentials):
    p = Platform(hub, add_shop, credentials)
    try:
        worker = psutil.Process(p.receiver.inbox.pid)
        assert worker.pid != os.getpid()
        assert p.send(p.pushes(10)).statuses == [200] * 10
        _settled(hub, 10)  # woken through its pipe by the doors' commit
        assert os.sched_getscheduler(worker.pid) == os.SCHED_BATCH and worker.nice() == 10  # the doors come first
        assert all(os.sched_getscheduler(t.id) == os.SCHED_BATCH for t in worker.threads())  # its fetchers too
    finally:
        p.close()  # the hub stops
    gone, alive = psutil.wait_procs([worker], timeout=30)
    assert not alive and p.receiver.inbox.restarts == 0  # stopped when asked, not started again


def test_a_worker_killed_holding_a_claim_is_started_again_and_fetches_the_order_once_its_claim_expires(
        hub, add_shop, credentials, caplog):
    p = Platform(hub, add_shop, credentials, lease=1.0)  # a claim expires after 1 s (30 s in the hub)
    try:
        p.world.faults.slow_seconds, p.world.faults.slow_next = 60.0, 1  # the first detail call hangs
        first = p.receiver.inbox.pid
        with caplog.at_level(logging.ERROR, logger="app.hub.inbox_worker"):
            assert p.send(p.pushes(1)).statuses == [200]
            until(lambda: any(r.path.endswith("/order/orderDetail") for r in p.server.requests), 60,
                  "the claimed message's detail asked for")  # and the platform holds the answer
            os.kill(first, signal.SIGKILL)  # dies holding the claim, its fetch unanswered
            until(lambda: p.receiver.inbox.restarts == 1, 60, "the worker started again")
            _settled(hub, 1)
        assert p.receiver.inbox.pid != first
        assert any("意外退出" in r.getMessage() for r in caplog.records)  # said, not silent
    finally:
        p.close()
    assert _count(hub, Order) == 1 and _count(hub, RawPayload) == 1
    with hub.uow() as uow:
        message = uow.session.execute(sa.select(InboundMessage)).scalar_one()
    assert message.state == "done" and message.attempts == 2  # the killed fetch, then the restarted worker's
    assert [a.ok for a in _attempts(hub)] == [True]  # the killed one left no outcome, only its expired claim


def test_a_hub_process_killed_outright_leaves_no_worker_process_behind(database_url, tmp_path):
    FileStore = __import__("app.hub.credentials", fromlist=["FileStore"]).FileStore
    FileStore(tmp_path / "secrets.json")  # the hub's own (empty) credential file: no keyring in tests
    # Two door processes: the hub's own and one extra, which must go with the hub as its inbox worker does.
    hub = HubProcess(database_url.render_as_string(hide_password=False), tmp_path, free_port(), door_processes=2).start()
    try:
        until(lambda: len(_workers(hub.proc.pid)) == 2, 120, "the hub's inbox worker and extra door process started")
        workers = _workers(hub.proc.pid)
        hub.proc.send_signal(signal.SIGKILL)  # no stop, no atexit: only the closed pipe tells the worker
        hub.proc.wait(30)
        gone, alive = psutil.wait_procs(workers, timeout=30)
        assert not alive, hub.log()
    finally:
        hub.stop()


def _workers(hub_pid: int) -> list[psutil.Process]:
    """The hub's inbox worker and extra door processes: forked by its forkserver (the hub's child), so its grandchildren."""
    try:
        servers = [c for c in psutil.Process(hub_pid).children() if "forkserver" in " ".join(c.cmdline())]
        return [w for s in servers for w in s.children()]
    except psutil.NoSuchProcess:
        return []


def test_while_the_doors_store_a_burst_the_worker_holds_back_and_a_trickle_is_fetched_at_once(hub, add_shop, credentials):
    p = Platform(hub, add_shop, credentials, inbox_worker=False)  # the worker is run by the test, in this process
    # The doors' rate over an hour (not a second), so "busy" holds however slowly this machine runs the test.
    worker = InboxWorker(hub, _connector, credentials, doors_first=DoorsFirst(busy=50 / 3600, patience=3600, window=3600))
    worker.start()
    try:
        assert p.send(p.pushes(3)).statuses == [200] * 3
        worker.wake(3)  # a trickle: fetched at once
        _settled(hub, 3)
        assert p.send(p.pushes(60)).statuses == [200] * 60
        worker.wake(60)  # a burst: the doors come first
        until(lambda: worker.holding_since is not None, 60, "the worker holding back")
        assert _count(hub, Order) == 3 and _count(hub, InboundMessage, InboundMessage.state == "pending") == 60
        worker.doors_first = DoorsFirst()  # the burst is over (no message for a second)
        _settled(hub, 63)
        assert worker.holding_since is None
    finally:
        worker.stop()
        p.close()
    assert _count(hub, Order) == 63 and _count(hub, InboundMessage, InboundMessage.state == "done") == 63
