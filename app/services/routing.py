"""Routing: enabled rules → warehouse(s) → stock reserved, and every decision written down.

Runs in the hub on each new or changed order (``route_orders`` takes an intake batch in one
transaction), and on demand (``route_order``, ``release_hold``, ``hold_order``,
``release_reservation``).

Why this cannot oversell with several hubs at once: every batch locks its orders and then
*all* stock rows of the SKUs involved with ``SELECT … ORDER BY id FOR UPDATE``. The order of
locking is the same for everyone, so two hubs queue rather than deadlock, and the numbers the
allocation reads are the numbers at commit. The single ``UPDATE … WHERE on_hand - reserved -
delta >= 0`` that writes the reservations is a second guard: if it does not touch exactly the
rows expected, the whole transaction rolls back.

Stock changes from the ERP (a later issue) only need to lock the same stock rows, update
``on_hand``, and re-route the orders that ``stock_reservations`` says hold a row now short.

Many batches in a row (``orderhub route``) go through ``route_stream``: batch N+1 is decided on
the stock batch N leaves while N commits, and kept only if the stock it then locks is that stock.

Long (≈850 lines) because the batch path — read, lock, decide, write in one statement, and its
pipelined form — is one piece that must stay consistent; the decisions themselves are in the pure
domain modules.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db.bulk import dumps_json
from app.db.routing_models import OrderHold
from app.domain.actor import Actor
from app.domain.address import load_regions
from app.domain.allocation import (
    Allocation,
    Need,
    Note,
    Pick,
    StockLevel,
    allocate,
    choose_gift,
    reserve,
    stock_facts,
)
from app.domain.clock import local
from app.domain.errors import BusinessError, NotFound
from app.domain.fields import code_label
from app.domain.rules import ITEM_FACT_KEYS, Evaluation, RuleSet, ext_facts, item_facts
from app.domain.status import OrderStatus, transition
from app.services import audit, rule_book
from app.services.audit import jsonable
from app.services.unit_of_work import DatabaseUnavailable, UnitOfWork
from app.services.permissions import require

log = logging.getLogger(__name__)

ORDER_COLUMNS = ("order_no", "platform", "platform_order_no", "ordered_at", "paid_at", "customer_id",
                 "original_amount", "paid_amount", "status", "invoice_status", "receiver_name", "receiver_phone",
                 "receiver_address", "province", "city", "district", "ship_by", "buyer_note", "seller_note",
                 "platform_status")
_ORDERS_SQL = (
    "SELECT o.id, o.version, o.items, o.warehouse_id, " + ", ".join(f"o.{c}" for c in ORDER_COLUMNS) + ","
    " s.code AS shop, w.code AS warehouse,"
    " (SELECT jsonb_object_agg(e.key, e.value) FROM order_ext_attrs e WHERE e.order_id = o.id) AS ext{history}"
    " FROM orders o JOIN shops s ON s.id = o.shop_id LEFT JOIN warehouses w ON w.id = o.warehouse_id"
    " WHERE o.order_no = ANY(:nos) ORDER BY o.id FOR UPDATE OF o")
# The customer's earlier orders (not cancelled), only fetched when some rule reads them.
_HISTORY_COLUMN = (", (SELECT count(*) FROM orders p WHERE p.customer_id = o.customer_id AND p.id <> o.id"
                   " AND p.ordered_at < o.ordered_at AND p.status <> 'cancelled') AS history")
_ORDERS = sa.text(_ORDERS_SQL.format(history=""))
_ORDERS_WITH_HISTORY = sa.text(_ORDERS_SQL.format(history=_HISTORY_COLUMN))
# In one round trip: each order's last decision, its active reservations, its holds, and decision ids.
_STATE = sa.text(
    "SELECT 'd', d.order_id, NULL::bigint, NULL::int, NULL::int, NULL::int, NULL::int, d.items_key, NULL::text"
    " FROM (SELECT DISTINCT ON (order_id) order_id, items_key FROM routing_decisions WHERE order_id = ANY(:ids)"
    " ORDER BY order_id, id DESC) d"
    " UNION ALL SELECT 'r', r.order_id, r.id, r.stock_id, r.line_no, r.part_no, r.qty, k.sku_code, w.code"
    " FROM stock_reservations r JOIN skus k ON k.id = r.sku_id JOIN warehouses w ON w.id = r.warehouse_id"
    " WHERE r.order_id = ANY(:ids) AND r.status = 'active'"
    " UNION ALL SELECT 'h', order_id, NULL, NULL, NULL, NULL, (released_at IS NULL)::int, reason, NULL"
    " FROM order_holds WHERE order_id = ANY(:ids)"
    " UNION ALL SELECT 'n', nextval(pg_get_serial_sequence('routing_decisions', 'id')), NULL, NULL, NULL, NULL, NULL,"
    " NULL, NULL FROM generate_series(1, :n)")
# Locks every stock row of the SKUs involved, in id order: the same order for every hub.
_STOCK = sa.text(
    "SELECT s.id, k.id, k.sku_code, k.name, k.color, k.size, w.code, w.enabled, s.on_hand, s.reserved,"
    " s.safety_stock, coalesce(b.pick_sequence, 0) FROM stock s JOIN skus k ON k.id = s.sku_id"
    " JOIN warehouses w ON w.id = s.warehouse_id LEFT JOIN bins b ON b.id = s.bin_id"
    " WHERE k.sku_code = ANY(:codes) ORDER BY s.id FOR UPDATE OF s")
_RESERVED = 9  # the column of _STOCK holding the units reserved
# The same rows read without locking them: what a pipelined batch decides on before it may lock (route_stream) …
_STOCK_PEEK = sa.text(_STOCK.text.removesuffix(" FOR UPDATE OF s"))
# … and then locked (the same rows, the same order) returning only the figures a decision could differ on.
_STOCK_LOCK = sa.text(
    "SELECT s.id, s.sku_id, s.on_hand, s.reserved, s.safety_stock FROM stock s JOIN skus k ON k.id = s.sku_id"
    " WHERE k.sku_code = ANY(:codes) ORDER BY s.id FOR UPDATE OF s")
_FIGURES = (0, 1, 8, 9, 10)  # those columns in a _STOCK row


def _rows(name: str, columns: str) -> str:
    return f"jsonb_to_recordset(CAST(:{name} AS jsonb)) AS v({columns})"


# Everything a batch writes, as one statement (each table's rows as one JSON parameter): a batch
# of 100 orders costs one round trip to write, like a single order. Foreign keys are checked at
# the end of the statement, when decisions and their reservations are both in.
# The stock update is guarded: it only touches a row whose reserved stock stays within what is on
# hand, and the caller checks that every row expected was touched.
_WRITE = sa.text(
    "WITH stock_done AS (UPDATE stock AS s SET reserved = s.reserved + v.delta, updated_at = now()"
    f" FROM {_rows('stock', 'id int, delta int')} WHERE s.id = v.id AND s.reserved + v.delta >= 0"
    " AND (v.delta <= 0 OR s.on_hand - s.reserved - v.delta >= 0) RETURNING 1),"
    # decided_at is the moment of writing (not the transaction's start), so it sorts after the audit
    # records the same command wrote before routing (a released hold, a manual hold).
    # Every decision that evaluated rules evaluated the same versions: the list is sent once per batch.
    " decisions AS (INSERT INTO routing_decisions (id, order_id, order_version, trigger, outcome, operator, station,"
    " evaluated_rule_version_ids, rules, fired_rule_version_ids, inputs, detail, items_key, decided_at)"
    " SELECT id, order_id, order_version, trigger, outcome, operator, station,"
    " CASE WHEN evaluated THEN CAST(:evaluated AS bigint[]) ELSE '{}' END, rules, fired_rule_version_ids, inputs,"
    " detail, items_key, clock_timestamp() FROM"
    f" {_rows('decisions', 'id bigint, order_id bigint, order_version int, trigger text, outcome text, operator text, station text, evaluated boolean, rules jsonb, fired_rule_version_ids bigint[], inputs jsonb, detail jsonb, items_key text')}"  # noqa: E501
    " RETURNING 1),"
    " released AS (UPDATE stock_reservations AS r SET status = 'released', released_at = now(),"
    f" released_by_decision_id = v.d FROM {_rows('released', 'id bigint, d bigint')}"
    " WHERE r.id = v.id AND r.status = 'active' RETURNING 1),"
    " reserved AS (INSERT INTO stock_reservations (order_id, decision_id, stock_id, sku_id, warehouse_id, line_no,"
    f" part_no, qty) SELECT * FROM {_rows('reservations', 'order_id bigint, decision_id bigint, stock_id int, sku_id int, warehouse_id int, line_no int, part_no int, qty int')}"  # noqa: E501
    " RETURNING 1),"
    " holds AS (INSERT INTO order_holds (order_id, reason, rule_version_id, decision_id) SELECT * FROM"
    f" {_rows('holds', 'order_id bigint, reason text, rule_version_id bigint, decision_id bigint')} RETURNING 1),"
    # items only travel when routing changed them (a gift added); otherwise they stay as they are
    " orders_done AS (UPDATE orders AS o SET status = v.status, warehouse_id = v.warehouse_id, ship_by = v.ship_by,"
    " invoice_status = v.invoice_status, items = coalesce(v.items, o.items), version = o.version + 1 FROM"
    f" {_rows('orders', 'id bigint, status text, warehouse_id int, ship_by timestamptz, invoice_status text, items jsonb')}"  # noqa: E501
    " WHERE o.id = v.id RETURNING 1)"
    " SELECT (SELECT count(*) FROM stock_done), (SELECT count(*) FROM released), (SELECT count(*) FROM decisions),"
    " (SELECT count(*) FROM reserved), (SELECT count(*) FROM holds), (SELECT count(*) FROM orders_done)")


class StockChanged(BusinessError):
    """The guarded stock update did not touch the rows expected: nothing was committed."""

    code = "STOCK_CHANGED"


@dataclass(frozen=True, slots=True)
class RoutingResult:
    """What routing did to one order.

    Attributes:
        outcome: a ``routing_outcome`` code (allocated, split, held, shortage, released,
            unchanged, skipped).
        warehouses: warehouse codes, one per parcel, in preference order.
        decision_id: the decision written (None when nothing needed deciding).
        fired: codes of the rules that fired.
    """

    order_no: str
    outcome: str
    warehouses: tuple[str, ...] = ()
    decision_id: int | None = None
    fired: tuple[str, ...] = ()
    holds: tuple[str, ...] = ()
    ship_by: datetime | None = None


def items_key(items: Iterable[Mapping[str, Any]]) -> str:
    """A digest of what an order's lines ask the warehouse for (SKU, quantity, gift, line status)."""
    parts = sorted((int(it.get("line_no", 0)), str(it.get("sku")), int(it.get("qty", 0)), bool(it.get("is_gift")),
                    str(it.get("line_status", "normal"))) for it in items)
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


