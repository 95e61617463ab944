"""`orderhub case|flow|outbox|red-letter`: a size exchange from the command line, in business language."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.after_sales.conftest import Company

from tests.conftest import cli_env  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(company: Company, tmp_path: Path) -> dict[str, str]:
    return os.environ | {"ORDERHUB_DATABASE_URL": company.hub.engine.url.render_as_string(hide_password=False),
                         "ORDERHUB_DATA_DIR": str(tmp_path)}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, env=cli_env(env, args), capture_output=True, text=True,
                          timeout=60)


def test_a_size_exchange_from_the_command_line(company: Company, env: dict[str, str], tmp_path: Path):
    order_no = company.order([("T2601-01-110", 1, "69.00")])
    company.stock("T2601-01-120", 0)
    opened = _run(env, "case", "open", order_no, "--kind", "尺码调换", "--line", "1:1:120", "--reason", "偏小",
                  "--basis", "旺旺聊天 2026-11-25", "--phone", "13800138000", "--operator", "xiaomei")
    assert opened.returncode == 0, opened.stderr
    assert "已建立" in opened.stdout and "客户已申请" in opened.stdout
    case_no = re.search(r"AS\d{12}", opened.stdout).group()

    stepped = _run(env, "case", "step", case_no, "查库存并处理", "--operator", "xiaomei")
    assert stepped.returncode == 0 and "缺货待补" in stepped.stdout
    refused = _run(env, "case", "step", case_no, "完结", "--operator", "xiaomei")
    assert refused.returncode == 2 and "不能执行「完结」" in refused.stderr and "Traceback" not in refused.stderr

    alerts = _run(env, "outbox", "list", "--topic", "采购补货提醒")
    assert alerts.returncode == 0 and "T2601-01-120 缺货" in alerts.stdout and "待发送" in alerts.stdout

    shown = _run(env, "case", "show", case_no)
    assert "尺码调换" in shown.stdout and "查库存并处理" in shown.stdout and "旺旺聊天" in shown.stdout
    assert "check_stock" not in shown.stdout and "out_of_stock" not in shown.stdout

    flows = _run(env, "flow", "list")
    assert "尺码调换" in flows.stdout and "退货退款" in flows.stdout
    definition = json.loads(_run(env, "flow", "show", "尺码调换").stdout)
    definition["name"] = "尺码调换（新版）"
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(definition, ensure_ascii=False), encoding="utf-8")
    saved = _run(env, "flow", "save", str(path), "--operator", "liu.gong", "--note", "改名")
    assert saved.returncode == 0 and "第 2 版" in saved.stdout

    english = _run(env, "--lang", "en", "case", "show", case_no)
    assert "Size exchange" in english.stdout and "Waiting for stock" in english.stdout


def test_sending_sms_without_a_configured_gateway_says_so_and_keeps_them_queued(company: Company, env: dict[str, str]):
    done = _run(env, "outbox", "dispatch")
    assert done.returncode == 1 and "没有配置短信网关" in done.stderr and "Traceback" not in done.stderr
    queued = _run(env, "outbox", "list", "--topic", "短信")
    assert queued.returncode == 0 and "发送失败" in queued.stdout  # the demo's failed SMS is still there, untouched
