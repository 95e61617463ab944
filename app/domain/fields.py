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
    # Routing rules (issue #4): inputs a rule can test beyond the order's own fields.
    "rule": _fields(
        FieldDef("region", "大区", "Sales region"),
        FieldDef("discount_amount", "优惠金额", "Discount", "money"),
        FieldDef("ordered_hour", "下单时段（点）", "Hour ordered", "int"),
        FieldDef("item.sku", "商品编码", "SKU"),
        FieldDef("item.style", "款号", "Style"),
        FieldDef("item.name", "商品名称", "Product"),
        FieldDef("item.color", "颜色", "Colour"),
        FieldDef("item.size", "尺码", "Size"),
        FieldDef("item.qty", "单行数量", "Line quantity", "int"),
        FieldDef("items.total_qty", "商品总件数", "Total pieces", "int"),
        FieldDef("items.line_count", "商品行数", "Number of lines", "int"),
        FieldDef("items.has_gift", "已含赠品", "Already has a gift", "bool"),
        FieldDef("customer.order_count", "客户历史订单数", "Customer's previous orders", "int"),
        FieldDef("stock.min_available", "各仓合计可用库存（最紧的商品）", "Free stock, all warehouses (tightest item)", "int"),
    ),
    # A routing rule as the rule list and the rule editor show it.
    "rule_def": _fields(
        FieldDef("code", "规则编号", "Rule code"),
        FieldDef("name", "规则名称", "Rule name"),
        FieldDef("version", "版本", "Version", "int"),
        FieldDef("priority", "优先级", "Priority", "int"),
        FieldDef("enabled", "是否启用", "Enabled", "bool"),
        FieldDef("condition", "条件", "Condition"),
        FieldDef("actions", "动作", "Actions"),
        FieldDef("author", "最后修改人", "Last changed by"),
        FieldDef("updated_at", "最后修改时间", "Last changed", "datetime"),
        FieldDef("note", "修改说明", "Change note"),
    ),
    # Keys inside audit before/after records that are not order fields, as the trace shows them.
    "trace": _fields(
        FieldDef("case_no", "售后单号", "After-sales case no."),
        FieldDef("holds", "挂起原因", "Holds"),
        FieldDef("intercept", "需拦截", "Interception"),
        FieldDef("by_hand", "手工补打", "Reprinted by hand"),
        FieldDef("carrier", "承运商", "Carrier"),
        FieldDef("box_no", "箱号", "Box no."),
        FieldDef("parcel", "本包裹商品", "In this parcel"),
    ),
    # The after-sales flow editor's form (issue #20): the parts of a flow and the parameters of its steps.
    "as_flow": _fields(
        FieldDef("name", "流程名称", "Flow name"),
        FieldDef("initial", "起始状态", "Starts at"),
        FieldDef("states", "状态", "States"),
        FieldDef("terminal", "结束状态", "Final"),
        FieldDef("transitions", "步骤", "Steps"),
        FieldDef("step", "步骤", "Step", "code", "as_step"),
        FieldDef("from", "从哪些状态", "From"),
        FieldDef("to", "到达状态", "To", "code", "after_sales_state"),
        FieldDef("needs_basis", "需要原始依据", "Needs a basis"),
        FieldDef("guards", "条件（全部成立才走这一步）", "Conditions (all must hold)"),
        FieldDef("not", "取反", "Not"),
        FieldDef("actions", "动作（依次执行）", "Actions (in order)"),
        FieldDef("on_open", "发起售后时的动作", "Actions when a case opens"),
    ),
    "as_param": _fields(
        FieldDef("status", "商品行状态", "Line status", "code", "line_status"),
        FieldDef("mode", "生成", "Create", "code", "as_linked_mode"),
        FieldDef("ship_within_hours", "几小时内发出", "Ship within (hours)", "int"),
        FieldDef("message", "提醒内容", "Notice", "code", "as_cs_message"),
        FieldDef("template", "短信模板", "SMS template"),
        FieldDef("threshold", "满赠门槛（元）", "Gift threshold (¥)", "money"),
        FieldDef("policy", "赠品处理", "Gift handling", "code", "as_gift_policy"),
        FieldDef("reason", "红冲原因", "Red-flush reason", "code", "red_reason"),
        FieldDef("decision", "平台答复", "Answer on the platform", "code", "as_platform_decision"),
        FieldDef("days", "距过期天数不超过", "Days to expiry at most", "int"),
    ),
    # Columns of a rule dry run.
    "dry_run": _fields(
        FieldDef("outcome", "分配结果", "Outcome"),
        FieldDef("today", "当前规则", "Today's rules"),
        FieldDef("draft", "试用规则后", "With the draft", "int"),
        FieldDef("change", "变化", "Change", "int"),
    ),
    # --- ERP bridge and 数电票 (issue #17) ---
    "erp": _fields(
        FieldDef("delivery_id", "推送编号", "Delivery no.", "int"),
        FieldDef("endpoint", "ERP接口", "ERP endpoint"),
        FieldDef("name", "名称", "Name"),
        FieldDef("url", "推送地址", "URL"),
        FieldDef("events", "订阅事件", "Events"),
        FieldDef("scheme", "回传签名方式", "Inbound signature", "code", "erp_scheme"),
        FieldDef("enabled", "是否启用", "Enabled", "bool"),
        FieldDef("max_attempts", "最多尝试次数", "Max attempts", "int"),
        FieldDef("event", "事件", "Event", "code", "erp_event"),
        FieldDef("status", "推送状态", "Delivery status", "code", "outbox_status"),
        FieldDef("attempts", "已尝试次数", "Attempts", "int"),
        FieldDef("last_error", "失败原因", "Reason"),
        FieldDef("created_at", "产生时间", "Created", "datetime"),
        FieldDef("sent_at", "送达时间", "Delivered", "datetime"),
        FieldDef("verdict", "处理结果", "Outcome", "code", "erp_inbound_verdict"),
        FieldDef("http_status", "应答码", "Answer code", "int"),
        FieldDef("message_key", "消息标识", "Message id"),
        FieldDef("subject", "涉及对象", "About"),
        FieldDef("received_at", "收到时间", "Received", "datetime"),
        FieldDef("ours", "订单中枢环节", "Stage in OrderHub", "code", "order_status"),
        FieldDef("erp", "ERP环节", "Stage in the ERP", "code", "order_status"),
        FieldDef("erp_order_no", "ERP订单号", "ERP order no."),
        FieldDef("erp_raw_status", "ERP原始状态", "ERP's own status"),
        FieldDef("reported_at", "ERP报告时间", "Reported by the ERP", "datetime"),
        FieldDef("in_flight", "我方推送未送达", "Our events still on the way", "bool"),
    ),
    "einvoice": _fields(
        FieldDef("kind", "开票事项", "What", "code", "einvoice_kind"),
        FieldDef("state", "开票进度", "Progress", "code", "einvoice_state"),
        FieldDef("provider_order_no", "开票单号", "Invoice request no."),
        FieldDef("serial_no", "服务商流水号", "Provider serial no."),
        FieldDef("invoice_no", "数电票号码", "Invoice number"),
        FieldDef("provider_code", "服务商返回码", "Provider code"),
        FieldDef("provider_message", "服务商说明", "Provider message"),
        FieldDef("updated_at", "更新时间", "Updated", "datetime"),
    ),
    # --- warehouse (issue #8) ---
    "wave": _fields(
        FieldDef("wave_no", "波次号", "Wave no."),
        FieldDef("warehouse", "仓库", "Warehouse"),
        FieldDef("status", "波次状态", "Wave status", "code", "wave_status"),
        FieldDef("order_count", "订单数", "Orders", "int"),
        FieldDef("piece_count", "件数", "Pieces", "int"),
        FieldDef("zones", "库区", "Zones"),
        FieldDef("earliest_ship_by", "最早发货截止", "Earliest ship-by", "datetime"),
        FieldDef("created_by", "创建人", "Created by"),
        FieldDef("created_at", "创建时间", "Created at", "datetime"),
        FieldDef("printed_at", "打印时间", "Printed at", "datetime"),
    ),
    "pick": _fields(
        FieldDef("bin_code", "库位", "Bin"),
        FieldDef("bin_coords", "库位坐标", "Bin location"),
        FieldDef("sku", "商品编码", "SKU"),
        FieldDef("name", "商品名称", "Product"),
        FieldDef("spec", "颜色/尺码", "Colour/size"),
        FieldDef("scanned", "已扫", "Scanned", "int"),
        FieldDef("needed", "应拣", "To pick", "int"),
        FieldDef("priority", "优先级", "Priority", "code", "pick_priority"),
        FieldDef("picker", "拣货员", "Picker"),
        FieldDef("box_no", "箱号", "Box no."),
        FieldDef("notice", "变更通知", "Change notice"),
        FieldDef("done", "今日已完成", "Done today", "int"),
        FieldDef("waiting", "待拣", "Waiting", "int"),
    ),
    # --- admin station (issue #14): master data as the 配置 pages and the import sheets name it ---
    "shop": _fields(
        FieldDef("code", "店铺编码", "Shop code"),
        FieldDef("name", "店铺名称", "Shop name"),
        FieldDef("platform", "来源平台", "Platform", "code", "platform"),
        FieldDef("platform_shop_id", "平台店铺ID", "Platform shop ID"),
        FieldDef("api_base_url", "平台接口地址", "Platform API address"),
        FieldDef("app_key", "应用 App Key", "App key"),
        FieldDef("app_secret", "应用密钥 App Secret", "App secret"),
        FieldDef("access_token", "授权令牌", "Access token"),
        FieldDef("refresh_token", "刷新令牌", "Refresh token"),
        FieldDef("enabled", "是否启用", "Enabled", "bool"),
        FieldDef("has_secret", "密钥已保存", "Secret stored", "bool"),
    ),
    "warehouse": _fields(
        FieldDef("code", "仓库编码", "Warehouse code"),
        FieldDef("name", "仓库名称", "Warehouse name"),
        FieldDef("kind", "仓库类型", "Warehouse type", "code", "warehouse_kind"),
        FieldDef("province", "省份", "Province"),
        FieldDef("city", "城市", "City"),
        FieldDef("address", "详细地址", "Address"),
    ),
    "bin": _fields(
        FieldDef("warehouse", "仓库编码", "Warehouse code"),
        FieldDef("code", "库位编码", "Bin code"),
        FieldDef("zone", "库区", "Zone"),
        FieldDef("aisle", "排", "Aisle", "int"),
        FieldDef("rack", "架", "Rack", "int"),
        FieldDef("level", "层", "Level", "int"),
        FieldDef("x", "X坐标（米）", "X (m)", "decimal"),
        FieldDef("y", "Y坐标（米）", "Y (m)", "decimal"),
        FieldDef("pick_sequence", "拣货顺序", "Pick sequence", "int"),
    ),
    "sku": _fields(
        FieldDef("sku_code", "商品编码", "SKU code"),
        FieldDef("barcode", "条码（EAN-13）", "Barcode (EAN-13)"),
        FieldDef("style_code", "款号", "Style"),
        FieldDef("name", "商品名称", "Product name"),
        FieldDef("color", "颜色", "Colour"),
        FieldDef("size", "尺码", "Size"),
        FieldDef("price", "单价（元）", "Unit price (yuan)", "money"),
        FieldDef("is_gift_item", "是否赠品", "Gift item", "bool"),
        FieldDef("shelf_life_days", "保质期（天）", "Shelf life (days)", "int"),
        FieldDef("warehouse", "仓库编码", "Warehouse code"),
        FieldDef("bin", "库位编码", "Bin code"),
        FieldDef("on_hand", "库存数量", "Quantity on hand", "int"),
    ),
    "import": _fields(
        FieldDef("line", "行号", "Row", "int"),
        FieldDef("action", "处理", "Action"),
        FieldDef("problems", "问题", "Problems"),
    ),
    "field_def": _fields(
        FieldDef("platform", "来源平台", "Platform", "code", "platform"),
        FieldDef("key", "平台字段", "Platform field"),
        FieldDef("label_zh", "中文名称", "Chinese name"),
        FieldDef("label_en", "英文名称", "English name"),
        FieldDef("value_type", "值类型", "Value type", "code", "value_type"),
        FieldDef("sort_order", "显示顺序", "Display order", "int"),
    ),
    # The 主管 station's list of stations (heartbeats) and of print failures they reported (issue #16).
    "station": _fields(
        FieldDef("station", "工作站", "Station"),
        FieldDef("state", "状态", "State", "code", "station_state"),
        FieldDef("roles", "可登录角色", "Roles allowed"),
        FieldDef("operator", "当前登录", "Signed in"),
        FieldDef("app_version", "程序版本", "App version"),
        FieldDef("pending_outbox", "待上传操作", "Waiting to upload", "int"),
        FieldDef("seen_at", "最近心跳", "Last heartbeat", "datetime"),
    ),
    "print_failure": _fields(
        FieldDef("station", "工作站", "Station"),
        FieldDef("printer", "打印机", "Printer"),
        FieldDef("reason", "故障原因", "Reason", "code", "print_problem"),
        FieldDef("count", "次数", "Times", "int"),
        FieldDef("last_at", "最近一次", "Last time", "datetime"),
        FieldDef("failed_at", "发生时间", "Time", "datetime"),
        FieldDef("order_no", "订单号", "Order no."),
        FieldDef("attempt", "第几次失败", "Failure no.", "int"),
        FieldDef("operator", "操作人", "Operator"),
        FieldDef("detail", "说明", "Detail"),
    ),
    "printer": _fields(
        FieldDef("backend", "连接方式", "Connection"),
        FieldDef("address", "打印机地址", "Printer address"),
        FieldDef("paper", "纸张规格", "Paper", "code", "slip_profile"),
    ),
}

