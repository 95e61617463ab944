"""The boss's weekly report: `orderhub health` headless, Excel and PDF read back with openpyxl and pypdf."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from app.services import health
from app.services.health import Span
from tests.health.world import build, case, order, rescue, ship
from tests.auth.conftest import actor_of

SUP = actor_of("supervisor")  # health is read by someone holding health.view

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("ORDERHUB_SCREENSHOTS", "/tmp/orderhub-screens"))
H = timedelta(hours=1)


@pytest.fixture
def company(hub):
    w = build(hub)
    for n in range(12):
        t0 = w.now - (6 + n * 7) * H
        no = order(w, "dy" if n % 2 else "tb", ordered_at=t0, warehouse="hz" if n % 3 else "hf", ship_by=t0 + 24 * H)
        if n % 4 == 0:
            rescue(w, no, "order.expedite")
        ship(w, no, t0 + (30 if n == 5 else 4) * H)
        case(w, no, t0 + 5 * H, 50 + 10 * n)
    return w


def _run(hub, *args: str, user: str = "zhou.zj") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["ORDERHUB_DATABASE_URL"] = hub.engine.url.render_as_string(hide_password=False)
    env["ORDERHUB_USER"], env["ORDERHUB_PASSWORD"] = user, "test-pass-1234"  # signed in for this one command
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=180)


def test_the_command_line_writes_excel_and_pdf_without_a_display_and_they_read_back(hub, company, tmp_path):
    xlsx, pdf = tmp_path / "周报.xlsx", tmp_path / "周报.pdf"
    done = _run(hub, "health", "--days", "7", "--json", "--xlsx", str(xlsx), "--pdf", str(pdf))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    real = next(h for h in out["headlines"] if h["key"] == "real_on_time")
    # 12 shipped, 1 late (n == 5), rescued n in {0, 4, 8} all on time → real 8/12, nominal 11/12
    assert real["value"] == pytest.approx(8 / 12) and real["detail"]["nominal"] == pytest.approx(11 / 12)
    assert real["rating"] == "red" and real["name"] == "真实履约率"

    wb = load_workbook(xlsx)
    assert {"汇总", "按天", "按店铺", "按发货仓", "状态不一致", "不可追溯", "同步", "图表"} <= set(wb.sheetnames)
    summary = {row[0]: row[1] for row in wb["汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["真实履约率"] == "66.7%" and summary["名义履约率"] == "91.7%"
    days = list(wb["按天"].iter_rows(min_row=2, values_only=True))
    assert sum(int(d[1]) for d in days) == 12  # every order counted once across the days
    assert len(wb["图表"]._images) == 5  # the charts as pictures

    reader = PdfReader(pdf)
    text = "".join(page.extract_text() for page in reader.pages)
    assert "订单健康度周报" in text and "真实履约率" in text and "66.7%" in text
    assert sum(len(page.images) for page in reader.pages) == 5


def test_the_report_charts_are_the_station_charts_drawn_offscreen(hub, company, qapp):
    from app.domain import clock
    from app.ui.supervisor import report

    report.ensure_qt()
    r = report.collect(hub.uow, SUP, now=clock.now(), days=7)
    images = report.chart_images(r, "zh")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, png in images:
        assert png.startswith(b"\x89PNG")
        (SHOTS / f"report_{name}.png").write_bytes(png)
    assert r.summary.counts == health.summary(hub.uow(), SUP, Span.last_days(clock.now(), 7)).counts


def test_a_report_that_cannot_be_written_says_so_in_words(hub, company, tmp_path):
    done = _run(hub, "health", "--xlsx", str(tmp_path / "没有这个目录" / "周报.xlsx"))
    assert done.returncode == 2
    assert "报表无法写入" in done.stderr and "Traceback" not in done.stderr


def test_the_plain_command_prints_the_four_numbers_in_business_language(hub, company):
    done = _run(hub, "health", "--days", "7")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["指标", "数值", "状态"]
    assert any(line.startswith("真实履约率") and "66.7%" in line and "未达标" in line for line in lines)
    assert "real_on_time" not in done.stdout


def test_a_picker_is_refused_the_report_on_the_command_line_and_no_file_is_written(hub, company, tmp_path):
    xlsx = tmp_path / "周报.xlsx"
    done = _run(hub, "health", "--xlsx", str(xlsx), user="li.sf")
    assert done.returncode != 0
    assert "「拣货员」没有「导出健康度周报」的权限" in done.stderr, done.stderr
    assert not xlsx.exists()
    looked = _run(hub, "health", "--json", user="li.sf")
    assert looked.returncode != 0 and "「拣货员」没有「查看订单健康度」的权限" in looked.stderr, looked.stderr


def test_a_team_lead_reads_the_numbers_but_may_not_send_the_report_out(hub, company, tmp_path):
    looked = _run(hub, "health", "--json", user="wang.zz")
    assert looked.returncode == 0, looked.stderr
    assert json.loads(looked.stdout)["counts"]["orders"] == 12
    pdf = tmp_path / "周报.pdf"
    done = _run(hub, "health", "--pdf", str(pdf), user="wang.zz")
    assert done.returncode != 0 and "没有「导出健康度周报」的权限" in done.stderr, done.stderr
    assert not pdf.exists()
