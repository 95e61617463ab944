"""Dry run: a rule being edited, tried against the last N days of orders, changing nothing.

Every order of the window that routing would handle (not awaiting payment, not cancelled) is
judged twice — by today's enabled rules and by today's rules with the draft in place (or a
rule left out) — and the outcomes are counted side by side: how many orders would go where,
be split, held or short, and which side actions (ship-by, e-invoice, gift) would apply.

The transaction is READ ONLY, so the database itself guarantees nothing is written. Stock is
today's, and each order is judged on it independently (orders do not deplete it for each
other): the question is where rules send orders, not a replay of the past.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.domain.actor import Actor
from app.domain.allocation import StockLevel, allocate
from app.domain.clock import now as clock_now
from app.domain.fields import Lang
from app.domain.messages import Coded, render
from app.domain.rules import Evaluation, Rule, Vocabulary
from app.services import rule_book
from app.services.permissions import require
from app.services.routing import ORDER_COLUMNS, order_needs, order_facts
from app.services.rule_book import RuleDraft
from app.services.unit_of_work import UnitOfWork

Outcome = tuple[str, ...]  # ("to", "HZ") | ("split", "HZ+HF") | ("held", reason) | ("shortage",) | ("skipped",)
SIDE = (("ship_by", "OUTCOME_SHIP_BY"), ("invoice", "OUTCOME_INVOICE"), ("gift", "OUTCOME_GIFT"))

_WINDOW = sa.text(
    "SELECT o.id, o.items, " + ", ".join(f"o.{c}" for c in ORDER_COLUMNS) + ", s.code AS shop, w.code AS warehouse,"
    " (SELECT jsonb_object_agg(e.key, e.value) FROM order_ext_attrs e WHERE e.order_id = o.id) AS ext"
    " FROM orders o JOIN shops s ON s.id = o.shop_id LEFT JOIN warehouses w ON w.id = o.warehouse_id"
    " WHERE o.ordered_at >= :since AND o.ordered_at < :until AND o.status NOT IN ('pending_payment', 'cancelled')"
    " ORDER BY o.ordered_at, o.id")
_LEVELS = sa.text(
    "SELECT w.code, k.sku_code, sum(s.on_hand), sum(s.reserved), sum(s.safety_stock) FROM stock s"
    " JOIN warehouses w ON w.id = s.warehouse_id JOIN skus k ON k.id = s.sku_id WHERE w.enabled"
    " GROUP BY w.code, k.sku_code")
_HISTORY = sa.text(
    "SELECT o.id, (SELECT count(*) FROM orders p WHERE p.customer_id = o.customer_id AND p.id <> o.id"
    " AND p.ordered_at < o.ordered_at AND p.status <> 'cancelled') FROM orders o"
    " WHERE o.ordered_at >= :since AND o.ordered_at < :until")


@dataclass(frozen=True, slots=True)
class DryRunRow:
    """One outcome: how many orders end there today and with the draft."""

    outcome: Outcome
    today: int
    draft: int

    @property
    def change(self) -> int:
        return self.draft - self.today


@dataclass(frozen=True)
class DryRunReport:
    """What the draft would change, counted over the window."""

    rule: str
    days: int
    orders: int
    rows: tuple[DryRunRow, ...]
    fired: int
    changed: int
    examples: tuple[str, ...]
    vocab: Vocabulary
    seconds: float
    disable: bool = False


def _outcome(ev: Evaluation, row: dict[str, Any], levels: dict[tuple[str, str], StockLevel],
             default: Sequence[str]) -> tuple[Outcome, frozenset[str]]:
    plan = ev.plan
    side = frozenset(k for k, on in (("ship_by", plan.ship_by_hours is not None), ("invoice", bool(plan.invoice_rules)),
                                     ("gift", bool(plan.gifts))) if on)
    if plan.holds:
        return ("held", plan.holds[0][1]), side
    choice = plan.warehouse
    alloc = allocate(order_needs(row["items"]), choice.warehouses if choice else default, levels,
                     allow_split=choice.allow_split if choice else True,
                     allow_safety_stock=choice.allow_safety_stock if choice else True)
    if alloc.outcome in ("shortage", "skipped"):
        return (alloc.outcome,), side
    if alloc.outcome == "split":
        return ("split", "+".join(alloc.warehouses)), side
    return ("to", alloc.warehouses[0]), side


def dry_run(uow: UnitOfWork, draft: RuleDraft, actor: Actor, *, days: int = 7, now: datetime | None = None,
            disable: bool = False) -> DryRunReport:
    """Try ``draft`` (or, with ``disable``, leaving the rule of that code out) on the last ``days`` days.

    Permission: ``rule.save`` — a dry run shows a week of orders and is the first step of saving a rule.

    Raises:
        RuleInvalid: the draft is refused exactly as saving it would be.
    """
    started = time.perf_counter()
    until = now or clock_now()
    since = until - timedelta(days=days)
    with uow:
        s = uow.session
        s.execute(sa.text("SET TRANSACTION READ ONLY"))  # the database refuses any write from here on
        require(uow, actor, "rule.save")
        vocab = rule_book.load_vocabulary(s)
        if disable:
            candidate = rule_book.rule_set_with(s, None, drop=draft.code)
        else:
            condition, actions = rule_book.check_draft(draft, vocab)
            candidate = rule_book.rule_set_with(
                s, Rule(draft.code, draft.name, 0, draft.priority, condition, tuple(actions)))
        today = rule_book.rule_set_with(s, None)
        rows = [dict(r) for r in s.execute(_WINDOW, {"since": since, "until": until}).mappings()]
        levels = {(wh, sku): StockLevel(int(a), int(b), int(c)) for wh, sku, a, b, c in s.execute(_LEVELS)}
        default = list(s.scalars(sa.text("SELECT code FROM warehouses WHERE enabled ORDER BY kind <> 'own', id")))
        needs_history = today.needs("customer.") or candidate.needs("customer.")
        history = dict(s.execute(_HISTORY, {"since": since, "until": until}).all()) if needs_history else {}
    counts: dict[str, Counter[Outcome]] = {"today": Counter(), "draft": Counter()}
    fired = changed = 0
    examples: list[str] = []
    for row in rows:
        results = []
        for key, rules in (("today", today), ("draft", candidate)):
            facts = order_facts(row, rules, history=history.get(row["id"]),
                                stock=levels if rules.needs("stock.") else None, warehouses=default)
            ev = rules.evaluate(facts)
            outcome, side = _outcome(ev, row, levels, default)
            counts[key][outcome] += 1
            for name in side:
                counts[key][("side", name)] += 1
            results.append((outcome, side))
            # the rule on trial: the draft as written, or (when switching it off) today's version
            if key == ("today" if disable else "draft") and any(r.fired and r.rule.code == draft.code for r in ev.results):
                fired += 1
        if results[0] != results[1]:
            changed += 1
            if len(examples) < 5:
                examples.append(row["order_no"])
    keys = sorted(set(counts["today"]) | set(counts["draft"]),
                  key=lambda k: (_KIND_RANK[k[0]], -counts["today"][k], -counts["draft"][k], k))
    table = tuple(DryRunRow(k, counts["today"][k], counts["draft"][k]) for k in keys)
    name = next((c.rule.name for c in today.rules if c.rule.code == draft.code), draft.code) if disable else draft.name
    return DryRunReport(name or draft.code, days, len(rows), table, fired, changed, tuple(examples), vocab,
                        time.perf_counter() - started, disable)


_KIND_RANK = {"to": 0, "split": 1, "held": 2, "shortage": 3, "skipped": 4, "side": 5}


def outcome_label(outcome: Outcome, vocab: Vocabulary, lang: Lang = "zh") -> str:
    """「发往杭州自营仓」, 「拆单：杭州自营仓+合肥云仓」, 「挂起：风险地址」, 「缺货」, or a side action."""
    kind = outcome[0]
    if kind == "to":
        return render("OUTCOME_TO", lang, warehouse=vocab.name("warehouse", outcome[1]))
    if kind == "split":
        return render("OUTCOME_SPLIT", lang, warehouses="+".join(vocab.name("warehouse", w) for w in outcome[1].split("+")))
    if kind == "held":
        return render("OUTCOME_HELD", lang, reason=Coded("hold_reason", outcome[1]))
    if kind in ("shortage", "skipped"):
        return render("OUTCOME_SHORTAGE" if kind == "shortage" else "OUTCOME_NOTHING", lang)
    return render(dict(SIDE)[outcome[1]], lang)


def summary(report: DryRunReport, lang: Lang = "zh") -> list[str]:
    """The report's headline sentences (the table of rows is laid out by whoever shows it)."""
    sep = "、" if lang == "zh" else ", "
    examples = render("DRY_RUN_EXAMPLES", lang, orders=sep.join(report.examples)) if report.examples else ""
    title = "DRY_RUN_TITLE_OFF" if report.disable else "DRY_RUN_TITLE"
    return [render(title, lang, rule=report.rule, days=report.days, orders=report.orders),
            render("DRY_RUN_FIRED_OFF" if report.disable else "DRY_RUN_FIRED", lang, count=report.fired,
                   changed=report.changed, examples=examples),
            render("DRY_RUN_STOCK_NOTE", lang)]

