"""Command line for routing: `orderhub trace ORDER_NO`, `orderhub rules list|history|dry-run|save|enable|disable`,
`orderhub route`.

``register(subparsers)`` adds the commands to the main parser; :data:`HANDLERS` maps each
command to its handler, called as ``handler(args, settings, lang)`` like the others in app.cli.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.cli.identity import signed_in_actor
from app.cli.table import table
from app.domain import clock
from app.domain.clock import local
from app.domain.errors import BusinessError
from app.domain.fields import Lang, label
from app.domain.messages import render
from app.domain.rules import describe_actions, describe_condition
from app.settings import Settings



def register(sub: Any) -> None:
    """Add `trace`, `rules` and `route` to the `orderhub` subcommands."""
    trace = sub.add_parser("trace", help="订单全貌：命中规则、发货仓及原因、变更记录、关联单据 / an order's whole story")
    trace.add_argument("order_no", help="订单ID / order ID")

    rules = sub.add_parser("rules", help="路由规则 / routing rules").add_subparsers(dest="rules_command", required=True)
    listed = rules.add_parser("list", help="规则列表（按执行顺序）/ rules in evaluation order")
    listed.add_argument("--enabled-only", action="store_true", help="只看已启用的 / enabled rules only")
    listed.add_argument("--json", action="store_true", help="每行一个 JSON 对象 / one JSON object per line")
    hist = rules.add_parser("history", help="一条规则的全部版本 / every version of one rule")
    hist.add_argument("code", help="规则编号 / rule code")
    dry = rules.add_parser("dry-run", help="用最近 N 天的订单试用规则，不做任何更改 / try a rule on recent orders, changing nothing")
    dry.add_argument("file", nargs="?", help="规则 JSON 文件 / rule JSON file")
    dry.add_argument("--days", type=int, default=7, help="最近几天 / how many days back (default 7)")
    dry.add_argument("--disable", metavar="CODE", help="试用停用这条规则 / try switching this rule off")
    save = rules.add_parser("save", help="保存规则（新版本）/ save a rule as a new version")
    save.add_argument("file", help="规则 JSON 文件 / rule JSON file")
    save.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")
    save.add_argument("--note", help="修改说明 / change note")
    for name, text in (("enable", "启用 / switch on"), ("disable", "停用 / switch off")):
        switch = rules.add_parser(name, help=f"{text}")
        switch.add_argument("code", help="规则编号 / rule code")
        switch.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")
        switch.add_argument("--basis", help="依据 / basis")

    route = sub.add_parser("route", help="按规则分配发货仓并预留库存 / route orders by the rules and reserve stock")
    route.add_argument("order_no", nargs="*", help="订单ID；不填则分配最近 N 小时全部待分配订单 / order IDs")
    route.add_argument("--hours", type=int, default=24, help="不填订单ID时：最近几小时的已支付订单 / recent paid orders")


def _hub(settings: Settings) -> Any:
    from app.bootstrap import bootstrap

    return bootstrap(settings)




def trace_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    """`orderhub trace ORDER_NO`: the order's story in business language."""
    from app.services.trace import order_story, render_story

    hub = _hub(settings)
    try:
        print(render_story(order_story(hub.uow(), args.order_no), lang))
    finally:
        hub.close()
    return 0


def _read_draft(path: str) -> Any:
    from app.services.rule_book import RuleDraft

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BusinessError("INVALID_VALUE", field=path, value=path, reason=str(err)[:120]) from None
    return RuleDraft.from_json(data)


def _list(args: argparse.Namespace, hub: Any, lang: Lang) -> int:
    from app.services import rule_book

    views, vocab = (rule_book.history(hub.uow(), args.code) if args.rules_command == "history"
                    else rule_book.list_rules(hub.uow(), include_disabled=not args.enabled_only))
    if not views:
        print(render("RULES_NONE", lang))
        return 0
    keys = ("code", "name", "version", "priority", "enabled", "condition", "actions", "author", "updated_at")
    records = []
    for v in views:
        records.append({
            "code": v.code, "name": v.name, "version": str(v.version), "priority": str(v.priority),
            "enabled": render("YES" if v.enabled else "NO", lang),
            "condition": describe_condition(v.condition, vocab, lang),
            "actions": describe_actions(v.actions, vocab, lang), "author": v.author,
            "updated_at": local(v.saved_at).strftime("%Y-%m-%d %H:%M"),
        } | ({"note": v.note or ""} if args.rules_command == "history" else {}))
    if getattr(args, "json", False):
        for rec in records:
            print(json.dumps({label("rule_def", k, lang): val for k, val in rec.items()}, ensure_ascii=False))
        return 0
    shown = keys + (("note",) if args.rules_command == "history" else ())
    print(table([label("rule_def", k, lang) for k in shown], [[r[k] for k in shown] for r in records]))
    return 0


