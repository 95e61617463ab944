"""The TOP simulator's write APIs: ship confirmations (offline/online.send) and refund answers.

Parameters and required flags follow the TOP SDK's ``check()`` (offline.send: tid, out_sid,
company_code; online.send: tid, company_code; sub_tid at most 50/20). Refusals use the sub-codes
real TOP answers carry (``isv.logistics-offline-service-error:B04`` for "already shipped *or*
closed" — TOP does not tell the two apart, so the hub has to look).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.domain.carriers import carrier_by_code

if TYPE_CHECKING:
    from connectors.simulators.taobao import TaobaoSimulator

B04 = "订单状态不对该物流订单已经发货或者已关闭，不能重复发货"
# world outcome → (letter, sub_msg); cancelled and refunded fold into B04 as on the real platform
REFUSALS = {"already": ("B04", B04), "cancelled": ("B04", B04), "refunded": ("B04", B04),
            "refund_pending": ("B02", "订单状态不对，订单有未处理的退款"),  # our choice: the source is silent
            "not_found": ("B01", "订单不存在"), "bad_lines": ("B06", "传入的子订单号必须完全匹配物流包裹中的子订单")}


class LostAnswer(Exception):
    """The write was applied but its answer never reaches the caller (the ``lost_answer_next`` fault)."""


def _lost(sim: TaobaoSimulator) -> None:
    with sim.world.lock:
        if sim.world.faults.take("lost_answer_next"):
            raise LostAnswer


def handle(sim: TaobaoSimulator, method: str, params: dict[str, str]) -> dict[str, Any]:
    from connectors.simulators.taobao import TopError, _digits

    if method in ("taobao.logistics.offline.send", "taobao.logistics.online.send"):
        offline = method.endswith("offline.send")
        sim._required(params, "tid", "company_code", *(("out_sid",) if offline else ()))  # noqa: SLF001
        prefix = f"isv.logistics-{'offline' if offline else 'online'}-service-error"
        carrier = carrier_by_code("taobao", params["company_code"])
        if carrier is None:
            raise TopError(15, f"{prefix}:B57", f"物流公司「{params['company_code']}」不存在或不支持自己联系")
        subs = [x for x in params.get("sub_tid", "").split(",") if x]
        if len(subs) > (50 if offline else 20):
            raise TopError(41, f"{prefix}:P01", "sub_tid 数量超出上限")
        if bool(subs) != (params.get("is_split") == "1"):
            raise TopError(15, f"{prefix}:CD23", "拆单标记和子订单列表两者必须都填或者都不填")
        outcome = sim.world.confirm_shipment(params["tid"], params.get("out_sid", ""), carrier.name_zh, subs or None)
        if outcome != "shipped":
            letter, text = REFUSALS[outcome]
            raise TopError(15, f"{prefix}:{letter}", text)
        _lost(sim)
        return {"shipping": {"is_success": True}}
    if method == "taobao.rp.refunds.agree":
        sim._required(params, "refund_infos")  # noqa: SLF001
        results = []
        for info in params["refund_infos"].split(","):
            refund_id = info.split("|")[0]
            found = _line_of_refund(sim, refund_id, _digits)
            outcome = sim.world.answer_refund(found[0], found[1], True) if found else "not_found"
            results.append({"refund_id": int(refund_id) if refund_id.isdigit() else refund_id,
                            "succ": outcome == "agreed", "message": {"agreed": "退款成功", "no_refund": "退款状态不允许此操作",
                                                                     "not_found": "退款不存在"}[outcome]})
        _lost(sim)
        ok = sum(r["succ"] for r in results)
        code = "OP_SUCC" if ok == len(results) else "SOME_OP_SUCC" if ok else "OP_FAILURE_UE"
        return {"results": {"refund_mapping_result": results}, "msg_code": code, "succ": ok == len(results),
                "message": code}
    sim._required(params, "refund_id", "refuse_message")  # noqa: SLF001  taobao.refund.refuse
    found = _line_of_refund(sim, params["refund_id"], _digits)
    outcome = sim.world.answer_refund(found[0], found[1], False) if found else "not_found"
    if outcome != "refused":
        raise TopError(15, "isv.refund-refuse-error", "退款不存在或状态不允许拒绝")
    _lost(sim)
    return {"is_success": True}


def _line_of_refund(sim: TaobaoSimulator, refund_id: str, digits: Any) -> tuple[str, str] | None:
    with sim.world.lock:
        for order in sim.world.orders.values():
            for ln in order.lines:
                if str(digits(ln.line_id + "refund", 15)) == refund_id:
                    return order.order_id, ln.line_id
    return None
