"""What the carrier connectors share: a tracking node, a parsed push, and the states a parcel passes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from app.domain.tracking import Node, TrackingPush  # noqa: F401  (re-exported for the carrier connectors)

CST = timezone(timedelta(hours=8))  # carriers stamp Beijing wall-clock times
# "派送中" texts name the courier: 快递员 王师傅，电话 13800001111 / 【派送员：李强 18600001111】
COURIER = re.compile(r"(?:快递员|派送员|快递小哥|收派员)[：:\s]*([\u4e00-\u9fa5]{1,3}?(?:师傅)?)(?=正在|[，,\s（(]|电话|手机)"
                     r"[^\d]{0,20}?(1\d{10})")


class PushRefused(Exception):
    """A push that fails its signature or cannot be read: refused, recorded, answered so the carrier knows."""

    def __init__(self, reason: str, *, tracking_no: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.tracking_no = reason, tracking_no


def beijing(text: str) -> datetime:
    """``2026-12-02 14:03:11`` (Beijing time) as an aware datetime.

    Raises:
        ValueError: not in that shape.
    """
    return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST)


def courier_in(text: str) -> tuple[str | None, str | None]:
    """The courier's name and phone where the node's text gives them."""
    found = COURIER.search(text)
    return (found.group(1), found.group(2)) if found else (None, None)
