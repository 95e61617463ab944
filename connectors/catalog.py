"""Which connector serves which platform, and each platform's real production gateway.

The gateways are the ones the platforms publish (research notes §2): TOP's router for 淘宝/天猫,
抖店's open API host, 拼多多's router host (the connector adds ``/api/router``) and WeChat's API
host. The admin station pre-fills them when a shop is added; a simulator's loopback address
replaces them in tests and demos.
"""

from __future__ import annotations

import importlib
from typing import Any

from connectors.base import Connector, Credentials

# platform → (connector module, class name)
CONNECTORS: dict[str, tuple[str, str]] = {
    "taobao": ("connectors.taobao", "TaobaoConnector"),
    "tmall": ("connectors.taobao", "TaobaoConnector"),
    "douyin": ("connectors.douyin", "DouyinConnector"),
    "wechat": ("connectors.wechat", "WechatConnector"),
    "pdd": ("connectors.pdd", "PddConnector"),
}

GATEWAYS: dict[str, str] = {
    "taobao": "https://eco.taobao.com/router/rest",
    "tmall": "https://eco.taobao.com/router/rest",
    "douyin": "https://openapi-fxg.jinritemai.com",
    "pdd": "https://gw-api.pinduoduo.com",  # the connector posts to <this>/api/router
    "wechat": "https://api.weixin.qq.com",
}

# Platform error codes that mean "the app key or secret is wrong" and "the shop's authorisation is gone".
WRONG_SECRET: dict[str, frozenset[str]] = {
    "taobao": frozenset({"25", "29"}),  # Invalid signature, Invalid app Key
    "tmall": frozenset({"25", "29"}),
    "douyin": frozenset({"isv.signature-invalid", "isv.app-key-invalid"}),
    "pdd": frozenset({"20004", "10016"}),  # 签名错误, client_id 不存在
    "wechat": frozenset({"40125", "40013", "41004"}),  # invalid appsecret, invalid appid, appsecret missing
}
# Platforms whose calls carry an access token bought with the secret rather than a signature made with it.
TOKEN_FROM_SECRET = frozenset({"wechat"})
UNAUTHORISED: dict[str, frozenset[str]] = {
    "taobao": frozenset({"26", "27"}),
    "tmall": frozenset({"26", "27"}),
    "douyin": frozenset({"isv.access-token-no-existed", "isv.access-token-expired", "auth"}),
    "pdd": frozenset({"10019", "auth"}),
    "wechat": frozenset({"40001", "40014", "42001", "auth"}),
}


def gateway_for(platform: str) -> str:
    """The platform's production gateway ("" for channels without one, such as the store POS)."""
    return GATEWAYS.get(platform, "")


def normalise_gateway(platform: str, url: str) -> str:
    """The address as the connector wants it: PDD's full router URL is trimmed to its host."""
    url = url.strip().rstrip("/")
    if platform == "pdd" and url.endswith("/api/router"):
        url = url[: -len("/api/router")]
    return url


def make_connector(platform: str, base_url: str, credentials: Credentials, *, shop_id: str = "",
                   **kwargs: Any) -> Connector:
    """A connector for one shop of ``platform``.

    Raises:
        KeyError: the platform has no pulling connector (the store POS pushes its sales).
    """
    module, name = CONNECTORS[platform]
    cls = getattr(importlib.import_module(module), name)
    extra: dict[str, Any] = {"shop_id": shop_id}
    if platform in ("taobao", "tmall"):
        extra["platform"] = platform
    return cls(base_url, credentials, **extra, **kwargs)
