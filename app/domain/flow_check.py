"""Every problem of an after-sales flow definition at once, each tied to the place it sits (for the form editor).

``parse_flow`` raises the first of these (so saving and the editor agree on what is wrong); the
editor shows them all, each next to the field at fault. The "strict" checks (a name, every state
reachable from the start) apply when a flow is saved, not when a saved version is loaded: a
version saved before them must keep running the cases that use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: A place in the definition: ("name",), ("initial",), ("states", "out_of_stock"), ("transitions", 2, "to"), …
Where = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class FlowProblem:
    """One thing wrong: where, what (an ``as_flow_problem`` code) and the offending value."""

    where: Where
    problem: str
    found: str = "-"


def reachable(initial: Any, transitions: Sequence[Mapping[str, Any]]) -> set[Any]:
    """The states a case can get to from ``initial`` by any step (breadth first)."""
    seen, frontier = {initial}, [initial]
    while frontier:
        state = frontier.pop(0)
        for t in transitions:
            target = t.get("to")
            if state in (t.get("from") or ()) and target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


def flow_problems(data: Mapping[str, Any], *, known_states: Sequence[str], guards: Mapping[str, Any],
                  actions: Mapping[str, frozenset[str]], strict: bool = True) -> list[FlowProblem]:
    """All problems of ``data``, in the order a person reads the flow (the first is what saving reports)."""
    out: list[FlowProblem] = []
    code = str(data.get("code", "")).strip()
    templates = dict(data.get("sms_templates") or {})
    if not code:
        out.append(FlowProblem(("code",), "code"))
    if strict and not str(data.get("name", "")).strip():
        out.append(FlowProblem(("name",), "name"))
    for key, tpl in templates.items():
        if not isinstance(tpl, Mapping) or not str(tpl.get("code", "")).strip() or not set(tpl.get("params") or ()) <= _sms_values():
            out.append(FlowProblem(("sms_templates", key), "sms_template", str(key)))
    states = tuple(data.get("states") or ())
    out += [FlowProblem(("states", s), "state", str(s)) for s in states if s not in known_states]
    initial = data.get("initial")
    if initial not in states:
        out.append(FlowProblem(("initial",), "initial", str(initial or "-")))
    transitions = [t if isinstance(t, Mapping) else {} for t in data.get("transitions") or ()]
    for n, t in enumerate(transitions):
        sources, target = tuple(t.get("from") or ()), t.get("to")
        if not t.get("step"):
            out.append(FlowProblem(("transitions", n, "step"), "transition", "-"))
        if not sources or any(s not in states for s in sources):
            found = next((str(s) for s in sources if s not in states), "-")
            out.append(FlowProblem(("transitions", n, "from"), "transition", found))
        if target not in states:
            out.append(FlowProblem(("transitions", n, "to"), "transition", str(target or "-")))
        for g, guard in enumerate(t.get("guards") or ()):
            if guard.get("guard") not in guards:
                out.append(FlowProblem(("transitions", n, "guards", g), "guard", str(guard.get("guard"))))
        out += _action_problems(t.get("actions") or (), ("transitions", n, "actions"), actions, templates)
    terminal = tuple(data.get("terminal") or ())
    out += [FlowProblem(("terminal",), "terminal", str(s)) for s in terminal if s not in states]
    for s in states:
        if s not in terminal and not any(s in (t.get("from") or ()) for t in transitions):
            out.append(FlowProblem(("states", s), "dead_end", str(s)))
    if strict and initial in states:
        reached = reachable(initial, transitions)
        out += [FlowProblem(("states", s), "unreachable", str(s)) for s in states if s not in reached]
    out += _action_problems(data.get("on_open") or (), ("on_open",), actions, templates)
    return out


def _action_problems(items: Sequence[Mapping[str, Any]], where: Where, actions: Mapping[str, frozenset[str]],
                     templates: Mapping[str, Any]) -> list[FlowProblem]:
    out = []
    for n, a in enumerate(items):
        name = a.get("action")
        if name not in actions:
            out.append(FlowProblem((*where, n), "action", str(name)))
            continue
        extra = set(a) - {"action"} - actions[name]
        if extra:
            out.append(FlowProblem((*where, n), "action_param", f"{name}.{sorted(extra)[0]}"))
        if name == "sms" and a.get("template") not in templates:
            out.append(FlowProblem((*where, n), "sms_template", str(a.get("template"))))
    return out


def _sms_values() -> frozenset[str]:
    from app.domain.after_sales_flow import SMS_VALUES

    return SMS_VALUES
