"""The field dictionary: the one place where every field and coded value gets its business name.

UI, exports, printouts, the command line and error messages take labels from here and
nowhere else, so a person reads 「订单当前所处环节」 and never ``status``. Chinese is the
default language; English is always available.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

Kind = Literal["text", "money", "datetime", "int", "decimal", "json", "code", "bool", "percent"]


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field as people know it.

    Attributes:
        key: the identifier code uses (never shown to a person).
        zh: the business label in Chinese.
        en: the business label in English.
        kind: how values are formatted (money, datetime, a coded value…).
        codes: for ``kind == "code"``, the name of the value list in :data:`CODE_LISTS`.
    """

    key: str
    zh: str
    en: str
    kind: Kind = "text"
    codes: str | None = None

    def label(self, lang: Lang = "zh") -> str:
        return self.zh if lang == "zh" else self.en


def _fields(*defs: FieldDef) -> dict[str, FieldDef]:
    return {d.key: d for d in defs}


ORDER_FIELDS: dict[str, FieldDef] = _fields(
    FieldDef("order_no", "订单ID", "Order ID"),
    FieldDef("platform", "来源平台", "Source platform", "code", "platform"),
    FieldDef("platform_order_no", "平台订单号", "Platform order no."),
    FieldDef("shop", "店铺", "Shop"),
    FieldDef("ordered_at", "下单时间", "Ordered at", "datetime"),
    FieldDef("paid_at", "支付时间", "Paid at", "datetime"),
    FieldDef("customer_id", "客户ID", "Customer ID"),
    FieldDef("items", "商品明细", "Items", "json"),
    FieldDef("original_amount", "原始金额", "Original amount", "money"),
    FieldDef("paid_amount", "实付金额", "Amount paid", "money"),
    FieldDef("status", "订单当前所处环节", "Current order stage", "code", "order_status"),
    FieldDef("tracking_no", "物流单号", "Tracking no."),
    FieldDef("invoice_status", "开票状态", "Invoice status", "code", "invoice_status"),
    FieldDef("receiver_name", "收货人", "Receiver"),
    FieldDef("receiver_phone", "收货电话", "Receiver phone"),
    FieldDef("receiver_address", "收货地址", "Delivery address"),
    FieldDef("province", "省份", "Province"),
    FieldDef("city", "城市", "City"),
    FieldDef("district", "区县", "District"),
    FieldDef("warehouse", "发货仓", "Shipping warehouse"),
    FieldDef("ship_by", "最晚发货时间", "Ship by", "datetime"),
    FieldDef("buyer_note", "买家留言", "Buyer note"),
    FieldDef("seller_note", "卖家备注", "Seller note"),
    FieldDef("platform_status", "平台原始状态", "Platform status"),
    FieldDef("version", "版本号", "Version", "int"),
    FieldDef("change_seq", "变更序号", "Change sequence", "int"),
    FieldDef("updated_at", "最后变更时间", "Last changed", "datetime"),
)

ITEM_FIELDS: dict[str, FieldDef] = _fields(
    FieldDef("sku", "商品编码", "SKU"),
    FieldDef("name", "商品名称", "Product"),
    FieldDef("color", "颜色", "Colour"),
    FieldDef("size", "尺码", "Size"),
    FieldDef("qty", "数量", "Quantity", "int"),
    FieldDef("unit_price", "单价", "Unit price", "money"),
    FieldDef("paid", "分摊实付", "Apportioned paid", "money"),
    FieldDef("is_gift", "是否赠品", "Gift", "bool"),
    FieldDef("line_status", "明细状态", "Line status", "code", "line_status"),
)

AUDIT_FIELDS: dict[str, FieldDef] = _fields(
    FieldDef("occurred_at", "发生时间", "Time", "datetime"),
    FieldDef("operator", "操作人", "Operator"),
    FieldDef("station_ip", "工作站IP", "Station IP"),
    FieldDef("action", "操作", "Action", "code", "audit_action"),
    FieldDef("entity", "对象", "Record"),
    FieldDef("basis", "原始依据", "Basis"),
    FieldDef("before", "变更前", "Before", "json"),
    FieldDef("after", "变更后", "After", "json"),
)

FIELDS: dict[str, dict[str, FieldDef]] = {
    "order": ORDER_FIELDS,
    "item": ITEM_FIELDS,
    "audit": AUDIT_FIELDS,
}

