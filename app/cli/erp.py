"""Command line for the ERP bridge and 数电票: `orderhub webhook add|rotate|list|deliveries|dead|replay|inbound`,
`orderhub erp reconcile`, `orderhub einvoice setup|list`.

Secrets are generated here and put in the credential store (never the database); the secret is
printed once so it can be entered in the ERP. Commands that change something act as the signed-in
person (``orderhub login``) and need「管理ERP与开票接口」. ``HANDLERS`` maps each command to its handler.
"""

from __future__ import annotations

import argparse
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from app.cli.table import table
from app.domain.clock import local
from app.domain.fields import Lang, code_label, label
from app.domain.messages import render
from app.settings import Settings
from connectors.erp_webhooks import new_secret


def register(sub: Any) -> None:
    """Add `webhook` and `erp` to the `orderhub` subcommands."""
    hook = sub.add_parser("webhook", help="ERP 推送（Standard Webhooks）/ webhooks to and from the ERP")
    w = hook.add_subparsers(dest="webhook_command", required=True)
    add = w.add_parser("add", help="添加或修改ERP接口 / add or change an endpoint")
    add.add_argument("code", help="接口编码 / endpoint code")
    add.add_argument("--name", required=True, help="名称 / name")
    add.add_argument("--url", help="推送地址（不填则只接收）/ where to send (omit: receive only)")
    add.add_argument("--events", default="", help="只推送这些事件，逗号分隔 / only these event types")
    add.add_argument("--scheme", choices=("standard", "frappe"), default="standard",
                     help="ERP回传的签名方式 / how the ERP signs what it sends us")
    add.add_argument("--secret", help="使用给定密钥（ERPNext 的 Webhook Secret）/ use this secret")
    add.add_argument("--max-attempts", type=int, default=8, help="最多尝试次数 / attempts before a dead letter")
    add.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")
    rotate = w.add_parser("rotate", help="轮换签名密钥 / rotate an endpoint's secret")
    rotate.add_argument("code")
    w.add_parser("list", help="ERP接口列表 / endpoints")
    deliveries = w.add_parser("deliveries", help="推送记录 / deliveries")
    deliveries.add_argument("--order", help="订单ID / order ID")
    deliveries.add_argument("--attempts", type=int, help="某条推送的每次尝试 / every attempt of one delivery")
    w.add_parser("dead", help="发送失败（已用完重试）的推送 / dead letters")
    replay = w.add_parser("replay", help="重发失败的推送 / replay a dead letter")
    replay.add_argument("delivery_id", type=int)
    replay.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")
    replay.add_argument("--reason", help="原因 / why")
    w.add_parser("inbound", help="ERP发来的消息（含拒收）/ what the ERP sent, refused ones too")

    inv = sub.add_parser("einvoice", help="数电票服务商（诺诺）/ the e-invoice provider")
    e = inv.add_subparsers(dest="einvoice_command", required=True)
    setup = e.add_parser("setup", help="设置诺诺开放平台账号 / set up the 诺诺 account")
    setup.add_argument("--api-url", default="https://sdk.nuonuo.com/open/v1/services")
    setup.add_argument("--token-url", default="https://open.nuonuo.com/accessToken")
    setup.add_argument("--app-key", required=True)
    setup.add_argument("--app-secret", required=True)
    setup.add_argument("--user-tax", default="", help="第三方应用的授权商户税号 / userTax for third-party apps")
    setup.add_argument("--seller-tax-no", required=True, help="销方税号 / seller tax no.")
    setup.add_argument("--seller-name", required=True, help="销方名称 / seller name")
    setup.add_argument("--clerk", required=True, help="开票员（与开票登录账号一致）/ clerk")
    setup.add_argument("--goods-code", default="1040201010000000000", help="税收分类编码 / tax classification code")
    setup.add_argument("--tax-rate", default="0.13")
    setup.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")
    listed = e.add_parser("list", help="开票申请 / requests")
    listed.add_argument("--order", help="订单ID / order ID")

    erp = sub.add_parser("erp", help="ERP 对账 / ERP reconciliation").add_subparsers(dest="erp_command", required=True)
    rec = erp.add_parser("reconcile", help="比对ERP与订单中枢的订单环节 / compare stages with the ERP")
    rec.add_argument("--json", action="store_true", help="每行一个 JSON 对象 / one JSON object per line")


def _app(settings: Settings) -> Any:
    from app.bootstrap import bootstrap

    return bootstrap(settings)


