"""The demo company's routing rules: the user's story, plus what a children's-wear brand really runs.

From the story: 「江浙沪订单优先杭州仓，低于安全水位溢出至合肥云仓」, 「抖音订单优先4小时出库」,
「小程序订单自动绑定电子发票」, 「满299赠袜子」, and holds for risky addresses and abnormal amounts.
Added: each cloud warehouse covering its regions, a catch-all, live-room and 拼多多 deadlines,
a first-order gift, a bulk-buying hold, stock protection for the main channels, and one rule
switched off after a promotion. The 江浙沪 rule is saved twice, so the demo has a rule history.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.domain.actor import Actor
from app.services import rule_book
from app.services.rule_book import RuleDraft

ADMIN = Actor("liu.gong", "配置工作站-01", "10.20.1.8")
SUPERVISOR = Actor("zhou.zj", "主管看板-01", "10.20.1.9")

# Every sock SKU, the usual sizes first: a platform that already put socks in the order (满299 is
# also set up on the platforms) must not get a second pair from the rule.
SOCKS = [f"GIFT-SOCK-{c:02d}-{s}" for s in ("M", "L", "S", "XL") for c in (1, 2, 3)]
SOCKS_SMALL_FIRST = [f"GIFT-SOCK-{c:02d}-{s}" for s in ("S", "M", "L", "XL") for c in (3, 1, 2)]
JZH = ["浙江省", "江苏省", "上海市"]


def _wh(*codes: str) -> list[dict[str, Any]]:
    return [{"type": "choose_warehouse", "warehouses": list(codes)}]


# (author, draft) in the order they were written; the first R-JZH-HZ is replaced by the second.
DEMO_RULES: list[tuple[Actor, RuleDraft]] = [
    (ADMIN, RuleDraft("R-JZH-HZ", "江浙沪订单优先杭州仓，低于安全水位溢出至合肥云仓",
                      {"field": "province", "op": "in", "value": JZH[:2]}, _wh("HZ", "HF"), 10, note="初版：江浙订单")),
    (SUPERVISOR, RuleDraft("R-JZH-HZ", "江浙沪订单优先杭州仓，低于安全水位溢出至合肥云仓",
                           {"field": "province", "op": "in", "value": JZH}, _wh("HZ", "HF"), 10,
                           note="上海订单量上来了，纳入杭州仓（11/20 周会纪要）")),
    (ADMIN, RuleDraft("R-CENTRAL-HF", "华中订单由合肥云仓发货，缺货时杭州仓补位",
                      {"field": "region", "op": "eq", "value": "华中"}, _wh("HF", "HZ"), 20)),
    (ADMIN, RuleDraft("R-SOUTH-GZ", "华南、西南、港澳台订单由广州云仓发货",
                      {"field": "region", "op": "in", "value": ["华南", "西南", "港澳台"]}, _wh("GZ", "HZ"), 20)),
    (ADMIN, RuleDraft("R-NORTH-TJ", "华北、东北、西北订单由天津云仓发货",
                      {"field": "region", "op": "in", "value": ["华北", "东北", "西北"]}, _wh("TJ", "HZ"), 20)),
    (ADMIN, RuleDraft("R-DEFAULT", "其余订单杭州仓发货，溢出至合肥云仓", {"all": []}, _wh("HZ", "HF"), 90)),
    (ADMIN, RuleDraft("R-PROMO-HF", "大促期间华东订单改由合肥云仓发货（活动结束已停用）",
                      {"field": "region", "op": "eq", "value": "华东"}, _wh("HF", "HZ"), 5, enabled=False,
                      note="双11结束，杭州仓恢复")),
    (ADMIN, RuleDraft("R-DY-4H", "抖音订单优先4小时出库", {"field": "platform", "op": "eq", "value": "douyin"},
                      [{"type": "set_ship_by", "hours": 4}], 30)),
    (ADMIN, RuleDraft("R-DY-LIVE-2H", "抖音直播间订单2小时出库",
                      {"all": [{"field": "platform", "op": "eq", "value": "douyin"},
                               {"field": "ext.live_room_id", "op": "not_empty"}]},
                      [{"type": "set_ship_by", "hours": 2}], 31)),
    (ADMIN, RuleDraft("R-PDD-48H", "拼多多订单48小时内发货（平台考核）", {"field": "platform", "op": "eq", "value": "pdd"},
                      [{"type": "set_ship_by", "hours": 48}], 32)),
    (ADMIN, RuleDraft("R-MINI-INVOICE", "小程序订单自动绑定电子发票", {"field": "shop", "op": "eq", "value": "WX-MINI"},
                      [{"type": "bind_invoice"}], 40)),
    (ADMIN, RuleDraft("R-GIFT-299", "满299赠袜子", {"field": "paid_amount", "op": "gte", "value": "299.00"},
                      [{"type": "add_gift", "skus": SOCKS, "qty": 1}], 50)),
    (SUPERVISOR, RuleDraft("R-FIRST-ORDER-GIFT", "新客首单满99赠袜子",
                           {"all": [{"field": "customer.order_count", "op": "eq", "value": 0},
                                    {"field": "paid_amount", "op": "between", "value": ["99.00", "298.99"]}]},
                           [{"type": "add_gift", "skus": SOCKS_SMALL_FIRST, "qty": 1}], 51)),
    (ADMIN, RuleDraft("R-RISKY-ADDRESS", "风险地址挂起审核（集运、转运、代收点）",
                      {"field": "receiver_address", "op": "contains_any", "value": ["集运", "转运", "代收点", "海外仓"]},
                      [{"type": "hold", "reason": "risky_address"}], 1)),
    (ADMIN, RuleDraft("R-ABNORMAL-AMOUNT", "金额异常挂起审核（实付满2000元，或原价200元以上实付不到20元）",
                      {"any": [{"field": "paid_amount", "op": "gte", "value": "2000.00"},
                               {"all": [{"field": "original_amount", "op": "gte", "value": "200.00"},
                                        {"field": "paid_amount", "op": "lt", "value": "20.00"}]}]},
                      [{"type": "hold", "reason": "abnormal_amount"}], 2)),
    (ADMIN, RuleDraft("R-BULK", "单笔20件以上人工审核（疑似代购囤货）",
                      {"field": "items.total_qty", "op": "gte", "value": 20}, [{"type": "hold", "reason": "bulk_quantity"}], 3)),
    (SUPERVISOR, RuleDraft("R-PDD-PROTECT", "库存紧张时拼多多订单挂起（保天猫、抖音主力渠道）",
                           {"all": [{"field": "platform", "op": "eq", "value": "pdd"},
                                    {"field": "stock.min_available", "op": "lt", "value": 5}]},
                           [{"type": "hold", "reason": "stock_protection"}], 4)),
    (ADMIN, RuleDraft("R-NO-PROVINCE", "收货地址识别不出省份时挂起",
                      {"all": [{"field": "province", "op": "is_empty"}, {"field": "platform", "op": "ne", "value": "pos"}]},
                      [{"type": "hold", "reason": "address_incomplete"}], 9)),
]


def seed_rules(session: Session) -> int:
    """Save the demo rules in the caller's transaction (after warehouses, shops and SKUs exist).

    Each save is audited like one made in the rule editor. Returns the number of rules.
    """
    vocab = rule_book.load_vocabulary(session)
    for actor, draft in DEMO_RULES:
        rule_book.save_in(session, draft, actor, vocab)
    return len({d.code for _, d in DEMO_RULES})
