"""The audit trail's hash chain: the canonical form of a record and how links are checked.

The database computes each record's hash in a trigger when the record is written; this
module recomputes it independently, so `orderhub audit verify` does not trust any SQL
function that a tamperer could also have replaced. Both sides must build exactly the same
canonical text: every field as ``<length>:<text>`` (``-`` for NULL), joined by ``|``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
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
    hash_alg: str = "sha256"


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


Hasher = Callable[[str, bytes], str]  # (algorithm, data) -> hex digest


def openssl_hasher(algorithm: str, data: bytes) -> str:
    """SHA-256 or SM3 through hashlib (OpenSSL 1.1.1+ has sm3 unless the build left it out)."""
    if algorithm not in HASH_ALGORITHMS:
        raise ValueError(f"unknown audit hash algorithm {algorithm!r}")
    return hashlib.new(algorithm, data).hexdigest()


HASH_ALGORITHMS = ("sha256", "sm3")


def record_hash(record: AuditRecord, hasher: Hasher = openssl_hasher) -> str:
    """The canonical text's digest (hex) with the algorithm the record names."""
    return hasher(record.hash_alg, canonical(record).encode("utf-8"))


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """The outcome of a chain check: ``broken_id`` is None when every link holds."""

    checked: int
    broken_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify_chain(records: Iterable[AuditRecord], hasher: Hasher = openssl_hasher) -> ChainVerdict:
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
        if record_hash(record, hasher) != record.hash:
            return ChainVerdict(checked, record.id, "hash")
        previous = record.hash
    return ChainVerdict(checked)
