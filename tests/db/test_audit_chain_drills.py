"""Audit chain drills: concurrent writers make one linear chain; anchors catch a superuser's re-hashed rewrite; SM3."""

import hashlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from gmssl import func, sm3

from app.domain import clock
from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.services import audit
from tests.conftest import STAFF_PASSWORD

REPO = Path(__file__).resolve().parents[2]

# GB/T 32905-2016 appendix A: "abc" and "abcd" × 16.
SM3_VECTORS = {
    b"abc": "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
    b"abcd" * 16: "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
}

# What a database superuser does to rewrite history so that `audit verify` alone still passes: switch
# the append-only guard off, change a record, recompute every hash from there on with the trigger's
# own formula, switch the guard back on.
REWRITE_AND_REHASH = [
    "ALTER TABLE audit_log DISABLE TRIGGER USER",
    "UPDATE audit_log SET basis = '事后改写的依据' WHERE id = 3",
    """DO $$
    DECLARE r record; prev text; h text;
    BEGIN
        SELECT hash INTO prev FROM audit_log WHERE id < 3 ORDER BY id DESC LIMIT 1;
        FOR r IN SELECT * FROM audit_log WHERE id >= 3 ORDER BY id LOOP
            h := encode(sha256(convert_to(concat_ws('|', audit_part(r.id::text),
                audit_part(to_char(r.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
                audit_part(r.operator), audit_part(host(r.station_ip)), audit_part(r.station), audit_part(r.action),
                audit_part(r.entity_type), audit_part(r.entity_id), audit_part(r.basis), audit_part(r.before::text),
                audit_part(r.after::text), audit_part(prev)), 'UTF8')), 'hex');
            UPDATE audit_log SET prev_hash = prev, hash = h WHERE id = r.id;
            prev := h;
        END LOOP;
    END $$""",
    "ALTER TABLE audit_log ENABLE TRIGGER USER",
    "ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_chain",
    "ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_change",
    "ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate",
]


def _write(hub, n: int, operator: str = "xiaomei", tag: str = "") -> None:
    actor = Actor(operator, "客服工作台-01", "10.20.1.17")
    for i in range(n):
        with hub.uow() as uow:
            audit.record(uow.session, actor, "order.cancel", "order", f"OH{tag}{i}", basis=f"旺旺聊天记录 #{i}",
                         before={"status": "paid"}, after={"status": "cancelled", "note": f"第{i}次"})
            uow.commit()


def _cli(hub, *args: str, data_dir: Path | None = None, login: str | None = None) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"ORDERHUB_DATABASE_URL": hub.engine.url.render_as_string(hide_password=False)}
    env = {k: v for k, v in env.items() if k not in ("ORDERHUB_USER", "ORDERHUB_PASSWORD")}
    if login:
        env |= {"ORDERHUB_USER": login, "ORDERHUB_PASSWORD": STAFF_PASSWORD}
    if data_dir is not None:
        env["ORDERHUB_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "app", "--lang", "en", "audit", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_eight_concurrent_writers_of_50_records_each_make_one_linear_chain(hub):
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            _write(hub, 50, operator=f"writer{k}", tag=f"W{k}-")
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors
    verdict = audit.verify(hub.uow())
    assert verdict.ok and verdict.checked == 400
    with hub.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, prev_hash, hash FROM audit_log ORDER BY id")).all()
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]  # each links to the one before it
    assert len({r.prev_hash for r in rows}) == 400  # no two records share a predecessor: no fork
    assert [r.id for r in rows] == sorted(r.id for r in rows)


def test_a_superuser_rewrite_that_rehashes_the_whole_chain_passes_a_plain_verify_but_not_the_anchor(hub, tmp_path):
    _write(hub, 6)
    anchor_file = tmp_path / "anchor-day1.json"
    taken = _cli(hub, "anchor", "--out", str(anchor_file))
    assert taken.returncode == 0 and "record 6" in taken.stdout and anchor_file.exists()
    _write(hub, 4, tag="day2-")
    assert _cli(hub, "verify", "--anchor", str(anchor_file)).returncode == 0  # new records after the anchor are fine

    with hub.engine.begin() as conn:  # the embedded server's user is a superuser: exactly the threat
        for statement in REWRITE_AND_REHASH:
            conn.exec_driver_sql(statement)
        assert conn.scalar(sa.text("SELECT basis FROM audit_log WHERE id = 3")) == "事后改写的依据"

    plain = _cli(hub, "verify")
    assert plain.returncode == 0, plain.stdout + plain.stderr  # the rewrite is consistent in itself...
    anchored = _cli(hub, "verify", "--anchor", str(anchor_file))
    assert anchored.returncode == 1  # ...but not with the head kept outside the database
    assert "Audit record 6" in anchored.stdout and "anchor kept outside the database" in anchored.stdout


