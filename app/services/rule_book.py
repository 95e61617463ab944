"""The rule book: routing rules saved as immutable versions, switched on and off, listed, and loaded for routing.

Saving checks the rule against this company's vocabulary (fields, warehouses, SKUs) and refuses
a bad one with a business-language message; what is stored is the canonical form that runs.
Every save, enable and disable is in the audit trail.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db.routing_models import RoutingRule, RuleVersion
from app.domain.actor import Actor
from app.domain.errors import NotFound
from app.domain.rules import Named, Rule, RuleInvalid, RuleSet, Vocabulary, validate_rule
from app.services import audit
from app.services.unit_of_work import UnitOfWork
from app.services.permissions import require

_CODE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
RULE_NOUN = Named("", "路由规则", "routing rule")


@dataclass(frozen=True, slots=True)
class RuleDraft:
    """A rule as its author wrote it (JSON from the rule editor, a file, or the demo)."""

    code: str
    name: str
    condition: Any
    actions: Any
    priority: int = 100
    enabled: bool = True
    note: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleDraft:
        """A draft from a JSON object; missing parts are refused like any other bad rule."""
        if not isinstance(data, Mapping):
            raise RuleInvalid("RULE_BAD_SHAPE", rule=Named("", "-", "-"), found=str(data)[:60])
        name = str(data.get("name") or "")
        if "condition" not in data:
            raise RuleInvalid("RULE_BAD_SHAPE", rule=Named("", name or "-", name or "-"), found="condition")
        return cls(code=str(data.get("code") or ""), name=name, condition=data["condition"],
                   actions=data.get("actions"), priority=data.get("priority", 100),
                   enabled=bool(data.get("enabled", True)), note=data.get("note"))


@dataclass(frozen=True, slots=True)
class RuleView:
    """A rule at one version, as lists and the trace show it (plain values, no ORM row)."""

    code: str
    name: str
    version: int
    version_id: int
    priority: int
    enabled: bool
    condition: dict[str, Any]
    actions: tuple[dict[str, Any], ...]
    author: str
    saved_at: datetime
    note: str | None = None

    def as_rule(self) -> Rule:
        return Rule(self.code, self.name, self.version, self.priority, self.condition, self.actions, self.version_id)


@dataclass(frozen=True, slots=True)
class SaveResult:
    rule: RuleView
    changed: bool  # False: the same content was saved again, no new version


def load_vocabulary(session: Session) -> Vocabulary:
    """This company's vocabulary: extension fields, enabled warehouses, shops and SKUs, by code."""
    ext = session.execute(sa.text(
        "SELECT key, label_zh, label_en, value_type FROM platform_field_defs ORDER BY platform, sort_order")).all()
    warehouses = session.execute(sa.text("SELECT code, name FROM warehouses WHERE enabled ORDER BY id")).all()
    shops = session.execute(sa.text("SELECT code, name FROM shops ORDER BY id")).all()
    skus = session.execute(sa.text("SELECT sku_code, name || ' ' || color || ' ' || size FROM skus ORDER BY id")).all()
    return Vocabulary.build(ext_fields=[tuple(r) for r in ext], warehouses=[tuple(r) for r in warehouses],
                            shops=[tuple(r) for r in shops], skus=[tuple(r) for r in skus])


def _views(session: Session, *, enabled_only: bool, code: str | None = None, all_versions: bool = False) -> list[RuleView]:
    stmt = (sa.select(RoutingRule.code, RuleVersion.name, RuleVersion.version, RuleVersion.id, RuleVersion.priority,
                      RoutingRule.enabled, RuleVersion.condition, RuleVersion.actions, RuleVersion.author,
                      RuleVersion.created_at, RuleVersion.note)
            .join(RuleVersion, RuleVersion.rule_id == RoutingRule.id))
    if not all_versions:
        stmt = stmt.where(RuleVersion.version == RoutingRule.version)
    if enabled_only:
        stmt = stmt.where(RoutingRule.enabled)
    if code is not None:
        stmt = stmt.where(RoutingRule.code == code)
    stmt = stmt.order_by(RuleVersion.priority, RoutingRule.code, RuleVersion.version)
    return [RuleView(r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(r[7]), r[8], r[9], r[10])
            for r in session.execute(stmt)]


# --- the compiled rule set, cached per database until a rule or the master data changes ----------

@dataclass(frozen=True)
class RoutingState:
    """What routing needs besides the orders: the compiled rules, and the warehouses (code, id, enabled),
    own warehouse first."""

    rules: RuleSet
    warehouses: tuple[tuple[str, int, bool], ...]


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    entries: dict[str, tuple[tuple[Any, ...], RuleSet]] = field(default_factory=dict)


