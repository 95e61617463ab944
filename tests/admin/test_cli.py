"""`orderhub import` and `orderhub import-template` as a script would run them, against the real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]


def run(hub, *args):
    env = os.environ | {"ORDERHUB_DATABASE_URL": hub.engine.url.render_as_string(hide_password=False)}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


def test_a_filled_template_is_checked_then_imported_and_a_bad_row_stops_it(hub, tmp_path):
    template = tmp_path / "仓库模板.xlsx"
    done = run(hub, "import-template", "warehouses", str(template))
    assert done.returncode == 0, done.stderr
    book = openpyxl.load_workbook(template)
    book.active.append(["HZ01", "杭州自营仓", "自营仓", "浙江省", "杭州市", "余杭区 1 号"])
    book.active.append(["HZ01", "杭州二仓", "仓库", "浙江省", "杭州市", "余杭区 2 号"])
    book.save(template)

    checked = run(hub, "import", "warehouses", str(template), "--confirm")
    assert checked.returncode == 1
    assert "「仓库类型」应为 自营仓、云仓 之一，实际是「仓库」" in checked.stdout
    assert "与第 2 行重复" in checked.stdout and "共 2 行：新增 1，更新 0，有错误 1" in checked.stdout

    book.active.delete_rows(3)
    book.save(template)
    assert run(hub, "import", "warehouses", str(template)).returncode == 0  # checked only
    with hub.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM warehouses")) == 0
    done = run(hub, "import", "warehouses", str(template), "--confirm", "--operator", "liu.gong")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "已导入仓库：新增 1，更新 0" in done.stdout
    with hub.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT operator FROM audit_log WHERE action = 'master_data.import'")).scalar() == "liu.gong"


def test_a_missing_file_is_said_in_words(hub, tmp_path):
    done = run(hub, "import", "skus", str(tmp_path / "没有这个文件.xlsx"))
    assert done.returncode != 0 and "无法读取文件" in done.stdout + done.stderr and "Traceback" not in done.stderr
