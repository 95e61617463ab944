"""Command line for after-sales: `orderhub case …`, `orderhub flow …`, `orderhub outbox …`, `orderhub red-letter …`.

Every name a person types or reads is in business language (「尺码调换」, 「查库存并处理」); codes work too.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from app.cli.identity import signed_in_actor
from app.cli.table import table
from app.domain import clock
from app.domain.clock import local
from app.domain.errors import InvalidValue
from app.domain.fields import Lang, code_from_label, code_label
from app.domain.messages import render
from app.settings import Settings


def register(sub: Any) -> None:
    case = sub.add_parser("case", help="售后单 / after-sales cases").add_subparsers(dest="case_command", required=True)
    op = case.add_parser("open", help="发起售后 / open a case")
    op.add_argument("order_no", help="订单ID / order ID")
    op.add_argument("--kind", required=True, help="售后类型：尺码调换/退货退款/仅退款/补发 / kind")
    op.add_argument("--line", action="append", required=True, metavar="行号[:数量[:新尺码]]",
                    help="售后商品行，如 1:1:120 / line no[:qty[:new size]]")
    op.add_argument("--reason", required=True, help="客户诉求 / the customer's reason")
    op.add_argument("--basis", help="原始依据（工单、聊天记录）/ basis")
    op.add_argument("--phone", help="客户留的手机号（用于短信）/ the customer's phone for SMS")
    op.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")
    st = case.add_parser("step", help="售后流转 / take a step")
    st.add_argument("case_no", help="售后单号 / case no.")
    st.add_argument("step", help="步骤，如 查库存并处理 / step, e.g. check_stock")
    st.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")
    st.add_argument("--basis")
    st.add_argument("--failed", action="store_true", help="验货不通过 / inspection failed")
    st.add_argument("--version", type=int, help="您看到的售后单版本（默认当前）/ the case version you saw")
    show = case.add_parser("show", help="售后单详情 / one case")
    show.add_argument("case_no")
    lst = case.add_parser("list", help="订单的售后单 / cases of an order")
    lst.add_argument("order_no")
    resp = case.add_parser("respond", help="记录首次回复客户 / record the first answer")
    resp.add_argument("case_no")
    resp.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")
    rt = case.add_parser("response-time", help="首次响应时长中位数 / median first response")
    rt.add_argument("--days", type=int, default=7)

    flow = sub.add_parser("flow", help="售后流程 / after-sales flows").add_subparsers(dest="flow_command", required=True)
    flow.add_parser("list", help="流程与版本 / flows and versions")
    fs = flow.add_parser("show", help="流程定义（JSON）/ a flow's definition")
    fs.add_argument("code", help="售后类型 / kind")
    fs.add_argument("--version", type=int)
    fv = flow.add_parser("save", help="保存流程（新版本）/ save as a new version")
    fv.add_argument("file")
    fv.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")
    fv.add_argument("--note")

    out = sub.add_parser("outbox", help="待发送消息（短信、采购提醒、客服提醒）/ the outbox").add_subparsers(
        dest="outbox_command", required=True)
    ol = out.add_parser("list", help="列出 / list")
    ol.add_argument("--topic", action="append", default=[], help="短信/采购补货提醒/客服提醒 …")
    ol.add_argument("--status", action="append", default=[], help="待发送/已发送/发送失败")
    ol.add_argument("--limit", type=int, default=30)
    orr = out.add_parser("retry", help="失败消息重新排队 / queue a failed message again")
    orr.add_argument("id", type=int)
    orr.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")
    out.add_parser("dispatch", help="立即发送一轮短信 / send due SMS now")

    red = sub.add_parser("red-letter", help="红字确认单 / red-letter confirmations").add_subparsers(
        dest="red_command", required=True)
    for name, text in (("confirm", "购方已确认 / buyer confirmed"), ("deny", "购方否认 / buyer denied"),
                       ("withdraw", "销方撤销 / seller withdrew")):
        r = red.add_parser(name, help=text)
        r.add_argument("confirm_no")
        r.add_argument("--operator", help="操作人（须与已登录的一致）/ must be the signed-in person")
        r.add_argument("--basis")
    red.add_parser("sweep", help="检查72小时时限 / check the 72-hour limit now")


def _app(settings: Settings) -> Any:
    from app.bootstrap import bootstrap

    return bootstrap(settings)


def _code(kind: str, value: str, what: str) -> str:
    try:
        return code_from_label(kind, value)
    except KeyError:
        raise InvalidValue(field=what, value=value, reason="不认识") from None


def _fmt(value: Any) -> str:
    if isinstance(value, datetime):
        return f"{local(value):%Y-%m-%d %H:%M:%S}"
    return "-" if value is None else str(value)


def render_case(c: Any, lang: Lang) -> str:
    """A case in business language: what, where it stands, what may happen next, and its story."""
    rows = [(code_label("after_sales_kind", c.kind, lang), c.case_no, c.order_no, code_label("after_sales_state", c.state, lang),
             str(c.flow_version), _fmt(c.refund_amount), c.linked_order_no or "-")]
    head = table(["售后类型", "售后单号", "订单ID", "当前状态", "流程版本", "退款金额", "换货/补发单"] if lang == "zh" else
                 ["Kind", "Case", "Order", "State", "Flow version", "Refund", "Linked order"], rows)
    lines = [head, ("可执行：" if lang == "zh" else "Next: ") + "、".join(code_label("as_step", s, lang) for s in c.allowed_steps)]
    lines.append(table(["商品行", "SKU", "数量", "新尺码"] if lang == "zh" else ["Line", "SKU", "Qty", "New size"],
                       [(str(ln["line_no"]), ln["sku"], str(ln["qty"]), ln.get("new_size", "-")) for ln in c.lines]))
    lines.append(table(["时间", "步骤", "状态", "操作人", "工作站", "依据"] if lang == "zh" else
                       ["Time", "Step", "State", "Operator", "Station", "Basis"],
                       [(_fmt(e["at"]), code_label("as_step", e["step"], lang),
                         code_label("after_sales_state", e["to"], lang), e["operator"], e["station"] or "-", e["basis"] or "-")
                        for e in c.events]))
    for r in c.red_letters:
        lines.append(f"红字确认单 {r['confirm_no']}：{code_label('red_confirm_state', r['state'], lang)}，"
                     f"{'部分' if r['partial'] else '全额'}红冲 {r['red_amount']} 元" if lang == "zh" else
                     f"Red-letter {r['confirm_no']}: {code_label('red_confirm_state', r['state'], lang)}, "
                     f"{'partial' if r['partial'] else 'full'} {r['red_amount']}")
    return "\n".join(lines)


def case_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.services import after_sales

    app = _app(settings)
    try:
        actor = signed_in_actor(app, args) if args.case_command in ("open", "step", "respond") else None
        cmd = args.case_command
        if cmd == "open":
            lines = []
            for spec in args.line:
                parts = spec.split(":")
                line: dict[str, Any] = {"line_no": int(parts[0])}
                if len(parts) > 1 and parts[1]:
                    line["qty"] = int(parts[1])
                if len(parts) > 2:
                    line["new_size"] = parts[2]
                lines.append(line)
            c = after_sales.open_case(app.uow(), args.order_no, _code("after_sales_kind", args.kind, "售后类型"), lines,
                                      actor=actor, reason=args.reason, basis=args.basis, contact_phone=args.phone)
            print(render("AS_CASE_OPENED", lang, case_no=c.case_no, kind=code_label("after_sales_kind", c.kind, lang),
                         version=c.flow_version, state=code_label("after_sales_state", c.state, lang)))
        elif cmd == "step":
            version = args.version or after_sales.case(app.uow(), args.case_no).version
            step = _code("as_step", args.step, "步骤")
            c = after_sales.step(app.uow(), args.case_no, step, expected_version=version, actor=actor, basis=args.basis,
                                 params={"passed": not args.failed})
            print(render("AS_CASE_STEPPED", lang, case_no=c.case_no, step=code_label("as_step", step, lang),
                         state=code_label("after_sales_state", c.state, lang)))
        elif cmd == "show":
            print(render_case(after_sales.case(app.uow(), args.case_no), lang))
        elif cmd == "list":
            for c in after_sales.cases_of_order(app.uow(), args.order_no):
                print(render_case(c, lang), end="\n\n")
        elif cmd == "respond":
            after_sales.respond(app.uow(), args.case_no, actor)
        elif cmd == "response-time":
            since = clock.now() - timedelta(days=args.days)
            m = after_sales.first_response(app.uow(), since=since)
            verdict = "" if m.met is None else ("✓ 达标" if m.met else "✗ 未达标") if lang == "zh" else (
                "" if m.met is None else ("✓ met" if m.met else "✗ missed"))
            print(render("AS_MEDIAN_RESPONSE", lang, seconds="-" if m.median_seconds is None else f"{m.median_seconds:.0f}",
                         count=m.cases, target=m.target_seconds, verdict=verdict))
        return 0
    finally:
        app.close()


def flow_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.services import after_sales_flows

    app = _app(settings)
    try:
        if args.flow_command == "list":
            print(table(["售后类型", "名称", "当前版本", "版本数", "保存人", "保存时间"] if lang == "zh" else
                        ["Kind", "Name", "Version", "Versions", "Saved by", "Saved at"],
                        [(code_label("after_sales_kind", f["code"], lang), f["name"], str(f["version"]), str(f["versions"]),
                          f["updated_by"], _fmt(f["updated_at"])) for f in after_sales_flows.listing(app.uow())]))
        elif args.flow_command == "show":
            code = _code("after_sales_kind", args.code, "售后类型")
            print(json.dumps(after_sales_flows.definition(app.uow(), code, args.version), ensure_ascii=False, indent=2))
        else:
            saved = after_sales_flows.save(app.uow(), json.loads(Path(args.file).read_text(encoding="utf-8")),
                                           signed_in_actor(app, args), note=args.note)
            name = code_label("after_sales_kind", saved.code, lang)
            print(render("AS_FLOW_SAVED" if saved.changed else "AS_FLOW_UNCHANGED", lang, flow=name, version=saved.version))
        return 0
    finally:
        app.close()


def outbox_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.services import outbox

    app = _app(settings)
    try:
        if args.outbox_command == "list":
            topics = tuple(_code("outbox_topic", t, "消息类型") for t in args.topic)
            statuses = tuple(_code("outbox_status", s, "状态") for s in args.status)
            for m in outbox.listing(app.uow(), topics=topics, statuses=statuses, limit=args.limit):
                print(render("OUTBOX_ROW", lang, id=m["id"], topic=code_label("outbox_topic", m["topic"], lang)
                             if m["topic"] in _topics() else m["topic"], status=code_label("outbox_status", m["status"], lang),
                             attempts=m["attempts"], key=_describe(m, lang), error=m["last_error"] or ""))
        elif args.outbox_command == "retry":
            outbox.retry(app.uow(), args.id, signed_in_actor(app, args))
        else:
            from app.hub.commands import sms_client
            from app.hub.credentials import open_store
            from app.hub.sms_dispatch import dispatch

            client = sms_client(settings, open_store(settings.data_dir), [], simulate=False)
            if client is None:
                print(render("SMS_NOT_CONFIGURED", lang), file=sys.stderr)
                return 1
            r = dispatch(app, client)
            print(render("OUTBOX_DISPATCHED", lang, sent=r.sent + r.already_sent, retry=r.retry, failed=r.failed))
        return 0
    finally:
        app.close()


def _topics() -> set[str]:
    from app.domain.fields import CODE_LISTS

    return set(CODE_LISTS["outbox_topic"])


def _describe(m: dict[str, Any], lang: Lang) -> str:
    p = m["payload"]
    if p.get("message"):
        return render(p["message"], lang, **{k: v for k, v in (p.get("params") or {}).items()})
    if m["topic"] == "sms":
        return f"{p.get('phone', '?')} {p.get('template', '')} {p.get('case_no', '')}"
    return m["dedupe_key"]


def red_letter_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.services import red_letter

    app = _app(settings)
    try:
        if args.red_command == "sweep":
            counts = red_letter.sweep(app.uow())
            print(json.dumps(counts))
            return 0
        target = {"confirm": "04", "deny": "05", "withdraw": "08"}[args.red_command]
        conf = red_letter.move(app.uow(), args.confirm_no, target, signed_in_actor(app, args), basis=args.basis)
        print(f"{conf.confirm_no} → {code_label('red_confirm_state', conf.state, lang)}"
              + (f"（红字发票 {conf.red_invoice_no}）" if conf.red_invoice_no else ""))
        return 0
    finally:
        app.close()


HANDLERS: dict[str, Callable[[argparse.Namespace, Settings, Lang], int]] = {
    "case": case_command, "flow": flow_command, "outbox": outbox_command, "red-letter": red_letter_command,
}
