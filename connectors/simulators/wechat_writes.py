"""The 微信小店 simulator's write APIs: ``order/delivery/send`` and ``aftersale/acceptapply`` / ``rejectapply``.

Bodies as the doc tables give them (order_id, delivery_list[].delivery_id/waybill_id/deliver_type/
product_infos; after_sale_order_id, reject_reason). Refusals use the doc's errcodes: 109001 already
shipped, 101100 the order's status forbids shipping (cancelled/closed), 108009 an unfinished
after-sale, 606004 a delivery_id not on the list, 100002 no such order; 10021041 for an after-sale
in the wrong state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.domain.carriers import carrier_by_code
from connectors.simulators.server import Response

if TYPE_CHECKING:
    from connectors.simulators.wechat import WechatSimulator

REFUSALS = {"already": (109001, "当前订单已经发货完成，不能重复发货"), "cancelled": (101100, "当前订单状态不允许发货，请检查订单状态"),
            "refunded": (101100, "当前订单状态不允许发货，请检查订单状态"),
            "refund_pending": (108009, "当前订单有未完成售后单，不允许发货"), "not_found": (100002, "订单不存在"),
            "bad_lines": (606031, "发货请求里product_id或sku_id填写不正确，请检查订单中是否包含该商品")}
LOST = Response(504, b"<html><body>504 Gateway Time-out</body></html>", {"Content-Type": "text/html"})
DELIVERY = "/channels/ec/order/delivery/send"
ACCEPT = "/channels/ec/aftersale/acceptapply"
REJECT = "/channels/ec/aftersale/rejectapply"


def routes(sim: WechatSimulator) -> dict[str, Callable[[dict[str, Any]], Response]]:
    from connectors.simulators.wechat import _digits, render_order

    def lost() -> bool:
        with sim.world.lock:
            return sim.world.faults.take("lost_answer_next")

    def send(body: dict[str, Any]) -> Response:
        deliveries = body.get("delivery_list")
        if not body.get("order_id") or not isinstance(deliveries, list) or not deliveries:
            return sim._err(40097, "请求体参数不正确：order_id 与 delivery_list 必填")  # noqa: SLF001
        order = sim.world.get(str(body["order_id"]))
        if order is None:
            return sim._err(*REFUSALS["not_found"])  # noqa: SLF001
        rendered = {(p["product_id"], p["sku_id"]): ln for p, ln in
                    zip(render_order(order, masked=True)["order_detail"]["product_infos"], order.lines, strict=True)}
        for d in deliveries:
            if not all(isinstance(d, dict) and d.get(k) for k in ("delivery_id", "waybill_id", "deliver_type", "product_infos")):
                return sim._err(40097, "请求体参数不正确：delivery_id、waybill_id、deliver_type、product_infos 必填")  # noqa: SLF001
            if d["deliver_type"] != 1:
                return sim._err(606008, "deliver_type不符合要求，普通订单请使用快递发货")  # noqa: SLF001
            carrier = carrier_by_code("wechat", str(d["delivery_id"]))
            if carrier is None:
                return sim._err(606004, "delivery_id不合法，请使用【获取物流公司列表】接口获取合法的delivery_id")  # noqa: SLF001
            lines = [rendered.get((str(p.get("product_id")), str(p.get("sku_id")))) for p in d["product_infos"]]
            if None in lines:
                return sim._err(*REFUSALS["bad_lines"])  # noqa: SLF001
            whole = len(lines) == len(order.lines)
            outcome = sim.world.confirm_shipment(order.order_id, str(d["waybill_id"]), carrier.name_zh,
                                                 None if whole else [ln.line_id for ln in lines if ln])
            if outcome != "shipped":
                return sim._err(*REFUSALS[outcome])  # noqa: SLF001
        if lost():
            return LOST
        return sim._json({"errcode": 0, "errmsg": "ok"})  # noqa: SLF001

    def line_of(after_sale_id: str) -> tuple[str, str] | None:
        with sim.world.lock:
            for o in sim.world.orders.values():
                for ln in o.lines:
                    if "2000" + _digits(ln.line_id, 15) == after_sale_id:
                        return o.order_id, ln.line_id
        return None

    def answer(agree: bool) -> Callable[[dict[str, Any]], Response]:
        def run(body: dict[str, Any]) -> Response:
            if not body.get("after_sale_order_id") or (not agree and not body.get("reject_reason")):
                return sim._err(40097, "请求体参数不正确")  # noqa: SLF001
            found = line_of(str(body["after_sale_order_id"]))
            if found is None:
                return sim._err(10021050, "售后单不存在")  # noqa: SLF001
            outcome = sim.world.answer_refund(*found, agree)
            if outcome not in ("agreed", "refused"):
                return sim._err(10021041, "当前售后单不支持此操作，请检查售后单状态")  # noqa: SLF001
            if lost():
                return LOST
            return sim._json({"errcode": 0, "errmsg": "ok"})  # noqa: SLF001
        return run

    return {DELIVERY: send, ACCEPT: answer(True), REJECT: answer(False)}
