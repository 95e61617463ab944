"""The check at the end of every drill: a station's cache against the database, row by row, zero divergent rows."""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.db.models import Order
from app.sync.cache import COLUMNS, OrderCache
from app.sync.feed import _ROW


def _as_cached(value: Any) -> Any:
    """A server value written the way the cache stores it (UTC text for times, text for money)."""
    from app.sync.cache import _stamp

    if isinstance(value, datetime):
        return _stamp(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def divergent_rows(cache: OrderCache, engine: sa.Engine) -> list[str]:
    """Every way the cache differs from the database: rows it lacks, rows it should not have, stale columns.

    The cache must hold exactly the orders its scope wants (plus ones searched for) and each as the
    database has it now; one line per divergent row, empty when they agree.
    """
    conn_local = cache._db.connect()
    held = {r["order_no"]: dict(r) for r in conn_local.execute("SELECT * FROM orders_cache")}
    with engine.connect() as conn:
        server = {r["order_no"]: r for r in (dict(m._mapping) for m in conn.execute(_ROW))}
        conn.rollback()
    out: list[str] = []
    for order_no, row in server.items():
        have = held.get(order_no)
        if have is None:
            if cache.scope.wants(row):
                out.append(f"{order_no}: missing from the cache")
            continue
        stale = [f"{c} {have[c]!r} != {_as_cached(row[c])!r}" for c in COLUMNS if have[c] != _as_cached(row[c])]
        if stale:
            out.append(f"{order_no}: " + "; ".join(stale))
    out += [f"{n}: in the cache, not in the database" for n in held if n not in server]
    return out


def assert_converged(cache: OrderCache, engine: sa.Engine, timeout: float = 30.0) -> None:
    """Wait (real time: the worker pulls on its own) until the cache agrees with the database; fail with the rows."""
    deadline = time.monotonic() + timeout
    while True:
        rows = divergent_rows(cache, engine)
        if not rows or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert rows == [], f"{len(rows)} divergent rows: {rows[:10]}"


def note_lines(engine: sa.Engine, order_no: str) -> list[str]:
    """The warehouse notes on an order, each as its text without the stamp."""
    with engine.connect() as conn:
        note = conn.scalar(sa.select(Order.seller_note).where(Order.order_no == order_no)) or ""
    return [line.rsplit("] ", 1)[-1] for line in note.splitlines()]


def applied_counts(engine: sa.Engine) -> tuple[int, int]:
    """(records, distinct command ids) in the server's applied-commands table: equal means none twice."""
    with engine.connect() as conn:
        return tuple(conn.execute(sa.text("SELECT count(*), count(DISTINCT command_id) FROM applied_commands")).one())  # type: ignore[return-value]