# Coded values → (zh, en). Keys are what the database stores.
CODE_LISTS: dict[str, dict[str, tuple[str, str]]] = {
    "order_status": {
        "pending_payment": ("待支付", "Awaiting payment"),
        "paid": ("已支付", "Paid"),
        "allocating": ("配货中", "Being picked"),
        "shipped": ("已发货", "Shipped"),
        "completed": ("已完成", "Completed"),
        "cancelled": ("已取消", "Cancelled"),
        "after_sales": ("售后中", "In after-sales"),
    },
    "platform": {
        "taobao": ("淘宝", "Taobao"),
        "tmall": ("天猫", "Tmall"),
        "douyin": ("抖店", "Douyin shop"),
        "wechat": ("微信小店", "WeChat shop"),
        "pdd": ("拼多多", "Pinduoduo"),
        "pos": ("门店POS", "Store POS"),
    },
    "invoice_status": {
        "none": ("无需开票", "No invoice"),
        "pending": ("待开票", "To be issued"),
        "issued": ("已开票", "Issued"),
        "red_flushed": ("已红冲", "Red-flushed"),
        "reissue_pending": ("待重开", "To be re-issued"),
    },
    "invoice_kind": {
        "blue": ("蓝字发票", "Blue invoice"),
        "red": ("红字发票", "Red (credit) invoice"),
    },
    "line_status": {
        "normal": ("正常", "Normal"),
        "refunding": ("退款中", "Refund in progress"),
        "refunded": ("已退款", "Refunded"),
        "frozen": ("已冻结", "Frozen"),
        "exchanged": ("已换货", "Exchanged"),
    },
    "warehouse_kind": {
        "own": ("自营仓", "Own warehouse"),
        "cloud": ("云仓", "Cloud warehouse"),
    },
    "after_sales_kind": {
        "exchange": ("尺码调换", "Size exchange"),
        "return_refund": ("退货退款", "Return and refund"),
        "refund_only": ("仅退款", "Refund only"),
        "reship": ("补发", "Re-ship"),
    },
    "after_sales_state": {
        "requested": ("客户已申请", "Requested"),
        "approved": ("已同意", "Approved"),
        "awaiting_return": ("待买家寄回", "Awaiting return parcel"),
        "received": ("已收货待检", "Received, to inspect"),
        "refunded": ("已退款", "Refunded"),
        "exchange_created": ("已生成换货单", "Exchange order created"),
        "reshipped": ("已补发", "Re-shipped"),
        "closed": ("已关闭", "Closed"),
        "rejected": ("已拒绝", "Rejected"),
    },
    "shipment_status": {
        "created": ("已揽收前", "Label created"),
        "in_transit": ("运输中", "In transit"),
        "delivering": ("派送中", "Out for delivery"),
        "delivered": ("已签收", "Delivered"),
        "exception": ("物流异常", "Delivery problem"),
    },
    "scan_action": {
        "pick": ("拣货扫描", "Pick scan"),
        "pack": ("打包扫描", "Pack scan"),
        "ship": ("出库扫描", "Dispatch scan"),
    },
    "audit_action": {
        "order.cancel": ("取消订单", "Order cancelled"),
        "order.address_change": ("修改收货地址", "Address changed"),
        "order.status_override": ("人工调整订单环节", "Stage set by hand"),
        "order.status_change": ("订单环节变更", "Stage changed"),
        "after_sales.open": ("发起售后", "After-sales opened"),
        "after_sales.transition": ("售后流转", "After-sales step"),
        "invoice.red_flush": ("发票红冲", "Invoice red-flushed"),
    },
    "change_kind": {
        "cancel": ("订单取消", "Order cancelled"),
        "address": ("收货地址变更", "Address changed"),
        "items": ("商品变更", "Items changed"),
        "refund": ("买家申请退款", "Refund requested"),
    },
    "outbox_status": {
        "pending": ("待发送", "Waiting"),
        "sent": ("已发送", "Sent"),
        "failed": ("发送失败", "Failed"),
    },
    "entity": {
        "shops": ("店铺", "shops"),
        "warehouses": ("仓库", "warehouses"),
        "bins": ("库位", "bins"),
        "skus": ("商品SKU", "SKUs"),
        "orders": ("订单", "orders"),
        "shipments": ("包裹", "parcels"),
        "tracking_events": ("物流节点", "tracking events"),
        "invoices": ("发票", "invoices"),
        "after_sales_cases": ("售后单", "after-sales cases"),
        "audit_log": ("审计记录", "audit records"),
        "raw_payloads": ("原始报文", "raw payloads"),
    },
    "payload_status": {
        "parsed": ("已解析", "Parsed"),
        "quarantined": ("已隔离", "Quarantined"),
    },
}


def field(entity: str, key: str) -> FieldDef:
    """The definition of ``key`` on ``entity`` ("order", "item", "audit")."""
    return FIELDS[entity][key]


def label(entity: str, key: str, lang: Lang = "zh") -> str:
    """The business label of a field, e.g. ``label("order", "status") == "订单当前所处环节"``."""
    return FIELDS[entity][key].label(lang)


def code_label(codes: str, value: str | None, lang: Lang = "zh") -> str:
    """The business name of a coded value; an unknown code is shown as it is, never hidden."""
    if value is None:
        return ""
    pair = CODE_LISTS[codes].get(value)
    if pair is None:
        return value
    return pair[0] if lang == "zh" else pair[1]


def code_from_label(codes: str, text: str) -> str:
    """The stored code for a business name in either language, or for the code itself.

    Lets people type 「配货中」, "Being picked" or ``allocating`` on the command line.

    Raises:
        KeyError: when nothing matches.
    """
    for code, (zh, en) in CODE_LISTS[codes].items():
        if text in (code, zh, en) or text.casefold() == en.casefold():
            return code
    raise KeyError(text)
