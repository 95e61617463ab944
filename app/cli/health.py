"""Command line for 订单健康度: `orderhub health [--days 7] [--json] [--xlsx FILE] [--pdf FILE]`.

Works headless: the report's charts are drawn by the station's chart widgets on Qt's offscreen
platform with the bundled font, so a server with no display and no fonts can send the boss the PDF.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.cli.table import table
from app.domain import clock
from app.domain.fields import Lang, code_label
from app.domain.health import METRICS
from app.settings import Settings


def register(sub: Any) -> None:
    health = sub.add_parser("health", help="订单健康度与周报 / order health and the weekly report")
    health.add_argument("--days", type=int, default=7, help="统计最近几天（默认 7）/ the last N days (default 7)")
    health.add_argument("--json", action="store_true", help="以 JSON 输出 / print JSON")
    health.add_argument("--xlsx", help="把周报写成 Excel 文件 / write the report as .xlsx")
    health.add_argument("--pdf", help="把周报写成 PDF 文件 / write the report as .pdf")


def _shown(key: str, value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} s" if METRICS[key].unit == "seconds" else f"{value * 100:.1f}%"


def health_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.bootstrap import bootstrap
    from app.cli.identity import signed_in_actor
    from app.services import health, health_ops
    from app.ui.supervisor import report

    hub = bootstrap(settings)
    try:
        now = clock.now()
        actor = signed_in_actor(hub, args)
        if args.xlsx or args.pdf:  # refused before anything is read or written
            health.require_export(hub.uow(), actor)
        r = report.collect(hub.uow, actor, now=now, days=args.days)
        for path in (args.xlsx, args.pdf):
            if path:
                report.write_report(hub.uow, actor, path, now=now, days=args.days, lang=lang, report=r)
        if args.json:
            print(json.dumps({
                "start": r.span.start.isoformat(), "end": r.span.end.isoformat(),
                "headlines": [{"key": h.key, "name": code_label("health_metric", h.key, lang), "value": h.value,
                               "rating": h.rating.value, "detail": health_ops.as_plain(h.detail)}
                              for h in r.summary.headlines],
                "counts": health_ops.as_plain(r.summary.counts),
                "by_day": [{"day": clock.local(p.at).date().isoformat(), **health_ops.as_plain(p.counts),
                            "response_median_s": p.response_median} for p in r.points],
                "mismatches": health_ops.as_plain(r.mismatches),
                "operations": health_ops.as_plain(r.operations),
                "files": [p for p in (args.xlsx, args.pdf) if p],
            }, ensure_ascii=False))
            return 0
        zh = lang == "zh"
        rows = [[code_label("health_metric", h.key, lang), _shown(h.key, h.value),
                 code_label("health_rating", h.rating, lang)] for h in r.summary.headlines]
        real = r.summary.headline("real_on_time")
        rows.append([code_label("health_metric", "nominal_on_time", lang), _shown("nominal_on_time", real.detail["nominal"]), ""])
        print(table(["指标" if zh else "Measure", "数值" if zh else "Value", "状态" if zh else "Rating"], rows))
        for path in (args.xlsx, args.pdf):
            if path:
                print(("已写入 " if zh else "Written: ") + path)
        return 0
    finally:
        hub.close()


HANDLERS = {"health": health_command}
