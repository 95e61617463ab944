"""Command line for the warehouse: `orderhub wave create|list|slips`, `orderhub print-slip`, `orderhub scan`,
`orderhub notices list|ack`.

``register(subparsers)`` adds the commands to the main parser; :data:`HANDLERS` maps each
command to its handler, called as ``handler(args, settings, lang)`` like the others in app.cli.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.cli.identity import signed_in_actor
from app.cli.table import table
from app.domain.clock import local
from app.domain.errors import BusinessError
from app.domain.fields import Lang, code_label, label
from app.domain.messages import render
from app.settings import Settings

# The short names on the command line → the printers' paper profiles.
PROFILES = {"a5": "a5_6inch", "4in": "4inch", "80mm": "80mm", "58mm": "58mm"}


def register(sub: Any) -> None:
    """Add `wave`, `print-slip`, `scan` and `notices` to the `orderhub` subcommands."""
    wave = sub.add_parser("wave", help="波次 / pick waves").add_subparsers(dest="wave_command", required=True)
    create = wave.add_parser("create", help="按优先级、发货时限、库区组一个波次 / make a wave")
    create.add_argument("--warehouse", required=True, help="仓库编码或名称 / warehouse code or name")
    create.add_argument("--max-orders", type=int, help="最多几单（默认全部，最多 500）/ at most N orders")
    create.add_argument("--zone", help="只要从这个库区开始拣的订单 / only orders starting in this zone")
    create.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")
    listed = wave.add_parser("list", help="波次列表 / list waves")
    listed.add_argument("--warehouse", help="仓库编码或名称 / warehouse")
    listed.add_argument("--open", action="store_true", help="只看未完成的 / open waves only")
    listed.add_argument("--json", action="store_true", help="每行一个 JSON 对象 / one JSON object per line")
    slips = wave.add_parser("slips", help="波次的拣货单内容（文字）/ a wave's slips as text")
    slips.add_argument("wave_no", help="波次号 / wave no.")
    printed = wave.add_parser("print", help="把波次的拣货单送往设置的打印机 / print a wave's slips")
    printed.add_argument("wave_no", help="波次号 / wave no.")
    printed.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")
    reprint = wave.add_parser("reprint", help="补打一单的拣货单 / reprint one order's slip")
    reprint.add_argument("order_no", help="订单ID / order ID")
    reprint.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")
    reprint.add_argument("--reason", required=True, help="补打原因 / why")

    slip = sub.add_parser("print-slip", help="把一单的拣货单写成 ESC/POS 文件和预览图 / write a pick slip")
    slip.add_argument("order_no", help="订单ID / order ID")
    slip.add_argument("--out", required=True, help="ESC/POS 字节文件 / ESC/POS bytes file")
    slip.add_argument("--preview", help="预览图 PNG / preview PNG")
    slip.add_argument("--profile", default="a5", choices=sorted(PROFILES), help="纸宽 / paper (default a5)")
    slip.add_argument("--picker", help="拣货员（扫码查进度用）/ picker for the progress QR")

    scan = sub.add_parser("scan", help="像扫码枪一样扫一个码 / act on one scanned code")
    scan.add_argument("code", help="订单二维码、商品条码或快递单号 / order QR, item barcode or tracking no.")
    scan.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")
    scan.add_argument("--box", help="箱号 / box no.")

    notices = sub.add_parser("notices", help="仓库变更通知 / change notices").add_subparsers(
        dest="notices_command", required=True)
    nl = notices.add_parser("list", help="未确认的通知 / open notices")
    nl.add_argument("--picker", help="只看这个拣货员的 / one picker's")
    ack = notices.add_parser("ack", help="确认一单的通知 / acknowledge")
    ack.add_argument("order_no")
    ack.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")


def _hub(settings: Settings) -> Any:
    from app.bootstrap import bootstrap

    return bootstrap(settings)


def wave_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.services import pick_slips, waves

    hub = _hub(settings)
    try:
        if args.wave_command == "create":
            w = waves.create_wave(hub.uow(), args.warehouse, signed_in_actor(hub, args), max_orders=args.max_orders,
                                  zone=args.zone)
            print(render("WAVE_CREATED", lang, wave_no=w.wave_no, count=w.order_count, pieces=w.piece_count,
                         warehouse=w.warehouse, zones=" ".join(w.zones) or "—"))
            for n, order_no in enumerate(w.order_nos, 1):
                print(f"  {n:>3}  {order_no}")
            return 0
        if args.wave_command in ("print", "reprint"):
            return _print(args, settings, hub, lang)
        if args.wave_command == "slips":
            for s in pick_slips.wave_slips(hub.uow(), args.wave_no):
                print(f"{s.order_no}  {s.platform}  {s.priority}  " + "  ".join(
                    f"{x.bin_code} {x.name} {x.color}/{x.size} ×{x.quantity}" for x in s.lines))
            return 0
        rows = waves.list_waves(hub.uow(), warehouse=args.warehouse, open_only=args.open)
        keys = ("wave_no", "warehouse", "status", "order_count", "piece_count", "zones", "earliest_ship_by",
                "created_by", "created_at")
        records = [{
            "wave_no": w.wave_no, "warehouse": w.warehouse, "status": code_label("wave_status", w.status, lang),
            "order_count": f"{w.done_count}/{w.order_count}", "piece_count": str(w.piece_count),
            "zones": " ".join(w.zones), "earliest_ship_by": f"{local(w.earliest_ship_by):%m-%d %H:%M}" if w.earliest_ship_by else "—",
            "created_by": w.created_by, "created_at": f"{local(w.created_at):%m-%d %H:%M}"} for w in rows]
        if args.json:
            for rec in records:
                print(json.dumps({label("wave", k, lang): v for k, v in rec.items()}, ensure_ascii=False))
        else:
            print(table([label("wave", k, lang) for k in keys], [[r[k] for k in keys] for r in records]))
        return 0
    finally:
        hub.close()


def _print(args: argparse.Namespace, settings: Settings, hub: Any, lang: Lang) -> int:
    """Queue the slips for the settings' printer and print what it takes now; what holds it up is said."""
    from app.services.pick_slips import SlipPrinter

    printer = SlipPrinter.from_settings(settings, hub.uow, lang=lang)
    if printer is None:
        raise BusinessError("PRINTER_NOT_SET")
    try:
        actor = signed_in_actor(hub, args)
        print(printer.print_wave(args.wave_no, actor) if args.wave_command == "print"
              else printer.reprint(args.order_no, actor, args.reason))
        printer.queue.run_once()
        print(printer.status_text(lang))
        return 0 if not printer.has_problem else 4
    finally:
        printer.stop()


