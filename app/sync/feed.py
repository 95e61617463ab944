"""Pulling the change feed into the cache, behind a cursor that a late committer cannot jump.

Change numbers come from one sequence and are drawn *before* commit, so a transaction that
commits late can carry a smaller number than one the station has already seen. Advancing the
cursor to "the highest number seen" would skip it for ever. Instead every pull notes
(L = the sequence's last value, X = a transaction id taken after L was read) and the cursor
only moves up to an L once a later pull's snapshot shows every transaction up to X finished
(``pg_snapshot_xmin > X``): every number up to L was drawn by a transaction older than X, so by
then it is either committed and visible to that pull, or was rolled back. Rows above the cursor
are simply pulled again (the cache ignores images it already holds), so the cursor lags by one
pull and costs a few rows.

X is taken *after* the rows are read, so a writer that had drawn its number but not yet been
given a transaction id when L was read (the trigger runs just before the row is written) has one
by then. The price is one transaction id per pull.

A pull is one network round trip (psycopg's pipeline), and the change numbers above the cursor
that this station already applied are named in the query and left out by the server, so the lag
of the cursor no longer costs a second copy of every intake page (kept in memory: after a restart
they are pulled once more, which the cache ignores).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.db.models import Order, Shop, Warehouse
from app.services.order_queries import _search
from app.sync.cache import OPEN_WORK, OrderCache
from app.sync.local_db import LocalDb

PAGE = 5000
MAX_MARKS = 64
MAX_SEEN = 20_000

_ROW = (sa.select(Order.id, Order.order_no, Order.platform, Order.platform_order_no, Shop.name.label("shop"),
                  Order.ordered_at, Order.customer_id, Order.original_amount, Order.paid_amount, Order.status,
                  Order.tracking_no, Order.invoice_status, Order.province, Order.city,
                  Warehouse.name.label("warehouse"), Order.warehouse_id, Order.ship_by, Order.version,
                  Order.change_seq, Order.receiver_name, Order.receiver_phone_tail, Order.shop_id)
        .join(Shop, Shop.id == Order.shop_id).outerjoin(Warehouse, Warehouse.id == Order.warehouse_id))

_LAST = sa.text("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM order_change_seq")
_XMIN = sa.text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
# A transaction id of our own, taken after L was read: every id below it was handed out before.
# (Not the snapshot's xmax: that is "newest *completed* + 1" and can equal a running writer's id.)
_NEXT = sa.text("SELECT pg_current_xact_id()::text::bigint")
_HEAD_SQL = ("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
             "(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM order_change_seq)")
_NEXT_SQL = str(_NEXT)


class FeedNotSettled(Exception):
    """A long transaction elsewhere keeps the first load from finding a safe starting point; try again."""


class ChangeFeed:
    """The station's cursor and the pulls that advance it."""

    def __init__(self, db: LocalDb, cache: OrderCache, progress: Callable[[], None] = lambda: None) -> None:
        self._db, self._cache = db, cache
        self._progress = progress  # called per page: a long first load is progress, not a hang
        self._seen: set[int] = set()  # change numbers above the cursor already applied (see pull)
        self._sql: str | None = None
        self.stats: Counter[str] = Counter()  # pulls and rows received (the benchmarks report them)
        # per page pulled: {"sent", "answered", "applied" (time.time()), "rows", "named", "lag"} (benchmarks
        # explain a slow change with it: the round trip, the rows applied, the numbers named, the cursor's lag)
        self.on_page: Callable[[dict[str, Any]], None] | None = None

    @property
    def cursor(self) -> int | None:
        raw = self._db.meta("cursor")
        return None if raw is None or self._db.meta("scope") != self._cache.scope.key() else int(raw)

    def _marks(self) -> list[tuple[int, int]]:
        return [tuple(m) for m in json.loads(self._db.meta("marks") or "[]")]  # type: ignore[misc]

    def _save(self, cursor: int, marks: list[tuple[int, int]]) -> None:
        conn = self._db.connect()
        with conn:
            self._db.set_meta(conn, "cursor", str(cursor))
            self._db.set_meta(conn, "marks", json.dumps(marks[-MAX_MARKS:]))
            self._db.set_meta(conn, "scope", self._cache.scope.key())

    def pull(self, engine: Engine) -> set[str]:
        """Bring the cache up to date; returns the order nos that changed in it.

        One network round trip per page (psycopg's pipeline: BEGIN, the snapshot's xmin with L, the
        page, X, COMMIT sent together): on a shared, loaded server every round trip waits for the
        backend to be scheduled, and a pull made of eight of them kept a colleague's change waiting
        behind it. Rows above the cursor that an earlier pull already brought (the cursor lags one
        pull) are named to the server and not sent again: an intake page is pulled and applied once
        per station, not twice.
        """
        cursor = self.cursor
        if cursor is None:
            return self._first_load(engine)
        changed: set[str] = set()
        after = cursor  # a page after a full one starts past it (the cursor may be held back by a late committer)
        while True:
            marks = self._marks()
            seen = self._seen_above(cursor)
            sent = time.time()
            with engine.connect() as conn:
                pg = conn.connection.driver_connection
                with pg.pipeline():
                    pg.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    head = pg.execute(_HEAD_SQL)
                    page = pg.execute(self._page_sql(engine), {"after": after, "seen": seen, "page": PAGE})
                    next_xid = pg.execute(_NEXT_SQL)
                    pg.commit()
                xmin, last = head.fetchone()  # type: ignore[misc]
                names = [c.name for c in page.description or ()]
                rows = [dict(zip(names, r, strict=True)) for r in page.fetchall()]
                (xid,) = next_xid.fetchone()  # type: ignore[misc]
            answered = time.time()
            self._progress()
            self.stats.update(pulls=1, rows=len(rows))
            full = len(rows) >= PAGE
            if full:  # every visible row up to the page's last number is in it (change order): mark only so far
                last = after = min(last, rows[-1]["change_seq"])
            settled = [m for m in marks if m[1] < xmin]
            if settled:
                cursor = max(cursor, *(m[0] for m in settled))
            changed |= self._cache.apply(rows, progress=self._progress)
            self._seen.update(r["change_seq"] for r in rows)
            self._save(cursor, [m for m in marks if m[1] >= xmin] + [(last, xid)])
            self._seen_above(cursor)  # forget what the cursor has passed
            if self.on_page is not None:
                self.on_page({"sent": sent, "answered": answered, "applied": time.time(), "rows": len(rows),
                              "named": len(seen), "lag": int(last) - cursor})
            if not full:
                return changed

    def _seen_above(self, cursor: int) -> list[int]:
        """The change numbers above ``cursor`` this station has already applied (kept in memory only:
        after a restart they are simply pulled once more, which the cache ignores)."""
        self._seen = {s for s in self._seen if s > cursor}
        if len(self._seen) > MAX_SEEN:  # a long transaction elsewhere holds the cursor: name the newest only
            self._seen = set(sorted(self._seen)[-MAX_SEEN:])
        return sorted(self._seen)

    def _page_sql(self, engine: Engine) -> str:
        if self._sql is None:
            stmt = _ROW.where(sa.text("orders.change_seq > :after AND orders.change_seq <> ALL(CAST(:seen AS bigint[]))")
                              ).order_by(Order.change_seq).limit(sa.bindparam("page", literal_execute=False))
            self._sql = str(stmt.compile(dialect=engine.dialect))
        return self._sql

    def _first_load(self, engine: Engine, settle_seconds: float = 2.0) -> set[str]:
        """Start from a point below which every change has settled, then load the scope whole."""
        with engine.connect() as conn:
            last = int(conn.scalar(_LAST))
            xid = int(conn.scalar(_NEXT))
            conn.commit()
            deadline = time.monotonic() + settle_seconds
            while int(conn.scalar(_XMIN)) <= xid:
                conn.rollback()
                if time.monotonic() > deadline:
                    raise FeedNotSettled()
                time.sleep(0.05)
            conn.rollback()
            rr = conn.execution_options(isolation_level="REPEATABLE READ")
            with rr.begin():
                rows = _pages(rr, self._scope_where(), self._progress)
        self._forget_other_scope()
        changed = self._cache.apply(rows, progress=self._progress)
        self._seen = set()
        self._save(last, [])
        conn = self._db.connect()
        conn.execute("PRAGMA analysis_limit = 1000")  # sampled statistics: a second, not a full read
        conn.execute("ANALYZE")  # the planner picks the filter bar's indexes with the new rows' statistics
        conn.commit()
        # fold the load's pages into the file now: a station killed later does not leave the next start
        # re-reading a WAL as large as the whole scope (seconds at 84,000 orders)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return changed

    def preload(self, engine: Engine, newest: int = 500) -> set[str]:
        """A station with no cursor yet shows the newest orders of its scope at once; the whole scope follows.

        Safe beside the first load: that load's snapshot is later, and the cache never replaces a
        row with an older image of it.
        """
        if self.cursor is not None:
            return set()
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(
                _ROW.where(self._scope_where()).order_by(Order.ordered_at.desc(), Order.id.desc()).limit(newest))]
            conn.rollback()
        self._forget_other_scope()
        return self._cache.apply(rows)

    def _scope_where(self) -> Any:
        scope = self._cache.scope
        if scope.kind == "warehouse":
            return sa.and_(Order.warehouse_id == scope.warehouse_id, Order.status.in_(OPEN_WORK))
        return Order.ordered_at >= scope.since()

    def _forget_other_scope(self) -> None:
        """Rows kept for another scope (the file changed hands) go before this scope's arrive."""
        scope = self._cache.scope
        if self._db.meta("scope") != scope.key():
            self._cache.clear()
            conn = self._db.connect()
            with conn:
                self._db.set_meta(conn, "scope", scope.key())

    def search(self, engine: Engine, term: str, limit: int = 50) -> set[str]:
        """Look ``term`` up on the server and keep what it finds (customer service searched for it)."""
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(
                _ROW.where(_search(term)).order_by(Order.ordered_at.desc(), Order.id.desc()).limit(limit))]
            conn.rollback()
        return self._cache.apply(rows, searched=True)


def _pages(conn: Connection, where: Any, progress: Callable[[], None]) -> list[dict[str, Any]]:
    """Every row matching ``where`` in change order, fetched a page at a time in one snapshot."""
    out: list[dict[str, Any]] = []
    after = -1
    while True:
        page = [dict(r._mapping) for r in conn.execute(
            _ROW.where(where, Order.change_seq > after).order_by(Order.change_seq).limit(PAGE))]
        out.extend(page)
        progress()
        if len(page) < PAGE:
            return out
        after = page[-1]["change_seq"]