@cache
def _region_of() -> dict[str, str]:
    return {p.name: p.region for p in load_regions().provinces}


def order_needs(items: Sequence[Mapping[str, Any]]) -> list[Need]:
    """What an order's lines need from stock: refunded lines need nothing, gift lines are optional."""
    return [Need(int(it["line_no"]), str(it["sku"]), int(it["qty"]), bool(it.get("is_gift")))
            for it in items if it.get("line_status", "normal") not in ("refunded",) and int(it.get("qty", 0)) > 0]


class _FactPlan(NamedTuple):
    """Which inputs a rule set reads, worked out once per rule set rather than once per order."""

    columns: tuple[str, ...]
    region: bool
    discount: bool
    hour: bool
    items: tuple[str, ...]
    ext: frozenset[str] | None  # None: no rule reads an extension attribute
    stock: bool


@lru_cache(maxsize=16)
def _fact_plan(ruleset: RuleSet) -> _FactPlan:
    reads = ruleset.fields
    ext = frozenset(k for k in reads if k.startswith("ext."))
    return _FactPlan(tuple(c for c in (*ORDER_COLUMNS, "shop", "warehouse") if c in reads), "region" in reads,
                     "discount_amount" in reads, "ordered_hour" in reads, tuple(k for k in ITEM_FACT_KEYS if k in reads),
                     ext or None, ruleset.needs("stock."))


