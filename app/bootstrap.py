"""The composition root: settings → database → migrations → services, wired once per process."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.db import engine as db_engine
from app.db import migrate
from app.domain.actor import Actor
from app.services.unit_of_work import DatabaseUnavailable, UnitOfWork, connection_failure
from app.settings import Settings, load_settings

log = logging.getLogger(__name__)


@dataclass
class OrderHub:
    """Everything one process needs, built once; tests build their own with :func:`bootstrap`."""

    settings: Settings
    target: db_engine.DatabaseTarget
    engine: Engine
    session_factory: sessionmaker[Session] = field(repr=False)
    offline_reason: DatabaseUnavailable | None = None  # why a station started offline (shown at sign-in)

    def uow(self) -> UnitOfWork:
        """A fresh unit of work (one per command)."""
        return UnitOfWork(self.session_factory)

    def actor(self, operator: str) -> Actor:
        """An actor for ``operator`` at this station."""
        return Actor(operator=operator, station=self.settings.station_name, station_ip=station_ip(self.target))

    def close(self) -> None:
        self.engine.dispose()


def station_ip(target: db_engine.DatabaseTarget) -> str:
    """This station's IP as seen towards the database: the source address of a route to its host.

    A UDP ``connect`` sends no packet; it only asks the kernel which local address it would use.
    On the embedded database (a unix socket) the station's own host name is used instead.
    """
    host = target.url.host
    if host and not host.startswith("/"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect((host, target.url.port or 5432))
                return probe.getsockname()[0]
        except OSError:
            pass
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def bootstrap(settings: Settings | None = None, *, upgrade: bool = True) -> OrderHub:
    """Build the process: resolve (and maybe start) the database, bring its schema up to date."""
    settings = settings or load_settings()
    target = db_engine.resolve(settings)
    engine = db_engine.create_engine(target.url)
    try:
        if upgrade:
            migrate.upgrade(engine)
        else:
            with engine.connect():
                pass
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as err:
        engine.dispose()
        url = target.url
        place = None if target.embedded else f"{url.host or '-'}:{url.port or 5432}/{url.database or '-'}"
        raise connection_failure(err, target.masked(), place) from err
    factory = sessionmaker(engine, expire_on_commit=False)
    return OrderHub(settings, target, engine, factory)


def connect_or_offline(settings: Settings) -> tuple[OrderHub, bool]:
    """The station's start: the configured database, or — when it cannot be reached — the same wiring
    without a live connection (the station then works from its cache and outbox), and ``True``.

    The engine connects lazily, so calls made while the database is away raise
    :class:`DatabaseUnavailable` and the station's sync reconnects by itself when it is back.
    """
    try:
        return bootstrap(settings), False
    except DatabaseUnavailable as err:
        log.warning("starting offline: %s", err.message("en"))
        reason = err
    target = db_engine.resolve(settings, start=False)
    engine = db_engine.create_engine(target.url)
    return OrderHub(settings, target, engine, sessionmaker(engine, expire_on_commit=False), reason), True
