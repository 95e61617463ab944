"""The audit trail: append-only in the database itself, hash-chained, and checked by `orderhub audit verify`."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import exc

from app.domain.actor import Actor
from app.services import audit

REPO = Path(__file__).resolve().parents[2]
ACTOR = Actor("xiaomei", "客服工作台-01", "10.20.1.17")


def _write(hub, n: int, operator: str = "xiaomei") -> None:
    for i in range(n):
        with hub.uow() as uow:
            audit.record(uow.session, Actor(operator, "客服工作台-01", "10.20.1.17"), "order.cancel", "order",
                         f"OH{i}", basis=f"旺旺聊天记录 #{i}", before={"status": "paid"}, after={"status": "cancelled"})
            uow.commit()


def _verify_cli(hub) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"ORDERHUB_DATABASE_URL": hub.engine.url.render_as_string(hide_password=False)}
    return subprocess.run([sys.executable, "-m", "app", "audit", "verify"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET basis = 'forged' WHERE id = 2",
    "DELETE FROM audit_log WHERE id = 2",
    "TRUNCATE audit_log",
])
def test_the_database_refuses_to_change_or_remove_audit_records_even_with_raw_sql(hub, statement):
    _write(hub, 3)
    with hub.engine.connect() as conn:
        with pytest.raises(exc.DBAPIError, match="append-only"):
            conn.execute(sa.text(statement))
        conn.rollback()
        assert conn.scalar(sa.text("SELECT count(*) FROM audit_log")) == 3


def test_replication_mode_does_not_switch_the_guard_off(hub):
    _write(hub, 1)
    with hub.engine.connect() as conn:
        conn.execute(sa.text("SET session_replication_role = replica"))
        with pytest.raises(exc.DBAPIError, match="append-only"):
            conn.execute(sa.text("DELETE FROM audit_log"))


def test_the_server_stamps_time_and_chain_not_the_client(hub):
    with hub.uow() as uow:
        uow.session.execute(sa.text(
            "INSERT INTO audit_log (id, occurred_at, operator, action, entity_type, entity_id, prev_hash, hash)"
            " VALUES (999, '2000-01-01', 'x', 'order.cancel', 'order', 'OH1', 'fake', 'fake')"))
        uow.commit()
        row = uow.session.execute(sa.text("SELECT id, occurred_at, prev_hash, hash FROM audit_log")).one()
    assert row.id == 1 and row.occurred_at.year >= 2026
    assert row.prev_hash == "0" * 64 and len(row.hash) == 64 and row.hash != "fake"


def test_an_intact_trail_verifies(hub):
    _write(hub, 4)
    done = _verify_cli(hub)
    assert done.returncode == 0, done.stderr
    assert "审计日志完整：共 4 条记录" in done.stdout


def test_tampering_with_one_record_is_detected_and_named(hub):
    _write(hub, 5)
    with hub.engine.begin() as conn:  # a superuser switches the guard off for a moment and edits record 3
        conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"))
        conn.execute(sa.text("UPDATE audit_log SET basis = '没有依据' WHERE id = 3"))
        conn.execute(sa.text("ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_change"))
    done = _verify_cli(hub)
    assert done.returncode == 1
    assert "审计日志第 3 号记录被篡改或缺失" in done.stdout


def test_a_deleted_record_is_detected_at_the_next_one(hub):
    _write(hub, 5)
    with hub.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"))
        conn.execute(sa.text("DELETE FROM audit_log WHERE id = 2"))
        conn.execute(sa.text("ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_change"))
    verdict = audit.verify(hub.uow())
    assert (verdict.broken_id, verdict.reason) == (3, "prev_hash")


def test_concurrent_writers_still_form_one_unbroken_chain(hub):
    threads = [threading.Thread(target=_write, args=(hub, 15, f"op{i}")) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    verdict = audit.verify(hub.uow())
    assert verdict.ok and verdict.checked == 60


def test_a_station_ip_and_unicode_basis_survive_into_the_chain(hub):
    with hub.uow() as uow:
        audit.record(uow.session, Actor("赵姐", "仓库-02", "2001:db8::7"), "order.address_change", "order", "OH1",
                     basis="微信聊天截图 📷 2026-11-25", before={"地址": "旧"}, after={"地址": "新 \"引号\" \\ 反斜杠"})
        uow.commit()
    assert audit.verify(hub.uow()).ok
    [entry] = audit.history(hub.uow(), "order", "OH1")
    assert entry["station_ip"] == "2001:db8::7" and entry["basis"].endswith("2026-11-25")
