"""Shops at the admin station: secrets only in the credential store, gateways pre-filled, 测试连接 over real HTTP."""

from __future__ import annotations

import socket
import stat

import pytest
import sqlalchemy as sa

from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.hub.credentials import FileStore
from app.services import shop_admin
from app.services.shop_admin import ShopDraft
from connectors import catalog
from connectors.base import Credentials
from connectors.simulators.server import SimServer
from connectors.simulators.world import SimWorld

ADMIN = Actor("liu.gong", "配置工作站-01", "10.20.1.8")
SECRET = "sim-secret-0123456789-ZQX"
CREDS = Credentials(app_key="12345678", app_secret=SECRET, access_token="6201session", refresh_token="6202refresh")


@pytest.fixture
def store(tmp_path) -> FileStore:
    return FileStore(tmp_path / "secrets" / "secrets.json")


def simulator(platform: str):
    """The platform's loopback simulator for CREDS, served on a free port."""
    from app.hub.registry import simulator_module

    sim = simulator_module(platform).make_simulator(SimWorld(platform, seed=3), CREDS)
    server = SimServer(sim.handle)
    server.start()
    return server


def add(hub, store, platform: str, url: str = "", secret: str = SECRET, code: str = "shop1") -> None:
    shop_admin.save_shop(hub.uow(), store, ShopDraft(code, "小树苗童装旗舰店", platform, url, "", CREDS.app_key, secret,
                                                     CREDS.access_token, CREDS.refresh_token), ADMIN, is_new=True)


def test_a_new_shop_keeps_its_secret_in_the_store_and_never_in_the_database(hub, store):
    view, said = shop_admin.save_shop(hub.uow(), store, ShopDraft("tb-main", "小树苗淘宝店", "taobao", "", "", "12345678",
                                                                  SECRET, "6201session"), ADMIN, is_new=True)
    assert said == "店铺「小树苗淘宝店」已保存（密钥保存在本机私有密钥文件，不在数据库中）"
    assert view.has_secret and view.app_key == "12345678"
    assert view.api_base_url == "https://eco.taobao.com/router/rest"  # the real gateway, pre-filled
    assert store.get("orderhub:shop:tb-main").app_secret == SECRET
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    with hub.engine.connect() as conn:
        dump = " ".join(str(r) for t in ("shops", "audit_log") for r in conn.execute(sa.text(f"SELECT * FROM {t}")))
    assert SECRET not in dump and "6201session" not in dump and "secret_replaced" in dump

    # editing without typing the secret again keeps it
    shop_admin.save_shop(hub.uow(), store, ShopDraft("tb-main", "小树苗淘宝旗舰店", "taobao", "", "", "12345678"), ADMIN,
                         is_new=False)
    assert store.get("orderhub:shop:tb-main").app_secret == SECRET
    assert shop_admin.list_shops(hub.uow(), store)[0].name == "小树苗淘宝旗舰店"


@pytest.mark.parametrize(("platform", "gateway"), [
    ("tmall", "https://eco.taobao.com/router/rest"), ("douyin", "https://openapi-fxg.jinritemai.com"),
    ("pdd", "https://gw-api.pinduoduo.com"), ("wechat", "https://api.weixin.qq.com")])
def test_each_platform_gets_its_real_production_gateway(hub, store, platform, gateway):
    add(hub, store, platform)
    assert shop_admin.list_shops(hub.uow(), store)[0].api_base_url == gateway == catalog.gateway_for(platform)


def test_pdd_s_full_router_address_is_kept_as_the_host_the_connector_wants(hub, store):
    add(hub, store, "pdd", "https://gw-api.pinduoduo.com/api/router")
    assert shop_admin.list_shops(hub.uow(), store)[0].api_base_url == "https://gw-api.pinduoduo.com"


def test_a_new_shop_without_a_secret_a_taken_code_or_a_plain_http_address_is_refused(hub, store):
    with pytest.raises(BusinessError, match="需要填写 App Key 和应用密钥"):
        shop_admin.save_shop(hub.uow(), store, ShopDraft("x1", "店", "douyin", app_key="k"), ADMIN, is_new=True)
    add(hub, store, "douyin", code="x1")
    with pytest.raises(BusinessError, match="已被使用"):
        add(hub, store, "douyin", code="x1")
    with pytest.raises(BusinessError, match="应以 https:// 开头"):
        add(hub, store, "douyin", "http://example.com", code="x2")


@pytest.mark.parametrize("platform", ["taobao", "douyin", "pdd", "wechat"])
def test_test_connection_says_ok_or_wrong_secret_after_a_real_signed_call(hub, store, platform):
    server = simulator(platform)
    try:
        add(hub, store, platform, server.url, code="good")
        add(hub, store, platform, server.url, secret="not-the-secret-000000", code="bad")
        ok = shop_admin.check_connection(hub.uow(), store, "good", ADMIN)
        assert ok.outcome == "ok", ok.message()
        assert ok.message().startswith("连接正常：「小树苗童装旗舰店」的签名调用已被")
        wrong = shop_admin.check_connection(hub.uow(), store, "bad", ADMIN)
        assert wrong.outcome == "wrong_secret", wrong.message()
        assert "密钥不正确" in wrong.message() and "Wrong secret" in wrong.message("en")
        assert server.requests  # real requests reached the simulator
    finally:
        server.stop()
    with hub.engine.connect() as conn:
        outcomes = conn.execute(sa.text("SELECT after->>'outcome' FROM audit_log WHERE action = 'shop.connection_test' "
                                        "ORDER BY id")).scalars().all()
    assert outcomes == ["ok", "wrong_secret"]


def test_test_connection_says_unreachable_when_nothing_answers(hub, store):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    add(hub, store, "douyin", f"http://127.0.0.1:{port}")
    result = shop_admin.check_connection(hub.uow(), store, "shop1", ADMIN, timeout=2)
    assert result.outcome == "unreachable"
    assert result.message() == f"连不上抖店接口「http://127.0.0.1:{port}」：请检查网络和接口地址"


def test_a_store_till_keeps_its_signing_secret_and_has_nothing_to_call(hub, store):
    view, _ = shop_admin.save_shop(hub.uow(), store, ShopDraft("POS-HZ01", "杭州湖滨门店", "pos", app_secret="till-secret-1"),
                                   ADMIN, is_new=True)
    assert view.has_secret and view.api_base_url == ""
    assert store.get("orderhub:shop:POS-HZ01").app_secret == "till-secret-1"  # what the POS receiver verifies with
    result = shop_admin.check_connection(hub.uow(), store, "POS-HZ01", ADMIN)
    assert result.message() == "门店POS的销售单由收银机推送过来，没有可调用的平台接口"


def test_disabling_a_shop_is_audited(hub, store):
    add(hub, store, "wechat")
    assert not shop_admin.set_shop_enabled(hub.uow(), store, "shop1", False, ADMIN).enabled
    with hub.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM audit_log WHERE action = 'shop.disable'")) == 1
