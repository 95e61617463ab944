"""门店POS: stores push each sale to the hub over HTTP, signed, because a till cannot be polled.

Wire format (our own, documented here since POS systems are configured to it):
``POST /pos/<store_code>`` with headers ``X-OrderHub-Timestamp`` (Unix seconds) and
``X-OrderHub-Signature`` = lowercase hex HMAC-SHA256(key=store secret, msg=timestamp + "\\n" + body),
and a JSON body ``{"sale_no", "store_code", "sold_at" (ISO 8601 with offset), "cashier", "member_card",
"lines": [{"line_id", "sku", "name", "color", "size", "qty", "unit_price", "paid", "is_gift"}],
"total", "paid"}`` with money as yuan strings. A sale is final when it is pushed (已完成).

What the till is answered (JSON, ``message`` in business language):

- 200 ``{"ok": true, "verdict": "accepted", "sale_no": …}``: the sale is stored for good (its signed bytes are
  committed before this answer); the hub creates its order shortly afterwards, so the answer carries no
  order number (the hub's 订单号 is drawn when the order is created; stations and the order's story show it).
- 200 ``{"ok": true, "verdict": "duplicate", "duplicate": true}``: these exact bytes were received before;
  nothing more is stored. A sale resent with other bytes (same ``sale_no``) is accepted and still makes one
  order: a later copy is judged like any later version of an order (unchanged: nothing happens).
- 200 ``{"ok": false, "quarantined": true}``: signed but unreadable (not JSON, fields missing, amounts that do
  not add up); kept aside with the reason for a person to look at. Do not resend it unchanged.
- 401: a wrong signature or a timestamp more than 5 minutes off; nothing is stored. 404: no enabled store
  with this code. 503: the hub's database is away; nothing was stored, resend the same bytes later (a till
  keeps unsent sales and resends until it gets 200).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.domain.intake import InboundOrder, Line, Receiver
from app.domain.money import yuan
from app.domain.status import OrderStatus
from connectors.base import PayloadError, PlatformError, utc_now

MAX_SKEW = timedelta(minutes=5)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature a store sends with a sale."""
    return hmac.new(secret.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()


class PosReceiver:
    """Verifies and reads sales pushed by one store."""

    platform = "pos"

    def __init__(self, store_code: str, secret: str, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.store_code, self.secret, self.clock = store_code, secret, clock

    def verify(self, headers: dict[str, str], body: bytes) -> None:
        """Raises PlatformError (code ``sign`` or ``timestamp``) unless the store signed this body just now."""
        stamp = headers.get("x-orderhub-timestamp", "")
        given = headers.get("x-orderhub-signature", "")
        if not hmac.compare_digest(sign(self.secret, stamp, body), given):
            raise PlatformError("pos", "sign", "门店销售单签名不正确")
        try:
            at = datetime.fromtimestamp(int(stamp), UTC)
        except ValueError:
            raise PlatformError("pos", "timestamp", "门店销售单时间戳无效") from None
        if abs(self.clock() - at) > MAX_SKEW:
            raise PlatformError("pos", "timestamp", "门店销售单时间与服务器相差超过 5 分钟")

    def normalise(self, body: bytes) -> InboundOrder:
        """A pushed sale in the hub's shape.

        Raises:
            PayloadError: malformed JSON, missing fields or impossible amounts.
        """
        try:
            sale = json.loads(body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as err:
            raise PayloadError(f"门店销售单不是有效的 JSON：{err}") from None
        if not isinstance(sale, dict) or not sale.get("sale_no"):
            raise PayloadError("门店销售单缺少销售单号")
        if sale.get("store_code") != self.store_code:
            raise PayloadError(f"销售单门店「{sale.get('store_code')}」与推送门店「{self.store_code}」不符")
        try:
            sold_at = datetime.fromisoformat(str(sale["sold_at"]))
            if sold_at.tzinfo is None:
                raise PayloadError("销售时间缺少时区")
            lines = tuple(
                Line(platform_line_id=str(ln.get("line_id") or n), sku=str(ln["sku"]), name=str(ln.get("name", "")),
                     qty=int(ln["qty"]), unit_price=yuan(ln["unit_price"]), paid=yuan(ln["paid"]),
                     is_gift=bool(ln.get("is_gift", False)), color=str(ln.get("color", "")),
                     size=str(ln.get("size", "")), platform_status="sold")
                for n, ln in enumerate(sale["lines"], 1))
            total, paid = yuan(sale["total"]), yuan(sale["paid"])
        except PayloadError:
            raise
        except (KeyError, TypeError, ValueError) as err:
            raise PayloadError(f"门店销售单字段缺失或格式错误：{err}") from None
        except Exception as err:  # InvalidValue from yuan(): a business message already
            raise PayloadError(str(err)) from None
        if not lines or any(ln.qty <= 0 for ln in lines):
            raise PayloadError("门店销售单没有商品或数量不是正数")
        if sum((ln.paid for ln in lines), Decimal(0)) != paid:
            raise PayloadError(f"门店销售单明细实付合计与实付金额 {paid} 不符")
        ext = {k: str(sale[k]) for k in ("cashier", "member_card") if sale.get(k)}
        return InboundOrder(
            platform="pos", platform_order_no=str(sale["sale_no"]), status=OrderStatus.COMPLETED,
            platform_status="sold", ordered_at=sold_at.astimezone(UTC), platform_updated_at=sold_at.astimezone(UTC),
            customer_id=str(sale.get("member_card") or f"walk-in:{self.store_code}"), lines=lines,
            original_amount=total, paid_amount=paid, receiver=Receiver(), paid_at=sold_at.astimezone(UTC), ext=ext)
