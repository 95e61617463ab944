"""Which connector and which simulator serve which platform (imported lazily: a hub loads what it uses)."""

from __future__ import annotations

import importlib
from typing import Any

from app.services.shop_sync import ShopConfig
from connectors.base import Connector, Credentials

# platform → (connector module, class name, simulator module)
PLATFORMS: dict[str, tuple[str, str, str]] = {
    "taobao": ("connectors.taobao", "TaobaoConnector", "connectors.simulators.taobao"),
    "tmall": ("connectors.taobao", "TaobaoConnector", "connectors.simulators.taobao"),
    "douyin": ("connectors.douyin", "DouyinConnector", "connectors.simulators.douyin"),
    "wechat": ("connectors.wechat", "WechatConnector", "connectors.simulators.wechat"),
    "pdd": ("connectors.pdd", "PddConnector", "connectors.simulators.pdd"),
}


def connector_for(shop: ShopConfig, credentials: Credentials, **kwargs: Any) -> Connector:
    """A connector for ``shop`` with its credentials, pointed at the shop's API address."""
    module, name, _ = PLATFORMS[shop.platform]
    cls = getattr(importlib.import_module(module), name)
    extra: dict[str, Any] = {"shop_id": shop.platform_shop_id or ""}
    if shop.platform in ("taobao", "tmall"):
        extra["platform"] = shop.platform
    return cls(shop.api_base_url or "", credentials, **extra, **kwargs)


def simulator_module(platform: str) -> Any:
    return importlib.import_module(PLATFORMS[platform][2])
