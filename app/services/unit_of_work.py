"""The unit of work: one transaction per command, rolled back unless the command commits."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from app.domain.errors import BusinessError


# Session.info key of what a replay batch (several station commands in one transaction, app/sync/applier.py)
# already knows: the orders it locked up front, the grants it looked up. Absent outside such a batch.
BATCH_MEMO = "batch_memo"


def batch_memo(session: Session) -> dict[Any, Any] | None:
    """The memo of the replay batch ``session`` works in, or None (every ordinary transaction)."""
    return session.info.get(BATCH_MEMO)


class DatabaseUnavailable(BusinessError):
    """The database could not be reached or dropped the connection; nothing was committed."""

    code = "DATABASE_UNAVAILABLE"


class UnitOfWork:
    """``with uow: ...; uow.commit()`` — leaving the block without commit rolls back.

    A lost connection inside the block surfaces as :class:`DatabaseUnavailable`, a
    business error the station can show and retry, never a raw driver traceback.
    """

    session: Session

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def __enter__(self) -> Self:
        self.session = self._session_factory()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        try:
            # close() rolls back whatever was not committed and detaches the objects without
            # expiring them, so values read inside the block stay readable after it.
            self.session.close()
        except sa_exc.DBAPIError:
            pass  # the connection is already gone; nothing to roll back
        if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)) and _is_connection_loss(exc):
            raise DatabaseUnavailable(detail=first_line(exc)) from exc
        return False

    def commit(self) -> None:
        self.session.commit()


def _is_connection_loss(exc: sa_exc.DBAPIError) -> bool:
    return bool(getattr(exc, "connection_invalidated", False)) or isinstance(exc, sa_exc.OperationalError)


# What libpq says when TLS refuses a connection, and the business sentence for each (messages.py).
_TLS_REFUSALS = (
    ("does not match host name", "DATABASE_TLS_HOST_MISMATCH"),
    ("certificate verify failed", "DATABASE_TLS_UNTRUSTED"),
    ("root certificate file", "DATABASE_TLS_ROOT_MISSING"),
    ("no encryption", "DATABASE_TLS_REQUIRED"),
    ("requires a valid client certificate", "DATABASE_TLS_CLIENT_CERT"),
    ("certificate authentication failed", "DATABASE_TLS_CLIENT_CERT"),
    ("server does not support SSL", "DATABASE_TLS_NOT_OFFERED"),
)


def connection_failure(exc: BaseException, where: str, place: str | None = None) -> DatabaseUnavailable:
    """The database could not be reached: a TLS refusal named in words (wrong root certificate, wrong
    host name, a server that insists on encryption …), anything else as plainly unavailable.

    Each is still a :class:`DatabaseUnavailable`, so a station starts offline either way and says why.
    ``where`` is the (password-masked) URL for the driver's detail; ``place`` the short host:port/database
    a TLS sentence names (``where`` if not given).
    """
    text = str(getattr(exc, "orig", None) or exc)
    for needle, code in _TLS_REFUSALS:
        if needle in text:
            return DatabaseUnavailable(code, where=place or where, detail=first_line(exc))
    return DatabaseUnavailable(detail=f"{where}: {first_line(exc)}")


def first_line(exc: BaseException) -> str:
    """The driver's own first line about a failure, short enough for a message."""
    text = str(getattr(exc, "orig", exc)).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
