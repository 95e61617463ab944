"""The 拼多多 simulator's write calls: ship confirmations, the after-sales list and the two agree calls.

Required parameters as the SDK classes mark them (order_sn, logistics_id, tracking_number;
after_sales_id, order_sn). PDD publishes no error table for these calls, so the refusals here are
this simulator's own choice (error_code 50000 with a descriptive sub_code) — which is why the hub
reads the order back after any refusal instead of trusting a code.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from app.domain.carriers import carrier_by_code
from connectors.simulators.server import Response
from connectors.simulators.world import SimLine, SimOrder

if TYPE_CHECKING:
    from connectors.simulators.pdd import PddSimulator

BUSINESS_ERROR = 50000  # our choice (see the module docstring)
REFUSALS = {"already": ("order_already_shipped", "订单已发货，不能重复发货"),
            "cancelled": ("order_cancelled", "订单已取消，不能发货"),
            "refunded": ("order_refunded", "订单已退款成功，不能发货"),
            "refund_pending": ("order_refunding", "订单售后中，不能发货"),
            "not_found": ("order_not_exist", "订单不存在"), "bad_lines": ("order_lines_invalid", "子订单不正确")}
LOST = Response(504, b"<html><body>504 Gateway Time-out</body></html>", {"Content-Type": "text/html"})


def routes(sim: PddSimulator) -> dict[str, Callable[[dict[str, str], datetime], Response]]:
    def lost() -> bool:
        with sim.world.lock:
            return sim.world.faults.take("lost_answer_next")

    def missing(p: dict[str, str], *names: str) -> Response | None:
        absent = [n for n in names if not p.get(n)]
        return sim._err(50001, "参数错误", f"缺少必填参数 {','.join(absent)}", "param_missing") if absent else None  # noqa: SLF001

    def send(p: dict[str, str], now: datetime) -> Response:
        refused = missing(p, "order_sn", "logistics_id", "tracking_number")
        if refused:
            return refused
        carrier = carrier_by_code("pdd", p["logistics_id"])
        if carrier is None:
            return sim._err(BUSINESS_ERROR, "业务处理失败", "快递公司不支持，请使用支持的快递公司id", "logistics_id_invalid")  # noqa: SLF001
        outcome = sim.world.confirm_shipment(p["order_sn"], p["tracking_number"], carrier.name_zh)
        if outcome != "shipped":
            code, text = REFUSALS[outcome]
            return sim._err(BUSINESS_ERROR, "业务处理失败", text, code)  # noqa: SLF001
        if lost():
            return LOST
        return sim._json({"logistics_online_send_response": {"is_success": True, "request_id": secrets.token_hex(8)}})  # noqa: SLF001

    def after_sale(p: dict[str, str]) -> tuple[SimOrder | None, SimLine | None]:
        order = sim.world.get(p["order_sn"])
        line = next((ln for ln in order.lines if refund_id(ln.line_id) == p["after_sales_id"]), None) if order else None
        return order, line

    def agree(p: dict[str, str], now: datetime, *, goods_back: bool) -> Response:
        refused = missing(p, "after_sales_id", "order_sn")
        if refused:
            return refused
        _, line = after_sale(p)
        if line is not None and (line.refund_kind == "return") != goods_back:
            outcome = "wrong_kind"  # 仅退款 answered with returngoods.agree, or the other way round
        else:
            outcome = sim.world.answer_refund(p["order_sn"], line.line_id, True, goods_back=goods_back) if line else "not_found"
        if lost():
            return LOST
        return sim._json({"response": {"result": {  # noqa: SLF001
            "after_sales_id": p["after_sales_id"], "order_sn": p["order_sn"], "succ": outcome == "agreed",
            "message": "退款操作成功" if outcome == "agreed" else "售后单类型不符" if outcome == "wrong_kind"
            else "售后单状态不允许此操作"}}})

    def listed(p: dict[str, str], now: datetime) -> Response:
        """pdd.refund.list.increment.get by ``order_sn`` (the only way the hub asks)."""
        refused = missing(p, "after_sales_status", "after_sales_type", "start_updated_at", "end_updated_at")
        if refused:
            return refused
        order = sim.world.get(p.get("order_sn", ""))
        rows = [{"id": int(refund_id(ln.line_id)), "order_sn": order.order_id, "sku_id": int(ln.line_id),
                 "after_sales_type": 3 if ln.refund_kind == "return" else 2,
                 "after_sales_status": after_sales_status(ln), "outer_id": ln.sku, "goods_number": str(ln.qty),
                 "refund_amount": str(ln.paid), "updated_time": order.updated.strftime("%Y-%m-%d %H:%M:%S")}
                for ln in (order.lines if order else []) if ln.refund != "none"]
        return sim._json({"refund_increment_get_response": {"refund_list": rows, "total_count": len(rows)}})  # noqa: SLF001

    def extra(p: dict[str, str], now: datetime) -> Response:
        """pdd.order.upload.extra.logistics: a later parcel's waybill on an order already shipped."""
        refused = missing(p, "order_sn", "extra_track_list")
        if refused:
            return refused
        try:
            tracks = json.loads(p["extra_track_list"])
            pairs = [(str(t["shipping_id"]), str(t["tracking_number"])) for t in tracks]
        except (ValueError, TypeError, KeyError):
            return sim._err(50001, "参数错误", "extra_track_list 格式不正确", "param_invalid")  # noqa: SLF001
        if not pairs or any(carrier_by_code("pdd", code) is None or not no for code, no in pairs):
            return sim._err(50001, "参数错误", "快递公司id或运单号不正确", "param_invalid")  # noqa: SLF001
        with sim.world.lock:
            order = sim.world.orders.get(p["order_sn"])
            if order is None or not order.tracking_no:
                return sim._err(BUSINESS_ERROR, "业务处理失败", "订单不存在或尚未发货", "order_not_shipped")  # noqa: SLF001
            for _, no in pairs:
                if no not in order.extra_tracks and no != order.tracking_no:
                    order.extra_tracks.append(no)
                    sim.world.shipments_applied.append((order.order_id, no))
        if lost():
            return LOST
        return sim._json({"upload_extra_logistics_response": {"is_success": True}})  # noqa: SLF001

    return {"pdd.logistics.online.send": send, "pdd.order.upload.extra.logistics": extra,
            "pdd.refund.list.increment.get": listed,
            "pdd.refund.agree": lambda p, now: agree(p, now, goods_back=False),
            "pdd.refund.returngoods.agree": lambda p, now: agree(p, now, goods_back=True)}


def after_sales_status(line: SimLine) -> int:
    """A line's refund as PDD's after_sales_status: 2 退款待商家处理 · 3 退货退款待商家处理 · 7 已同意退货 · 10 退款成功."""
    if line.refund == "requested":
        return 3 if line.refund_kind == "return" else 2
    return {"return_agreed": 7, "refunded": 10}.get(line.refund, 0)


def refund_id(line_id: str) -> str:
    """The after-sales id the simulated PDD gives a line's refund (pushed as ``refund_id``)."""
    return "8" + line_id[-12:]
