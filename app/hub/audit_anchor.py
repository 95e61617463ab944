"""The hub's daily audit anchor: the chain's head written outside the database once a day (issue #19).

A file per day (``audit-anchors/2026-12-02.json`` in the hub's data folder, China time) that the
supervisor copies off the server, and the same anchor as an ``audit.anchor`` event in the ERP webhook
stream (through the outbox, one per endpoint and business day), so a copy also lives in a system the
database's superuser does not run. ``orderhub audit verify --anchor FILE`` then catches a chain that
was rewritten and re-hashed by someone with full database rights after that day.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta, timezone
from pathlib import Path

from app.bootstrap import OrderHub
from app.domain import clock
from app.hub.db_status import HUB_DATABASE
from app.services import audit, erp_outbound

log = logging.getLogger(__name__)
CST = timezone(timedelta(hours=8))


def anchor_if_due(app: OrderHub, folder: Path) -> Path | None:
    """Write today's anchor unless it exists (or the trail is empty), and hand the day's anchor to the ERP
    stream unless it already has it; returns the file written (None when today's was there already).

    The ERP gets the anchor of the day's file, so both copies name the same record; the event is
    idempotent per business day, so running this hourly, after a restart, or on two hubs adds nothing.
    """
    now = clock.now()
    day = f"{now.astimezone(CST):%Y-%m-%d}"
    path = folder / f"{day}.json"
    written = None
    if not path.exists():
        head = audit.anchor(app.uow(), taken_at=now)
        if head is None:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(head.to_json(), encoding="utf-8")
        tmp.replace(path)
        log.info("audit anchor written: %s (record %s)", path, head.record_id)
        written = path
    head = audit.Anchor.from_json(path.read_text(encoding="utf-8"))
    if erp_outbound.emit_anchor(app.uow(), head, day):
        log.info("audit anchor of %s queued for the ERP (record %s)", day, head.record_id)
    return written


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
            except Exception as err:  # the database is away: try again next round
                if not HUB_DATABASE.failed(err, "每日审计锚点"):
                    log.exception("audit anchor failed")
            if self.stop_event.wait(self.every):
                return

    def stop(self) -> None:
        self.stop_event.set()
