"""After-sales flows as versioned data: save a definition (checked, audited), read any version back.

Saving an unchanged definition keeps the version; a changed one becomes the next version and the
flow points at it. Versions are append-only in the database, and a case records the version it
started with, so an admin's change never rewrites the rules of a case already in progress.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db.after_sales_models import AfterSalesFlow, AfterSalesFlowVersion
from app.domain.actor import Actor
from app.domain.after_sales_flow import ACTIONS, GUARDS, Flow, FlowInvalid, parse_flow
from app.domain.flow_check import FlowProblem, flow_problems
from app.domain.errors import BusinessError
from app.domain.fields import CODE_LISTS
from app.domain.messages import Coded
from app.services import audit
from app.services.unit_of_work import UnitOfWork
from app.services.permissions import require

KNOWN_STATES = tuple(CODE_LISTS["after_sales_state"])


class NoFlow(BusinessError):
    """There is no flow for that after-sales kind (or not that version)."""

    code = "AS_NO_FLOW"


@dataclass(frozen=True, slots=True)
class SavedFlow:
    code: str
    version: int
    changed: bool


def check(definition: Mapping[str, Any]) -> Flow:
    """The definition parsed and checked; its code must be an after-sales kind.

    Raises:
        FlowInvalid: what is wrong, in business language.
    """
    flow = parse_flow(definition, known_states=KNOWN_STATES, strict=True)
    if flow.code not in CODE_LISTS["after_sales_kind"]:
        raise FlowInvalid(flow=flow.code, problem=Coded("as_flow_problem", "kind"), found=flow.code)
    return flow


def problems(definition: Mapping[str, Any]) -> list[FlowProblem]:
    """Every problem :func:`check` would refuse the definition for (the first is the one it reports),
    each with where it sits, so an editor can show each next to its field."""
    found = flow_problems(definition, known_states=KNOWN_STATES, guards=GUARDS, actions=ACTIONS, strict=True)
    code = str(definition.get("code", "")).strip()
    if code and code not in CODE_LISTS["after_sales_kind"]:
        found.append(FlowProblem(("code",), "kind", code))
    return found


def save(uow: UnitOfWork, definition: Mapping[str, Any], actor: Actor, *, note: str | None = None) -> SavedFlow:
    """Save a flow definition as its next version (or keep the version if nothing changed).

    Raises:
        FlowInvalid: nothing was saved.
    """
    flow = check(definition)
    plain = json.loads(json.dumps(definition, ensure_ascii=False))
    with uow:
        require(uow, actor, "after_sales.flow_save")
        s = uow.session
        head = s.get(AfterSalesFlow, flow.code, with_for_update=True)
        if head is not None:
            current = s.scalar(sa.select(AfterSalesFlowVersion.definition).where(
                AfterSalesFlowVersion.flow_code == flow.code, AfterSalesFlowVersion.version == head.version))
            if current == plain:
                return SavedFlow(flow.code, head.version, False)
            version = head.version + 1
            head.version, head.name, head.updated_by = version, flow.name, actor.operator
            head.updated_at = sa.func.now()
        else:
            version = 1
            s.add(AfterSalesFlow(code=flow.code, name=flow.name, version=1, updated_by=actor.operator))
            s.flush()
        s.add(AfterSalesFlowVersion(flow_code=flow.code, version=version, definition=plain, author=actor.operator,
                                    note=note))
        audit.record(s, actor, "after_sales.flow_save", "after_sales_flow", flow.code, basis=note,
                     before={"version": version - 1} if version > 1 else None, after={"version": version})
        uow.commit()
    return SavedFlow(flow.code, version, True)


def load(session: Session, code: str, version: int | None = None) -> Flow:
    """One version of a flow (the current one by default), parsed.

    Raises:
        NoFlow: no such flow or version.
    """
    if version is None:
        version = session.scalar(sa.select(AfterSalesFlow.version).where(AfterSalesFlow.code == code))
    definition = None if version is None else session.scalar(sa.select(AfterSalesFlowVersion.definition).where(
        AfterSalesFlowVersion.flow_code == code, AfterSalesFlowVersion.version == version))
    if definition is None:
        raise NoFlow(kind=Coded("after_sales_kind", code) if code in CODE_LISTS["after_sales_kind"] else code)
    return parse_flow(definition, known_states=KNOWN_STATES, version=version)


def definition(uow: UnitOfWork, code: str, version: int | None = None) -> dict[str, Any]:
    """The JSON definition as saved (for the editor and `orderhub flow show`)."""
    with uow:
        flow = load(uow.session, code, version)
        return dict(uow.session.scalar(sa.select(AfterSalesFlowVersion.definition).where(
            AfterSalesFlowVersion.flow_code == code, AfterSalesFlowVersion.version == flow.version)))


def listing(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every flow with its current version, who saved it and when, and how many versions exist."""
    with uow:
        rows = uow.session.execute(sa.text(
            "SELECT f.code, f.name, f.version, f.updated_by, f.updated_at, count(v.id) AS versions "
            "FROM after_sales_flows f JOIN after_sales_flow_versions v ON v.flow_code = f.code "
            "GROUP BY f.code ORDER BY f.code")).mappings()
        return [dict(r) for r in rows]
