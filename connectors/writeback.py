"""Telling the platforms what the hub did: ship confirmations (发货回传) and refund answers, per channel.

Each call goes through the platform's own signed client (the connector), with no retries of its
own: the hub's outbox retries with backoff, so a write is never repeated blindly. The platform's
answer is read into a :class:`WriteResult`:

* ``done`` — applied now; ``already`` — the platform had it already (a retry after a lost answer):
  success all the same;
* ``stopped`` — the order was cancelled or refunded meanwhile: the parcel must be stopped;
* ``refund_pending`` — a refund waits for the seller: customer service decides before shipping;
* ``retry`` — rate limit, outage, timeout: try again later; ``refused`` — anything else, in words.

Where a platform's refusal cannot tell "already shipped" from "closed" (TOP ``B04``, 微信
``101100``, and every 拼多多 refusal — PDD publishes no codes), the order is read back to decide.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.domain.messages import render
from app.domain.status import OrderStatus
from connectors.base import Connector, PlatformError, PayloadError

DONE, ALREADY, STOPPED, REFUND_PENDING, RETRY, REFUSED = "done", "already", "stopped", "refund_pending", "retry", "refused"


@dataclass(frozen=True, slots=True)
class ShipRequest:
    """One parcel to confirm. ``line_ids`` (platform sub-order ids) only for a split parcel."""

    platform_order_no: str
    tracking_no: str
    carrier_code: str
    carrier_name: str
    line_ids: tuple[str, ...] = ()
    request_id: str = ""  # our idempotency key (抖店 multi-pack honours it)
    online: bool = False  # TOP: the shop uses 菜鸟 e-sheets (online.send) rather than offline.send
    first_parcel: bool = True  # 拼多多: a later parcel of a split order is an extra waybill


@dataclass(frozen=True, slots=True)
class RefundAnswer:
    """Agree to or refuse one line's refund on the platform."""

    platform_order_no: str
    line_id: str
    agree: bool
    reason: str = ""
    amount_fen: int = 0
    after_sale_id: str = ""


@dataclass(frozen=True, slots=True)
class WriteResult:
    outcome: str
    call: str
    code: str = ""
    message: str = ""
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome in (DONE, ALREADY)


# --- reading the order back ---------------------------------------------------------------------------

def platform_state(connector: Connector, platform_order_no: str, tracking_no: str,
                   line_ids: tuple[str, ...] = ()) -> str:
    """What the platform's own order says now: ``shipped`` (with this waybill), ``cancelled``,
    ``refunded`` (the parcel's lines), ``refunding``, or ``open``.

    Raises:
        PlatformError: the order could not be read (retry later).
    """
    raw = connector.fetch(platform_order_no)
    try:
        order = connector.normalise(raw)
    except PayloadError as err:
        raise PlatformError(connector.platform, "malformed", f"订单详情无法读取：{err}", retryable=True) from None
    if tracking_no and tracking_no.encode() in raw.body:
        return "shipped"
    if order.status == OrderStatus.CANCELLED:
        return "cancelled"
    lines = [ln for ln in order.lines if not line_ids or ln.platform_line_id in line_ids]
    if lines and all(ln.line_status == "refunded" for ln in lines):
        return "refunded"
    if any(ln.line_status == "refunding" for ln in lines):
        return "refunding"
    if order.status in (OrderStatus.SHIPPED, OrderStatus.COMPLETED) and not line_ids:
        return "shipped"
    return "open"


def _looked_up(connector: Connector, req: ShipRequest, call: str, err: PlatformError) -> WriteResult:
    """A refusal that does not say why: the order itself does."""
    try:
        state = platform_state(connector, req.platform_order_no, req.tracking_no, req.line_ids)
    except PlatformError as again:
        return WriteResult(RETRY, call, again.code, again.message, again.retry_after)
    code = err.sub_code or err.code
    if state == "shipped":
        return WriteResult(ALREADY, call, code, err.message)
    if state in ("cancelled", "refunded"):
        return WriteResult(STOPPED, call, code, f"{state}:{err.message}")
    if state == "refunding":
        return WriteResult(REFUND_PENDING, call, code, err.message)
    return WriteResult(REFUSED, call, code, err.message)


