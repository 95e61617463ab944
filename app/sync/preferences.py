"""Each operator's own list preferences (saved filters, recently viewed orders, column layout) in the station file."""

from __future__ import annotations

import json
from typing import Any

from app.sync.local_db import LocalDb


class OperatorPreferences:
    """Key → JSON value for one operator at this station.

    Kept in the station's SQLite file rather than QSettings: it is already per station, written
    durably (a crash right after "saved" loses nothing), copied with the station's data, and the
    shift hand-over on a shared PC needs one row per operator, not one file per Windows account.
    """

    RECENT_LIMIT = 15

    def __init__(self, db: LocalDb, operator: str) -> None:
        self._db, self.operator = db, operator

    def get(self, key: str, default: Any = None) -> Any:
        row = self._db.connect().execute("SELECT value FROM operator_prefs WHERE operator = ? AND key = ?",
                                         (self.operator, key)).fetchone()
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except ValueError:
            return default  # a damaged value is forgotten, never a crash at sign-in

    def set(self, key: str, value: Any) -> None:
        with self._db.connect() as conn:
            conn.execute("INSERT INTO operator_prefs (operator, key, value) VALUES (?, ?, ?) "
                         "ON CONFLICT (operator, key) DO UPDATE SET value = excluded.value",
                         (self.operator, key, json.dumps(value, ensure_ascii=False)))

    # --- the named things the workspace keeps ---------------------------------------------------------
    def saved_filters(self) -> dict[str, dict[str, Any]]:
        value = self.get("saved_filters", {})
        return value if isinstance(value, dict) else {}

    def save_filter(self, name: str, spec: dict[str, Any]) -> None:
        filters = self.saved_filters()
        filters[name] = spec
        self.set("saved_filters", filters)

    def recent_orders(self) -> list[str]:
        value = self.get("recent_orders", [])
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    def viewed(self, order_no: str) -> list[str]:
        """Remember an opened order at the front of the recent list (no duplicates, newest first)."""
        recent = [order_no, *(n for n in self.recent_orders() if n != order_no)][: self.RECENT_LIMIT]
        self.set("recent_orders", recent)
        return recent