def order_facts(row: Mapping[str, Any], ruleset: RuleSet, *, history: int | None = None,
                stock: Mapping[tuple[str, str], StockLevel] | None = None, warehouses: Sequence[str] = ()) -> dict[str, Any]:
    """An order as rules see it: its own fields, derived amounts and region, items, extension
    attributes, customer history and stock levels — only the inputs some rule reads (a decision
    records exactly those), so an order costs what the rule book asks of it, not more."""
    plan = _fact_plan(ruleset)
    facts = {c: row[c] for c in plan.columns}
    if plan.region:
        facts["region"] = _region_of().get(row["province"] or "")
    if plan.discount:
        facts["discount_amount"] = Decimal(row["original_amount"]) - Decimal(row["paid_amount"])
    if plan.hour:
        facts["ordered_hour"] = local(row["ordered_at"]).hour
    if plan.items:
        facts.update(item_facts(row["items"], plan.items))
    if plan.ext and row["ext"]:
        facts.update(ext_facts(row["ext"], ruleset.vocab, plan.ext))
    if history is not None:
        facts["customer.order_count"] = history
    if stock is not None and plan.stock:
        facts.update(stock_facts(order_needs(row["items"]), stock, warehouses))
    return facts


@dataclass
class _StockBook:
    """The locked stock rows of one batch, in memory: aggregated levels for allocation and the
    per-bin rows and deltas to write back."""

    levels: dict[tuple[str, str], StockLevel] = field(default_factory=dict)
    bins: dict[tuple[str, str], list[list[int]]] = field(default_factory=lambda: defaultdict(list))  # [id, on_hand, reserved]
    deltas: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    row_of: dict[int, list[int]] = field(default_factory=dict)
    read: dict[int, tuple[Any, ...]] = field(default_factory=dict)  # stock row id → the row as read

    def load(self, rows: Iterable[Sequence[Any]]) -> dict[str, tuple[int, str, str, str, str]]:
        """Take the locked rows in; returns the SKUs seen: code → (id, code, name, colour, size)."""
        raw: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        skus: dict[str, tuple[int, str, str, str, str]] = {}
        for read in sorted(rows, key=lambda r: (r[11], r[0])):  # bins in pick order
            sid, sku_id, code, name, color, size, wh, enabled, on_hand, reserved, safety, _ = read
            self.read[sid] = tuple(read)
            skus[code] = (sku_id, code, name, color, size)
            row = [sid, on_hand, reserved]
            self.row_of[sid] = row
            if not enabled:
                continue
            key = (wh, code)
            self.bins[key].append(row)
            agg = raw[key]
            agg[0] += on_hand
            agg[1] += reserved
            agg[2] += safety
        self.levels = {k: StockLevel(*v) for k, v in raw.items()}
        return skus

    def after(self) -> dict[int, tuple[Any, ...]]:
        """The rows this batch changes, as they stand once its reservations and releases are written."""
        return {sid: (*(read := self.read[sid])[:_RESERVED], self.row_of[sid][2], *read[_RESERVED + 1:])
                for sid, delta in self.deltas.items() if delta}

    def take(self, picks: Sequence[Pick], order_no: str) -> list[tuple[Pick, int, int]]:
        """Reserve ``picks`` bin by bin; returns (pick, stock row id, qty) pieces."""
        pieces = []
        for p in picks:
            left = p.qty
            for row in self.bins[(p.warehouse, p.sku)]:
                take = min(left, row[1] - row[2])
                if take <= 0:
                    continue
                row[2] += take
                self.deltas[row[0]] += take
                pieces.append((p, row[0], take))
                left -= take
                if not left:
                    break
            if left:  # the allocation read these very levels: a bug, never a race
                raise StockChanged(order_no=order_no)
        reserve(self.levels, picks)
        return pieces

    def give_back(self, stock_id: int, wh: str, sku: str, qty: int) -> None:
        row = self.row_of[stock_id]
        row[2] -= qty
        self.deltas[stock_id] -= qty
        if (wh, sku) in self.levels:
            reserve(self.levels, [Pick(0, sku, wh, qty)], sign=-1)


@dataclass
class _Batch:
    """Everything one routing transaction will write."""

    decisions: list[dict[str, Any]] = field(default_factory=list)
    reservations: list[dict[str, Any]] = field(default_factory=list)
    released: list[dict[str, int]] = field(default_factory=list)
    holds: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    order_nos: list[str] = field(default_factory=list)
    version_of: dict[str, int | None] = field(default_factory=dict)  # rule code → version id of the rule set used
    evaluated: list[int] = field(default_factory=list)  # every version id evaluated, in order


