"""Dry run: a rule being edited tried on recent orders, counted against today's rules, changing nothing."""

import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.domain.actor import Actor
from app.domain.rules import RuleInvalid
from app.services.rule_book import RuleDraft
from app.services.rule_dry_run import dry_run, outcome_label, summary
from tests.routing.world import PAID_AT, make_order, save, set_stock

T = "T2601-01-110"
NOW = PAID_AT + timedelta(hours=1)
SUPERVISOR = Actor("zhou.zj", "主管工作站", "10.20.1.30")  # 周总监 saves rules, so may try them
JZH = {"field": "province", "op": "in", "value": ["浙江省", "江苏省", "上海市"]}


def _fingerprint(world) -> str:
    """Every row of every table, so "nothing changed" means nothing at all."""
    h = hashlib.sha256()
    with world.hub.engine.connect() as conn:
        for table in sorted(sa.inspect(conn).get_table_names()):
            for row in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1")):
                h.update(repr(tuple(row)).encode())
    return h.hexdigest()


@pytest.fixture
def week(world):
    set_stock(world, "HZ", T, 100)
    set_stock(world, "HF", T, 100)
    set_stock(world, "GZ", T, 100)
    save(world, "R-JZH-HZ", "江浙沪订单优先杭州仓，低于安全水位溢出至合肥云仓", JZH,
         [{"type": "choose_warehouse", "warehouses": ["HZ", "HF"]}], priority=10)
    for province, city, n in (("浙江省", "杭州市", 4), ("上海市", "上海市", 3), ("广东省", "广州市", 2)):
        for i in range(n):
            make_order(world, province=province, city=city, ordered_at=NOW - timedelta(days=i, hours=2))
    make_order(world, province="浙江省", ordered_at=NOW - timedelta(days=9))  # outside the window
    make_order(world, province="浙江省", status="cancelled")  # never routed
    return world


def test_a_draft_rule_is_counted_against_todays_rules_and_nothing_changes(week):
    before = _fingerprint(week)
    draft = RuleDraft("R-SH-HF", "上海订单改由合肥云仓发货", {"field": "province", "op": "eq", "value": "上海市"},
                      [{"type": "choose_warehouse", "warehouses": ["HF"]}], priority=5)
    report = dry_run(week.hub.uow(), draft, SUPERVISOR, days=7, now=NOW)
    assert _fingerprint(week) == before
    assert (report.orders, report.fired, report.changed) == (9, 3, 3)
    table = {outcome_label(r.outcome, report.vocab): (r.today, r.draft) for r in report.rows}
    assert table == {"发往杭州自营仓": (9, 6), "发往合肥云仓": (0, 3)}
    assert summary(report)[0] == "试用规则「上海订单改由合肥云仓发货」：最近 7 天的 9 个订单，未做任何更改"
    assert summary(report)[1].startswith("试用规则命中 3 个订单；分配结果变化的订单 3 个，例如 OH")


def test_editing_an_existing_rule_replaces_it_in_the_trial(week):
    draft = RuleDraft("R-JZH-HZ", "江浙订单优先杭州仓（上海改走默认）",
                      {"field": "province", "op": "in", "value": ["浙江省", "江苏省"]},
                      [{"type": "choose_warehouse", "warehouses": ["GZ"]}], priority=10)
    report = dry_run(week.hub.uow(), draft, SUPERVISOR, days=7, now=NOW)
    table = {outcome_label(r.outcome, report.vocab): (r.today, r.draft) for r in report.rows}
    assert table == {"发往杭州自营仓": (9, 5), "发往广州云仓": (0, 4)}


def test_trying_a_rule_switched_off_and_a_hold_rule_counts_holds_and_side_actions(week):
    off = dry_run(week.hub.uow(), RuleDraft("R-JZH-HZ", "", {}, []), SUPERVISOR, days=7, now=NOW, disable=True)
    assert (off.fired, off.changed) == (7, 0)  # without it, the own warehouse still comes first
    assert summary(off)[:2] == ["试用停用规则「江浙沪订单优先杭州仓，低于安全水位溢出至合肥云仓」：最近 7 天的 9 个订单，未做任何更改",
                                "这条规则现在命中 7 个订单；停用后分配结果变化的订单 0 个"]
    hold = RuleDraft("R-SH-HOLD", "上海订单挂起并4小时出库", {"field": "city", "op": "eq", "value": "上海市"},
                     [{"type": "hold", "reason": "manual"}, {"type": "set_ship_by", "hours": 4}])
    report = dry_run(week.hub.uow(), hold, SUPERVISOR, days=7, now=NOW)
    table = {outcome_label(r.outcome, report.vocab, "en"): (r.today, r.draft) for r in report.rows}
    assert table == {"ships from 杭州自营仓": (9, 6), "held: Held by hand": (0, 3), "ship-by deadline set": (0, 3)}


def test_a_draft_with_a_bad_expression_is_refused_before_anything_is_read(week):
    with pytest.raises(RuleInvalid, match="「省份」不能用「大于」来比较"):
        dry_run(week.hub.uow(), RuleDraft("R-X", "坏规则", {"field": "province", "op": "gt", "value": "浙"},
                                         [{"type": "bind_invoice"}]), SUPERVISOR, now=NOW)