def print_slip_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    """`orderhub print-slip ORDER_NO --out slip.bin --preview slip.png`: both forms from one layout."""
    from app.services import pick_slips

    try:
        from printers.escpos_render import render_escpos
        from printers.layout import lay_out
        from printers.preview import render_preview
        from printers.profiles import profile
    except ImportError:
        raise BusinessError("PRINTERS_MISSING") from None
    hub = _hub(settings)
    try:
        slip = pick_slips.build_slip(hub.uow(), args.order_no, picker=args.picker)
    finally:
        hub.close()
    paper = profile(PROFILES[args.profile])
    layout = lay_out(slip, paper, lang)
    data = render_escpos(layout)
    try:
        Path(args.out).write_bytes(data)
        if args.preview:
            render_preview(layout).save(args.preview)
    except OSError as err:
        raise BusinessError("INVALID_VALUE", field="--out", value=args.out, reason=str(err)[:120]) from None
    print(render("SLIP_WRITTEN", lang, out=args.out, size=len(data), profile=paper.title, preview=args.preview or "—"))
    return 0


def scan_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.services import picking

    hub = _hub(settings)
    try:
        result = picking.scan(hub.uow(), args.code, signed_in_actor(hub, args), box_no=args.box)
    finally:
        hub.close()
    print(result.message(lang))
    if result.pick is not None:
        for line in result.pick.lines:
            print(f"  {line.bin_code:<12} {line.name} {line.spec}  {line.scanned}/{line.needed}")
    return 0 if result.ok else 3


def notices_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.services import change_notices

    hub = _hub(settings)
    try:
        if args.notices_command == "ack":
            n = change_notices.acknowledge(hub.uow(), args.order_no, signed_in_actor(hub, args))
            print(render("NOTICE_ACKNOWLEDGED", lang, order_no=args.order_no, count=n.change_count))
            return 0
        for n in change_notices.open_notices(hub.uow(), picker=args.picker):
            print(f"{n.order_no}  {n.picker or '—'}  {n.summary(lang)}")
            for detail in n.details(lang):
                print(f"    {detail}")
        return 0
    finally:
        hub.close()


HANDLERS: dict[str, Callable[[argparse.Namespace, Settings, Lang], int]] = {
    "wave": wave_command, "print-slip": print_slip_command, "scan": scan_command, "notices": notices_command,
}
