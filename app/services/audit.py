"""The audit trail: writing a record inside a command's transaction, and verifying the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db.models import AuditLog, AuditSettings
from app.domain.actor import Actor
from app.domain.audit_chain import HASH_ALGORITHMS, AuditRecord, ChainVerdict, verify_chain
from app.domain.errors import BasisRequired, BusinessError
from app.services import permissions
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
        " before::text, after::text, prev_hash, hash, hash_alg FROM audit_log WHERE id > :after ORDER BY id LIMIT :n"
    )
    last = 0
    while True:
        rows = session.execute(query, {"after": last, "n": batch}).all()
        if not rows:
            return
        for row in rows:
            yield AuditRecord(*row)
        last = rows[-1][0]


def hasher(algorithm: str, data: bytes) -> str:
    """SHA-256 or SM3, hex: OpenSSL's through hashlib, or gmssl's SM3 where this OpenSSL was built without it."""
    if algorithm not in HASH_ALGORITHMS:
        raise ValueError(f"unknown audit hash algorithm {algorithm!r}")
    if algorithm in hashlib.algorithms_available:
        return hashlib.new(algorithm, data).hexdigest()
    from gmssl import func, sm3

    return sm3.sm3_hash(func.bytes_to_list(data))


@dataclass(frozen=True, slots=True)
class Anchor:
    """The chain's head at one moment, kept outside the database (a file the supervisor keeps, the ERP).

    A database superuser can rewrite records and recompute every hash after them so the chain
    verifies again; the anchored record's hash then no longer matches the copy kept outside.
    """

    record_id: int
    hash: str
    hash_alg: str
    occurred_at: str
    records: int
    taken_at: str

    def to_json(self) -> str:
        return json.dumps({"kind": "orderhub.audit.anchor", **asdict(self)}, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Anchor:
        data = json.loads(text)
        if data.get("kind") != "orderhub.audit.anchor":
            raise ValueError("not an audit anchor")
        return cls(**{k: data[k] for k in ("record_id", "hash", "hash_alg", "occurred_at", "records", "taken_at")})


def anchor(uow: UnitOfWork, *, taken_at: datetime) -> Anchor | None:
    """The newest record's id and hash (None for an empty trail)."""
    with uow:
        row = uow.session.execute(sa.text(
            "SELECT id, hash, hash_alg, occurred_at, (SELECT count(*) FROM audit_log) FROM audit_log"
            " ORDER BY id DESC LIMIT 1")).first()
    if row is None:
        return None
    return Anchor(row[0], row[1], row[2], row[3].isoformat(), row[4], taken_at.isoformat())


def verify(uow: UnitOfWork, *, anchors: tuple[Anchor, ...] = ()) -> ChainVerdict:
    """Recompute every record's hash and link, in id order; the first broken one is named.

    With anchors, each anchored record must still carry the hash kept outside: a chain rewritten
    and re-hashed from some record on is consistent in itself but not with the anchor.
    """
    wanted = {a.record_id: a for a in anchors}
    seen: dict[int, str] = {}

    def watched(records: Iterator[AuditRecord]) -> Iterator[AuditRecord]:
        for record in records:
            if record.id in wanted:
                seen[record.id] = record.hash
            yield record

    with uow:
        verdict = verify_chain(watched(_records(uow.session)), hasher)
    if not verdict.ok:
        return verdict
    for record_id, kept in sorted(wanted.items()):
        if seen.get(record_id) != kept.hash:
            return ChainVerdict(verdict.checked, record_id, "anchor")
    return verdict


def set_hash_algorithm(uow: UnitOfWork, algorithm: str, actor: Actor) -> str:
    """Records written from now on are hashed with ``algorithm``; older ones keep theirs (each names its own)."""
    if algorithm not in HASH_ALGORITHMS:
        raise BusinessError("AUDIT_UNKNOWN_HASH", algorithm=algorithm)
    with uow:
        permissions.require(uow, actor, "permissions.edit")
        row = uow.session.get(AuditSettings, 1, with_for_update=True)
        before = row.hash_alg
        row.hash_alg, row.changed_at = algorithm, sa.func.now()
        uow.session.flush()  # the switch's own record is already hashed with the new algorithm
        record(uow.session, actor, "audit.hash_alg", "audit_settings", "1", basis=None,
               before={"hash_alg": before}, after={"hash_alg": algorithm})
        uow.commit()
    return before


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
