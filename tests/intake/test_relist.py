"""Issue #18: orders a poll lists again over the overlap, unchanged, get no second detail call.

Real simulators over HTTP on 127.0.0.1 and the real PostgreSQL. The simulated platform's clock is set
by each test (a SimWorld clock): behind ours where a detail must count as read well after its time
stamp, frozen on one second where two changes must share a stamp. 微信小店's list names no times, so its
tests run the platform and the poller on one test clock (the rule holds within CLOCK_SKEW).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.db.models import Order, RawPayload
from app.hub.pollers import SeenVersions, poll_once
from app.hub.registry import connector_for, simulator_module
from app.services import shop_sync
from connectors.base import Credentials, RetryPolicy
from connectors.simulators.server import SimServer
from connectors.simulators.world import SimWorld

NO_SLEEP = RetryPolicy(sleep=lambda s: None)
DETAIL = {"taobao": ("method", "taobao.trade.fullinfo.get", "tid"),
          "pdd": ("type", "pdd.order.information.get", "order_sn"),
          "wechat": ("path", "/channels/ec/order/get", "order_id")}


class Shop:
    """One simulated shop on a platform whose clock is ``clock``; polls keep the shop's SeenVersions."""

    def __init__(self, hub, add_shop, credentials, platform: str, clock) -> None:
        self.hub, self.platform = hub, platform
        self.world = SimWorld(platform, seed=18, clock=clock)
        creds = Credentials(app_key="1234567890123456789", app_secret="testsecret", access_token="token-1",
                            refresh_token="refresh-1")
        self.sim = simulator_module(platform).make_simulator(self.world, creds)
        self.server = SimServer(self.sim.handle, clock=self.world.now).start()  # its HTTP Date on its clock
        self.id = add_shop(platform, f"R-{platform}", url=self.server.url, creds=creds, platform_shop_id="77001")
        self.credentials = credentials
        self.config = next(s for s in shop_sync.enabled_shops(hub.uow()) if s.id == self.id)
        self.seen = SeenVersions()

    def poll(self, **kw):
        ours = {"clock": kw["now"]} if "now" in kw else {}  # the connector's clock is the poller's
        connector = connector_for(self.config, self.credentials.get(self.config.credentials_ref), policy=NO_SLEEP,
                                  **ours)
        try:
            report = poll_once(self.hub, self.config, connector, seen=self.seen, **kw)
        finally:
            connector.close()
        assert report.error is None, report.error
        return report

    def details(self) -> list[str]:
        """The order numbers of every detail call the simulator answered so far, in order."""
        key, api, number = DETAIL[self.platform]
        return [c[number] for c in list(self.sim.calls) if c.get(key) == api]

    def close(self) -> None:
        self.server.stop()


def _behind():
    """A platform clock 4 minutes behind ours: what it stamps was read by us long after (and 拼多多's
    windows, which end 3 minutes back, see a change at once)."""
    return lambda: datetime.now(UTC) - timedelta(minutes=4)


@pytest.fixture(params=["taobao", "pdd"])
def shop(request, hub, add_shop, credentials):
    made = Shop(hub, add_shop, credentials, request.param, _behind())
    yield made
    made.close()


def _stored(hub, platform_order_no):
    with hub.uow() as uow:
        return uow.session.execute(sa.select(Order).where(Order.platform_order_no == platform_order_no)).scalar_one_or_none()


def _versions(hub):
    with hub.uow() as uow:
        return dict(uow.session.execute(sa.select(Order.platform_order_no, Order.version)).all())


def _count(hub, model, *where):
    with hub.uow() as uow:
        return uow.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_a_repoll_over_the_overlap_fetches_no_unchanged_detail_and_a_changed_one_is_fetched(shop):
    made = shop.world.create(30, at=shop.world.now() - timedelta(minutes=3))
    first = shop.poll()
    assert first.stored == 30 and first.skipped == 0 and len(shop.details()) == 30
    payloads = _count(shop.hub, RawPayload)

    again = shop.poll(overlap=timedelta(minutes=15))  # lists all 30 again, unchanged
    assert again.skipped == 30 and again.payloads == 0 and again.stored == 0
    assert len(shop.details()) == 30  # not one more detail call
    assert _count(shop.hub, RawPayload) == payloads and _count(shop.hub, Order) == 30

    changed = shop.world.note(made[7].order_id, "改发顺丰")
    third = shop.poll(overlap=timedelta(minutes=15))
    assert shop.details()[30:] == [changed.order_id]  # only the changed one is read again
    assert third.stored == 1 and third.skipped == 29
    stored = _stored(shop.hub, changed.order_id)
    assert stored.seller_note == "改发顺丰" and stored.platform_updated_at == changed.updated