# Coded values → (zh, en). Keys are what the database stores.
CODE_LISTS: dict[str, dict[str, tuple[str, str]]] = {
    "order_status": {
        "pending_payment": ("待支付", "Awaiting payment"),
        "paid": ("已支付", "Paid"),
        "allocating": ("配货中", "Being picked"),
        "partially_shipped": ("部分发货", "Partly shipped"),
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
        "out_of_stock": ("缺货待补", "Waiting for stock"),
        "inspected": ("已验货", "Inspected"),
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
        "auth.sign_in": ("登录", "Signed in"),
        "auth.sign_in_offline": ("离线登录", "Signed in offline"),
        "auth.sign_in_failed": ("登录失败", "Sign-in failed"),
        "auth.locked": ("账号被锁定", "Account locked"),
        "auth.sign_out": ("退出登录", "Signed out"),
        "auth.expired": ("无操作自动退出", "Signed out after being idle"),
        "auth.password_changed": ("修改密码", "Password changed"),
        "auth.password_reset": ("管理员重置密码", "Password reset by an administrator"),
        "user.created": ("新增用户", "User added"),
        "user.disabled": ("停用用户", "User disabled"),
        "user.enabled": ("启用用户", "User enabled"),
        "user.role_changed": ("更改角色", "Role changed"),
        "permission.granted": ("授予权限", "Permission granted"),
        "permission.revoked": ("收回权限", "Permission withdrawn"),
        "order.cancel": ("取消订单", "Order cancelled"),
        "order.address_change": ("修改收货地址", "Address changed"),
        "order.status_override": ("人工调整订单环节", "Stage set by hand"),
        "order.status_change": ("订单环节变更", "Stage changed"),
        "order.warehouse_note": ("给仓库留言", "Note for the warehouse"),
        "after_sales.open": ("发起售后", "After-sales opened"),
        "after_sales.transition": ("售后流转", "After-sales step"),
        "invoice.red_flush": ("发票红冲", "Invoice red-flushed"),
        "rule.save": ("保存路由规则", "Routing rule saved"),
        "rule.enable": ("启用路由规则", "Routing rule enabled"),
        "rule.disable": ("停用路由规则", "Routing rule disabled"),
        "order.hold_release": ("解除挂起", "Hold released"),
        "order.hold": ("人工挂起订单", "Order put on hold"),
        "after_sales.flow_save": ("保存售后流程", "After-sales flow saved"),
        "red_letter.change": ("红字确认单状态变更", "Red-letter confirmation changed"),
        # --- warehouse (issue #8) ---
        "wave.create": ("创建波次", "Wave created"),
        "slip.print": ("打印拣货单", "Pick slips printed"),
        "slip.reprint": ("补打拣货单", "Pick slip reprinted"),
        "pick.confirm": ("拣货完成", "Pick confirmed"),
        "pick.ship": ("扫描出库", "Dispatched by scan"),
        "pick.stop": ("停止拣货", "Pick stopped"),
        "notice.acknowledge": ("确认变更通知", "Change notice acknowledged"),
        # --- admin station (issue #14) ---
        "shop.save": ("保存店铺", "Shop saved"),
        "shop.enable": ("启用店铺", "Shop enabled"),
        "shop.disable": ("停用店铺", "Shop disabled"),
        "shop.connection_test": ("测试店铺连接", "Shop connection tested"),
        "master_data.import": ("导入主数据", "Master data imported"),
        "field_def.save": ("保存平台字段定义", "Platform field saved"),
        "station.printer_set": ("设置打印机", "Printer set up"),
        # --- ERP bridge and 数电票 (issue #17) ---
        "erp.endpoint_save": ("保存ERP推送地址", "ERP endpoint saved"),
        "erp.webhook_replay": ("重发ERP推送", "ERP webhook replayed"),
        "erp.secret_rotated": ("轮换ERP签名密钥", "ERP signing secret rotated"),
        "erp.quarantine_retry": ("重新处理ERP隔离报文", "Quarantined ERP message retried"),
        "erp.stock_level": ("ERP同步库存", "Stock level from the ERP"),
        "einvoice.request": ("向税务服务商申请开票", "Invoice requested from the tax provider"),
        # --- manual rescues read by 订单健康度 (issue #16) ---
        "order.expedite": ("加急插队", "Expedited (jumped the queue)"),
        "order.warehouse_change": ("人工改仓", "Warehouse changed by hand"),
        # --- payload archive (issue #18) ---
        "payloads.archive": ("原始报文归档", "Raw payloads archived"),
        "payloads.restore": ("取回归档原始报文", "Archived raw payload restored"),
    },
    "role": {
        "cs": ("客服", "Customer service"),
        "cs_lead": ("客服组长", "CS lead"),
        "picker": ("拣货员", "Picker"),
        "wh_lead": ("仓管班长", "Warehouse lead"),
        "supervisor": ("主管", "Supervisor"),
        "admin": ("管理员", "Administrator"),
        "service": ("系统服务账号", "System service account"),
    },
    # --- people and permissions (issue #14): what a role may be granted, in business language ---
    "permission_action": {
        "order.cancel": ("取消订单", "Cancel an order"),
        "order.change_address": ("修改收货地址", "Change a delivery address"),
        "order.add_warehouse_note": ("给仓库留言", "Leave a note for the warehouse"),
        "order.change_status": ("变更订单环节", "Move an order to its next stage"),
        "order.override_status": ("强制改订单环节", "Override an order's stage"),
        "order.hold": ("挂起订单待审核", "Put an order on hold"),
        "order.release_hold": ("审核放行挂起订单", "Release an order on hold"),
        "order.route": ("重新分仓", "Route orders to warehouses again"),
        "after_sales.open": ("发起售后", "Open an after-sales case"),
        "after_sales.step": ("推进售后", "Take an after-sales step"),
        "after_sales.respond": ("回复售后客户", "Answer an after-sales customer"),
        "after_sales.flow_save": ("保存售后流程", "Save an after-sales flow"),
        "wave.create": ("建拣货波次", "Create a pick wave"),
        "wave.print": ("打印拣货单", "Print pick slips"),
        "wave.reprint": ("补打拣货单", "Reprint a pick slip"),
        "pick.scan": ("拣货扫码", "Scan while picking"),
        "notice.acknowledge": ("确认变更通知", "Acknowledge a change notice"),
        "rule.save": ("保存分仓规则", "Save a routing rule"),
        "rule.enable": ("启用/停用分仓规则", "Switch a routing rule on or off"),
        "red_letter.move": ("处理红字确认单", "Move a red-letter confirmation"),
        "quarantine.retry": ("重新处理隔离报文", "Retry a quarantined payload"),
        "outbox.retry": ("重发失败消息", "Resend a failed outgoing message"),
        "outbox.acknowledge": ("标记提醒已处理", "Mark a reminder handled"),
        "users.manage": ("管理用户", "Manage users"),
        "permissions.edit": ("修改角色权限", "Change what roles may do"),
        "shops.manage": ("管理店铺与授权", "Manage shops and their keys"),
        "master_data.import": ("导入基础资料", "Import warehouses, bins and products"),
        "field_defs.manage": ("管理平台字段", "Manage platform fields"),
        "printers.manage": ("设置打印机", "Set up printers"),
        "erp.manage": ("管理ERP与开票接口", "Manage the ERP and e-invoice connections"),
        "health.view": ("查看订单健康度", "View order health"),
        "health.export": ("导出健康度周报", "Export the weekly health report"),
        "payloads.archive": ("归档与取回原始报文", "Archive and restore raw payloads"),
    },
    "change_kind": {
        "cancel": ("订单取消", "Order cancelled"),
        "address": ("收货地址变更", "Address changed"),
        "items": ("商品变更", "Items changed"),
        "refund": ("买家申请退款", "Refund requested"),
        # --- warehouse (issue #8): station-side changes folded into the same notice ---
        "note": ("仓库留言", "Note for the warehouse"),
        "after_sales": ("转入售后", "Moved to after-sales"),
    },
    # --- write-back and live logistics (issue #15) ---
    "writeback_kind": {
        "ship": ("发货回传", "Ship confirmation"),
        "refund": ("售后答复", "After-sales answer"),
        "intercept": ("拦截件", "Parcel interception"),
        "subscribe": ("物流订阅", "Tracking subscription"),
    },
    "writeback_outcome": {
        "done": ("平台已接收", "Accepted"),
        "already": ("平台已有（重试确认）", "Already there (retry confirmed)"),
        "stopped": ("订单已取消或退款，包裹需拦截", "Order cancelled or refunded: stop the parcel"),
        "refund_pending": ("有待处理退款，未发货", "Refund pending: not shipped"),
        "retry": ("暂时失败，稍后重试", "Temporary failure, will retry"),
        "refused": ("被拒绝", "Refused"),
        "nothing": ("无需回传", "Nothing to send"),
    },
    "intercept_state": {
        "requested": ("拦截申请中", "Interception requested"),
        "accepted": ("已受理，等待快递公司结果", "Accepted, waiting for the carrier"),
        "succeeded": ("拦截成功", "Intercepted"),
        "failed": ("拦截失败", "Interception failed"),
        "unsupported": ("需人工联系快递", "Call the carrier"),
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
        # --- admin station (issue #14) ---
        "platform_field_defs": ("平台字段定义", "platform field definitions"),
        "stations": ("工作站", "stations"),
    },
    "payload_status": {
        "pending": ("已收到，待生成订单", "Received, order not created yet"),
        "parsed": ("已解析", "Parsed"),
        "quarantined": ("已隔离", "Quarantined"),
    },
    # ERP bridge and 数电票 (issue #17).
    "erp_scheme": {
        "standard": ("Standard Webhooks 签名", "Standard Webhooks signature"),
        "frappe": ("ERPNext 签名", "ERPNext (Frappe) signature"),
    },
    "erp_inbound_verdict": {
        "applied": ("已应用", "Applied"),
        "duplicate": ("重复，已忽略", "Duplicate, ignored"),
        "stale": ("晚于更新的消息到达，未应用", "Older than what we have, not applied"),
        "quarantined": ("无法解析，已隔离", "Unreadable, quarantined"),
        "refused": ("已拒收", "Refused"),
    },
    "erp_event": {
        "order.created": ("新订单", "Order created"),
        "order.stage_changed": ("订单环节变更", "Order stage changed"),
        "order.shipped": ("订单已发货", "Order shipped"),
        "after_sales.opened": ("发起售后", "After-sales opened"),
        "after_sales.decided": ("售后已处理", "After-sales decided"),
        "after_sales.changed": ("售后进展", "After-sales progressed"),
        "invoice.issued": ("发票已开具", "Invoice issued"),
        "invoice.red_flushed": ("发票已红冲", "Invoice red-flushed"),
        "audit.anchor": ("审计链每日锚点", "Daily audit chain anchor"),
    },
    "einvoice_kind": {
        "blue": ("开具蓝字发票", "Blue invoice"),
        "red_confirm": ("红字确认单及红票", "Red-letter confirmation and red invoice"),
        "reissue": ("重开发票", "Re-issued invoice"),
    },
    "einvoice_state": {
        "submitted": ("已提交税务服务商", "Sent to the provider"),
        "issuing": ("开票中", "Being issued"),
        "confirming": ("等待购方确认", "Waiting for the buyer's confirmation"),
        "issued": ("已开具", "Issued"),
        "failed": ("开具失败", "Failed"),
    },
    # Routing rules, allocation and reservations (issue #4).
    "rule_op": {
        "eq": ("等于", "is"),
        "ne": ("不等于", "is not"),
        "in": ("属于", "is one of"),
        "not_in": ("不属于", "is none of"),
        "gt": ("大于", "is more than"),
        "gte": ("大于等于", "is at least"),
        "lt": ("小于", "is less than"),
        "lte": ("小于等于", "is at most"),
        "between": ("介于", "is between"),
        "contains": ("包含", "contains"),
        "contains_any": ("包含任一", "contains any of"),
        "starts_with": ("开头是", "starts with"),
        "is_empty": ("为空", "is empty"),
        "not_empty": ("不为空", "is filled in"),
    },
    "rule_action": {
        "choose_warehouse": ("指定发货仓", "Choose warehouse"),
        "set_ship_by": ("设置最晚发货时间", "Set ship-by deadline"),
        "bind_invoice": ("绑定电子发票", "Bind e-invoice"),
        "add_gift": ("添加赠品", "Add gift"),
        "hold": ("挂起待审核", "Hold for review"),
    },
    "rule_value_kind": {
        "text": ("文字", "text"),
        "code": ("可选值之一", "one of the listed values"),
        "money": ("金额（如 299.00）", "an amount (e.g. 299.00)"),
        "decimal": ("数字（如 12.5）", "a number (e.g. 12.5)"),
        "percent": ("百分比数字（如 20）", "a percentage (e.g. 20)"),
        "int": ("整数", "a whole number"),
        "datetime": ("时间（如 2026-11-25T10:00）", "a time (e.g. 2026-11-25T10:00)"),
        "bool": ("是或否", "yes or no"),
    },
    "hold_reason": {
        "risky_address": ("风险地址", "Risky address"),
        "abnormal_amount": ("金额异常", "Abnormal amount"),
        "bulk_quantity": ("件数异常", "Unusual quantity"),
        "address_incomplete": ("地址不完整", "Incomplete address"),
        "stock_protection": ("库存保护", "Stock protection"),
        "manual": ("人工挂起", "Held by hand"),
    },
    "routing_outcome": {
        "allocated": ("已分配发货仓", "Warehouse assigned"),
        "split": ("已拆单发货", "Split across warehouses"),
        "held": ("挂起待审核", "Held for review"),
        "shortage": ("缺货待补", "Out of stock"),
        "released": ("已释放预留库存", "Reservation released"),
        "unchanged": ("无变化", "Unchanged"),
        "skipped": ("无需分配", "Not for routing"),
    },
    "routing_trigger": {
        "new": ("新订单", "New order"),
        "changed": ("订单变更", "Order changed"),
        "items": ("商品变更", "Items changed"),
        "cancel": ("订单取消", "Order cancelled"),
        "hold_release": ("解除挂起", "Hold released"),
        "manual": ("手动重新分配", "Re-routed by hand"),
    },
    # After-sales flows, 红字确认单, SMS (issue #5).
    "as_step": {
        "open": ("发起售后", "Open"),
        "approve": ("同意申请", "Approve"),
        "reject": ("拒绝申请", "Reject"),
        "check_stock": ("查库存并处理", "Check stock and proceed"),
        "receive": ("退货已签收", "Return parcel received"),
        "inspect": ("验货", "Inspect"),
        "refund": ("退款", "Refund"),
        "redo_red_flush": ("重新发起红冲", "Restart red-flush"),
        "close": ("完结", "Close"),
        "respond": ("首次回复客户", "First answer to the customer"),
    },
    "as_flow_problem": {
        "code": ("缺少流程编号", "the flow has no code"),
        "state": ("状态不在字段字典中", "a state is not in the field dictionary"),
        "initial": ("起始状态不在状态列表中", "the initial state is not one of its states"),
        "transition": ("流转缺少步骤名、起止状态，或状态不在列表中", "a transition lacks a step, its states, or names an unknown state"),
        "guard": ("条件名称不认识", "a condition is not known"),
        "action": ("动作名称不认识", "an action is not known"),
        "action_param": ("动作参数不认识", "an action parameter is not known"),
        "terminal": ("结束状态不在状态列表中", "a final state is not one of its states"),
        "dead_end": ("非结束状态没有出路", "a state that is not final has no way out"),
        "kind": ("流程编号必须是售后类型之一", "the flow code must be an after-sales kind"),
        "sms_template": ("短信模板未登记或参数不认识", "an SMS template is not registered or names unknown values"),
        "name": ("流程名称不能为空", "the flow needs a name"),
        "unreachable": ("从起始状态走不到这个状态", "no step leads to this state from the start"),
    },
    # The customer-service filter bar (issue #7).
    "sla_risk": {
        "overdue": ("已超时未发货", "Overdue, not shipped"),
        "due_soon": ("2小时内到期", "Due within 2 hours"),
        "on_track": ("时间充裕", "On track"),
    },
    "hour_band": {
        "0-6": ("凌晨 0–6 点", "Night 0–6"),
        "6-12": ("上午 6–12 点", "Morning 6–12"),
        "12-18": ("下午 12–18 点", "Afternoon 12–18"),
        "18-22": ("晚间 18–22 点", "Evening 18–22"),
        "22-24": ("深夜 22–24 点", "Late night 22–24"),
    },
    "map_measure": {
        "count": ("按订单数", "By order count"),
        "exception_rate": ("按异常率", "By exception rate"),
    },
    "as_guard": {
        "order_shipped": ("订单已发货", "the order has shipped"),
        "stock_available": ("新尺码有库存", "the new size is in stock"),
        "inspection_passed": ("验货通过", "inspection passed"),
        "near_expiry": ("临期商品", "near-expiry goods"),
        "red_letter_settled": ("红冲已完成或无需红冲", "red-flush settled or not needed"),
        "red_letter_void": ("红字确认单已作废", "the red-letter confirmation is void"),
    },
    "as_action": {
        "set_lines": ("设置商品行状态", "set the lines' status"),
        "create_linked_order": ("生成换货/补发单并预留库存", "create the exchange/re-ship order and reserve it"),
        "invoice_reissue": ("原发票待重开", "original invoice to be re-issued"),
        "procurement_alert": ("通知采购补货", "alert procurement"),
        "cs_notice": ("提醒客服", "tell customer service"),
        "sms": ("发短信给客户", "text the customer"),
        "refund": ("计算并登记退款", "work out and record the refund"),
        "gift_threshold": ("满赠门槛检查", "gift threshold check"),
        "write_off": ("临期商品报损", "write off near-expiry goods"),
        "restock": ("退货入库", "back to stock"),
        "red_flush": ("发起红字确认单", "start the red-letter confirmation"),
        "platform_answer": ("在平台答复退款申请", "answer the refund on the platform"),
    },
    "red_confirm_state": {
        "01": ("无需确认", "No confirmation needed"),
        "02": ("销方录入待购方确认", "Entered by seller, awaiting buyer"),
        "03": ("购方录入待销方确认", "Entered by buyer, awaiting seller"),
        "04": ("购销双方已确认", "Confirmed by both"),
        "05": ("作废（销方录入购方否认）", "Void (buyer denied)"),
        "06": ("作废（购方录入销方否认）", "Void (seller denied)"),
        "07": ("作废（超72小时未确认）", "Void (not confirmed within 72 h)"),
        "08": ("作废（发起方已撤销）", "Void (withdrawn)"),
        "09": ("作废（确认后撤销）", "Void (withdrawn after confirmation)"),
        "10": ("作废（异常凭证）", "Void (irregular voucher)"),
    },
    "as_linked_mode": {
        "exchange": ("换货单", "Exchange order"),
        "reship": ("补发单", "Re-ship order"),
    },
    "as_gift_policy": {
        "return": ("赠品一并退回", "Gift comes back too"),
        "deduct": ("从退款中扣除赠品价值", "Deduct the gift's value from the refund"),
    },
    "as_platform_decision": {
        "agree": ("同意退款", "Agree to the refund"),
        "refuse": ("拒绝退款", "Refuse the refund"),
    },
    "as_cs_message": {
        "AS_CS_OUT_OF_STOCK": ("换货商品缺货，已通知采购", "Exchange item out of stock, procurement told"),
    },
    "red_reason": {
        "01": ("开票有误", "Invoicing error"),
        "02": ("销货退回", "Goods returned"),
        "03": ("服务中止", "Service stopped"),
        "04": ("销售折让", "Sales allowance"),
    },
    "outbox_topic": {
        "sms": ("短信", "SMS"),
        "procurement.alert": ("采购补货提醒", "Procurement alert"),
        "cs.notice": ("客服提醒", "Customer-service notice"),
        "erp.webhook": ("ERP 推送", "ERP webhook"),
    },
    "reservation_status": {
        "active": ("已预留", "Reserved"),
        "released": ("已释放", "Released"),
        "consumed": ("已出库", "Shipped"),
    },
    # --- sync (issue #6) ---
    "sync_command": {
        "order.cancel": ("取消订单", "Cancel order"),
        "order.change_address": ("修改收货地址", "Change delivery address"),
        "order.add_warehouse_note": ("给仓库留言", "Note for the warehouse"),
        "order.change_status": ("变更订单环节", "Change order stage"),
        "auth.offline_event": ("离线登录记录", "Offline sign-in record"),
        "pick.ship_parcel": ("分包裹发货", "Ship a parcel"),
        "station.print_failure": ("上报打印故障", "Report a printer failure"),
    },
    # why a slip did not print (the print queue's problem codes), as the 主管 station counts them
    "print_problem": {
        "PRINTER_PAPER_OUT": ("缺纸", "Out of paper"),
        "PRINTER_COVER_OPEN": ("打印机开盖", "Cover open"),
        "PRINTER_OFFLINE": ("打印机离线", "Printer offline"),
        "PRINTER_UNREACHABLE": ("连不上打印机", "Printer unreachable"),
        "PRINTER_CONNECTION_LOST": ("打印中断开", "Link lost while printing"),
        "PRINTER_JOB_IN_DOUBT": ("程序中断，可能已打出", "Interrupted, may have printed"),
    },
    "print_failure_field": {
        "printer": ("打印机", "printer"),
        "job_id": ("打印任务", "print job"),
        "reason": ("故障原因", "reason"),
        "failed_at": ("发生时间", "time it happened"),
    },
    "station_state": {
        "online": ("在线", "Online"),
        "offline": ("离线", "Offline"),
    },
    "sync_outcome": {
        "pending": ("待提交", "Waiting to be sent"),
        "accepted": ("已生效", "Applied"),
        "rejected": ("未被接受", "Not accepted"),
        "acknowledged": ("已知悉", "Seen"),
    },
    # --- warehouse (issue #8) ---
    "wave_status": {
        "open": ("拣货中", "Being picked"),
        "closed": ("已完成", "Done"),
    },
    "pick_status": {
        "picking": ("拣货中", "Picking"),
        "confirmed": ("已拣完待出库", "Picked, to dispatch"),
        "shipped": ("已出库", "Dispatched"),
        "stopped": ("已停止", "Stopped"),
    },
    "pick_priority": {
        "urgent": ("加急", "Urgent"),
        "normal": ("普通", "Normal"),
    },
    "scan_refusal": {
        "wrong_item": ("拿错商品", "Wrong item"),
        "too_many": ("多拿", "One too many"),
        "cancelled": ("订单已取消", "Order cancelled"),
        "no_pick": ("未先扫订单", "No order opened"),
        "unknown": ("无法识别", "Not recognised"),
        "notice_open": ("有未确认的变更通知", "Change notice not yet acknowledged"),
        "not_ready": ("订单不在待拣环节", "Order not ready to pick"),
        "taken": ("他人正在拣货", "Being picked by someone else"),
        "bad_tracking": ("快递单号无效", "Not a tracking number"),
    },
    # 订单健康度 (issue #16)
    "health_metric": {
        "consistency": ("状态一致性", "Status consistency"),
        "response": ("协同时效性", "Response time"),
        "traceability": ("规则可追溯性", "Rule traceability"),
        "real_on_time": ("真实履约率", "Real on-time rate"),
        "nominal_on_time": ("名义履约率", "Nominal on-time rate"),
        "orders": ("订单数", "Orders"),
        "rescued": ("人工补救订单", "Orders rescued by hand"),
        "late": ("超时发货", "Shipped late"),
        "shipped": ("已发货订单", "Shipped orders"),
        "on_time": ("按时发货", "Shipped on time"),
        "rescued_on_time": ("靠人工补救按时发货", "On time only after a rescue"),
        "mismatched": ("状态不一致", "Status disagrees"),
        "untraceable": ("不可追溯", "Story does not resolve"),
        "overdue": ("超时未发货", "Overdue, not shipped"),
        "sync_p50": ("同步延迟 P50", "Sync delay p50"),
        "sync_p95": ("同步延迟 P95", "Sync delay p95"),
        "handling": ("售后处理时长", "After-sales handling time"),
        "agent_orders": ("人均日处理订单", "Orders per agent per day"),
        "outbox_backlog": ("待发送消息积压", "Outbox backlog"),
        "dead_letters": ("发送失败消息", "Failed messages"),
        "print_failures": ("打印失败", "Print failures"),
        "stations_online": ("在线工作站", "Stations online"),
        "stations_offline": ("离线工作站", "Stations offline"),
    },
    "health_rating": {
        "green": ("达标", "On target"),
        "amber": ("预警", "Warning"),
        "red": ("未达标", "Off target"),
        "none": ("无数据", "No data"),
    },
    "health_grain": {
        "hour": ("按小时", "Hourly"),
        "day": ("按天", "Daily"),
        "week": ("按周", "Weekly"),
    },
    "health_dimension": {
        "shop": ("店铺", "Shop"),
        "warehouse": ("发货仓", "Warehouse"),
        "platform": ("来源平台", "Platform"),
        "agent": ("客服", "Agent"),
    },
    "outside_source": {
        "platform": ("平台", "Platform"),
        "erp": ("ERP", "ERP"),
    },
    "slip_profile": {
        "a5": ("A5 宽幅热敏（6 英寸）", "A5 wide thermal (6 in)"),
        "4in": ("4 英寸热敏", "4-inch thermal"),
        "80mm": ("80 毫米热敏", "80 mm thermal"),
        "58mm": ("58 毫米热敏", "58 mm thermal"),
    },
    # --- admin station (issue #14) ---
    "import_kind": {
        "warehouses": ("仓库", "Warehouses"),
        "bins": ("库位", "Bins"),
        "skus": ("商品与库存", "Products and stock"),
    },
    "import_action": {
        "new": ("新增", "New"),
        "update": ("更新", "Update"),
        "refused": ("有错误", "Has errors"),
    },
    "value_type": {
        "text": ("文字", "Text"),
        "decimal": ("小数", "Decimal"),
        "int": ("整数", "Whole number"),
        "percent": ("百分比", "Percentage"),
        "datetime": ("日期时间", "Date and time"),
        "bool": ("是/否", "Yes/no"),
    },
    "printer_backend": {
        "network": ("网络打印机（IP）", "Network printer (IP)"),
        "usb": ("USB 打印机", "USB printer"),
        "serial": ("串口打印机", "Serial printer"),
        "file": ("写入文件（测试用）", "Write to a file (testing)"),
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
