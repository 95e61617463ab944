"""Writes the demo company into the database: COPY for the rows, the audit service for the audit trail."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.db import migrate
from app.db.bulk import copy_rows
from app.db.models import Base, Order
from app.demo.after_sales_flows import FLOWS as AFTER_SALES_FLOWS
from app.demo.company import generate
from app.demo.rules import ADMIN, seed_rules
from app.domain.actor import Actor
from app.domain.fields import Lang, code_label
from app.domain.messages import render
from app.services import after_sales_flows, audit, routing

if TYPE_CHECKING:
    from app.bootstrap import OrderHub

# Insert order: parents before children. Tables whose ids the generator assigns get their
# sequence moved past the highest id afterwards.
TABLES = ("users", "shops", "warehouses", "platform_field_defs", "skus", "bins", "stock", "orders",
          "order_ext_attrs", "shipments", "tracking_events", "scan_log", "invoices", "after_sales_cases", "raw_payloads", "outbox")


@dataclass(frozen=True)
class SeedReport:
    """What seeding did: whether it created anything, how long it took, and what is there now."""

    created: bool
    seconds: float
    counts: dict[str, int]
    seed: int | None = None
    anchor: datetime | None = None


def _counts(session: Any) -> dict[str, int]:
    return {t: int(session.scalar(sa.text(f"SELECT count(*) FROM {t}")) or 0) for t in (*TABLES, "audit_log")}


def reset_database(hub: OrderHub) -> None:
    """Drop every OrderHub table (the audit trail too) and migrate from empty. Demo use only."""
    with hub.engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate.upgrade(hub.engine)


def seed_demo(hub: OrderHub, *, seed: int = 20261125, n_orders: int = 3000, reset: bool = False,
              anchor: datetime | None = None) -> SeedReport:
    """Seed the demo company into an empty database; a database with orders is left as it is."""
    started = time.perf_counter()
    if reset:
        reset_database(hub)
    with hub.uow() as uow:
        if uow.session.scalar(sa.select(sa.func.count()).select_from(Order)):
            return SeedReport(False, time.perf_counter() - started, _counts(uow.session))
    anchor = anchor or datetime.now(UTC).replace(second=0, microsecond=0)
    company = generate(seed, anchor, n_orders)
    with hub.uow() as uow:
        session = uow.session
        for table in TABLES:
            copy_rows(session, table, company.tables.get(table, []))
        for table in TABLES:
            column = Base.metadata.tables[table].c.get("id")
            if column is not None and column.autoincrement and company.tables.get(table):
                session.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        seed_rules(session)  # the brand's routing rules, as saved in the rule editor (audited)
        for row in company.audit:
            actor = Actor(row["operator"], row["station"], row["station_ip"])
            audit.record(session, actor, row["action"], row["entity_type"], row["entity_id"],
                         basis=row["basis"], before=row["before"], after=row["after"])
        uow.commit()
    # The after-sales flows, saved by the admin as version 1 (the demo's open cases run on them).
    for definition in AFTER_SALES_FLOWS:
        after_sales_flows.save(hub.uow(), definition, ADMIN, note="演示公司初始售后流程")
    # Orders being picked get their warehouse and reservation from the real rules, as the hub would.
    routing.route_orders(hub.uow(), company.to_route, Actor("system:demo", "demo"))
    with hub.uow() as uow:
        return SeedReport(True, time.perf_counter() - started, _counts(uow.session), seed, anchor)


SUMMARY = ("shops", "warehouses", "bins", "skus", "orders", "shipments", "tracking_events", "invoices",
           "after_sales_cases", "audit_log", "raw_payloads")


def describe(report: SeedReport, lang: Lang = "zh") -> str:
    """A business-language summary of the seeded company."""
    sep = "，" if lang == "zh" else ", "
    counts = sep.join(f"{code_label('entity', k, lang)} {report.counts.get(k, 0):,}" for k in SUMMARY)
    head = (render("DEMO_SEEDED", lang, seed=report.seed, seconds=report.seconds) if report.created
            else render("DEMO_EXISTS", lang))
    return f"{head}\n{counts}"