def test_a_hub_that_has_not_seen_a_version_read_late_fetches_it_once_more_then_skips_it(shop):
    shop.world.create(5, at=shop.world.now() - timedelta(minutes=3))
    shop.poll()
    payloads, versions = _count(shop.hub, RawPayload), _versions(shop.hub)
    shop.seen = SeenVersions()  # a restarted hub: the database alone cannot tell when a version was read
    restarted = shop.poll(overlap=timedelta(minutes=15))
    assert restarted.skipped == 0 and len(shop.details()) == 10
    # the same bytes again (no per-call envelope kept): nothing stored, no order version moved
    assert restarted.stored == 0 and restarted.duplicates == 5
    assert _count(shop.hub, RawPayload) == payloads and _versions(shop.hub) == versions
    settled = shop.poll(overlap=timedelta(minutes=15))
    assert settled.skipped == 5 and len(shop.details()) == 10


def test_an_order_stored_at_a_later_time_than_listed_is_not_fetched(shop):
    made = shop.world.create(3, at=shop.world.now() - timedelta(minutes=3))
    shop.poll()
    with shop.hub.uow() as uow:  # as if a push had brought a later version than this list shows
        uow.session.execute(sa.update(Order).where(Order.platform_order_no == made[0].order_id)
                            .values(platform_updated_at=made[0].updated + timedelta(seconds=30)))
        uow.commit()
    shop.seen = SeenVersions()
    report = shop.poll(overlap=timedelta(minutes=15))
    assert report.skipped == 1 and made[0].order_id not in shop.details()[3:] and len(shop.details()) == 5


def test_two_changes_in_the_same_second_are_both_seen(hub, add_shop, credentials):
    # 淘宝 lists without lag, so a detail can be read within the second its stamp names: the clock stays
    # on one second while the order is placed, read, changed, and read again. (拼多多's windows end 3
    # minutes back: its details are always read minutes after their stamp, when that second is over.)
    second = datetime.now(UTC).replace(microsecond=0)
    shop = Shop(hub, add_shop, credentials, "taobao", lambda: second)
    try:
        [order] = shop.world.create(1)
        shop.poll(now=lambda: second + timedelta(seconds=1))
        shop.world.note(order.order_id, "同一秒的备注")  # stamped with the same second
        assert shop.world.get(order.order_id).updated == second
        report = shop.poll(now=lambda: second + timedelta(seconds=1))
        assert report.skipped == 0 and report.stored == 1 and shop.details() == [order.order_id] * 2
        assert _stored(hub, order.order_id).seller_note == "同一秒的备注"
        # read again once that second is over (by the margin): from then on it is skipped
        later = shop.poll(now=lambda: second + timedelta(seconds=10))
        assert later.skipped == 0 and later.stored == 0 and len(shop.details()) == 3
        settled = shop.poll(now=lambda: second + timedelta(seconds=11))
        assert settled.skipped == 1 and len(shop.details()) == 3
    finally:
        shop.close()


def test_a_quarantined_payload_is_fetched_again_on_every_repoll(hub, add_shop, credentials):
    shop = Shop(hub, add_shop, credentials, "taobao", _behind())
    try:
        made = shop.world.create(3, at=shop.world.now() - timedelta(minutes=3))
        with shop.world.lock:
            shop.world.orders[made[1].order_id].lines[0].sku = ""  # no 商家编码: cannot be stored
        first = shop.poll()
        assert first.stored == 2 and first.quarantined == 1
        assert _stored(hub, made[1].order_id) is None
        again = shop.poll(overlap=timedelta(minutes=15))
        assert again.skipped == 2 and shop.details()[3:] == [made[1].order_id]
        assert _count(hub, RawPayload, RawPayload.status == "quarantined") == 1
    finally:
        shop.close()


