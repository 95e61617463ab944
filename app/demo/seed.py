"""Writes the demo company into the database: COPY for the rows, the audit service for the audit trail."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
          "order_ext_attrs", "shipments", "tracking_events", "scan_log", "invoices", "after_sales_cases", "raw_payloads", "outbox",
          "shop_sync_state")


# The steps that bring a demo case from 客户已申请 to the state the generator gave it, as the flows
# in app/demo/after_sales_flows.py take them.
CASE_PATHS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("exchange", "out_of_stock"): (("check_stock", "out_of_stock"),),
    ("exchange", "exchange_created"): (("check_stock", "exchange_created"),),
    ("exchange", "closed"): (("check_stock", "exchange_created"), ("close", "closed")),
    ("return_refund", "awaiting_return"): (("approve", "awaiting_return"),),
    ("return_refund", "received"): (("approve", "awaiting_return"), ("receive", "received")),
    ("return_refund", "refunded"): (("approve", "awaiting_return"), ("receive", "received"), ("inspect", "inspected"),
                                    ("refund", "refunded")),
    ("return_refund", "closed"): (("approve", "awaiting_return"), ("receive", "received"), ("inspect", "inspected"),
                                  ("refund", "refunded"), ("close", "closed")),
    ("refund_only", "refunded"): (("refund", "refunded"),),
    ("refund_only", "closed"): (("refund", "refunded"), ("close", "closed")),
    ("reship", "reshipped"): (("approve", "reshipped"),),
    ("reship", "closed"): (("approve", "reshipped"), ("close", "closed")),
}


def _case_history(session: Any) -> None:
    """Each demo case's steps so far: opened when the customer asked, then its path, spread from the
    first response to closing (or to the first response for open cases)."""
    rows = session.execute(sa.text("SELECT id, kind, state, flow_version, created_by, reason, requested_at, "
                                   "first_response_at, closed_at FROM after_sales_cases ORDER BY id")).mappings()
    events = []
    now = session.scalar(sa.select(sa.func.now()))
    for c in rows:
        events.append({"case_id": c["id"], "seq": 1, "step": "open", "from_state": None, "to_state": "requested",
                       "flow_version": c["flow_version"], "operator": c["created_by"], "basis": c["reason"],
                       "occurred_at": c["requested_at"]})
        path = CASE_PATHS.get((c["kind"], c["state"]), ())
        first = c["first_response_at"] or c["requested_at"]
        last = c["closed_at"] or min(first + timedelta(hours=20), now)
        before = "requested"
        for n, (step, to) in enumerate(path):
            at = first + (last - first) * (n / max(1, len(path) - 1)) if len(path) > 1 else first
            events.append({"case_id": c["id"], "seq": n + 2, "step": step, "from_state": before, "to_state": to,
                           "flow_version": c["flow_version"], "operator": c["created_by"], "basis": None,
                           "occurred_at": at})
            before = to
    if events:
        session.execute(sa.text(
            "INSERT INTO after_sales_events (case_id, seq, step, from_state, to_state, flow_version, operator, station, "
            "basis, occurred_at) VALUES (:case_id, :seq, :step, :from_state, :to_state, :flow_version, :operator, "
            "'客服工作台-01', :basis, :occurred_at)"), events)


DEMO_PASSWORD = "demo1234"
"""Every demo person signs in with this password (the demo's sign-in screen says so)."""
_demo_hash: list[str] = []


def _add_people(session: Any, users: list[dict[str, Any]]) -> None:
    """The demo's people, with the demo password; a login already there is left as it is."""
    from app.services.auth import hash_password

    if not _demo_hash:
        _demo_hash.append(hash_password(DEMO_PASSWORD))  # one argon2 hash per process: seeding stays quick
    if users:
        session.execute(sa.text("INSERT INTO users (login, display_name, role, password_hash) VALUES (:login, "
                                ":display_name, :role, :h) ON CONFLICT (login) DO NOTHING"),
                        [{"login": u["login"], "display_name": u["display_name"], "role": u["role"], "h": _demo_hash[0]}
                         for u in users])


def _give_passwords(session: Any) -> None:
    from app.demo.company import catalogue

    logins = [u["login"] for u in catalogue()["users"]]
    if session.scalar(sa.text("SELECT count(*) FROM users WHERE password_hash IS NULL AND login = ANY(:l)"),
                      {"l": logins}):
        from app.services.auth import hash_password

        session.execute(sa.text("UPDATE users SET password_hash = :h WHERE password_hash IS NULL AND login = ANY(:l)"),
                        {"h": hash_password(DEMO_PASSWORD), "l": logins})


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
            _give_passwords(uow.session)  # a demo seeded before sign-in had passwords can still be signed in to
            uow.commit()
            return SeedReport(False, time.perf_counter() - started, _counts(uow.session))
    anchor = anchor or datetime.now(UTC).replace(second=0, microsecond=0)
    company = generate(seed, anchor, n_orders)
    with hub.uow() as uow:
        session = uow.session
        _add_people(session, company.tables.get("users", []))
        for table in TABLES[1:]:  # users first, by login (a company's own people may be there already)
            copy_rows(session, table, company.tables.get(table, []))
        for table in TABLES[1:]:
            column = Base.metadata.tables[table].c.get("id")
            if column is not None and column.autoincrement and company.tables.get(table):
                session.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        # the platform's side of 状态一致性: a few shipped orders the platform still shows as 待发货
        session.execute(sa.text(
            "UPDATE order_outside_status x SET stage = 'paid', raw_status = NULL FROM orders o "
            "WHERE o.id = x.order_id AND x.source = 'platform' AND o.order_no = ANY(:nos)"),
            {"nos": company.platform_behind})
        seed_rules(session)  # the brand's routing rules, as saved in the rule editor (audited)
        for row in company.audit:
            actor = Actor(row["operator"], row["station"], row["station_ip"])
            audit.record(session, actor, row["action"], row["entity_type"], row["entity_id"],
                         basis=row["basis"], before=row["before"], after=row["after"])
        uow.commit()
    # The after-sales flows, saved by the admin as version 1 (the demo's open cases run on them).
    for definition in AFTER_SALES_FLOWS:
        after_sales_flows.save(hub.uow(), definition, ADMIN, note="演示公司初始售后流程")
    with hub.uow() as uow:  # the demo's cases come with their history so far, as if worked through the flows
        _case_history(uow.session)
        uow.commit()
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
