"""After-sales flows as data: states, steps, guards and actions, validated and run by a tiny engine.

Why data and not code: an admin changes a flow (who must give a basis, which SMS goes out,
which check comes first) in the configuration station without a release. A flow definition is
plain JSON, saved as an immutable version; a case keeps the version it started with, so a
change never rewrites the rules under a case already in progress.

The engine here is pure: it picks the transition a step takes (first whose guards all pass) and
returns the actions to run. The service layer computes the facts the guards read and runs the
actions. The 红字确认单 (red-letter confirmation) rules live here too, because the flows' red-flush
action and the 72-hour void timer need the same facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.domain.errors import BusinessError
from app.domain.fields import CODE_LISTS
from app.domain.flow_check import flow_problems
from app.domain.messages import Coded

# --- guards: pure predicates over facts the service computes ---------------------------------

def _stock_available(facts: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    need = facts["stock_need"]  # sku → qty wanted
    free = facts["stock_free"]  # sku → free units (on hand − reserved) across enabled warehouses
    return bool(need) and all(free.get(sku, 0) >= qty for sku, qty in need.items())


def _near_expiry(facts: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    days = int(params.get("days", 30))
    today: date = facts["today"]
    return any(exp is not None and (exp - today).days <= days for exp in facts["expiry_dates"])


GUARDS: dict[str, tuple[tuple[str, ...], Any]] = {
    # name → (facts needed, predicate)
    "order_shipped": (("order_status",), lambda f, p: f["order_status"] in ("shipped", "completed")),
    "stock_available": (("stock_need", "stock_free"), _stock_available),
    "inspection_passed": (("params",), lambda f, p: bool(f["params"].get("passed", True))),
    "near_expiry": (("expiry_dates", "today"), _near_expiry),
    # 红字确认单: settled when none was needed or the red invoice is out (01/04); void → red-flush again.
    "red_letter_settled": (("red_letter_state",), lambda f, p: f["red_letter_state"] in (None, "01", "04")),
    "red_letter_void": (("red_letter_state",), lambda f, p: f["red_letter_state"] in CONFIRM_VOID),
}

#: What an SMS template may be filled with (the service computes these for each case).
SMS_VALUES = frozenset({"case_no", "order_no", "new_order_no", "ship_by", "amount", "item", "size"})

# Actions the service layer knows how to run, with the parameters each accepts.
ACTIONS: dict[str, frozenset[str]] = {
    "set_lines": frozenset({"status"}),  # line_status of the case's lines on the order
    "create_linked_order": frozenset({"mode", "ship_within_hours"}),  # exchange / reship order, reserved by routing
    "invoice_reissue": frozenset(),  # the original's blue invoice → 待重开
    "procurement_alert": frozenset(),  # outbox: buy more of the missing SKU
    "cs_notice": frozenset({"message"}),  # outbox: tell customer service, in business words
    "sms": frozenset({"template"}),  # outbox: one SMS per event
    "refund": frozenset(),  # refund amount from the lines' apportioned paid amounts
    "gift_threshold": frozenset({"threshold", "policy"}),  # bundled gift when the order drops below the threshold
    "write_off": frozenset(),  # near-expiry goods: no return parcel, not back to stock
    "red_flush": frozenset({"reason"}),  # start the 红字确认单
    "restock": frozenset(),  # inspected returns back on the shelf they came from
    "platform_answer": frozenset({"decision"}),  # outbox: agree / refuse the refund on the platform (issue #15)
}


@dataclass(frozen=True, slots=True)
class Transition:
    """One way a step can go: from any of ``sources`` to ``target`` when every guard holds."""

    step: str
    sources: tuple[str, ...]
    target: str
    guards: tuple[Mapping[str, Any], ...] = ()
    actions: tuple[Mapping[str, Any], ...] = ()
    needs_basis: bool = False


@dataclass(frozen=True, slots=True)
class Flow:
    """One version of one flow (``code`` is the after-sales kind)."""

    code: str
    version: int
    name: str
    initial: str
    states: tuple[str, ...]
    terminal: tuple[str, ...]
    transitions: tuple[Transition, ...]
    on_open: tuple[Mapping[str, Any], ...] = ()
    sms_templates: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # key → {code, params}

    def steps_from(self, state: str) -> tuple[str, ...]:
        """The step names allowed at ``state``, in declaration order, each once."""
        return tuple(dict.fromkeys(t.step for t in self.transitions if state in t.sources))

    def guard_facts(self, state: str, step: str) -> set[str]:
        """The facts the guards of ``step`` at ``state`` read (the service computes only these)."""
        return {need for t in self.transitions if t.step == step and state in t.sources
                for g in t.guards for need in GUARDS[g["guard"]][0]}


class FlowInvalid(BusinessError):
    """A flow definition an admin saved does not hold together; nothing was saved."""

    code = "AS_FLOW_INVALID"


class StepNotAllowed(BusinessError):
    """The case's state does not allow that step, or no branch's conditions hold; nothing changed."""

    code = "AS_STEP_NOT_ALLOWED"


def parse_flow(data: Mapping[str, Any], *, known_states: Sequence[str], version: int = 0,
               strict: bool = False) -> Flow:
    """A flow from its JSON form, checked: known states, guards and actions, reachable targets.

    Args:
        known_states: state codes the field dictionary names (people must be able to read them).
        strict: also require a name and every state reachable from the start (when saving; a version
            saved before those checks still loads).

    Raises:
        FlowInvalid: with ``flow`` and ``problem`` naming what is wrong.
    """
    code = str(data.get("code", "")).strip()
    problems = flow_problems(data, known_states=known_states, guards=GUARDS, actions=ACTIONS, strict=strict)
    if problems:
        first = problems[0]
        found: Any = Coded("after_sales_state", first.found) if first.found in known_states else first.found
        raise FlowInvalid(flow=Coded("after_sales_kind", code) if code in CODE_LISTS["after_sales_kind"] else code or "?",
                          problem=Coded("as_flow_problem", first.problem), found=found)
    transitions = tuple(Transition(t["step"], tuple(t["from"]), t["to"], tuple(t.get("guards") or ()),
                                   tuple(t.get("actions") or ()), bool(t.get("needs_basis", False)))
                        for t in data.get("transitions") or ())
    return Flow(code, version, str(data.get("name", code)), data["initial"], tuple(data.get("states") or ()),
                tuple(data.get("terminal") or ()), transitions, tuple(data.get("on_open") or ()),
                dict(data.get("sms_templates") or {}))


def choose(flow: Flow, state: str, step: str, facts: Mapping[str, Any], *, case_no: str = "") -> Transition:
    """The transition ``step`` takes from ``state``: the first declared whose guards all hold.

    A guard may be negated with ``{"guard": "...", "not": true}``.

    Raises:
        StepNotAllowed: no transition of that step leaves ``state`` (or none's guards hold);
            the message names the state and the steps that are allowed.
    """
    candidates = [t for t in flow.transitions if t.step == step and state in t.sources]
    for t in candidates:
        if all(bool(GUARDS[g["guard"]][1](facts, g)) != bool(g.get("not")) for g in t.guards):
            return t
    raise StepNotAllowed("AS_STEP_CONDITIONS_UNMET" if candidates else "AS_STEP_NOT_ALLOWED", case_no=case_no,
                         state=Coded("after_sales_state", state), step=Coded("as_step", step),
                         allowed=[Coded("as_step", s) for s in flow.steps_from(state)])


# --- 红字确认单 (red-letter confirmation), after the 数电票 rules --------------------------------

RED_REASONS = {"01": "开票有误", "02": "销货退回", "03": "服务中止", "04": "销售折让"}
CONFIRM_OPEN = ("02", "03")  # waiting for the other side; voided after 72 h
CONFIRM_DONE = ("01", "04")  # the tax system issues the red invoice automatically
CONFIRM_VOID = ("05", "06", "07", "08", "09", "10")
VOID_AFTER = timedelta(hours=72)
CONFIRM_MOVES: dict[str, tuple[str, ...]] = {
    "02": ("04", "05", "07", "08"),  # seller entered: buyer confirms, denies, times out, seller withdraws
    "03": ("04", "06", "07", "08"),
    "04": ("09",),
}


def red_flush_plan(*, blue_amount: Decimal, refund: Decimal, buyer_confirmed: bool, reason: str) -> tuple[bool, str]:
    """Whether the red-flush is partial, and the confirmation's first state.

    A partial red-flush is only possible once the buyer has confirmed use or booked the
    invoice, and only for 销货退回 (02) or 销售折让 (04); then the buyer must confirm (02, with
    the 72-hour timer). Otherwise the whole invoice is flushed without the buyer (01 无需确认)
    and the rest is re-issued (待重开).
    """
    partial = refund < blue_amount and buyer_confirmed and reason in ("02", "04")
    if not buyer_confirmed:
        return False, "01"
    return partial, "02"


def confirm_move(current: str, target: str, *, confirm_no: str = "") -> None:
    """Refuse a move the confirmation's state machine does not have."""
    if target not in CONFIRM_MOVES.get(current, ()):
        raise BusinessError("RED_CONFIRM_NOT_ALLOWED", confirm_no=confirm_no,
                            current=Coded("red_confirm_state", current), target=Coded("red_confirm_state", target))


def void_due(created_at: datetime) -> datetime:
    """When an unconfirmed confirmation voids by itself (状态 07)."""
    return created_at + VOID_AFTER


def gift_still_earned(remaining_paid: Decimal, threshold: Decimal) -> bool:
    """满赠: the order still earns its gift if what stays paid reaches the threshold."""
    return remaining_paid >= threshold
