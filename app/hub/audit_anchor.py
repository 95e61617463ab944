"""The hub's daily audit anchor: the chain's head written outside the database once a day (issue #19).

A file per day (``audit-anchors/2026-12-02.json`` in the hub's data folder, China time) that the
supervisor copies off the server; ``orderhub audit verify --anchor FILE`` then catches a chain that
was rewritten and re-hashed by someone with full database rights after that day.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta, timezone
from pathlib import Path

from app.bootstrap import OrderHub
from app.domain import clock
from app.services import audit

log = logging.getLogger(__name__)
CST = timezone(timedelta(hours=8))


def anchor_if_due(app: OrderHub, folder: Path) -> Path | None:
    """Write today's anchor unless it exists (or the trail is empty); returns the file written."""
    now = clock.now()
    path = folder / f"{now.astimezone(CST):%Y-%m-%d}.json"
    if path.exists():
        return None
    head = audit.anchor(app.uow(), taken_at=now)
    if head is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(head.to_json(), encoding="utf-8")
    tmp.replace(path)
    log.info("audit anchor written: %s (record %s)", path, head.record_id)
    return path


class DailyAnchor(threading.Thread):
    """Checks hourly; the first check of each day writes that day's anchor."""

    def __init__(self, app: OrderHub, folder: Path, every: float = 3600.0) -> None:
        super().__init__(name="audit-anchor", daemon=True)
        self.app, self.folder, self.every = app, folder, every
        self.stop_event = threading.Event()

    def run(self) -> None:
        while True:
            try:
                anchor_if_due(self.app, self.folder)
            except Exception:  # the database is away: try again next round
                log.exception("audit anchor failed")
            if self.stop_event.wait(self.every):
                return

    def stop(self) -> None:
        self.stop_event.set()
