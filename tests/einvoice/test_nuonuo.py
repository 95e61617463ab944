"""The 诺诺 connector against its simulator: signing, blue invoices, provider error codes, lost answers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db.erp_models import EinvoiceRequest
from app.db.models import Order
from app.services import einvoice
from connectors.einvoice_nuonuo import NuonuoClient, NuonuoError, sign
from tests.einvoice.conftest import APP_KEY, APP_SECRET, Tax


def test_the_signature_matches_the_official_formula_on_a_published_third_party_vector():
    # 诺诺 publishes no vector; jellyfrank/nuonuo-sdk docs/api-contract.md lists this output of the official function.
    got = sign("/open/v1/services", "secret", "app", "a" * 32, "12345678", '{"name":"中文"}', "1700000000")
    assert got == "4BzcKzrcoqxPis0W/W3X2ae0uIo="


def test_a_wrong_app_secret_is_refused_by_the_gateway_with_070601(tax: Tax):
    client = NuonuoClient(f"{tax.server.url}/open/v1/services", f"{tax.server.url}/accessToken", APP_KEY, APP_SECRET)
    client.refresh_token()
    client.app_secret = "not-the-secret"
    with pytest.raises(NuonuoError) as caught:
        client.query_invoices(order_nos=["X"])
    assert (caught.value.code, caught.value.message, caught.value.retryable) == ("070601", "签名不匹配", False)
    client.close()


def test_an_order_bound_to_an_invoice_gets_the_providers_number(tax: Tax):
    order_no = tax.bound_order("299.00")
    tax.run(3)
    [(kind, number, amount)] = tax.invoices(order_no)
    assert kind == "blue" and len(number) == 20 and amount == 299
    sim_numbers = {inv["number"] for inv in tax.sim.invoices.values()}
    assert number in sim_numbers
    with tax.hub.uow() as uow:
        assert uow.session.scalar(sa.select(Order.invoice_status).where(Order.order_no == order_no)) == "issued"
    [row] = einvoice.requests_of(tax.hub.uow(), order_no=order_no)
    assert (row.kind, row.state, row.invoice_no) == ("blue", "issued", number)


def test_no_request_is_written_when_the_invoice_binding_is_rolled_back(tax: Tax):
    order_no = tax.bound_order()
    with tax.hub.uow() as uow:
        uow.session.execute(sa.update(Order).where(Order.order_no != order_no).values(invoice_status="pending"))
    with tax.hub.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(EinvoiceRequest)) == 1


def test_a_lost_answer_to_the_submission_is_found_by_our_order_no_and_never_issued_twice(tax: Tax):
    order_no = tax.bound_order()
    tax.sim.lose_next, tax.sim.lose_seconds = 1, 1.5  # accepted, but the answer comes after our 0.5 s
    tax.run(4)
    assert tax.sim.calls.count("nuonuo.OpeMplatform.requestBillingNew") == 1
    assert len(tax.sim.invoices) == 1 and len(tax.invoices(order_no)) == 1


def test_a_transient_provider_error_is_retried_and_a_refusal_fails_visibly_with_the_providers_code(tax: Tax):
    first = tax.bound_order()
    tax.sim.fail_next = [("0203", "API处理异常")]
    tax.run(5)
    assert len(tax.invoices(first)) == 1
    second = tax.bound_order()
    tax.sim.fail_next = [("0201", "必填项输入参数空")]
    tax.run(2)
    assert tax.invoices(second) == []
    [row] = einvoice.requests_of(tax.hub.uow(), order_no=second)
    assert (row.state, row.provider_code, row.provider_message) == ("failed", "0201", "必填项输入参数空")


def test_an_access_token_the_provider_no_longer_accepts_is_renewed_once(tax: Tax):
    order_no = tax.bound_order()
    tax.run(1)
    tax.sim.tokens.clear()  # 070301 accessToken不匹配 on the next call
    tax.run(3)
    assert len(tax.invoices(order_no)) == 1
    assert tax.store.get("orderhub:einvoice:nuonuo").access_token in tax.sim.tokens


def test_the_command_line_lists_requests_with_the_providers_numbers_in_business_language(tax: Tax, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    order_no = tax.bound_order()
    tax.run(3)
    env = os.environ | {"ORDERHUB_DATABASE_URL": tax.hub.engine.url.render_as_string(hide_password=False),
                        "ORDERHUB_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "app", "einvoice", "list", "--order", order_no],
                          cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    number = tax.invoices(order_no)[0][1]
    assert "开具蓝字发票" in done.stdout and "已开具" in done.stdout and number in done.stdout
    assert "数电票号码" in done.stdout


def test_the_orders_story_shows_the_invoice_request_with_the_providers_number(tax: Tax):
    from app.services import trace

    order_no = tax.bound_order()
    tax.run(3)
    number = tax.invoices(order_no)[0][1]
    text = trace.render_story(trace.order_story(tax.hub.uow(), order_no))
    assert f"数电票：开具蓝字发票，已开具，开票单号 OH" in text and f"发票号码 {number}" in text


def _client(tax: Tax) -> NuonuoClient:
    return NuonuoClient(f"{tax.server.url}/open/v1/services", f"{tax.server.url}/accessToken", APP_KEY, APP_SECRET)


def test_the_seller_confirms_a_red_letter_confirmation_the_buyer_entered_and_the_red_invoice_issues(tax: Tax):
    order_no = tax.bound_order()
    tax.run(3)
    blue_no = tax.invoices(order_no)[0][1]
    bill_id = tax.sim.buyer_applies(blue_no)
    client = _client(tax)
    [waiting] = client.query_red_confirms(bill_id=bill_id)
    assert (waiting.status, waiting.open_status) == ("03", "0")
    with pytest.raises(NuonuoError):  # only the side the confirmation waits for may confirm it
        client.confirm(bill_id=bill_id, agree=True, identity="1")
    client.confirm(bill_id=bill_id, agree=True, identity="0")
    [done] = client.query_red_confirms(bill_id=bill_id)
    assert (done.status, done.open_status) == ("04", "1")
    [red] = client.query_invoices(serial_nos=[done.red_serial_no])
    [red] = client.query_invoices(serial_nos=[done.red_serial_no])  # 开票中, then 开票完成
    assert red.status == "2" and len(red.number) == 20 and red.amount.startswith("-")
    client.close()


def test_a_repeated_order_no_is_refused_with_e9106_and_the_token_limit_with_070306(tax: Tax):
    client = _client(tax)
    order = {"buyerName": "个人", "salerTaxNum": "339902999999789113", "orderNo": "OH26120200000001",
             "invoiceDate": "2026-12-02 12:00:00", "clerk": "张会计",
             "invoiceDetail": [{"goodsName": "T恤", "taxIncludedAmount": "99.00", "tax": "11.39", "taxRate": "0.13",
                                "withTaxFlag": "1"}]}
    client.request_billing(order)
    with pytest.raises(NuonuoError) as repeated:
        client.request_billing(order)
    assert (repeated.value.code, repeated.value.message) == ("E9106", "订单编号或流水号不能重复")
    tax.sim.token_calls = 50
    with pytest.raises(NuonuoError) as limited:
        client.refresh_token()
    assert limited.value.code == "070306"
    client.close()