def _fired_json(ev: Evaluation, reviewed_rules: set[str]) -> tuple[list[dict[str, Any]], list[int]]:
    """The rules that fired; a hold a person already reviewed is marked as not applied, and why."""
    fired = []
    for r in ev.fired:
        entry: dict[str, Any] = {"id": r.rule.version_id, "code": r.rule.code, "version": r.rule.version,
                                 "applied": list(r.applied)}
        if r.rule.code in reviewed_rules:
            entry["applied"] = [a for a in r.applied if a != "hold"]
            entry["reviewed"] = True
        fired.append(entry)
    return fired, [r.rule.version_id for r in ev.fired if r.rule.version_id is not None]


class _Held(NamedTuple):
    """An active reservation as routing reads it back."""

    id: int
    order_id: int
    stock_id: int
    line_no: int
    part_no: int
    qty: int
    sku: str
    warehouse: str


@dataclass
class _State:
    """What is already on record for the orders of a batch."""

    latest: dict[int, str] = field(default_factory=dict)  # order id → items key of its last decision
    held: dict[int, list[_Held]] = field(default_factory=lambda: defaultdict(list))
    open_holds: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    reviewed: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    decision_ids: list[int] = field(default_factory=list)


def _state(session: Session, ids: list[int]) -> _State:
    state = _State()
    for kind, order_id, rid, stock_id, line_no, part_no, qty, text, wh in session.execute(
            _STATE, {"ids": ids, "n": len(ids)}):
        if kind == "d":
            state.latest[order_id] = text
        elif kind == "r":
            state.held[order_id].append(_Held(rid, order_id, stock_id, line_no, part_no, qty, text, wh))
        elif kind == "h":
            (state.open_holds if qty else state.reviewed)[order_id].add(text)
        else:
            state.decision_ids.append(order_id)  # the 'n' rows carry a fresh decision id in this column
    for held in state.held.values():
        held.sort(key=lambda h: h.id)
    return state


@dataclass
class _Prepared:
    """One batch read and locked (its orders, what is on record for them), before any stock is read."""

    order_nos: Sequence[str]
    rows: list[dict[str, Any]]
    state: _State
    plans: list[tuple[dict[str, Any], str, str]]  # (row, mode, trigger)
    results: dict[int, RoutingResult]
    ruleset: RuleSet
    known: Sequence[tuple[str, int, bool]]

    def codes(self) -> list[str]:
        """The SKUs whose stock rows the batch reads (and locks): its lines, the gift rules', what it holds."""
        codes = {str(it["sku"]) for row, mode, _ in self.plans if mode == "route" for it in row["items"]}
        codes |= {sku for c in self.ruleset.rules for a in c.rule.actions if a["type"] == "add_gift" for sku in a["skus"]}
        codes |= {h.sku for row, _, _ in self.plans for h in self.state.held.get(row["id"], ())}
        return sorted(codes)

    def answer(self, decided: Iterable[tuple[int, RoutingResult]] = ()) -> list[RoutingResult]:
        results = {**self.results, **dict(decided)}
        by_no = {r["order_no"]: r["id"] for r in self.rows}
        return [results[by_no[no]] for no in self.order_nos if no in by_no]


def _prepare(session: Session, order_nos: Sequence[str], trigger: str | None, ruleset: RuleSet | None, *,
             force_release: bool = False) -> _Prepared:
    """Lock the batch's orders (id order), read their state, and say what each needs (route, release, nothing)."""
    if ruleset is None:
        current = rule_book.routing_state(session)
        ruleset, known = current.rules, current.warehouses
    else:
        known = rule_book.warehouses(session)
    query = _ORDERS_WITH_HISTORY if ruleset.needs("customer.") else _ORDERS
    rows = [dict(r) for r in session.execute(query, {"nos": list(order_nos)}).mappings()]
    state = _state(session, [r["id"] for r in rows]) if rows else _State()
    plans: list[tuple[dict[str, Any], str, str]] = []
    results: dict[int, RoutingResult] = {}
    for row in rows:
        oid, status, has_decision = row["id"], row["status"], row["id"] in state.latest
        if force_release or status == OrderStatus.CANCELLED:
            if state.held.get(oid):
                plans.append((row, "release", trigger or "cancel"))
            else:
                results[oid] = RoutingResult(row["order_no"], "unchanged")
        elif status == OrderStatus.PAID:
            plans.append((row, "route", trigger or ("changed" if has_decision else "new")))
        elif status == OrderStatus.ALLOCATING and has_decision and (
                state.latest[oid] != items_key(row["items"]) or trigger in ("manual", "hold_release")):
            plans.append((row, "route", trigger or "items"))
        elif status == OrderStatus.ALLOCATING:
            # Same lines as last decided — or put in 配货中 before routing existed: leave it be.
            results[oid] = RoutingResult(row["order_no"], "unchanged", (row["warehouse"],) if row["warehouse"] else ())
        else:
            results[oid] = RoutingResult(row["order_no"], "skipped")
    return _Prepared(order_nos, rows, state, plans, results, ruleset, known)


def _route(session: Session, order_nos: Sequence[str], actor: Actor, trigger: str | None,
           ruleset: RuleSet | None, *, force_release: bool = False) -> list[RoutingResult]:
    prep = _prepare(session, order_nos, trigger, ruleset, force_release=force_release)
    if not prep.plans:
        return prep.answer()
    decided = _decide(prep, actor, session.execute(_STOCK, {"codes": prep.codes()}).all())
    _execute_write(session, decided)
    return prep.answer(decided.out)


@dataclass
class _Decided:
    """A batch decided against some stock rows: what to write, and the rows as they will stand after it."""

    batch: _Batch
    book: _StockBook
    out: list[tuple[int, RoutingResult]]
    params: dict[str, Any]
    expected: tuple[int, int]  # stock rows and reservations the write must touch


