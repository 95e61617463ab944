"""The message catalogue: business-language sentences for every coded error and notice."""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass

from app.domain.fields import Lang, code_label


@dataclass(frozen=True, slots=True)
class Coded:
    """A coded value inside a message, shown by its business name in the reader's language."""

    codes: str
    value: str

    def render(self, lang: Lang) -> str:
        return code_label(self.codes, self.value, lang)

# code → (zh, en); placeholders are filled from the error's params.
MESSAGES: dict[str, tuple[str, str]] = {
    "BUSINESS_RULE": ("业务规则不允许此操作", "The business rules do not allow this"),
    "ORDER_TRANSITION_NOT_ALLOWED": (
        "订单 {order_no} 当前处于「{current}」，不能变更为「{target}」。允许的下一环节：{allowed}",
        "Order {order_no} is at stage “{current}” and cannot move to “{target}”. Allowed next stages: {allowed}",
    ),
    "ADDRESS_CHANGE_TOO_LATE": (
        "订单 {order_no} 当前处于「{current}」，包裹已发出或订单已关闭，不能再修改收货地址",
        "Order {order_no} is at stage “{current}”: the parcel has left or the order is closed, so the address can no longer change",
    ),
    "VERSION_CONFLICT": (
        "订单 {order_no} 已被他人修改（您看到的是第 {expected} 版，当前为第 {actual} 版），请刷新后重试，未做任何更改",
        "Order {order_no} was changed by someone else (you saw version {expected}, it is now {actual}). "
        "Nothing was changed; refresh and try again",
    ),
    "NOT_FOUND": ("找不到{what}「{key}」", "No {what} “{key}” was found"),
    "BASIS_REQUIRED": (
        "「{action}」必须填写操作人和原始依据（工单号、聊天记录或截图）",
        "“{action}” needs an operator and a basis (ticket, chat message or screenshot)",
    ),
    "INVALID_VALUE": ("{field}的值「{value}」无效：{reason}", "{field} “{value}” is not valid: {reason}"),
    "DATABASE_UNAVAILABLE": (
        "暂时连不上订单数据库（{detail}），操作未执行，请稍后重试",
        "The order database cannot be reached ({detail}); nothing was done, please try again shortly",
    ),
    "AUDIT_CHAIN_OK": ("审计日志完整：共 {count} 条记录，哈希链未被篡改", "Audit trail intact: {count} records, hash chain unbroken"),
    "AUDIT_CHAIN_BROKEN": (
        "审计日志第 {record_id} 号记录被篡改或缺失（{reason}），共检查 {checked} 条",
        "Audit record {record_id} was tampered with or is missing ({reason}); {checked} records checked",
    ),
    "AUDIT_EMPTY": ("审计日志为空", "The audit trail is empty"),
    "AUDIT_BROKEN_LINK": ("与前一条记录的链接断开", "its link to the previous record is broken"),
    "AUDIT_BROKEN_HASH": ("记录内容与哈希不符", "its content does not match its hash"),
    "DB_EMBEDDED": ("内置数据库", "built-in database"),
    "DB_SHARED": ("共享数据库", "shared database"),
    "DB_UPGRADED": ("数据库结构已是最新版本 {revision}（{seconds:.2f} 秒）", "Schema is at the newest version {revision} ({seconds:.2f} s)"),
    "DB_STATUS": ("当前版本：{current}  最新版本：{head}", "current: {current}  newest: {head}"),
    "DEMO_NO_WINDOW": (
        "（这台机器没有图形界面，未打开工作站窗口：可用 `orderhub orders` 查看订单）",
        "(No screen on this machine, so no station window: use `orderhub orders` to see orders.)",
    ),
    "DEMO_SEEDED": ("演示公司「小树苗童装」已生成（种子 {seed}，用时 {seconds:.1f} 秒）",
                    "Demo company 小树苗童装 seeded (seed {seed}, {seconds:.1f} s)"),
    "DEMO_EXISTS": ("演示数据已存在，未重新生成（需要重来请加 --reset）",
                    "Demo data is already there; nothing was changed (use --reset to start over)"),
    "SIM_RUNNING": ("{platform}模拟器已在 {url} 运行（app_key {app_key}），按 Ctrl+C 停止",
                    "{platform} simulator running at {url} (app_key {app_key}); Ctrl+C stops it"),
    "HUB_RUNNING": ("订单接入服务 {hub_id} 已启动；推送与门店POS接收地址 {url}，按 Ctrl+C 停止",
                    "Hub {hub_id} running; pushes and store POS sales go to {url}; Ctrl+C stops it"),
    "HUB_STATUS": ("[{at}] 订单总数 {orders}", "[{at}] orders in the hub: {orders}"),
    "QUARANTINE_EMPTY": ("没有隔离的报文", "No payloads are in quarantine"),
    "QUARANTINE_ROW": ("#{id}  {source}  {kind}  {at}  已尝试 {attempts} 次  原因：{error}",
                       "#{id}  {source}  {kind}  {at}  tried {attempts}×  reason: {error}"),
    "QUARANTINE_RETRIED": ("隔离报文 #{id} 已重新解析并入库（订单 {order_no}）", "Payload #{id} parsed and stored (order {order_no})"),
    "QUARANTINE_STILL": ("隔离报文 #{id} 仍无法解析：{error}", "Payload #{id} still cannot be read: {error}"),
    "CHOOSE_FROM": ("可选值：{choices}", "choose from: {choices}"),
    "FILTER": ("筛选条件", "filter"),
    # --- routing rules, allocation, trace, dry run (issue #4) ---
    "RULE_INVALID": ("规则「{rule}」不能保存：写法有误", "Rule “{rule}” cannot be saved: it is not written correctly"),
    "RULE_NO_NAME": ("规则不能保存：请填写规则名称", "The rule cannot be saved: give it a name"),
    "RULE_BAD_CODE": ("规则编号「{rule_code}」不能用：只能用字母、数字、- 和 _，最长 40 个字符",
                      "Rule code “{rule_code}” cannot be used: letters, digits, - and _ only, at most 40 characters"),
    "RULE_BAD_PRIORITY": ("规则「{rule}」不能保存：优先级应为 0 到 9999 之间的整数，现在是「{found}」",
                          "Rule “{rule}” cannot be saved: the priority must be a whole number from 0 to 9999, not “{found}”"),
    "RULE_BAD_SHAPE": (
        "规则「{rule}」不能保存：看不懂条件「{found}」（应为“全部满足 all / 任一满足 any / 不满足 not”，或“字段 field + 比较 op + 值 value”）",
        "Rule “{rule}” cannot be saved: the condition “{found}” is not understood (use all / any / not, or field + op + value)",
    ),
    "RULE_TOO_COMPLEX": ("规则「{rule}」不能保存：条件太复杂（超过 {limit} 层或条），请拆成几条规则",
                         "Rule “{rule}” cannot be saved: the condition is too complex (over {limit}); split it into several rules"),
    "RULE_UNKNOWN_FIELD": ("规则「{rule}」不能保存：没有「{field}」这个条件字段",
                           "Rule “{rule}” cannot be saved: there is no field “{field}” to test"),
    "RULE_BAD_OPERATOR": ("规则「{rule}」不能保存：「{field}」不能用「{op}」来比较。可用的比较：{allowed}",
                          "Rule “{rule}” cannot be saved: “{field}” cannot be compared with “{op}”. Possible: {allowed}"),
    "RULE_VALUE_MISSING": ("规则「{rule}」不能保存：「{field} {op}」后面缺少要比较的值",
                           "Rule “{rule}” cannot be saved: “{field} {op}” needs a value to compare with"),
    "RULE_VALUE_NOT_EXPECTED": ("规则「{rule}」不能保存：「{field} {op}」不需要填写值",
                                "Rule “{rule}” cannot be saved: “{field} {op}” takes no value"),
    "RULE_NEEDS_LIST": ("规则「{rule}」不能保存：「{field} {op}」需要一个至少含一项的列表",
                        "Rule “{rule}” cannot be saved: “{field} {op}” needs a list of at least one value"),
    "RULE_NEEDS_PAIR": ("规则「{rule}」不能保存：「{field} {op}」需要两个值：下限和上限",
                        "Rule “{rule}” cannot be saved: “{field} {op}” needs two values, low and high"),
    "RULE_PAIR_REVERSED": ("规则「{rule}」不能保存：「{field}」的下限 {low} 大于上限 {high}",
                           "Rule “{rule}” cannot be saved: for “{field}” the low value {low} is above the high value {high}"),
    "RULE_BAD_VALUE": ("规则「{rule}」不能保存：「{field}」的值「{value}」不对，应填写{expected}",
                       "Rule “{rule}” cannot be saved: “{value}” is not a valid value for “{field}”; expected {expected}"),
    "RULE_NO_ACTION": (
        "规则「{rule}」不能保存：至少要有一个动作（指定发货仓、设置最晚发货时间、绑定电子发票、添加赠品或挂起待审核）",
        "Rule “{rule}” cannot be saved: it needs at least one action (warehouse, ship-by, e-invoice, gift or hold)",
    ),
    "RULE_UNKNOWN_ACTION": ("规则「{rule}」不能保存：看不懂动作「{found}」。可用的动作：{allowed}",
                            "Rule “{rule}” cannot be saved: the action “{found}” is not known. Possible: {allowed}"),
    "RULE_DUPLICATE_ACTION": ("规则「{rule}」不能保存：动作「{action}」出现了两次",
                              "Rule “{rule}” cannot be saved: the action “{action}” appears twice"),
    "RULE_BAD_ACTION": ("规则「{rule}」不能保存：动作「{action}」的写法有误（{found}）",
                        "Rule “{rule}” cannot be saved: the action “{action}” is not written correctly ({found})"),
    "RULE_UNKNOWN_WAREHOUSE": ("规则「{rule}」不能保存：没有编码为「{warehouse}」的仓库。现有仓库：{known}",
                               "Rule “{rule}” cannot be saved: there is no warehouse “{warehouse}”. Warehouses: {known}"),
    "RULE_UNKNOWN_SKU": ("规则「{rule}」不能保存：没有商品编码「{sku}」",
                         "Rule “{rule}” cannot be saved: there is no SKU “{sku}”"),
    "RULE_BAD_HOURS": ("规则「{rule}」不能保存：最晚发货时间应为 1 到 720 之间的整数小时，现在是「{found}」",
                       "Rule “{rule}” cannot be saved: the ship-by time must be 1 to 720 whole hours, not “{found}”"),
    "RULE_BAD_HOLD_REASON": ("规则「{rule}」不能保存：挂起原因「{found}」不认识。可选：{allowed}",
                             "Rule “{rule}” cannot be saved: hold reason “{found}” is not known. Possible: {allowed}"),
    "RULE_SAVED": ("规则「{rule}」已保存为第 {version} 版", "Rule “{rule}” saved as version {version}"),
    "RULE_UNCHANGED": ("规则「{rule}」内容没有变化，仍为第 {version} 版", "Rule “{rule}” is unchanged, still version {version}"),
    "RULE_ENABLED": ("规则「{rule}」已启用", "Rule “{rule}” enabled"),
    "RULE_DISABLED": ("规则「{rule}」已停用", "Rule “{rule}” disabled"),
    "RULES_NONE": ("还没有路由规则", "There are no routing rules yet"),
    "RULE_FIELD_STOCK_AT": ("{warehouse}可用库存（最紧的商品）", "Free stock at {warehouse} (tightest item)"),
    "RULE_FIELD_CAN_SHIP_AT": ("{warehouse}可整单发货（不低于安全库存）", "{warehouse} can ship it all above safety stock"),
    "RULE_ALWAYS": ("所有订单", "every order"),
    "RULE_NEVER": ("没有订单", "no order"),
    "RULE_AND": ("，并且 ", ", and "),
    "RULE_OR": ("，或者 ", ", or "),
    "RULE_NOT": ("不满足{inner}", "not {inner}"),
    "RULE_ANY_ITEM": ("任一商品的{field}", "any item's {field}"),
    "RULE_RANGE": ("{low} 至 {high}", "{low} and {high}"),
    "RULE_SENTENCE": ("如果 {condition}，那么 {actions}", "If {condition}, then {actions}"),
    "RULE_ACT_WAREHOUSE": ("优先{first}，低于安全水位溢出至{rest}", "ship from {first}; below safety stock, overflow to {rest}"),
    "RULE_ACT_WAREHOUSE_ONLY": ("由{first}发货", "ship from {first}"),
    "RULE_ACT_NO_SPLIT": ("（不拆单）", " (never split)"),
    "RULE_ACT_NO_SAFETY": ("（不动用安全库存）", " (never below safety stock)"),
    "RULE_ACT_SHIP_BY": ("付款后{hours}小时内出库", "ship within {hours} h of payment"),
    "RULE_ACT_INVOICE": ("自动绑定电子发票", "bind an e-invoice automatically"),
    "RULE_ACT_GIFT": ("赠送{gift}×{qty}", "add the gift {gift} ×{qty}"),
    "RULE_ACT_GIFT_ONE_OF": ("赠送{gift}等 {options} 款之一×{qty}", "add one of {options} gifts such as {gift} ×{qty}"),
    "RULE_ACT_HOLD": ("挂起待审核（{reason}）", "hold for review ({reason})"),
    "YES": ("是", "yes"),
    "NO": ("否", "no"),
    "ALLOC_WHOLE": ("{warehouse}可整单发货，发货后各商品不低于安全库存",
                    "{warehouse} ships the whole order and stays above safety stock"),
    "ALLOC_OVERFLOW": ("溢出至{warehouse}整单发货", "overflowed to {warehouse}, which ships the whole order"),
    "ALLOC_BELOW_SAFETY": ("{warehouse}：{sku} 可用 {free} 件，发 {qty} 件后剩 {left} 件，低于安全库存 {safety} 件",
                           "{warehouse}: {sku} has {free} free; after {qty} it would be {left}, below safety stock {safety}"),
    "ALLOC_NOT_ENOUGH": ("{warehouse}：{sku} 可用 {free} 件，不够 {qty} 件", "{warehouse}: {sku} has only {free} free, {qty} needed"),
    "ALLOC_NOT_CARRIED": ("{warehouse}：不存放 {sku}", "{warehouse} does not stock {sku}"),
    "ALLOC_SPLIT": ("没有一个仓能整单发货，拆成 {parts} 个包裹", "no single warehouse can ship it all: split into {parts} parcels"),
    "ALLOC_SPLIT_SAFETY": ("没有一个仓能整单发货，动用安全库存拆成 {parts} 个包裹",
                           "no single warehouse can ship it all: split into {parts} parcels using safety stock"),
    "ALLOC_SAFETY_USED": ("各仓都会低于安全库存，动用{warehouse}的安全库存整单发货",
                          "every warehouse would fall below safety stock: {warehouse} ships it from safety stock"),
    "ALLOC_SHORTAGE": ("缺货：{sku} 需要 {qty} 件，可选仓库合计可用 {free} 件",
                       "out of stock: {sku} needs {qty}, the allowed warehouses have {free} free"),
    "ALLOC_NOTHING": ("没有需要发货的商品（各行均已退款）", "nothing left to ship (every line refunded)"),
    "ALLOC_NO_SINGLE": ("没有一个仓能整单发货，规则不允许拆单", "no single warehouse can ship it all and the rule forbids splitting"),
    "ALLOC_GIFT_DROPPED": ("赠品 {sku}×{qty} 在发货仓缺货，未随单发出", "gift {sku} ×{qty} is out of stock where the order ships; left out"),
    "ALLOC_DEFAULT": ("没有发货仓规则命中，按默认顺序：{warehouses}", "no warehouse rule fired; default order: {warehouses}"),
    "ALLOC_STICKY": ("订单已在{warehouse}配货，优先留在原仓", "the order is already being picked at {warehouse}, so it stays there if it can"),
    "ALLOC_HELD": ("挂起待审核，未预留库存", "held for review: no stock reserved"),
    "STOCK_CHANGED": ("库存在分配过程中被改动，订单 {order_no} 未分配，未做任何更改，请重试",
                      "Stock changed while order {order_no} was being allocated; nothing was changed, please retry"),
    "HOLD_NOT_FOUND": ("订单 {order_no} 没有待审核的挂起", "Order {order_no} is not on hold"),
    "TRACE_SECTION_ORDER": ("订单", "Order"),
    "TRACE_SECTION_STORY": ("经过", "What happened"),
    "TRACE_SECTION_DOCS": ("关联单据", "Linked documents"),
    "TRACE_ORDERED": ("下单", "Ordered"),
    "TRACE_PAID": ("付款", "Paid"),
    "TRACE_DECISION": ("路由判断（{trigger}，执行者 {operator}）：{outcome}", "Routing ({trigger}, by {operator}): {outcome}"),
    "TRACE_RULE_FIRED": ("命中规则「{rule}」第 {version} 版{newer}：{sentence}", "Rule “{rule}” version {version} fired{newer}: {sentence}"),
    "TRACE_RULE_NEWER": ("（当时生效的版本；现为第 {current} 版）", " (the version then in force; now version {current})"),
    "TRACE_RULE_OVERRIDDEN": ("（已命中，但「{action}」由另一条规则决定）", " (fired, but “{action}” was decided by another rule)"),
    "TRACE_RULE_REVIEWED": ("（已命中，但此前已由人工审核放行，不再挂起）", " (fired, but a person already reviewed and released this hold)"),
    "TRACE_RULES_NOT_FIRED": ("另有 {count} 条规则已判断、未命中", "{count} other rules were checked and did not fire"),
    "TRACE_RULES_BROKEN": ("{count} 条规则因引用已失效未参与判断：{rules}", "{count} rules were skipped because what they refer to is gone: {rules}"),
    "TRACE_INPUTS": ("判断依据：{inputs}", "Inputs seen: {inputs}"),
    "TRACE_WAREHOUSE": ("发货仓：{warehouses}。原因：{why}", "Warehouse: {warehouses}. Why: {why}"),
    "TRACE_PART": ("第 {n} 包 {warehouse}：{lines}", "Parcel {n} from {warehouse}: {lines}"),
    "TRACE_SHIP_BY": ("最晚发货时间设为 {ship_by}（规则「{rule}」）", "Ship-by set to {ship_by} (rule “{rule}”)"),
    "TRACE_INVOICE_BOUND": ("已绑定电子发票（规则「{rule}」）", "E-invoice bound (rule “{rule}”)"),
    "TRACE_GIFT": ("添加赠品 {sku}×{qty}（规则「{rule}」）", "Gift {sku} ×{qty} added (rule “{rule}”)"),
    "TRACE_HOLD": ("挂起待审核：{reason}（规则「{rule}」）", "Held for review: {reason} (rule “{rule}”)"),
    "TRACE_HOLD_RELEASED": ("解除挂起（{reason}），操作人 {operator}，依据：{basis}", "Hold ({reason}) released by {operator}; basis: {basis}"),
    "TRACE_RELEASED": ("释放预留库存：{lines}", "Reservation released: {lines}"),
    "TRACE_AUDIT": ("{action}，操作人 {operator}（{station}，{ip}），依据：{basis}", "{action} by {operator} ({station}, {ip}); basis: {basis}"),
    "TRACE_AUDIT_CHANGE": ("{field}：{before} → {after}", "{field}: {before} → {after}"),
    "TRACE_SHIPPED": ("{carrier}揽收，运单号 {tracking_no}（{warehouse}）", "Collected by {carrier}, tracking no. {tracking_no} ({warehouse})"),
    "TRACE_TRACKING": ("物流最新：{description}", "Latest tracking: {description}"),
    "TRACE_INVOICE": ("{kind} {invoice_no}，金额 {amount}，抬头 {title}", "{kind} {invoice_no}, {amount}, to {title}"),
    "TRACE_INVOICE_RED": ("，冲红 {blue}", ", credits {blue}"),
    "TRACE_INVOICE_REISSUE": ("，待重开", ", to be re-issued"),
    "TRACE_CASE": ("售后单 {case_no}（{kind}，{state}）：{reason}", "After-sales case {case_no} ({kind}, {state}): {reason}"),
    "TRACE_EXCHANGE": ("换货单 {order_no}（售后单 {case_no}）", "Exchange order {order_no} (case {case_no})"),
    "TRACE_EXCHANGE_OF": ("本单是订单 {order_no} 的换货单（售后单 {case_no}）", "This order is the exchange for order {order_no} (case {case_no})"),
    "TRACE_PARTS": ("拆单包裹", "Split parcels"),
    "TRACE_INVOICES": ("发票", "Invoices"),
    "TRACE_EXCHANGES": ("换货单", "Exchange orders"),
    "TRACE_CASES": ("售后单", "After-sales cases"),
    "TRACE_NONE": ("无", "none"),
    "TRACE_TOOK": ("（查询用时 {ms} 毫秒）", "(looked up in {ms} ms)"),
    "DRY_RUN_TITLE": ("试用规则「{rule}」：最近 {days} 天的 {orders} 个订单，未做任何更改",
                      "Trying rule “{rule}” on {orders} orders of the last {days} days; nothing was changed"),
    "DRY_RUN_TITLE_OFF": ("试用停用规则「{rule}」：最近 {days} 天的 {orders} 个订单，未做任何更改",
                          "Trying rule “{rule}” switched off on {orders} orders of the last {days} days; nothing was changed"),
    "DRY_RUN_FIRED": ("试用规则命中 {count} 个订单；分配结果变化的订单 {changed} 个{examples}",
                      "The draft fires for {count} orders; {changed} orders would end up differently{examples}"),
    "DRY_RUN_FIRED_OFF": ("这条规则现在命中 {count} 个订单；停用后分配结果变化的订单 {changed} 个{examples}",
                          "Today the rule fires for {count} orders; switched off, {changed} orders would end up differently{examples}"),
    "DRY_RUN_EXAMPLES": ("，例如 {orders}", ", e.g. {orders}"),
    "DRY_RUN_STOCK_NOTE": ("（按当前库存逐单判断，订单之间不累计扣减）", "(each order judged against current stock, not cumulatively)"),
    "OUTCOME_TO": ("发往{warehouse}", "ships from {warehouse}"),
    "OUTCOME_SPLIT": ("拆单：{warehouses}", "split: {warehouses}"),
    "OUTCOME_HELD": ("挂起：{reason}", "held: {reason}"),
    "OUTCOME_SHORTAGE": ("缺货", "out of stock"),
    "OUTCOME_NOTHING": ("无需发货（已全部退款）", "nothing to ship (all refunded)"),
    "OUTCOME_SHIP_BY": ("设置最晚发货时间", "ship-by deadline set"),
    "OUTCOME_INVOICE": ("绑定电子发票", "e-invoice bound"),
    "OUTCOME_GIFT": ("赠品规则命中", "a gift rule applies"),
    # --- after-sales flows, 红字确认单, SMS outbox (issue #5) ---
    "AS_FLOW_INVALID": ("售后流程「{flow}」不能保存：{problem}（{found}）",
                        "After-sales flow “{flow}” cannot be saved: {problem} ({found})"),
    "AS_FLOW_SAVED": ("售后流程「{flow}」已保存为第 {version} 版；进行中的售后单仍按各自开始时的版本处理",
                      "After-sales flow “{flow}” saved as version {version}; open cases keep the version they started with"),
    "AS_FLOW_UNCHANGED": ("售后流程「{flow}」内容没有变化，仍为第 {version} 版", "After-sales flow “{flow}” is unchanged, still version {version}"),
    "AS_NO_FLOW": ("还没有「{kind}」的售后流程，请先在配置中保存", "There is no “{kind}” flow yet; save one in the configuration first"),
    "AS_STEP_NOT_ALLOWED": ("售后单 {case_no} 当前为「{state}」，不能执行「{step}」。可执行：{allowed}，未做任何更改",
                            "Case {case_no} is “{state}” and cannot take the step “{step}”. Possible: {allowed}. Nothing was changed"),
    "AS_STEP_CONDITIONS_UNMET": ("售后单 {case_no}（{state}）不满足「{step}」的条件，未做任何更改",
                                 "Case {case_no} ({state}) does not meet the conditions of “{step}”; nothing was changed"),
    "AS_CASE_CHANGED": ("售后单 {case_no} 已被他人处理（您看到的是第 {expected} 版，当前为第 {actual} 版），请刷新后重试，未做任何更改",
                        "Case {case_no} was handled by someone else (you saw version {expected}, it is now {actual}). Nothing was changed"),
    "AS_LINE_UNKNOWN": ("订单 {order_no} 没有第 {line_no} 行商品，或该行已在其他售后单中处理",
                        "Order {order_no} has no line {line_no}, or that line is already in another case"),
    "AS_SIZE_UNKNOWN": ("{sku} 没有同款同色的 {size} 码", "{sku} does not come in size {size} in the same style and colour"),
    "AS_PHONE_UNUSABLE": ("售后单 {case_no}：收货电话已脱敏，无法发短信，请向客户确认手机号后补发",
                          "Case {case_no}: the receiver phone is masked, no SMS was sent; ask the customer for a number"),
    "AS_CASE_OPENED": ("售后单 {case_no}（{kind}，流程第 {version} 版）已建立，当前「{state}」",
                       "Case {case_no} ({kind}, flow version {version}) opened; now “{state}”"),
    "AS_CASE_STEPPED": ("售后单 {case_no}：{step} → 「{state}」", "Case {case_no}: {step} → “{state}”"),
    "AS_PROCUREMENT_ALERT": ("采购补货：{sku} 缺货，售后单 {case_no} 需要 {qty} 件（可用 {free} 件）",
                             "Restock: {sku} is out of stock; case {case_no} needs {qty} (free {free})"),
    "AS_CS_OUT_OF_STOCK": ("售后单 {case_no}：换货商品 {sku} 暂时缺货，已通知采购；请告知客户预计到货后再发出",
                           "Case {case_no}: {sku} is out of stock, procurement has been told; please let the customer know"),
    "AS_CS_GIFT_RETURN": ("售后单 {case_no}：退货后订单实付 {remaining} 元低于满赠门槛 {threshold} 元，赠品 {gift} 需一并退回（或按 {value} 元从退款中扣除）",
                          "Case {case_no}: after the return the order keeps {remaining}, below the gift threshold {threshold}; the gift {gift} must come back too (or {value} is deducted)"),
    "AS_CS_NEAR_EXPIRY": ("售后单 {case_no}：临期商品 {skus} 无需寄回，直接退款并报损，不回库存",
                          "Case {case_no}: near-expiry goods {skus} need not be sent back; refunded and written off, not restocked"),
    "AS_CS_RED_ESCALATE": ("红字确认单 {confirm_no} 将于 {due} 作废（超72小时未确认），请联系购方尽快确认",
                           "Red-letter confirmation {confirm_no} voids at {due} unless confirmed; please chase the buyer"),
    "AS_CS_RED_VOIDED": ("红字确认单 {confirm_no} 已作废（超72小时未确认），售后单 {case_no} 需重新发起红冲",
                         "Red-letter confirmation {confirm_no} is void (not confirmed within 72 h); case {case_no} must restart the red-flush"),
    "RED_CONFIRM_NOT_ALLOWED": ("红字确认单 {confirm_no} 当前为「{current}」，不能变为「{target}」，未做任何更改",
                                "Red-letter confirmation {confirm_no} is “{current}” and cannot become “{target}”; nothing was changed"),
    "AS_MEDIAN_RESPONSE": ("首次响应时长中位数 {seconds} 秒（{count} 单，目标 ≤ {target} 秒）{verdict}",
                           "Median first response {seconds} s over {count} cases (target ≤ {target} s) {verdict}"),
    "OUTBOX_ROW": ("#{id}  {topic}  {status}  已尝试 {attempts} 次  {key}  {error}", "#{id}  {topic}  {status}  tried {attempts}×  {key}  {error}"),
    "OUTBOX_DISPATCHED": ("短信发送：成功 {sent}，稍后重试 {retry}，失败 {failed}", "SMS: {sent} sent, {retry} to retry, {failed} failed"),
    "SMS_FAILED": ("短信网关拒绝：{code} {message}", "The SMS gateway refused: {code} {message}"),
    # --- sync (issue #6) ---
    "SYNC_STATUS_ONLINE": ("在线：订单实时更新", "Online: orders update live"),
    "SYNC_STATUS_SYNCING": ("正在同步：{pending} 条改动提交中", "Syncing: {pending} changes being sent"),
    "SYNC_STATUS_OFFLINE": (
        "离线：可查看和搜索本机已有订单，改动已保存在本机，恢复连接后自动提交（待提交 {pending} 条）",
        "Offline: orders on this station can be viewed and searched; changes are saved here and sent "
        "automatically when the connection is back ({pending} waiting)",
    ),
    "SYNC_REJECTED_COUNT": ("{count} 条改动未被接受，请查看", "{count} changes were not accepted; please review"),
    "SYNC_COMMAND_REJECTED": ("您的「{action}」（订单 {order_no}）未执行：{reason}",
                              "Your “{action}” (order {order_no}) was not applied: {reason}"),
    "SYNC_ORDER_NOW": ("订单现在为「{status}」（第 {version} 版）", "The order is now “{status}” (version {version})"),
    "SYNC_SAVED": ("已保存在本机，正在提交", "Saved on this station; being sent"),
    "SYNC_UNKNOWN_COMMAND": ("服务器不认识改动「{name}」（工作站版本较新？），未执行",
                             "The server does not know the change “{name}” (is this station newer?); nothing was done"),
    "SYNC_COMMAND_INVALID": ("改动「{name}」内容不完整或无效（{detail}），未执行",
                             "The change “{name}” is incomplete or invalid ({detail}); nothing was done"),
}

