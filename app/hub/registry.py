"""Which simulator serves which platform, and a shop's connector (imported lazily: a hub loads what it uses).

Which connector class serves a platform is said once, in connectors/catalog.py; this module only adds
what the hub knows of a shop (its API address and platform shop id) and the platforms' simulators.
"""

from __future__ import annotations

import importlib
from typing import Any

from app.services.shop_sync import ShopConfig
from connectors.base import Connector, Credentials
from connectors.catalog import make_connector

# platform → simulator module (the polled platforms; the store POS pushes its sales)
PLATFORMS: dict[str, str] = {
    "taobao": "connectors.simulators.taobao",
    "tmall": "connectors.simulators.taobao",
    "douyin": "connectors.simulators.douyin",
    "wechat": "connectors.simulators.wechat",
    "pdd": "connectors.simulators.pdd",
}


def connector_for(shop: ShopConfig, credentials: Credentials, **kwargs: Any) -> Connector:
    """A connector for ``shop`` with its credentials, pointed at the shop's API address."""
    return make_connector(shop.platform, shop.api_base_url or "", credentials, shop_id=shop.platform_shop_id or "",
                          **kwargs)


def simulator_module(platform: str) -> Any:
    return importlib.import_module(PLATFORMS[platform])
