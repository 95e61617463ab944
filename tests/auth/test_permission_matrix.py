"""Every permission action, tried with every role through the real service function, against the real database.

A role the table grants gets past the check (the call then ends however the business rules say —
usually "not found", since the records named do not exist); any other role is refused with
NOT_PERMITTED and nothing changes. The expected answer comes from the grants the migration seeded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from app.demo.after_sales_flows import FLOWS
from app.demo.rules import DEMO_RULES
from app.domain import clock
from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.health import Grain
from app.domain.permissions import ACTIONS, DEFAULT_GRANTS, ROLES
from app.domain.slip import ORDER_QR_PREFIX
from app.hub.credentials import FileStore
from app.services import (after_sales, after_sales_flows, change_notices, erp_outbound, field_defs, health, ingest,
                          master_data, orders, outbox, payload_archive, permissions, pick_slips, picking, printer_setup, red_letter,
                          routing, rule_book, shop_admin, users, waves)
from app.services.field_defs import FieldDefView
from app.services.health import Span
from app.services.printer_setup import PrinterChoice
from tests.auth.conftest import actor_of

NONE = "OH-NO-SUCH-ORDER"

CALLS: dict[str, Callable[[Any, Actor], Any]] = {
    "order.cancel": lambda h, a: orders.cancel(h.uow(), NONE, expected_version=1, actor=a, basis="工单 1"),
    "order.change_address": lambda h, a: orders.change_address(
        h.uow(), NONE, orders.AddressChange("张三", "13800138000", "浙江省杭州市西湖区文三路1号"),
        expected_version=1, actor=a, basis="工单 2"),
    "order.add_warehouse_note": lambda h, a: orders.add_warehouse_note(h.uow(), NONE, "请勿放干燥剂",
                                                                       expected_version=1, actor=a),
    "order.change_status": lambda h, a: orders.change_status(h.uow(), NONE, "allocating", expected_version=1, actor=a),
    "order.override_status": lambda h, a: orders.override_status(h.uow(), NONE, "allocating", expected_version=1,
                                                                 actor=a, basis="工单 3"),
    "order.hold": lambda h, a: routing.hold_order(h.uow(), NONE, a, "工单 4"),
    "order.release_hold": lambda h, a: routing.release_hold(h.uow(), NONE, a, "工单 5"),
    "order.route": lambda h, a: routing.route_orders(h.uow(), [NONE], a),
    "after_sales.open": lambda h, a: after_sales.open_case(h.uow(), NONE, "exchange", [{"line_no": 1, "qty": 1}],
                                                           actor=a, reason="偏小"),
    "after_sales.step": lambda h, a: after_sales.step(h.uow(), "AS-NONE", "approve", expected_version=1, actor=a),
    "after_sales.respond": lambda h, a: after_sales.respond(h.uow(), "AS-NONE", a),
    "after_sales.flow_save": lambda h, a: after_sales_flows.save(h.uow(), FLOWS[0], a, note="权限测试"),
    "wave.create": lambda h, a: waves.create_wave(h.uow(), "NO-WH", a),
    "wave.print": lambda h, a: pick_slips.record_prints(h.uow(), [], {}, a, profile="a5"),
    "wave.reprint": lambda h, a: pick_slips.reprint_slip(h.uow(), NONE, a, "打印机卡纸"),
    "pick.scan": lambda h, a: _scan(h, a),
    "notice.acknowledge": lambda h, a: change_notices.acknowledge(h.uow(), NONE, a),
    "rule.save": lambda h, a: rule_book.save_rule(h.uow(), DEMO_RULES[0][1], a),
    "rule.enable": lambda h, a: rule_book.set_enabled(h.uow(), "R-NO-SUCH", True, a, "测试"),
    "red_letter.move": lambda h, a: red_letter.move(h.uow(), "RL-NONE", "04", a, basis="购方确认"),
    "quarantine.retry": lambda h, a: ingest.retry_quarantined(h.uow(), 987654, lambda body: None, actor=a),
    "outbox.retry": lambda h, a: outbox.retry(h.uow(), 987654, a),
    "outbox.acknowledge": lambda h, a: outbox.acknowledge(h.uow(), 987654, a),
    "users.manage": lambda h, a: users.reset_password(h.uow(), "no.such.person", a),
    "permissions.edit": lambda h, a: permissions.set_grant(h.uow(), "admin", "order.cancel", True, a),
    "shops.manage": lambda h, a: shop_admin.set_shop_enabled(h.uow(), _store(h), "NO-SUCH-SHOP", False, a),
    "master_data.import": lambda h, a: master_data.preview(h.uow(), "warehouses", WAREHOUSE_CSV, "仓库.csv", a),
    "field_defs.manage": lambda h, a: field_defs.save_field_def(
        h.uow(), FieldDefView("douyin", "author_id", "达人ID", "Creator ID", "text", 3), a),
    "printers.manage": lambda h, a: printer_setup.print_test_slip(
        h.uow(), PrinterChoice("file", str(h.settings.data_dir / "matrix-slip.bin"), "80mm"), a),
    "erp.manage": lambda h, a: erp_outbound.replay(h.uow(), 987654, a),
    "health.view": lambda h, a: health.dashboard(h.uow(), a, Span.last_days(clock.now(), 1), Grain.HOUR),
    "health.export": lambda h, a: health.require_export(h.uow(), a),
    "payloads.archive": lambda h, a: payload_archive.restore(h.uow(), a, 987654, h.settings.data_dir / "archive"),
}

WAREHOUSE_CSV = "仓库编码,仓库名称,仓库类型,省份,城市,详细地址\nHZ01,杭州自营仓,自营仓,浙江省,杭州市,余杭区 1 号\n".encode()


def _store(hub: Any) -> FileStore:
    return FileStore(hub.settings.data_dir / "matrix-secrets.json")


def _scan(hub: Any, actor: Actor) -> None:
    # a scan never raises: a refusal comes back as a refused result with the error's code
    # an item barcode and a slip's order QR (opening a pick) are both warehouse work: each is checked
    results = [picking.scan(hub.uow(), code, actor) for code in ("6900000000017", ORDER_QR_PREFIX + "OH000000000000")]
    refused = [r for r in results if r.code in ("NOT_PERMITTED", "NOT_PERMITTED_UNKNOWN")]
    assert len(refused) in (0, len(results)), [r.code for r in results]
    if refused:
        raise BusinessError(refused[0].code, **refused[0].params)


def test_every_registered_action_has_a_service_call_in_this_test():
    assert set(CALLS) == set(ACTIONS)


def _audit_count(hub: Any) -> int:
    with hub.uow() as uow:
        return uow.session.scalar(sa.text("SELECT count(*) FROM audit_log"))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_is_allowed_or_refused_for_each_role_as_the_table_says(shared_hub, action, role):
    expected = action in DEFAULT_GRANTS[role]
    before = _audit_count(shared_hub)
    try:
        CALLS[action](shared_hub, actor_of(role))
        outcome = "done"
    except BusinessError as err:
        outcome = err.code
    if expected:
        assert outcome not in ("NOT_PERMITTED", "NOT_PERMITTED_UNKNOWN"), (action, role)
    else:
        assert outcome == "NOT_PERMITTED", (action, role, outcome)
        assert _audit_count(shared_hub) == before  # a refusal changes nothing


def test_the_refusal_names_the_role_and_the_action_in_business_language(shared_hub):
    with pytest.raises(BusinessError) as caught:
        orders.cancel(shared_hub.uow(), NONE, expected_version=1, actor=actor_of("picker"), basis="x")
    assert caught.value.message("zh") == "「拣货员」没有「取消订单」的权限，未做任何更改。如需此权限请联系管理员"
    assert caught.value.message("en").startswith("A Picker may not “Cancel an order”")


def test_someone_who_is_not_a_user_is_refused_whatever_they_ask(shared_hub):
    for action in ("order.cancel", "rule.save", "users.manage"):
        with pytest.raises(BusinessError) as caught:
            CALLS[action](shared_hub, Actor("mallory", "外部电脑"))
        assert caught.value.code == "NOT_PERMITTED_UNKNOWN" and "mallory" in caught.value.message("zh")


def test_a_disabled_person_loses_every_permission_at_once(hub):
    admin = actor_of("admin")
    users.set_enabled(hub.uow(), "xiaomei", False, admin)
    with pytest.raises(BusinessError) as caught:
        CALLS["order.cancel"](hub, actor_of("cs"))
    assert caught.value.code == "NOT_PERMITTED_UNKNOWN"


def test_the_grants_are_data_an_admin_changes_and_the_services_follow_at_once(hub):
    admin, cs = actor_of("admin"), actor_of("cs")
    with pytest.raises(BusinessError) as caught:
        CALLS["order.override_status"](hub, cs)
    assert caught.value.code == "NOT_PERMITTED"
    table = permissions.set_grant(hub.uow(), "cs", "order.override_status", True, admin)
    assert ("cs", "order.override_status") in table.granted
    with pytest.raises(BusinessError) as caught:
        CALLS["order.override_status"](hub, cs)
    assert caught.value.code == "NOT_FOUND"  # past the check now
    permissions.set_grant(hub.uow(), "cs", "order.cancel", False, admin)
    with pytest.raises(BusinessError) as caught:
        CALLS["order.cancel"](hub, cs)
    assert caught.value.code == "NOT_PERMITTED"
    with hub.uow() as uow:
        actions = [r[0] for r in uow.session.execute(sa.text(
            "SELECT action FROM audit_log WHERE entity_type = 'role' ORDER BY id"))]
    assert actions == ["permission.granted", "permission.revoked"]


def test_nobody_can_take_the_administrators_set_up_rights_away_nor_edit_grants_without_the_right(hub):
    with pytest.raises(BusinessError) as caught:
        permissions.set_grant(hub.uow(), "admin", "users.manage", False, actor_of("admin"))
    assert caught.value.code == "PERMISSION_LOCKED"
    with pytest.raises(BusinessError) as caught:
        permissions.set_grant(hub.uow(), "picker", "order.cancel", True, actor_of("supervisor"))
    assert caught.value.code == "NOT_PERMITTED"


def test_the_migration_seeded_exactly_the_default_grants(hub):
    with hub.uow() as uow:
        seeded = {(r, a) for r, a in uow.session.execute(sa.text("SELECT role, action FROM role_permissions"))}
    assert seeded == {(r, a) for r in ROLES for a in DEFAULT_GRANTS[r]}
