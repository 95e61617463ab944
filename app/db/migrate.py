"""Schema migrations with Alembic, run programmatically (on start and by `orderhub db upgrade`).

Independent features may add migrations on separate branches (each revising the same parent);
upgrading always applies every head, and the schema's version is the set of heads, shown joined.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config pointing at our migrations; ``engine`` is handed to env.py."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.attributes["engine"] = engine
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def _show(heads: tuple[str, ...] | list[str]) -> str:
    return "+".join(sorted(heads))


def head_revision() -> str:
    """The newest revision(s) the code knows."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert heads
    return _show(heads)


def current_revision(engine: Engine) -> str | None:
    """The revision(s) the database is at (None for an empty database)."""
    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return _show(heads) if heads else None


def upgrade(engine: Engine, revision: str = "heads") -> str:
    """Bring the schema to ``revision`` (every head by default); a database already there is left alone."""
    if current_revision(engine) != head_revision() or revision != "heads":
        command.upgrade(alembic_config(engine), revision)
    rev = current_revision(engine)
    assert rev is not None
    return rev