def _t(moment: Any) -> str:
    return local(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def webhook_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.cli.identity import signed_in_actor
    from app.hub.credentials import open_store
    from app.services import erp_inbound, erp_outbound

    app = _app(settings)
    store = open_store(settings.data_dir)
    f = lambda key: label("erp", key, lang)  # noqa: E731
    try:
        cmd = args.webhook_command
        if cmd == "add":
            ref = f"orderhub:erp:{args.code}"
            known = store.get(ref)
            # ERPNext's Webhook Secret is free text; Standard Webhooks secrets are whsec_ + base64.
            secret = args.secret or (known.app_secret if known else
                                     secrets.token_hex(24) if args.scheme == "frappe" else new_secret())
            events = tuple(e.strip() for e in args.events.split(",") if e.strip())
            ep = erp_outbound.save_endpoint(app.uow(), args.code, name=args.name, url=args.url, secret_ref=ref,
                                            events=events, inbound_scheme=args.scheme, max_attempts=args.max_attempts,
                                            actor=signed_in_actor(app, args), store=store, secret=secret)
            print(render("ERP_ENDPOINT_SAVED", lang, endpoint=ep.code, url=ep.url or "-", ref=ref))
            print(secret)
        elif cmd == "rotate":
            fresh = new_secret()
            ep = erp_outbound.rotate_secret(app.uow(), store, args.code, fresh, signed_in_actor(app, args))
            print(render("ERP_SECRET_ROTATED", lang, endpoint=ep.code, secret=fresh))
        elif cmd == "list":
            rows = [[e.code, e.name, e.url or "-", ", ".join(code_label("erp_event", x, lang) for x in e.events) or "*",
                     code_label("erp_scheme", e.inbound_scheme, lang), str(e.max_attempts), "✓" if e.enabled else "✗"]
                    for e in erp_outbound.endpoints(app.uow())]
            print(table([f(k) for k in ("endpoint", "name", "url", "events", "scheme", "max_attempts", "enabled")], rows))
        elif cmd == "deliveries" and args.attempts:
            rows = [[str(a.attempt), _t(a.at), "✓" if a.ok else "✗", str(a.http_status or "-"), f"{a.duration_ms} ms",
                     (a.excerpt or a.error or "")[:80]] for a in erp_outbound.attempts(app.uow(), args.attempts)]
            print(table(["#", f("created_at"), f("status"), f("http_status"), "ms", f("last_error")], rows))
        elif cmd in ("deliveries", "dead"):
            got = (erp_outbound.dead_letters(app.uow()) if cmd == "dead"
                   else erp_outbound.deliveries(app.uow(), order_no=args.order))
            if cmd == "dead" and not got:
                print(render("ERP_DEAD_NONE", lang))
                return 0
            rows = [[str(d.outbox_id), d.endpoint_code, code_label("erp_event", d.event_type, lang), d.order_no or "",
                     code_label("outbox_status", d.status, lang), str(d.attempts), _t(d.created_at), _t(d.sent_at),
                     d.last_error or ""] for d in got]
            heads = [f("delivery_id"), f("endpoint"), f("event"), label("order", "order_no", lang)]
            print(table(heads + [f(k) for k in ("status", "attempts", "created_at", "sent_at", "last_error")], rows))
        elif cmd == "replay":
            row = erp_outbound.replay(app.uow(), args.delivery_id, signed_in_actor(app, args), basis=args.reason)
            print(render("ERP_REPLAYED", lang, id=row.outbox_id))
        elif cmd == "inbound":
            rows = [[str(r.id), _t(r.received_at), code_label("erp_scheme", r.scheme, lang), r.message_key or "",
                     code_label("erp_inbound_verdict", r.verdict, lang), str(r.http_status), r.subject or "",
                     r.reason or ""] for r in erp_inbound.inbound_log(app.uow())]
            print(table(["#", f("received_at"), f("scheme"), f("message_key"), f("verdict"), f("http_status"),
                         f("subject"), f("last_error")], rows))
        return 0
    finally:
        app.close()


def erp_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.services import erp_reconcile

    app = _app(settings)
    try:
        result = erp_reconcile.reconcile(app.uow())
        if args.json:
            for m in result.mismatches:
                print(json.dumps(asdict(m), ensure_ascii=False, default=str))
            return 0
        ratio = f"{result.ratio:.1%}" if result.ratio is not None else "-"
        print(render("ERP_RECONCILE", lang, matching=result.matching, compared=result.compared, ratio=ratio,
                     count=len(result.mismatches)))
        if result.mismatches:
            keys = ("ours", "erp", "erp_order_no", "erp_raw_status", "reported_at", "in_flight")
            rows = [[m.order_no, code_label("order_status", m.ours, lang), code_label("order_status", m.erp, lang),
                     m.erp_order_no or "", m.erp_raw_status or "", _t(m.reported_at), "✓" if m.in_flight else ""]
                    for m in result.mismatches]
            print(table([label("order", "order_no", lang)] + [label("erp", k, lang) for k in keys], rows))
        return 0
    finally:
        app.close()


def einvoice_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from decimal import Decimal

    from app.cli.identity import signed_in_actor
    from app.hub.credentials import open_store
    from app.services import einvoice
    from connectors.base import Credentials

    app = _app(settings)
    try:
        if args.einvoice_command == "setup":
            ref = "orderhub:einvoice:nuonuo"
            einvoice.save_provider(app.uow(), einvoice.ProviderConfig(
                code="nuonuo", name="诺诺开放平台", api_url=args.api_url, token_url=args.token_url, secret_ref=ref,
                seller_tax_no=args.seller_tax_no, seller_name=args.seller_name, clerk=args.clerk, invoice_line="pc",
                goods_code=args.goods_code, tax_rate=Decimal(args.tax_rate)), actor=signed_in_actor(app, args),
                store=open_store(settings.data_dir),
                credentials=Credentials(app_key=args.app_key, app_secret=args.app_secret, extra={"user_tax": args.user_tax}))
            print(render("EINVOICE_SAVED", lang, url=args.api_url, ref=ref))
            return 0
        f = lambda key: label("einvoice", key, lang)  # noqa: E731
        rows = [[r.order_no, code_label("einvoice_kind", r.kind, lang), code_label("einvoice_state", r.state, lang),
                 r.provider_order_no, r.serial_no or "", r.invoice_no or "",
                 f"{r.provider_code} {r.provider_message}" if r.provider_code else "", _t(r.updated_at)]
                for r in einvoice.requests_of(app.uow(), order_no=args.order)]
        heads = [label("order", "order_no", lang)] + [f(k) for k in ("kind", "state", "provider_order_no", "serial_no",
                                                                     "invoice_no", "provider_message", "updated_at")]
        print(table(heads, rows))
        return 0
    finally:
        app.close()


HANDLERS: dict[str, Callable[[argparse.Namespace, Settings, Lang], int]] = {
    "webhook": webhook_command, "erp": erp_command, "einvoice": einvoice_command,
}
