"""The audit trail's hash chain: the canonical form of a record and how links are checked.

The database computes each record's hash in a trigger when the record is written; this
module recomputes it independently, so `orderhub audit verify` does not trust any SQL
function that a tamperer could also have replaced. Both sides must build exactly the same
canonical text: every field as ``<length>:<text>`` (``-`` for NULL), joined by ``|``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit row as stored, with JSON columns as the database renders them as text."""

    id: int
    occurred_at: datetime
    operator: str
    station_ip: str | None
    station: str | None
    action: str
    entity_type: str
    entity_id: str
    basis: str | None
    before_text: str | None
    after_text: str | None
    prev_hash: str
    hash: str


def _part(value: str | None) -> str:
    return "-" if value is None else f"{len(value)}:{value}"


def timestamp_text(moment: datetime) -> str:
    """UTC, microseconds, the same text the trigger's ``to_char`` gives."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(record: AuditRecord) -> str:
    """The text the hash covers (everything but the hashes themselves, plus the previous hash)."""
    parts = (
        str(record.id),
        timestamp_text(record.occurred_at),
        record.operator,
        record.station_ip,
        record.station,
        record.action,
        record.entity_type,
        record.entity_id,
        record.basis,
        record.before_text,
        record.after_text,
        record.prev_hash,
    )
    return "|".join(_part(p) for p in parts)


def record_hash(record: AuditRecord) -> str:
    """SHA-256 (hex) of the canonical text."""
    return hashlib.sha256(canonical(record).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """The outcome of a chain check: ``broken_id`` is None when every link holds."""

    checked: int
    broken_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify_chain(records: Iterable[AuditRecord]) -> ChainVerdict:
    """Walk records in id order; name the first whose content or link does not hold.

    Ids may have gaps (a rolled-back write consumes one); a deleted record shows up as the
    next record's ``prev_hash`` not matching.
    """
    previous = GENESIS
    checked = 0
    for record in records:
        checked += 1
        if record.prev_hash != previous:
            return ChainVerdict(checked, record.id, "prev_hash")
        if record_hash(record) != record.hash:
            return ChainVerdict(checked, record.id, "hash")
        previous = record.hash
    return ChainVerdict(checked)
