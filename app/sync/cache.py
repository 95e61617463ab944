"""The station's order cache: what it needs to list and search offline, kept fresh by the change feed.

Customer service keeps the recent days of orders and every order it searched for; a warehouse
keeps its warehouse's open work. Reads answer the same questions as
:mod:`app.services.order_queries` (same rows, same search handles), from the local file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from operator import itemgetter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.domain.clock import now
from app.domain.fields import CODE_LISTS
from app.domain.hour_bands import band_of, bands_for
from app.domain.status import WAREHOUSE_ACTIVE, OrderStatus
from app.services.order_queries import NO_TIME, OrderFilter, OrderRow, OrderSort
from app.sync.local_db import CACHE_INDEX_NAMES, CACHE_INDEXES, LocalDb

COLUMNS = ("id", "order_no", "platform", "platform_order_no", "shop", "ordered_at", "customer_id", "original_amount",
           "paid_amount", "status", "tracking_no", "invoice_status", "province", "city", "warehouse", "warehouse_id",
           "ship_by", "version", "change_seq", "receiver_name", "receiver_phone_tail", "shop_id")
OPEN_WORK = tuple(s.value for s in WAREHOUSE_ACTIVE) + (OrderStatus.PAID.value,)
_GET = itemgetter(*COLUMNS)
_TIMES = (COLUMNS.index("ordered_at"), COLUMNS.index("ship_by"))
_MONEY = (COLUMNS.index("original_amount"), COLUMNS.index("paid_amount"))
_HELD = "order_no, change_seq, searched, province, status, platform, coalesce(warehouse_id, 0), hour_band, coalesce(shop_id, 0)"
_UPSERT = (f"INSERT INTO orders_cache ({','.join(COLUMNS)}, hour_band, searched) VALUES ({','.join('?' * len(COLUMNS))}, ?, ?) "
           f"ON CONFLICT (id) DO UPDATE SET {','.join(f'{c} = excluded.{c}' for c in (*COLUMNS[1:], 'hour_band'))}, "
           "searched = max(searched, excluded.searched)")


@dataclass(frozen=True, slots=True)
class Scope:
    """Which orders a station keeps: ``cs`` (recent days + searched) or ``warehouse`` (its open work)."""

    kind: str = "cs"
    days: int = 7
    warehouse_id: int | None = None

    def since(self) -> datetime:
        return now() - timedelta(days=self.days)

    def wants(self, row: dict[str, Any]) -> bool:
        if self.kind == "warehouse":
            return row["warehouse_id"] == self.warehouse_id and row["status"] in OPEN_WORK
        return _utc(row["ordered_at"]) >= self.since()

    def key(self) -> str:
        return f"{self.kind}:{self.days}:{self.warehouse_id}"


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _stamp(value: datetime | None) -> str | None:
    # one fixed UTC format (2026-12-02T09:30:00.000000+00:00), so text order is time order inside SQLite
    return None if value is None else _utc(value).isoformat(timespec="microseconds")


_BAND_BY_HOUR = tuple(band_of(hour) for hour in range(24))


def _band(ordered_at: datetime) -> int:
    """The 下单时段 band of an order time (China time, UTC+8, as the list's hour filter reads it)."""
    return _BAND_BY_HOUR[(_utc(ordered_at).hour + 8) % 24]


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class OrderCache:
    """Upserts from the feed (never going back in time) and the list/search reads of the station."""

    def __init__(self, db: LocalDb, scope: Scope) -> None:
        self._db, self.scope = db, scope

    def apply(self, rows: list[dict[str, Any]], *, searched: bool = False,
              progress: Callable[[], None] = lambda: None) -> set[str]:
        """Store the rows this station wants (or already holds); returns the order nos that changed.

        One transaction and one prepared statement for the whole batch (a first load of 84,000
        orders is one executemany, not 84,000 statements built one by one).
        """
        if not rows:
            return set()
        conn = self._db.connect()
        changed: set[str] = set()
        upserts: list[list[Any]] = []
        gone: list[tuple[str]] = []
        counts: Counter[tuple[Any, ...]] = Counter()  # the map's counts move with the rows
        with conn:
            held = {r[0]: (r[1], r[2], tuple(r[3:])) for r in conn.execute(
                f"SELECT {_HELD} FROM orders_cache WHERE order_no IN ({','.join('?' * len(rows))})",
                [r["order_no"] for r in rows])} if len(rows) < 900 else self._held_all(conn)
            for row in rows:
                have = held.get(row["order_no"])
                if have is not None and have[0] >= row["change_seq"]:
                    continue  # an older image of a row we already hold newer: never go back in time
                if not (searched or self.scope.wants(row)):
                    if have is None:
                        continue
                    if self.scope.kind == "warehouse" and not have[1]:  # left this warehouse's open work
                        gone.append((row["order_no"],))
                        counts[have[2]] -= 1
                        del held[row["order_no"]]
                        changed.add(row["order_no"])
                        continue
                band = _band(row["ordered_at"])
                values = [*_GET(row), band, int(searched)]
                for i in _TIMES:
                    values[i] = _stamp(values[i])
                for i in _MONEY:
                    values[i] = None if values[i] is None else str(values[i])
                upserts.append(values)
                key = (row["province"], row["status"], row["platform"], row["warehouse_id"] or 0, band, row["shop_id"] or 0)
                if have is not None:
                    counts[have[2]] -= 1
                counts[key] += 1
                held[row["order_no"]] = (row["change_seq"], max(int(searched), have[1] if have else 0), key)
                changed.add(row["order_no"])
            if gone:
                conn.executemany("DELETE FROM orders_cache WHERE order_no = ?", gone)
            if upserts:
                bulk = not held and len(upserts) > 5000  # a first load into an empty cache
                for name in CACHE_INDEX_NAMES if bulk else ():
                    conn.execute(f"DROP INDEX {name}")
                for start in range(0, len(upserts), 5000):
                    conn.executemany(_UPSERT, upserts[start:start + 5000])
                    progress()  # a long first load is local work in progress, not a hung database call
                for statement in CACHE_INDEXES.split(";") if bulk else ():
                    conn.execute(statement)  # built by one sort each, inside the same transaction
                    progress()
            moved = [(*key, n) for key, n in counts.items() if n and key[0] is not None]
            if moved:
                conn.executemany("INSERT INTO cache_map_counts VALUES (?, ?, ?, ?, ?, ?, ?) "
                                 "ON CONFLICT DO UPDATE SET orders = orders + excluded.orders", moved)
        return changed

    @staticmethod
    def _held_all(conn: Any) -> dict[str, tuple[int, int, tuple[Any, ...]]]:
        return {r[0]: (r[1], r[2], tuple(r[3:])) for r in conn.execute(f"SELECT {_HELD} FROM orders_cache")}

    def clear(self) -> None:
        conn = self._db.connect()
        with conn:
            conn.execute("DELETE FROM orders_cache")
            conn.execute("DELETE FROM cache_map_counts")
    # --- reads (the GUI thread's only source when a sync engine is attached) -----------------------
    def _where(self, flt: OrderFilter) -> tuple[str, list[Any]]:
        clauses, params = ["1 = 1"], []
        for column, value in (("status", flt.status), ("platform", flt.platform), ("province", flt.province),
                              ("warehouse_id", flt.warehouse_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if flt.shop_id is not None:  # the filter bar's shop is an id; the cache keeps both id and name
            clauses.append("shop_id = ?")
            params.append(flt.shop_id)
        hours = getattr(flt, "hours", None)  # 下单时段, China local hour (UTC+8) of the stored UTC time
        if hours is not None:
            clauses.append("((CAST(strftime('%H', ordered_at) AS INTEGER) + 8) % 24) BETWEEN ? AND ?")
            params += [hours[0], hours[1] - 1]
        risk = getattr(flt, "risk", None)  # 超时风险, as order_queries defines it
        if risk is not None:
            unshipped = "status IN ('paid', 'allocating') AND ship_by IS NOT NULL"
            stamp, soon = _stamp(now()), _stamp(now() + timedelta(hours=2))
            clauses.append({"overdue": f"({unshipped} AND ship_by < ?)",
                            "due_soon": f"({unshipped} AND ship_by >= ? AND ship_by < ?)"}.get(
                risk, f"({unshipped} AND ship_by >= ?)"))
            params += {"overdue": [stamp], "due_soon": [stamp, soon]}.get(risk, [soon])
        if flt.search:
            term = flt.search.strip()
            digits = "".join(ch for ch in term if ch.isdigit())
            options = ["order_no = ?", "platform_order_no = ?", "tracking_no = ?", "receiver_name = ?"]
            params += [term.upper(), term, term.upper(), term]
            if len(digits) >= 4 and len(digits) == len(term):
                options.append("receiver_phone_tail = ?")
                params.append(digits[-4:])
            clauses.append("(" + " OR ".join(options) + ")")
        return " AND ".join(clauses), params

    def list_orders(self, flt: OrderFilter = OrderFilter(), *, limit: int = 100,
                    after: tuple[Any, int] | None = None, sort: OrderSort = OrderSort()) -> list[OrderRow]:
        """Keyset-paged in ``sort`` order (newest first by default), like the server's list.

        ``after`` is :func:`app.services.order_queries.keyset` of the last row shown.
        """
        where, params = self._where(flt)
        expr = _SORT_SQL[sort.key]
        direction = "DESC" if sort.descending else "ASC"
        if after is not None:
            where += f" AND ({expr}, id) {'<' if sort.descending else '>'} (?, ?)"
            params += [_sort_param(sort.key, after[0]), after[1]]
        rows = self._db.connect().execute(
            f"SELECT * FROM orders_cache WHERE {where} ORDER BY {expr} {direction}, id {direction} LIMIT ?",
            [*params, limit])
        return [_order_row(r) for r in rows]

    def count(self, flt: OrderFilter = OrderFilter()) -> int:
        where, params = self._where(flt)
        return int(self._db.connect().execute(f"SELECT count(*) FROM orders_cache WHERE {where}", params).fetchone()[0])

    def counts_by_province(self, flt: OrderFilter = OrderFilter()) -> dict[str, int]:
        return self.province_figures(flt)[0]

    def province_figures(self, flt: OrderFilter = OrderFilter()) -> tuple[dict[str, int], dict[str, float]]:
        """Order counts and exception rates per province under ``flt``, as order_queries words them.

        The counts come from ``cache_map_counts`` (kept by triggers); the exception rate adds the
        unshipped orders past their deadline through a partial index. A filter the counts cannot
        answer (超时风险, an hour range splitting a band) counts the rows instead.
        """
        flt = replace(flt, province=None, search=None)
        stamp = _stamp(now())
        conn = self._db.connect()
        late_sql = ("SELECT province, count(*) FROM orders_cache INDEXED BY ix_cache_open "
                    "WHERE status IN ('paid', 'allocating') "
                    "AND ship_by < ? AND province IS NOT NULL AND {where} GROUP BY province")
        bands = bands_for(flt.hours)
        if flt.risk is None and (flt.hours is None or bands is not None):
            clauses, params = ["1 = 1"], []
            for column, value in (("status", flt.status), ("platform", flt.platform), ("warehouse_id", flt.warehouse_id),
                                  ("shop_id", flt.shop_id)):
                if value is not None:
                    clauses.append(f"{column} = ?")
                    params.append(value)
            if bands is not None:
                clauses.append(f"hour_band IN ({','.join('?' * len(bands))})")
                params += bands
            where = " AND ".join(clauses)
            rows = conn.execute(f"SELECT province, sum(orders), sum(CASE WHEN status = 'after_sales' THEN orders ELSE 0 END) "
                                f"FROM cache_map_counts WHERE {where} GROUP BY province HAVING sum(orders) > 0", params)
            figures = [(p, int(n), int(after)) for p, n, after in rows]
            late = dict(conn.execute(late_sql.format(where=where), [stamp, *params]).fetchall())
            return ({p: n for p, n, _ in figures},
                    {p: (after + int(late.get(p, 0))) / n for p, n, after in figures if n})
        where, params = self._where(flt)
        hint = " INDEXED BY ix_cache_open" if flt.risk is not None else ""  # 超时风险 means unshipped orders only
        rows = conn.execute(
            "SELECT province, count(*), sum(status = 'after_sales' OR (status IN ('paid', 'allocating') "
            f"AND ship_by < ?)) FROM orders_cache{hint} WHERE {where} AND province IS NOT NULL GROUP BY province",
            [stamp, *params])
        figures = [(p, int(n), int(bad or 0)) for p, n, bad in rows]
        return {p: n for p, n, _ in figures}, {p: bad / n for p, n, bad in figures if n}

    def get(self, order_no: str) -> OrderRow | None:
        row = self._db.connect().execute("SELECT * FROM orders_cache WHERE order_no = ?", (order_no,)).fetchone()
        return None if row is None else _order_row(row)

    def versions(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self._db.connect().execute("SELECT order_no, version FROM orders_cache")}


def _rank(column: str, codes: str) -> str:
    # codes are the field dictionary's own identifiers (letters and underscores), never user input
    return f"CASE {column} " + " ".join(f"WHEN '{c}' THEN {n}" for n, c in enumerate(CODE_LISTS[codes])) + " ELSE 99 END"


# The same order as order_queries sorts in: coded columns by their list, empty values first, money as a number.
_SORT_SQL = {"order_no": "order_no", "platform": _rank("platform", "platform"), "shop": "shop",
             "ordered_at": "ordered_at", "status": _rank("status", "order_status"),
             "paid_amount": "CAST(paid_amount AS REAL)", "province": "coalesce(province, '')",
             "warehouse": "coalesce(warehouse, '')", "ship_by": "coalesce(ship_by, '')",
             "tracking_no": "coalesce(tracking_no, '')"}


def _sort_param(key: str, value: Any) -> Any:
    """A keyset value from ``order_queries.keyset`` as this file stores it."""
    if isinstance(value, datetime):
        return "" if value == NO_TIME else _stamp(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _order_row(r: Any) -> OrderRow:
    return OrderRow(
        id=r["id"], order_no=r["order_no"], platform=r["platform"], platform_order_no=r["platform_order_no"],
        shop=r["shop"], ordered_at=_time(r["ordered_at"]), customer_id=r["customer_id"],  # type: ignore[arg-type]
        original_amount=Decimal(r["original_amount"]), paid_amount=Decimal(r["paid_amount"]), status=r["status"],
        tracking_no=r["tracking_no"], invoice_status=r["invoice_status"], province=r["province"], city=r["city"],
        warehouse=r["warehouse"], ship_by=_time(r["ship_by"]), version=r["version"])
