"""`orderhub einvoice setup` acts as the signed-in person: an administrator sets the 诺诺 account, a CS agent cannot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from app.hub.credentials import FileStore
from tests.conftest import STAFF_PASSWORD

REPO = Path(__file__).resolve().parents[2]
SETUP = ("einvoice", "setup", "--api-url", "http://127.0.0.1:9/open/v1/services", "--token-url",
         "http://127.0.0.1:9/accessToken", "--app-key", "SD1", "--app-secret", "chosen-secret",
         "--seller-tax-no", "339902999999789113", "--seller-name", "杭州小树苗服饰有限公司", "--clerk", "张会计")


def _setup(hub, data_dir: Path, login: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"ORDERHUB_DATABASE_URL": hub.engine.url.render_as_string(hide_password=False),
                        "ORDERHUB_DATA_DIR": str(data_dir), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
                        "ORDERHUB_USER": login, "ORDERHUB_PASSWORD": STAFF_PASSWORD}
    return subprocess.run([sys.executable, "-m", "app", *SETUP], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)


def _providers(hub) -> int:
    with hub.engine.connect() as conn:
        return conn.scalar(sa.text("SELECT count(*) FROM einvoice_providers"))


def test_a_cs_agent_cannot_set_the_tax_provider_account_and_its_secret_is_not_stored(hub, tmp_path):
    refused = _setup(hub, tmp_path, "xiaomei")
    assert refused.returncode != 0 and "「客服」没有「管理ERP与开票接口」的权限" in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    assert _providers(hub) == 0
    assert FileStore(tmp_path / "secrets.json").get("orderhub:einvoice:nuonuo") is None


def test_the_administrator_sets_the_tax_provider_account_with_its_secret_in_the_credential_store(hub, tmp_path):
    done = _setup(hub, tmp_path, "liu.gong")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "已设置诺诺开放平台账号" in done.stdout and _providers(hub) == 1
    assert FileStore(tmp_path / "secrets.json").get("orderhub:einvoice:nuonuo").app_secret == "chosen-secret"
    with hub.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT operator FROM audit_log WHERE entity_type = 'einvoice_provider'")) == "liu.gong"
