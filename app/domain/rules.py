"""Routing rules as data: a small structured condition format, checked when saved, evaluated without eval.

Business users write rules, so a rule is plain JSON that can only *describe* a test, never run
code::

    {"all": [{"field": "platform", "op": "eq", "value": "douyin"},
             {"field": "province", "op": "in", "value": ["浙江省", "江苏省", "上海市"]}]}

A condition is ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}`` or a leaf
``{"field", "op", "value"}``. Fields come from a :class:`Vocabulary` (the order's own fields,
platform extension attributes ``ext.<key>``, the parsed region, amounts, items, the customer's
history and stock levels), each with a business label from the field dictionary, so the same
data reads back as 「来源平台 等于 抖店，并且 省份 属于 浙江省、江苏省、上海市」.

:func:`validate_rule` refuses a bad rule with a coded :class:`RuleInvalid` naming the problem in
business language and returns the canonical form that is stored. :class:`RuleSet` compiles the
stored form into closures once, so evaluating 50 rules against an order costs microseconds.

This module is long (≈770 lines) on purpose: format, checking, evaluation and reading-back of
one format belong together, so a new operator or action is added in one place, to all four.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.domain.clock import CST
from app.domain.errors import BusinessError
from app.domain.fields import CODE_LISTS, FIELDS, Lang, code_from_label, code_label
from app.domain.messages import Coded, render

Facts = Mapping[str, Any]
Predicate = Callable[[Facts], bool]

MAX_DEPTH = 6
MAX_LEAVES = 40


class RuleInvalid(BusinessError):
    """A rule cannot be saved as written; the code names what is wrong, the params say where."""

    code = "RULE_INVALID"


@dataclass(frozen=True, slots=True)
class Named(Coded):
    """A business name known in both languages (a field label, a rule name) used inside a message."""

    en: str = ""

    def render(self, lang: Lang) -> str:
        return self.value if lang == "zh" or not self.en else self.en


# --- the vocabulary: which inputs a rule may test -------------------------------------------------

# Kinds of input value. "names" kinds are codes whose business names come from master data.
ORDERED_KINDS = frozenset({"money", "decimal", "int", "percent", "datetime"})


@dataclass(frozen=True, slots=True)
class InputField:
    """One input a rule may test.

    Attributes:
        key: what rules store (``platform``, ``ext.author_name``, ``item.sku``, ``stock.HZ.available``).
        zh, en: the business label.
        kind: text, code, money, decimal, percent, int, datetime or bool.
        codes: for ``kind == "code"``, the value list in the field dictionary.
        names: for codes from master data, which name table renders them (warehouse, shop, sku).
        per_item: the order has one value per line; a test holds if it holds for any line.
    """

    key: str
    zh: str
    en: str
    kind: str = "text"
    codes: str | None = None
    names: str | None = None
    per_item: bool = False

    def label(self, lang: Lang = "zh") -> str:
        return self.zh if lang == "zh" else self.en

    def named(self) -> Named:
        return Named("", self.zh, self.en)


# The order's own fields that rules may test (the rest are internal or meaningless to routing).
ORDER_INPUTS = ("order_no", "platform", "shop", "platform_order_no", "ordered_at", "paid_at", "customer_id",
                "original_amount", "paid_amount", "status", "invoice_status", "receiver_name", "receiver_phone",
                "receiver_address", "province", "city", "district", "warehouse", "ship_by", "buyer_note",
                "seller_note", "platform_status")
_NAMES_OF = {"shop": "shop", "warehouse": "warehouse", "item.sku": "sku"}
_PER_ITEM = frozenset(k for k in FIELDS["rule"] if k.startswith("item."))
_EXT_KINDS = {"text": "text", "decimal": "decimal", "int": "int", "percent": "percent", "datetime": "datetime",
              "bool": "bool"}


def _static_fields() -> dict[str, InputField]:
    out: dict[str, InputField] = {}
    for key in ORDER_INPUTS:
        d = FIELDS["order"][key]
        kind = d.kind if d.kind in ("text", "code", "money", "datetime", "int") else "text"
        names = _NAMES_OF.get(key)
        out[key] = InputField(key, d.zh, d.en, "code" if names else kind, d.codes, names)
    for key, d in FIELDS["rule"].items():
        out[key] = InputField(key, d.zh, d.en, d.kind if d.kind != "bool" else "bool", d.codes,
                              _NAMES_OF.get(key), key in _PER_ITEM)
    return out


STATIC_FIELDS: dict[str, InputField] = _static_fields()


@dataclass(frozen=True)
class Vocabulary:
    """Everything a rule may refer to: input fields, and master data by code with business names.

    Attributes:
        fields: input key → definition.
        names: "warehouse" / "shop" / "sku" → code → business name.
    """

    fields: Mapping[str, InputField]
    names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def build(cls, *, ext_fields: Iterable[tuple[str, str, str, str]] = (),
              warehouses: Iterable[tuple[str, str]] = (), shops: Iterable[tuple[str, str]] = (),
              skus: Iterable[tuple[str, str]] = ()) -> Vocabulary:
        """The vocabulary for this company.

        Args:
            ext_fields: platform extension attributes as (key, label zh, label en, value type);
                a key several platforms share (淘客ID on 淘宝 and 天猫) is one field.
            warehouses, shops, skus: (code, business name) pairs.
        """
        fields = dict(STATIC_FIELDS)
        for key, zh, en, value_type in ext_fields:
            fields.setdefault(f"ext.{key}", InputField(f"ext.{key}", zh, en, _EXT_KINDS.get(value_type, "text")))
        wh = dict(warehouses)
        for code, name in wh.items():
            fields[f"stock.{code}.available"] = InputField(
                f"stock.{code}.available", render("RULE_FIELD_STOCK_AT", "zh", warehouse=name),
                render("RULE_FIELD_STOCK_AT", "en", warehouse=name), "int")
            fields[f"stock.{code}.can_ship"] = InputField(
                f"stock.{code}.can_ship", render("RULE_FIELD_CAN_SHIP_AT", "zh", warehouse=name),
                render("RULE_FIELD_CAN_SHIP_AT", "en", warehouse=name), "bool")
        return cls(fields, {"warehouse": wh, "shop": dict(shops), "sku": dict(skus)})

    def name(self, table: str, code: str) -> str:
        """The business name of a warehouse, shop or SKU code; an unknown code is shown as it is."""
        return self.names.get(table, {}).get(code, code)


# --- operators --------------------------------------------------------------------------------

_TEXTISH = frozenset({"text", "code"})
_ALL_KINDS = frozenset({"text", "code", "money", "decimal", "percent", "int", "datetime", "bool"})
# op → kinds it applies to, and whether it takes a value: "one", "list", "pair" or None.
OPERATORS: dict[str, tuple[frozenset[str], str | None]] = {
    "eq": (_ALL_KINDS, "one"),
    "ne": (_ALL_KINDS, "one"),
    "in": (_TEXTISH | {"int"}, "list"),
    "not_in": (_TEXTISH | {"int"}, "list"),
    "gt": (ORDERED_KINDS, "one"),
    "gte": (ORDERED_KINDS, "one"),
    "lt": (ORDERED_KINDS, "one"),
    "lte": (ORDERED_KINDS, "one"),
    "between": (ORDERED_KINDS, "pair"),
    "contains": (frozenset({"text"}), "one"),
    "contains_any": (frozenset({"text"}), "list"),
    "starts_with": (frozenset({"text"}), "one"),
    "is_empty": (_ALL_KINDS, None),
    "not_empty": (_ALL_KINDS, None),
}
# "Any line is not X" reads wrongly; per-item fields take positive tests (wrap in "not" for "no line").
_NEGATIVE = frozenset({"ne", "not_in", "is_empty", "not_empty"})


# --- values -------------------------------------------------------------------------------------

class _BadValue(Exception):
    pass


def _coerce(f: InputField, raw: Any, vocab: Vocabulary) -> Any:
    """One stored value → the Python value compared at run time (raises _BadValue)."""
    if f.kind in ("money", "decimal", "percent"):
        if isinstance(raw, (float, bool)) or raw is None:
            raise _BadValue
        try:
            value = Decimal(str(raw).strip())
        except InvalidOperation:
            raise _BadValue from None
        if not value.is_finite():
            raise _BadValue
        return value.quantize(Decimal("0.01")) if f.kind == "money" else value
    if f.kind == "int":
        if isinstance(raw, bool) or isinstance(raw, float):
            raise _BadValue
        try:
            return int(str(raw).strip())
        except ValueError:
            raise _BadValue from None
    if f.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "是", "yes", "1"):
            return True
        if text in ("false", "否", "no", "0"):
            return False
        raise _BadValue
    if f.kind == "datetime":
        try:
            moment = datetime.fromisoformat(str(raw).strip())
        except ValueError:
            raise _BadValue from None
        return moment if moment.tzinfo else moment.replace(tzinfo=CST)
    if not isinstance(raw, (str, int)) or isinstance(raw, bool):
        raise _BadValue
    text = str(raw).strip()
    if f.kind == "code" and f.names:
        table = vocab.names.get(f.names, {})
        if text in table:
            return text
        by_name = {name: code for code, name in table.items()}
        if text in by_name:
            return by_name[text]
        raise _BadValue
    if f.kind == "code" and f.codes:
        try:
            return code_from_label(f.codes, text)
        except KeyError:
            raise _BadValue from None
    return text


def _stored(value: Any) -> Any:
    """The canonical JSON form of a coerced value."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _expected(f: InputField, vocab: Vocabulary) -> Coded:
    if f.kind == "code" and f.names:
        return Named("", "、".join(list(vocab.names.get(f.names, {}).values())[:8]) or "-",
                     ", ".join(list(vocab.names.get(f.names, {}).values())[:8]) or "-")
    if f.kind == "code" and f.codes:
        return Named("", "、".join(zh for zh, _ in CODE_LISTS[f.codes].values()),
                     ", ".join(en for _, en in CODE_LISTS[f.codes].values()))
    return Coded("rule_value_kind", f.kind)


