"""The `orderhub` command line: the station, the demo, and admin commands for scripts."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import exc as sa_exc

from app.cli.table import table
from app.domain.errors import BusinessError
from app.domain.fields import CODE_LISTS, Lang, code_from_label, code_label, label
from app.domain.messages import Coded, render
from app.settings import Settings, load_settings

LIST_COLUMNS = (
    "order_no", "platform", "shop", "ordered_at", "status", "paid_amount", "province", "warehouse", "tracking_no",
)


def _command_modules() -> list[Any]:
    """The command groups, each a module with ``register(subparsers)`` and ``HANDLERS``.

    Imported when the command line runs, not when ``app.cli`` is imported, so ``orderhub --help``
    stays quick and a group's heavy imports are paid only by the commands that use them.
    """
    from app.cli import after_sales, erp, health, identity, master_data, payloads, routing, station, warehouse

    return [routing, after_sales, warehouse, master_data, identity, station, erp, health, payloads]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orderhub", description="OrderHub 订单中枢")
    parser.add_argument("--lang", choices=("zh", "en"), help="显示语言 / display language (default: settings)")
    parser.add_argument("-v", "--verbose", action="store_true", help="详细日志 / verbose logging")
    parser.add_argument("--service-account", choices=("hub",), help="以 hub 服务账号运行（密钥在本机凭据库）"
                        " / act as the hub's service account (key in this computer's credential store)")
    sub = parser.add_subparsers(dest="command")

    db = sub.add_parser("db", help="数据库 / database").add_subparsers(dest="db_command", required=True)
    db.add_parser("url", help="当前使用的数据库（密码隐藏）/ which database is in use")
    db.add_parser("upgrade", help="升级数据库结构到最新版本 / bring the schema to the newest version")
    db.add_parser("status", help="数据库结构版本 / schema version")
    roles = db.add_parser("roles", help="在共享服务器上创建数据库角色 / create the database roles on a shared server")
    roles.add_argument("--password-from-env", action="store_true",
                       help="密码取自 ORDERHUB_DB_<ROLE>_PASSWORD / passwords from ORDERHUB_DB_<ROLE>_PASSWORD")

    audit = sub.add_parser("audit", help="审计日志 / audit trail").add_subparsers(dest="audit_command", required=True)
    verify = audit.add_parser("verify", help="校验哈希链 / verify the hash chain")
    verify.add_argument("--anchor", action="append", default=[], metavar="FILE",
                        help="库外保存的锚点文件，可多次给出 / an anchor file kept outside the database (repeatable)")
    anchor = audit.add_parser("anchor", help="导出链头锚点（每日） / export the chain's head (daily)")
    anchor.add_argument("--out", required=True, metavar="FILE", help="锚点文件 / the anchor file to write")
    use_hash = audit.add_parser("hash", help="今后记录使用的哈希算法 / hash algorithm for new records")
    use_hash.add_argument("algorithm", choices=("sha256", "sm3"))

    demo = sub.add_parser("demo", help="演示公司 / the demo company")
    demo.add_argument("--no-gui", action="store_true", help="只生成数据，不打开窗口 / seed only, no window")
    demo.add_argument("--seed", type=int, default=20261125, help="随机种子 / random seed")
    demo.add_argument("--orders", type=int, default=3000, help="订单数量 / number of orders")
    demo.add_argument("--reset", action="store_true", help="清空后重新生成 / wipe the database first")

    orders = sub.add_parser("orders", help="订单列表 / list orders")
    orders.add_argument("--status", help="订单当前所处环节，如 配货中 / stage, e.g. 配货中 or allocating")
    orders.add_argument("--platform", help="来源平台，如 抖店 / platform, e.g. 抖店 or douyin")
    orders.add_argument("--limit", type=int, default=20)
    orders.add_argument("--json", action="store_true", help="每行一个 JSON 对象 / one JSON object per line")

    from app.hub import commands as hub_commands

    hub_commands.register(sub)
    for module in _command_modules():
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    lang: Lang = args.lang or ("en" if settings.language == "en" else "zh")
    from app.hub import commands as hub_commands

    handlers = {"db": _db, "audit": _audit, "demo": _demo, "orders": _orders}
    handlers |= {name: hub_commands.run for name in hub_commands.HANDLED}
    for module in _command_modules():
        handlers |= module.HANDLERS
    if args.command is None:
        if not _no_screen():  # `orderhub` on a desktop opens the station
            args = _parser().parse_args(["station"])
        else:
            _parser().print_help()
            return 0
    try:
        return handlers[args.command](args, settings, lang)
    except BusinessError as err:
        print(err.message(lang), file=sys.stderr)
        return 2
    except sa_exc.DBAPIError as err:
        if not isinstance(err, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            raise
        # the database refused or could not be reached (a TLS refusal among them): words, not a traceback
        from app.db import engine as db_engine
        from app.services.unit_of_work import connection_failure

        where = db_engine.resolve(settings, start=False).masked()
        print(connection_failure(err, where).message(lang), file=sys.stderr)
        return 2


def _db(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.db import engine as db_engine
    from app.db import migrate

    if args.db_command == "roles":
        from app.db import roles

        made = roles.create_roles(settings, passwords=roles.passwords_from_env() if args.password_from_env else None)
        print(render("DB_ROLES_CREATED", lang, roles="、".join(made) if lang == "zh" else ", ".join(made)))
        return 0
    if args.db_command == "url":
        target = db_engine.resolve(settings, start=False)
        print(f"{target.masked()}  ({render('DB_EMBEDDED' if target.embedded else 'DB_SHARED', lang)})")
        return 0
    started = time.perf_counter()
    target = db_engine.resolve(settings)
    engine = db_engine.create_engine(target.url)
    try:
        if args.db_command == "upgrade":
            revision = migrate.upgrade(engine)
            print(render("DB_UPGRADED", lang, revision=revision, seconds=time.perf_counter() - started))
        else:
            current = migrate.current_revision(engine)
            print(render("DB_STATUS", lang, current=current or "-", head=migrate.head_revision()))
    finally:
        engine.dispose()
    return 0


def _audit(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.bootstrap import bootstrap
    from app.services import audit

    from pathlib import Path

    from app.domain import clock

    anchors = []
    for path in getattr(args, "anchor", []):
        try:
            anchors.append(audit.Anchor.from_json(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            print(render("AUDIT_ANCHOR_UNREADABLE", lang, path=path), file=sys.stderr)
            return 2
    hub = bootstrap(settings)
    try:
        if args.audit_command == "hash":
            from app.hub.identity import signed_in_actor

            before = audit.set_hash_algorithm(hub.uow(), args.algorithm, signed_in_actor(hub, args))
            print(render("AUDIT_HASH_SET", lang, algorithm=args.algorithm, before=before))
            return 0
        if args.audit_command == "anchor":
            head = audit.anchor(hub.uow(), taken_at=clock.now())
            if head is None:
                print(render("AUDIT_EMPTY", lang))
                return 0
            Path(args.out).write_text(head.to_json(), encoding="utf-8")
            print(render("AUDIT_ANCHORED", lang, record_id=head.record_id, hash_alg=head.hash_alg, hash=head.hash,
                         count=head.records, path=args.out))
            return 0
        verdict = audit.verify(hub.uow(), anchors=tuple(anchors))
    finally:
        hub.close()
    if verdict.ok:
        print(render("AUDIT_CHAIN_OK" if verdict.checked else "AUDIT_EMPTY", lang, count=verdict.checked))
        return 0
    reason = render({"prev_hash": "AUDIT_BROKEN_LINK", "anchor": "AUDIT_BROKEN_ANCHOR"}.get(verdict.reason or "",
                                                                                      "AUDIT_BROKEN_HASH"), lang)
    print(render("AUDIT_CHAIN_BROKEN", lang, record_id=verdict.broken_id, checked=verdict.checked, reason=reason))
    return 1


def _demo(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.bootstrap import bootstrap
    from app.demo import seed

    hub = bootstrap(settings)
    try:
        report = seed.seed_demo(hub, seed=args.seed, n_orders=args.orders, reset=args.reset)
        print(seed.describe(report, lang))
        if not args.no_gui:
            if _no_screen():
                print(render("DEMO_NO_WINDOW", lang))
            else:
                from app.hub.credentials import open_store
                from app.demo.seed import DEMO_PASSWORD
                from app.ui import station

                hint = (f"演示公司：所有人的密码都是 {DEMO_PASSWORD}（如 xiaomei 客服、li.sf 拣货员、liu.gong 管理员）"
                        if lang == "zh" else f"Demo company: everyone's password is {DEMO_PASSWORD} "
                        "(e.g. xiaomei customer service, li.sf picker, liu.gong administrator)")
                return int(station.run(hub, credentials=open_store(settings.data_dir), hint=hint))
    finally:
        hub.close()
    return 0


def _no_screen() -> bool:
    """A Linux box with no display (a server, CI): Qt would abort, so say so instead."""
    import os

    return (sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
            and not os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"))


def _orders(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.bootstrap import bootstrap
    from app.services.order_queries import OrderFilter, list_orders

    try:
        status = code_from_label("order_status", args.status) if args.status else None
        platform = code_from_label("platform", args.platform) if args.platform else None
    except KeyError as err:
        codes = "order_status" if args.status and err.args[0] == args.status else "platform"
        known = [Coded(codes, c) for c in CODE_LISTS[codes]]
        raise BusinessError("INVALID_VALUE", field=render("FILTER", lang), value=err.args[0],
                            reason=render("CHOOSE_FROM", lang, choices=known)) from None
    hub = bootstrap(settings)
    try:
        rows = list_orders(hub.uow(), OrderFilter(status=status, platform=platform), limit=args.limit)
    finally:
        hub.close()
    records = [_business_record(row, lang) for row in rows]
    if args.json:
        for rec in records:
            print(json.dumps(rec, ensure_ascii=False))
        return 0
    headers = [label("order", "shop" if c == "shop" else c, lang) for c in LIST_COLUMNS]
    print(table(headers, [[rec[h] for h in headers] for rec in records]))
    return 0


def _business_record(row: Any, lang: Lang) -> dict[str, str]:
    values = {
        "order_no": row.order_no,
        "platform": code_label("platform", row.platform, lang),
        "shop": row.shop,
        "ordered_at": _fmt(row.ordered_at),
        "status": code_label("order_status", row.status, lang),
        "paid_amount": _fmt(row.paid_amount),
        "province": row.province or "",
        "warehouse": row.warehouse or "",
        "tracking_no": row.tracking_no or "",
    }
    return {label("order", key, lang): values[key] for key in LIST_COLUMNS}


def _fmt(value: Any) -> str:
    if isinstance(value, datetime):
        from app.domain.clock import local

        return local(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, Decimal):
        return f"¥{value:,.2f}"
    return "" if value is None else str(value)




if __name__ == "__main__":
    raise SystemExit(main())
