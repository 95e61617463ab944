"""The boss's weekly report: the same numbers and charts as the station, as Excel (openpyxl) and PDF (Qt).

Charts are drawn by the station's own chart widgets offscreen and embedded as pictures; the PDF is
an HTML document printed by ``QPdfWriter`` with the bundled CJK font, so it works on a machine
with no fonts and no display (``orderhub health --pdf``).
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app.domain import clock
from app.domain.errors import BusinessError
from app.domain.fields import Lang, code_label
from app.domain.actor import Actor
from app.domain.health import CONSISTENCY, METRICS, REAL_ON_TIME, RESPONSE, Grain
from app.services import health, health_ops
from app.services.health import Bar, Mismatch, Point, Span, Summary, Traceability
from app.services.order_queries import filter_choices
from app.services.unit_of_work import UnitOfWork

CHART_SIZE = (900, 340)


@dataclass(frozen=True)
class WeeklyReport:
    """Everything the report shows, read once."""

    span: Span
    summary: Summary
    points: list[Point]
    by_shop: list[Bar]
    by_warehouse: list[Bar]
    mismatches: list[Mismatch]
    trace: Traceability
    operations: health_ops.Operations
    names: dict[tuple[str, str], str]


def collect(uow: Callable[[], UnitOfWork], actor: Actor, *, now: datetime, days: int = 7) -> WeeklyReport:
    span = Span.last_days(now, days)
    choices = filter_choices(uow())
    names = ({("shop", str(i)): n for i, n in choices.shops} | {("warehouse", str(i)): n for i, n in choices.warehouses}
             | {("warehouse", "0"): "未分配"})
    a = actor
    return WeeklyReport(span, health.summary(uow(), a, span, trace_sample=5), health.timeline(uow(), a, span, Grain.DAY),
                        health.bars(uow(), a, span, "shop"), health.bars(uow(), a, span, "warehouse"),
                        health.mismatches(uow(), a, span, limit=100), health.traceability(uow(), a, span, sample=5),
                        health_ops.operations(uow(), a, span, now), names)


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def _secs(v: float | None) -> str:
    return "—" if v is None else f"{v:.0f}"


def _when(v: datetime | None) -> str:
    return "—" if v is None else clock.local(v).strftime("%Y-%m-%d %H:%M")


def tables(r: WeeklyReport, lang: Lang) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The tables behind the charts, by sheet name: (header, rows). Shared by Excel and PDF."""
    t = lambda k: code_label("health_metric", k, lang)  # noqa: E731
    zh = lang == "zh"
    summary = [[t(h.key), (_secs(h.value) + (" 秒" if zh else " s")) if METRICS[h.key].unit == "seconds" else _pct(h.value),
                _target(h.key, lang), code_label("health_rating", h.rating, lang)] for h in r.summary.headlines]
    real = r.summary.headline("real_on_time")
    summary.append([t("nominal_on_time"), _pct(real.detail.get("nominal")), "", ""])
    summary.append([t("rescued"), str(real.detail.get("rescued")), "", ""])
    day_header = ["日期" if zh else "Day", t("orders"), "已发货" if zh else "Shipped", t("nominal_on_time"),
                  t("real_on_time"), t("rescued"), t("late"), t("consistency"), t("response") + (" (秒)" if zh else " (s)")]
    days = [[clock.local(p.at).strftime("%Y-%m-%d"), p.counts.orders, p.counts.shipped, _pct(p.counts.nominal_on_time),
             _pct(p.counts.real_on_time), p.counts.rescued, p.counts.late, _pct(p.counts.mismatch_share),
             _secs(p.response_median)] for p in r.points]
    bar_header = ["名称" if zh else "Name", t("orders"), "已发货" if zh else "Shipped", t("nominal_on_time"),
                  t("real_on_time"), t("rescued"), t("late")]

    def bar_rows(dim: str, bars: list[Bar]) -> list[list[Any]]:
        return [[r.names.get((dim, b.key), b.key), b.counts.orders, b.counts.shipped, _pct(b.counts.nominal_on_time),
                 _pct(b.counts.real_on_time), b.counts.rescued, b.counts.late] for b in bars]

    mismatch = [[m.order_no, code_label("outside_source", m.source, lang), code_label("order_status", m.ours, lang),
                 code_label("order_status", m.theirs, lang), m.raw_status or ""] for m in r.mismatches]
    ops = r.operations
    shops = [[s.shop, code_label("platform", s.platform, lang), _secs(s.delay_p50), _secs(s.delay_p95),
              _when(s.last_success_at), s.last_error or ("无" if zh else "none")] for s in ops.shops]
    return {
        "汇总" if zh else "Summary": (["指标" if zh else "Measure", "数值" if zh else "Value", "目标" if zh else "Target",
                                     "状态" if zh else "Rating"], summary),
        "按天" if zh else "By day": (day_header, days),
        "按店铺" if zh else "By shop": (bar_header, bar_rows("shop", r.by_shop)),
        "按发货仓" if zh else "By warehouse": (bar_header, bar_rows("warehouse", r.by_warehouse)),
        "状态不一致" if zh else "Mismatches": (["订单ID" if zh else "Order no.", "来源" if zh else "Source",
                                           "本系统环节" if zh else "Our stage", "外部环节" if zh else "Outside stage",
                                           "外部原始状态" if zh else "Outside raw status"], mismatch),
        "不可追溯" if zh else "Untraceable": (["订单ID" if zh else "Order no."], [[n] for n in r.trace.unresolved]),
        "同步" if zh else "Sync": (["店铺" if zh else "Shop", "来源平台" if zh else "Platform", t("sync_p50") + " (秒)",
                                   t("sync_p95") + " (秒)", "最近成功拉单" if zh else "Last good pull",
                                   "最近错误" if zh else "Last error"], shops),
    }


