"""The trace tells an order's whole story: rules at the version then in force, warehouse and why, changes, documents."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.db.models import AfterSalesCase, Invoice, Order
from app.demo.rules import seed_rules
from app.demo.seed import seed_demo
from app.domain.actor import Actor
from app.domain.errors import NotFound
from app.services import orders, routing
from app.services.trace import order_story, render_story
from tests.routing.world import HUB, make_order, order, save, set_stock

T, W = "T2601-01-110", "W2602-01-120"
CS = Actor("xiaomei", "客服工作台-01", "10.20.1.17")


def trace(world, order_no, lang="zh"):
    return render_story(order_story(world.hub.uow(), order_no), lang)


def test_the_trace_shows_the_rule_version_in_force_at_the_time_not_the_current_one(world):
    set_stock(world, "HZ", T, 50)
    set_stock(world, "HF", T, 50)
    save(world, "R-JZH-HZ", "江浙订单优先杭州仓", {"field": "province", "op": "in", "value": ["浙江省", "江苏省"]},
         [{"type": "choose_warehouse", "warehouses": ["HZ", "HF"]}], priority=10)
    before = make_order(world)
    routing.route_order(world.hub.uow(), before, HUB)
    save(world, "R-JZH-HZ", "江浙沪订单优先合肥云仓", {"field": "province", "op": "in", "value": ["浙江省", "江苏省", "上海市"]},
         [{"type": "choose_warehouse", "warehouses": ["HF", "HZ"]}], priority=10, note="杭州仓盘点一周")
    after = make_order(world)
    routing.route_order(world.hub.uow(), after, HUB)

    old = trace(world, before)
    assert ("命中规则「江浙订单优先杭州仓」第 1 版（当时生效的版本；现为第 2 版）：如果 省份 属于 浙江省、江苏省，"
            "那么 优先杭州自营仓，低于安全水位溢出至合肥云仓") in old
    assert "上海市" not in old and "发货仓：杭州自营仓。原因：杭州自营仓可整单发货" in old
    new = trace(world, after)
    assert "命中规则「江浙沪订单优先合肥云仓」第 2 版：如果 省份 属于 浙江省、江苏省、上海市，那么 优先合肥云仓" in new
    assert "现为" not in new
    assert "Rule “江浙订单优先杭州仓” version 1 fired (the version then in force; now version 2)" in trace(world, before, "en")


def test_the_trace_says_why_the_order_overflowed_and_what_the_rules_saw(world):
    set_stock(world, "HZ", T, 11, safety=10)
    set_stock(world, "HF", T, 30)
    save(world, "R-JZH-HZ", "江浙沪订单优先杭州仓，低于安全水位溢出至合肥云仓",
         {"field": "province", "op": "in", "value": ["浙江省", "江苏省", "上海市"]},
         [{"type": "choose_warehouse", "warehouses": ["HZ", "HF"]}], priority=10)
    save(world, "R-DY-4H", "抖音订单优先4小时出库", {"field": "platform", "op": "eq", "value": "douyin"},
         [{"type": "set_ship_by", "hours": 4}], priority=30)
    save(world, "R-PDD", "拼多多订单48小时发货", {"field": "platform", "op": "eq", "value": "pdd"},
         [{"type": "set_ship_by", "hours": 48}], priority=31)
    no = make_order(world, [(T, 2)])
    routing.route_order(world.hub.uow(), no, HUB)
    text = trace(world, no)
    assert "路由判断（新订单，执行者 system:hub）：已分配发货仓" in text
    assert "判断依据：来源平台=抖店；省份=浙江省" in text
    assert ("发货仓：合肥云仓。原因：杭州自营仓：T2601-01-110 可用 11 件，发 2 件后剩 9 件，低于安全库存 10 件；"
            "溢出至合肥云仓整单发货") in text
    assert "另有 1 条规则已判断、未命中" in text
    assert "最晚发货时间设为 2026-11-25 14:00:00（规则「抖音订单优先4小时出库」）" in text


def test_the_trace_shows_who_changed_what_when_and_on_what_basis(world):
    set_stock(world, "HZ", T, 9)
    no = make_order(world)
    routing.route_order(world.hub.uow(), no, HUB)
    orders.change_address(world.hub.uow(), no, orders.AddressChange("王小明", "13800135678", "上海市徐汇区漕溪北路88号"),
                          expected_version=order(world, no)["version"], actor=CS, basis="工单 #20261125-0031")
    text = trace(world, no)
    assert "修改收货地址，操作人 xiaomei（客服工作台-01，10.20.1.17），依据：工单 #20261125-0031" in text
    assert "收货地址：浙江省杭州市西湖区文三路*** → 上海市徐汇区漕溪北路88号" in text
    assert "省份：浙江省 → 上海市" in text


def test_the_trace_links_split_parcels_exchange_orders_and_invoices(world):
    set_stock(world, "HZ", T, 5)
    set_stock(world, "HF", W, 5)
    no = make_order(world, [(T, 1), (W, 1)], paid="198.00")
    routing.route_order(world.hub.uow(), no, HUB)
    exchange = make_order(world, [(W, 1)])
    at = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    with world.hub.uow() as uow:
        s = uow.session
        oid, xid = (s.scalar(sa.select(Order.id).where(Order.order_no == n)) for n in (no, exchange))
        blue = Invoice(order_id=oid, invoice_no="26330000000000000001", kind="blue", amount=Decimal("198.00"),
                       tax_amount=Decimal("22.78"), title="个人", issued_at=at)
        s.add(blue)
        s.flush()
        s.add(Invoice(order_id=oid, invoice_no="26330000000000000002", kind="red", amount=Decimal("-198.00"),
                      tax_amount=Decimal("-22.78"), title="个人", issued_at=at + timedelta(hours=2), red_flush_of_id=blue.id))
        s.add(AfterSalesCase(case_no="AS261126000001", order_id=oid, kind="exchange", state="exchange_created",
                             reason="尺码偏小，想换大一码", exchange_order_id=xid, requested_at=at + timedelta(hours=1),
                             created_by="xiaomei"))
        uow.commit()
    text = trace(world, no)
    assert "拆单包裹：\n    第 1 包 杭州自营仓：T2601-01-110×1\n    第 2 包 合肥云仓：W2602-01-120×1" in text
    assert f"换货单：换货单 {exchange}（售后单 AS261126000001）" in text
    assert "蓝字发票 26330000000000000001，金额 ¥198.00，抬头 个人" in text
    assert "红字发票 26330000000000000002，金额 ¥-198.00，抬头 个人，冲红 26330000000000000001" in text
    assert "售后单 AS261126000001（尺码调换，已生成换货单）：尺码偏小，想换大一码" in text
    assert f"本单是订单 {no} 的换货单（售后单 AS261126000001）" in trace(world, exchange)


def test_tracing_an_unknown_order_is_refused(world):
    with pytest.raises(NotFound, match="找不到订单「OH000」"):
        order_story(world.hub.uow(), "OH000")


def test_any_order_of_the_demo_company_is_traced_in_well_under_a_second(hub):
    seed_demo(hub, seed=11, n_orders=1500, anchor=datetime(2026, 11, 25, 4, 0, tzinfo=UTC))
    with hub.uow() as uow:
        seed_rules(uow.session)
        uow.commit()
        paid = list(uow.session.scalars(sa.text("SELECT order_no FROM orders WHERE status = 'paid' ORDER BY id")))
    for start in range(0, len(paid), 100):
        routing.route_orders(hub.uow(), paid[start:start + 100], HUB)
    with hub.uow() as uow:
        busiest = list(uow.session.scalars(sa.text(
            "(SELECT entity_id FROM audit_log WHERE entity_type = 'order' GROUP BY entity_id ORDER BY count(*) DESC LIMIT 5)"
            " UNION (SELECT o.order_no FROM orders o JOIN after_sales_cases c ON c.order_id = o.id LIMIT 5)"
            " UNION (SELECT o.order_no FROM orders o JOIN routing_decisions d ON d.order_id = o.id LIMIT 10)")))
    slowest = 0.0
    for no in busiest:
        started = time.perf_counter()
        text = render_story(order_story(hub.uow(), no))
        slowest = max(slowest, time.perf_counter() - started)
        assert text.startswith(f"订单 {no}")
    assert slowest < 1.0, slowest


def test_the_trace_shows_a_hold_its_release_by_a_person_and_that_the_rule_no_longer_holds(world):
    set_stock(world, "HZ", T, 9)
    save(world, "R-RISKY", "风险地址挂起审核", {"field": "receiver_address", "op": "contains", "value": "集运"},
         [{"type": "hold", "reason": "risky_address"}], priority=1)
    no = make_order(world, address="新疆乌鲁木齐市米东区集运仓A区")
    routing.route_order(world.hub.uow(), no, HUB)
    routing.release_hold(world.hub.uow(), no, CS, "电话核实：是买家本人的仓库地址")
    lines = [line.strip() for line in trace(world, no).splitlines()]
    held = next(i for i, line in enumerate(lines) if line.endswith("路由判断（新订单，执行者 system:hub）：挂起待审核"))
    released = next(i for i, line in enumerate(lines) if "解除挂起，操作人 xiaomei" in line)
    routed = next(i for i, line in enumerate(lines) if line.endswith("路由判断（解除挂起，执行者 xiaomei）：已分配发货仓"))
    assert held < released < routed
    assert "挂起待审核：风险地址（规则「风险地址挂起审核」）" in lines[held + 1:released]
    assert any(line.endswith("（已命中，但此前已由人工审核放行，不再挂起）") for line in lines[routed:])
    assert "依据：电话核实：是买家本人的仓库地址" in lines[released]
