"""The demo company's after-sales flows, exactly as an admin would save them in the configuration.

Each is plain data (states, steps with guards and actions, SMS templates registered with the
gateway) and is saved as version 1 when the demo is seeded; editing one later makes version 2
for new cases while open ones finish on theirs.
"""

from __future__ import annotations

from typing import Any

SIGN_NAME = "小树苗童装"
#: What the brand registered with the SMS gateway (template code → text); the simulator knows the same.
SMS_TEMPLATE_TEXTS = {
    "SMS_467890101": "您的换货已受理，换货单${new_order_no}（${item} ${size}码）预计${ship_by}前发出。",
    "SMS_467890102": "您的退货申请${case_no}已同意，请在7天内寄回商品，运费由我们承担。",
    "SMS_467890103": "您的售后单${case_no}已退款${amount}元，将原路退回，请注意查收。",
    "SMS_467890104": "您订单${order_no}缺少的商品已补发，补发单${new_order_no}预计${ship_by}前发出。",
}

EXCHANGE: dict[str, Any] = {
    "code": "exchange", "name": "尺码调换",
    "states": ["requested", "exchange_created", "out_of_stock", "closed", "rejected"],
    "initial": "requested", "terminal": ["closed", "rejected"],
    "sms_templates": {"exchange_created": {"code": "SMS_467890101", "params": ["new_order_no", "item", "size", "ship_by"]}},
    # Freeze the line being exchanged (only that line: the rest of the order is not touched).
    "on_open": [{"action": "set_lines", "status": "frozen"}],
    "transitions": [
        {"step": "check_stock", "from": ["requested", "out_of_stock"], "to": "exchange_created",
         "guards": [{"guard": "stock_available"}],
         "actions": [{"action": "create_linked_order", "mode": "exchange", "ship_within_hours": 24},
                     {"action": "set_lines", "status": "exchanged"},
                     {"action": "invoice_reissue"},
                     {"action": "sms", "template": "exchange_created"}]},
        {"step": "check_stock", "from": ["requested", "out_of_stock"], "to": "out_of_stock",
         "guards": [{"guard": "stock_available", "not": True}],
         "actions": [{"action": "procurement_alert"}, {"action": "cs_notice", "message": "AS_CS_OUT_OF_STOCK"}]},
        {"step": "reject", "from": ["requested", "out_of_stock"], "to": "rejected", "needs_basis": True,
         "actions": [{"action": "set_lines", "status": "normal"}]},
        {"step": "close", "from": ["exchange_created"], "to": "closed"},
    ],
}

RETURN_REFUND: dict[str, Any] = {
    "code": "return_refund", "name": "退货退款",
    "states": ["requested", "awaiting_return", "received", "inspected", "refunded", "closed", "rejected"],
    "initial": "requested", "terminal": ["closed", "rejected"],
    "sms_templates": {"return_approved": {"code": "SMS_467890102", "params": ["case_no"]},
                      "refunded": {"code": "SMS_467890103", "params": ["case_no", "amount"]}},
    "on_open": [{"action": "set_lines", "status": "refunding"}],
    "transitions": [
        # 临期商品: not worth the return parcel; refund and write off, never back to stock.
        {"step": "approve", "from": ["requested"], "to": "inspected", "guards": [{"guard": "near_expiry", "days": 30}],
         "actions": [{"action": "write_off"}]},
        {"step": "approve", "from": ["requested"], "to": "awaiting_return",
         "actions": [{"action": "gift_threshold", "threshold": "299.00", "policy": "return"},
                     {"action": "sms", "template": "return_approved"}]},
        {"step": "receive", "from": ["awaiting_return"], "to": "received"},
        {"step": "inspect", "from": ["received"], "to": "inspected", "guards": [{"guard": "inspection_passed"}],
         "actions": [{"action": "restock"}]},
        {"step": "inspect", "from": ["received"], "to": "rejected", "needs_basis": True,
         "guards": [{"guard": "inspection_passed", "not": True}],
         "actions": [{"action": "set_lines", "status": "normal"}]},
        {"step": "refund", "from": ["inspected"], "to": "refunded",
         "actions": [{"action": "refund"}, {"action": "set_lines", "status": "refunded"},
                     {"action": "red_flush", "reason": "02"}, {"action": "sms", "template": "refunded"}]},
        {"step": "redo_red_flush", "from": ["refunded"], "to": "refunded", "guards": [{"guard": "red_letter_void"}],
         "actions": [{"action": "red_flush", "reason": "02"}]},
        {"step": "close", "from": ["refunded"], "to": "closed", "guards": [{"guard": "red_letter_settled"}]},
        {"step": "reject", "from": ["requested"], "to": "rejected", "needs_basis": True,
         "actions": [{"action": "set_lines", "status": "normal"}, {"action": "platform_answer", "decision": "refuse"}]},
    ],
}

REFUND_ONLY: dict[str, Any] = {
    "code": "refund_only", "name": "仅退款",
    "states": ["requested", "refunded", "closed", "rejected"],
    "initial": "requested", "terminal": ["closed", "rejected"],
    "sms_templates": {"refunded": {"code": "SMS_467890103", "params": ["case_no", "amount"]}},
    "on_open": [{"action": "set_lines", "status": "refunding"}],
    "transitions": [
        {"step": "refund", "from": ["requested"], "to": "refunded", "needs_basis": True,
         "actions": [{"action": "refund"}, {"action": "set_lines", "status": "refunded"},
                     {"action": "red_flush", "reason": "04"}, {"action": "sms", "template": "refunded"}]},
        {"step": "redo_red_flush", "from": ["refunded"], "to": "refunded", "guards": [{"guard": "red_letter_void"}],
         "actions": [{"action": "red_flush", "reason": "04"}]},
        {"step": "close", "from": ["refunded"], "to": "closed", "guards": [{"guard": "red_letter_settled"}]},
        {"step": "reject", "from": ["requested"], "to": "rejected", "needs_basis": True,
         "actions": [{"action": "set_lines", "status": "normal"}, {"action": "platform_answer", "decision": "refuse"}]},
    ],
}

RESHIP: dict[str, Any] = {
    "code": "reship", "name": "补发",
    "states": ["requested", "reshipped", "out_of_stock", "closed", "rejected"],
    "initial": "requested", "terminal": ["closed", "rejected"],
    "sms_templates": {"reshipped": {"code": "SMS_467890104", "params": ["order_no", "new_order_no", "ship_by"]}},
    "transitions": [
        {"step": "approve", "from": ["requested", "out_of_stock"], "to": "reshipped", "guards": [{"guard": "stock_available"}],
         "actions": [{"action": "create_linked_order", "mode": "reship", "ship_within_hours": 24},
                     {"action": "sms", "template": "reshipped"}]},
        {"step": "approve", "from": ["requested", "out_of_stock"], "to": "out_of_stock",
         "guards": [{"guard": "stock_available", "not": True}],
         "actions": [{"action": "procurement_alert"}, {"action": "cs_notice", "message": "AS_CS_OUT_OF_STOCK"}]},
        {"step": "reject", "from": ["requested", "out_of_stock"], "to": "rejected", "needs_basis": True},
        {"step": "close", "from": ["reshipped"], "to": "closed"},
    ],
}

FLOWS = (EXCHANGE, RETURN_REFUND, REFUND_ONLY, RESHIP)
