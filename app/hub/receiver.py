"""The hub's HTTP receiver: platform push messages and store POS sales, verified, deduplicated, ingested.

``POST /push/<shop_code>``: a platform's signed message → verify → fetch the order's current detail
→ group-committed intake with the message id (a repeated message stores nothing), then routing,
exactly as a polled update.
``POST /pos/<store_code>``: a signed sale from a store till → verify → intake.
``POST /erp/<endpoint>``: the ERP's signed webhooks (app/hub/erp_receiver.py).
Answers are JSON with a business-language ``message``; a bad signature is 401, a payload that
cannot be read is accepted (200) but quarantined, so the sender does not resend it forever.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from app.bootstrap import OrderHub
from app.hub.carrier_receiver import CarrierReceiver
from app.hub.credentials import CredentialStore, wire
from app.hub.db_status import HUB_DATABASE
from app.hub.doors import RAW_REPLY, DoorLimits, DoorServer
from app.hub.erp_receiver import ErpReceiver
from app.hub.intake_batcher import IntakeBatcher
from app.hub.pollers import Page, _route_changed
from app.services import ingest, shop_sync
from app.services.shop_sync import ShopConfig
from app.domain.intake import InboundOrder
from connectors.base import Connector, Credentials, PayloadError, PlatformError
from connectors.pos import PosReceiver

log = logging.getLogger(__name__)
SHOP_LIST_TTL = 2.0


class Receiver:
    """Routes pushed requests to the right shop's connector; usable without HTTP in tests."""

    def __init__(self, app: OrderHub, factory: Callable[[ShopConfig, Credentials], Connector],
                 credentials: CredentialStore, *, carriers: CarrierReceiver | None = None) -> None:
        self.app, self.factory, self.credentials = app, factory, credentials
        self.carriers = carriers  # carrier tracking pushes (app/hub/carrier_receiver.py)
        self.erp = ErpReceiver(app, credentials)  # /erp/<endpoint>: the ERP's webhooks (issue #17)
        # Pushes arriving together share one commit (issue #19); what changed is routed after the answers.
        self.batcher = IntakeBatcher(app, after=self._route_pushed)
        self._local = threading.local()
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
        creds = self.credentials.get(shop.credentials_ref or "")
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
        """Store sales on the doors' event loop (app/hub/doors.py): verify, group commit, answer once committed.

        None (the request goes to :meth:`handle` on a worker thread) for anything else, and for a sale
        whose shop list or credentials would need a blocking read first.
        """
        parts = [p for p in path.split("/") if p]
        found = self._known_shop(parts[1]) if len(parts) == 2 and parts[0] == "pos" else None
        if found is None:
            return None
        shop, creds = found
        receiver = PosReceiver(shop.code, creds.app_secret)
        try:
            receiver.verify(headers, body)
        except PlatformError as err:
            return _refused(err)
        outcomes = await self.batcher.stored(shop.id, "pos", receiver.normalise, [ingest.Payload("pos.sale", body)])
        return _sale_answer(outcomes[0])

    def _pos(self, shop: ShopConfig, creds: Credentials, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        receiver = PosReceiver(shop.code, creds.app_secret)
        receiver.verify(headers, body)
        return _sale_answer(self.batcher.submit(shop.id, "pos", receiver.normalise, ingest.Payload("pos.sale", body)))

    def _connector(self, shop: ShopConfig, creds: Credentials) -> Connector:
        # One connector per handler thread and shop, kept: its HTTP session keeps its connection to the
        # platform alive instead of opening one per push. A changed shop or credentials make a new one.
        kept: dict[int, tuple[ShopConfig, Connector]] = self._local.__dict__.setdefault("connectors", {})
        found = kept.get(shop.id)
        if found is not None and found[0] == shop and found[1].credentials == creds:
            return found[1]
        if found is not None:
            found[1].close()
        connector = wire(self.factory(shop, creds), self.credentials, shop.credentials_ref)
        kept[shop.id] = (shop, connector)
        return connector

    def _push(self, shop: ShopConfig, creds: Credentials, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        connector = self._connector(shop, creds)
        try:
            messages = connector.parse_pushes(headers, body)  # 抖店 batches several messages in one push
        except PlatformError as err:
            if err.code != "push":
                log.warning("push to shop %s refused (%s): %s", shop.code, err.code, err.message)
                raise
            # Signed by the platform but unreadable: kept in quarantine with the reason, acknowledged so
            # the platform does not resend it forever (a person looks at it there).
            outcome = self.batcher.submit(shop.id, shop.platform, _unreadable(err.message), ingest.Payload("push", body))
            return 200, _acked(connector, {"ok": False, "quarantined": outcome.verdict == "quarantined",
                                           "message": f"推送消息已收到但无法识别，已隔离待处理：{err.message}"})
        # The order's current detail, fetched before the group commit (the platform answers outside any
        # transaction); a failed fetch answers 502 and records nothing, so the platform's resend is not
        # mistaken for a repeat.
        page = Page.of(connector, [connector.fetch(m.platform_order_no) for m in messages])
        outcomes = self.batcher.submit_many(shop.id, shop.platform, page.normalise, page.payloads,
                                            [(m.msg_id, m.topic) for m in messages])
        return 200, _acked(connector, {"ok": True, "messages": [
            {"msg_id": m.msg_id, "verdict": o.verdict, "order_no": o.order_no, "interception": o.interception}
            | ({"duplicate": True} if o.verdict == "duplicate" else {})
            for m, o in zip(messages, outcomes, strict=True)]})


def _refused(err: PlatformError) -> tuple[int, dict[str, object]]:
    status = 401 if err.code in ("sign", "timestamp") else 502
    return status, {"ok": False, "code": err.code, "message": err.message}


def _sale_answer(outcome: ingest.Outcome) -> tuple[int, dict[str, object]]:
    if outcome.verdict == "quarantined":
        return 200, {"ok": False, "quarantined": True, "message": f"销售单已收到但无法解析，已隔离待处理：{outcome.error}"}
    return 200, {"ok": True, "order_no": outcome.order_no, "verdict": outcome.verdict}


def _unreadable(reason: str) -> ingest.Normaliser:
    def normalise(body: bytes) -> InboundOrder:
        raise PayloadError(reason)
    return normalise


def _acked(connector: Connector, answer: dict[str, object]) -> dict[str, object]:
    if connector.push_ack is not None:
        answer[RAW_REPLY] = connector.push_ack  # the platform's own "received" answer, so it does not resend
    return answer


class ReceiverServer(DoorServer):
    """Serves a :class:`Receiver` on the hub's doors (app/hub/doors.py: uvicorn with limits and timeouts)."""

    def __init__(self, receiver: Receiver, *, host: str = "127.0.0.1", port: int = 0,
                 limits: DoorLimits | None = None) -> None:
        super().__init__(receiver.handle, host=host, port=port, limits=limits, fast=receiver.fast)
        self.receiver = receiver

    def stop(self) -> None:
        super().stop()
        self.receiver.batcher.stop()
