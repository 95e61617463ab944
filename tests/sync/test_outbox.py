"""The station outbox file: durable before "saved", in order, chained per order, refusals kept until seen."""

import threading

from app.sync.commands import Command
from app.sync.local_db import LocalDb
from app.sync.outbox import Outbox
from tests.sync.test_commands import CS


def _note(order_no, version, text):
    return Command.made_by(CS, "order.add_warehouse_note", {"order_no": order_no, "expected_version": version,
                                                            "text": text})


def test_commands_are_written_with_a_full_fsync_in_a_write_ahead_log(tmp_path):
    db = LocalDb(tmp_path / "station.sqlite3")
    Outbox(db).add(_note("OH1", 3, "一"))
    conn = db.connect()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_a_second_command_on_an_order_follows_the_first_and_after_a_refused_one_expects_what_that_one_expected(tmp_path):
    outbox = Outbox(LocalDb(tmp_path / "station.sqlite3"))
    first = outbox.add(_note("OH1", 3, "一"))
    second = outbox.add(_note("OH1", 3, "二"))
    other = outbox.add(_note("OH2", 7, "三"))
    assert [e.command.id for e in outbox.pending()] == [first.command.id, second.command.id, other.command.id]
    assert second.after_id == str(first.command.id) and other.after_id is None
    outbox.finish(first.command.id, "accepted", {"order_no": "OH1", "version": 4})
    assert outbox.resolved_args(outbox.entry(second.command.id))["expected_version"] == 4
    third = outbox.add(_note("OH1", 3, "四"))
    outbox.finish(second.command.id, "rejected", {"code": "VERSION_CONFLICT", "params": {}})
    # the refused second changed nothing: the order is still where the second expected it, after the first (4);
    # the maker's own 3 would refuse the third too, and every later one on the order (issue #19, poison drill)
    assert outbox.resolved_args(outbox.entry(third.command.id))["expected_version"] == 4
    assert [e.command.id for e in outbox.rejected()] == [second.command.id]
    outbox.acknowledge(second.command.id)
    assert outbox.rejected() == [] and outbox.counts() == {"accepted": 1, "acknowledged": 1, "pending": 2}


def test_two_threads_adding_at_once_lose_nothing(tmp_path):
    db = LocalDb(tmp_path / "station.sqlite3")
    outbox = Outbox(db)
    made = [[], []]

    def add(k):
        for n in range(100):
            made[k].append(outbox.add(_note(f"OH{k}", 1, str(n))).command.id)

    threads = [threading.Thread(target=add, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kept = [e.command.id for e in outbox.all()]
    assert sorted(map(str, kept)) == sorted(map(str, made[0] + made[1]))
    assert [i for i in kept if i in set(made[0])] == made[0]  # each maker's order kept
