"""The change feed: one database-wide sequence bumped by every change, announced by NOTIFY."""

import psycopg
import sqlalchemy as sa

from app.services import orders
from tests.db.test_order_commands import CS
from tests.support.factories import make_order


def _listener(hub) -> psycopg.Connection:
    url = hub.engine.url
    conn = psycopg.connect(host=url.query.get("host") or url.host, dbname=url.database, user=url.username,
                           port=url.port, autocommit=True)
    conn.execute("LISTEN order_changes")
    return conn


def test_every_insert_and_update_takes_a_higher_change_sequence(hub):
    a, va = make_order(hub, "paid")
    b, _ = make_order(hub, "paid")
    first = orders.change_status(hub.uow(), a, "allocating", expected_version=va, actor=CS)
    with hub.uow() as uow:
        seqs = dict(uow.session.execute(sa.text("SELECT order_no, change_seq FROM orders")).all())
    assert seqs[a] == first.change_seq > seqs[b]


def test_a_raw_sql_update_still_bumps_version_and_sequence(hub):
    a, _ = make_order(hub, "paid")
    with hub.engine.begin() as conn:
        before = conn.execute(sa.text("SELECT version, change_seq FROM orders WHERE order_no = :a"), {"a": a}).one()
        conn.execute(sa.text("UPDATE orders SET seller_note = '加急' WHERE order_no = :a"), {"a": a})
        after = conn.execute(sa.text("SELECT version, change_seq FROM orders WHERE order_no = :a"), {"a": a}).one()
    assert after.version == before.version + 1 and after.change_seq > before.change_seq


def test_a_change_is_announced_to_listeners_after_commit(hub):
    listener = _listener(hub)
    try:
        a, va = make_order(hub, "paid")
        view = orders.change_status(hub.uow(), a, "allocating", expected_version=va, actor=CS)
        got = []
        for note in listener.notifies(timeout=2.0, stop_after=2):
            got.append(note.payload)
        assert any(f'"max_seq" : {view.change_seq}' in p for p in got), got
    finally:
        listener.close()


def test_a_bulk_update_sends_one_notice_not_one_per_row(hub):
    for _ in range(5):
        make_order(hub, "paid")
    listener = _listener(hub)
    try:
        with hub.engine.begin() as conn:
            conn.execute(sa.text("UPDATE orders SET seller_note = '双11加急'"))
        notes = list(listener.notifies(timeout=1.0))
        assert len(notes) == 1 and '"count" : 5' in notes[0].payload
    finally:
        listener.close()


def test_a_rolled_back_change_is_never_announced(hub):
    a, _ = make_order(hub, "paid")
    listener = _listener(hub)
    try:
        with hub.engine.connect() as conn:
            conn.execute(sa.text("UPDATE orders SET seller_note = 'x' WHERE order_no = :a"), {"a": a})
            conn.rollback()
        assert list(listener.notifies(timeout=0.5)) == []
    finally:
        listener.close()