_CACHE = _Cache()
_WAREHOUSES_JSON = ("SELECT coalesce(jsonb_agg(jsonb_build_array(code, id, enabled) ORDER BY kind <> 'own', id), '[]')"
                    " FROM warehouses")
# One aggregate row that changes whenever anything a compiled rule set depends on changes,
# plus the warehouse list itself (cheap, and always current).
_STAMP = sa.text(
    "SELECT (SELECT count(*) FROM rule_versions), (SELECT max(updated_at) FROM routing_rules),"
    " (SELECT count(*) FILTER (WHERE enabled) FROM routing_rules),"
    " (SELECT count(*) || '/' || coalesce(max(id), 0) FROM warehouses WHERE enabled),"
    " (SELECT count(*) FROM platform_field_defs), (SELECT count(*) || '/' || coalesce(max(id), 0) FROM skus),"
    f" ({_WAREHOUSES_JSON})")


def routing_state(session: Session) -> RoutingState:
    """The enabled rules at their current versions, compiled, and the warehouses — in one query
    when nothing changed.

    Compiling is cheap but not free; the stamp tells whether anything a compiled set depends on
    changed, so a busy hub compiles once per change, not per order.
    """
    key = session.get_bind().engine.url.render_as_string(hide_password=True)  # an Engine, or a Connection (a replay batch)
    *stamp, warehouse_list = session.execute(_STAMP).one()
    known = tuple((code, int(wid), bool(enabled)) for code, wid, enabled in warehouse_list)
    with _CACHE.lock:
        hit = _CACHE.entries.get(key)
    if hit is not None and hit[0] == tuple(stamp):
        return RoutingState(hit[1], known)
    built = RuleSet([v.as_rule() for v in _views(session, enabled_only=True)], load_vocabulary(session))
    with _CACHE.lock:
        _CACHE.entries[key] = (tuple(stamp), built)
    return RoutingState(built, known)


def rule_set(session: Session) -> RuleSet:
    """The enabled rules at their current versions, compiled (cached until something they depend on changes)."""
    return routing_state(session).rules


def warehouses(session: Session) -> tuple[tuple[str, int, bool], ...]:
    """Every warehouse as (code, id, enabled), own warehouse first."""
    return tuple((c, int(i), bool(e)) for c, i, e in session.scalar(sa.text(_WAREHOUSES_JSON)))


def rule_set_with(session: Session, draft_rule: Rule | None, *, drop: str | None = None) -> RuleSet:
    """Today's enabled rules with ``draft_rule`` in place of its namesake (or added), or ``drop`` left out."""
    today = [v.as_rule() for v in _views(session, enabled_only=True)]
    replaced = [r for r in today if r.code not in {drop, draft_rule.code if draft_rule else None}]
    if draft_rule is not None:
        replaced.append(draft_rule)
    return RuleSet(replaced, load_vocabulary(session))


# --- commands ---------------------------------------------------------------------------------

def check_draft(draft: RuleDraft, vocab: Vocabulary) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The draft's canonical condition and actions, or a :class:`RuleInvalid` saying what is wrong."""
    rule = Named("", draft.name or draft.code or "-", draft.name or draft.code or "-")
    if not _CODE.match(draft.code or ""):
        raise RuleInvalid("RULE_BAD_CODE", rule_code=draft.code)
    if not isinstance(draft.priority, int) or isinstance(draft.priority, bool) or not 0 <= draft.priority <= 9999:
        raise RuleInvalid("RULE_BAD_PRIORITY", rule=rule, found=draft.priority)
    return validate_rule(draft.name, draft.condition, draft.actions, vocab)


