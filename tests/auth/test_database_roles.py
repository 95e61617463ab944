"""Database roles on a real server: a station cannot alter the audit trail or read password hashes; TLS settings pass through."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from app.db import roles
from app.db.engine import resolve
from app.services import audit, auth
from app.settings import Settings, load_settings
from tests.auth.conftest import actor_of
from tests.conftest import STAFF_PASSWORD


@pytest.fixture
def as_role(hub, database_url):
    roles.apply(hub.engine, {"orderhub_station": "station-pw"})
    engines = []

    def connect(role: str) -> sa.Engine:
        engine = sa.create_engine(database_url.set(username=role, password=None), poolclass=sa.pool.NullPool)
        engines.append(engine)
        return engine
    yield connect
    for engine in engines:
        engine.dispose()


def test_the_station_role_may_append_to_the_audit_trail_but_never_change_or_delete_it(hub, as_role):
    with hub.uow() as uow:
        audit.record(uow.session, actor_of("cs"), "order.cancel", "order", "OH1", basis="工单", before=None, after=None)
        uow.commit()
    station = as_role(roles.STATION)
    with station.begin() as conn:
        assert conn.scalar(sa.text("SELECT current_user")) == "orderhub_station"
        assert conn.scalar(sa.text("SELECT count(*) FROM audit_log")) == 1
    for statement in ("DELETE FROM audit_log", "UPDATE audit_log SET basis = 'forged'", "TRUNCATE audit_log"):
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), station.begin() as conn:
            conn.execute(sa.text(statement))
    with hub.uow() as uow:
        assert uow.session.scalar(sa.text("SELECT basis FROM audit_log")) == "工单"


def test_the_station_role_cannot_read_password_hashes_yet_signs_people_in(hub, as_role, database_url, tmp_path):
    station = as_role(roles.STATION)
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), station.begin() as conn:
        conn.execute(sa.text("SELECT password_hash FROM users"))
    with station.begin() as conn:
        assert "xiaomei" in list(conn.scalars(sa.text("SELECT login FROM users")))
    from app.bootstrap import bootstrap

    as_station = bootstrap(Settings(database_url=database_url.set(username=roles.STATION).render_as_string(False),
                                    data_dir=tmp_path), upgrade=False)
    try:
        who = auth.sign_in(as_station.uow(), "xiaomei", STAFF_PASSWORD, station="客服工作台-01")
        assert who.role == "cs"
        from app.services import orders

        with pytest.raises(Exception) as caught:  # the station's work goes on as before, permission checks too
            orders.cancel(as_station.uow(), "OH-NONE", expected_version=1, actor=actor_of("cs"), basis="x")
        assert getattr(caught.value, "code", None) == "NOT_FOUND"
    finally:
        as_station.close()


def test_the_hub_role_writes_orders_but_not_the_audit_trail_history(hub, as_role):
    hub_role = as_role(roles.HUB)
    with hub_role.begin() as conn:
        conn.execute(sa.text("UPDATE users SET failed_attempts = 0 WHERE login = 'xiaomei'"))
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), hub_role.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log"))


def test_creating_the_roles_twice_is_harmless(hub):
    assert roles.apply(hub.engine) == list(roles.ROLES)
    assert roles.apply(hub.engine) == list(roles.ROLES)


def test_tls_settings_reach_the_driver_as_verify_full_with_the_root_certificate(tmp_path: Path):
    cert = tmp_path / "root.crt"
    settings = load_settings(env={"ORDERHUB_DATABASE_URL": "postgresql://orderhub_station@db.example.cn/orderhub",
                                  "ORDERHUB_DATABASE_SSLMODE": "verify-full",
                                  "ORDERHUB_DATABASE_SSLROOTCERT": str(cert)}, config_file=tmp_path / "none.toml")
    url = resolve(settings).url
    assert url.query == {"sslmode": "verify-full", "sslrootcert": str(cert)}
    assert url.drivername == "postgresql+psycopg"


def test_orderhub_db_roles_creates_them_from_the_command_line(hub, tmp_path, monkeypatch, capsys):
    from app.cli import main

    monkeypatch.setenv("ORDERHUB_DATABASE_URL", hub.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ORDERHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ORDERHUB_DB_STATION_PASSWORD", "s3cret-station")
    assert main(["db", "roles", "--password-from-env"]) == 0
    out = capsys.readouterr().out
    assert "已创建/更新数据库角色：orderhub_migrator、orderhub_hub、orderhub_station" in out
    assert "s3cret-station" not in out
    with hub.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'orderhub_station'"))
