"""The 抖店 simulator's ship confirmations: ``order.logisticsAdd`` and ``order.logisticsAddMultiPack``.

Parameters as the official SDK's param classes declare them (order_id; company_code and
logistics_code "(必填)"; multi-pack: pack_list[].shipped_order_info[].shipped_order_id,
pack_list[].logistics_code, request_id required). Refusals carry the doc's 50002
``isv.business-failed:<code>`` sub-codes: 60110 already shipped, 60021 cancelled, 60068 refunded,
60040 a refund to handle, 60018 unknown carrier, 60033 no such order. The multi-pack call is
idempotent by request_id, as its doc says.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.domain.carriers import carrier_by_code

if TYPE_CHECKING:
    from connectors.simulators.douyin import DouyinSimulator

REFUSALS = {"already": ("60110", "订单已发货，不允许再次执行发货。"), "cancelled": ("60021", "订单已取消，禁止发货。"),
            "refunded": ("60068", "该订单已售前退款成功，不能发货。"),
            "refund_pending": ("60040", "发货订单中有退款申请需要处理，请先处理。"),
            "not_found": ("60033", "订单不存在，请仔细检查后重试。"), "bad_lines": ("70023", "70023:没有能发货的订单，请修改后重试")}


class LostAnswer(Exception):
    """Applied, but the answer is lost on the way back (the ``lost_answer_next`` fault)."""


def handlers(sim: DouyinSimulator) -> dict[str, Callable[[dict[str, Any]], Any]]:
    done: dict[str, Any] = sim.__dict__.setdefault("multi_pack_done", {})  # request_id → first answer (idempotency)

    def refuse(outcome: str) -> None:
        from connectors.simulators.douyin import _Refusal
        code, text = REFUSALS[outcome]
        raise _Refusal(50002, f"isv.business-failed:{code}", text)

    def carrier(code: Any) -> str:
        from connectors.simulators.douyin import _Refusal
        if not code:
            raise _Refusal(40002, "isv.missing-parameter:60011", "物流公司编码不允许为空。")
        found = carrier_by_code("douyin", str(code))
        if found is None:
            raise _Refusal(50002, "isv.business-failed:60018", "暂不支持该物流公司或物流商已失效，请检查。")
        return found.name_zh

    def lost() -> None:
        with sim.world.lock:
            if sim.world.faults.take("lost_answer_next"):
                raise LostAnswer

    def logistics_add(p: dict[str, Any]) -> Any:
        from connectors.simulators.douyin import _Refusal
        if not p.get("order_id"):
            raise _Refusal(40004, "isv.parameter-invalid:50049", "订单号不能为空或者格式错误。")
        name = carrier(p.get("company_code"))
        if not p.get("logistics_code"):
            raise _Refusal(40002, "isv.missing-parameter", "快递单号不能为空")
        outcome = sim.world.confirm_shipment(str(p["order_id"]), str(p["logistics_code"]), name)
        if outcome != "shipped":
            refuse(outcome)
        lost()
        return None  # the doc's answer has no business fields

    def multi_pack(p: dict[str, Any]) -> Any:
        from connectors.simulators.douyin import _Refusal
        if not p.get("request_id"):
            raise _Refusal(40002, "isv.missing-parameter:50050", "发货请求id不能为空，请检查requestId")
        if p["request_id"] in done:
            return done[p["request_id"]]
        packs = p.get("pack_list")
        if not p.get("order_id") or not isinstance(packs, list) or not packs:
            raise _Refusal(40004, "isv.parameter-invalid", "order_id 与 pack_list 必填")
        answer = []
        for pack in packs:
            name = carrier(pack.get("company_code"))
            items = pack.get("shipped_order_info") or []
            ids = [str(i.get("shipped_order_id")) for i in items if i.get("shipped_order_id")]
            if not pack.get("logistics_code") or not ids:
                raise _Refusal(40004, "isv.parameter-invalid", "logistics_code 与 shipped_order_info 必填")
            outcome = sim.world.confirm_shipment(str(p["order_id"]), str(pack["logistics_code"]), name, ids)
            if outcome != "shipped":
                refuse(outcome)
            answer.append({"logistics_code": pack["logistics_code"], "pack_id": str(int(hashlib.md5(str(pack["logistics_code"]).encode()).hexdigest(), 16))[:19],
                           "shipped_order_info": [{"shipped_order_id": i, "shipped_num": 1, "shipped_item_ids": []}
                                                  for i in ids]})
        done[p["request_id"]] = {"pack_list": answer}
        lost()
        return done[p["request_id"]]

    def after_sale_list(p: dict[str, Any]) -> Any:
        """``afterSale/List`` filtered by order_id: each line's open or finished after-sale."""
        order = sim.world.get(str(p.get("order_id") or ""))
        items = [] if order is None else [
            {"aftersale_info": {"aftersale_id": after_sale_id(ln.line_id), "aftersale_type": 2,
                                "aftersale_status": 6 if ln.refund == "requested" else 12},
             "order_info": {"shop_order_id": order.order_id, "related_order_info": [{"sku_order_id": ln.line_id}]}}
            for ln in order.lines if ln.refund != "none"]
        return {"items": items, "has_more": False, "total": len(items), "page": 0, "size": len(items)}

    def operate(p: dict[str, Any]) -> Any:
        from connectors.simulators.douyin import _Refusal
        items = p.get("items")
        if p.get("type") not in AGREE_REFUND + REFUSE_REFUND or not isinstance(items, list) or not items:
            raise _Refusal(40004, "isv.parameter-invalid", "type 与 items 必填")
        results = []
        for item in items:
            found = _line_of(str(item.get("aftersale_id") or ""))
            if found is None:
                raise _Refusal(20000, "isp.service-error:10000", "存在无效的售后单")
            agree = p["type"] in AGREE_REFUND
            if not agree and not (item.get("reason") or item.get("reject_reason_code")):
                raise _Refusal(40004, "isv.parameter-invalid", "拒绝操作必须填写原因")
            outcome = sim.world.answer_refund(*found, agree)
            if outcome not in ("agreed", "refused"):
                raise _Refusal(50002, "isv.business-failed:20309541", "售后状态错误")
            results.append({"aftersale_id": item["aftersale_id"], "status_code": 0, "status_msg": "success"})
        lost()
        return {"items": results}

    def _line_of(aftersale_id: str) -> tuple[str, str] | None:
        with sim.world.lock:
            for o in sim.world.orders.values():
                for ln in o.lines:
                    if after_sale_id(ln.line_id) == aftersale_id:
                        return o.order_id, ln.line_id
        return None

    return {"order.logisticsAdd": logistics_add, "order.logisticsAddMultiPack": multi_pack,
            "afterSale.List": after_sale_list, "afterSale.operate": operate}


#: afterSale/operate ``type`` for a refund-only case: 201 agree, 202 refuse (INFERRED: the enumeration page
#: op.jinritemai.com/docs/question-docs/93/2752 was not available; 101/102 are the return-goods pair)
AGREE_REFUND, REFUSE_REFUND = (201, 101), (202, 102)


def after_sale_id(line_id: str) -> str:
    """The simulated 抖店 after-sale id of a line's refund."""
    return "7" + hashlib.md5(f"aftersale:{line_id}".encode()).hexdigest()[:18].translate(str.maketrans("abcdef", "123456"))
