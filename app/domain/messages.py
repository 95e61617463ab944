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
        "（工作站窗口尚未提供：用 `orderhub orders` 查看订单）",
        "(The station window is not available yet: use `orderhub orders`.)",
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
}

# Nouns used inside messages.
NOUNS: dict[str, tuple[str, str]] = {
    "order": ("订单", "order"),
    "shop": ("店铺", "shop"),
    "warehouse": ("仓库", "warehouse"),
    "sku": ("商品", "product"),
    "payload": ("隔离报文", "quarantined payload"),
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
