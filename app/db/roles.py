"""PostgreSQL roles for a shared server: stations that cannot touch audit records or read secrets.

``orderhub db roles`` runs this as the server's administrator (or the database owner). Three roles:

- ``orderhub_migrator`` owns the schema changes (``orderhub db upgrade`` connects as it);
- ``orderhub_hub`` reads and writes orders, outbox and the rest, appends to the audit trail;
- ``orderhub_station`` the same, except: the audit trail only SELECT and INSERT (no UPDATE, DELETE,
  TRUNCATE — on top of the triggers that refuse them for everyone), no column of ``users`` that holds
  a password hash (sign-in reads one login's hash through ``orderhub_password_hash``, a SECURITY
  DEFINER function), and no table whose name says it holds secrets.

Re-running is safe: roles are created when missing, grants re-applied. Tables a later migration
adds are covered by ``ALTER DEFAULT PRIVILEGES`` for the migrator.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from sqlalchemy.engine import Engine

MIGRATOR, HUB, STATION = "orderhub_migrator", "orderhub_hub", "orderhub_station"
ROLES = (MIGRATOR, HUB, STATION)
SECRET_COLUMNS = {"users": ("password_hash",)}


def passwords_from_env() -> dict[str, str]:
    """``ORDERHUB_DB_MIGRATOR_PASSWORD`` … for the roles that should log in with a password."""
    out = {}
    for role in ROLES:
        value = os.environ.get(f"ORDERHUB_DB_{role.removeprefix('orderhub_').upper()}_PASSWORD")
        if value:
            out[role] = value
    return out


def _quote(conn: sa.Connection, text: str) -> str:
    return conn.scalar(sa.text("SELECT quote_literal(:t)"), {"t": text})


def apply(engine: Engine, passwords: dict[str, str] | None = None) -> list[str]:
    """Create (or bring up to date) the three roles and their grants on ``engine``'s database."""
    passwords = passwords or {}
    with engine.begin() as conn:
        database = conn.scalar(sa.text("SELECT current_database()"))
        for role in ROLES:
            if not conn.scalar(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}):
                conn.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
            if role in passwords:
                conn.execute(sa.text(f"ALTER ROLE {role} PASSWORD {_quote(conn, passwords[role])}"))
            conn.execute(sa.text(f'GRANT CONNECT ON DATABASE "{database}" TO {role}'))
            conn.execute(sa.text(f"GRANT USAGE ON SCHEMA public TO {role}"))
        conn.execute(sa.text(f"GRANT CREATE ON SCHEMA public TO {MIGRATOR}"))
        conn.execute(sa.text(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {MIGRATOR}"))
        conn.execute(sa.text(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {MIGRATOR}"))
        tables = list(conn.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))
        for role in (HUB, STATION):
            conn.execute(sa.text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"))
            conn.execute(sa.text(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}"))
            for table in tables:
                if role == STATION and "secret" in table:
                    continue
                if table == "audit_log":
                    conn.execute(sa.text(f"GRANT SELECT, INSERT ON audit_log TO {role}"))
                elif role == STATION and table in SECRET_COLUMNS:
                    hidden = SECRET_COLUMNS[table]
                    columns = [c for c in conn.scalars(sa.text(
                        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
                        "AND table_name = :t ORDER BY ordinal_position"), {"t": table}) if c not in hidden]
                    conn.execute(sa.text(f"GRANT SELECT ({', '.join(columns)}) ON {table} TO {role}"))
                    conn.execute(sa.text(f"GRANT INSERT, UPDATE ON {table} TO {role}"))
                else:
                    conn.execute(sa.text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}"))
        conn.execute(sa.text(f"GRANT EXECUTE ON FUNCTION orderhub_password_hash(text) TO {HUB}, {STATION}"))
        # what the migrator creates later reaches the hub (all) and the station (audit-safe, via re-running this)
        conn.execute(sa.text(f"ALTER DEFAULT PRIVILEGES FOR ROLE {MIGRATOR} IN SCHEMA public "
                             f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {HUB}"))
        conn.execute(sa.text(f"ALTER DEFAULT PRIVILEGES FOR ROLE {MIGRATOR} IN SCHEMA public "
                             f"GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {HUB}, {STATION}"))
    return list(ROLES)


def create_roles(settings: object, passwords: dict[str, str] | None = None) -> list[str]:
    """`orderhub db roles`: on the configured database, as whoever the URL names (an administrator)."""
    from app.db import engine as db_engine

    target = db_engine.resolve(settings)  # type: ignore[arg-type]
    engine = db_engine.create_engine(target.url)
    try:
        return apply(engine, passwords)
    finally:
        engine.dispose()
