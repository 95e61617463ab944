"""The rule format: a bad rule is refused with a clear message, a good one runs without eval and reads back."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import BusinessError
from app.domain.rules import Rule, RuleInvalid, RuleSet, Vocabulary, describe_condition, describe_rule, validate_rule

VOCAB = Vocabulary.build(
    ext_fields=[("author_commission_rate", "达人佣金比例", "Creator commission rate", "percent"),
                ("live_room_id", "直播间ID", "Live room ID", "text")],
    warehouses=[("HZ", "杭州自营仓"), ("HF", "合肥云仓")], shops=[("WX-MINI", "小树苗微信小程序商城")],
    skus=[("GIFT-SOCK-01-M", "纯棉中筒袜（赠品）"), ("T2601-01-110", "纯棉恐龙印花短袖T恤")])
WAREHOUSE = [{"type": "choose_warehouse", "warehouses": ["HZ", "HF"]}]


def refused(condition, actions=None, name="测试规则"):
    with pytest.raises(RuleInvalid) as caught:
        validate_rule(name, condition, WAREHOUSE if actions is None else actions, VOCAB)
    return caught.value


def facts(**kw):
    base = {"platform": "douyin", "province": "浙江省", "paid_amount": Decimal("199.00"), "item.sku": ("T2601-01-110",),
            "item.qty": (1,)}
    return base | kw


def fires(condition, **kw) -> bool:
    cond, actions = validate_rule("r", condition, WAREHOUSE, VOCAB)
    return bool(RuleSet([Rule("R", "r", 1, 1, cond, tuple(actions))], VOCAB).evaluate(facts(**kw)).fired)


def test_the_users_example_reads_back_in_business_language():
    cond, actions = validate_rule("抖音江浙沪", {"all": [{"field": "platform", "op": "eq", "value": "douyin"},
                                                     {"field": "province", "op": "in", "value": ["浙江省", "江苏省", "上海市"]}]},
                                  WAREHOUSE, VOCAB)
    assert describe_condition(cond, VOCAB) == "来源平台 等于 抖店，并且 省份 属于 浙江省、江苏省、上海市"
    assert describe_rule(Rule("R", "r", 1, 1, cond, tuple(actions)), VOCAB) == (
        "如果 来源平台 等于 抖店，并且 省份 属于 浙江省、江苏省、上海市，那么 优先杭州自营仓，低于安全水位溢出至合肥云仓")
    assert describe_condition(cond, VOCAB, "en") == (
        "Source platform is Douyin shop, and Province is one of 浙江省, 江苏省, 上海市")


def test_values_are_stored_in_canonical_form_whatever_the_author_typed():
    cond, _ = validate_rule("r", {"all": [{"field": "platform", "op": "eq", "value": "抖店"},
                                          {"field": "paid_amount", "op": "gte", "value": 299},
                                          {"field": "shop", "op": "eq", "value": "小树苗微信小程序商城"}]}, WAREHOUSE, VOCAB)
    assert [c["value"] for c in cond["all"]] == ["douyin", "299.00", "WX-MINI"]


@pytest.mark.parametrize(("condition", "says"), [
    ({"field": "buyer_age", "op": "eq", "value": 3}, "没有「buyer_age」这个条件字段"),
    ({"field": "paid_amount", "op": "contains", "value": "9"}, "「实付金额」不能用「包含」来比较"),
    ({"field": "paid_amount", "op": "gte", "value": "两百"}, "「实付金额」的值「两百」不对，应填写金额（如 299.00）"),
    ({"field": "paid_amount", "op": "gte", "value": 299.5}, "「实付金额」的值「299.5」不对"),
    ({"field": "platform", "op": "eq", "value": "快手"}, "「来源平台」的值「快手」不对，应填写淘宝、天猫、抖店"),
    ({"field": "province", "op": "in", "value": []}, "「省份 属于」需要一个至少含一项的列表"),
    ({"field": "province", "op": "in"}, "「省份 属于」后面缺少要比较的值"),
    ({"field": "paid_amount", "op": "between", "value": ["500", "100"]}, "下限 500.00 大于上限 100.00"),
    ({"field": "item.sku", "op": "ne", "value": "T2601-01-110"}, "「商品编码」不能用「不等于」来比较"),
    ({"platform": "douyin"}, "看不懂条件"),
    ({"all": {"field": "platform"}}, "看不懂条件"),
    ("__import__('os').system('rm -rf /')", "看不懂条件"),
    ({"field": "ext.no_such_attr", "op": "eq", "value": "x"}, "没有「ext.no_such_attr」这个条件字段"),
])
def test_a_bad_condition_is_refused_with_a_message_that_says_what_is_wrong(condition, says):
    err = refused(condition)
    assert err.message("zh").startswith("规则「测试规则」不能保存：")
    assert says in err.message("zh")
    assert "Rule “测试规则” cannot be saved" in err.message("en")


@pytest.mark.parametrize(("actions", "says"), [
    ([], "至少要有一个动作"),
    ([{"type": "run_script", "code": "print(1)"}], "看不懂动作"),
    ([{"type": "choose_warehouse", "warehouses": ["SH"]}], "没有编码为「SH」的仓库。现有仓库：杭州自营仓、合肥云仓"),
    ([{"type": "set_ship_by", "hours": 0}], "1 到 720 之间的整数小时"),
    ([{"type": "add_gift", "skus": ["NO-SUCH"]}], "没有商品编码「NO-SUCH」"),
    ([{"type": "hold", "reason": "looks_odd"}], "挂起原因「looks_odd」不认识"),
    ([{"type": "bind_invoice"}, {"type": "bind_invoice"}], "「绑定电子发票」出现了两次"),
])
def test_a_bad_action_is_refused_with_a_message_that_says_what_is_wrong(actions, says):
    assert says in refused({"all": []}, actions).message("zh")


def test_a_condition_nested_too_deep_is_refused():
    deep = {"field": "platform", "op": "eq", "value": "douyin"}
    for _ in range(8):
        deep = {"not": deep}
    assert "条件太复杂" in refused(deep).message("zh")


def test_a_refusal_is_a_business_error_with_a_stable_code():
    err = refused({"field": "nope", "op": "eq", "value": 1})
    assert isinstance(err, BusinessError) and err.code == "RULE_UNKNOWN_FIELD"


@pytest.mark.parametrize(("condition", "kw", "expected"), [
    ({"field": "platform", "op": "eq", "value": "douyin"}, {}, True),
    ({"field": "platform", "op": "ne", "value": "douyin"}, {}, False),
    ({"field": "province", "op": "not_in", "value": ["广东省"]}, {}, True),
    ({"field": "paid_amount", "op": "gte", "value": "199.00"}, {}, True),
    ({"field": "paid_amount", "op": "gt", "value": "199.00"}, {}, False),
    ({"field": "paid_amount", "op": "between", "value": ["100", "199"]}, {}, True),
    ({"field": "receiver_address", "op": "contains_any", "value": ["集运", "转运"]},
     {"receiver_address": "新疆乌鲁木齐集运仓"}, True),
    ({"field": "receiver_address", "op": "starts_with", "value": "浙江"}, {"receiver_address": None}, False),
    ({"field": "ext.live_room_id", "op": "not_empty"}, {"ext.live_room_id": "7123"}, True),
    ({"field": "ext.live_room_id", "op": "not_empty"}, {}, False),
    ({"field": "ext.author_commission_rate", "op": "gte", "value": "20"},
     {"ext.author_commission_rate": Decimal("25")}, True),
    ({"field": "item.sku", "op": "in", "value": ["T2601-01-110"]}, {"item.sku": ("X", "T2601-01-110")}, True),
    ({"not": {"field": "item.sku", "op": "in", "value": ["T2601-01-110"]}}, {"item.sku": ("X",)}, True),
    ({"field": "item.qty", "op": "gte", "value": 3}, {"item.qty": (1, 3)}, True),
    ({"field": "ordered_at", "op": "lt", "value": "2026-11-25T12:00:00+08:00"},
     {"ordered_at": datetime(2026, 11, 25, 3, 59, tzinfo=UTC)}, True),
    ({"any": []}, {}, False),
    ({"all": []}, {}, True),
])
def test_each_operator_means_what_its_business_name_says(condition, kw, expected):
    assert fires(condition, **kw) is expected


def test_rules_are_evaluated_in_priority_order_and_the_first_warehouse_rule_wins():
    a = Rule("A", "杭州优先", 1, 20, {"all": []}, ({"type": "choose_warehouse", "warehouses": ["HZ"]},))
    b = Rule("B", "合肥优先", 1, 10, {"all": []}, ({"type": "choose_warehouse", "warehouses": ["HF"]},))
    ev = RuleSet([a, b], VOCAB).evaluate(facts())
    assert ev.plan.warehouse.warehouses == ("HF",) and ev.plan.warehouse.rule == "B"
    assert [(r.rule.code, r.applied) for r in ev.results] == [("B", ("choose_warehouse",)), ("A", ())]


def test_the_earliest_ship_by_deadline_wins_and_the_later_rule_says_it_did_not_apply():
    four = Rule("DY", "抖音4小时", 1, 30, {"all": []}, ({"type": "set_ship_by", "hours": 4},))
    two = Rule("LIVE", "直播2小时", 1, 31, {"all": []}, ({"type": "set_ship_by", "hours": 2},))
    ev = RuleSet([four, two], VOCAB).evaluate(facts())
    assert (ev.plan.ship_by_hours, ev.plan.ship_by_rule) == (2, "LIVE")
    assert {r.rule.code: r.applied for r in ev.results} == {"DY": (), "LIVE": ("set_ship_by",)}


def test_the_inputs_recorded_are_exactly_the_fields_the_rules_read():
    rule = Rule("R", "r", 1, 1, {"field": "province", "op": "eq", "value": "浙江省"}, tuple(WAREHOUSE))
    assert RuleSet([rule], VOCAB).evaluate(facts(city="杭州市")).inputs == {"province": "浙江省"}


def test_a_stored_rule_that_no_longer_compiles_is_set_aside_not_fatal():
    stale = Rule("OLD", "旧规则", 3, 1, {"field": "ext.withdrawn", "op": "eq", "value": "x"}, tuple(WAREHOUSE))
    good = Rule("OK", "好规则", 1, 2, {"all": []}, tuple(WAREHOUSE))
    rules = RuleSet([stale, good], VOCAB)
    assert [c.rule.code for c in rules.rules] == ["OK"] and [r.code for r in rules.broken] == ["OLD"]


TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | TEXT,
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8)


@given(JSONISH)
def test_any_json_at_all_is_either_refused_cleanly_or_runs_safely(expr):
    try:
        cond, actions = validate_rule("r", expr, WAREHOUSE, VOCAB)
    except RuleInvalid as err:
        assert err.message("zh") and err.message("en")
        return
    RuleSet([Rule("R", "r", 1, 1, cond, tuple(actions))], VOCAB).evaluate(facts())