TRANSPORT = {"timeout": "超时没有答复", "unreachable": "连接不上", "malformed": "答复不完整"}


def _failed(err: PlatformError, call: str) -> WriteResult | None:
    """A retryable failure in words: a gateway's HTML error page is no message for a person."""
    if not err.retryable:
        return None
    if err.code.startswith("http-") or err.code in TRANSPORT:
        what = TRANSPORT.get(err.code) or f"返回 HTTP {err.code.removeprefix('http-')}"
        return WriteResult(RETRY, call, err.code, f"平台{what}，稍后重试", err.retry_after)
    return WriteResult(RETRY, call, err.code, err.message, err.retry_after)


# --- ship confirmations --------------------------------------------------------------------------------

DOUYIN = {"60110": ALREADY, "70023": ALREADY, "60021": STOPPED, "60068": STOPPED, "60113": ALREADY,
          "60040": REFUND_PENDING, "60120": REFUND_PENDING, "60118": RETRY, "60109": RETRY}
WECHAT = {"109001": ALREADY, "108009": REFUND_PENDING, "100003": RETRY}


def confirm_shipment(connector: Connector, req: ShipRequest) -> WriteResult:
    """Send one parcel's ship confirmation on the connector's platform; never raises for a platform answer."""
    platform = connector.platform
    if platform in ("taobao", "tmall"):
        return _taobao(connector, req)
    if platform == "douyin":
        return _douyin(connector, req)
    if platform == "pdd":
        return _pdd(connector, req)
    if platform == "wechat":
        return _wechat(connector, req)
    return WriteResult(REFUSED, "-", "platform", f"{platform} 没有发货回传接口")


def _taobao(connector: Any, req: ShipRequest) -> WriteResult:
    method = "taobao.logistics.online.send" if req.online else "taobao.logistics.offline.send"
    params = {"tid": req.platform_order_no, "out_sid": req.tracking_no, "company_code": req.carrier_code}
    if req.line_ids:
        params.update(sub_tid=",".join(req.line_ids), is_split="1")
    try:
        answer = connector.call(method, params)
    except PlatformError as err:
        letter = err.sub_code.rsplit(":", 1)[-1] if ":" in err.sub_code else ""
        if letter in ("B150", "S01"):
            return WriteResult(RETRY, method, err.sub_code, err.message)
        if letter == "B04":  # "already shipped or closed": TOP does not say which
            return _looked_up(connector, req, method, err)
        if letter == "B02":
            return WriteResult(REFUND_PENDING, method, err.sub_code, err.message)
        return _failed(err, method) or WriteResult(REFUSED, method, err.sub_code or err.code, err.message)
    if not (answer.get("shipping") or {}).get("is_success"):
        return WriteResult(REFUSED, method, "is_success", "平台没有确认发货成功")
    return WriteResult(DONE, method)


def _douyin(connector: Any, req: ShipRequest) -> WriteResult:
    if req.line_ids:
        method = "order.logisticsAddMultiPack"
        params: dict[str, Any] = {"order_id": req.platform_order_no, "request_id": req.request_id, "pack_list": [{
            "shipped_order_info": [{"shipped_order_id": i} for i in req.line_ids], "logistics_code": req.tracking_no,
            "company": req.carrier_name, "company_code": req.carrier_code}]}
    else:
        method = "order.logisticsAdd"
        params = {"order_id": req.platform_order_no, "company": req.carrier_name, "company_code": req.carrier_code,
                  "logistics_code": req.tracking_no}
    try:
        connector.call(method, params)
    except PlatformError as err:
        failed = _failed(err, method)
        if failed:
            return failed
        code = err.sub_code.rsplit(":", 1)[-1]
        outcome = DOUYIN.get(code, REFUSED)
        if outcome == STOPPED:
            return WriteResult(STOPPED, method, err.sub_code, f"{'cancelled' if code == '60021' else 'refunded'}:{err.message}")
        return WriteResult(outcome, method, err.sub_code or err.code, err.message)
    return WriteResult(DONE, method)


