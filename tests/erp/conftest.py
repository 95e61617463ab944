"""ERP fixtures: a credential store in the test's folder, an ERPNext-like simulator, endpoints both ways."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.bootstrap import OrderHub
from app.domain.actor import Actor
from app.hub.credentials import FileStore
from app.hub.erp_dispatch import ErpDispatcher
from app.hub.receiver import Receiver, ReceiverServer
from app.hub.registry import connector_for
from app.services import erp_outbound
from connectors.base import Credentials
from connectors.simulators.erp import ErpSimulator
from connectors.simulators.server import SimServer

ADMIN = Actor("liu.gong", "配置工作站-01", "10.20.1.8")


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass
class Bridge:
    """OrderHub and the simulated ERP wired both ways over real HTTP on loopback."""

    hub: OrderHub
    store: FileStore
    erp: ErpSimulator
    erp_server: SimServer
    receiver: ReceiverServer
    dispatcher: ErpDispatcher
    out_secret: str
    in_secret: str

    def drain(self, rounds: int = 50) -> int:
        """Run dispatch rounds until nothing is due; returns how many were sent."""
        sent = 0
        for _ in range(rounds):
            report = self.dispatcher.run_once()
            sent += report.sent
            if not (report.sent or report.retry or report.dead):
                break
        return sent


def _bridge(hub: OrderHub, tmp_path: Path, scheme: str) -> Iterator[Bridge]:
    store = FileStore(tmp_path / "secrets.json")
    out_secret, in_secret = new_secret(), (secrets.token_hex(16) if scheme == "frappe" else new_secret())
    store.put("orderhub:erp:out", Credentials(app_key="erpnext", app_secret=out_secret))
    store.put("orderhub:erp:in", Credentials(app_key="erpnext-in", app_secret=in_secret))
    receiver = ReceiverServer(Receiver(hub, connector_for, store)).start()
    erp = ErpSimulator([out_secret], hub_url=f"{receiver.url}/erp/erpnext-in", hub_secret=in_secret, scheme=scheme)
    server = SimServer(erp.handle).start()
    erp_outbound.save_endpoint(hub.uow(), "erpnext", name="ERPNext 总账", url=f"{server.url}/api/method/orderhub.webhook",
                               secret_ref="orderhub:erp:out", max_attempts=3, actor=ADMIN)
    erp_outbound.save_endpoint(hub.uow(), "erpnext-in", name="ERPNext 回传", url=None, secret_ref="orderhub:erp:in",
                               inbound_scheme=scheme, actor=ADMIN)
    dispatcher = ErpDispatcher(hub, store, timeout=0.5)
    yield Bridge(hub, store, erp, server, receiver, dispatcher, out_secret, in_secret)
    dispatcher.close()
    server.stop()
    receiver.stop()


@pytest.fixture
def bridge(hub: OrderHub, tmp_path: Path) -> Iterator[Bridge]:
    """ERPNext signing its own webhooks the Frappe way."""
    yield from _bridge(hub, tmp_path, "frappe")


@pytest.fixture
def std_bridge(hub: OrderHub, tmp_path: Path) -> Iterator[Bridge]:
    """An ERP that signs its webhooks with Standard Webhooks."""
    yield from _bridge(hub, tmp_path, "standard")
