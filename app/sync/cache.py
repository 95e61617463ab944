"""The station's order cache: what it needs to list and search offline, kept fresh by the change feed.

Customer service keeps the recent days of orders and every order it searched for; a warehouse
keeps its warehouse's open work. Reads answer the same questions as
:mod:`app.services.order_queries` (same rows, same search handles), from the local file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.domain.clock import now
from app.domain.status import WAREHOUSE_ACTIVE, OrderStatus
from app.services.order_queries import OrderFilter, OrderRow
from app.sync.local_db import LocalDb

COLUMNS = ("id", "order_no", "platform", "platform_order_no", "shop", "ordered_at", "customer_id", "original_amount",
           "paid_amount", "status", "tracking_no", "invoice_status", "province", "city", "warehouse", "warehouse_id",
           "ship_by", "version", "change_seq", "receiver_name", "receiver_phone_tail")
OPEN_WORK = tuple(s.value for s in WAREHOUSE_ACTIVE) + (OrderStatus.PAID.value,)


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
    # one fixed UTC format, so text order is time order inside SQLite
    return None if value is None else _utc(value).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class OrderCache:
    """Upserts from the feed (never going back in time) and the list/search reads of the station."""

    def __init__(self, db: LocalDb, scope: Scope) -> None:
        self._db, self.scope = db, scope

    def apply(self, rows: list[dict[str, Any]], *, searched: bool = False) -> set[str]:
        """Store the rows this station wants (or already holds); returns the order nos that changed."""
        if not rows:
            return set()
        conn = self._db.connect()
        changed: set[str] = set()
        with conn:
            held = {r[0]: (r[1], r[2]) for r in conn.execute(
                f"SELECT order_no, change_seq, searched FROM orders_cache WHERE order_no IN ({','.join('?' * len(rows))})",
                [r["order_no"] for r in rows])} if len(rows) < 900 else self._held_all(conn)
            for row in rows:
                have = held.get(row["order_no"])
                if have is not None and have[0] >= row["change_seq"]:
                    continue  # an older image of a row we already hold newer: never go back in time
                if not (searched or self.scope.wants(row)):
                    if have is None:
                        continue
                    if self.scope.kind == "warehouse" and not have[1]:  # left this warehouse's open work
                        conn.execute("DELETE FROM orders_cache WHERE order_no = ?", (row["order_no"],))
                        changed.add(row["order_no"])
                        continue
                values = [_stamp(v) if isinstance(v, datetime) else str(v) if isinstance(v, Decimal) else v
                          for v in (row[c] for c in COLUMNS)]
                conn.execute(
                    f"INSERT INTO orders_cache ({','.join(COLUMNS)}, searched) VALUES ({','.join('?' * len(COLUMNS))}, ?) "
                    f"ON CONFLICT (id) DO UPDATE SET {','.join(f'{c} = excluded.{c}' for c in COLUMNS[1:])}, "
                    "searched = max(searched, excluded.searched)",
                    [*values, int(searched)])
                changed.add(row["order_no"])
        return changed

    @staticmethod
    def _held_all(conn: Any) -> dict[str, tuple[int, int]]:
        return {r[0]: (r[1], r[2]) for r in conn.execute("SELECT order_no, change_seq, searched FROM orders_cache")}

    def clear(self) -> None:
        conn = self._db.connect()
        with conn:
            conn.execute("DELETE FROM orders_cache")

    # --- reads (the GUI thread's only source when a sync engine is attached) -----------------------
    def _where(self, flt: OrderFilter) -> tuple[str, list[Any]]:
        clauses, params = ["1 = 1"], []
        for column, value in (("status", flt.status), ("platform", flt.platform), ("province", flt.province),
                              ("warehouse_id", flt.warehouse_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if flt.shop_id is not None:  # the cache keeps the shop's name, not its id
            clauses.append("0 = 1")
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
                    after: tuple[datetime, int] | None = None) -> list[OrderRow]:
        """Newest first, keyset-paged, exactly like the server's list."""
        where, params = self._where(flt)
        if after is not None:
            where += " AND (ordered_at < ? OR (ordered_at = ? AND id < ?))"
            params += [_stamp(after[0]), _stamp(after[0]), after[1]]
        rows = self._db.connect().execute(
            f"SELECT * FROM orders_cache WHERE {where} ORDER BY ordered_at DESC, id DESC LIMIT ?", [*params, limit])
        return [_order_row(r) for r in rows]

    def count(self, flt: OrderFilter = OrderFilter()) -> int:
        where, params = self._where(flt)
        return int(self._db.connect().execute(f"SELECT count(*) FROM orders_cache WHERE {where}", params).fetchone()[0])

    def counts_by_province(self, flt: OrderFilter = OrderFilter()) -> dict[str, int]:
        return self.province_figures(flt)[0]

    def province_figures(self, flt: OrderFilter = OrderFilter()) -> tuple[dict[str, int], dict[str, float]]:
        """Order counts and exception rates per province under ``flt`` (as order_queries words them),
        in one pass over the covering index, so the map follows a filter change from the local file."""
        where, params = self._where(replace(flt, province=None))
        rows = self._db.connect().execute(
            "SELECT province, count(*), sum(status = 'after_sales' OR (status IN ('paid', 'allocating') "
            f"AND ship_by < ?)) FROM orders_cache WHERE {where} AND province IS NOT NULL GROUP BY province",
            [_stamp(now()), *params])
        figures = [(p, int(n), int(bad or 0)) for p, n, bad in rows]
        return {p: n for p, n, _ in figures}, {p: bad / n for p, n, bad in figures if n}

    def get(self, order_no: str) -> OrderRow | None:
        row = self._db.connect().execute("SELECT * FROM orders_cache WHERE order_no = ?", (order_no,)).fetchone()
        return None if row is None else _order_row(row)

    def versions(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self._db.connect().execute("SELECT order_no, version FROM orders_cache")}


def _order_row(r: Any) -> OrderRow:
    return OrderRow(
        id=r["id"], order_no=r["order_no"], platform=r["platform"], platform_order_no=r["platform_order_no"],
        shop=r["shop"], ordered_at=_time(r["ordered_at"]), customer_id=r["customer_id"],  # type: ignore[arg-type]
        original_amount=Decimal(r["original_amount"]), paid_amount=Decimal(r["paid_amount"]), status=r["status"],
        tracking_no=r["tracking_no"], invoice_status=r["invoice_status"], province=r["province"], city=r["city"],
        warehouse=r["warehouse"], ship_by=_time(r["ship_by"]), version=r["version"])
