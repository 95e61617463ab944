"""The admin station, ERP bridge and write-back calls that share an action with the matrix, each tried with every role.

tests/auth/test_permission_matrix.py tries one call per action; an action guards several calls here
(saving a shop and testing its connection, previewing and confirming an import …), and each of them
must ask. A refused call also leaves the secrets and the station's config file untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.demo.rules import DEMO_RULES
from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.permissions import DEFAULT_GRANTS, ROLES
from app.hub.credentials import FileStore
from app.services import einvoice, erp_inbound, erp_outbound, master_data, printer_setup, shop_admin, writeback
from app.services.printer_setup import PrinterChoice
from app.services.rule_dry_run import dry_run
from app.services.shop_admin import ShopDraft
from connectors.base import Credentials
from tests.auth.conftest import actor_of
from tests.auth.test_permission_matrix import WAREHOUSE_CSV

Call = Callable[[Any, Actor, Path], Any]


def _store(folder: Path) -> FileStore:
    return FileStore(folder / "secrets.json")


def _confirm(hub: Any, actor: Actor, folder: Path) -> Any:
    shown = master_data.preview(hub.uow(), "warehouses", WAREHOUSE_CSV, "仓库.csv", actor_of("admin"))
    return master_data.confirm(hub.uow(), shown, actor)


def _provider(hub: Any, actor: Actor, folder: Path) -> Any:
    cfg = einvoice.ProviderConfig(code="nuonuo", name="诺诺", api_url="http://127.0.0.1:9/open/v1/services",
                                  token_url="http://127.0.0.1:9/accessToken", secret_ref="orderhub:einvoice:nuonuo",
                                  seller_tax_no="339902999999789113", seller_name="杭州小树苗服饰有限公司", clerk="张会计",
                                  invoice_line="pc", goods_code="1040201010000000000", tax_rate=Decimal("0.13"))
    return einvoice.save_provider(hub.uow(), cfg, actor=actor, store=_store(folder),
                                  credentials=Credentials(app_key="SD1", app_secret="s3cret"))


CALLS: dict[str, tuple[str, Call]] = {
    "save_shop": ("shops.manage", lambda h, a, f: shop_admin.save_shop(
        h.uow(), _store(f), ShopDraft("NO-SUCH-SHOP", "没有的店", "taobao", app_key="k", app_secret="s"), a,
        is_new=False)),
    "check_connection": ("shops.manage", lambda h, a, f: shop_admin.check_connection(h.uow(), _store(f), "NO-SUCH", a)),
    "confirm_import": ("master_data.import", _confirm),
    "save_printer": ("printers.manage", lambda h, a, f: printer_setup.save_printer(
        h.uow(), f / "config.toml", PrinterChoice("network", "192.168.1.50:9100", "80mm"), a)),
    "rule_dry_run": ("rule.save", lambda h, a, f: dry_run(h.uow(), DEMO_RULES[0][1], a, days=1)),
    "save_endpoint": ("erp.manage", lambda h, a, f: erp_outbound.save_endpoint(
        h.uow(), f"erp-{f.name}", name="ERP", url=None, secret_ref=f"orderhub:erp:{f.name}", actor=a,
        store=_store(f), secret="whsec_dGVzdA==")),
    "rotate_secret": ("erp.manage", lambda h, a, f: erp_outbound.rotate_secret(h.uow(), _store(f), "NO-SUCH", "x", a)),
    "save_einvoice_provider": ("erp.manage", _provider),
    "retry_erp_quarantine": ("quarantine.retry", lambda h, a, f: erp_inbound.retry_quarantined(h.uow(), 987654, a)),
    "intercept_parcels": ("order.cancel", lambda h, a, f: writeback.intercept_for_order(h.uow(), "OH-NO-SUCH", a)),
}


def _audit_count(hub: Any) -> int:
    with hub.uow() as uow:
        return uow.session.scalar(sa.text("SELECT count(*) FROM audit_log"))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("call", sorted(CALLS))
def test_each_admin_station_call_asks_for_its_action_and_a_refusal_changes_nothing(shared_hub, tmp_path, call, role):
    action, attempt = CALLS[call]
    before = _audit_count(shared_hub)
    try:
        attempt(shared_hub, actor_of(role), tmp_path)
        outcome = "done"
    except BusinessError as err:
        outcome = err.code
    if action in DEFAULT_GRANTS[role]:
        assert outcome not in ("NOT_PERMITTED", "NOT_PERMITTED_UNKNOWN"), (call, role)
    else:
        assert outcome == "NOT_PERMITTED", (call, role, outcome)
        assert _audit_count(shared_hub) == before
        assert list(tmp_path.iterdir()) == []  # no secret stored, no config file written


def test_the_new_actions_are_the_administrators_and_a_supervisor_does_not_decide_where_orders_go():
    for action in ("shops.manage", "master_data.import", "field_defs.manage", "printers.manage", "erp.manage"):
        assert [r for r in ROLES if action in DEFAULT_GRANTS[r] and r != "service"] == ["admin"]
    assert "erp.manage" in DEFAULT_GRANTS["service"]  # `orderhub hub --simulate` wires its own simulated ERP
    assert not {"shops.manage", "master_data.import", "field_defs.manage", "printers.manage"} & DEFAULT_GRANTS["service"]
