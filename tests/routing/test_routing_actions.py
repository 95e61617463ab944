"""Routing on the real database: every action, the safety-stock line, splits, holds, cancellation and changed items."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.db.models import AuditLog
from app.domain.actor import Actor
from app.domain.errors import BasisRequired, BusinessError, NotFound
from app.services import orders, routing
from tests.routing.world import HUB, PAID_AT, make_order, order, reservations, save, set_stock, stock

T, W, J, SOCK, SOCK2 = "T2601-01-110", "W2602-01-120", "J2603-02-130", "GIFT-SOCK-01-M", "GIFT-SOCK-02-M"
CS = Actor("xiaomei", "客服工作台-01", "10.20.1.17")
JZH = {"field": "province", "op": "in", "value": ["浙江省", "江苏省", "上海市"]}


def jzh_rule(world, **action):
    save(world, "R-JZH-HZ", "江浙沪订单优先杭州仓，低于安全水位溢出至合肥云仓", JZH,
         [{"type": "choose_warehouse", "warehouses": ["HZ", "HF"], **action}], priority=10)


def route(world, order_no, **kw):
    return routing.route_order(world.hub.uow(), order_no, HUB, **kw)


def decision(world, decision_id):
    with world.hub.uow() as uow:
        return dict(uow.session.execute(sa.text("SELECT * FROM routing_decisions WHERE id = :i"),
                                        {"i": decision_id}).mappings().one())


def test_a_jzh_order_ships_from_hangzhou_when_stock_lands_exactly_on_safety_stock(world):
    jzh_rule(world)
    set_stock(world, "HZ", T, 12, safety=10)
    set_stock(world, "HF", T, 50, safety=5)
    no = make_order(world, [(T, 2)])
    result = route(world, no)
    assert (result.outcome, result.warehouses) == ("allocated", ("HZ",))
    assert reservations(world, no) == [("HZ", T, 2)] and stock(world, "HZ", T) == (12, 2)
    assert order(world, no)["status"] == "allocating" and order(world, no)["warehouse_id"] == world.warehouse["HZ"]


def test_one_unit_below_safety_stock_overflows_to_hefei_and_the_decision_says_why(world):
    jzh_rule(world)
    set_stock(world, "HZ", T, 12, safety=10)
    set_stock(world, "HF", T, 50, safety=5)
    no = make_order(world, [(T, 3)])
    result = route(world, no)
    assert result.warehouses == ("HF",) and reservations(world, no) == [("HF", T, 3)]
    assert stock(world, "HZ", T) == (12, 0)
    notes = decision(world, result.decision_id)["detail"]["notes"]
    assert notes[0] == ["ALLOC_BELOW_SAFETY", {"warehouse": "HZ", "sku": T, "free": 12, "qty": 3, "left": 9, "safety": 10}]
    assert notes[1] == ["ALLOC_OVERFLOW", {"warehouse": "HF"}]


def test_an_order_no_warehouse_can_ship_alone_is_split_into_parcels(world):
    jzh_rule(world)
    set_stock(world, "HZ", T, 5)
    set_stock(world, "HF", W, 5)
    no = make_order(world, [(T, 1), (W, 2)])
    result = route(world, no)
    assert (result.outcome, result.warehouses) == ("split", ("HZ", "HF"))
    assert reservations(world, no) == [("HZ", T, 1), ("HF", W, 2)]
    detail = decision(world, result.decision_id)["detail"]
    assert detail["parts"] == [{"warehouse": "HZ", "lines": [[1, T, 1]]}, {"warehouse": "HF", "lines": [[2, W, 2]]}]
    assert ["ALLOC_SPLIT", {"parts": 2}] in detail["notes"]


def test_with_no_stock_anywhere_nothing_is_reserved_and_the_order_waits(world):
    jzh_rule(world)
    set_stock(world, "HZ", T, 1)
    no = make_order(world, [(T, 2)])
    result = route(world, no)
    assert result.outcome == "shortage" and reservations(world, no) == [] and stock(world, "HZ", T) == (1, 0)
    assert order(world, no)["status"] == "paid"


def test_without_a_warehouse_rule_the_own_warehouse_comes_first(world):
    set_stock(world, "GZ", T, 9)
    set_stock(world, "HZ", T, 9)
    result = route(world, make_order(world, province="广东省", city="广州市"))
    assert result.warehouses == ("HZ",)
    assert decision(world, result.decision_id)["detail"]["notes"][0][0] == "ALLOC_DEFAULT"


def test_douyin_orders_get_a_four_hour_ship_by_that_only_ever_tightens_a_deadline(world):
    set_stock(world, "HZ", T, 9)
    save(world, "R-DY-4H", "抖音订单优先4小时出库", {"field": "platform", "op": "eq", "value": "douyin"},
         [{"type": "set_ship_by", "hours": 4}])
    quick = make_order(world)
    assert order(world, quick)["ship_by"] is None
    result = route(world, quick)
    assert result.ship_by == order(world, quick)["paid_at"] + timedelta(hours=4)
    earlier = PAID_AT + timedelta(hours=1)
    promised = make_order(world, ship_by=earlier)
    route(world, promised)
    assert order(world, promised)["ship_by"] == earlier
    tmall = make_order(world, shop="TM-FLAG")
    route(world, tmall)
    assert order(world, tmall)["ship_by"] is None


def test_mini_program_orders_get_an_e_invoice_bound(world):
    set_stock(world, "HZ", T, 9)
    save(world, "R-MINI-INVOICE", "小程序订单自动绑定电子发票", {"field": "shop", "op": "eq", "value": "WX-MINI"},
         [{"type": "bind_invoice"}])
    mini, douyin = make_order(world, shop="WX-MINI"), make_order(world)
    route(world, mini)
    route(world, douyin)
    assert (order(world, mini)["invoice_status"], order(world, douyin)["invoice_status"]) == ("pending", "none")


def test_an_order_of_299_gets_the_socks_once_reserved_in_the_same_parcel(world):
    jzh_rule(world)
    set_stock(world, "HZ", T, 9)
    set_stock(world, "HZ", SOCK, 0)
    set_stock(world, "HZ", SOCK2, 30)
    save(world, "R-GIFT-299", "满299赠袜子", {"field": "paid_amount", "op": "gte", "value": "299.00"},
         [{"type": "add_gift", "skus": [SOCK, SOCK2], "qty": 1}], priority=50)
    big, small = make_order(world, paid="299.00"), make_order(world, paid="298.99")
    assert route(world, big).outcome == "allocated"
    route(world, small)
    gifts = [it for it in order(world, big)["items"] if it["is_gift"]]
    assert [(g["sku"], g["qty"], g["gift_rule"]) for g in gifts] == [(SOCK2, 1, "R-GIFT-299")]
    assert reservations(world, big) == [("HZ", T, 1), ("HZ", SOCK2, 1)]
    assert not any(it["is_gift"] for it in order(world, small)["items"])
    assert route(world, big).outcome == "unchanged"  # routing again adds nothing
    assert len([it for it in order(world, big)["items"] if it["is_gift"]]) == 1


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"address": "新疆乌鲁木齐市米东区某某集运仓A区"}, "risky_address"),
    ({"paid": "2999.00"}, "abnormal_amount"),
])
def test_a_risky_address_or_an_abnormal_amount_puts_the_order_on_hold_with_nothing_reserved(world, kwargs, reason):
    set_stock(world, "HZ", T, 9)
    save(world, "R-RISKY", "风险地址挂起审核", {"field": "receiver_address", "op": "contains_any", "value": ["集运", "转运"]},
         [{"type": "hold", "reason": "risky_address"}], priority=1)
    save(world, "R-AMOUNT", "金额异常挂起审核", {"field": "paid_amount", "op": "gte", "value": "2000"},
         [{"type": "hold", "reason": "abnormal_amount"}], priority=2)
    no = make_order(world, **kwargs)
    result = route(world, no)
    assert (result.outcome, result.holds) == ("held", (reason,))
    assert reservations(world, no) == [] and order(world, no)["status"] == "paid"
    assert route(world, no).outcome == "held"  # still held; no second hold row
    with world.hub.uow() as uow:
        assert uow.session.scalar(sa.text("SELECT count(*) FROM order_holds")) == 1


def test_releasing_a_hold_needs_a_basis_is_audited_and_the_same_rule_does_not_hold_it_again(world):
    set_stock(world, "HZ", T, 9)
    save(world, "R-AMOUNT", "金额异常挂起审核", {"field": "paid_amount", "op": "gte", "value": "2000"},
         [{"type": "hold", "reason": "abnormal_amount"}], priority=2)
    no = make_order(world, paid="2999.00")
    route(world, no)
    with pytest.raises(BasisRequired):
        routing.release_hold(world.hub.uow(), no, CS, basis=" ")
    result = routing.release_hold(world.hub.uow(), no, CS, basis="旺旺核实：幼儿园团购 30 件")
    assert result.outcome == "allocated" and reservations(world, no) == [("HZ", T, 1)]
    with world.hub.uow() as uow:
        rec = uow.session.execute(sa.select(AuditLog).where(AuditLog.action == "order.hold_release")).scalar_one()
    assert (rec.operator, rec.basis, rec.entity_id) == ("xiaomei", "旺旺核实：幼儿园团购 30 件", no)
    with pytest.raises(BusinessError) as caught:
        routing.release_hold(world.hub.uow(), no, CS, basis="again")
    assert caught.value.code == "HOLD_NOT_FOUND"


def test_holding_an_order_by_hand_gives_its_stock_back(world):
    set_stock(world, "HZ", T, 9)
    no = make_order(world)
    route(world, no)
    assert stock(world, "HZ", T) == (9, 1)
    result = routing.hold_order(world.hub.uow(), no, CS, basis="客户来电要求暂缓发货")
    assert result.outcome == "held" and stock(world, "HZ", T) == (9, 0)
    assert order(world, no)["status"] == "paid"


def test_a_disabled_rule_never_fires(world):
    set_stock(world, "HZ", T, 9)
    set_stock(world, "GZ", T, 9)
    save(world, "R-PROMO", "大促期间全部由广州云仓发货", {"all": []}, [{"type": "choose_warehouse", "warehouses": ["GZ"]}],
         priority=1, enabled=False)
    save(world, "R-DY-4H", "抖音订单优先4小时出库", {"all": []}, [{"type": "set_ship_by", "hours": 4}], enabled=False)
    results = [route(world, make_order(world)) for _ in range(3)]
    assert {r.warehouses for r in results} == {("HZ",)} and all(r.fired == () for r in results)
    assert all(r.ship_by is None for r in results)
    for r in results:
        d = decision(world, r.decision_id)
        assert (d["rules"], d["evaluated_rule_version_ids"]) == ([], [])  # not even evaluated


def test_cancelling_an_order_releases_its_reservation_and_says_so(world):
    set_stock(world, "HZ", T, 9)
    no = make_order(world, [(T, 3)])
    route(world, no)
    version = order(world, no)["version"]
    orders.cancel(world.hub.uow(), no, expected_version=version, actor=CS, basis="买家旺旺申请取消")
    # the cancellation itself gives the stock back (no hub round needed)
    assert stock(world, "HZ", T) == (9, 0)
    assert reservations(world, no) == [] and reservations(world, no, "released") == [("HZ", T, 3)]
    with world.hub.uow() as uow:
        last = uow.session.scalar(sa.text(
            "SELECT d.id FROM routing_decisions d JOIN orders o ON o.id = d.order_id WHERE o.order_no = :n "
            "ORDER BY d.id DESC LIMIT 1"), {"n": no})
    assert decision(world, last)["detail"]["released"] == [{"warehouse": "HZ", "sku": T, "qty": 3, "line_no": 1}]
    assert route(world, no).outcome == "unchanged"


def test_release_reservation_gives_everything_back_on_request(world):
    set_stock(world, "HZ", T, 9)
    no = make_order(world, [(T, 2)])
    route(world, no)
    assert routing.release_reservation(world.hub.uow(), no, HUB).outcome == "released"
    assert stock(world, "HZ", T) == (9, 0)


def _change_items(world, no, items):
    with world.hub.uow() as uow:
        uow.session.execute(sa.text("UPDATE orders SET items = CAST(:i AS jsonb) WHERE order_no = :n"),
                            {"i": __import__("json").dumps(items), "n": no})
        uow.commit()


def test_changed_items_adjust_the_reservation_and_stay_in_the_warehouse_already_picking(world):
    jzh_rule(world)
    set_stock(world, "HZ", T, 20)
    set_stock(world, "HZ", W, 20)
    set_stock(world, "HF", T, 50)
    set_stock(world, "HF", W, 50)
    no = make_order(world, [(T, 2)])
    route(world, no)
    items = order(world, no)["items"]
    items[0]["qty"] = 1
    items.append(dict(items[0], line_no=2, sku=W, qty=3))
    _change_items(world, no, items)
    result = route(world, no)
    assert result.outcome == "allocated" and result.warehouses == ("HZ",)
    assert reservations(world, no) == [("HZ", T, 1), ("HZ", W, 3)]
    assert stock(world, "HZ", T) == (20, 1) and stock(world, "HZ", W) == (20, 3)
    assert decision(world, result.decision_id)["trigger"] == "items"


def test_a_refunded_line_gives_its_stock_back(world):
    set_stock(world, "HZ", T, 20)
    set_stock(world, "HZ", W, 20)
    no = make_order(world, [(T, 1), (W, 2)])
    route(world, no)
    items = order(world, no)["items"]
    items[1]["line_status"] = "refunded"
    _change_items(world, no, items)
    route(world, no)
    assert reservations(world, no) == [("HZ", T, 1)] and stock(world, "HZ", W) == (20, 0)


def test_rules_can_read_extension_attributes_customer_history_and_stock_levels(world):
    set_stock(world, "HZ", T, 3)
    set_stock(world, "HF", T, 40)
    save(world, "R-LIVE", "直播间订单2小时出库", {"field": "ext.live_room_id", "op": "not_empty"},
         [{"type": "set_ship_by", "hours": 2}])
    save(world, "R-REPEAT", "老客（3单以上）合肥云仓发货", {"field": "customer.order_count", "op": "gte", "value": 3},
         [{"type": "choose_warehouse", "warehouses": ["HF"]}], priority=5)
    save(world, "R-LOW", "杭州仓紧张时拼多多挂起",
         {"all": [{"field": "shop", "op": "eq", "value": "PDD-FLAG"}, {"field": "stock.HZ.available", "op": "lt", "value": 5}]},
         [{"type": "hold", "reason": "stock_protection"}], priority=1)
    live = route(world, make_order(world, ext={"live_room_id": "7301234567890123456"}))
    assert live.fired == ("R-LIVE",) and live.ship_by is not None
    for i in range(3):
        make_order(world, customer="C-LOYAL", status="completed", ordered_at=PAID_AT - timedelta(days=10 + i))
    loyal = route(world, make_order(world, customer="C-LOYAL"))
    assert loyal.warehouses == ("HF",)
    assert decision(world, loyal.decision_id)["inputs"]["customer.order_count"] == 3
    pdd = route(world, make_order(world, shop="PDD-FLAG"))
    assert pdd.holds == ("stock_protection",)


def test_routing_an_unknown_order_is_refused(world):
    with pytest.raises(NotFound):
        route(world, "OH000000000000")


def test_a_batch_routes_each_order_against_the_stock_the_previous_ones_left(world):
    set_stock(world, "HZ", T, 3)
    set_stock(world, "HF", T, 3)
    jzh_rule(world)
    nos = [make_order(world, [(T, 2)]) for _ in range(4)]
    results = routing.route_orders(world.hub.uow(), nos, HUB)
    assert [(r.outcome, r.warehouses) for r in results] == [
        ("allocated", ("HZ",)), ("allocated", ("HF",)), ("split", ("HZ", "HF")), ("shortage", ())]
    assert stock(world, "HZ", T) == (3, 3) and stock(world, "HF", T) == (3, 3)


def test_every_decision_records_the_rules_evaluated_with_versions_inputs_and_outcome(world):
    set_stock(world, "HZ", T, 9)
    jzh_rule(world)
    save(world, "R-DY-4H", "抖音订单优先4小时出库", {"field": "platform", "op": "eq", "value": "tmall"},
         [{"type": "set_ship_by", "hours": 4}], priority=30)
    jzh_rule(world, allow_split=False)  # version 2
    d = decision(world, route(world, make_order(world)).decision_id)
    with world.hub.uow() as uow:
        versions = dict(uow.session.execute(sa.text(
            "SELECT v.id, r.code || ' v' || v.version FROM rule_versions v JOIN routing_rules r ON r.id = v.rule_id")).all())
    assert [versions[i] for i in d["evaluated_rule_version_ids"]] == ["R-JZH-HZ v2", "R-DY-4H v1"]
    assert [(r["code"], r["version"], r["applied"]) for r in d["rules"]] == [("R-JZH-HZ", 2, ["choose_warehouse"])]
    assert d["inputs"] == {"platform": "douyin", "province": "浙江省"}
    assert d["outcome"] == "allocated" and d["operator"] == "system:hub" and len(d["fired_rule_version_ids"]) == 1


def test_decisions_and_rule_versions_cannot_be_edited_or_deleted(world):
    set_stock(world, "HZ", T, 9)
    jzh_rule(world)
    route(world, make_order(world))
    for sql in ("UPDATE routing_decisions SET outcome = 'held'", "DELETE FROM routing_decisions",
                "UPDATE rule_versions SET priority = 0", "DELETE FROM rule_versions", "TRUNCATE rule_versions CASCADE"):
        with world.hub.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="append-only"):
            conn.execute(sa.text(sql))
