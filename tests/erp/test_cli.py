"""`orderhub webhook …` and `orderhub erp reconcile`: endpoints, dead letters and replay, reconciliation, from the shell."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from app.hub.credentials import FileStore
from tests.conftest import STAFF_PASSWORD
from tests.erp.conftest import Bridge
from tests.support.factories import make_order

REPO = Path(__file__).resolve().parents[2]


def _run(bridge: Bridge, *args: str, login: str = "liu.gong") -> subprocess.CompletedProcess[str]:
    """Run ``orderhub`` signed in as ``login`` for this one command (刘工 is the administrator)."""
    env = os.environ | {"ORDERHUB_DATABASE_URL": bridge.hub.engine.url.render_as_string(hide_password=False),
                        "ORDERHUB_DATA_DIR": str(bridge.store.path.parent), "PYTHON_KEYRING_BACKEND":
                        "keyring.backends.fail.Keyring", "ORDERHUB_USER": login, "ORDERHUB_PASSWORD": STAFF_PASSWORD}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)


def test_an_endpoint_is_added_with_its_secret_in_the_credential_store_not_the_database(bridge):
    done = _run(bridge, "webhook", "add", "wms", "--name", "仓储ERP", "--url", "http://127.0.0.1:9/hook",
                "--events", "order.shipped", "--operator", "liu.gong")
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_") and "凭据库「orderhub:erp:wms」" in done.stdout
    assert FileStore(bridge.store.path).get("orderhub:erp:wms").app_secret == secret
    with bridge.hub.engine.connect() as conn:
        dump = conn.execute(sa.text("SELECT row_to_json(e)::text FROM erp_endpoints e")).scalars().all()
    assert dump and not any(secret[6:] in row for row in dump)
    listed = _run(bridge, "webhook", "list")
    assert "仓储ERP" in listed.stdout and "订单已发货" in listed.stdout
    rotated = _run(bridge, "webhook", "rotate", "wms")
    assert rotated.returncode == 0 and "旧密钥在轮换期内继续签名" in rotated.stdout
    creds = FileStore(bridge.store.path).get("orderhub:erp:wms")
    assert creds.extra["previous"] == secret and creds.app_secret != secret


def test_a_cs_agent_can_neither_add_an_endpoint_nor_rotate_its_secret_and_no_secret_changes(bridge):
    assert _run(bridge, "webhook", "add", "wms", "--name", "仓储ERP", "--url", "http://127.0.0.1:9/hook").returncode == 0
    secret = FileStore(bridge.store.path).get("orderhub:erp:wms").app_secret
    added = _run(bridge, "webhook", "add", "evil", "--name", "外部", "--url", "https://example.invalid/hook",
                 "--secret", "chosen-by-me", login="xiaomei")
    rotated = _run(bridge, "webhook", "rotate", "wms", login="xiaomei")
    changed = _run(bridge, "webhook", "add", "wms", "--name", "仓储ERP", "--url", "http://127.0.0.1:9/other",
                   "--secret", "chosen-by-me", login="zhou.zj")  # a supervisor neither: where orders go is an admin's call
    for done, role in ((added, "客服"), (rotated, "客服"), (changed, "主管")):
        assert done.returncode != 0 and f"「{role}」没有「管理ERP与开票接口」的权限" in done.stdout + done.stderr
        assert "Traceback" not in done.stderr
    store = FileStore(bridge.store.path)
    assert store.get("orderhub:erp:evil") is None and store.get("orderhub:erp:wms").app_secret == secret
    with bridge.hub.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT url FROM erp_endpoints WHERE code = 'wms'")) == "http://127.0.0.1:9/hook"
        assert conn.scalar(sa.text("SELECT count(*) FROM erp_endpoints WHERE code = 'evil'")) == 0


def test_an_admin_sees_a_dead_letter_with_its_reason_and_replays_it(bridge):
    order_no, _ = make_order(bridge.hub, "paid")
    bridge.erp.fail_orders = {order_no}
    for minutes in (0, 10, 20):
        with bridge.hub.uow() as uow:
            at = uow.session.scalar(sa.select(sa.func.now())) + timedelta(minutes=minutes)
        bridge.dispatcher.run_once(now=at)
    dead = _run(bridge, "webhook", "dead")
    assert dead.returncode == 0, dead.stderr
    assert order_no in dead.stdout and "发送失败" in dead.stdout and "HTTP 503" in dead.stdout
    delivery_id = re.search(r"^(\d+)\s", dead.stdout.splitlines()[2]).group(1)
    tries = _run(bridge, "webhook", "deliveries", "--attempts", delivery_id)
    assert tries.stdout.count("503") == 3
    bridge.erp.fail_orders = set()
    replayed = _run(bridge, "webhook", "replay", delivery_id, "--operator", "liu.gong", "--reason", "ERP 已恢复")
    assert replayed.returncode == 0 and "已重新排队发送" in replayed.stdout
    bridge.drain()
    assert "没有发送失败的ERP推送" in _run(bridge, "webhook", "dead").stdout
    assert [e["order_no"] for e in bridge.erp.received] == [order_no]


def test_reconcile_prints_the_consistency_and_the_orders_that_differ(bridge):
    order_no, _ = make_order(bridge.hub, "paid")
    bridge.drain()
    bridge.erp.set_status(order_no, "Cancelled")
    done = _run(bridge, "erp", "reconcile")
    assert done.returncode == 0, done.stderr
    assert "状态一致性：0/1 单一致" in done.stdout and order_no in done.stdout and "已取消" in done.stdout
    assert "已支付" in done.stdout and "ERP环节" in done.stdout
    inbound = _run(bridge, "webhook", "inbound")
    assert "已应用" in inbound.stdout and "ERPNext 签名" in inbound.stdout


def test_a_quarantined_erp_message_is_listed_and_retried_with_the_quarantine_command(std_bridge):
    import json
    from datetime import UTC, datetime

    import requests

    from app.db.models import Order
    from connectors.erp_webhooks import sign_standard

    bridge = std_bridge
    body = json.dumps({"type": "order.erp_number", "timestamp": datetime.now(UTC).isoformat(),
                       "data": {"order_no": "OH-LATE-1", "erp_order_no": "SAL-ORD-2026-00042"}})
    headers = sign_standard("msg_late_1", datetime.now(UTC), body, [bridge.in_secret])
    assert requests.post(bridge.erp.hub_url, data=body.encode(), headers=headers, timeout=5).status_code == 422
    listed = _run(bridge, "quarantine", "list")
    payload_id = re.search(r"(\d+)", [ln for ln in listed.stdout.splitlines() if "OH-LATE-1" in ln][0]).group(1)
    still = _run(bridge, "quarantine", "retry", payload_id)
    assert still.returncode == 1 and "仍无法处理" in still.stdout
    made, _ = make_order(bridge.hub, "paid")
    with bridge.hub.uow() as uow:
        uow.session.execute(sa.update(Order).where(Order.order_no == made).values(order_no="OH-LATE-1"))
        uow.commit()
    done = _run(bridge, "quarantine", "retry", payload_id)
    assert done.returncode == 0 and "已重新处理：已应用" in done.stdout, done.stdout + done.stderr
    with bridge.hub.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT erp_order_no FROM erp_order_status")) == "SAL-ORD-2026-00042"
