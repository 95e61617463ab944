"""Order events reach the ERP: written with the change, signed, in order per order, retried, dead-lettered, replayed."""

from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa

from app.db.erp_models import ErpDelivery
from app.db.models import Order, OutboxMessage
from app.domain.actor import Actor
from app.services import erp_outbound, orders
from tests.erp.conftest import ADMIN, Bridge
from tests.support.factories import make_order, make_shop

CS = Actor("xiaomei", "客服工作台-01", "10.20.1.21")


def _events(bridge: Bridge, order_no: str) -> list[str]:
    with bridge.hub.uow() as uow:
        return list(uow.session.scalars(
            sa.select(ErpDelivery.event_type).join(Order, Order.id == ErpDelivery.order_id)
            .where(Order.order_no == order_no).order_by(ErpDelivery.event_id)))


def _later(bridge: Bridge, **delta: float):
    with bridge.hub.uow() as uow:
        return uow.session.scalar(sa.select(sa.func.now())) + timedelta(**delta)


def test_each_change_writes_its_event_in_the_same_transaction_and_a_rolled_back_change_writes_none(bridge):
    order_no, version = make_order(bridge.hub, "paid")
    assert _events(bridge, order_no) == ["order.created"]
    with bridge.hub.uow() as uow:  # a change that is not committed leaves no event behind
        uow.session.execute(sa.update(Order).where(Order.order_no == order_no).values(status="allocating"))
    assert _events(bridge, order_no) == ["order.created"]
    view = orders.change_status(bridge.hub.uow(), order_no, "allocating", expected_version=version, actor=CS)
    orders.change_status(bridge.hub.uow(), order_no, "shipped", expected_version=view.version, actor=CS)
    assert _events(bridge, order_no) == ["order.created", "order.stage_changed", "order.shipped"]


def test_events_reach_the_erp_signed_and_in_order_and_every_attempt_is_logged(bridge):
    order_no, version = make_order(bridge.hub, "paid")
    view = orders.change_status(bridge.hub.uow(), order_no, "allocating", expected_version=version, actor=CS)
    orders.change_status(bridge.hub.uow(), order_no, "shipped", expected_version=view.version, actor=CS)
    assert bridge.drain() == 3
    got = [(e["type"], e["data"].get("status")) for e in bridge.erp.received if e["order_no"] == order_no]
    assert got == [("order.created", "paid"), ("order.stage_changed", "allocating"), ("order.shipped", "shipped")]
    assert bridge.erp.sales_order_of(order_no)["status"] == "To Bill"
    rows = erp_outbound.deliveries(bridge.hub.uow(), order_no=order_no)
    assert {r.status for r in rows} == {"sent"}
    tries = erp_outbound.attempts(bridge.hub.uow(), rows[0].outbox_id)
    assert [(t.ok, t.http_status) for t in tries] == [(True, 200)] and '"ok"' in tries[0].excerpt


def test_an_endpoint_that_only_wants_some_events_gets_only_those(bridge):
    erp_outbound.save_endpoint(bridge.hub.uow(), "erpnext", name="ERPNext 总账",
                               url=f"{bridge.erp_server.url}/api/method/orderhub.webhook",
                               secret_ref="orderhub:erp:out", events=("order.shipped",), actor=ADMIN)
    order_no, version = make_order(bridge.hub, "allocating")
    orders.change_status(bridge.hub.uow(), order_no, "shipped", expected_version=version, actor=CS)
    assert _events(bridge, order_no) == ["order.shipped"]


def test_a_lost_answer_after_the_erp_accepted_is_retried_with_the_same_id_and_applied_once(bridge):
    order_no, _ = make_order(bridge.hub, "paid")
    bridge.erp.lose_next, bridge.erp.lose_seconds = 1, 1.5  # applies, then answers after our 0.5 s timeout
    first = bridge.dispatcher.run_once()
    assert (first.sent, first.retry) == (0, 1)
    second = bridge.dispatcher.run_once(now=_later(bridge, minutes=10))
    assert second.sent == 1
    assert [e["order_no"] for e in bridge.erp.received].count(order_no) == 1
    assert bridge.erp.duplicates == 1
    row = erp_outbound.deliveries(bridge.hub.uow(), order_no=order_no)[0]
    tries = erp_outbound.attempts(bridge.hub.uow(), row.outbox_id)
    assert [(t.ok, t.http_status) for t in tries] == [(False, None), (True, 200)]
    assert "timeout" in tries[0].error


def test_after_the_last_attempt_a_dead_letter_holds_the_orders_later_events_until_an_admin_replays_it(bridge):
    order_no, version = make_order(bridge.hub, "paid")
    other_no, _ = make_order(bridge.hub, "paid", shop_id=make_shop(bridge.hub))
    bridge.erp.fail_orders = {order_no}
    bridge.dispatcher.run_once()  # attempt 1: the ERP answers 503 for this order, takes the other
    orders.change_status(bridge.hub.uow(), order_no, "allocating", expected_version=version, actor=CS)
    for minutes in (10, 20):
        bridge.dispatcher.run_once(now=_later(bridge, minutes=minutes))
    dead = erp_outbound.dead_letters(bridge.hub.uow())
    assert [(d.order_no, d.event_type, d.attempts) for d in dead] == [(order_no, "order.created", 3)]
    assert "HTTP 503" in dead[0].last_error and "Try again later" in dead[0].last_error
    assert [e["order_no"] for e in bridge.erp.received] == [other_no]  # the other order went on
    bridge.dispatcher.run_once(now=_later(bridge, hours=30))
    assert order_no not in [e["order_no"] for e in bridge.erp.received]  # its stage change waits behind
    bridge.erp.fail_orders = set()
    erp_outbound.replay(bridge.hub.uow(), dead[0].outbox_id, ADMIN, basis="ERP 维护结束")
    bridge.drain()
    assert [e["type"] for e in bridge.erp.received if e["order_no"] == order_no] == ["order.created",
                                                                                     "order.stage_changed"]
    assert erp_outbound.dead_letters(bridge.hub.uow()) == []