def _dry_run(args: argparse.Namespace, hub: Any, lang: Lang) -> int:
    from app.services.rule_book import RuleDraft
    from app.services.rule_dry_run import dry_run, outcome_label, summary

    if args.disable:
        draft, disable = RuleDraft(args.disable, args.disable, {"all": []}, []), True
    elif args.file:
        draft, disable = _read_draft(args.file), False
    else:
        raise BusinessError("INVALID_VALUE", field="dry-run", value="-", reason=render("CHOOSE_FROM", lang,
                                                                                      choices=["FILE", "--disable CODE"]))
    report = dry_run(hub.uow(), draft, signed_in_actor(hub, args), days=args.days, disable=disable)
    for line in summary(report, lang):
        print(line)
    headers = [label("dry_run", k, lang) for k in ("outcome", "today", "draft", "change")]
    rows = [[outcome_label(r.outcome, report.vocab, lang), str(r.today), str(r.draft), f"{r.change:+d}" if r.change else "0"]
            for r in report.rows]
    print(table(headers, rows))
    return 0


def _save(args: argparse.Namespace, hub: Any, lang: Lang) -> int:
    from dataclasses import replace

    from app.services import rule_book

    draft = _read_draft(args.file)
    if args.note:
        draft = replace(draft, note=args.note)
    result = rule_book.save_rule(hub.uow(), draft, signed_in_actor(hub, args))
    print(render("RULE_SAVED" if result.changed else "RULE_UNCHANGED", lang, rule=result.rule.name,
                 version=result.rule.version))
    return 0


def _switch(args: argparse.Namespace, hub: Any, lang: Lang) -> int:
    from app.services import rule_book

    view = rule_book.set_enabled(hub.uow(), args.code, args.rules_command == "enable", signed_in_actor(hub, args),
                                 args.basis)
    print(render("RULE_ENABLED" if view.enabled else "RULE_DISABLED", lang, rule=view.name))
    return 0


def rules_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    """`orderhub rules …`."""
    handlers: dict[str, Callable[[argparse.Namespace, Any, Lang], int]] = {
        "list": _list, "history": _list, "dry-run": _dry_run, "save": _save, "enable": _switch, "disable": _switch}
    hub = _hub(settings)
    try:
        return handlers[args.rules_command](args, hub, lang)
    finally:
        hub.close()


def route_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    """`orderhub route [ORDER_NO …]`: route the named orders, or every paid order of the last hours."""
    import sqlalchemy as sa

    from app.domain.fields import code_label
    from app.services import routing

    hub = _hub(settings)
    try:
        order_nos = list(args.order_no)
        if not order_nos:
            with hub.uow() as uow:
                since = clock.now() - timedelta(hours=args.hours)
                order_nos = list(uow.session.scalars(sa.text(
                    "SELECT order_no FROM orders WHERE status = 'paid' AND ordered_at >= :s ORDER BY id"), {"s": since}))
        actor = signed_in_actor(hub, args)
        counts: dict[str, int] = {}
        batches = [order_nos[start:start + 200] for start in range(0, len(order_nos), 200)]
        if args.order_no:  # named orders: routed again by hand, whatever their state
            done = (routing.route_orders(hub.uow(), b, actor, trigger="manual") for b in batches)
        else:  # whatever waits: pipelined, the next batch decided while the one before commits
            done = routing.route_stream(hub.uow, batches, actor)
        for results in done:
            for result in results:
                counts[result.outcome] = counts.get(result.outcome, 0) + 1
                if args.order_no:
                    print(f"{result.order_no}  {code_label('routing_outcome', result.outcome, lang)}  "
                          + "、".join(result.warehouses))
        print(("，" if lang == "zh" else ", ").join(f"{code_label('routing_outcome', k, lang)} {v}"
                                                    for k, v in sorted(counts.items())) or render("TRACE_NONE", lang))
    finally:
        hub.close()
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace, Settings, Lang], int]] = {
    "trace": trace_command, "rules": rules_command, "route": route_command}


def main(argv: list[str] | None = None) -> int:
    """Run the routing commands on their own (what app.cli does once wired), for tests and scripts."""
    from app.settings import load_settings

    parser = argparse.ArgumentParser(prog="orderhub")
    parser.add_argument("--lang", choices=("zh", "en"))
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    settings = load_settings()
    lang: Lang = args.lang or ("en" if settings.language == "en" else "zh")
    try:
        return HANDLERS[args.command](args, settings, lang)
    except BusinessError as err:
        print(err.message(lang), file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