def _decide(prep: _Prepared, actor: Actor, stock_rows: Sequence[Sequence[Any]]) -> _Decided:
    """Decide every planned order of a batch against ``stock_rows`` (pure: nothing is read or written)."""
    ruleset, known, state = prep.ruleset, prep.known, prep.state
    book = _StockBook()
    skus = book.load(stock_rows)
    warehouses = {code: wid for code, wid, _ in known}
    default = [code for code, _, enabled in known if enabled]  # own warehouse first, then the cloud ones
    batch = _Batch()
    batch.version_of = {c.rule.code: c.rule.version_id for c in ruleset.rules}
    batch.evaluated = [v for v in batch.version_of.values() if v is not None]
    out = []
    # One fresh id was drawn per order read; orders needing no decision leave a gap, which is harmless.
    for (row, mode, trigger), decision_id in zip(prep.plans, state.decision_ids, strict=False):
        batch.order_nos.append(row["order_no"])
        released = []
        previous = state.held.get(row["id"], [])
        for h in previous:  # give back first, so re-routing may reuse the same stock
            book.give_back(h.stock_id, h.warehouse, h.sku, h.qty)
            batch.released.append({"id": h.id, "d": decision_id})
            released.append({"warehouse": h.warehouse, "sku": h.sku, "qty": h.qty, "line_no": h.line_no})
        if mode == "release":
            result = _record_release(batch, row, decision_id, trigger, actor, released)
        else:
            result = _route_one(batch, book, row, decision_id, trigger, actor, ruleset, skus, warehouses, default,
                                row.get("history"), state.open_holds.get(row["id"], set()),
                                state.reviewed.get(row["id"], set()), released, previous)
        out.append((row["id"], result))
    deltas = [{"id": sid, "delta": d} for sid, d in sorted(book.deltas.items()) if d]
    params = {"stock": _dumps(deltas), "decisions": _dumps(batch.decisions), "released": _dumps(batch.released),
              "reservations": _dumps(batch.reservations), "holds": _dumps(batch.holds),
              "orders": _dumps(batch.orders), "evaluated": batch.evaluated}
    return _Decided(batch, book, out, params, (len(deltas), len(batch.released)))


def _record_release(batch: _Batch, row: dict[str, Any], decision_id: int, trigger: str, actor: Actor,
                    released: list[dict[str, Any]]) -> RoutingResult:
    batch.decisions.append({
        "id": decision_id, "order_id": row["id"], "order_version": row["version"], "trigger": trigger,
        "outcome": "released", "operator": actor.operator, "station": actor.station, "rules": [],
        "fired_rule_version_ids": [], "evaluated": False, "inputs": {}, "items_key": items_key(row["items"]),
        "detail": {"released": released, "status_before": row["status"], "status_after": row["status"]}})
    return RoutingResult(row["order_no"], "released", decision_id=decision_id)


