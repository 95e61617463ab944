"""`orderhub import` and `orderhub import-template` as a script would run them, against the real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import sqlalchemy as sa

from tests.conftest import STAFF_PASSWORD

REPO = Path(__file__).resolve().parents[2]


def run(hub, *args, login: str | None = "liu.gong", data_dir: Path | None = None):
    """Run ``orderhub`` signed in as ``login`` for this one command (刘工 is the administrator)."""
    env = os.environ | {"ORDERHUB_DATABASE_URL": hub.engine.url.render_as_string(hide_password=False)}
    env = {k: v for k, v in env.items() if k not in ("ORDERHUB_USER", "ORDERHUB_PASSWORD")}
    if login:
        env |= {"ORDERHUB_USER": login, "ORDERHUB_PASSWORD": STAFF_PASSWORD}
    if data_dir:
        env["ORDERHUB_DATA_DIR"] = str(data_dir)
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


def _template_with_one_warehouse(hub, path):
    assert run(hub, "import-template", "warehouses", str(path)).returncode == 0
    book = openpyxl.load_workbook(path)
    book.active.append(["HZ01", "杭州自营仓", "自营仓", "浙江省", "杭州市", "余杭区 1 号"])
    book.save(path)


def test_import_acts_as_the_signed_in_person_and_a_cs_agent_is_refused_with_nothing_written(hub, tmp_path):
    template = tmp_path / "仓库.xlsx"
    _template_with_one_warehouse(hub, template)
    refused = run(hub, "import", "warehouses", str(template), "--confirm", login="xiaomei")
    assert refused.returncode != 0 and "「客服」没有「导入基础资料」的权限" in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    nobody = run(hub, "import", "warehouses", str(template), "--confirm", login=None, data_dir=tmp_path / "no-session")
    assert nobody.returncode != 0 and "orderhub login" in nobody.stdout + nobody.stderr
    mismatch = run(hub, "import", "warehouses", str(template), "--confirm", "--operator", "chen.yy")
    assert mismatch.returncode != 0
    with hub.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM warehouses")) == 0
        assert conn.scalar(sa.text("SELECT count(*) FROM audit_log WHERE action = 'master_data.import'")) == 0