class Clock:
    """Ours and the platform's, moved by the test a whole second at a time."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.at

    def tick(self, seconds: int) -> datetime:
        self.at += timedelta(seconds=seconds)
        return self.at


@pytest.fixture
def wechat(hub, add_shop, credentials):
    clock = Clock()
    made = Shop(hub, add_shop, credentials, "wechat", clock)
    made.clock = clock
    yield made
    made.close()


def test_wechat_repolls_fetch_no_unchanged_detail_a_change_in_the_overlap_and_a_late_listed_one_are_fetched(wechat):
    shop, clock = wechat, wechat.clock
    t0 = clock()
    made = shop.world.create(30, at=t0 - timedelta(seconds=100))  # paid (updated) by t0 - 10 s
    first = shop.poll(now=clock)
    assert first.stored == 30 and len(shop.details()) == 30
    payloads = _count(shop.hub, RawPayload)

    clock.tick(5)
    again = shop.poll(now=clock)  # the overlap names all 30 again, by id only
    assert again.skipped == 30 and again.payloads == 0 and len(shop.details()) == 30
    assert _count(shop.hub, RawPayload) == payloads

    clock.tick(2)
    changed = shop.world.note(made[7].order_id, "改发顺丰")  # t0 + 7 s, inside the overlap
    clock.tick(3)
    third = shop.poll(now=clock)
    assert shop.details()[30:] == [changed.order_id] and third.stored == 1 and third.skipped == 29
    assert _stored(shop.hub, changed.order_id).seller_note == "改发顺丰"

    # the list now shows a change only 20 s after it is made (order/get is current at once)
    shop.sim.list_lag = timedelta(seconds=20)
    clock.tick(1)
    shop.poll(now=clock)  # the list's index catches up with the orders as they were
    clock.tick(1)
    late = shop.world.note(made[12].order_id, "晚到的备注")  # t0 + 12 s
    clock.tick(2)
    during = shop.poll(now=clock)  # listed at its old time, which a read long after already holds
    assert during.payloads == 0 and len(shop.details()) == 31
    clock.tick(20)
    after = shop.poll(now=clock)  # listed at its new time: read
    assert shop.details()[31:] == [late.order_id] and after.stored == 1
    assert _stored(shop.hub, late.order_id).seller_note == "晚到的备注"


def test_wechat_two_changes_in_one_second_are_both_seen_and_a_restarted_hub_reads_once_more(wechat):
    shop, clock = wechat, wechat.clock
    second = clock()  # the platform's clock stays on this second while ours reads the next one
    [order] = shop.world.create(1)
    shop.poll(now=lambda: second + timedelta(seconds=1))
    shop.world.note(order.order_id, "同一秒的备注")  # stamped with the same second
    assert shop.world.get(order.order_id).updated == second
    report = shop.poll(now=lambda: second + timedelta(seconds=1))
    assert report.skipped == 0 and report.stored == 1 and shop.details() == [order.order_id] * 2
    assert _stored(shop.hub, order.order_id).seller_note == "同一秒的备注"
    # read again once that second is over (by the margin): from then on it is skipped
    clock.tick(10)
    later = shop.poll(now=clock)
    assert later.stored == 0 and len(shop.details()) == 3
    clock.tick(1)
    settled = shop.poll(now=clock)
    assert settled.skipped == 1 and len(shop.details()) == 3

    payloads, versions = _count(shop.hub, RawPayload), _versions(shop.hub)
    shop.seen = SeenVersions()  # a restarted hub reads it once more, stores nothing new, then skips it
    clock.tick(1)
    restarted = shop.poll(now=clock)
    assert restarted.skipped == 0 and restarted.stored == 0 and len(shop.details()) == 4
    assert _count(shop.hub, RawPayload) == payloads and _versions(shop.hub) == versions
    clock.tick(1)
    settled = shop.poll(now=clock)
    assert settled.skipped == 1 and len(shop.details()) == 4


def test_wechat_skips_nothing_while_its_clock_is_surely_further_behind_ours(hub, add_shop, credentials):
    # A change stamped by a clock minutes behind ours would look covered by a read made before it.
    shop = Shop(hub, add_shop, credentials, "wechat", _behind())
    try:
        shop.world.create(5, at=shop.world.now() - timedelta(minutes=3))
        assert shop.poll().stored == 5
        again = shop.poll(overlap=timedelta(minutes=15))
        assert again.skipped == 0 and again.duplicates == 5 and len(shop.details()) == 10
        assert shop.seen.versions == {}  # reads made while the clocks disagree are not remembered as current
    finally:
        shop.close()
