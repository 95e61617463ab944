"""The ERP tells OrderHub: verified before reading, applied once, refused and recorded when wrong, quarantined when unreadable."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import requests
import sqlalchemy as sa

from app.db.erp_models import ErpInbound, ErpOrderStatus
from app.db.models import Order, RawPayload, Sku, Stock
from app.services import erp_inbound, erp_reconcile, orders
from connectors.erp_webhooks import frappe_signature, sign_standard
from tests.erp.conftest import ADMIN, Bridge
from tests.support.factories import make_order, make_warehouse


def _status(bridge: Bridge, order_no: str) -> tuple[str, str] | None:
    with bridge.hub.uow() as uow:
        row = uow.session.execute(sa.select(ErpOrderStatus.erp_status, ErpOrderStatus.erp_order_no)
                                  .join(Order, Order.id == ErpOrderStatus.order_id)
                                  .where(Order.order_no == order_no)).first()
        return tuple(row) if row else None


def _verdicts(bridge: Bridge) -> list[tuple[str, int]]:
    with bridge.hub.uow() as uow:
        return [tuple(r) for r in uow.session.execute(sa.select(ErpInbound.verdict, ErpInbound.http_status)
                                                      .order_by(ErpInbound.id))]


def _known_order(bridge: Bridge, status: str = "paid") -> str:
    order_no, _ = make_order(bridge.hub, status)
    bridge.drain()  # the ERP creates its Sales Order from our order.created
    return order_no


def test_an_erpnext_status_change_is_applied_as_one_of_our_stages_with_its_order_number(bridge):
    order_no = _known_order(bridge)
    answer = bridge.erp.set_status(order_no, "To Bill")
    assert answer.status_code == 200 and answer.json()["verdict"] == "applied"
    assert _status(bridge, order_no) == ("shipped", bridge.erp.sales_order_of(order_no)["name"])
    with bridge.hub.uow() as uow:
        raw = uow.session.scalars(sa.select(RawPayload).where(RawPayload.source == "erp:erpnext-in")).one()
    assert json.loads(raw.body)["po_no"] == order_no and raw.status == "parsed"  # the body kept verbatim


def test_erpnext_resending_after_a_lost_answer_changes_nothing_the_second_time(bridge):
    order_no = _known_order(bridge)
    so = bridge.erp.sales_order_of(order_no)
    so["status"], so["modified"] = "To Bill", "2026-12-02 10:00:00.000001"
    assert bridge.erp.send_document(so).json()["verdict"] == "applied"
    with bridge.hub.uow() as uow:
        uow.session.execute(sa.update(ErpOrderStatus).values(erp_status="completed"))  # mark what was applied
        uow.commit()
    again = bridge.erp.send_document(so)  # same doctype + name + modified: Frappe's retry after a ReadTimeout
    assert (again.status_code, again.json()["verdict"]) == (200, "duplicate")
    assert _status(bridge, order_no)[0] == "completed"  # not applied again


def test_an_older_erp_report_arriving_after_a_newer_one_is_kept_but_not_applied(bridge):
    order_no = _known_order(bridge)
    so = bridge.erp.sales_order_of(order_no)
    newer = so | {"status": "Completed", "modified": "2026-12-02 10:00:05.000000"}
    older = so | {"status": "To Bill", "modified": "2026-12-02 10:00:01.000000"}
    assert bridge.erp.send_document(newer).json()["verdict"] == "applied"
    assert bridge.erp.send_document(older).json()["verdict"] == "stale"
    assert _status(bridge, order_no)[0] == "completed"


def test_a_wrong_signature_is_refused_recorded_and_nothing_is_applied(bridge):
    order_no = _known_order(bridge)
    doc = bridge.erp.sales_order_of(order_no) | {"status": "Cancelled", "modified": "2026-12-02 10:00:00.000000"}
    body = json.dumps(doc).encode()
    answer = requests.post(bridge.erp.hub_url, data=body, timeout=5,
                           headers={"X-Frappe-Webhook-Signature": frappe_signature(body, "not-the-secret")})
    assert answer.status_code == 401 and answer.json()["message"] == "签名不符，未处理"
    assert _status(bridge, order_no) is None
    assert _verdicts(bridge) == [("refused", 401)]


def _standard_post(bridge: Bridge, body: str, *, msg_id: str = "msg_erp_1", at: datetime | None = None,
                   secret: str | None = None) -> requests.Response:
    headers = sign_standard(msg_id, at or datetime.now(UTC), body, [secret or bridge.in_secret])
    return requests.post(bridge.erp.hub_url, data=body.encode(), headers=headers, timeout=5)


def _status_body(order_no: str, status: str, *, erp_no: str = "SAL-ORD-2026-00001") -> str:
    return json.dumps({"type": "order.status", "timestamp": datetime.now(UTC).isoformat(),
                       "data": {"order_no": order_no, "status": status, "erp_order_no": erp_no}})


def test_standard_webhooks_from_the_erp_are_refused_when_stale_or_replayed_and_applied_once(std_bridge):
    bridge = std_bridge
    order_no = _known_order(bridge)
    stale = _standard_post(bridge, _status_body(order_no, "shipped"), at=datetime.now(UTC) - timedelta(minutes=6))
    assert stale.status_code == 401 and stale.json()["code"] == "stale"
    assert _status(bridge, order_no) is None
    first = _standard_post(bridge, _status_body(order_no, "shipped"), msg_id="msg_erp_7")
    assert (first.status_code, first.json()["verdict"]) == (200, "applied")
    replay = _standard_post(bridge, _status_body(order_no, "cancelled"), msg_id="msg_erp_7")
    assert (replay.status_code, replay.json()["verdict"]) == (200, "duplicate")
    assert _status(bridge, order_no) == ("shipped", "SAL-ORD-2026-00001")
    missing = requests.post(bridge.erp.hub_url, data=b"{}", timeout=5)
    assert missing.status_code == 400
    assert _verdicts(bridge) == [("refused", 401), ("applied", 200), ("duplicate", 200), ("refused", 400)]


def test_a_signed_body_that_cannot_be_read_is_quarantined_and_applied_when_retried_later(std_bridge):
    bridge = std_bridge
    early = _standard_post(bridge, _status_body("OH-NOT-YET", "shipped"), msg_id="msg_erp_early")
    assert early.status_code == 422 and early.json()["verdict"] == "quarantined"
    garbled = _standard_post(bridge, '{"type": "order.status", "data": ', msg_id="msg_erp_garbled")
    assert garbled.status_code == 422
    with bridge.hub.uow() as uow:
        held = {r.id: r for r in uow.session.scalars(sa.select(RawPayload).where(RawPayload.status == "quarantined"))}
    assert len(held) == 2 and any("OH-NOT-YET" in (r.error or "") for r in held.values())
    # The order arrives afterwards (the ERP heard of it first); the quarantined report can now be read.
    made, _ = make_order(bridge.hub, "paid")
    with bridge.hub.uow() as uow:
        uow.session.execute(sa.update(Order).where(Order.order_no == made).values(order_no="OH-NOT-YET"))
        uow.commit()
    order_no = "OH-NOT-YET"
    early_id = next(i for i, r in held.items() if "OH-NOT-YET" in (r.error or ""))
    assert erp_inbound.retry_quarantined(bridge.hub.uow(), early_id, ADMIN).verdict == "applied"
    assert _status(bridge, order_no)[0] == "shipped"
    garbled_id = next(i for i in held if i != early_id)
    assert erp_inbound.retry_quarantined(bridge.hub.uow(), garbled_id, ADMIN).verdict == "quarantined"


def test_erpnext_stock_levels_set_the_warehouse_total(bridge):
    wh = make_warehouse(bridge.hub)
    with bridge.hub.uow() as uow:
        sku = Sku(sku_code="T2601-01-110", barcode="6901234567892", style_code="T2601", name="纯棉恐龙印花短袖T恤",
                  color="白色", size="110", price="129.00")
        uow.session.add(sku)
        uow.session.flush()
        uow.session.add(Stock(sku_id=sku.id, warehouse_id=wh, on_hand=10, reserved=2))
        code = uow.session.scalar(sa.text("SELECT code FROM warehouses WHERE id = :i"), {"i": wh})
        uow.commit()
    assert bridge.erp.set_stock("T2601-01-110", code, 25).json()["verdict"] == "applied"
    assert bridge.erp.set_stock("T2601-01-110", code, 1).json()["verdict"] == "applied"
    with bridge.hub.uow() as uow:
        on_hand = uow.session.scalar(sa.select(Stock.on_hand).where(Stock.warehouse_id == wh))
    assert on_hand == 2  # never below what is reserved for orders


def test_reconciliation_lists_the_orders_whose_erp_stage_differs_from_ours(bridge):
    same = _known_order(bridge, "allocating")
    differs = _known_order(bridge, "paid")
    bridge.erp.set_status(same, "To Deliver and Bill")
    bridge.erp.set_status(differs, "Cancelled")
    result = erp_reconcile.reconcile(bridge.hub.uow())
    assert (result.compared, result.matching, result.ratio) == (2, 1, 0.5)
    assert [(m.order_no, m.ours, m.erp, m.erp_raw_status, m.in_flight) for m in result.mismatches] == [
        (differs, "paid", "cancelled", "Cancelled", False)]
    view = orders.cancel(bridge.hub.uow(), differs, expected_version=1, actor=ADMIN, basis="ERP 已取消")
    assert view.status == "cancelled"
    assert erp_reconcile.reconcile(bridge.hub.uow()).mismatches == ()
