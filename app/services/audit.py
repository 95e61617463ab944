"""The audit trail: writing a record inside a command's transaction, and verifying the chain."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db.models import AuditLog
from app.domain.actor import Actor
from app.domain.audit_chain import AuditRecord, ChainVerdict, verify_chain
from app.domain.errors import BasisRequired
from app.services.unit_of_work import UnitOfWork


def jsonable(value: Any) -> Any:
    """Values as JSON keeps them exactly: Decimals and datetimes as strings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def require_basis(actor: Actor | None, basis: str | None, action_label: str) -> str:
    """The basis, stripped; a key change without a person or a basis is refused."""
    if actor is None or not actor.operator.strip() or not (basis or "").strip():
        raise BasisRequired(action=action_label)
    return basis.strip()  # type: ignore[union-attr]


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: str,
    *,
    basis: str | None,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> None:
    """Append one audit record in the caller's transaction; the database stamps time and hash."""
    session.add(
        AuditLog(
            operator=actor.operator,
            station=actor.station,
            station_ip=actor.station_ip,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            basis=basis,
            before=jsonable(before) if before is not None else None,
            after=jsonable(after) if after is not None else None,
        )
    )
    session.flush()


def _records(session: Session, batch: int = 2000) -> Iterator[AuditRecord]:
    query = sa.text(
        "SELECT id, occurred_at, operator, host(station_ip), station, action, entity_type, entity_id, basis,"
        " before::text, after::text, prev_hash, hash FROM audit_log WHERE id > :after ORDER BY id LIMIT :n"
    )
    last = 0
    while True:
        rows = session.execute(query, {"after": last, "n": batch}).all()
        if not rows:
            return
        for row in rows:
            yield AuditRecord(*row)
        last = rows[-1][0]


def verify(uow: UnitOfWork) -> ChainVerdict:
    """Recompute every record's hash and link, in id order; the first broken one is named."""
    with uow:
        return verify_chain(_records(uow.session))


def history(uow: UnitOfWork, entity_type: str, entity_id: str) -> list[dict[str, Any]]:
    """The audit records of one record, oldest first, as plain dicts."""
    with uow:
        rows = uow.session.execute(
            sa.select(AuditLog).where(AuditLog.entity_type == entity_type, AuditLog.entity_id == entity_id).order_by(AuditLog.id)
        ).scalars()
        return [
            {
                "occurred_at": r.occurred_at,
                "operator": r.operator,
                "station": r.station,
                "station_ip": str(r.station_ip) if r.station_ip is not None else None,
                "action": r.action,
                "basis": r.basis,
                "before": r.before,
                "after": r.after,
            }
            for r in rows
        ]
