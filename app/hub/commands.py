"""Command-line handlers for the hub: `orderhub hub`, `orderhub simulate`, `orderhub quarantine`."""

from __future__ import annotations

import argparse
import logging
import secrets
import signal
import threading
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.bootstrap import OrderHub, bootstrap
from app.db.models import Order, Shop
from app.domain.carriers import still_limits
from app.domain.clock import local
from app.domain.fields import Lang, code_label
from app.domain.messages import render
from app.hub.carrier_receiver import CarrierAccounts, CarrierReceiver
from app.hub.credentials import open_store
from app.hub.db_status import HUB_DATABASE
from app.hub.einvoice_dispatch import EinvoiceDispatcher
from app.hub.erp_dispatch import ErpDispatcher
from app.hub.logistics_worker import LogisticsWorker, start_simulated_carriers
from app.hub.outbox_worker import SMS_CREDENTIALS_REF, OutboxWorker
from app.hub.pollers import settle_heap
from app.hub.audit_anchor import DailyAnchor
from app.hub.receiver import Receiver, ReceiverServer
from app.hub.registry import PLATFORMS, connector_for, simulator_module
from app.hub.service import Hub
from app.services import ingest, shop_sync
from app.settings import Settings
from connectors.base import Credentials, RawOrder
from connectors.pos import PosReceiver
from connectors.simulators.animator import Animator
from connectors.simulators.pos import PosStoreSimulator
from connectors.simulators.server import SimServer
from connectors.simulators.world import SimWorld
from connectors.sms import AliyunSms

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the hub's commands to the `orderhub` parser."""
    hub = sub.add_parser("hub", help="订单接入服务（无界面）/ the headless intake hub")
    hub.add_argument("--simulate", action="store_true",
                     help="为每个店铺在本机启动平台模拟器（演示用）/ run loopback platform simulators for every shop")
    hub.add_argument("--receiver-port", type=int, default=18080, help="推送与门店POS接收端口 / push and POS port")
    hub.add_argument("--poll-interval", type=float, help="覆盖店铺轮询间隔（秒）/ override every shop's poll interval")
    hub.add_argument("--for", dest="run_for", type=float, help="运行指定秒数后退出 / stop after N seconds")

    sim = sub.add_parser("simulate", help="启动一个平台模拟器 / run one platform simulator")
    sim.add_argument("platform", choices=sorted(PLATFORMS))
    sim.add_argument("--port", type=int, required=True)
    sim.add_argument("--rate", type=float, default=0.5, help="每秒新订单数 / new orders per second")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--app-key", default="sim-app-key")
    sim.add_argument("--app-secret", default="sim-app-secret")
    sim.add_argument("--preload", type=int, default=0, help="启动时预置的订单数 / orders placed before it starts")

    quarantine = sub.add_parser("quarantine", help="隔离报文 / quarantined payloads")
    q_sub = quarantine.add_subparsers(dest="quarantine_command", required=True)
    q_sub.add_parser("list", help="列出隔离报文 / list them")
    retry = q_sub.add_parser("retry", help="重新解析 / run one through intake again")
    retry.add_argument("payload_id", type=int)


HANDLED = ("hub", "simulate", "quarantine")


