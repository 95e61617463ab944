"""Flows are data: checked when saved, versioned, and a case keeps the version it started with."""

from __future__ import annotations

import copy

import pytest
import sqlalchemy as sa

from app.demo.after_sales_flows import EXCHANGE
from app.domain.after_sales_flow import FlowInvalid
from app.services import after_sales, after_sales_flows
from tests.after_sales.conftest import ADMIN, CS, PHONE, Company

TEE_110, TEE_120 = "T2601-01-110", "T2601-01-120"


def _v2() -> dict:
    """The admin's change: stock checks now need a basis (e.g. the customer's confirmation) and no SMS."""
    flow = copy.deepcopy(EXCHANGE)
    for t in flow["transitions"]:
        if t["step"] == "check_stock":
            t["needs_basis"] = True
            t["actions"] = [a for a in t.get("actions", []) if a["action"] != "sms"]
    return flow


def test_saving_versions_a_flow_and_an_unchanged_save_keeps_the_version(company: Company):
    assert after_sales_flows.save(company.hub.uow(), EXCHANGE, ADMIN).version == 1  # seeded as v1, unchanged
    saved = after_sales_flows.save(company.hub.uow(), _v2(), ADMIN, note="换货前须客户确认")
    assert (saved.version, saved.changed) == (2, True)
    assert after_sales_flows.definition(company.hub.uow(), "exchange", 1) == EXCHANGE
    listing = {f["code"]: f for f in after_sales_flows.listing(company.hub.uow())}
    assert listing["exchange"]["version"] == 2 and listing["exchange"]["versions"] == 2
    assert company.scalar("SELECT count(*) FROM audit_log WHERE action = 'after_sales.flow_save' "
                          "AND entity_id = 'exchange'") == 2  # the seed's v1 and this v2
    with company.hub.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="append-only"):
        conn.execute(sa.text("UPDATE after_sales_flow_versions SET definition = '{}'::jsonb"))


@pytest.mark.parametrize(("change", "problem"), [
    (lambda f: f["transitions"][0]["guards"].append({"guard": "moon_is_full"}), "条件名称不认识"),
    (lambda f: f["transitions"][0]["actions"].append({"action": "send_fax"}), "动作名称不认识"),
    (lambda f: f["transitions"][0]["actions"].append({"action": "sms", "template": "nope"}), "短信模板未登记"),
    (lambda f: f["states"].append("received"), "非结束状态没有出路"),
    (lambda f: f["states"].append("teleported"), "状态不在字段字典中"),
    (lambda f: f.update(code="warranty"), "流程编号必须是售后类型之一"),
    (lambda f: f["transitions"].append({"step": "x", "from": ["requested"], "to": "nowhere"}), "起止状态"),
])
def test_a_flow_that_does_not_hold_together_is_refused_and_nothing_is_saved(company: Company, change, problem):
    broken = copy.deepcopy(EXCHANGE)
    change(broken)
    with pytest.raises(FlowInvalid) as refused:
        after_sales_flows.save(company.hub.uow(), broken, ADMIN)
    assert problem in refused.value.message("zh")
    assert company.scalar("SELECT count(*) FROM after_sales_flow_versions WHERE flow_code = 'exchange'") == 1


def test_open_cases_keep_their_version_when_the_admin_changes_the_flow(company: Company):
    company.stock(TEE_120, 5)
    old_order, new_order = company.order([(TEE_110, 1, "69.00")]), company.order([(TEE_110, 1, "69.00")])
    lines = [{"line_no": 1, "qty": 1, "new_size": "120"}]
    old = after_sales.open_case(company.hub.uow(), old_order, "exchange", lines, actor=CS, reason="换大一码",
                                contact_phone=PHONE)
    after_sales_flows.save(company.hub.uow(), _v2(), ADMIN, note="换货前须客户确认")
    new = after_sales.open_case(company.hub.uow(), new_order, "exchange", lines, actor=CS, reason="换大一码",
                                contact_phone=PHONE)
    assert (old.flow_version, new.flow_version) == (1, 2)

    # The old case runs on version 1: no basis needed, and its SMS goes out.
    done_old = after_sales.step(company.hub.uow(), old.case_no, "check_stock", expected_version=old.version, actor=CS)
    assert done_old.state == "exchange_created" and done_old.events[-1]["flow_version"] == 1
    # The new one runs on version 2: a basis is required, and no SMS.
    with pytest.raises(Exception, match="依据"):
        after_sales.step(company.hub.uow(), new.case_no, "check_stock", expected_version=new.version, actor=CS)
    done_new = after_sales.step(company.hub.uow(), new.case_no, "check_stock", expected_version=new.version, actor=CS,
                                basis="客户微信确认换 120 码")
    assert done_new.state == "exchange_created" and done_new.events[-1]["flow_version"] == 2
    sms_cases = company.rows("SELECT payload->>'case_no' AS c FROM outbox WHERE topic = 'sms' AND status = 'pending'")
    assert [r["c"] for r in sms_cases] == [old.case_no]
