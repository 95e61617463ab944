"""The rule book: a bad rule is refused when saved and nothing is stored; every change is a new, audited version."""

import pytest
import sqlalchemy as sa

from app.db.models import AuditLog
from app.domain.errors import NotFound
from app.domain.rules import RuleInvalid
from app.services import rule_book
from app.services.rule_book import RuleDraft
from tests.routing.world import ADMIN, save

JZH = {"field": "province", "op": "in", "value": ["浙江省", "江苏省"]}
TO_HZ = [{"type": "choose_warehouse", "warehouses": ["HZ", "HF"]}]


def _count(world, table):
    with world.hub.uow() as uow:
        return uow.session.scalar(sa.text(f"SELECT count(*) FROM {table}"))


def test_a_rule_with_a_bad_expression_is_refused_when_saved_with_a_clear_message_and_nothing_is_stored(world):
    with pytest.raises(RuleInvalid) as caught:
        save(world, "R-BAD", "满299赠袜子", {"field": "paid_amount", "op": ">=", "value": "299"},
             [{"type": "add_gift", "skus": ["GIFT-SOCK-01-M"]}])
    assert caught.value.message("zh") == (
        "规则「满299赠袜子」不能保存：「实付金额」不能用「>=」来比较。"
        "可用的比较：等于、不等于、大于、大于等于、小于、小于等于、介于、为空、不为空")
    assert caught.value.message("en").startswith("Rule “满299赠袜子” cannot be saved: “Amount paid” cannot be compared")
    assert (_count(world, "routing_rules"), _count(world, "rule_versions"), _count(world, "audit_log")) == (0, 0, 0)


def test_a_bad_change_to_an_existing_rule_leaves_the_current_version_in_force(world):
    save(world, "R-JZH", "江浙订单优先杭州仓", JZH, TO_HZ)
    with pytest.raises(RuleInvalid, match="没有编码为「SH」的仓库"):
        save(world, "R-JZH", "江浙订单优先杭州仓", JZH, [{"type": "choose_warehouse", "warehouses": ["SH"]}])
    views, _ = rule_book.list_rules(world.hub.uow())
    assert [(v.code, v.version, v.actions[0]["warehouses"]) for v in views] == [("R-JZH", 1, ["HZ", "HF"])]


@pytest.mark.parametrize(("code", "priority", "says"), [
    ("规则一", 10, "规则编号「规则一」不能用"),
    ("R-1", -1, "优先级应为 0 到 9999 之间的整数"),
])
def test_a_bad_code_or_priority_is_refused(world, code, priority, says):
    with pytest.raises(RuleInvalid, match=says):
        save(world, code, "江浙订单", JZH, TO_HZ, priority=priority)


def test_each_change_is_a_new_version_with_its_author_and_the_same_content_again_is_no_change(world):
    first = save(world, "R-JZH", "江浙订单优先杭州仓", JZH, TO_HZ, note="初版")
    second = save(world, "R-JZH", "江浙沪订单优先杭州仓", {"field": "province", "op": "in", "value": ["浙江省", "江苏省", "上海市"]},
                  TO_HZ, note="加上海")
    again = save(world, "R-JZH", "江浙沪订单优先杭州仓", {"field": "province", "op": "in", "value": ["浙江省", "江苏省", "上海市"]},
                 TO_HZ)
    assert (first.rule.version, second.rule.version, again.rule.version) == (1, 2, 2)
    assert (first.changed, second.changed, again.changed) == (True, True, False)
    versions, _ = rule_book.history(world.hub.uow(), "R-JZH")
    assert [(v.version, v.name, v.author, v.note) for v in versions] == [
        (1, "江浙订单优先杭州仓", "chen.yy", "初版"), (2, "江浙沪订单优先杭州仓", "chen.yy", "加上海")]


def test_saving_enabling_and_disabling_are_in_the_audit_trail(world):
    save(world, "R-JZH", "江浙订单优先杭州仓", JZH, TO_HZ, note="初版")
    rule_book.set_enabled(world.hub.uow(), "R-JZH", False, ADMIN, "大促期间暂停")
    rule_book.set_enabled(world.hub.uow(), "R-JZH", True, ADMIN)
    with world.hub.uow() as uow:
        rows = uow.session.execute(sa.select(AuditLog.action, AuditLog.entity_id, AuditLog.basis, AuditLog.operator)
                                   .order_by(AuditLog.id)).all()
    assert [tuple(r) for r in rows] == [("rule.save", "R-JZH", "初版", "chen.yy"),
                                       ("rule.disable", "R-JZH", "大促期间暂停", "chen.yy"),
                                       ("rule.enable", "R-JZH", None, "chen.yy")]


def test_switching_an_unknown_rule_is_refused(world):
    with pytest.raises(NotFound, match="找不到路由规则「R-NONE」"):
        rule_book.set_enabled(world.hub.uow(), "R-NONE", False, ADMIN)


def test_a_draft_from_json_without_a_condition_is_refused():
    with pytest.raises(RuleInvalid, match="看不懂条件"):
        RuleDraft.from_json({"code": "R-1", "name": "x", "actions": TO_HZ})


def test_the_compiled_rule_set_follows_every_save_and_switch(world):
    with world.hub.uow() as uow:
        assert len(rule_book.rule_set(uow.session)) == 0
    save(world, "R-JZH", "江浙订单优先杭州仓", JZH, TO_HZ)
    with world.hub.uow() as uow:
        assert [c.rule.version for c in rule_book.rule_set(uow.session).rules] == [1]
    save(world, "R-JZH", "江浙订单优先杭州仓", {"field": "province", "op": "eq", "value": "浙江省"}, TO_HZ)
    with world.hub.uow() as uow:
        assert [c.rule.version for c in rule_book.rule_set(uow.session).rules] == [2]
    rule_book.set_enabled(world.hub.uow(), "R-JZH", False, ADMIN)
    with world.hub.uow() as uow:
        assert len(rule_book.rule_set(uow.session)) == 0
