"""Fixtures for intake tests: shops with credentials in a private credential file."""

from __future__ import annotations

import pytest

from app.db.models import Shop
from app.hub.credentials import FileStore
from connectors.base import Credentials


@pytest.fixture
def credentials(tmp_path):
    return FileStore(tmp_path / "secrets.json")


@pytest.fixture
def add_shop(hub, credentials):
    """Create an enabled shop on ``platform`` with credentials; returns its id."""

    def make(platform: str, code: str, *, url: str | None = None, creds: Credentials | None = None,
             name: str = "测试店铺", platform_shop_id: str | None = None) -> int:
        ref = f"orderhub:shop:{code}"
        credentials.put(ref, creds or Credentials(app_key="key", app_secret="store-secret"))
        with hub.uow() as uow:
            shop = Shop(code=code, name=name, platform=platform, api_base_url=url, credentials_ref=ref,
                        platform_shop_id=platform_shop_id)
            uow.session.add(shop)
            uow.commit()
            return shop.id

    return make