def run(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    return {"hub": _hub, "simulate": _simulate, "quarantine": _quarantine}[args.command](args, settings, lang)


def _simulate(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    world = SimWorld(args.platform, seed=args.seed)
    if args.preload:
        world.create(args.preload, at=world.now() - timedelta(minutes=10))
    creds = Credentials(app_key=args.app_key, app_secret=args.app_secret, access_token="sim-token")
    sim = simulator_module(args.platform).make_simulator(world, creds)
    if args.preload and hasattr(sim, "prepare"):
        sim.prepare()  # the preloaded orders' answers written before the first call, as a platform has them stored
    server = SimServer(sim.handle, port=args.port).start()
    animator = Animator(world, rate=args.rate)
    if args.rate > 0:  # --rate 0: a still shop (benchmarks), no new orders and no changes
        animator.start()
    print(render("SIM_RUNNING", lang, platform=code_label("platform", args.platform, lang), url=server.url,
                 app_key=args.app_key))
    _wait_for_interrupt(None)
    animator.stop()
    server.stop()
    return 0


def _wait_for_interrupt(seconds: float | None) -> None:
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait(seconds)
    except KeyboardInterrupt:
        pass


def start_simulated_company(app: OrderHub, store: Any, receiver_url: str) -> list[Any]:
    """Point every shop at a loopback simulator of its platform (demo only); returns what to stop later."""
    running: list[Any] = []
    for shop in shop_sync.enabled_shops(app.uow()):
        ref = shop.credentials_ref or f"orderhub:shop:{shop.code}"
        world = SimWorld(shop.platform, seed=shop.id)
        creds = Credentials(app_key=f"sim-{shop.code}", app_secret=secrets.token_hex(16),
                            access_token=secrets.token_hex(12), refresh_token=secrets.token_hex(12))
        store.put(ref, creds)
        if shop.platform == "pos":
            till = PosStoreSimulator(world, receiver_url, shop.code, creds.app_secret)
            animator = _PosTill(till)
            url = None
        else:
            sim = simulator_module(shop.platform).make_simulator(world, creds, push_url=f"{receiver_url}/push/{shop.code}")
            server = SimServer(sim.handle).start()
            running.append(server)
            animator = Animator(world, rate=0.3)
            url = server.url
        animator.start()
        running.append(animator)
        with app.uow() as uow:
            uow.session.execute(sa.update(Shop).where(Shop.id == shop.id).values(api_base_url=url, credentials_ref=ref))
            uow.commit()
    return running


class _PosTill(threading.Thread):
    def __init__(self, till: PosStoreSimulator, every: float = 20.0) -> None:
        super().__init__(daemon=True, name=f"till-{till.store_code}")
        self.till, self.every, self.stop_event = till, every, threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            try:
                self.till.sell(1)
            except Exception as err:  # the hub may not be up yet; the till tries again later
                log.info("till %s could not push: %s", self.till.store_code, err)

    def stop(self) -> None:
        self.stop_event.set()


def _hub(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    app = bootstrap(settings)
    store = open_store(settings.data_dir)
    carrier_receiver = CarrierReceiver(app, CarrierAccounts())
    # Bound now (the simulated company needs its address), served once the carriers' secrets are in the store:
    # the extra door processes read them when they start (the hub's own are set from the logistics worker's).
    receiver = ReceiverServer(Receiver(app, connector_for, store, carriers=carrier_receiver),
                              port=args.receiver_port, processes=settings.doors)
    running: list[Any] = []
    if args.simulate:
        from app.hub.erp_simulated import start_simulated_erp, start_simulated_tax

        running = (start_simulated_company(app, store, receiver.url) + start_simulated_erp(app, store, receiver.url)
                   + start_simulated_tax(app, store))
        running += start_simulated_carriers(app, store, receiver.url)
    still, unread = still_limits(settings.still_hours, settings.still_hours_by_carrier)
    if unread:
        print(render("LOGI_STILL_SETTING_UNREAD", lang, entries="，".join(unread), default=still.default))
    # write-backs, tracking subscriptions, 拦截件, still parcels
    logistics = LogisticsWorker(app, store, still=still)
    carrier_receiver.accounts = logistics.accounts
    receiver.start()
    logistics.start()
    running.append(logistics)
    anchorer = DailyAnchor(app, settings.data_dir / "audit-anchors")  # kept off the server by the supervisor
    anchorer.start()
    running.append(anchorer)
    settle_heap()  # start-up is done: its objects out of the collector's way (app/hub/pollers.py)
    hub = Hub(app, connector_for, store, poll_interval=args.poll_interval).start()
    worker = OutboxWorker(app, sms_client(settings, store, running, simulate=args.simulate),
                          erp=ErpDispatcher(app, store), einvoice=EinvoiceDispatcher(app, store))
    worker.start()
    print(render("HUB_RUNNING", lang, hub_id=hub.hub_id, url=receiver.url))
    stop = threading.Event()
    reporter = threading.Thread(target=_report, args=(app, stop, lang), daemon=True)
    reporter.start()
    _wait_for_interrupt(args.run_for)
    stop.set()
    worker.stop()
    hub.stop()
    receiver.stop()
    for thing in running:
        thing.stop()
    app.close()
    return 0


def sms_client(settings: Settings, store: Any, running: list[Any], *, simulate: bool) -> AliyunSms | None:
    """The SMS gateway client: the configured account, or (demo) a loopback gateway with the brand's templates."""
    if simulate:
        from app.demo.after_sales_flows import SIGN_NAME, SMS_TEMPLATE_TEXTS
        from connectors.simulators.sms import SmsGatewaySimulator

        key, secret = "LTAI5tOrderHubDemo", secrets.token_hex(16)
        server = SimServer(SmsGatewaySimulator(keys={key: secret}, sign_names={SIGN_NAME},
                                               templates=dict(SMS_TEMPLATE_TEXTS)).handle).start()
        running.append(server)
        return AliyunSms(server.url, key, secret, SIGN_NAME)
    creds = store.get(SMS_CREDENTIALS_REF)
    if not (settings.sms_access_key_id and settings.sms_sign_name and creds):
        log.info("no SMS gateway configured: SMS stay queued in the outbox")
        return None
    return AliyunSms(settings.sms_gateway_url, settings.sms_access_key_id, creds.app_secret, settings.sms_sign_name)


def _report(app: OrderHub, stop: threading.Event, lang: Lang, every: float = 10.0) -> None:
    """The hub's status line; while the database is away it says so instead (and keeps going)."""
    while not stop.wait(every):
        at = time.strftime("%H:%M:%S")
        try:
            with app.uow() as uow:
                total = uow.session.scalar(sa.select(sa.func.count()).select_from(Order))
        except Exception as err:
            if not HUB_DATABASE.failed(err, "订单接入"):
                log.exception("status line failed")
                continue
            print(render("HUB_STATUS_DB_DOWN", lang, at=at, seconds=f"{HUB_DATABASE.down_for or 0:.0f}"), flush=True)
            continue
        HUB_DATABASE.ok()
        print(render("HUB_STATUS", lang, orders=total, at=at), flush=True)


def _quarantine(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    app = bootstrap(settings)
    try:
        if args.quarantine_command == "list":
            held = ingest.list_quarantined(app.uow())
            if not held:
                print(render("QUARANTINE_EMPTY", lang))
            for p in held:
                print(render("QUARANTINE_ROW", lang, id=p.id, source=code_label("platform", p.source, lang),
                             kind=p.kind, at=local(p.received_at).strftime("%Y-%m-%d %H:%M"), attempts=p.attempts,
                             error=p.error or ""))
            return 0
        from app.hub.identity import signed_in_actor

        actor = signed_in_actor(app, args)
        if _is_erp(app, args.payload_id):  # a message from the ERP (issue #17), not a platform payload
            from app.services import erp_inbound

            got = erp_inbound.retry_quarantined(app.uow(), args.payload_id, actor)
            print(render("ERP_QUARANTINE_RETRIED" if got.verdict != "quarantined" else "ERP_QUARANTINE_STILL", lang,
                         id=args.payload_id, verdict=code_label("erp_inbound_verdict", got.verdict, lang),
                         error=got.reason or ""))
            return 0 if got.verdict != "quarantined" else 1
        outcome = ingest.retry_quarantined(app.uow(), args.payload_id, _normaliser_for(app, args.payload_id, settings),
                                           actor=actor)
        print(render("QUARANTINE_RETRIED" if outcome.verdict != "quarantined" else "QUARANTINE_STILL", lang,
                     id=args.payload_id, order_no=outcome.order_no or "", error=outcome.error or ""))
        return 0 if outcome.verdict != "quarantined" else 1
    finally:
        app.close()


def _is_erp(app: OrderHub, payload_id: int) -> bool:
    with app.uow() as uow:
        source = uow.session.scalar(sa.text("SELECT source FROM raw_payloads WHERE id = :i"), {"i": payload_id})
    return bool(source and source.startswith("erp:"))


def _normaliser_for(app: OrderHub, payload_id: int, settings: Settings) -> Any:
    """The shop's own normaliser (reading a payload needs no secrets, only the platform's format)."""
    with app.uow() as uow:
        shop_id = uow.session.scalar(sa.text("SELECT shop_id FROM raw_payloads WHERE id = :i"), {"i": payload_id})
    shop = next((s for s in shop_sync.enabled_shops(app.uow()) if s.id == shop_id), None)
    if shop is None:
        from app.domain.errors import NotFound

        raise NotFound(what="payload", key=str(payload_id))
    creds = open_store(settings.data_dir).get(shop.credentials_ref or "") or Credentials(app_key="", app_secret="")
    if shop.platform == "pos":
        return PosReceiver(shop.code, creds.app_secret).normalise
    connector = connector_for(shop, creds)
    return lambda body: connector.normalise(RawOrder("", body, ""))