def _route_one(batch: _Batch, book: _StockBook, row: dict[str, Any], decision_id: int, trigger: str, actor: Actor,
               ruleset: RuleSet, skus: Mapping[str, Any], warehouses: Mapping[str, int], default: list[str],
               history: int | None, open_holds: set[str], reviewed: set[str], released: list[dict[str, Any]],
               previous: Sequence[_Held]) -> RoutingResult:
    items = [dict(it) for it in row["items"]]
    needs_stock = ruleset.needs("stock.")
    facts = order_facts(row, ruleset, history=history, stock=book.levels if needs_stock else None, warehouses=default)
    ev = ruleset.evaluate(facts)
    plan = ev.plan
    detail: dict[str, Any] = {"status_before": row["status"], "released": released,
                              "broken_rules": [r.code for r in ruleset.broken]}
    status, warehouse_id, ship_by, invoice_status = row["status"], row["warehouse_id"], row["ship_by"], row["invoice_status"]

    if plan.ship_by_hours is not None:
        deadline = (row["paid_at"] or row["ordered_at"]) + timedelta(hours=plan.ship_by_hours)
        detail["ship_by_before"] = jsonable(ship_by)
        if ship_by is None or deadline < ship_by:  # a rule may tighten a platform's promise, never loosen it
            ship_by = deadline
        detail.update(ship_by=jsonable(ship_by), ship_by_rule=plan.ship_by_rule)
    if plan.invoice_rules and invoice_status == "none":
        invoice_status = "pending"
        detail["invoice_bound"] = plan.invoice_rules[0]

    holds = [(rule, reason) for rule, reason in plan.holds if reason not in reviewed]
    fresh = [(rule, reason) for rule, reason in holds if reason not in open_holds]
    for rule, reason in fresh:
        batch.holds.append({"order_id": row["id"], "reason": reason, "rule_version_id": batch.version_of.get(rule),
                            "decision_id": decision_id})
    detail["holds"] = [{"rule": rule, "reason": reason, "new": (rule, reason) in fresh} for rule, reason in holds]
    detail["holds_open"] = sorted(open_holds)
    alloc: Allocation | None = None
    if open_holds or holds:
        outcome, parcels = "held", ()
        detail["notes"] = [Note.of("ALLOC_HELD").as_json()]
        if status == OrderStatus.ALLOCATING:
            status = OrderStatus.PAID.value
    else:
        preference = list(plan.warehouse.warehouses) if plan.warehouse else list(default)
        sticky = [h.warehouse for h in previous]
        if sticky:  # lines changed while picking: keep the parcel where it is being picked if possible
            preference = list(dict.fromkeys(sticky + preference))
        detail.update(preference=preference, preference_rule=plan.warehouse.rule if plan.warehouse else None,
                      sticky=list(dict.fromkeys(sticky)))
        needs = order_needs(items)
        detail["stock"] = {f"{wh}|{n.sku}": [lv.on_hand, lv.reserved, lv.safety] for n in needs for wh in preference
                           if (lv := book.levels.get((wh, n.sku))) is not None}
        alloc = allocate(needs, preference, book.levels,
                         allow_split=plan.warehouse.allow_split if plan.warehouse else True,
                         allow_safety_stock=plan.warehouse.allow_safety_stock if plan.warehouse else True)
        notes = ([Note.of("ALLOC_DEFAULT", warehouses="、".join(default))] if plan.warehouse is None else [])
        if sticky:
            notes.append(Note.of("ALLOC_STICKY", warehouse=sticky[0]))
        notes.extend(alloc.notes)
        outcome, parcels = alloc.outcome, alloc.warehouses
        picks = list(alloc.picks)
        if outcome == "skipped":
            pass  # nothing to ship: no parcel, no stage change
        elif outcome != "shortage":
            detail["gifts"] = _add_gifts(items, plan.gifts, alloc, book, skus, picks, notes)
            pieces = book.take(picks, row["order_no"])
            part_of = {wh: n for n, wh in enumerate(parcels, 1)}
            for pick, stock_id, qty in pieces:
                batch.reservations.append({
                    "order_id": row["id"], "decision_id": decision_id, "stock_id": stock_id,
                    "sku_id": skus[pick.sku][0], "warehouse_id": warehouses[pick.warehouse], "line_no": pick.line_no,
                    "part_no": part_of[pick.warehouse], "qty": qty})
            detail["parts"] = [{"warehouse": wh, "lines": [[p.line_no, p.sku, p.qty] for p in picks if p.warehouse == wh]}
                               for wh in parcels]
            warehouse_id = warehouses[parcels[0]]
            if status == OrderStatus.PAID:
                status = OrderStatus.ALLOCATING.value
        elif status == OrderStatus.ALLOCATING:
            status = OrderStatus.PAID.value  # nothing reserved any more: back to waiting for stock
        detail["notes"] = [n.as_json() for n in notes]
    detail["status_after"] = status

    if status != row["status"]:
        transition(row["status"], status, order_no=row["order_no"])  # 已支付 ⇄ 配货中 only, by the machine
    changed = (status, warehouse_id, ship_by, invoice_status, items) != (
        row["status"], row["warehouse_id"], row["ship_by"], row["invoice_status"], row["items"])
    version = row["version"] + 1 if changed else row["version"]
    if changed:
        batch.orders.append({"id": row["id"], "status": status, "warehouse_id": warehouse_id,
                             "ship_by": jsonable(ship_by), "invoice_status": invoice_status,
                             "items": items if items != row["items"] else None})
    fired_json, fired_ids = _fired_json(ev, {rule for rule, reason in plan.holds if reason in reviewed})
    batch.decisions.append({
        "id": decision_id, "order_id": row["id"], "order_version": version, "trigger": trigger, "outcome": outcome,
        "operator": actor.operator, "station": actor.station, "rules": fired_json, "fired_rule_version_ids": fired_ids,
        "evaluated": True,
        "inputs": ev.inputs, "detail": detail, "items_key": items_key(items)})
    return RoutingResult(row["order_no"], outcome, tuple(parcels), decision_id, tuple(r.rule.code for r in ev.fired),
                         tuple(sorted({reason for _, reason in holds} | open_holds)), ship_by)


def _add_gifts(items: list[dict[str, Any]], gifts: Sequence[tuple[str, tuple[str, ...], int]], alloc: Allocation,
               book: _StockBook, skus: Mapping[str, Any], picks: list[Pick], notes: list[Note]) -> list[dict[str, Any]]:
    """Add each fired gift once: to the first parcel that has one of the rule's gift SKUs free."""
    added = []
    after = dict(book.levels)
    reserve(after, picks)
    for rule, options, qty in gifts:
        if any(it.get("is_gift") and it.get("sku") in options for it in items):
            continue  # already there (the platform sent it, or an earlier decision added it)
        choice = choose_gift(options, qty, alloc.warehouses, after)
        if choice is None:
            notes.append(Note.of("ALLOC_GIFT_DROPPED", sku=options[0], qty=qty))
            continue
        sku, wh = choice
        line_no = max((int(it["line_no"]) for it in items), default=0) + 1
        _, code, name, color, size = skus[sku]
        items.append({"line_no": line_no, "sku": code, "name": name, "color": color, "size": size, "qty": qty,
                      "unit_price": "0.00", "paid": "0.00", "is_gift": True, "line_status": "normal", "gift_rule": rule})
        pick = Pick(line_no, sku, wh, qty)
        picks.append(pick)
        reserve(after, [pick])
        added.append({"rule": rule, "sku": sku, "qty": qty, "warehouse": wh})
    return added


def _dumps(rows: Any) -> str:
    return dumps_json(rows).decode()


def _execute_write(session: Session, decided: _Decided) -> None:
    stock_rows, released, *_ = session.execute(_WRITE, decided.params).one()
    if (stock_rows, released) != decided.expected:
        # Cannot happen while every writer of stock takes the row locks; if it does, nothing commits.
        raise StockChanged(order_no="、".join(decided.batch.order_nos[:3]))


# --- commands ---------------------------------------------------------------------------------

def _is_lock_conflict(err: BaseException | None) -> bool:
    code = getattr(getattr(err, "orig", None), "sqlstate", None)
    return code in ("40P01", "40001")  # deadlock detected, serialization failure