# Nouns used inside messages.
NOUNS: dict[str, tuple[str, str]] = {
    "order": ("订单", "order"),
    "shop": ("店铺", "shop"),
    "warehouse": ("仓库", "warehouse"),
    "sku": ("商品", "product"),
    "payload": ("隔离报文", "quarantined payload"),
    "after_sales_case": ("售后单", "after-sales case"),
    "red_letter": ("红字确认单", "red-letter confirmation"),
    "outbox": ("待发送消息", "outbox message"),
}


def render(code: str, lang: Lang = "zh", **params: Any) -> str:
    """The sentence for ``code`` in ``lang`` with ``params`` filled in.

    A missing placeholder never raises: the message is still shown, with the gap visible.
    """
    zh, en = MESSAGES.get(code, MESSAGES["BUSINESS_RULE"])
    template = zh if lang == "zh" else en
    shown: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Coded):
            value = value.render(lang)
        elif isinstance(value, (list, tuple)):
            sep = "、" if lang == "zh" else ", "
            value = sep.join(v.render(lang) if isinstance(v, Coded) else str(v) for v in value) or (
                "无" if lang == "zh" else "none"
            )
        shown[key] = value
    if "what" in shown and shown["what"] in NOUNS:
        shown["what"] = NOUNS[shown["what"]][0 if lang == "zh" else 1]
    try:
        return template.format(**shown)
    except (KeyError, IndexError):
        return template
