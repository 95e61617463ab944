"""The hub against the platform simulators over real HTTP: nothing lost, nothing doubled, nothing silent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

import connectors.douyin  # noqa: F401 - a connector that fails to import fails these tests, never skips them
import connectors.pdd  # noqa: F401
import connectors.taobao  # noqa: F401
import connectors.wechat  # noqa: F401

from app.db.models import AuditLog, ChangeNotice, Order, RawPayload
from app.hub.pollers import ingest_raw, poll_once
from app.hub.receiver import Receiver, ReceiverServer
from app.hub.registry import connector_for, simulator_module
from app.hub.service import Hub
from app.services import shop_sync
from connectors.base import Credentials, RetryPolicy
from connectors.simulators.server import SimServer
from connectors.simulators.world import SimWorld
from tests.support.factories import make_warehouse

REPO = Path(__file__).resolve().parents[2]
PLATFORMS = ["douyin", "taobao", "pdd", "wechat"]
NO_SLEEP = RetryPolicy(sleep=lambda s: None)


def _no_sleep_connector(shop, creds):  # a module function: the hub hands it to its inbox worker's process
    return connector_for(shop, creds, policy=NO_SLEEP)


def _creds(platform: str) -> Credentials:
    return Credentials(app_key="1234567890123456789", app_secret="testsecret", access_token="token-1",
                       refresh_token="refresh-1")


class Shop:
    """One simulated shop: world, simulator server, shop row, connector."""

    def __init__(self, hub, add_shop, credentials, platform: str, *, push_url: str | None = None, code: str = "S1"):
        self.hub, self.platform = hub, platform
        self.world = SimWorld(platform, seed=11)
        self.creds = _creds(platform)
        self.sim = simulator_module(platform).make_simulator(self.world, self.creds, push_url=push_url)
        self.server = SimServer(self.sim.handle).start()
        self.id = add_shop(platform, code, url=self.server.url, creds=self.creds, platform_shop_id="77001")
        self.credentials = credentials
        self.config = next(s for s in shop_sync.enabled_shops(hub.uow()) if s.id == self.id)

    def connector(self):
        return connector_for(self.config, self.credentials.get(self.config.credentials_ref), policy=NO_SLEEP)

    def poll(self, **kw):
        """Poll once the platform can show the latest change (stamps are whole seconds; some
        platforms only answer up to now − lag), as the next regular poll would."""
        connector = self.connector()
        with self.world.lock:
            newest = max((o.updated for o in self.world.orders.values()), default=None)
        if newest is not None:
            wait = (newest + connector.lag + timedelta(seconds=1.05) - self.world.clock()).total_seconds()
            if wait > 0:
                time.sleep(wait)
        try:
            return poll_once(self.hub, self.config, connector, **kw)
        finally:
            connector.close()

    def close(self):
        self.server.stop()


@pytest.fixture(params=PLATFORMS)
def any_shop(request, hub, add_shop, credentials):
    shop = Shop(hub, add_shop, credentials, request.param)
    yield shop
    shop.close()


@pytest.fixture
def shop(hub, add_shop, credentials):
    shop = Shop(hub, add_shop, credentials, "douyin")
    yield shop
    shop.close()


def _count(hub, model, *where):
    with hub.uow() as uow:
        return uow.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _order(hub, platform_order_no):
    with hub.uow() as uow:
        return uow.session.execute(sa.select(Order).where(Order.platform_order_no == platform_order_no)).scalar_one()


def _start_picking(hub, platform_order_no):
    wh = make_warehouse(hub)
    with hub.uow() as uow:
        uow.session.execute(sa.update(Order).where(Order.platform_order_no == platform_order_no)
                            .values(status="allocating", warehouse_id=wh))
        uow.commit()


def test_a_poll_stores_every_order_across_many_pages_with_its_raw_payload(any_shop):
    made = any_shop.world.create(230, at=any_shop.world.now() - timedelta(minutes=20))
    report = any_shop.poll()
    assert report.error is None, report.error
    assert report.stored == 230 and report.quarantined == 0
    hub = any_shop.hub
    assert _count(hub, Order) == 230
    assert _count(hub, RawPayload, RawPayload.order_id.is_not(None)) == 230
    one = _order(hub, made[0].order_id)
    assert one.paid_amount == made[0].payment and one.status == "paid"
    assert one.items[0]["sku"] == made[0].lines[0].sku
    state = shop_sync.state(hub.uow(), any_shop.id)
    assert state.last_success_at is not None and state.high_water is not None and state.orders_ingested == 230


def test_a_poll_returns_with_every_page_it_stored_routed_though_routing_runs_beside_the_next_page(shop):
    shop.world.create(230, at=shop.world.now() - timedelta(minutes=20))
    report = shop.poll()
    assert report.error is None and report.stored == 230
    with shop.hub.uow() as uow:
        waiting, undecided = uow.session.execute(sa.text(
            "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM routing_decisions d"
            " WHERE d.order_id = o.id)) FROM orders o WHERE o.status IN ('paid', 'allocating')")).one()
    assert waiting > 100 and undecided == 0
    # each stage's thread reports the CPU it took, so a benchmark can split the hub's own cost per order
    assert set(report.cpu_s) == {"fetch", "store", "route"} and all(v > 0 for v in report.cpu_s.values())


def test_the_overlap_window_rereads_the_edge_but_stores_nothing_twice(shop):
    shop.world.create(40, at=shop.world.now() - timedelta(minutes=5))
    first = shop.poll()
    second = shop.poll(overlap=timedelta(minutes=10))
    assert first.stored == 40
    assert second.stored == 0 and second.duplicates >= 40
    assert _count(shop.hub, Order) == 40


def test_an_order_changed_five_times_during_picking_gives_the_picker_one_notice(shop):
    [order] = shop.world.create(1, at=shop.world.now() - timedelta(minutes=5))
    shop.poll()
    _start_picking(shop.hub, order.order_id)
    for n in range(4):
        shop.world.change_address(order.order_id, f"新华路{n + 1}号")
        shop.poll()
    shop.world.cancel(order.order_id)
    shop.poll()
    with shop.hub.uow() as uow:
        [notice] = uow.session.execute(sa.select(ChangeNotice)).scalars().all()
    assert notice.status == "open" and notice.change_count == 5 and notice.interception
    assert notice.kinds == ["address", "cancel"]
    assert _order(shop.hub, order.order_id).status == "cancelled"


def test_an_address_change_after_picking_started_is_flagged_and_audited_not_silent(shop):
    [order] = shop.world.create(1, at=shop.world.now() - timedelta(minutes=5))
    shop.poll()
    _start_picking(shop.hub, order.order_id)
    shop.world.change_address(order.order_id, "解放路88号")
    report = shop.poll()
    assert report.interceptions == 1
    stored = _order(shop.hub, order.order_id)
    assert "解放路88号" in (stored.receiver_address or "") or stored.receiver_address != order.address
    assert stored.status == "allocating"  # the platform's "awaiting shipment" does not undo picking
    with shop.hub.uow() as uow:
        entry = uow.session.execute(sa.select(AuditLog)).scalar_one()
    assert entry.operator == "system:hub" and entry.action == "order.address_change"
    assert entry.after["intercept"] is True and "原始报文" in entry.basis


def test_a_stale_detail_never_moves_an_order_back(shop):
    [order] = shop.world.create(1, at=shop.world.now() - timedelta(minutes=5))
    shop.poll()
    shop.world.note(order.order_id, "请尽快发货")  # a version the hub never polled…
    time.sleep(1.05)
    shop.world.cancel(order.order_id)  # …because the cancellation came a second later
    shop.poll()
    assert _order(shop.hub, order.order_id).status == "cancelled"
    # A pushed message makes the hub re-read the order; a lagging replica answers with the old version.
    shop.world.faults.stale_detail_next = 1
    connector = shop.connector()
    try:
        result = ingest_raw(shop.hub, shop.config, connector, [connector.fetch(order.order_id)])
    finally:
        connector.close()
    assert [o.verdict for o in result.outcomes] == ["stale"]
    assert _order(shop.hub, order.order_id).status == "cancelled"


def test_a_malformed_payload_is_quarantined_and_the_rest_of_the_page_goes_in(shop):
    shop.world.create(10, at=shop.world.now() - timedelta(minutes=5))
    shop.world.faults.malformed_next = 1
    report = shop.poll()
    held = _count(shop.hub, RawPayload, RawPayload.status == "quarantined")
    orders = _count(shop.hub, Order)
    assert report.error is None or held == 0
    assert orders + held >= 9 and orders >= 9


def test_a_platform_that_stays_down_is_recorded_in_plain_words_and_the_next_poll_catches_up(shop):
    shop.world.create(30, at=shop.world.now() - timedelta(minutes=5))
    shop.world.faults.error_5xx_next = 4  # 1 try + 3 retries
    failed = shop.poll()
    assert failed.error is not None and "已重试 3 次" in failed.error and "不会漏单" in failed.error
    state = shop_sync.state(shop.hub.uow(), shop.id)
    assert state.consecutive_failures == 1 and state.high_water is None and state.last_error == failed.error
    recovered = shop.poll()
    assert recovered.error is None and _count(shop.hub, Order) == 30
    assert shop_sync.state(shop.hub.uow(), shop.id).consecutive_failures == 0


def test_two_hubs_racing_for_one_shop_poll_it_once_and_the_survivor_takes_over(shop, hub, credentials):
    shop.world.create(50, at=shop.world.now() - timedelta(minutes=5))
    a = Hub(hub, lambda s, c: connector_for(s, c, policy=NO_SLEEP), credentials, hub_id="hub-a", poll_interval=0.2)
    b = Hub(hub, lambda s, c: connector_for(s, c, policy=NO_SLEEP), credentials, hub_id="hub-b", poll_interval=0.2)
    try:
        assert a.claim_round() == [shop.id]
        assert b.claim_round() == []
        deadline = time.time() + 20
        while _count(hub, Order) < 50 and time.time() < deadline:
            time.sleep(0.1)
        assert _count(hub, Order) == 50
        a.stop()
        taken_at = time.time()
        while shop.id not in b.owned() and time.time() - taken_at < 30:
            b.claim_round()
            time.sleep(0.2)
        assert shop.id in b.owned() and time.time() - taken_at < 30
        assert shop_sync.state(hub.uow(), shop.id).orders_ingested == 50
    finally:
        a.stop()
        b.stop()


def test_a_push_between_polls_is_applied_once_even_if_the_platform_repeats_it(hub, add_shop, credentials):
    receiver = ReceiverServer(Receiver(hub, _no_sleep_connector, credentials)).start()
    shop = Shop(hub, add_shop, credentials, "douyin", push_url=f"{receiver.url}/push/S1")
    try:
        [order] = shop.world.create(1, at=shop.world.now() - timedelta(minutes=5))
        shop.poll()
        shop.world.cancel(order.order_id)  # the simulator pushes the cancellation to the hub
        deadline = time.time() + 10
        while _order(hub, order.order_id).status != "cancelled" and time.time() < deadline:
            time.sleep(0.1)
        assert _order(hub, order.order_id).status == "cancelled"
    finally:
        shop.close()
        receiver.stop()


def test_a_hub_killed_mid_batch_loses_nothing_and_doubles_nothing_after_restart(shop, hub, tmp_path):
    shop.world.create(300, at=shop.world.now() - timedelta(minutes=20))
    shop.world.faults.slow_next = 10**6
    shop.world.faults.slow_seconds = 0.01
    script = textwrap.dedent(f"""
        from app.bootstrap import bootstrap
        from app.settings import Settings
        from app.hub.credentials import FileStore
        from app.hub.pollers import ingest_raw, poll_once
        from app.hub.registry import connector_for
        from app.services import shop_sync
        from pathlib import Path
        app = bootstrap(Settings(database_url={hub.engine.url.render_as_string(False)!r}, data_dir=Path({str(tmp_path)!r})))
        shop = next(s for s in shop_sync.enabled_shops(app.uow()) if s.id == {shop.id})
        store = FileStore(Path({str(shop.credentials.path)!r}))
        poll_once(app, shop, connector_for(shop, store.get(shop.credentials_ref)))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=os.environ | {"PYTHONPATH": str(REPO)})
    try:
        deadline = time.time() + 60
        while _count(hub, Order) < 100 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, "the poll finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    stored_before = _count(hub, Order)
    assert 100 <= stored_before < 300
    shop.world.faults.slow_next = 0
    shop.poll()
    assert _count(hub, Order) == 300
    with hub.uow() as uow:
        assert uow.session.scalar(sa.text("SELECT count(DISTINCT platform_order_no) FROM orders")) == 300
        assert uow.session.scalar(sa.text("SELECT count(*) FROM raw_payloads WHERE order_id IS NULL")) == 0