# --- checking a rule when it is saved ------------------------------------------------------------

@dataclass
class _Checker:
    vocab: Vocabulary
    rule: Named
    leaves: int = 0

    def fail(self, message: str, /, **params: Any) -> RuleInvalid:
        return RuleInvalid(message, rule=self.rule, **params)

    def condition(self, expr: Any, depth: int = 0) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise self.fail("RULE_TOO_COMPLEX", limit=MAX_DEPTH)
        if not isinstance(expr, Mapping):
            raise self.fail("RULE_BAD_SHAPE", found=_short(expr))
        keys = set(expr)
        if keys in ({"all"}, {"any"}):
            (kind,) = keys
            parts = expr[kind]
            if not isinstance(parts, list):
                raise self.fail("RULE_BAD_SHAPE", found=_short(expr))
            return {kind: [self.condition(p, depth + 1) for p in parts]}
        if keys == {"not"}:
            return {"not": self.condition(expr["not"], depth + 1)}
        if "field" in keys and "op" in keys and keys <= {"field", "op", "value"}:
            return self.leaf(expr)
        raise self.fail("RULE_BAD_SHAPE", found=_short(expr))

    def leaf(self, expr: Mapping[str, Any]) -> dict[str, Any]:
        self.leaves += 1
        if self.leaves > MAX_LEAVES:
            raise self.fail("RULE_TOO_COMPLEX", limit=MAX_LEAVES)
        key, op = expr["field"], expr["op"]
        f = self.vocab.fields.get(key) if isinstance(key, str) else None
        if f is None:
            raise self.fail("RULE_UNKNOWN_FIELD", field=str(key))
        spec = OPERATORS.get(op) if isinstance(op, str) else None
        allowed = [Coded("rule_op", o) for o, (kinds, _) in OPERATORS.items()
                   if f.kind in kinds and not (f.per_item and o in _NEGATIVE)]
        if spec is None or f.kind not in spec[0] or (f.per_item and op in _NEGATIVE):
            raise self.fail("RULE_BAD_OPERATOR", field=f.named(), op=Coded("rule_op", str(op)), allowed=allowed)
        arity = spec[1]
        if arity is None:
            if "value" in expr and expr["value"] not in (None, "", []):
                raise self.fail("RULE_VALUE_NOT_EXPECTED", field=f.named(), op=Coded("rule_op", op))
            return {"field": key, "op": op}
        if "value" not in expr:
            raise self.fail("RULE_VALUE_MISSING", field=f.named(), op=Coded("rule_op", op))
        raw = expr["value"]
        if arity == "one":
            return {"field": key, "op": op, "value": self.value(f, raw)}
        if not isinstance(raw, list) or not raw or (arity == "pair" and len(raw) != 2):
            raise self.fail("RULE_NEEDS_LIST" if arity == "list" else "RULE_NEEDS_PAIR", field=f.named(),
                            op=Coded("rule_op", op))
        values = [self.value(f, v) for v in raw]
        if arity == "pair" and _coerce(f, values[0], self.vocab) > _coerce(f, values[1], self.vocab):
            raise self.fail("RULE_PAIR_REVERSED", field=f.named(), low=values[0], high=values[1])
        return {"field": key, "op": op, "value": values}

    def value(self, f: InputField, raw: Any) -> Any:
        try:
            value = _coerce(f, raw, self.vocab)
        except _BadValue:
            raise self.fail("RULE_BAD_VALUE", field=f.named(), value=_short(raw),
                            expected=_expected(f, self.vocab)) from None
        if f.kind == "text" and value == "":
            raise self.fail("RULE_BAD_VALUE", field=f.named(), value="", expected=_expected(f, self.vocab))
        return _stored(value)


