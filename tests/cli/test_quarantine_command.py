"""`orderhub quarantine`: admins see what could not be read, and can run it through intake again."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from app.demo.seed import seed_demo
from tests.conftest import STAFF_PASSWORD

REPO = Path(__file__).resolve().parents[2]


def _run(hub, tmp_path, *args):
    env = os.environ | {"ORDERHUB_DATABASE_URL": hub.engine.url.render_as_string(hide_password=False),
                        "ORDERHUB_DATA_DIR": str(tmp_path),
                        "ORDERHUB_USER": "liu.gong", "ORDERHUB_PASSWORD": STAFF_PASSWORD}  # an admin, signed in
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)


def test_quarantined_payloads_are_listed_with_their_reason_and_a_retry_says_what_happened(hub, tmp_path):
    seed_demo(hub, seed=2, n_orders=50, anchor=datetime(2026, 11, 25, 4, tzinfo=UTC))
    listed = _run(hub, tmp_path, "quarantine", "list")
    assert listed.returncode == 0, listed.stderr
    assert "抖店" in listed.stdout and "拼多多" in listed.stdout and "已尝试 1 次" in listed.stdout
    retried = _run(hub, tmp_path, "quarantine", "retry", "1")
    assert retried.returncode == 1 and "仍无法解析" in retried.stdout, retried.stdout + retried.stderr
    with hub.uow() as uow:
        assert uow.session.scalar(sa.text("SELECT attempts FROM raw_payloads WHERE id = 1")) == 2
    missing = _run(hub, tmp_path, "quarantine", "retry", "999")
    assert missing.returncode == 2 and "找不到隔离报文「999」" in missing.stderr