def test_an_anchor_file_that_is_not_an_anchor_is_refused_with_a_message(hub, tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": 1}', encoding="utf-8")
    answer = _cli(hub, "verify", "--anchor", str(bad))
    assert answer.returncode == 2 and "cannot be read" in answer.stderr


@pytest.mark.parametrize("message", sorted(SM3_VECTORS))
def test_the_database_sm3_gives_the_standards_test_vectors(hub, message):
    with hub.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT audit_sm3(:m)"), {"m": message}) == SM3_VECTORS[message]


@pytest.mark.parametrize("size", [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 4096])
def test_the_database_sm3_agrees_with_openssl_and_gmssl_at_every_padding_boundary(hub, size):
    message = bytes((i * 37 + 11) % 256 for i in range(size))
    with hub.engine.connect() as conn:
        ours = conn.scalar(sa.text("SELECT audit_sm3(:m)"), {"m": message})
    assert ours == sm3.sm3_hash(func.bytes_to_list(message)) == audit.hasher("sm3", message)
    if "sm3" in hashlib.algorithms_available:
        assert ours == hashlib.new("sm3", message).hexdigest()


def test_switching_to_sm3_hashes_new_records_with_sm3_and_the_mixed_chain_verifies(hub):
    _write(hub, 3)
    liu = Actor("liu.gong", "管理工作台", "10.20.1.2")
    assert audit.set_hash_algorithm(hub.uow(), "sm3", liu) == "sha256"
    _write(hub, 3, tag="sm3-")
    with hub.engine.connect() as conn:
        algs = conn.execute(sa.text("SELECT hash_alg FROM audit_log ORDER BY id")).scalars().all()
    assert algs == ["sha256"] * 3 + ["sm3"] * 4  # the switch itself is recorded, already under SM3
    verdict = audit.verify(hub.uow())
    assert verdict.ok and verdict.checked == 7


def test_an_sm3_record_changed_behind_the_guard_is_caught(hub):
    audit.set_hash_algorithm(hub.uow(), "sm3", Actor("liu.gong", "管理工作台"))
    _write(hub, 3, tag="sm3-")
    with hub.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"))
        conn.execute(sa.text("UPDATE audit_log SET basis = 'forged' WHERE id = 3"))
        conn.execute(sa.text("ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_change"))
    verdict = audit.verify(hub.uow())
    assert verdict.broken_id == 3 and verdict.reason == "hash"


@pytest.mark.parametrize("login, allowed", [("liu.gong", True), ("xiaomei", False), ("wang.zz", False),
                                            ("zhou.zj", False), ("li.sf", False)])
def test_only_an_administrator_may_change_the_audit_hash_algorithm(hub, login, allowed):
    actor = Actor(login, "管理工作台")
    if allowed:
        assert audit.set_hash_algorithm(hub.uow(), "sm3", actor) == "sha256"
    else:
        with pytest.raises(BusinessError):
            audit.set_hash_algorithm(hub.uow(), "sm3", actor)
        with hub.engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT hash_alg FROM audit_settings")) == "sha256"


def test_the_cli_switches_the_algorithm_for_a_signed_in_administrator_and_refuses_a_picker(hub, tmp_path):
    refused = _cli(hub, "hash", "sm3", data_dir=tmp_path, login="li.sf")
    assert refused.returncode == 2 and refused.stderr.strip()
    done = _cli(hub, "hash", "sm3", data_dir=tmp_path, login="liu.gong")
    assert done.returncode == 0 and "sm3" in done.stdout, done.stderr
    with hub.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT hash_alg FROM audit_settings")) == "sm3"


def test_the_hub_writes_one_anchor_a_day_and_it_verifies(hub, tmp_path):
    from datetime import UTC, datetime, timedelta

    from app.hub.audit_anchor import anchor_if_due

    _write(hub, 2)
    day = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0)  # 10:00 China time
    with clock.set_to(day):
        first = anchor_if_due(hub, tmp_path)
        _write(hub, 1, tag="later-")
        assert anchor_if_due(hub, tmp_path) is None  # one a day
    with clock.set_to(day + timedelta(days=1)):
        second = anchor_if_due(hub, tmp_path)
    assert first is not None and second is not None and first != second
    kept = [audit.Anchor.from_json(p.read_text(encoding="utf-8")) for p in (first, second)]
    assert [a.records for a in kept] == [2, 3]
    assert audit.verify(hub.uow(), anchors=tuple(kept)).ok
