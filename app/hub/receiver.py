"""The hub's HTTP receiver: platform push messages and store POS sales, verified, deduplicated, ingested.

``POST /push/<shop_code>``: a platform's signed message → verify → dedupe by message id → fetch
the order's current detail → intake, exactly as a polled update.
``POST /pos/<store_code>``: a signed sale from a store till → verify → intake.
``POST /erp/<endpoint>``: the ERP's signed webhooks (app/hub/erp_receiver.py).
Answers are JSON with a business-language ``message``; a bad signature is 401, a payload that
cannot be read is accepted (200) but quarantined, so the sender does not resend it forever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from app.bootstrap import OrderHub
from app.hub.carrier_receiver import CarrierReceiver
from app.hub.credentials import CredentialStore, wire
from app.hub.doors import RAW_REPLY, DoorLimits, DoorServer
from app.hub.erp_receiver import ErpReceiver
from app.hub.intake_batcher import IntakeBatcher
from app.hub.pollers import ingest_raw
from app.services import ingest, shop_sync
from app.services.shop_sync import ShopConfig
from connectors.base import Connector, Credentials, PlatformError
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
        self.batcher = IntakeBatcher(app)  # store sales arriving together share one commit (issue #19)
        self._shops: tuple[dict[str, ShopConfig], float] = ({}, float("-inf"))
        self._shops_lock = threading.Lock()

    def _enabled(self, *, fresh: bool = False) -> dict[str, ShopConfig]:
        # A push burst would otherwise read the shop list once per push; a disabled shop stops being
        # served within SHOP_LIST_TTL seconds, and a code not in the list is always looked up afresh.
        with self._shops_lock:
            shops, at = self._shops
            if fresh or time.monotonic() - at > SHOP_LIST_TTL:
                shops = {s.code: s for s in shop_sync.enabled_shops(self.app.uow())}
                self._shops = (shops, time.monotonic())
            return shops

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
            status = 401 if err.code in ("sign", "timestamp") else 502
            return status, {"ok": False, "code": err.code, "message": err.message}

    def _pos(self, shop: ShopConfig, creds: Credentials, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        receiver = PosReceiver(shop.code, creds.app_secret)
        receiver.verify(headers, body)
        outcome = self.batcher.submit(shop.id, "pos", receiver.normalise, ingest.Payload("pos.sale", body))
        if outcome.verdict == "quarantined":
            return 200, {"ok": False, "quarantined": True, "message": f"销售单已收到但无法解析，已隔离待处理：{outcome.error}"}
        return 200, {"ok": True, "order_no": outcome.order_no, "verdict": outcome.verdict}

    def _push(self, shop: ShopConfig, creds: Credentials, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        connector = wire(self.factory(shop, creds), self.credentials, shop.credentials_ref)
        try:
            messages = connector.parse_pushes(headers, body)  # 抖店 batches several messages in one push
            outcomes = []
            for message in messages:
                if not ingest.first_sight(self.app.uow(), shop.platform, message.msg_id, message.topic):
                    outcomes.append({"msg_id": message.msg_id, "duplicate": True})
                    continue
                outcome = ingest_raw(self.app, shop, connector, [connector.fetch(message.platform_order_no)]).outcomes[0]
                outcomes.append({"msg_id": message.msg_id, "verdict": outcome.verdict, "order_no": outcome.order_no,
                                 "interception": outcome.interception})
            ack = connector.push_ack
        finally:
            connector.close()
        answer: dict[str, object] = {"ok": True, "messages": outcomes}
        if ack is not None:
            answer[RAW_REPLY] = ack  # the platform's own "received" answer, so it does not resend
        return 200, answer


class ReceiverServer(DoorServer):
    """Serves a :class:`Receiver` on the hub's doors (app/hub/doors.py: uvicorn with limits and timeouts)."""

    def __init__(self, receiver: Receiver, *, host: str = "127.0.0.1", port: int = 0,
                 limits: DoorLimits | None = None) -> None:
        super().__init__(receiver.handle, host=host, port=port, limits=limits)
        self.receiver = receiver

    def stop(self) -> None:
        super().stop()
        self.receiver.batcher.stop()
