"""The hash chain: any edited, removed or reordered record is named."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from app.domain.audit_chain import GENESIS, AuditRecord, record_hash, verify_chain


def _chain(n: int) -> list[AuditRecord]:
    records, prev = [], GENESIS
    for i in range(1, n + 1):
        draft = AuditRecord(i, datetime(2026, 11, 25, tzinfo=UTC) + timedelta(seconds=i), "xiaomei", "10.0.0.7",
                            "客服-01", "order.cancel", "order", f"OH{i}", "工单 #1", '{"status": "paid"}',
                            '{"status": "cancelled"}', prev, "")
        record = replace(draft, hash=record_hash(draft))
        records.append(record)
        prev = record.hash
    return records


def test_an_untouched_chain_verifies():
    verdict = verify_chain(_chain(5))
    assert verdict.ok and verdict.checked == 5


def test_an_edited_basis_is_named_by_its_record():
    records = _chain(5)
    records[2] = replace(records[2], basis="没有依据")
    verdict = verify_chain(records)
    assert (verdict.broken_id, verdict.reason) == (3, "hash")


def test_a_deleted_record_breaks_the_next_link():
    records = _chain(5)
    del records[1]
    verdict = verify_chain(records)
    assert (verdict.broken_id, verdict.reason) == (3, "prev_hash")


def test_a_rehashed_edit_still_breaks_the_following_link():
    records = _chain(5)
    forged = replace(records[1], operator="someone else")
    records[1] = replace(forged, hash=record_hash(forged))
    assert verify_chain(records).broken_id == 3


def test_null_and_empty_text_hash_differently():
    a = _chain(1)[0]
    assert record_hash(replace(a, basis=None)) != record_hash(replace(a, basis=""))