def _pdd(connector: Any, req: ShipRequest) -> WriteResult:
    if not req.first_parcel:
        return _pdd_extra(connector, req)
    method = "pdd.logistics.online.send"
    try:
        answer = connector.call(method, {"order_sn": req.platform_order_no, "logistics_id": req.carrier_code,
                                         "tracking_number": req.tracking_no}, "logistics_online_send_response")
    except PlatformError as err:
        return _failed(err, method) or _looked_up(connector, req, method, err)
    if not answer.get("is_success"):
        return WriteResult(REFUSED, method, "is_success", "平台没有确认发货成功")
    return WriteResult(DONE, method)


def _pdd_extra(connector: Any, req: ShipRequest) -> WriteResult:
    """拼多多 ships whole orders (the first parcel's online.send): each later parcel of a split order is
    uploaded as an extra waybill, 额外运单类型 1 = 分包发货 (pdd.order.upload.extra.logistics)."""
    method = "pdd.order.upload.extra.logistics"
    tracks = [{"shipping_id": int(req.carrier_code), "tracking_number": req.tracking_no}]
    try:
        answer = connector.call(method, {"order_sn": req.platform_order_no, "extra_track_type": 1,
                                         "extra_track_list": json.dumps(tracks, separators=(",", ":"))},
                                "upload_extra_logistics_response")
    except PlatformError as err:
        return _failed(err, method) or WriteResult(REFUSED, method, err.sub_code or err.code, err.message)
    if answer.get("is_success") is False:
        return WriteResult(REFUSED, method, "is_success", "平台没有确认收到额外运单")
    return WriteResult(DONE, method)


def _wechat(connector: Any, req: ShipRequest) -> WriteResult:
    path = "/channels/ec/order/delivery/send"
    try:
        products = _wechat_products(connector, req)
        connector.call(path, {"order_id": req.platform_order_no, "delivery_list": [{
            "delivery_id": req.carrier_code, "waybill_id": req.tracking_no, "deliver_type": 1,
            "product_infos": products}]})
    except PlatformError as err:
        failed = _failed(err, path)
        if failed:
            return failed
        if err.code == "101100":  # "the order's status forbids shipping": cancelled, closed … look
            return _looked_up(connector, req, path, err)
        return WriteResult(WECHAT.get(err.code, REFUSED), path, err.code, err.message)
    return WriteResult(DONE, path)


def _wechat_products(connector: Any, req: ShipRequest) -> list[dict[str, Any]]:
    """The parcel's product_id/sku_id/count, as the order detail names them (the hub keeps SKU codes)."""
    raw = connector.fetch(req.platform_order_no)
    try:
        doc = json.loads(raw.body)
        infos = (doc.get("order") or doc)["order_detail"]["product_infos"]
    except (ValueError, KeyError, TypeError):
        raise PlatformError("wechat", "malformed", "订单详情里没有商品信息，无法发货", retryable=True) from None
    wanted = []
    for n, p in enumerate(infos, 1):
        line_id = str(p.get("product_unique_id") or f"{req.platform_order_no}_{n:03d}")
        if not req.line_ids or line_id in req.line_ids:
            wanted.append({"product_id": str(p["product_id"]), "sku_id": str(p["sku_id"]),
                           "product_cnt": int(p.get("sku_cnt") or 1)})
    return wanted


# --- refund answers --------------------------------------------------------------------------------------