def test_a_newer_platform_version_keeps_the_notes_and_the_address_our_people_changed(shop):
    """A later version from the platform (a memo edited in 商家后台, the parcel shipped) must not wipe
    what our people did: the warehouse's note and an accepted address change stay until the platform
    itself changes the receiver."""
    from app.services import orders
    from tests.warehouse.world import CS

    [order] = shop.world.create(1, at=shop.world.now() - timedelta(minutes=5))
    shop.poll()
    stored = _order(shop.hub, order.order_id)
    orders.add_warehouse_note(shop.hub.uow(), stored.order_no, "请勿放干燥剂", expected_version=stored.version, actor=CS)
    stored = _order(shop.hub, order.order_id)
    orders.change_address(shop.hub.uow(), stored.order_no,
                          orders.AddressChange("李女士", "13912345678", "江苏省南京市鼓楼区中山北路9号"),
                          expected_version=stored.version, actor=CS, basis="工单 7")

    shop.world.note(order.order_id, "平台备注：送礼")
    shop.poll()
    after = _order(shop.hub, order.order_id)
    assert (after.receiver_name, after.receiver_address, after.city) == ("李女士", "江苏省南京市鼓楼区中山北路9号", "南京市")
    assert after.seller_note.startswith("平台备注：送礼\n[")
    assert after.seller_note.endswith(" xiaomei] 请勿放干燥剂")
    with shop.hub.uow() as uow:  # the memo is no address change: nothing told, nothing audited as one
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
            AuditLog.operator == "system:hub", AuditLog.action == "order.address_change")) == 0

    shop.world.note(order.order_id, "平台备注：改送公司")  # the memo edited again: the new text, our note kept once
    shop.poll()
    after = _order(shop.hub, order.order_id)
    assert after.seller_note.startswith("平台备注：改送公司\n[") and after.seller_note.count("请勿放干燥剂") == 1

    shop.world.change_address(order.order_id, "解放路88号")  # the buyer changes it on the platform: theirs wins
    shop.poll()
    after = _order(shop.hub, order.order_id)
    assert after.receiver_address != "江苏省南京市鼓楼区中山北路9号" and after.receiver_name != "李女士"
    assert "请勿放干燥剂" in after.seller_note