def save_in(session: Session, draft: RuleDraft, actor: Actor, vocab: Vocabulary | None = None) -> SaveResult:
    """Save ``draft`` inside the caller's transaction (the demo seeder uses this directly).

    A new rule starts at version 1; a changed one gets the next version; saving the same
    content again changes nothing.

    Raises:
        RuleInvalid: the rule is refused as written; nothing is saved.
    """
    vocab = vocab or load_vocabulary(session)
    condition, actions = check_draft(draft, vocab)
    rule = session.execute(sa.select(RoutingRule).where(RoutingRule.code == draft.code).with_for_update()).scalar_one_or_none()
    current = None if rule is None else _views(session, enabled_only=False, code=draft.code)[0]
    content = {"name": draft.name.strip(), "priority": draft.priority, "condition": condition, "actions": actions}
    if current is not None and content == {"name": current.name, "priority": current.priority,
                                           "condition": current.condition, "actions": list(current.actions)}:
        if rule is not None and rule.enabled != draft.enabled:
            _switch(session, rule, draft.enabled, actor, draft.note)
        return SaveResult(_views(session, enabled_only=False, code=draft.code)[0], False)
    now = sa.func.now()
    if rule is None:
        rule = RoutingRule(code=draft.code, name=content["name"], enabled=draft.enabled, version=1,
                           created_by=actor.operator, updated_by=actor.operator)
        session.add(rule)
        session.flush()
    else:
        rule.version += 1
        rule.name = content["name"]
        rule.enabled = draft.enabled
        rule.updated_at = now
        rule.updated_by = actor.operator
    session.add(RuleVersion(rule_id=rule.id, version=rule.version, name=content["name"], priority=draft.priority,
                            condition=condition, actions=actions, author=actor.operator, note=draft.note))
    session.flush()
    before = None if current is None else {"version": current.version, "name": current.name, "priority": current.priority,
                                            "condition": current.condition, "actions": list(current.actions)}
    audit.record(session, actor, "rule.save", "rule", draft.code, basis=draft.note, before=before,
                 after={"version": rule.version, **content, "enabled": draft.enabled})
    return SaveResult(_views(session, enabled_only=False, code=draft.code)[0], True)


def save_rule(uow: UnitOfWork, draft: RuleDraft, actor: Actor) -> SaveResult:
    """Save a rule as a new version (one transaction, audited).

    Raises:
        RuleInvalid: with a message naming the problem in business language; nothing is saved.
    """
    with uow:
        require(uow, actor, "rule.save")
        result = save_in(uow.session, draft, actor)
        uow.commit()
        return result


def _switch(session: Session, rule: RoutingRule, enabled: bool, actor: Actor, basis: str | None) -> None:
    before = rule.enabled
    rule.enabled = enabled
    rule.updated_at = sa.func.now()
    rule.updated_by = actor.operator
    session.flush()
    audit.record(session, actor, "rule.enable" if enabled else "rule.disable", "rule", rule.code, basis=basis,
                 before={"enabled": before, "version": rule.version}, after={"enabled": enabled, "version": rule.version})


def set_enabled(uow: UnitOfWork, code: str, enabled: bool, actor: Actor, basis: str | None = None) -> RuleView:
    """Switch a rule on or off (audited). A disabled rule is never evaluated.

    Raises:
        NotFound: no rule has this code.
    """
    with uow:
        require(uow, actor, "rule.enable")
        session = uow.session
        rule = session.execute(sa.select(RoutingRule).where(RoutingRule.code == code).with_for_update()).scalar_one_or_none()
        if rule is None:
            raise NotFound(what=RULE_NOUN, key=code)
        if rule.enabled != enabled:
            _switch(session, rule, enabled, actor, basis)
        view = _views(session, enabled_only=False, code=code)[0]
        uow.commit()
        return view


def list_rules(uow: UnitOfWork, *, include_disabled: bool = True) -> tuple[list[RuleView], Vocabulary]:
    """Every rule at its current version, in the order they are evaluated, with the vocabulary to read them."""
    with uow:
        return _views(uow.session, enabled_only=not include_disabled), load_vocabulary(uow.session)


def history(uow: UnitOfWork, code: str) -> tuple[list[RuleView], Vocabulary]:
    """Every version of one rule, oldest first.

    Raises:
        NotFound: no rule has this code.
    """
    with uow:
        views = _views(uow.session, enabled_only=False, code=code, all_versions=True)
        if not views:
            raise NotFound(what=RULE_NOUN, key=code)
        return sorted(views, key=lambda v: v.version), load_vocabulary(uow.session)


def versions_by_id(session: Session, ids: Sequence[int]) -> dict[int, tuple[RuleView, int]]:
    """Rule versions by row id (what decisions point at), each with its rule's current version number."""
    if not ids:
        return {}
    rows = session.execute(
        sa.select(RoutingRule.code, RuleVersion.name, RuleVersion.version, RuleVersion.id, RuleVersion.priority,
                  RoutingRule.enabled, RuleVersion.condition, RuleVersion.actions, RuleVersion.author,
                  RuleVersion.created_at, RuleVersion.note, RoutingRule.version)
        .join(RoutingRule, RoutingRule.id == RuleVersion.rule_id).where(RuleVersion.id.in_(list(ids))))
    return {r[3]: (RuleView(r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(r[7]), r[8], r[9], r[10]), r[11])
            for r in rows}
