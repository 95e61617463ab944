"""The station's own SQLite file (outbox, order cache, feed cursor, each operator's list preferences): WAL, fsync'd on every commit.

``synchronous=FULL`` in WAL mode makes each commit durable before it returns, so once the UI
says "saved" a power cut or a killed process cannot lose the command. Each thread gets its own
connection (SQLite connections are not shared across threads); WAL lets the GUI read while
the sync worker writes.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from app.domain.hour_bands import HOUR_BANDS

def hour_band_sql(column: str) -> str:
    """SQL for the 下单时段 band (start hour, China time) of a stored UTC time stamp (see app.domain.hour_bands)."""
    hour = f"((CAST(strftime('%H', {column}) AS INTEGER) + 8) % 24)"
    cases = " ".join(f"WHEN {hour} < {end} THEN {start}" for start, end in HOUR_BANDS[:-1])
    return f"(CASE {cases} ELSE {HOUR_BANDS[-1][0]} END)"


# orders_cache.hour_band: the 下单时段 band (start hour, China time), set by the cache when it stores the row;
# orders_cache.shop_id: the filter bar's shop (an id; ``shop`` is its name as shown). No comments inside the
# table's own text: SQLite keeps it verbatim and its ALTER TABLE rewrites it.
SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    command_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    args TEXT NOT NULL,
    order_no TEXT,
    after_id TEXT,
    base_version INTEGER,
    operator TEXT NOT NULL,
    station TEXT NOT NULL,
    station_ip TEXT,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'accepted', 'rejected', 'acknowledged')),
    result TEXT,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS ix_outbox_state ON outbox (state, seq);
CREATE INDEX IF NOT EXISTS ix_outbox_order ON outbox (order_no, seq);
CREATE TABLE IF NOT EXISTS orders_cache (
    id INTEGER PRIMARY KEY,
    order_no TEXT NOT NULL UNIQUE,
    platform TEXT NOT NULL,
    platform_order_no TEXT NOT NULL,
    shop TEXT NOT NULL,
    ordered_at TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    original_amount TEXT NOT NULL,
    paid_amount TEXT NOT NULL,
    status TEXT NOT NULL,
    tracking_no TEXT,
    invoice_status TEXT NOT NULL,
    province TEXT,
    city TEXT,
    warehouse TEXT,
    warehouse_id INTEGER,
    ship_by TEXT,
    version INTEGER NOT NULL,
    change_seq INTEGER NOT NULL,
    receiver_name TEXT,
    receiver_phone_tail TEXT,
    searched INTEGER NOT NULL DEFAULT 0,
    hour_band INTEGER,
    shop_id INTEGER
);
-- The map's counts per province × status × platform × warehouse × 下单时段 (band start, China hour) × shop,
-- kept by OrderCache in the same transaction as the rows (SQLite row triggers cost 100 µs a row on a
-- first load): a re-count sums a few thousand rows, not every order. A shop has one platform, so the
-- shop key adds rows only where a platform has several shops.
CREATE TABLE IF NOT EXISTS cache_map_counts (
    province TEXT NOT NULL,
    status TEXT NOT NULL,
    platform TEXT NOT NULL,
    warehouse_id INTEGER NOT NULL,
    hour_band INTEGER NOT NULL,
    shop_id INTEGER NOT NULL,
    orders INTEGER NOT NULL,
    PRIMARY KEY (province, status, platform, warehouse_id, hour_band, shop_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS operator_prefs (
    operator TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (operator, key)
);
"""

# The cache's own indexes: a first load of a whole scope into an empty cache drops them and builds
# them again afterwards (one sort each instead of 84,000 scattered inserts into each).
CACHE_INDEXES = """
CREATE INDEX IF NOT EXISTS ix_cache_ordered ON orders_cache (ordered_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS ix_cache_phone_tail ON orders_cache (receiver_phone_tail);
CREATE INDEX IF NOT EXISTS ix_cache_tracking ON orders_cache (tracking_no);
CREATE INDEX IF NOT EXISTS ix_cache_receiver ON orders_cache (receiver_name);
CREATE INDEX IF NOT EXISTS ix_cache_platform_no ON orders_cache (platform_order_no);
-- the filter bar's lists, newest first, each from its own index (issue #18: under 100 ms at 84,000 orders)
CREATE INDEX IF NOT EXISTS ix_cache_status_platform ON orders_cache (status, platform, ordered_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS ix_cache_platform ON orders_cache (platform, ordered_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS ix_cache_province ON orders_cache (province, ordered_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS ix_cache_warehouse ON orders_cache (warehouse_id, ordered_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS ix_cache_shop ON orders_cache (shop_id, ordered_at DESC, id DESC);
-- 超时风险 and the map's exception rate: unshipped orders only, newest first, carrying what both filter on
CREATE INDEX IF NOT EXISTS ix_cache_open ON orders_cache (ordered_at DESC, id DESC, ship_by, province, status, platform,
    warehouse_id, hour_band, shop_id) WHERE status IN ('paid', 'allocating');
"""
SCHEMA += CACHE_INDEXES
CACHE_INDEX_NAMES = tuple(line.split()[5] for line in CACHE_INDEXES.splitlines() if line.startswith("CREATE INDEX"))

# A file made before the counts existed gets them once, from the rows it holds.
_COUNTS_FROM_ROWS = f"""
UPDATE orders_cache SET hour_band = {hour_band_sql("ordered_at")};
DELETE FROM cache_map_counts;
INSERT INTO cache_map_counts SELECT province, status, platform, coalesce(warehouse_id, 0),
    hour_band, coalesce(shop_id, 0), count(*) FROM orders_cache WHERE province IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6;
INSERT OR REPLACE INTO sync_meta (key, value) VALUES ('map_counts', '1');
"""


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


class LocalDb:
    """One SQLite file, one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self.connect() as conn:
            if "searched" in _columns(conn, "orders_cache") and "hour_band" not in _columns(conn, "orders_cache"):
                conn.execute("ALTER TABLE orders_cache ADD COLUMN hour_band INTEGER")  # a file from before issue #18
            if "searched" in _columns(conn, "orders_cache") and "shop_id" not in _columns(conn, "orders_cache"):
                # a file from before the shop id was kept: its rows stay readable offline, and the next
                # pull loads the scope whole again (change_seq -1: any image from the server is newer)
                conn.execute("ALTER TABLE orders_cache ADD COLUMN shop_id INTEGER")
                conn.execute("UPDATE orders_cache SET change_seq = -1")
                conn.execute("DELETE FROM sync_meta WHERE key IN ('cursor', 'marks', 'map_counts')")
            if "orders" in _columns(conn, "cache_map_counts") and "shop_id" not in _columns(conn, "cache_map_counts"):
                conn.execute("DROP TABLE cache_map_counts")  # counts without the shop key: made again from the rows
                conn.execute("DELETE FROM sync_meta WHERE key = 'map_counts'")
            conn.executescript(SCHEMA)
            if conn.execute("SELECT 1 FROM sync_meta WHERE key = 'map_counts'").fetchone() is None:
                conn.executescript(f"BEGIN; {_COUNTS_FROM_ROWS} COMMIT;")

    def connect(self) -> sqlite3.Connection:
        """This thread's connection (``with db.connect() as c:`` commits or rolls back)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level="DEFERRED")
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA cache_size=-65536")  # 64 MB: a first load of 84,000 rows keeps its index pages in memory
            self._local.conn = conn
        return conn

    def meta(self, key: str) -> str | None:
        row = self.connect().execute("SELECT value FROM sync_meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute("INSERT INTO sync_meta (key, value) VALUES (?, ?) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
