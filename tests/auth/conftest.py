"""People and permissions: one database shared by a module's matrix tests, and actors of every role."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.bootstrap import OrderHub, bootstrap
from app.domain.actor import Actor
from app.settings import Settings
from tests.conftest import _numbers

ROLE_LOGIN = {"cs": "xiaomei", "cs_lead": "wang.zz", "picker": "li.sf", "wh_lead": "chen.bz",
              "supervisor": "zhou.zj", "admin": "liu.gong", "service": "system:hub"}
"""One person (or the hub) per role, all in every test database (tests/conftest.py STAFF)."""


def actor_of(role: str) -> Actor:
    return Actor(ROLE_LOGIN[role], "安全测试工作站", "10.20.9.9")


@pytest.fixture(scope="module")
def shared_hub(pg_admin_url: sa.URL, template_url: sa.URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrderHub]:
    """One database for a module whose tests change nothing a later test relies on (refusals, look-ups)."""
    name = f"t_{os.getpid()}_{next(_numbers)}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE orderhub_template"))
    data: Path = tmp_path_factory.mktemp("auth")
    built = bootstrap(Settings(database_url=pg_admin_url.set(database=name).render_as_string(hide_password=False),
                               data_dir=data, station_name="安全测试工作站"))
    yield built
    built.close()
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(scope="session")
def cjk_font(qapp):
    from app.ui import fonts

    return fonts.install(qapp)


@pytest.fixture
def shots_dir() -> str:
    path = os.environ.get("ORDERHUB_SCREENSHOTS", "/tmp/orderhub-screens")
    os.makedirs(path, exist_ok=True)
    return path
