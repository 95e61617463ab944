"""SMS through the Alibaba Cloud gateway: signing, the gateway's own errors, retries, and never twice."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from app.domain.clock import local
from app.hub.sms_dispatch import dispatch
from app.services import after_sales, outbox
from connectors.base import PlatformError
from connectors.sms import AliyunSms, sign
from tests.after_sales.conftest import CS, PHONE, Company

TEE_110, TEE_120 = "T2601-01-110", "T2601-01-120"


def test_signature_matches_the_gateway_documentation_example():
    # The worked example in Alibaba Cloud's SMS API signing documentation (GET, secret "testSecret").
    params = {"AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
              "PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用",
              "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
              "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007", "TemplateParam": '{"customer":"test"}',
              "Timestamp": "2017-07-12T02:42:19Z", "Version": "2017-05-25"}
    assert sign(params, "testSecret", method="GET") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_the_gateway_checks_signature_template_phone_and_flow_control(gateway):
    sim, client = gateway
    ok = client.send(PHONE, "SMS_467890102", {"case_no": "AS1"}, out_id="t-1")
    assert ok.ok and ok.biz_id
    assert sim.delivered[-1].content == "【小树苗童装】您的退货申请AS1已同意，请在7天内寄回商品，运费由我们承担。"
    wrong = AliyunSms(client.base_url, "LTAI5tOrderHubDemo", "not-the-secret", "小树苗童装")
    cases = [
        (lambda: wrong.send(PHONE, "SMS_467890102", {"case_no": "AS1"}, out_id="t-2"), "SignatureDoesNotMatch", False),
        (lambda: client.send("12345", "SMS_467890102", {"case_no": "AS1"}, out_id="t-3"), "isv.MOBILE_NUMBER_ILLEGAL", False),
        (lambda: client.send(PHONE, "SMS_000", {"case_no": "AS1"}, out_id="t-4"), "isv.SMS_TEMPLATE_ILLEGAL", False),
        (lambda: client.send(PHONE, "SMS_467890103", {"case_no": "AS1"}, out_id="t-5"), "isv.TEMPLATE_MISSING_PARAMETERS", False),
        (lambda: client.send(PHONE, "SMS_467890102", {"case_no": "AS1"}, out_id="t-6"), "isv.BUSINESS_LIMIT_CONTROL", True),
    ]
    for call, code, retryable in cases:
        with pytest.raises(PlatformError) as err:
            call()
        assert (err.value.code, err.value.retryable) == (code, retryable)
    assert [d.out_id for d in client.sent_details(PHONE, local(sim.delivered[-1].at).date())] == ["t-1"]
    wrong.close()


def _exchange_with_sms(company: Company) -> after_sales.CaseView:
    company.stock(TEE_120, 2)
    order_no = company.order([(TEE_110, 1, "69.00")])
    case = after_sales.open_case(company.hub.uow(), order_no, "exchange", [{"line_no": 1, "new_size": "120"}],
                                 actor=CS, reason="换大一码", contact_phone=PHONE)
    return after_sales.step(company.hub.uow(), case.case_no, "check_stock", expected_version=case.version, actor=CS)


def test_a_gateway_that_is_down_keeps_the_sms_queued_and_it_goes_out_once_when_back(company: Company, gateway):
    sim, client = gateway
    case = _exchange_with_sms(company)
    sim.down = True
    report = dispatch(company.hub, client)
    assert (report.sent, report.retry) == (0, 1)
    (msg,) = outbox.listing(company.hub.uow(), topics=("sms",), statuses=("pending",))
    assert msg["attempts"] == 1 and "503" in msg["last_error"]
    assert dispatch(company.hub, client).sent == 0  # not due yet: it waits out its backoff

    sim.down = False
    later = company.scalar("SELECT now()") + timedelta(minutes=5)
    report = dispatch(company.hub, client, now=later)
    assert report.sent == 1
    assert dispatch(company.hub, client, now=later + timedelta(hours=1)).sent == 0
    assert [d.content for d in sim.delivered].count(sim.delivered[-1].content) == 1
    assert case.linked_order_no in sim.delivered[-1].content
    log = company.rows("SELECT ok, code FROM sms_log ORDER BY id")
    assert [(r["ok"], r["code"]) for r in log] == [(False, "http-503"), (True, "OK")]


def test_a_lost_answer_is_looked_up_not_sent_again(company: Company, gateway):
    sim, client = gateway
    _exchange_with_sms(company)
    sim.drop_answer_once = True  # the gateway delivers, the answer never arrives
    report = dispatch(company.hub, client)
    assert report.retry == 1 and len(sim.delivered) == 1
    later = company.scalar("SELECT now()") + timedelta(minutes=5)
    report = dispatch(company.hub, client, now=later)
    assert (report.sent, report.already_sent) == (0, 1)
    assert len(sim.delivered) == 1  # the customer got one message
    assert outbox.listing(company.hub.uow(), topics=("sms",), statuses=("pending",)) == []


def test_a_refused_sms_fails_visibly_and_a_malformed_one_never_crashes_the_sender(company: Company, gateway):
    sim, client = gateway
    _exchange_with_sms(company)
    sim.templates.pop("SMS_467890101")  # the template was withdrawn at the gateway
    with company.hub.uow() as uow:
        outbox.enqueue(uow.session, "sms", "sms:broken", {"template": "x"})
        uow.commit()
    report = dispatch(company.hub, client)
    assert (report.sent, report.failed) == (0, 2)
    failed = {m["dedupe_key"]: m["last_error"] for m in outbox.listing(company.hub.uow(), topics=("sms",),
                                                                        statuses=("failed",))}
    assert "isv.SMS_TEMPLATE_ILLEGAL" in next(v for k, v in failed.items() if k.startswith("sms:AS"))
    assert "缺少 phone" in failed["sms:broken"]


def test_the_hubs_outbox_worker_sends_and_watches_the_red_letter_clock(company: Company, gateway):
    from app.hub.outbox_worker import OutboxWorker

    sim, client = gateway
    _exchange_with_sms(company)
    worker = OutboxWorker(company.hub, client, every=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not sim.delivered and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop_event.set()
        worker.join(5)
    assert len(sim.delivered) == 1 and "换货单" in sim.delivered[0].content
