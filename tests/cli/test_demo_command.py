"""`orderhub demo --no-gui`: seeds once, says so in business language, and leaves existing data alone."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _demo(hub, *args):
    env = os.environ | {"ORDERHUB_DATABASE_URL": hub.engine.url.render_as_string(hide_password=False)}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_demo_seeds_once_and_then_leaves_the_company_alone(hub):
    first = _demo(hub, "demo", "--no-gui", "--orders", "200", "--seed", "5")
    assert first.returncode == 0, first.stderr
    assert "演示公司「小树苗童装」已生成（种子 5" in first.stdout
    assert "店铺 12，仓库 4" in first.stdout and "订单 2" in first.stdout
    second = _demo(hub, "--lang", "en", "demo", "--no-gui")
    assert second.returncode == 0, second.stderr
    assert "Demo data is already there" in second.stdout and "shops 12, warehouses 4" in second.stdout