def _short(value: Any, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


ACTION_TYPES = tuple(CODE_LISTS["rule_action"])


def _check_actions(chk: _Checker, actions: Any) -> list[dict[str, Any]]:
    if not isinstance(actions, list) or not actions:
        raise chk.fail("RULE_NO_ACTION")
    out, seen = [], set()
    for action in actions:
        kind = action.get("type") if isinstance(action, Mapping) else None
        if kind not in ACTION_TYPES:
            raise chk.fail("RULE_UNKNOWN_ACTION", found=_short(action),
                           allowed=[Coded("rule_action", a) for a in ACTION_TYPES])
        if kind in seen:
            raise chk.fail("RULE_DUPLICATE_ACTION", action=Coded("rule_action", kind))
        seen.add(kind)
        out.append(_check_action(chk, kind, action))
    return out


def _flag(chk: _Checker, action: Mapping[str, Any], key: str, default: bool) -> bool:
    value = action.get(key, default)
    if not isinstance(value, bool):
        raise chk.fail("RULE_BAD_ACTION", action=Coded("rule_action", action["type"]), found=_short(action))
    return value


def _check_action(chk: _Checker, kind: str, action: Mapping[str, Any]) -> dict[str, Any]:
    allowed_keys = {"choose_warehouse": {"warehouses", "allow_split", "allow_safety_stock"},
                    "set_ship_by": {"hours"}, "bind_invoice": set(), "add_gift": {"skus", "qty"},
                    "hold": {"reason"}}[kind]
    if set(action) - {"type"} - allowed_keys:
        raise chk.fail("RULE_BAD_ACTION", action=Coded("rule_action", kind), found=_short(action))
    if kind == "choose_warehouse":
        codes = action.get("warehouses")
        known = chk.vocab.names.get("warehouse", {})
        if not isinstance(codes, list) or not codes or len(set(map(str, codes))) != len(codes):
            raise chk.fail("RULE_BAD_ACTION", action=Coded("rule_action", kind), found=_short(action))
        for code in codes:
            if code not in known:
                raise chk.fail("RULE_UNKNOWN_WAREHOUSE", warehouse=_short(code), known="、".join(known.values()) or "-")
        return {"type": kind, "warehouses": list(codes), "allow_split": _flag(chk, action, "allow_split", True),
                "allow_safety_stock": _flag(chk, action, "allow_safety_stock", True)}
    if kind == "set_ship_by":
        hours = action.get("hours")
        if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= 720:
            raise chk.fail("RULE_BAD_HOURS", found=_short(hours))
        return {"type": kind, "hours": hours}
    if kind == "add_gift":
        skus, qty = action.get("skus"), action.get("qty", 1)
        if not isinstance(skus, list) or not skus:
            raise chk.fail("RULE_BAD_ACTION", action=Coded("rule_action", kind), found=_short(action))
        for sku in skus:
            if sku not in chk.vocab.names.get("sku", {}):
                raise chk.fail("RULE_UNKNOWN_SKU", sku=_short(sku))
        if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= 10:
            raise chk.fail("RULE_BAD_ACTION", action=Coded("rule_action", kind), found=_short(action))
        return {"type": kind, "skus": list(skus), "qty": qty}
    if kind == "hold":
        reason = action.get("reason")
        if reason not in CODE_LISTS["hold_reason"]:
            raise chk.fail("RULE_BAD_HOLD_REASON", found=_short(reason),
                           allowed=[Coded("hold_reason", r) for r in CODE_LISTS["hold_reason"]])
        return {"type": kind, "reason": reason}
    return {"type": kind}


def validate_rule(name: str, condition: Any, actions: Any, vocab: Vocabulary) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Check a rule as written and return its canonical (stored) condition and actions.

    Values are normalised (「抖店」 → ``douyin``, ``299`` → ``"299.00"``), so what is stored is
    exactly what runs and what is shown back.

    Raises:
        RuleInvalid: with a code saying what is wrong (unknown field, operator that does not fit
            the field, a value of the wrong kind, unknown warehouse or SKU, no action…), the
            rule's name and the field's business label.
    """
    chk = _Checker(vocab, Named("", name or "-", name or "-"))
    if not (name or "").strip():
        raise chk.fail("RULE_NO_NAME")
    return chk.condition(condition), _check_actions(chk, actions)


# --- evaluation ----------------------------------------------------------------------------------

def _leaf_predicate(f: InputField, op: str, raw: Any, vocab: Vocabulary) -> Predicate:
    key = f.key
    if op in ("is_empty", "not_empty"):
        want_empty = op == "is_empty"
        return lambda facts: (facts.get(key) in (None, "", ())) is want_empty
    if isinstance(raw, list):
        values = [_coerce(f, v, vocab) for v in raw]
    else:
        value = _coerce(f, raw, vocab)
    test: Callable[[Any], bool]
    if op == "eq":
        if not f.per_item:
            return lambda facts: facts.get(key) == value
        test = lambda x: x == value  # noqa: E731
    elif op == "ne":
        return lambda facts: facts.get(key) != value
    elif op in ("in", "not_in"):
        members = frozenset(values)
        if f.per_item:
            return lambda facts: not members.isdisjoint(facts.get(key, ()))
        if op == "in":
            return lambda facts: facts.get(key) in members
        return lambda facts: facts.get(key) not in members
    elif op == "gt":
        test = lambda x: x > value  # noqa: E731
    elif op == "gte":
        test = lambda x: x >= value  # noqa: E731
    elif op == "lt":
        test = lambda x: x < value  # noqa: E731
    elif op == "lte":
        test = lambda x: x <= value  # noqa: E731
    elif op == "between":
        low, high = values
        test = lambda x: low <= x <= high  # noqa: E731
    elif op == "contains":
        test = lambda x: value in x  # noqa: E731
    elif op == "contains_any":
        words = tuple(values)
        test = lambda x: any(w in x for w in words)  # noqa: E731
    else:  # starts_with
        test = lambda x: x.startswith(value)  # noqa: E731
    if f.per_item:
        if op == "eq":
            return lambda facts: value in facts.get(key, ())
        return lambda facts: any(test(x) for x in facts.get(key, ()) if x is not None)
    # The common comparisons inline (one call per test instead of two: rules run for every order).
    if op == "gt":
        return lambda facts: (x := facts.get(key)) is not None and x > value
    if op == "gte":
        return lambda facts: (x := facts.get(key)) is not None and x >= value
    if op == "lt":
        return lambda facts: (x := facts.get(key)) is not None and x < value
    if op == "lte":
        return lambda facts: (x := facts.get(key)) is not None and x <= value
    if op == "between":
        return lambda facts: (x := facts.get(key)) is not None and low <= x <= high
    return lambda facts: (x := facts.get(key)) is not None and test(x)


def _compile(expr: Mapping[str, Any], vocab: Vocabulary, used: set[str]) -> Predicate:
    if "all" in expr or "any" in expr:
        parts = tuple(_compile(p, vocab, used) for p in expr.get("all", expr.get("any", [])))
        if "all" in expr:
            if not parts:
                return lambda facts: True
            if len(parts) == 1:
                return parts[0]
            if len(parts) == 2:
                first, second = parts
                return lambda facts: first(facts) and second(facts)

            def all_of(facts: Facts) -> bool:
                for p in parts:
                    if not p(facts):
                        return False
                return True

            return all_of
        if not parts:
            return lambda facts: False
        if len(parts) == 2:
            first, second = parts
            return lambda facts: first(facts) or second(facts)

        def any_of(facts: Facts) -> bool:
            for p in parts:
                if p(facts):
                    return True
            return False

        return any_of
    if "not" in expr:
        inner = _compile(expr["not"], vocab, used)
        return lambda facts: not inner(facts)
    f = vocab.fields[expr["field"]]
    used.add(f.key)
    return _leaf_predicate(f, expr["op"], expr.get("value"), vocab)


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule at one version, as stored.

    Attributes:
        code: the rule's stable identifier (「规则编号」).
        version: the version number; ``version_id`` the stored version's row id.
        priority: lower runs first; for the warehouse the first rule that fires wins.
    """

    code: str
    name: str
    version: int
    priority: int
    condition: Mapping[str, Any]
    actions: tuple[Mapping[str, Any], ...]
    version_id: int | None = None
    rule_id: int | None = None


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: Rule
    test: Predicate
    fields: frozenset[str]


@dataclass(frozen=True, slots=True)
class WarehouseChoice:
    """The fired warehouse action: preference order, and what may happen when stock is short."""

    warehouses: tuple[str, ...]
    allow_split: bool
    allow_safety_stock: bool
    rule: str


@dataclass(frozen=True, slots=True)
class Plan:
    """What the fired rules ask for, merged.

    The first warehouse rule (by priority) wins; the earliest ship-by deadline wins; every
    gift and every hold applies.
    """

    warehouse: WarehouseChoice | None = None
    ship_by_hours: int | None = None
    ship_by_rule: str | None = None
    invoice_rules: tuple[str, ...] = ()
    gifts: tuple[tuple[str, tuple[str, ...], int], ...] = ()  # (rule, sku options, qty)
    holds: tuple[tuple[str, str], ...] = ()  # (rule, reason)


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """One rule's result for one order: fired or not, and which of its actions took effect."""

    rule: Rule
    fired: bool
    applied: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every rule's outcome in priority order, the merged plan, and the inputs the rules read.

    ``fired`` is worked out once by :meth:`RuleSet.evaluate` (routing reads it several times per order).
    """

    results: tuple[RuleOutcome, ...]
    plan: Plan
    inputs: Mapping[str, Any]
    fired: tuple[RuleOutcome, ...] = ()


class RuleSet:
    """Enabled rules compiled once, in priority order, evaluated against an order's facts."""

    def __init__(self, rules: Iterable[Rule], vocab: Vocabulary) -> None:
        compiled, broken = [], []
        for rule in sorted(rules, key=lambda r: (r.priority, r.code)):
            used: set[str] = set()
            try:
                test = _compile(rule.condition, vocab, used)
            except (KeyError, _BadValue, TypeError, ValueError):
                # Stored before master data changed (a warehouse closed, a field withdrawn): it is
                # not evaluated, and every decision says so, rather than stopping all routing.
                broken.append(rule)
                continue
            compiled.append(CompiledRule(rule, test, frozenset(used)))
        self.rules: tuple[CompiledRule, ...] = tuple(compiled)
        self.broken: tuple[Rule, ...] = tuple(broken)
        self.vocab = vocab
        self.fields: frozenset[str] = frozenset().union(*(c.fields for c in compiled)) if compiled else frozenset()
        # Built once: a rule that does not fire always yields the same (immutable) outcome.
        self._checks = tuple((c, RuleOutcome(c.rule, False)) for c in compiled)
        self._tests = tuple(c.test for c in compiled)
        self._not_fired = tuple(outcome for _, outcome in self._checks)
        self._inputs = tuple(sorted(self.fields))

    def __len__(self) -> int:
        return len(self.rules)

    def needs(self, prefix: str) -> bool:
        """Whether any rule reads an input starting with ``prefix`` (so costly facts are only built when used)."""
        return any(k.startswith(prefix) for k in self.fields)

    def evaluate(self, facts: Facts) -> Evaluation:
        """Every rule against ``facts``, and the merged plan of the ones that fired."""
        checks = self._checks
        # Tested in one comprehension (most rules do not fire); actions only for those that did.
        hits = [n for n, test in enumerate(self._tests) if test(facts)]
        results = list(self._not_fired)
        warehouse: WarehouseChoice | None = None
        hours: int | None = None
        hours_rule: str | None = None
        ship_by_rules = 0
        invoice: list[str] = []
        gifts: list[tuple[str, tuple[str, ...], int]] = []
        holds: list[tuple[str, str]] = []
        for n in hits:
            c = checks[n][0]
            applied = []
            for action in c.rule.actions:
                kind = action["type"]
                if kind == "choose_warehouse":
                    if warehouse is None:
                        warehouse = WarehouseChoice(tuple(action["warehouses"]), action.get("allow_split", True),
                                                    action.get("allow_safety_stock", True), c.rule.code)
                        applied.append(kind)
                elif kind == "set_ship_by":
                    ship_by_rules += 1
                    if hours is None or action["hours"] < hours:
                        hours, hours_rule = action["hours"], c.rule.code
                    applied.append(kind)
                elif kind == "bind_invoice":
                    invoice.append(c.rule.code)
                    applied.append(kind)
                elif kind == "add_gift":
                    gifts.append((c.rule.code, tuple(action["skus"]), action.get("qty", 1)))
                    applied.append(kind)
                elif kind == "hold":
                    holds.append((c.rule.code, action["reason"]))
                    applied.append(kind)
            results[n] = RuleOutcome(c.rule, True, tuple(applied))
        if ship_by_rules > 1:  # only the earliest deadline was applied: the others say they were not
            for n in hits:
                r = results[n]
                if "set_ship_by" in r.applied and r.rule.code != hours_rule:
                    results[n] = RuleOutcome(r.rule, True, tuple(a for a in r.applied if a != "set_ship_by"))
        plan = Plan(warehouse, hours, hours_rule, tuple(invoice), tuple(gifts), tuple(holds))
        inputs = {k: facts.get(k) for k in self._inputs}
        return Evaluation(tuple(results), plan, inputs, tuple(results[n] for n in hits))


# --- facts: an order as rules see it --------------------------------------------------------------

_ITEM_FACTS: dict[str, Callable[[list[Mapping[str, Any]], Sequence[Mapping[str, Any]]], Any]] = {
    "item.sku": lambda lines, _: tuple(str(it.get("sku", "")) for it in lines),
    "item.style": lambda lines, _: tuple(str(it.get("sku", "")).split("-", 1)[0] for it in lines),
    "item.name": lambda lines, _: tuple(str(it.get("name", "")) for it in lines),
    "item.color": lambda lines, _: tuple(str(it.get("color", "")) for it in lines),
    "item.size": lambda lines, _: tuple(str(it.get("size", "")) for it in lines),
    "item.qty": lambda lines, _: tuple(int(it.get("qty", 0)) for it in lines),
    "items.total_qty": lambda lines, _: sum(int(it.get("qty", 0)) for it in lines),
    "items.line_count": lambda lines, _: len(lines),
    "items.has_gift": lambda _, items: any(it.get("is_gift") for it in items),
}
ITEM_FACT_KEYS = frozenset(_ITEM_FACTS)


def item_facts(items: Sequence[Mapping[str, Any]], only: Iterable[str] | None = None) -> dict[str, Any]:
    """Per-item inputs from an order's lines; gifts and refunded lines are not what the buyer is buying.

    ``only``: the keys some rule reads (routing builds no input nobody tests).
    """
    lines = [it for it in items if not it.get("is_gift") and it.get("line_status") not in ("refunded",)]
    keys = _ITEM_FACTS if only is None else only
    return {k: _ITEM_FACTS[k](lines, items) for k in keys}


def ext_facts(ext: Mapping[str, str | None], vocab: Vocabulary, only: frozenset[str] | None = None) -> dict[str, Any]:
    """Platform extension attributes typed by their definitions; an unreadable value is absent, never an error."""
    out: dict[str, Any] = {}
    for key, raw in ext.items():
        f = vocab.fields.get(f"ext.{key}")
        if raw is None or f is None or (only is not None and f.key not in only):
            continue
        try:
            out[f.key] = _coerce(f, raw, vocab) if f.kind != "text" else str(raw)
        except _BadValue:
            continue
    return out


# --- reading rules back in business language -----------------------------------------------------

def describe_value(f: InputField, value: Any, vocab: Vocabulary, lang: Lang = "zh") -> str:
    """A stored value as a person reads it: 「抖店」, 「杭州自营仓」, 「¥299.00」."""
    if isinstance(value, list):
        sep = "、" if lang == "zh" else ", "
        return sep.join(describe_value(f, v, vocab, lang) for v in value)
    if f.names:
        return vocab.name(f.names, str(value))
    if f.codes:
        return code_label(f.codes, str(value), lang)
    if f.kind == "money":
        return f"¥{Decimal(str(value)):,.2f}"
    if f.kind == "percent":
        return f"{value}%"
    if f.kind == "bool":
        return render("YES" if value in (True, "true") else "NO", lang)
    if f.kind == "datetime":
        return datetime.fromisoformat(str(value)).astimezone(CST).strftime("%Y-%m-%d %H:%M")
    return str(value)


def describe_condition(expr: Mapping[str, Any], vocab: Vocabulary, lang: Lang = "zh", *, _nested: bool = False) -> str:
    """A condition as a sentence: 「来源平台 等于 抖店，并且 省份 属于 浙江省、江苏省、上海市」."""
    for kind in ("all", "any"):
        if kind in expr:
            parts = expr[kind]
            if not parts:
                return render("RULE_ALWAYS" if kind == "all" else "RULE_NEVER", lang)
            text = render("RULE_AND" if kind == "all" else "RULE_OR", lang).join(
                describe_condition(p, vocab, lang, _nested=True) for p in parts)
            return f"（{text}）" if _nested and len(parts) > 1 and lang == "zh" else (
                f"({text})" if _nested and len(parts) > 1 else text)
    if "not" in expr:
        return render("RULE_NOT", lang, inner=describe_condition(expr["not"], vocab, lang, _nested=True))
    f = vocab.fields.get(expr["field"])
    if f is None:  # a field withdrawn since: shown by its key, never hidden
        f = InputField(expr["field"], expr["field"], expr["field"])
    subject = render("RULE_ANY_ITEM", lang, field=f.label(lang)) if f.per_item else f.label(lang)
    op = code_label("rule_op", expr["op"], lang)
    if "value" not in expr:
        return f"{subject} {op}"
    value = expr["value"]
    if expr["op"] == "between":
        shown = render("RULE_RANGE", lang, low=describe_value(f, value[0], vocab, lang),
                       high=describe_value(f, value[1], vocab, lang))
    else:
        shown = describe_value(f, value, vocab, lang)
    return f"{subject} {op} {shown}"


def describe_action(action: Mapping[str, Any], vocab: Vocabulary, lang: Lang = "zh") -> str:
    """An action as a person reads it: 「优先杭州自营仓，低于安全水位溢出至合肥云仓」."""
    kind = action["type"]
    if kind == "choose_warehouse":
        names = [vocab.name("warehouse", c) for c in action["warehouses"]]
        sep = "、" if lang == "zh" else ", "
        text = render("RULE_ACT_WAREHOUSE" if len(names) > 1 else "RULE_ACT_WAREHOUSE_ONLY", lang,
                      first=names[0], rest=sep.join(names[1:]))
        if not action.get("allow_split", True):
            text += render("RULE_ACT_NO_SPLIT", lang)
        if not action.get("allow_safety_stock", True):
            text += render("RULE_ACT_NO_SAFETY", lang)
        return text
    if kind == "set_ship_by":
        return render("RULE_ACT_SHIP_BY", lang, hours=action["hours"])
    if kind == "add_gift":
        options = len(action["skus"])
        return render("RULE_ACT_GIFT" if options == 1 else "RULE_ACT_GIFT_ONE_OF", lang,
                      gift=vocab.name("sku", action["skus"][0]), qty=action.get("qty", 1), options=options)
    if kind == "hold":
        return render("RULE_ACT_HOLD", lang, reason=Coded("hold_reason", action["reason"]))
    return render("RULE_ACT_INVOICE", lang)


def describe_actions(actions: Iterable[Mapping[str, Any]], vocab: Vocabulary, lang: Lang = "zh") -> str:
    return ("；" if lang == "zh" else "; ").join(describe_action(a, vocab, lang) for a in actions)


def describe_rule(rule: Rule, vocab: Vocabulary, lang: Lang = "zh") -> str:
    """「如果 … 那么 …」: the whole rule in one sentence."""
    return render("RULE_SENTENCE", lang, condition=describe_condition(rule.condition, vocab, lang),
                  actions=describe_actions(rule.actions, vocab, lang))
