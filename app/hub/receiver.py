"""The hub's HTTP receiver: platform push messages and store POS sales, verified, deduplicated, ingested.

``POST /push/<shop_code>``: a platform's signed notification → verify → its messages group-committed
to the push inbox (a repeated message id stores nothing) → answered; the inbox worker then fetches
each named order's detail and ingests it like a polled update (app/hub/inbox_worker.py).
``POST /pos/<store_code>``: a signed sale from a store till → verify → stored as received → answered; the
inbox worker creates its order afterwards (connectors/pos.py says what the till is answered).
``POST /erp/<endpoint>``: the ERP's signed webhooks (app/hub/erp_receiver.py).
Answers are JSON with a business-language ``message``; a bad signature is 401, a payload that
cannot be read is accepted (200) but quarantined, so the sender does not resend it forever.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import sessionmaker

from app.bootstrap import OrderHub
from app.db import engine as db_engine
from app.hub.carrier_receiver import CarrierReceiver
from app.hub.credentials import CredentialStore, KeptConnectors
from app.hub.db_status import HUB_DATABASE
from app.hub.doors import RAW_REPLY, DoorLimits, DoorServer
from app.hub.erp_receiver import ErpReceiver
from app.hub.inbox_worker import WAKE_EVERY, InboxProcess
from app.hub.intake_batcher import IntakeBatcher
from app.hub.pollers import _route_changed
from app.hub.processes import Coalesced, Supervised, context
from app.services import ingest, shop_sync
from app.services.shop_sync import ShopConfig
from app.domain.intake import InboundOrder
from connectors.base import Connector, Credentials, PayloadError, PlatformError, PushMessage
from connectors.pos import PosReceiver

log = logging.getLogger(__name__)
SHOP_LIST_TTL = 2.0
DOORS_APPLICATION = "orderhub-doors"  # the extra door processes' PostgreSQL sessions


class Receiver:
    """Routes pushed requests to the right shop's connector; usable without HTTP in tests."""

    def __init__(self, app: OrderHub, factory: Callable[[ShopConfig, Credentials], Connector],
                 credentials: CredentialStore, *, carriers: CarrierReceiver | None = None,
                 wake: Callable[[int], None] | None = None) -> None:
        self.app, self.factory, self.credentials = app, factory, credentials
        self.carriers = carriers  # carrier tracking pushes (app/hub/carrier_receiver.py)
        self.erp = ErpReceiver(app, credentials)  # /erp/<endpoint>: the ERP's webhooks (issue #17)
        self.connectors = KeptConnectors(factory, credentials)
        # Platform pushes go to a durable inbox; its worker fetches the orders' details afterwards, in a
        # process of its own at a lower priority, off the doors' interpreter lock and CPU (issue #19).
        self.inbox = InboxProcess(app, factory, credentials)
        # Pushes arriving together share one commit (issue #19); a committed inbox group wakes the worker
        # (``wake``: an extra door process passes it on to the hub, which wakes its worker).
        self.batcher = IntakeBatcher(app, after=self._route_pushed, on_inbox=wake or self.inbox.wake)
        self._shops: tuple[dict[str, ShopConfig], float] = ({}, float("-inf"))
        self._shops_lock = threading.Lock()
        self._refreshing = False  # a read of the shop list for the event loop's door is under way

    def _route_pushed(self, source: str, result: ingest.BatchResult) -> None:
        if source != "pos":  # store sales are finished sales: nothing to route
            _route_changed(self.app, result)

    def _refresh_shops(self) -> None:
        try:
            self._enabled(fresh=True)
        except Exception as err:  # the next sale goes to the worker threads, which answer (503 if the database is away)
            if not HUB_DATABASE.failed(err, "推送接收"):
                log.exception("reading the shop list failed")
        finally:
            self._refreshing = False

    def _enabled(self, *, fresh: bool = False) -> dict[str, ShopConfig]:
        # A push burst would otherwise read the shop list once per push; a disabled shop stops being
        # served within SHOP_LIST_TTL seconds, and a code not in the list is always looked up afresh.
        with self._shops_lock:
            shops, at = self._shops
            if fresh or time.monotonic() - at > SHOP_LIST_TTL:
                shops = {s.code: s for s in shop_sync.enabled_shops(self.app.uow())}
                self._shops = (shops, time.monotonic())
            return shops

    def _known_shop(self, code: str) -> tuple[ShopConfig, Credentials] | None:
        """Like :meth:`_shop` without touching the database; None when the shop list would need a read.

        Runs on the doors' event loop: a list past half its life is read again on a worker thread,
        so a steady stream of sales keeps it fresh and never falls back to the worker threads.
        """
        shops, at = self._shops  # one tuple, replaced whole: read without the lock
        age = time.monotonic() - at
        if age > SHOP_LIST_TTL / 2 and not self._refreshing:
            self._refreshing = True
            asyncio.get_running_loop().run_in_executor(None, self._refresh_shops)
        shop = shops.get(code) if age <= SHOP_LIST_TTL else None
        if shop is None or not getattr(self.credentials, "cheap_get", False):
            return None
        creds = self.credentials.peek(shop.credentials_ref or "")  # type: ignore[attr-defined]  # read only
        return (shop, creds) if creds is not None else None

    def _shop(self, code: str) -> tuple[ShopConfig, Credentials] | None:
        shop = self._enabled().get(code) or self._enabled(fresh=True).get(code)
        if shop is None:
            return None
        creds = self.credentials.get(shop.credentials_ref or "")
        return (shop, creds) if creds is not None else None

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, object]]:
        parts = [p for p in path.split("/") if p]
        if len(parts) == 2 and parts[0] == "carrier" and self.carriers is not None:
            return self.carriers.handle(parts[1], body)
        if len(parts) == 2 and parts[0] == "erp":
            return self.erp.handle(parts[1], headers, body)
        if len(parts) != 2 or parts[0] not in ("push", "pos"):
            return 404, {"ok": False, "message": "地址不存在"}
        found = self._shop(parts[1])
        if found is None:
            return 404, {"ok": False, "message": f"没有启用的店铺「{parts[1]}」或它没有接口凭据"}
        shop, creds = found
        try:
            if parts[0] == "pos":
                return self._pos(shop, creds, headers, body)
            return self._push(shop, creds, headers, body)
        except PlatformError as err:
            return _refused(err)

    async def fast(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, object]] | None:
        """Store sales and platform pushes on the doors' event loop (app/hub/doors.py): verify, group commit,
        answer once committed.

        None (the request goes to :meth:`handle` on a worker thread) for anything else, and for a push
        whose shop list or credentials would need a blocking read first.
        """
        parts = [p for p in path.split("/") if p]
        found = self._known_shop(parts[1]) if len(parts) == 2 and parts[0] in ("pos", "push") else None
        if found is None:
            return None
        shop, creds = found
        try:
            if parts[0] == "push":
                connector = self.connectors.get(shop, creds)  # the loop thread's own, kept: verifying needs no I/O
                messages, unread = self._parse_push(connector, shop, headers, body)
                if unread is not None:
                    outcome = (await self.batcher.stored(shop.id, shop.platform, _unreadable(unread),
                                                         [ingest.Payload("push", body)]))[0]
                    return _quarantined_push(connector, outcome, unread)
                fresh = await self.batcher.inbox_stored(shop.id, shop.platform, _inbox_rows(messages))
                return _push_answer(connector, messages, fresh)
            receiver = _verified_sale(shop, creds, headers, body)
        except PlatformError as err:
            return _refused(err)
        return _sale_answer(await self.batcher.received(shop.id, "pos", receiver.normalise, ingest.Payload("pos.sale", body)))

    def _pos(self, shop: ShopConfig, creds: Credentials, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        receiver = _verified_sale(shop, creds, headers, body)
        return _sale_answer(self.batcher.receive(shop.id, "pos", receiver.normalise, ingest.Payload("pos.sale", body)))

    @staticmethod
    def _parse_push(connector: Connector, shop: ShopConfig, headers: dict[str, str],
                    body: bytes) -> tuple[list[PushMessage], str | None]:
        """The verified push's messages, or none and the reason it is signed but unreadable.

        Raises:
            PlatformError: a bad signature or stale timestamp (logged with the shop).
        """
        try:
            return connector.parse_pushes(headers, body), None  # 抖店 batches several messages in one push
        except PlatformError as err:
            if err.code != "push":
                log.warning("push to shop %s refused (%s): %s", shop.code, err.code, err.message)
                raise
            return [], err.message

    def _push(self, shop: ShopConfig, creds: Credentials, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        connector = self.connectors.get(shop, creds)
        messages, unread = self._parse_push(connector, shop, headers, body)
        if unread is not None:
            # Signed by the platform but unreadable: kept in quarantine with the reason, acknowledged so
            # the platform does not resend it forever (a person looks at it there).
            outcome = self.batcher.submit(shop.id, shop.platform, _unreadable(unread), ingest.Payload("push", body))
            return _quarantined_push(connector, outcome, unread)
        # A push is a notification: stored durably in the inbox, answered, and the order's detail fetched
        # afterwards by the inbox worker (app/hub/inbox_worker.py), never while the platform waits.
        fresh = self.batcher.inbox_sync(shop.id, shop.platform, _inbox_rows(messages))
        return _push_answer(connector, messages, fresh)


def _verified_sale(shop: ShopConfig, creds: Credentials, headers: dict[str, str], body: bytes) -> PosReceiver:
    """The store's reader of a sale it signed just now.

    Raises:
        PlatformError: a bad signature or stale timestamp (logged with the store).
    """
    receiver = PosReceiver(shop.code, creds.app_secret)
    try:
        receiver.verify(headers, body)
    except PlatformError as err:
        log.warning("sale to store %s refused (%s): %s", shop.code, err.code, err.message)
        raise
    return receiver


def _inbox_rows(messages: list[PushMessage]) -> list[tuple[str, str, str]]:
    return [(m.msg_id, m.topic, m.platform_order_no) for m in messages]


def _push_answer(connector: Connector, messages: list[PushMessage], fresh: list[bool]) -> tuple[int, dict]:
    return 200, _acked(connector, {"ok": True, "messages": [
        {"msg_id": m.msg_id, "platform_order_no": m.platform_order_no, "verdict": "accepted" if new else "duplicate"}
        | ({} if new else {"duplicate": True}) for m, new in zip(messages, fresh, strict=True)]})


def _quarantined_push(connector: Connector, outcome: ingest.Outcome, reason: str) -> tuple[int, dict]:
    return 200, _acked(connector, {"ok": False, "quarantined": outcome.verdict == "quarantined",
                                   "message": f"推送消息已收到但无法识别，已隔离待处理：{reason}"})


def _refused(err: PlatformError) -> tuple[int, dict[str, object]]:
    status = 401 if err.code in ("sign", "timestamp") else 502
    return status, {"ok": False, "code": err.code, "message": err.message}


def _sale_answer(outcome: ingest.Outcome) -> tuple[int, dict[str, object]]:
    """What the till is told (connectors/pos.py): stored for good, a repeat, or kept aside unreadable."""
    if outcome.verdict == "quarantined":
        return 200, {"ok": False, "quarantined": True, "message": f"销售单已收到但无法解析，已隔离待处理：{outcome.error}"}
    if outcome.verdict == "duplicate":
        return 200, {"ok": True, "verdict": "duplicate", "duplicate": True, "message": "该销售单此前已收到，无需重发"}
    return 200, {"ok": True, "verdict": "accepted", "sale_no": outcome.platform_order_no,
                 "message": "销售单已收到，订单稍后生成"}


def _unreadable(reason: str) -> ingest.Normaliser:
    def normalise(body: bytes) -> InboundOrder:
        raise PayloadError(reason)
    return normalise


def _acked(connector: Connector, answer: dict[str, object]) -> dict[str, object]:
    if connector.push_ack is not None:
        answer[RAW_REPLY] = connector.push_ack  # the platform's own "received" answer, so it does not resend
    return answer


class ReceiverServer(DoorServer):
    """Serves a :class:`Receiver` on the hub's doors (app/hub/doors.py: uvicorn with limits and timeouts).

    ``processes`` > 1 (Linux, where SO_REUSEPORT exists): that many processes serve the same port, this one
    and ``processes - 1`` :class:`DoorProcess` children, each with its own interpreter, event loop, engine and
    group commit; the kernel spreads new connections over them. Issue #19: at 1,000 sales a second one
    interpreter is 70-85 % busy and the queue in front of it makes the tail.
    """

    def __init__(self, receiver: Receiver, *, host: str = "127.0.0.1", port: int = 0,
                 limits: DoorLimits | None = None, inbox_worker: bool = True, processes: int = 1) -> None:
        extra = processes - 1 if hasattr(socket, "SO_REUSEPORT") else 0
        if processes > 1 and not extra:
            log.info("the doors run in one process: this system cannot share a port between processes")
        super().__init__(receiver.handle, host=host, port=port, limits=limits, fast=receiver.fast, reuse_port=extra > 0)
        self.receiver, self.inbox_worker = receiver, inbox_worker  # False: pushes wait in the inbox (tests, drills)
        address = self.socket.getsockname()[:2]
        self.doors = [DoorProcess(receiver, address, self.limits) for _ in range(extra)]

    def start(self) -> ReceiverServer:
        super().start()
        if self.inbox_worker:
            self.receiver.inbox.start()
        for door in self.doors:
            door.start()
        return self

    def stop(self) -> None:
        for door in self.doors:
            door.stop()
        super().stop()
        self.receiver.batcher.stop()
        self.receiver.inbox.stop()


@dataclass(frozen=True)
class _DoorSpec:
    """What an extra door process builds itself from: picklable (no engine, no threads, no sockets)."""

    settings: Any
    target: db_engine.DatabaseTarget
    factory: Callable[[ShopConfig, Credentials], Connector]
    credentials: CredentialStore
    address: tuple[str, int]
    limits: DoorLimits
    carriers: bool
    log_level: int = logging.WARNING


def _door_main(spec: _DoorSpec, hub: Any, wake: Any) -> None:
    """An extra door process: its own engine, :class:`Receiver` and doors on the hub's port (SO_REUSEPORT).

    Its inbox commits are passed on to the hub (``wake``), which wakes its inbox worker. Ends when ``hub``'s
    other end closes: the hub stopped it, or the hub is gone (killed, crashed).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the whole process group: the hub stops us
    if not logging.getLogger().handlers:
        logging.basicConfig(level=spec.log_level, format="%(levelname)s %(name)s: %(message)s")
    engine = db_engine.create_engine(spec.target.url.update_query_dict({"application_name": DOORS_APPLICATION}))
    app = OrderHub(spec.settings, spec.target, engine, sessionmaker(engine, expire_on_commit=False))
    carriers = None
    if spec.carriers:  # the same secrets as the hub's, from the credential store
        from app.hub.logistics_worker import carrier_clients
        carriers = CarrierReceiver(app, carrier_clients(spec.credentials)[2])
    waker = Coalesced(lambda n: wake.send_bytes(str(n).encode()), WAKE_EVERY, "doors-wake").start()
    receiver = Receiver(app, spec.factory, spec.credentials, carriers=carriers, wake=waker.add)
    host, port = spec.address
    server = DoorServer(receiver.handle, host=host, port=port, limits=spec.limits, fast=receiver.fast,
                        reuse_port=True).start()
    try:
        hub.recv_bytes()  # nothing is ever sent: returns (EOFError) when the hub's end closes
    except (EOFError, OSError):
        pass
    finally:
        server.stop()
        receiver.batcher.stop()
        waker.stop()
        app.close()


class DoorProcess(Supervised):
    """One extra process serving the hub's doors on the same port; started again if it dies (app/hub/processes.py).

    A door process that dies loses only the connections it held (their senders resend: nothing was answered
    before its commit); new connections go to the other processes while it is started again.
    """

    ENDED, NAME = "HUB_DOOR_PROCESS_ENDED", "doors"

    def __init__(self, receiver: Receiver, address: tuple[str, int], limits: DoorLimits) -> None:
        super().__init__()
        self.receiver, self.address, self.limits = receiver, address, limits

    def _launch(self) -> tuple[Any, Any]:
        ctx = context(__name__)
        to_child, hub_end = ctx.Pipe(duplex=False)
        woken, wake_end = ctx.Pipe(duplex=False)
        app = self.receiver.app
        spec = _DoorSpec(app.settings, app.target, self.receiver.factory, self.receiver.credentials, self.address,
                         self.limits, self.receiver.carriers is not None, logging.getLogger().getEffectiveLevel())
        process = ctx.Process(target=_door_main, args=(spec, to_child, wake_end), name="doors", daemon=True)
        try:
            process.start()
        except BaseException:
            hub_end.close()
            woken.close()
            raise
        finally:
            to_child.close()  # the child's ends, now its own
            wake_end.close()
        threading.Thread(target=self._pass_wakes, args=(woken,), name="doors-woken", daemon=True).start()
        return process, hub_end

    def _pass_wakes(self, woken: Any) -> None:
        """The child's inbox commits, passed on to the hub's inbox worker until the child ends."""
        with woken:
            try:
                while True:
                    self.receiver.inbox.wake(int(woken.recv_bytes()))
            except (EOFError, OSError):
                pass