def _target(key: str, lang: Lang) -> str:
    from app.ui.supervisor.workspace import target_text

    return target_text(METRICS[key], lang)


def chart_images(r: WeeklyReport, lang: Lang) -> list[tuple[str, bytes]]:
    """The report's charts drawn by the station's chart widgets, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    from app.ui.supervisor.charts import BarChart, SeriesChart
    from app.ui.supervisor.workspace import target_text

    t = lambda k: code_label("health_metric", k, lang)  # noqa: E731
    times = [p.at for p in r.points]
    labels = [clock.local(p.at).strftime("%m-%d") for p in r.points]
    c = [p.counts for p in r.points]
    on_time = SeriesChart(t("real_on_time") + " / " + t("nominal_on_time"), target=REAL_ON_TIME.target,
                          target_label=target_text(REAL_ON_TIME, lang), fmt=_pct, names=(t("real_on_time"), t("nominal_on_time")), percent=True)
    on_time.set_series(times, [[x.real_on_time for x in c], [x.nominal_on_time for x in c]], labels)
    consistency = SeriesChart(t("consistency"), target=CONSISTENCY.target, target_label=target_text(CONSISTENCY, lang),
                              fmt=_pct, names=(t("consistency"),), percent=True)
    consistency.set_series(times, [[x.mismatch_share for x in c]], labels)
    response = SeriesChart(t("response"), target=RESPONSE.target, target_label=target_text(RESPONSE, lang), fmt=_secs,
                           names=(t("response"),))
    response.set_series(times, [[p.response_median for p in r.points]], labels)
    shops = BarChart(t("rescued") + ("（按店铺）" if lang == "zh" else " by shop"), lambda v: f"{v:.0f}", horizontal=True)
    shops.set_bars([r.names.get(("shop", b.key), b.key) for b in r.by_shop], [b.counts.rescued for b in r.by_shop])
    late = BarChart(t("late") + ("（按发货仓）" if lang == "zh" else " by warehouse"), lambda v: f"{v:.0f}")
    late.set_bars([r.names.get(("warehouse", b.key), b.key) for b in r.by_warehouse], [b.counts.late for b in r.by_warehouse])
    out = []
    for name, chart in (("on_time", on_time), ("consistency", consistency), ("response", response), ("shops", shops),
                        ("late", late)):
        chart.resize(*CHART_SIZE)
        chart.show()  # laid out offscreen so grab() draws the final geometry
        data = QByteArray()
        buf = QBuffer(data)
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        chart.grab().save(buf, "PNG")
        chart.close()
        out.append((name, bytes(data.data())))
    return out


def write_xlsx(r: WeeklyReport, images: list[tuple[str, bytes]], path: str | Path, lang: Lang = "zh") -> None:
    import io

    from openpyxl import Workbook
    from openpyxl.drawing.image import Image
    from openpyxl.styles import Font

    wb = Workbook()
    first = True
    for sheet, (header, rows) in tables(r, lang).items():
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = sheet
        ws.append(header)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append(row)
        for col in ws.columns:
            ws.column_dimensions[col[0].column_letter].width = max(12, min(40, max(len(str(c.value or "")) for c in col) * 2))
    charts = wb.create_sheet("图表" if lang == "zh" else "Charts")
    for n, (_, png) in enumerate(images):
        img = Image(io.BytesIO(png))
        charts.add_image(img, f"A{1 + n * 19}")
    wb.save(str(path))


def report_html(r: WeeklyReport, lang: Lang, images: list[tuple[str, bytes]] | None = None) -> str:
    zh = lang == "zh"
    title = "订单健康度周报" if zh else "Order health weekly report"
    parts = [f"<h2>{title}</h2><p>{_when(r.span.start)} — {_when(r.span.end)}（北京时间）</p>" if zh else
             f"<h2>{title}</h2><p>{_when(r.span.start)} — {_when(r.span.end)} (China time)</p>"]
    images = images or []
    pictures = {name: n for n, (name, _) in enumerate(images)}
    for n, (sheet, (header, rows)) in enumerate(tables(r, lang).items()):
        if n == 1:
            for name in ("on_time", "consistency", "response", "shops", "late"):
                if name in pictures:
                    parts.append(f'<p><img src="chart://{name}" width="640"></p>')
        parts.append(f"<h3>{html.escape(sheet)}</h3>")
        parts.append(_html_table(header, rows[:60]))
    return "".join(parts)


def _html_table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table border="1" cellspacing="0" cellpadding="3"><tr>{head}</tr>{body}</table>'


def write_pdf(r: WeeklyReport, images: list[tuple[str, bytes]], path: str | Path, lang: Lang = "zh") -> None:
    from PySide6.QtCore import QMarginsF, QUrl
    from PySide6.QtGui import QFont, QGuiApplication, QImage, QPageLayout, QPageSize, QPdfWriter, QTextDocument

    writer = QPdfWriter(str(path))
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                                     QMarginsF(12, 12, 12, 12), QPageLayout.Unit.Millimeter))
    writer.setResolution(150)
    writer.setTitle("订单健康度周报" if lang == "zh" else "Order health weekly report")
    writer.setCreator("OrderHub 订单中枢")
    doc = QTextDocument()
    doc.setDefaultFont(QFont(QGuiApplication.font().family(), 9))
    for name, png in images:
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(f"chart://{name}"), QImage.fromData(png))
    doc.setHtml(report_html(r, lang, images))
    doc.print_(writer)


def operations_html(ops: health_ops.Operations, names: dict[tuple[str, str], str], lang: Lang) -> str:
    """The operations panel: sync per shop, SLA breaches, after-sales handling, outbox, reprints, stations."""
    zh = lang == "zh"
    t = lambda k: code_label("health_metric", k, lang)  # noqa: E731
    shops = _html_table(
        ["店铺" if zh else "Shop", t("sync_p50") + (" (秒)" if zh else " (s)"), t("sync_p95") + (" (秒)" if zh else " (s)"),
         "最近成功拉单" if zh else "Last good pull", "连续失败" if zh else "Failures in a row", "最近错误" if zh else "Last error"],
        [[s.shop, _secs(s.delay_p50), _secs(s.delay_p95), _when(s.last_success_at), s.consecutive_failures,
          s.last_error or ("无" if zh else "none")] for s in ops.shops])
    breaches = "".join(
        f"<p><b>{code_label('health_dimension', dim, lang)}</b>：" + ("，" if zh else ", ").join(
            f"{html.escape(names.get((dim, k), code_label('platform', k, lang) if dim == 'platform' else k))} {n}"
            for k, n in sorted(per.items())) + "</p>" for dim, per in ops.breaches.items() if per)
    lines = [
        (t("handling"), ("—" if ops.handling_median_s is None else f"{ops.handling_median_s / 3600:.1f} 小时" if zh
                         else f"{ops.handling_median_s / 3600:.1f} h") + f"（{ops.handling_cases}）"),
        (t("outbox_backlog"), ops.outbox_backlog), (t("dead_letters"), ops.dead_letters),
        ("补打拣货单" if zh else "Pick slips reprinted", ops.reprints),
        (t("print_failures"), ops.print_failures),
        (t("stations_online"), "、".join(ops.stations_active) or "—"),
        (t("stations_offline"), "、".join(ops.stations_quiet) or "—"),
    ]
    facts = _html_table(["项目" if zh else "Item", "数值" if zh else "Value"], [[k, v] for k, v in lines])
    return (f"<h3>{'平台 → 中枢同步' if zh else 'Platform → hub sync'}</h3>{shops}"
            f"<h3>{'超时（已超时发货 + 超时未发货）' if zh else 'SLA breaches (shipped late + overdue)'}</h3>"
            f"{breaches or ('<p>无</p>' if zh else '<p>none</p>')}<h3>{'其他' if zh else 'Other'}</h3>{facts}")


def ensure_qt() -> Any:
    """A QApplication with the bundled font; offscreen when there is no display (the command line)."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.ui import fonts

    app = QApplication.instance() or QApplication([])
    fonts.install(app)  # type: ignore[arg-type]
    return app


def write_report(uow: Callable[[], UnitOfWork], actor: Actor, path: str | Path, *, now: datetime, days: int = 7,
                 lang: Lang = "zh", report: WeeklyReport | None = None) -> WeeklyReport:
    """Write the report to ``path`` (.xlsx or .pdf by its suffix).

    Raises:
        BusinessError: HEALTH_EXPORT_FAILED when the file cannot be written; NOT_PERMITTED (nothing
            written) unless ``actor`` holds health.export.
    """
    health.require_export(uow(), actor)
    ensure_qt()
    r = report or collect(uow, actor, now=now, days=days)
    images = chart_images(r, lang)
    try:
        if str(path).lower().endswith(".pdf"):
            write_pdf(r, images, path, lang)
        else:
            write_xlsx(r, images, path, lang)
    except OSError as err:
        raise BusinessError("HEALTH_EXPORT_FAILED", path=str(path), reason=err.strerror or str(err)) from err
    if not Path(path).exists() or Path(path).stat().st_size == 0:
        raise BusinessError("HEALTH_EXPORT_FAILED", path=str(path), reason="")
    return r