def route_orders(uow: UnitOfWork, order_nos: Sequence[str], actor: Actor, *, trigger: str | None = None,
                 rules: RuleSet | None = None) -> list[RoutingResult]:
    """Route a batch of orders in one transaction (the hub calls this after each intake batch).

    Paid orders are routed; orders in 配货中 whose lines changed are re-routed (their reservation
    released and taken again, preferring the warehouse already picking); cancelled orders give
    their stock back. Unknown order numbers are left out of the result.

    Args:
        trigger: a ``routing_trigger`` code; by default new / changed / items / cancel as found.
        rules: a compiled rule set to use instead of the database's current one (the benchmark).
    """
    for attempt in range(3):
        try:
            with uow:
                require(uow, actor, "order.route")
                results = _route(uow.session, order_nos, actor, trigger, rules)
                uow.commit()
                return results
        except DatabaseUnavailable as err:
            # Locks are always taken in id order, so this is a stranger's lock (an ERP stock
            # update, a person's command): take a fresh snapshot and try again.
            if attempt == 2 or not _is_lock_conflict(err.__cause__):
                raise
            log.info("routing retried after a lock conflict: %s", err)
    raise AssertionError("unreachable")


@dataclass
class StreamStats:
    """What a pipelined run (:func:`route_stream`) did with its batches."""

    batches: int = 0
    ahead: int = 0  # decided while the batch before was being written, on the stock it would leave: kept
    redecided: int = 0  # the locked stock differed from that prediction (another writer): decided again on it
    locked_first: int = 0  # after such a miss, decided only once locked (no prediction) for a few batches
    retried: int = 0  # the batch before failed to commit on a lock conflict: routed again on its own


class _Commit:
    """One decided batch being written and committed on its own connection, in a thread, while the
    next batch is read and decided on another connection."""

    def __init__(self, uow: UnitOfWork, order_nos: Sequence[str], decided: _Decided, answer: list[RoutingResult]) -> None:
        self.order_nos, self.answer, self.after = order_nos, answer, decided.book.after()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(uow, decided), name="routing-commit", daemon=True)
        self.thread.start()

    def _run(self, uow: UnitOfWork, decided: _Decided) -> None:
        try:
            _close(uow, lambda: (_execute_write(uow.session, decided), uow.commit()))
        except BaseException as err:  # handed to the routing thread by wait()
            self.error = err

    def wait(self) -> BaseException | None:
        self.thread.join()
        return self.error


def _close(uow: UnitOfWork, work: Callable[[], object] | None = None) -> None:
    """Do ``work`` in ``uow`` (entered already), then leave it as ``with uow:`` would (a lost
    connection becomes DatabaseUnavailable; anything not committed is rolled back)."""
    try:
        if work is not None:
            work()
    except BaseException as err:
        raise _failed(uow, err) from None
    uow.__exit__(None, None, None)


def _failed(uow: UnitOfWork, err: BaseException) -> BaseException:
    """Leave ``uow`` after ``err`` (rolling back); returns the error as ``with uow:`` would raise it."""
    try:
        uow.__exit__(type(err), err, err.__traceback__)
    except BaseException as translated:  # a lost connection or a lock conflict: DatabaseUnavailable
        return translated
    return err


def _retryable(err: BaseException) -> bool:
    return isinstance(err, DatabaseUnavailable) and _is_lock_conflict(err.__cause__)


def route_stream(new_uow: Callable[[], UnitOfWork], batches: Iterable[Sequence[str]], actor: Actor, *,
                 rules: RuleSet | None = None, stats: StreamStats | None = None) -> Iterator[list[RoutingResult]]:
    """Route many batches one after the other, as :func:`route_orders` would, yielding each batch's
    results (in order) once it is committed — but with the hub's work and the database's overlapping.

    While batch N is written and committed on one connection (a thread), batch N+1 locks its
    orders on another, reads its stock rows without locking them, and is decided on the stock as
    batch N leaves it. Only then, after N has committed, does it lock its stock rows (id order, as
    every writer does) and compare them with that prediction: equal, the decisions stand (they are
    exactly what deciding under the locks gives); different (an ERP stock report, another hub, a
    person), the batch is decided again on the locked rows. Either way each batch is decided on
    the stock it holds locked, so nothing is oversold. A batch that meets a lock conflict (while
    being read or committed) is routed again on its own by :func:`route_orders`, which retries.
    Results are yielded only while this thread holds no lock.
    """
    stats = stats if stats is not None else StreamStats()
    pending: _Commit | None = None
    pause, paused = 0, 0  # a missed prediction pauses predicting for 1, 2, 4 … 16 batches (another hub is busy)

    def settle() -> Iterator[list[RoutingResult]]:
        """Wait for the batch being committed; its results, or those of routing it again after a lock conflict."""
        nonlocal pending
        if pending is None:
            return
        done, pending = pending, None
        if (err := done.wait()) is None:
            yield done.answer
            return
        if not _retryable(err):
            raise err
        stats.retried += 1
        log.info("a routing batch met a lock conflict and is routed again on its own: %s", err)
        yield route_orders(new_uow(), done.order_nos, actor, rules=rules)

    try:
        for order_nos in batches:
            stats.batches += 1
            uow = new_uow().__enter__()
            try:
                require(uow, actor, "order.route")
                prep = _prepare(uow.session, order_nos, None, rules)
                decided, predicted, codes = None, {}, {"codes": prep.codes()}
                if prep.plans and not paused:
                    ahead = pending.after if pending is not None else {}
                    predicted = {r[0]: ahead.get(r[0], tuple(r)) for r in uow.session.execute(_STOCK_PEEK, codes).all()}
                    decided = _decide(prep, actor, list(predicted.values()))
            except BaseException as err:
                failure = _failed(uow, err)
                if not _retryable(failure):
                    raise failure from None
                yield from settle()
                stats.retried += 1
                yield route_orders(new_uow(), order_nos, actor, rules=rules)
                continue
            if pending is not None:
                # This batch may only lock stock once the one before has committed; if that one
                # failed, this one's reading is stale: let go of its orders and start it again.
                pending.thread.join()
                if pending.error is not None:
                    _close(uow)
                    yield from settle()
                    stats.retried += 1
                    yield route_orders(new_uow(), order_nos, actor, rules=rules)
                    continue
                finished = list(settle())
            else:
                finished = []
            try:
                if not prep.plans:
                    _close(uow, uow.commit)
                    finished.append(prep.answer())
                else:
                    if decided is None:  # not predicting for now: lock, then decide, as route_orders does
                        paused -= 1
                        stats.locked_first += 1
                        decided = _decide(prep, actor, uow.session.execute(_STOCK, codes).all())
                    elif uow.session.execute(_STOCK_LOCK, codes).all() != [
                            tuple(r[i] for i in _FIGURES) for _, r in sorted(predicted.items())]:
                        stats.redecided += 1
                        pause = min(2 * pause or 1, 16)
                        paused = pause
                        decided = _decide(prep, actor, uow.session.execute(_STOCK, codes).all())  # locked already
                    else:
                        stats.ahead += 1
                        pause = 0
                    pending = _Commit(uow, order_nos, decided, prep.answer(decided.out))
            except BaseException as err:
                failure = _failed(uow, err)  # (nothing is pending here: the batch before was settled)
                if not _retryable(failure):
                    yield from finished
                    raise failure from None
                stats.retried += 1
                finished.append(route_orders(new_uow(), order_nos, actor, rules=rules))
            yield from finished
        yield from settle()
    finally:
        if pending is not None:  # leaving early (an error, or the caller stopped): the write still finishes
            pending.wait()


