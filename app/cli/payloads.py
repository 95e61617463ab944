"""Command line for the raw payload archive: `orderhub payloads archive --before DATE`, `orderhub payloads restore ID`."""

from __future__ import annotations

import argparse
from datetime import datetime, time
from typing import Any

from app.domain import clock
from app.domain.errors import BusinessError
from app.domain.fields import Lang
from app.domain.messages import render
from app.settings import Settings


def register(sub: Any) -> None:
    payloads = sub.add_parser("payloads", help="原始报文归档 / raw payload archive").add_subparsers(
        dest="payloads_command", required=True)
    archive = payloads.add_parser("archive", help="把早于该日期（且超过保留天数）的原始报文移入归档文件 / "
                                                  "move raw payloads older than DATE (and the retention) to archive files")
    archive.add_argument("--before", required=True, metavar="DATE",
                         help="日期（北京时间零点），如 2026-09-01 / a date (midnight China time)")
    archive.add_argument("--batch", type=int, default=2000, help="每个文件的报文数 / payloads per file")
    restore = payloads.add_parser("restore", help="从归档文件取回一条原始报文 / bring one archived payload back")
    restore.add_argument("payload_id", type=int, help="原始报文编号 / raw payload id")


def _date(text: str) -> datetime:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise BusinessError("INVALID_VALUE", field="--before", value=text,
                            reason="YYYY-MM-DD") from None
    return datetime.combine(day, time(0), tzinfo=clock.CST)


def payloads_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.bootstrap import bootstrap
    from app.cli.identity import signed_in_actor
    from app.services import payload_archive

    before = _date(args.before) if args.payloads_command == "archive" else None
    hub = bootstrap(settings)
    try:
        actor = signed_in_actor(hub, args)
        folder = payload_archive.folder_of(settings)
        if args.payloads_command == "restore":
            name = payload_archive.restore(hub.uow(), actor, args.payload_id, folder)
            print(render("PAYLOAD_RESTORED", lang, id=args.payload_id, file=name))
            return 0
        run = payload_archive.archive(hub.uow, actor, before=before, retention_days=settings.payload_retention_days,
                                      folder=folder, batch=args.batch)
        print(render("PAYLOADS_ARCHIVED", lang, count=run.archived, size=run.size, files=len(run.files),
                     cutoff=clock.local(run.cutoff).strftime("%Y-%m-%d %H:%M"), skipped=run.skipped))
        for f in run.files:
            print(render("PAYLOAD_ARCHIVE_FILE", lang, file=folder / f.name, count=f.count, sha=f.sha256))
        return 0
    finally:
        hub.close()


HANDLERS = {"payloads": payloads_command}
