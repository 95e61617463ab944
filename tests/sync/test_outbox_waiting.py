"""The status bar's count, read every sync round, follows the commands still waiting, not the whole outbox."""

from app.sync.local_db import LocalDb
from app.sync.outbox import Outbox
from tests.sync.test_outbox import _note


def test_waiting_counts_pending_and_rejected_from_the_state_index_and_agrees_with_the_full_count(tmp_path):
    db = LocalDb(tmp_path / "station.sqlite3")
    outbox = Outbox(db)
    entries = [outbox.add(_note(f"OH{n}", 1, f"备注{n}")) for n in range(40)]
    for entry in entries[:30]:
        outbox.finish(entry.command.id, "accepted", {"order_no": entry.order_no, "version": 2})
    for entry in entries[30:33]:
        outbox.finish(entry.command.id, "rejected", {"code": "VERSION_CONFLICT", "params": {}})
    outbox.acknowledge(entries[30].command.id)
    assert outbox.waiting() == (7, 2)
    counts = outbox.counts()
    assert (counts["pending"], counts["rejected"]) == outbox.waiting()
    # two ranges of the (state, seq) index: the accepted commands a day leaves behind are not read
    plan = " ".join(str(r[-1]) for r in db.connect().execute(
        "EXPLAIN QUERY PLAN SELECT (SELECT count(*) FROM outbox WHERE state = 'pending'), "
        "(SELECT count(*) FROM outbox WHERE state = 'rejected')"))
    assert plan.count("USING COVERING INDEX ix_outbox_state (state=?)") == 2, plan