def route_in(session: Session, order_nos: Sequence[str], actor: Actor, *, trigger: str | None = None) -> list[RoutingResult]:
    """Route inside the caller's transaction (after-sales creates an exchange order and reserves it in one step)."""
    return _route(session, order_nos, actor, trigger, None)


def route_order(uow: UnitOfWork, order_no: str, actor: Actor, *, trigger: str | None = None) -> RoutingResult:
    """Route one order: evaluate the enabled rules, choose warehouse(s), reserve stock, write the decision.

    Raises:
        NotFound: no order has this number.
    """
    results = route_orders(uow, [order_no], actor, trigger=trigger)
    if not results:
        raise NotFound(what="order", key=order_no)
    return results[0]


def release_reservation(uow: UnitOfWork, order_no: str, actor: Actor, *, trigger: str = "cancel") -> RoutingResult:
    """Give back every unit reserved for an order (on cancellation), with a decision saying so.

    Raises:
        NotFound: no order has this number.
    """
    with uow:
        results = _route(uow.session, [order_no], actor, trigger, None, force_release=True)
        if not results:
            raise NotFound(what="order", key=order_no)
        uow.commit()
        return results[0]


def _order_id(session: Session, order_no: str) -> int:
    found = session.scalar(sa.text("SELECT id FROM orders WHERE order_no = :n FOR UPDATE"), {"n": order_no})
    if found is None:
        raise NotFound(what="order", key=order_no)
    return int(found)


def release_hold(uow: UnitOfWork, order_no: str, actor: Actor, basis: str | None, *,
                 reason: str | None = None) -> RoutingResult:
    """Release an order's open holds after review (a key change: operator and basis, audited), then route it.

    The same rule will not hold it again for the same reason: the review is on record.

    Raises:
        NotFound, BasisRequired: nothing changed.
        BusinessError(HOLD_NOT_FOUND): the order has no open hold (for that reason).
    """
    with uow:
        require(uow, actor, "order.release_hold")
        session = uow.session
        basis = audit.require_basis(actor, basis, code_label("audit_action", "order.hold_release"))
        order_id = _order_id(session, order_no)
        query = sa.select(OrderHold).where(OrderHold.order_id == order_id, OrderHold.released_at.is_(None))
        if reason is not None:
            query = query.where(OrderHold.reason == reason)
        holds = list(session.scalars(query.with_for_update()))
        if not holds:
            raise BusinessError("HOLD_NOT_FOUND", order_no=order_no)
        for hold in holds:
            hold.released_at = sa.func.now()
            hold.released_by = actor.operator
            hold.release_basis = basis
        session.flush()
        reasons = sorted(h.reason for h in holds)
        audit.record(session, actor, "order.hold_release", "order", order_no, basis=basis,
                     before={"holds": reasons}, after={"holds": []})
        result = _route(session, [order_no], actor, "hold_release", None)[0]
        uow.commit()
        return result


def hold_order(uow: UnitOfWork, order_no: str, actor: Actor, basis: str | None) -> RoutingResult:
    """Put an order on hold by hand (a key change, audited); any reserved stock goes back.

    Raises:
        NotFound, BasisRequired: nothing changed.
    """
    with uow:
        require(uow, actor, "order.hold")
        session = uow.session
        basis = audit.require_basis(actor, basis, code_label("audit_action", "order.hold"))
        order_id = _order_id(session, order_no)
        session.execute(sa.text(
            "INSERT INTO order_holds (order_id, reason) VALUES (:o, 'manual')"
            " ON CONFLICT (order_id, reason) WHERE released_at IS NULL DO NOTHING"), {"o": order_id})
        audit.record(session, actor, "order.hold", "order", order_no, basis=basis,
                     before=None, after={"holds": ["manual"]})
        result = _route(session, [order_no], actor, "manual", None)[0]
        uow.commit()
        return result
