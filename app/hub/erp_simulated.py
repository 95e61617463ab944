"""Demo only (`orderhub hub --simulate`): an ERPNext-like ERP wired to the hub both ways, and a loopback 诺诺."""

from __future__ import annotations

import secrets
from typing import Any

from app.bootstrap import OrderHub
from app.domain.actor import Actor
from app.services import erp_outbound
from connectors.base import Credentials
from connectors.erp_webhooks import new_secret
from connectors.simulators.erp import ErpAnimator, ErpSimulator
from connectors.simulators.server import SimServer

DEMO = Actor("system:demo", "hub")


def start_simulated_erp(app: OrderHub, store: Any, receiver_url: str) -> list[Any]:
    """Start the simulated ERP, point an endpoint at it and one back from it; returns what to stop later."""
    out_secret, in_secret = new_secret(), secrets.token_hex(24)
    store.put("orderhub:erp:erpnext-sim", Credentials(app_key="erpnext-sim", app_secret=out_secret))
    store.put("orderhub:erp:erpnext-sim-in", Credentials(app_key="erpnext-sim-in", app_secret=in_secret))
    erp = ErpSimulator([out_secret], hub_url=f"{receiver_url}/erp/erpnext-sim-in", hub_secret=in_secret)
    server = SimServer(erp.handle).start()
    erp_outbound.save_endpoint(app.uow(), "erpnext-sim", name="ERPNext（模拟）",
                               url=f"{server.url}/api/method/orderhub.webhook", secret_ref="orderhub:erp:erpnext-sim",
                               actor=DEMO)
    erp_outbound.save_endpoint(app.uow(), "erpnext-sim-in", name="ERPNext（模拟）回传", url=None,
                               secret_ref="orderhub:erp:erpnext-sim-in", inbound_scheme="frappe", actor=DEMO)
    animator = ErpAnimator(erp)
    animator.start()
    return [animator, server]


def start_simulated_tax(app: OrderHub, store: Any) -> list[Any]:
    """A loopback 诺诺 and the provider set up against it, so 数电票 flows run in the demo."""
    from decimal import Decimal

    from app.services import einvoice
    from connectors.simulators.nuonuo import NuonuoSimulator

    key, secret = "SDDEMO0001", secrets.token_hex(16)
    sim = NuonuoSimulator({key: secret})
    server = SimServer(sim.handle).start()
    store.put("orderhub:einvoice:nuonuo", Credentials(app_key=key, app_secret=secret,
                                                       extra={"user_tax": "339902999999789113"}))
    einvoice.save_provider(app.uow(), einvoice.ProviderConfig(
        code="nuonuo", name="诺诺（模拟）", api_url=f"{server.url}/open/v1/services", token_url=f"{server.url}/accessToken",
        secret_ref="orderhub:einvoice:nuonuo", seller_tax_no="339902999999789113", seller_name="杭州小树苗服饰有限公司",
        clerk="张会计", invoice_line="pc", goods_code="1040201010000000000", tax_rate=Decimal("0.13")), actor=DEMO)
    return [server]
