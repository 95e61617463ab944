"""`orderhub orders`: business-language headers, filters typed as people say them, JSON lines for scripts."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.demo.seed import seed_demo
from app.domain.fields import ORDER_FIELDS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_env(hub):
    seed_demo(hub, seed=3, n_orders=600, anchor=datetime(2026, 11, 25, 4, 0, tzinfo=UTC))
    return os.environ | {"ORDERHUB_DATABASE_URL": hub.engine.url.render_as_string(hide_password=False)}


def _run(env, *args):
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)


def test_json_lines_hold_only_orders_matching_both_filters(demo_env):
    done = _run(demo_env, "orders", "--status", "配货中", "--platform", "抖店", "--limit", "15", "--json")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert 0 < len(rows) <= 15
    assert {r["订单当前所处环节"] for r in rows} == {"配货中"} and {r["来源平台"] for r in rows} == {"抖店"}
    times = [r["下单时间"] for r in rows]
    assert times == sorted(times, reverse=True)


def test_the_table_has_business_headers_and_no_technical_names(demo_env):
    done = _run(demo_env, "orders", "--limit", "5")
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0]
    for word in ("订单ID", "来源平台", "订单当前所处环节", "实付金额", "物流单号"):
        assert word in header
    assert not any(key in done.stdout for key in ORDER_FIELDS if "_" in key)
    assert len(done.stdout.splitlines()) == 2 + 5


def test_english_headers_on_request(demo_env):
    done = _run(demo_env, "--lang", "en", "orders", "--status", "shipped", "--limit", "3")
    assert "Current order stage" in done.stdout.splitlines()[0] and "Shipped" in done.stdout


def test_an_unknown_stage_is_explained_not_a_traceback(demo_env):
    done = _run(demo_env, "orders", "--status", "打包中")
    assert done.returncode == 2
    assert "打包中" in done.stderr and "配货中" in done.stderr and "Traceback" not in done.stderr
