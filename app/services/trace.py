"""An order's whole story (订单穿透 / 规则可追溯性), in business language.

Rules that fired are shown *as they read in the version that was in force at the time* (the
decision points at the immutable rule version), with a note when the rule has changed since;
then the warehouse chosen and why, who changed what and when on what basis, and the linked
documents: split parcels, exchange orders, invoices, after-sales cases, parcels and tracking.

A dozen indexed queries by order id: well under a second for any order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.domain.allocation import describe_note
from app.domain.clock import local
from app.domain.errors import NotFound
from app.domain.fields import FIELDS, Lang, code_label, label
from app.domain.messages import Coded, render
from app.domain.rules import InputField, Vocabulary, describe_actions, describe_condition, describe_value
from app.services import rule_book
from app.services.rule_book import RuleView
from app.services.unit_of_work import UnitOfWork


@dataclass
class OrderStory:
    """Everything known about one order, as plain values; :func:`render_story` words it."""

    order: dict[str, Any]
    decisions: list[dict[str, Any]]
    versions: dict[int, tuple[RuleView, int]]
    reservations: list[dict[str, Any]]
    audits: list[dict[str, Any]]
    shipments: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    cases: list[dict[str, Any]]
    exchange_of: list[dict[str, Any]]
    vocab: Vocabulary
    seconds: float = 0.0
    writebacks: list[dict[str, Any]] = field(default_factory=list)  # platform/carrier calls (issue #15)
    # Writes to the world about this order (issue #17): every ERP delivery attempt, every 数电票 request,
    # and what the ERP last said about the order.
    erp_attempts: list[dict[str, Any]] = field(default_factory=list)
    einvoices: list[dict[str, Any]] = field(default_factory=list)
    erp_view: list[dict[str, Any]] = field(default_factory=list)
    # the platform's raw payloads of this order (id, kind, sha256; where an archived one's bytes went)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    # every fetch of this order's detail for a platform push (the push inbox, issue #19), failed ones too
    push_fetches: list[dict[str, Any]] = field(default_factory=list)


def _rows(session: Session, sql: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(sa.text(sql), params).mappings()]


def order_story(uow: UnitOfWork, order_no: str) -> OrderStory:
    """Collect an order's story.

    Raises:
        NotFound: no order has this number.
    """
    started = time.perf_counter()
    with uow:
        s = uow.session
        found = _rows(s, "SELECT o.*, sh.name AS shop_name, w.name AS warehouse_name FROM orders o"
                         " JOIN shops sh ON sh.id = o.shop_id LEFT JOIN warehouses w ON w.id = o.warehouse_id"
                         " WHERE o.order_no = :n", n=order_no)
        if not found:
            raise NotFound(what="order", key=order_no)
        order = found[0]
        oid = order["id"]
        decisions = _rows(s, "SELECT * FROM routing_decisions WHERE order_id = :o ORDER BY id", o=oid)
        version_ids = sorted({r["id"] for d in decisions for r in d["rules"] if r["id"] is not None})
        story = OrderStory(
            order=order,
            decisions=decisions,
            versions=rule_book.versions_by_id(s, version_ids),
            reservations=_rows(s, "SELECT r.*, w.code AS warehouse, k.sku_code AS sku FROM stock_reservations r"
                                  " JOIN warehouses w ON w.id = r.warehouse_id JOIN skus k ON k.id = r.sku_id"
                                  " WHERE r.order_id = :o ORDER BY r.part_no, r.line_no, r.id", o=oid),
            audits=_rows(s, "SELECT id, occurred_at, operator, station, host(station_ip) AS ip, action, basis, before, after"
                            " FROM audit_log WHERE entity_type = 'order' AND entity_id = :n ORDER BY id", n=order_no),
            shipments=_rows(s, "SELECT sh.*, w.name AS warehouse_name, t.description AS last_event, t.occurred_at AS last_at"
                               " FROM shipments sh LEFT JOIN warehouses w ON w.id = sh.warehouse_id"
                               " LEFT JOIN LATERAL (SELECT description, occurred_at FROM tracking_events te"
                               " WHERE te.shipment_id = sh.id ORDER BY occurred_at DESC LIMIT 1) t ON true"
                               " WHERE sh.order_id = :o ORDER BY sh.id", o=oid),
            invoices=_rows(s, "SELECT i.*, b.invoice_no AS blue_no FROM invoices i LEFT JOIN invoices b"
                              " ON b.id = i.red_flush_of_id WHERE i.order_id = :o ORDER BY i.issued_at, i.id", o=oid),
            cases=_rows(s, "SELECT c.*, e.order_no AS exchange_no FROM after_sales_cases c LEFT JOIN orders e"
                           " ON e.id = c.exchange_order_id WHERE c.order_id = :o ORDER BY c.requested_at", o=oid),
            exchange_of=_rows(s, "SELECT c.case_no, o.order_no FROM after_sales_cases c JOIN orders o ON o.id = c.order_id"
                                 " WHERE c.exchange_order_id = :o", o=oid),
            vocab=rule_book.load_vocabulary(s),
            writebacks=_rows(s, "SELECT * FROM writeback_attempts WHERE order_id = :o ORDER BY id", o=oid),
            erp_attempts=_rows(s, "SELECT a.at, a.attempt, a.ok, a.http_status, a.excerpt, a.error, e.name AS endpoint,"
                                  " d.event_type FROM erp_deliveries d JOIN erp_delivery_attempts a ON a.outbox_id = d.outbox_id"
                                  " JOIN erp_endpoints e ON e.id = d.endpoint_id WHERE d.order_id = :o ORDER BY a.id", o=oid),
            einvoices=_rows(s, "SELECT r.*, i.invoice_no FROM einvoice_requests r LEFT JOIN invoices i"
                               " ON i.id = r.invoice_id WHERE r.order_id = :o ORDER BY r.id", o=oid),
            erp_view=_rows(s, "SELECT * FROM erp_order_status WHERE order_id = :o", o=oid),
            payloads=_rows(s, "SELECT id, kind, sha256, received_at, archived_at, archive_file FROM raw_payloads"
                              " WHERE order_id = :o ORDER BY id", o=oid),
            push_fetches=_rows(s, "SELECT a.at, a.attempt, a.ok, a.error, m.topic, m.msg_id FROM inbound_messages m"
                                  " JOIN inbound_message_attempts a ON a.message_id = m.id WHERE m.shop_id = :s"
                                  " AND m.platform_order_no = :n ORDER BY a.id", s=order["shop_id"],
                               n=order["platform_order_no"]),
        )
    story.seconds = time.perf_counter() - started
    return story


# --- wording --------------------------------------------------------------------------------------

def _t(moment: datetime | str | None) -> str:
    if moment is None:
        return "-"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return local(moment).strftime("%Y-%m-%d %H:%M:%S")


def _money(value: Any) -> str:
    return f"¥{Decimal(str(value)):,.2f}"


def _sep(lang: Lang) -> str:
    return "；" if lang == "zh" else "; "


def _inputs(inputs: dict[str, Any], vocab: Vocabulary, lang: Lang) -> str:
    shown = []
    for key, value in inputs.items():
        f = vocab.fields.get(key) or InputField(key, key, key)
        if value is None or value == [] or value == "":
            text = "-"
        elif isinstance(value, list):
            text = ("、" if lang == "zh" else ", ").join(str(v) for v in value)
        else:
            text = describe_value(f, value, vocab, lang)
        shown.append(f"{f.label(lang)}={text}")
    return _sep(lang).join(shown) or render("TRACE_NONE", lang)


def _lines(lines: list[list[Any]], lang: Lang) -> str:
    return ("、" if lang == "zh" else ", ").join(f"{sku}×{qty}" for _, sku, qty in lines)


def _decision(d: dict[str, Any], story: OrderStory, lang: Lang) -> list[str]:
    vocab, detail = story.vocab, d["detail"]
    names = vocab.names.get("warehouse", {})
    out = [render("TRACE_DECISION", lang, trigger=Coded("routing_trigger", d["trigger"]), operator=d["operator"],
                  outcome=Coded("routing_outcome", d["outcome"]))]
    rule_name: dict[str, str] = {}
    not_fired = len(d["evaluated_rule_version_ids"]) - len(d["rules"])
    for r in d["rules"]:
        found = story.versions.get(r["id"]) if r["id"] is not None else None
        if found is None:
            out.append("  " + render("TRACE_RULE_FIRED", lang, rule=r["code"], version=r["version"], newer="", sentence="-"))
            continue
        view, current = found
        rule_name[view.code] = view.name
        newer = render("TRACE_RULE_NEWER", lang, current=current) if current != view.version else ""
        skipped = [a for a in view.actions if a["type"] not in r["applied"]]
        sentence = render("RULE_SENTENCE", lang, condition=describe_condition(view.condition, vocab, lang),
                          actions=describe_actions(view.actions, vocab, lang))
        for a in skipped:
            if a["type"] == "hold" and r.get("reviewed"):
                sentence += render("TRACE_RULE_REVIEWED", lang)
            else:
                sentence += render("TRACE_RULE_OVERRIDDEN", lang, action=Coded("rule_action", a["type"]))
        out.append("  " + render("TRACE_RULE_FIRED", lang, rule=view.name, version=view.version, newer=newer,
                                 sentence=sentence))
    if not_fired:
        out.append("  " + render("TRACE_RULES_NOT_FIRED", lang, count=not_fired))
    if detail.get("broken_rules"):
        out.append("  " + render("TRACE_RULES_BROKEN", lang, count=len(detail["broken_rules"]),
                                 rules="、".join(detail["broken_rules"])))
    if d["inputs"]:
        out.append("  " + render("TRACE_INPUTS", lang, inputs=_inputs(d["inputs"], vocab, lang)))
    why = _sep(lang).join(describe_note(n, names, lang) for n in detail.get("notes", []))
    if d["outcome"] in ("allocated", "split", "shortage"):
        chosen = "、".join(names.get(p["warehouse"], p["warehouse"]) for p in detail.get("parts", [])) or "-"
        out.append("  " + render("TRACE_WAREHOUSE", lang, warehouses=chosen, why=why or "-"))
        if d["outcome"] == "split":
            for n, part in enumerate(detail["parts"], 1):
                out.append("    " + render("TRACE_PART", lang, n=n, warehouse=names.get(part["warehouse"], part["warehouse"]),
                                           lines=_lines(part["lines"], lang)))
    for hold in detail.get("holds", []):
        out.append("  " + render("TRACE_HOLD", lang, reason=Coded("hold_reason", hold["reason"]),
                                 rule=rule_name.get(hold["rule"], hold["rule"])))
    if detail.get("ship_by_rule"):
        out.append("  " + render("TRACE_SHIP_BY", lang, ship_by=_t(detail.get("ship_by")),
                                 rule=rule_name.get(detail["ship_by_rule"], detail["ship_by_rule"])))
    if detail.get("invoice_bound"):
        out.append("  " + render("TRACE_INVOICE_BOUND", lang, rule=rule_name.get(detail["invoice_bound"], detail["invoice_bound"])))
    for gift in detail.get("gifts", []):
        out.append("  " + render("TRACE_GIFT", lang, sku=gift["sku"], qty=gift["qty"], rule=rule_name.get(gift["rule"], gift["rule"])))
    if detail.get("released"):
        out.append("  " + render("TRACE_RELEASED", lang, lines=("、" if lang == "zh" else ", ").join(
            f"{names.get(r['warehouse'], r['warehouse'])} {r['sku']}×{r['qty']}" for r in detail["released"])))
    return out


def _shown(key: str, value: Any, lang: Lang) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if key == "status":
        return code_label("order_status", str(value), lang)
    if key == "parcel":  # a split parcel's contents: line no. × pieces
        return ("、" if lang == "zh" else ", ").join(
            render("TRACE_PARCEL_LINE", lang, line_no=x["line_no"], qty=x["qty"]) for x in value) or "-"
    if key == "holds":
        return ("、" if lang == "zh" else ", ").join(code_label("hold_reason", v, lang) for v in value) or "-"
    return str(value)


def _audit(a: dict[str, Any], lang: Lang) -> list[str]:
    out = [render("TRACE_AUDIT", lang, action=Coded("audit_action", a["action"]), operator=a["operator"],
                  station=a["station"] or "-", ip=a["ip"] or "-", basis=a["basis"] or "-")]
    before, after = a["before"] or {}, a["after"] or {}
    for key in [k for k in after if k not in ("version", "intercept")] + [k for k in before if k not in after]:
        if before.get(key) != after.get(key):
            name = next((label(entity, key, lang) for entity in ("order", "trace") if key in FIELDS[entity]), key)
            out.append("  " + render("TRACE_AUDIT_CHANGE", lang, field=name, before=_shown(key, before.get(key), lang),
                                     after=_shown(key, after.get(key), lang)))
    return out


def render_story(story: OrderStory, lang: Lang = "zh") -> str:
    """The story as text for the command line (and, later, the CS station's 订单穿透 view)."""
    o, names = story.order, story.vocab.names.get("warehouse", {})
    colon = "：" if lang == "zh" else ": "
    gap = "　" if lang == "zh" else "  "

    def fields(*pairs: tuple[str, str]) -> str:
        return gap.join(f"{label('order', k, lang)}{colon}{v}" for k, v in pairs)

    out = [f"{render('TRACE_SECTION_ORDER', lang)} {o['order_no']}",
           "  " + fields(("platform", code_label("platform", o["platform"], lang)), ("shop", o["shop_name"]),
                         ("platform_order_no", o["platform_order_no"]), ("customer_id", o["customer_id"])),
           "  " + fields(("ordered_at", _t(o["ordered_at"])), ("original_amount", _money(o["original_amount"])),
                         ("paid_amount", _money(o["paid_amount"])),
                         ("invoice_status", code_label("invoice_status", o["invoice_status"], lang))),
           "  " + fields(("status", code_label("order_status", o["status"], lang)),
                         ("warehouse", o["warehouse_name"] or "-"), ("ship_by", _t(o["ship_by"])),
                         ("tracking_no", o["tracking_no"] or "-")),
           "  " + fields(("receiver_address", o["receiver_address"] or "-")),
           "  " + fields(("items", _sep(lang).join(
               f"{it.get('sku')}×{it.get('qty')}" + ("（赠品）" if it.get("is_gift") and lang == "zh" else
                                                     " (gift)" if it.get("is_gift") else "") for it in o["items"])))]
    events: list[tuple[datetime, int, list[str]]] = [(o["ordered_at"], 0, [render("TRACE_ORDERED", lang)])]
    if o["paid_at"]:
        events.append((o["paid_at"], 1, [render("TRACE_PAID", lang)]))
    events += [(d["decided_at"], 2, _decision(d, story, lang)) for d in story.decisions]
    events += [(a["occurred_at"], 3, _audit(a, lang)) for a in story.audits]
    for sh in story.shipments:
        if sh["shipped_at"]:
            events.append((sh["shipped_at"], 4, [render("TRACE_SHIPPED", lang, carrier=sh["carrier"],
                                                        tracking_no=sh["tracking_no"], warehouse=sh["warehouse_name"] or "-")]))
        if sh["last_at"]:
            events.append((sh["last_at"], 5, [render("TRACE_TRACKING", lang, description=sh["last_event"])]))
    events += [(i["issued_at"], 6, [_invoice(i, lang)]) for i in story.invoices]
    events += [(c["requested_at"], 7, [_case(c, lang)]) for c in story.cases]
    events += [(w["attempted_at"], 8, [_writeback(w, lang)]) for w in story.writebacks]
    events += [(a["at"], 8, [_erp_attempt(a, lang)]) for a in story.erp_attempts]
    events += [(r["updated_at"], 9, [_einvoice(r, lang)]) for r in story.einvoices]
    events += [(p["received_at"], 0, _payload(p, lang)) for p in story.payloads]
    events += [(f["at"], 0, [push_fetch(f, lang)]) for f in story.push_fetches]
    events += [(at, 0, [line]) for at, line in sale_events(story, lang)]
    out.append(render("TRACE_SECTION_STORY", lang))
    for at, _, lines in sorted(events, key=lambda e: (e[0], e[1])):
        out.append(f"  {_t(at)}  {lines[0]}")
        out.extend("      " + line for line in lines[1:])
    out.append(render("TRACE_SECTION_DOCS", lang))
    out.extend(_documents(story, names, lang))
    out.append(render("TRACE_TOOK", lang, ms=round(story.seconds * 1000)))
    return "\n".join(out)


def _payload(p: dict[str, Any], lang: Lang) -> list[str]:
    lines = [render("TRACE_PAYLOAD", lang, id=p["id"], kind=p["kind"], sha=p["sha256"][:16])]
    if p["archive_file"]:
        lines.append(render("TRACE_PAYLOAD_ARCHIVED", lang, file=p["archive_file"], at=_t(p["archived_at"])))
    return lines


def sale_events(story: OrderStory, lang: Lang) -> list[tuple[datetime, str]]:
    """A store sale's order: when the till's sale was received (answered) and when its order was created after."""
    o = story.order
    if o["platform"] != "pos" or not story.payloads:
        return []
    first = story.payloads[0]
    seconds = max(0.0, (o["created_at"] - first["received_at"]).total_seconds())
    return [(first["received_at"], render("TRACE_SALE_RECEIVED", lang, id=first["id"])),
            (o["created_at"], render("TRACE_SALE_ORDER_CREATED", lang, seconds=f"{seconds:.1f}"))]


def push_fetch(f: dict[str, Any], lang: Lang) -> str:
    """One fetch of the order's detail for a platform push, as the story says it."""
    if f["ok"]:
        return render("TRACE_PUSH_FETCHED", lang, topic=f["topic"], msg_id=f["msg_id"], attempt=f["attempt"])
    return render("TRACE_PUSH_FETCH_FAILED", lang, topic=f["topic"], msg_id=f["msg_id"], attempt=f["attempt"],
                  reason=f["error"] or "-")


def _invoice(i: dict[str, Any], lang: Lang) -> str:
    text = render("TRACE_INVOICE", lang, kind=Coded("invoice_kind", i["kind"]), invoice_no=i["invoice_no"],
                  amount=_money(i["amount"]), title=i["title"])
    if i["blue_no"]:
        text += render("TRACE_INVOICE_RED", lang, blue=i["blue_no"])
    if i["reissue_pending"]:
        text += render("TRACE_INVOICE_REISSUE", lang)
    return text


def _writeback(w: dict[str, Any], lang: Lang) -> str:
    """One call to a platform or carrier: what, which API, how it went, and the platform's own words."""
    said = " ".join(x for x in (w["code"], w["message"]) if x)
    detail = ("：" if lang == "zh" else ": ") + said if said else ""
    if w["tracking_no"]:
        detail = f"（{w['tracking_no']}）{detail}" if lang == "zh" else f" ({w['tracking_no']}){detail}"
    call = "" if w["call"] in ("-", "") else (f"（{w['call']}）" if lang == "zh" else f" ({w['call']})")
    return render("TRACE_WRITEBACK", lang, kind=Coded("writeback_kind", w["kind"]), call=call,
                  outcome=Coded("writeback_outcome", w["outcome"]), detail=detail)
def _erp_attempt(a: dict[str, Any], lang: Lang) -> str:
    event = Coded("erp_event", a["event_type"])
    if a["ok"]:
        return render("TRACE_ERP_SENT", lang, endpoint=a["endpoint"], event=event, attempt=a["attempt"],
                      status=a["http_status"])
    return render("TRACE_ERP_FAILED", lang, endpoint=a["endpoint"], event=event, attempt=a["attempt"],
                  reason=a["error"] or f"HTTP {a['http_status']}", excerpt=(a["excerpt"] or "-")[:60])


def _einvoice(r: dict[str, Any], lang: Lang) -> str:
    text = render("TRACE_EINVOICE", lang, kind=Coded("einvoice_kind", r["kind"]), state=Coded("einvoice_state", r["state"]),
                  request_no=r["provider_order_no"], number=r["invoice_no"] or "-")
    if r["provider_code"]:
        text += render("TRACE_EINVOICE_PROVIDER", lang, code=r["provider_code"], message=r["provider_message"] or "")
    return text


def _case(c: dict[str, Any], lang: Lang) -> str:
    return render("TRACE_CASE", lang, case_no=c["case_no"], kind=Coded("after_sales_kind", c["kind"]),
                  state=Coded("after_sales_state", c["state"]), reason=c["reason"] or "-")


def _documents(story: OrderStory, names: dict[str, str], lang: Lang) -> list[str]:
    colon = "：" if lang == "zh" else ": "
    none = render("TRACE_NONE", lang)
    parts: dict[int, list[list[Any]]] = {}
    where: dict[int, str] = {}
    for r in story.reservations:
        if r["status"] != "released":
            parts.setdefault(r["part_no"], []).append([r["line_no"], r["sku"], r["qty"]])
            where[r["part_no"]] = r["warehouse"]
    out = [f"  {render('TRACE_PARTS', lang)}{colon}" + (none if len(parts) < 2 else "")]
    if len(parts) >= 2:
        out += ["    " + render("TRACE_PART", lang, n=n, warehouse=names.get(where[n], where[n]), lines=_lines(lines, lang))
                for n, lines in sorted(parts.items())]
    exchanges = [render("TRACE_EXCHANGE", lang, order_no=c["exchange_no"], case_no=c["case_no"])
                 for c in story.cases if c["exchange_no"]]
    exchanges += [render("TRACE_EXCHANGE_OF", lang, order_no=x["order_no"], case_no=x["case_no"]) for x in story.exchange_of]
    out.append(f"  {render('TRACE_EXCHANGES', lang)}{colon}" + (_sep(lang).join(exchanges) or none))
    out.append(f"  {render('TRACE_INVOICES', lang)}{colon}" + (_sep(lang).join(_invoice(i, lang) for i in story.invoices) or none))
    out.append(f"  {render('TRACE_CASES', lang)}{colon}" + (_sep(lang).join(_case(c, lang) for c in story.cases) or none))
    out.append(f"  {render('TRACE_ERP', lang)}{colon}" + (_sep(lang).join(
        render("TRACE_ERP_VIEW", lang, erp_order_no=v["erp_order_no"] or "-",
               stage=Coded("order_status", v["erp_status"]) if v["erp_status"] else "-", at=_t(v["reported_at"]))
        for v in story.erp_view) or none))
    return out
