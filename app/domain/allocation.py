"""Warehouse allocation: which warehouse ships which line, from a preference list and stock levels.

Pure: stock comes in as a mapping, the answer goes out with the reasons as coded notes, so the
same function serves routing (under row locks), the dry run and the benchmark.

The order of attempts is the business's, stated once here:

1. the whole order from one warehouse, in preference order, without any SKU falling below its
   safety stock — a preferred warehouse that would fall below it *overflows* to the next;
2. split across the preference warehouses, still above safety stock (and say so);
3. if allowed, 1 and 2 again dipping into safety stock (physical stock only);
4. otherwise the order is short: nothing is taken.

Gift lines are optional: they ride with a parcel that is going anyway, or are left out with a
note, and never split an order or hold it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.domain.fields import Lang
from app.domain.messages import render


@dataclass(frozen=True, slots=True)
class StockLevel:
    """One SKU in one warehouse: on hand, reserved for orders, and the safety level to keep."""

    on_hand: int
    reserved: int
    safety: int = 0

    @property
    def free(self) -> int:
        """What may still be reserved at all (可用库存)."""
        return self.on_hand - self.reserved

    @property
    def above_safety(self) -> int:
        """What may be reserved without going below safety stock."""
        return self.on_hand - self.reserved - self.safety


Stock = Mapping[tuple[str, str], StockLevel]  # (warehouse code, SKU code) → level


@dataclass(frozen=True, slots=True)
class Need:
    """A quantity of one SKU an order line needs; ``optional`` for gifts."""

    line_no: int
    sku: str
    qty: int
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Pick:
    """``qty`` of line ``line_no`` ships from ``warehouse``."""

    line_no: int
    sku: str
    warehouse: str
    qty: int


@dataclass(frozen=True, slots=True)
class Note:
    """One step of the reasoning, coded (the message catalogue words it)."""

    code: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, code: str, **params: Any) -> Note:
        return cls(code, tuple(params.items()))

    def as_json(self) -> list[Any]:
        return [self.code, dict(self.params)]


@dataclass(frozen=True, slots=True)
class Allocation:
    """The answer: picks by line, parcels in preference order, and why."""

    picks: tuple[Pick, ...]
    warehouses: tuple[str, ...]
    notes: tuple[Note, ...]
    short: tuple[Need, ...] = ()
    dropped: tuple[Need, ...] = ()
    used_safety_stock: bool = False

    @property
    def outcome(self) -> str:
        """``allocated``, ``split``, ``shortage`` or ``skipped`` (codes of the field dictionary's routing outcomes)."""
        if self.short:
            return "shortage"
        if not self.warehouses:
            return "skipped"
        return "split" if len(self.warehouses) > 1 else "allocated"


def _problem(wh: str, by_sku: Mapping[str, int], stock: Stock, dip: bool) -> Note | None:
    """Why ``wh`` cannot ship the whole order, or None when it can."""
    for sku, qty in by_sku.items():
        level = stock.get((wh, sku))
        if level is None:
            return Note.of("ALLOC_NOT_CARRIED", warehouse=wh, sku=sku)
        if level.free < qty:
            return Note.of("ALLOC_NOT_ENOUGH", warehouse=wh, sku=sku, free=level.free, qty=qty)
        if not dip and level.above_safety < qty:
            return Note.of("ALLOC_BELOW_SAFETY", warehouse=wh, sku=sku, free=level.free, qty=qty,
                           left=level.free - qty, safety=level.safety)
    return None


def _split(required: Sequence[Need], preference: Sequence[str], stock: Stock, dip: bool) -> list[Pick] | None:
    """Preferred warehouses first take all they can; None if the preference list cannot cover it all."""
    left = {n.line_no: n.qty for n in required}
    spare: dict[tuple[str, str], int] = {}
    picks: list[Pick] = []
    for wh in preference:
        for n in required:
            if not left[n.line_no]:
                continue
            level = stock.get((wh, n.sku))
            if level is None:
                continue
            key = (wh, n.sku)
            have = spare.setdefault(key, level.free if dip else level.above_safety)
            take = min(left[n.line_no], have)
            if take > 0:
                picks.append(Pick(n.line_no, n.sku, wh, take))
                spare[key] = have - take
                left[n.line_no] -= take
    return None if any(left.values()) else picks


def _parcels(picks: Sequence[Pick], preference: Sequence[str]) -> tuple[str, ...]:
    used = {p.warehouse for p in picks}
    return tuple(wh for wh in preference if wh in used)


def allocate(needs: Sequence[Need], preference: Sequence[str], stock: Stock, *, allow_split: bool = True,
             allow_safety_stock: bool = True) -> Allocation:
    """Choose warehouses for an order's lines.

    Args:
        needs: the lines (gift lines ``optional``).
        preference: warehouse codes, most preferred first; no other warehouse is used.
        stock: levels for (warehouse, SKU); a missing pair means the warehouse does not carry it.
        allow_split: may the order ship as several parcels.
        allow_safety_stock: may safety stock be used when nothing else works.
    """
    required = [n for n in needs if not n.optional and n.qty > 0]
    optional = [n for n in needs if n.optional and n.qty > 0]
    if not required:  # only gift lines (an exchange that keeps its gift): ship them as normal lines
        required, optional = optional, []
    if not required:  # every line refunded: nothing to ship, nothing to reserve
        return Allocation((), (), (Note.of("ALLOC_NOTHING"),))
    by_sku: Counter[str] = Counter()
    for n in required:
        by_sku[n.sku] += n.qty
    notes: list[Note] = []
    chosen: list[Pick] | None = None
    dipped = False
    for dip in (False, True) if allow_safety_stock else (False,):
        for wh in preference:
            problem = _problem(wh, by_sku, stock, dip)
            if problem is None:
                chosen = [Pick(n.line_no, n.sku, wh, n.qty) for n in required]
                code = "ALLOC_SAFETY_USED" if dip else ("ALLOC_OVERFLOW" if wh != preference[0] else "ALLOC_WHOLE")
                notes.append(Note.of(code, warehouse=wh))
                break
            if not dip:  # the reasons for overflowing; the second pass only repeats them
                notes.append(problem)
        if chosen is None and allow_split and len(preference) > 1:
            chosen = _split(required, preference, stock, dip)
            if chosen is not None:
                notes.append(Note.of("ALLOC_SPLIT_SAFETY" if dip else "ALLOC_SPLIT",
                                     parts=len(_parcels(chosen, preference))))
        if chosen is not None:
            dipped = dip
            break
    if chosen is None:
        for sku, qty in by_sku.items():
            free = sum(max(0, stock[(wh, sku)].free) for wh in preference if (wh, sku) in stock)
            if free < qty:
                notes.append(Note.of("ALLOC_SHORTAGE", sku=sku, qty=qty, free=free))
        if not any(n.code == "ALLOC_SHORTAGE" for n in notes):
            notes.append(Note.of("ALLOC_NO_SINGLE"))
        return Allocation((), (), tuple(notes), tuple(required), tuple(optional))
    parcels = _parcels(chosen, preference)
    after = reserved_after(stock, chosen)
    dropped: list[Need] = []
    for n in optional:  # a gift rides with a parcel that ships anyway, or stays behind
        wh = next((w for w in parcels if (w, n.sku) in after and after[(w, n.sku)].free >= n.qty), None)
        if wh is None:
            dropped.append(n)
            notes.append(Note.of("ALLOC_GIFT_DROPPED", sku=n.sku, qty=n.qty))
            continue
        chosen.append(Pick(n.line_no, n.sku, wh, n.qty))
        after = reserved_after(after, [chosen[-1]])
    return Allocation(tuple(chosen), parcels, tuple(notes), (), tuple(dropped), dipped)


def reserved_after(stock: Stock, picks: Sequence[Pick]) -> dict[tuple[str, str], StockLevel]:
    """A copy of ``stock`` with ``picks`` reserved (only the touched pairs are new objects)."""
    out = dict(stock)
    reserve(out, picks)
    return out


def reserve(stock: MutableMapping[tuple[str, str], StockLevel], picks: Sequence[Pick], sign: int = 1) -> None:
    """Apply ``picks`` to ``stock`` in place (``sign=-1`` gives them back)."""
    for p in picks:
        key = (p.warehouse, p.sku)
        level = stock[key]
        stock[key] = StockLevel(level.on_hand, level.reserved + sign * p.qty, level.safety)


def choose_gift(options: Sequence[str], qty: int, parcels: Sequence[str], stock: Stock) -> tuple[str, str] | None:
    """The first gift SKU (in the rule's order) that a parcel already going can carry: (SKU, warehouse)."""
    for wh in parcels:
        for sku in options:
            level = stock.get((wh, sku))
            if level is not None and level.free >= qty:
                return sku, wh
    return None


def stock_facts(needs: Sequence[Need], stock: Stock, warehouses: Sequence[str]) -> dict[str, Any]:
    """Stock levels as rule inputs: per warehouse, the tightest line's free stock and whether it
    can ship everything above safety stock; overall, the tightest line's free stock across all."""
    by_sku: dict[str, int] = {}
    for n in needs:
        if not n.optional:
            by_sku[n.sku] = by_sku.get(n.sku, 0) + n.qty
    facts: dict[str, Any] = {}
    total = dict.fromkeys(by_sku, 0)
    for wh in warehouses:
        tightest: int | None = None
        can_ship = bool(by_sku)
        for sku, qty in by_sku.items():
            level = stock.get((wh, sku))
            free = level.on_hand - level.reserved if level is not None else 0
            tightest = free if tightest is None or free < tightest else tightest
            if level is None or free - level.safety < qty:
                can_ship = False
            if free > 0:
                total[sku] += free
        facts[f"stock.{wh}.available"] = tightest
        facts[f"stock.{wh}.can_ship"] = can_ship
    facts["stock.min_available"] = min(total.values(), default=None)
    return facts


def describe_note(note: Note | Sequence[Any], warehouse_name: Mapping[str, str], lang: Lang = "zh") -> str:
    """One step of the reasoning in business language, warehouses by name."""
    code, params = (note.code, dict(note.params)) if isinstance(note, Note) else (note[0], dict(note[1]))
    if "warehouse" in params:
        params["warehouse"] = warehouse_name.get(params["warehouse"], params["warehouse"])
    return render(code, lang, **params)