def answer_refund(connector: Connector, req: RefundAnswer) -> WriteResult:
    """Agree to or refuse a refund on the platform (淘宝 rp.refunds.agree / refund.refuse, 微信小店
    aftersale accept/reject, 抖店 afterSale.operate, 拼多多 refund.agree / refund.returngoods.agree).
    拼多多 publishes no refuse call: a refusal there comes back ``refused`` in words, never pretended."""
    platform = connector.platform
    try:
        if platform in ("taobao", "tmall"):
            return _taobao_refund(connector, req)
        if platform == "wechat":
            return _wechat_refund(connector, req)
        if platform == "douyin":
            return _douyin_refund(connector, req)
        if platform == "pdd":
            return _pdd_refund(connector, req)
    except PlatformError as err:
        return _failed(err, "refund") or WriteResult(REFUSED, "refund", err.sub_code or err.code, err.message)
    return WriteResult(REFUSED, "-", "unsupported", f"{platform} 没有售后答复接口，请在商家后台处理")


#: 拼多多 after_sales_status values (pdd.refund.list.increment.get): waiting for the seller
PDD_WAITING = {2: "refund", 3: "return"}  # 2 买家申请退款，待商家处理 · 3 退货退款，待商家处理
PDD_NO_REFUSE = "pdd-no-refuse-api"


def pdd_after_sales(connector: Any, order_sn: str) -> list[dict[str, Any]]:
    """Every after-sale of one 拼多多 order (pdd.refund.list.increment.get with ``order_sn``: the doc
    says the other filters are then ignored, though the required ones must still be sent)."""
    end = int(connector.clock().timestamp())
    answer = connector.call("pdd.refund.list.increment.get", {
        "order_sn": order_sn, "after_sales_status": 1, "after_sales_type": 1, "start_updated_at": end - 1800,
        "end_updated_at": end, "page": 1, "page_size": 100}, "refund_increment_get_response")
    return list(answer.get("refund_list") or [])


def _pdd_refund(connector: Any, req: RefundAnswer) -> WriteResult:
    """拼多多: the after-sale's id (kept from intake, else looked up by order), then agree.

    ``pdd.refund.agree`` for 仅退款 (status 2), ``pdd.refund.returngoods.agree`` for 退货退款 (status 3).
    No public API refuses a 拼多多 after-sale: customer service must 驳回 it in the 商家后台.
    """
    listed = pdd_after_sales(connector, req.platform_order_no)
    wanted = [a for a in listed if not req.after_sale_id or str(a.get("id")) == req.after_sale_id]
    if not req.after_sale_id:  # PDD lists after-sales per order; one goods per order, so the open one …
        waiting = [a for a in wanted if int(a.get("after_sales_status") or 0) in PDD_WAITING]
        # … or, for an agree tried before (its answer lost), the one refunded since
        wanted = waiting or [a for a in wanted if req.agree and int(a.get("after_sales_status") or 0) in (7, 10)]
    if len(wanted) != 1:
        return WriteResult(REFUSED, "pdd.refund.list.increment.get", "no-refund",
                           "平台上找不到这条商品待处理的售后单" if not wanted else "平台上这笔订单有多张待处理的售后单，请在商家后台处理")
    after_sale = wanted[0]
    after_sale_id, status = str(after_sale["id"]), int(after_sale.get("after_sales_status") or 0)
    if status in (7, 10) and req.agree:  # 7 已同意退货, 10 退款成功: agreed before
        return WriteResult(ALREADY, "pdd.refund.list.increment.get", after_sale_id, "平台上已同意（上次答复丢失），未重复发送")
    if not req.agree:
        return WriteResult(REFUSED, "-", PDD_NO_REFUSE, render("WB_PDD_NO_REFUSE", after_sale_id=after_sale_id,
                                                                 order_no=req.platform_order_no))
    if status not in PDD_WAITING:
        return WriteResult(REFUSED, "pdd.refund.list.increment.get", f"status-{status}",
                           f"平台上的售后单 {after_sale_id} 已不在待商家处理状态")
    call = "pdd.refund.agree" if PDD_WAITING[status] == "refund" else "pdd.refund.returngoods.agree"
    result = (connector.call(call, {"after_sales_id": after_sale_id, "order_sn": req.platform_order_no,
                                    "operate_desc": req.reason or "同意退款"}, "response").get("result") or {})
    if result.get("succ"):
        return WriteResult(DONE, call, after_sale_id)
    return WriteResult(REFUSED, call, after_sale_id, str(result.get("message") or "平台没有确认退款成功"))


