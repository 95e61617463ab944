"""`orderhub trace` / `orderhub rules …` / `orderhub route`, and the demo company's rules."""

import argparse
import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.cli.routing import HANDLERS, register
from app.demo.rules import DEMO_RULES
from app.demo.seed import seed_demo
from app.domain.errors import BusinessError
from app.services import rule_book, routing
from app.settings import Settings
from tests.conftest import sign_in_cli
from tests.routing.world import HUB, make_order, save, set_stock

T = "T2601-01-110"


def run(hub, tmp_path, capsys, *argv, lang="zh"):
    parser = argparse.ArgumentParser(prog="orderhub")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    settings = Settings(database_url=hub.engine.url.render_as_string(hide_password=False), data_dir=tmp_path,
                        station_name="测试工作站")
    # acting commands need a signed-in person (issue #14); routing by hand is the administrator's here
    sign_in_cli(settings, getattr(args, "operator", None) or "liu.gong")
    code = HANDLERS[args.command](args, settings, lang)
    return code, capsys.readouterr().out


def test_trace_prints_the_story_in_business_language(world, tmp_path, capsys):
    set_stock(world, "HZ", T, 9)
    save(world, "R-DY-4H", "抖音订单优先4小时出库", {"field": "platform", "op": "eq", "value": "抖店"},
         [{"type": "set_ship_by", "hours": 4}])
    no = make_order(world)
    routing.route_order(world.hub.uow(), no, HUB)
    code, out = run(world.hub, tmp_path, capsys, "trace", no)
    assert code == 0
    assert f"订单 {no}" in out and "命中规则「抖音订单优先4小时出库」第 1 版：如果 来源平台 等于 抖店，那么 付款后4小时内出库" in out
    _, english = run(world.hub, tmp_path, capsys, "trace", no, lang="en")
    assert "Rule “抖音订单优先4小时出库” version 1 fired: If Source platform is Douyin shop" in english


def test_rules_list_save_disable_and_dry_run_from_the_command_line(world, tmp_path, capsys):
    set_stock(world, "HZ", T, 9)
    set_stock(world, "HF", T, 9)
    draft = tmp_path / "jzh.json"
    draft.write_text(json.dumps({"code": "R-JZH-HZ", "name": "江浙沪订单优先杭州仓", "priority": 10,
                                 "condition": {"field": "province", "op": "in", "value": ["浙江省", "江苏省", "上海市"]},
                                 "actions": [{"type": "choose_warehouse", "warehouses": ["HZ", "HF"]}]},
                                ensure_ascii=False), encoding="utf-8")
    code, out = run(world.hub, tmp_path, capsys, "rules", "save", str(draft), "--operator", "liu.gong", "--note", "初版")
    assert (code, out.strip()) == (0, "规则「江浙沪订单优先杭州仓」已保存为第 1 版")
    _, out = run(world.hub, tmp_path, capsys, "rules", "list")
    header, rule_line = out.splitlines()[0], out.splitlines()[2]
    assert header.split() == ["规则编号", "规则名称", "版本", "优先级", "是否启用", "条件", "动作", "最后修改人", "最后修改时间"]
    assert "省份 属于 浙江省、江苏省、上海市" in rule_line and "优先杭州自营仓，低于安全水位溢出至合肥云仓" in rule_line
    make_order(world)
    other = tmp_path / "hf.json"
    other.write_text(json.dumps({"code": "R-JZH-HZ", "name": "江浙沪改走合肥", "priority": 10,
                                 "condition": {"field": "province", "op": "in", "value": ["浙江省"]},
                                 "actions": [{"type": "choose_warehouse", "warehouses": ["HF"]}]}), encoding="utf-8")
    _, out = run(world.hub, tmp_path, capsys, "rules", "dry-run", str(other), "--days", "36500")
    assert "试用规则「江浙沪改走合肥」" in out and "未做任何更改" in out
    assert [line.split() for line in out.splitlines()[-2:]] == [["发往杭州自营仓", "1", "0", "-1"], ["发往合肥云仓", "0", "1", "+1"]]
    _, out = run(world.hub, tmp_path, capsys, "rules", "disable", "R-JZH-HZ", "--operator", "liu.gong", "--basis", "测试")
    assert out.strip() == "规则「江浙沪订单优先杭州仓」已停用"
    _, out = run(world.hub, tmp_path, capsys, "rules", "history", "R-JZH-HZ")
    assert "初版" in out


def test_a_bad_rule_file_is_refused_with_the_rule_message(world, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"code": "R-1", "name": "坏规则", "condition": {"field": "省份", "op": "eq", "value": "x"},
                               "actions": [{"type": "bind_invoice"}]}), encoding="utf-8")
    with pytest.raises(BusinessError, match="规则「坏规则」不能保存：没有「省份」这个条件字段"):
        run(world.hub, tmp_path, capsys, "rules", "save", str(bad), "--operator", "liu.gong")


def test_every_demo_rule_is_valid_and_the_demo_company_routes_by_them(hub, tmp_path, capsys):
    seed_demo(hub, seed=3, n_orders=800, anchor=datetime(2026, 11, 25, 4, 0, tzinfo=UTC))
    views, _ = rule_book.list_rules(hub.uow())  # the demo seeder saved them
    assert len(views) == len({d.code for _, d in DEMO_RULES}) >= 15
    by_code = {v.code: v for v in views}
    assert by_code["R-JZH-HZ"].version == 2 and by_code["R-JZH-HZ"].author == "zhou.zj"
    assert not by_code["R-PROMO-HF"].enabled
    names = {v.name for v in views}
    assert {"江浙沪订单优先杭州仓，低于安全水位溢出至合肥云仓", "抖音订单优先4小时出库", "小程序订单自动绑定电子发票",
            "满299赠袜子"} <= names
    code, out = run(hub, tmp_path, capsys, "route", "--hours", "100000")
    assert code == 0 and "已分配发货仓" in out
    with hub.uow() as uow:
        fired = set(uow.session.scalars(sa.text(
            "SELECT DISTINCT r->>'code' FROM routing_decisions, jsonb_array_elements(rules) r")))
        balance = uow.session.execute(sa.text(
            "SELECT count(*) FROM stock s WHERE s.reserved < (SELECT coalesce(sum(qty), 0) FROM stock_reservations r"
            " WHERE r.stock_id = s.id AND r.status = 'active') OR s.reserved > s.on_hand")).scalar()
    assert {"R-JZH-HZ", "R-DY-4H", "R-MINI-INVOICE", "R-GIFT-299", "R-DEFAULT"} <= fired
    assert "R-PROMO-HF" not in fired
    assert balance == 0
