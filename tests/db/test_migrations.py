"""Migrations: from an empty database to the newest schema, matching the models exactly."""

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.db import migrate
from app.db.models import Base

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, env=os.environ | env,
                          capture_output=True, text=True, timeout=120)


def test_an_empty_database_migrates_to_a_schema_equal_to_the_models(pg_admin_url):
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS mig_empty WITH (FORCE)"))
        conn.execute(sa.text("CREATE DATABASE mig_empty"))
    engine = sa.create_engine(pg_admin_url.set(database="mig_empty"))
    try:
        assert migrate.current_revision(engine) is None
        assert migrate.upgrade(engine) == migrate.head_revision()
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        # down to nothing and up again: the downgrade path works too
        command.downgrade(migrate.alembic_config(engine), "base")
        with engine.connect() as conn:
            assert "orders" not in sa.inspect(conn).get_table_names()
        assert migrate.upgrade(engine) == migrate.head_revision()
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text("DROP DATABASE mig_empty WITH (FORCE)"))
        admin.dispose()


def test_upgrading_an_up_to_date_database_changes_nothing(hub):
    before = migrate.current_revision(hub.engine)
    assert migrate.upgrade(hub.engine) == before


def test_db_upgrade_starts_the_embedded_database_in_an_empty_data_folder(tmp_path):
    env = {"ORDERHUB_DATA_DIR": str(tmp_path / "data"), "ORDERHUB_DATABASE_URL": ""}
    done = _cli("db", "upgrade", env=env)
    assert done.returncode == 0, done.stderr
    assert f"数据库结构已是最新版本 {migrate.head_revision()}" in done.stdout
    assert (tmp_path / "data" / "pgdata" / "PG_VERSION").is_file()
    again = _cli("db", "upgrade", env=env)  # the next start reuses the same data
    assert again.returncode == 0, again.stderr
    url = _cli("db", "url", env=env)
    assert "内置数据库" in url.stdout and str(tmp_path / "data" / "pgdata") in url.stdout


def test_db_url_shows_a_shared_server_with_its_password_hidden(tmp_path):
    env = {"ORDERHUB_DATA_DIR": str(tmp_path), "ORDERHUB_DATABASE_URL": "postgresql://hub:s3cret@db.example:5432/orders"}
    done = _cli("db", "url", env=env)
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stdout
    assert "postgresql+psycopg://hub:***@db.example:5432/orders" in done.stdout
    assert "共享数据库" in done.stdout


def test_the_config_file_can_point_at_a_shared_server(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[orderhub]\ndatabase_url = "postgresql://ops@10.1.1.5/orderhub"\n', encoding="utf-8")
    done = _cli("--lang", "en", "db", "url", env={"ORDERHUB_CONFIG": str(config), "ORDERHUB_DATABASE_URL": ""})
    assert "postgresql+psycopg://ops@10.1.1.5/orderhub  (shared database)" in done.stdout