def test_changes_made_concurrently_reach_the_erp_in_order_per_order_despite_failures(bridge):
    shop = make_shop(bridge.hub)
    made = [make_order(bridge.hub, "paid", shop_id=shop) for _ in range(8)]
    bridge.erp.fail_next = 5

    def walk(order_no: str, version: int) -> None:
        for target in ("allocating", "paid", "allocating", "shipped", "completed"):
            version = orders.change_status(bridge.hub.uow(), order_no, target, expected_version=version, actor=CS).version

    threads = [threading.Thread(target=walk, args=m) for m in made]
    for t in threads:
        t.start()
    sender = threading.Thread(target=lambda: [bridge.dispatcher.run_once() for _ in range(20)])
    sender.start()
    for t in threads:
        t.join()
    sender.join()
    for minutes in range(10, 400, 10):
        if not bridge.dispatcher.run_once(now=_later(bridge, minutes=minutes)).sent:
            if not erp_outbound.claim(bridge.hub.uow(), now=_later(bridge, minutes=minutes + 5)):
                break
    bridge.drain()
    for order_no, _ in made:
        got = [e["data"]["status"] for e in bridge.erp.received if e["order_no"] == order_no]
        assert got == ["paid", "allocating", "paid", "allocating", "shipped", "completed"], order_no
        ids = [e["event_id"] for e in bridge.erp.received if e["order_no"] == order_no]
        assert ids == sorted(ids)
    with bridge.hub.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).where(OutboxMessage.topic == "erp",
                                                                   OutboxMessage.status != "sent")) == 0


def test_every_attempt_and_what_the_erp_says_show_on_the_orders_story(bridge):
    from app.services import trace

    order_no, _ = make_order(bridge.hub, "paid")
    bridge.erp.fail_orders = {order_no}
    bridge.dispatcher.run_once()
    bridge.erp.fail_orders = set()
    bridge.dispatcher.run_once(now=_later(bridge, minutes=10))
    bridge.erp.set_status(order_no, "To Bill")
    text = trace.render_story(trace.order_story(bridge.hub.uow(), order_no))
    assert "推送「ERPNext 总账」：新订单，第 1 次失败：HTTP 503；对方回复：" in text
    assert "推送「ERPNext 总账」：新订单，第 2 次，已送达（200）" in text
    assert f"ERP订单号 {bridge.erp.sales_order_of(order_no)['name']}，ERP环节「已发货」" in text
    english = trace.render_story(trace.order_story(bridge.hub.uow(), order_no), "en")
    assert "attempt 2, delivered (200)" in english and "Order created" in english


def test_after_sales_and_invoice_changes_are_events_too(bridge):
    from decimal import Decimal

    from app.db.models import AfterSalesCase, Invoice

    order_no, _ = make_order(bridge.hub, "shipped")
    with bridge.hub.uow() as uow:
        s = uow.session
        order = s.scalars(sa.select(Order).where(Order.order_no == order_no)).one()
        now = s.scalar(sa.select(sa.func.now()))
        blue = Invoice(order_id=order.id, invoice_no="26332000000000000001", kind="blue", amount=Decimal("299.00"),
                       tax_amount=Decimal("34.40"), title="个人", issued_at=now)
        case = AfterSalesCase(case_no="AS000000000001", order_id=order.id, kind="refund_only", state="requested",
                              requested_at=now, created_by="xiaomei")
        s.add(blue)
        s.flush()
        s.add(case)
        uow.commit()
    with bridge.hub.uow() as uow:
        uow.session.execute(sa.update(AfterSalesCase).values(state="approved"))
        uow.session.execute(sa.update(AfterSalesCase).values(state="refunded"))
        blue_id, order_id = uow.session.execute(sa.select(Invoice.id, Invoice.order_id)).one()
        uow.session.add(Invoice(order_id=order_id, invoice_no="26442000000000000002", kind="red",
                                amount=Decimal("-299.00"), tax_amount=Decimal("-34.40"), title="个人",
                                issued_at=sa.func.now(), red_flush_of_id=blue_id))
        uow.commit()
    assert _events(bridge, order_no) == ["order.created", "invoice.issued", "after_sales.opened",
                                         "after_sales.decided", "after_sales.changed", "invoice.red_flushed"]
    bridge.drain()
    got = [(e["type"], e["data"]) for e in bridge.erp.received if e["order_no"] == order_no]
    assert got[-1][1]["red_flush_of"] == "26332000000000000001" and got[3][1]["state"] == "approved"