def _douyin_refund(connector: Any, req: RefundAnswer) -> WriteResult:
    """抖店: find the line's after-sale (afterSale/List by order), then afterSale/operate (201 agree / 202 refuse)."""
    listed = connector.call("afterSale.List", {"order_id": req.platform_order_no, "page": 0, "size": 50})
    items = (listed.get("data") or {}).get("items") or []
    after_sale = req.after_sale_id or next(
        (str(i["aftersale_info"]["aftersale_id"]) for i in items
         if any(str(r.get("sku_order_id")) == req.line_id for r in (i.get("order_info") or {}).get("related_order_info", []))),
        "")
    if not after_sale:
        return WriteResult(REFUSED, "afterSale.List", "no-refund", "平台上找不到这条商品的售后单")
    item: dict[str, Any] = {"aftersale_id": after_sale}
    if not req.agree:
        item["reason"] = req.reason or "卖家拒绝退款"
    connector.call("afterSale.operate", {"type": 201 if req.agree else 202, "items": [item]})
    return WriteResult(DONE, "afterSale.operate")


def _top_refund_id(connector: Any, req: RefundAnswer) -> str:
    """TOP names a sub-order's refund on the sub-order itself (fullinfo ``orders.order[].refund_id``)."""
    doc = json.loads(connector.fetch(req.platform_order_no).body)
    for o in (doc.get("orders") or {}).get("order", []):
        if str(o.get("oid_str") or o.get("oid")) == req.line_id and o.get("refund_id"):
            return str(o["refund_id"])
    raise PlatformError(connector.platform, "no-refund", "平台订单上找不到这条商品的退款单")


def _taobao_refund(connector: Any, req: RefundAnswer) -> WriteResult:
    refund_id = _top_refund_id(connector, req)
    if req.agree:
        call = "taobao.rp.refunds.agree"
        answer = connector.call(call, {"refund_infos": f"{refund_id}|{req.amount_fen}|0|onsale"})
        results = (answer.get("results") or {}).get("refund_mapping_result") or []
        if results and all(r.get("succ") for r in results):
            return WriteResult(DONE, call)
        message = "；".join(str(r.get("message", "")) for r in results) or str(answer.get("message", ""))
        return WriteResult(REFUSED, call, str(answer.get("msg_code", "")), message)
    call = "taobao.refund.refuse"
    answer = connector.call(call, {"refund_id": refund_id, "refuse_message": req.reason or "卖家拒绝退款"})
    return WriteResult(DONE if answer.get("is_success") else REFUSED, call)


def _wechat_refund(connector: Any, req: RefundAnswer) -> WriteResult:
    doc = json.loads(connector.fetch(req.platform_order_no).body)
    order = doc.get("order") or doc
    pending = list((order.get("aftersale_detail") or {}).get("aftersale_order_list", []))
    after_sale = req.after_sale_id or _wechat_after_sale(pending)
    if not after_sale:
        return WriteResult(REFUSED, "aftersale", "no-refund", "平台订单上找不到这条商品的售后单")
    if req.agree:
        call = "/channels/ec/aftersale/acceptapply"
        connector.call(call, {"after_sale_order_id": after_sale})
    else:
        call = "/channels/ec/aftersale/rejectapply"
        connector.call(call, {"after_sale_order_id": after_sale, "reject_reason": req.reason or "卖家拒绝售后"})
    return WriteResult(DONE, call)


def _wechat_after_sale(pending: list[dict[str, Any]]) -> str:
    """The open after-sale order: WeChat lists them per order without the line; with one open, that one
    (with several, the id must come with the answer — refused in words rather than guessed)."""
    live = [a for a in pending if a.get("status") != "MERCHANT_REFUND_SUCCESS"]
    return str(live[0]["aftersale_order_id"]) if len(live) == 1 else ""
