"""Order intake: keep every payload verbatim, apply only newer versions, quarantine what cannot be read.

One transaction per batch (a page of up to 100 orders), so intake keeps up with a busy shop:
payloads are stored first (deduplicated by hash), then each order is judged against what is
stored (new / newer / same / stale), written in bulk, and changes that reach a picker after
picking started are folded into one open change notice per order.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.db.bulk import copy_rows
from app.db.models import InboundMessage, Order, OrderExtAttr, RawPayload
from app.domain.actor import SYSTEM
from app.domain.clock import CST
from app.domain.errors import NotFound
from app.domain.intake import (InboundOrder, StoredVersion, Verdict, is_interception, judge, merged_seller_note, next_status,
                               platform_moved_receiver, warehouse_changes)
from app.domain.status import OrderStatus
from app.services import audit
from app.services.unit_of_work import DatabaseUnavailable, UnitOfWork, first_line
from app.domain.actor import Actor
from app.services.permissions import require

log = logging.getLogger(__name__)

Normaliser = Callable[[bytes], InboundOrder]
# Page-sized lookups bind one array, not a hundred parameters (compiled once, planned once).
_TEXTS = ARRAY(sa.Text())


@dataclass(frozen=True, slots=True)
class Payload:
    """One inbound payload as received: what kind it is (API name), its bytes and their SHA-256."""

    kind: str
    body: bytes
    sha256: str = ""

    def __post_init__(self) -> None:
        if not self.sha256:  # hashed once: intake looks the hash up several times per payload
            object.__setattr__(self, "sha256", hashlib.sha256(self.body).hexdigest())


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one payload."""

    verdict: str  # new | apply | same | stale | quarantined | duplicate
    platform_order_no: str | None = None
    order_no: str | None = None
    changes: tuple[str, ...] = ()
    interception: bool = False
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    outcomes: tuple[Outcome, ...]

    def count(self, verdict: str) -> int:
        return sum(1 for o in self.outcomes if o.verdict == verdict)

    @property
    def stored(self) -> int:
        return self.count("new") + self.count("apply")


# One statement stores a page: the page's kinds, bodies and hashes go as three arrays, each sent in
# binary (``%b``: the bodies as a binary bytea[], not escaped into text), so the statement has a handful of
# parameters whatever the page size and psycopg converts it once (a multi-row VALUES of 500
# parameters was parsed afresh on every page; SQLAlchemy's ORM bulk insert cost ≈2× more again).
# A payload stored before (same source, same bytes) conflicts and is skipped, so only the new ones
# come back. A push racing a poll with the same bytes waits for the other writer's commit and then
# skips too: nothing is stored twice.
# Each payload is stored already linked to the order it will be applied to (``key``: its platform order
# number, given for the newest version of each order only): the stored order's id, or — for an order not
# stored yet — the id that order will be inserted with, drawn from the orders' sequence here. Linking
# afterwards with an UPDATE wrote every payload row (≈2 KB compressed) a second time, with its WAL and five
# index entries, and left a dead row behind. The foreign key is checked at commit (migration 0051), when
# the new orders exist; a guess intake's judgement overturns (a racing writer stored the order meanwhile,
# or the version turned out stale) is corrected before then by ``_link``.
_STORE_PAYLOADS = ("INSERT INTO raw_payloads (source, shop_id, kind, body, sha256, status, order_id)"
                   " SELECT %s, %s, v.kind, v.body, v.sha256, 'parsed', CASE WHEN v.key IS NOT NULL THEN coalesce("
                   "o.id, nextval((SELECT pg_get_serial_sequence('orders', 'id'))::regclass)) END"
                   " FROM unnest(%b::text[], %b::bytea[], %b::text[], %b::text[]) AS v(kind, body, sha256, key)"
                   " LEFT JOIN orders o ON o.shop_id = %s AND o.platform_order_no = v.key"
                   " ON CONFLICT ON CONSTRAINT uq_raw_payloads_source_sha256 DO NOTHING RETURNING sha256, id, order_id")


def _store_payloads(session: Any, source: str, shop_id: int, payloads: Sequence[Payload],
                    keys: dict[str, str] | None = None) -> dict[str, tuple[int, int | None]]:
    """Insert payloads not seen before; returns sha256 → (payload id, order id linked) for the new ones only.
    ``keys``: sha256 → platform order number of the payloads to store linked to their order."""
    # In hash order: groups committed side by side (app/hub/intake_batcher.py) that share payloads take
    # the unique index's locks in the same order, so they wait for each other instead of deadlocking.
    unique = sorted({p.sha256: p for p in payloads}.values(), key=lambda p: p.sha256)
    if not unique:
        return {}
    keys = keys or {}
    params = (source, shop_id, [p.kind for p in unique], [p.body for p in unique], [p.sha256 for p in unique],
              [keys.get(p.sha256) for p in unique], shop_id)
    # exec_driver_sql: no compiling, but SQLAlchemy's error wrapping (a lost connection is invalidated
    # and becomes DatabaseUnavailable, as on every other statement).
    return {sha: (pid, oid) for sha, pid, oid in session.connection().exec_driver_sql(_STORE_PAYLOADS, params)}


# The receiver as people read it; a station's accepted address change writes exactly these.
_RECEIVER_COLUMNS = ("receiver_name", "receiver_phone", "receiver_phone_tail", "receiver_address", "province", "city",
                     "district")


def _order_row(shop_id: int, inbound: InboundOrder, sha: str) -> dict[str, Any]:
    r = inbound.receiver
    return {
        "platform": inbound.platform, "platform_order_no": inbound.platform_order_no, "shop_id": shop_id,
        "ordered_at": inbound.ordered_at, "paid_at": inbound.paid_at, "customer_id": inbound.customer_id,
        "items": inbound.items_json(), "original_amount": inbound.original_amount, "paid_amount": inbound.paid_amount,
        "status": inbound.status.value, "platform_status": inbound.platform_status, "tracking_no": inbound.tracking_no,
        "receiver_name": r.name, "receiver_phone": r.phone, "receiver_phone_tail": r.phone_tail,
        "receiver_address": r.address, "receiver_token": r.token, "receiver_fingerprint": r.fingerprint, "province": r.province, "city": r.city,
        "district": r.district, "ship_by": inbound.ship_by, "buyer_note": inbound.buyer_note,
        "seller_note": inbound.seller_note, "platform_updated_at": inbound.platform_updated_at, "payload_sha256": sha,
    }


# One question per list page (pollers.py ``known_versions``): the page's order numbers and listed times go
# as two arrays; what comes back are the orders stored at that time or later, with the payload applied.
_STORED_VERSIONS = sa.text(
    "SELECT o.platform_order_no, o.platform_updated_at, o.payload_sha256"
    " FROM unnest(CAST(:nos AS text[]), CAST(:ats AS timestamptz[])) AS v(no, at)"
    " JOIN orders o ON o.shop_id = :shop AND o.platform_order_no = v.no"
    " WHERE o.platform_updated_at >= v.at")


def stored_versions(uow: UnitOfWork, shop_id: int,
                    listed: Sequence[tuple[str, datetime]]) -> dict[str, tuple[datetime, str | None]]:
    """Of ``listed`` (platform order number, modification time as a list page gives it), the orders this shop
    stores at that time or later: number → (stored platform time, SHA-256 of the payload applied).
    A payload that was quarantined left no order row at its time, so its order is not among them."""
    if not listed:
        return {}
    with uow:
        rows = uow.session.execute(_STORED_VERSIONS, {"shop": shop_id, "nos": [no for no, _ in listed],
                                                      "ats": [at for _, at in listed]})
        return {no: (at, sha) for no, at, sha in rows}


def ingest_batch(uow: UnitOfWork, *, shop_id: int, source: str, payloads: Sequence[Payload],
                 normalise: Normaliser, messages: Sequence[tuple[str, str] | None] | None = None,
                 inbox_done: Sequence[Any] = ()) -> BatchResult:
    """Store and apply a batch of payloads from one shop in one transaction.

    A payload that cannot be normalised is kept, marked quarantined with its error, and never
    stops the batch. A payload already stored (same bytes) is a duplicate and changes nothing.
    ``messages`` (pushes): each payload's pushed message ``(msg_id, topic)``, recorded in the same
    transaction; a payload whose message was seen before (or earlier in this batch) is a duplicate
    and is not stored, so a message is recorded exactly when its order detail is.
    ``inbox_done``: claimed push-inbox messages (app/services/push_inbox.py) whose order details these
    payloads are; they are marked done in the same transaction.
    """
    with uow:
        session = uow.session
        repeated = _repeated_messages(session, source, messages) if messages is not None else set()
        # Each distinct payload normalised once, before storing, to know which order it belongs to.
        understood: dict[str, InboundOrder | Exception] = {}
        newest: dict[str, tuple[str, datetime]] = {}  # platform order no → (sha256, time stamp) of its newest version
        for i, p in enumerate(payloads):
            if i in repeated or p.sha256 in understood:
                continue
            try:
                inbound = understood[p.sha256] = normalise(p.body)
            except Exception as err:  # any failure to understand a payload quarantines it, never stops intake
                understood[p.sha256] = err
                continue
            key = inbound.platform_order_no
            if key not in newest or inbound.platform_updated_at >= newest[key][1]:
                newest[key] = (p.sha256, inbound.platform_updated_at)
        fresh = _store_payloads(session, source, shop_id, [p for i, p in enumerate(payloads) if i not in repeated],
                                {sha: key for key, (sha, _) in newest.items()})
        outcomes: list[Outcome | None] = []  # in the payloads' order: the receiver answers each push with its own
        parsed: list[tuple[InboundOrder, str, int]] = []
        positions: list[int] = []
        seen: set[str] = set()
        for i, p in enumerate(payloads):
            sha = p.sha256
            if i in repeated or sha not in fresh or sha in seen:
                outcomes.append(Outcome("duplicate"))
                continue
            seen.add(sha)
            inbound = understood[sha]
            if isinstance(inbound, Exception):
                reason = str(inbound) or type(inbound).__name__
                session.execute(sa.update(RawPayload).where(RawPayload.id == fresh[sha][0])
                                .values(status="quarantined", error=reason[:2000]))
                outcomes.append(Outcome("quarantined", error=reason))
                continue
            parsed.append((inbound, sha, fresh[sha][0]))
            positions.append(len(outcomes))
            outcomes.append(None)
        linked = {pid: oid for pid, oid in fresh.values()}
        for position, outcome in zip(positions, _apply(session, shop_id, parsed, linked), strict=True):
            outcomes[position] = outcome
        done = [o for o in outcomes if o is not None]
        _count_ingested(session, shop_id, sum(1 for o in done if o.verdict in ("new", "apply")))
        if inbox_done:
            from app.services import push_inbox

            push_inbox.mark_done(session, inbox_done)
        uow.commit()
    return BatchResult(tuple(done))


def _apply(session: Any, shop_id: int, parsed: list[tuple[InboundOrder, str, int]],
           linked: dict[int, int | None] | None = None, links_out: dict[int, int | None] | None = None) -> list[Outcome]:
    """Judge and write a page's orders. ``linked``: payload id → the order id it was stored linked to
    (``_store_payloads``; absent: none); afterwards each payload applied is linked to its order and every
    other one to none — or, given ``links_out``, that link is put there for the caller to write."""
    if not parsed:
        return []
    linked = linked or {}
    # Within one batch, only the newest version of each order counts.
    newest: dict[str, tuple[InboundOrder, str, int]] = {}
    for item in parsed:
        key = item[0].platform_order_no
        if key not in newest or item[0].platform_updated_at >= newest[key][0].platform_updated_at:
            newest[key] = item
    stored = {
        o.platform_order_no: o for o in session.execute(
            sa.select(Order).where(Order.shop_id == shop_id,
                                   Order.platform_order_no == sa.any_(sa.literal(list(newest), _TEXTS)))
            .order_by(Order.id).with_for_update()).scalars()
    }
    outcomes: list[Outcome] = []
    inserts: list[tuple[InboundOrder, str, int]] = []
    links: dict[int, int | None] = dict.fromkeys((pid for _, _, pid in parsed), None)  # payload id → its order
    for key, (inbound, sha, payload_id) in newest.items():
        current = stored.get(key)
        version = None if current is None else StoredVersion(
            OrderStatus(current.status), current.platform_updated_at, current.receiver_address,
            tuple(i for i in current.items if not i.get("gift_rule")), current.payload_sha256,
            current.receiver_fingerprint)
        verdict = judge(version, inbound, sha)
        if verdict == Verdict.NEW:
            inserts.append((inbound, sha, payload_id))
        elif verdict == Verdict.APPLY:
            assert current is not None and version is not None
            outcomes.append(_update(session, current, version, inbound, sha, payload_id))
            links[payload_id] = current.id
        else:
            outcomes.append(Outcome(verdict.value, key, current.order_no if current else None))
    outcomes.extend(_insert(session, shop_id, inserts, linked, links))
    if links_out is not None:
        links_out.update(links)
    else:
        _link(session, {pid: oid for pid, oid in links.items() if linked.get(pid) != oid})
    # In the order given; older versions of the same order in this batch were superseded before they were applied.
    chosen = {o.platform_order_no: o for o in outcomes}
    return [chosen[inbound.platform_order_no] if newest[inbound.platform_order_no][2] == pid
            else Outcome("stale", inbound.platform_order_no) for inbound, _, pid in parsed]


_LINK_PAYLOADS = sa.text("UPDATE raw_payloads AS p SET order_id = v.oid FROM unnest(CAST(:pids AS bigint[]),"
                         " CAST(:oids AS bigint[])) AS v(pid, oid) WHERE p.id = v.pid")


def _link(session: Any, links: dict[int, int | None]) -> None:
    """Payloads whose order link differs from the one they were stored with (see ``_STORE_PAYLOADS``): one
    statement for all of them (an executemany would run one per payload). Usually there are none."""
    if links:
        session.execute(_LINK_PAYLOADS, {"pids": list(links), "oids": list(links.values())})


def _insert(session: Any, shop_id: int, inserts: list[tuple[InboundOrder, str, int]], linked: dict[int, int | None],
            links: dict[int, int | None]) -> list[Outcome]:
    """COPY new orders, each with the id its payload was stored linked to (a fresh one where there is none)."""
    if not inserts:
        return []
    missing = sum(1 for _, _, pid in inserts if linked.get(pid) is None)
    drawn = iter(session.scalars(sa.text("SELECT nextval(pg_get_serial_sequence('orders', 'id')) "
                                         "FROM generate_series(1, :n)"), {"n": missing}) if missing else ())
    rows, ext = [], []
    for inbound, sha, payload_id in inserts:
        new_id = linked.get(payload_id) or next(drawn)
        day = inbound.ordered_at.astimezone(CST)  # OH + 下单日 yymmdd (China time) + id; not strftime (≈5 µs an order)
        order_no = f"OH{day.year % 100:02d}{day.month:02d}{day.day:02d}{new_id:06d}"
        rows.append(_order_row(shop_id, inbound, sha) | {"id": new_id, "order_no": order_no, "version": 1})
        ext.extend({"order_id": new_id, "platform": inbound.platform, "key": k, "value": v} for k, v in inbound.ext.items())
        links[payload_id] = new_id
    copy_rows(session, "orders", rows)  # new orders: COPY (triggers still stamp change_seq and NOTIFY)
    copy_rows(session, "order_ext_attrs", ext)
    return [Outcome("new", r["platform_order_no"], r["order_no"]) for r in rows]


def _upsert_ext(session: Any, ext: list[dict[str, Any]]) -> None:
    if ext:
        stmt = pg_insert(OrderExtAttr).values(ext)
        session.execute(stmt.on_conflict_do_update(
            index_elements=[OrderExtAttr.order_id, OrderExtAttr.key],
            set_={"value": stmt.excluded.value, "updated_at": sa.func.now()}))


def _update(session: Any, order: Order, stored: StoredVersion, inbound: InboundOrder, sha: str,
            payload_id: int) -> Outcome:
    changes = warehouse_changes(stored, inbound)
    interception = is_interception(stored, changes)
    before = {"status": order.status, "receiver_address": order.receiver_address, "version": order.version}
    # Gift lines added by a routing rule are ours, not the platform's: keep them.
    added = [dict(i) for i in order.items if i.get("gift_rule")]
    row = _order_row(order.shop_id, inbound, sha)
    # What our people changed stays ours unless the platform changed it too: an address accepted at a
    # station is kept while the platform's receiver is unchanged, and notes written here follow the
    # platform's memo (a shipped order's later versions must not wipe the warehouse's notes).
    if not platform_moved_receiver(stored, inbound):
        for column in _RECEIVER_COLUMNS:
            row.pop(column)
    row["seller_note"] = merged_seller_note(inbound.seller_note, order.seller_note)
    for column, value in row.items():
        setattr(order, column, value)
    if added:
        order.items = order.items + [i | {"line_no": len(order.items) + n} for n, i in enumerate(added, 1)]
    order.status = next_status(stored.status, inbound.status).value
    session.flush()
    _upsert_ext(session, [{"order_id": order.id, "platform": inbound.platform, "key": k, "value": v}
                          for k, v in inbound.ext.items()])
    if "cancel" in changes or "address" in changes:
        # A key change made on the platform: audited with the payload as its basis.
        action = "order.cancel" if "cancel" in changes else "order.address_change"
        audit.record(session, SYSTEM, action, "order", order.order_no, basis=f"平台订单变更（原始报文 #{payload_id}）",
                     before=before, after={"status": order.status, "receiver_address": order.receiver_address,
                                           "version": order.version, "intercept": interception})
    if changes and order.warehouse_id is not None and stored.status in (OrderStatus.ALLOCATING, OrderStatus.PAID):
        _fold_notice(session, order, changes, interception)
    return Outcome("apply", inbound.platform_order_no, order.order_no, tuple(changes), interception)


def _fold_notice(session: Any, order: Order, changes: list[str], interception: bool) -> None:
    """One open notice per order: a fifth change in ten seconds extends it instead of adding another."""
    from app.services import change_notices

    change_notices.fold(session, order, changes, interception=interception, by=f"platform:{order.platform}")


# --- store sales: received at the doors, their orders created afterwards (issue #19) -----------------------
# The doors store a verified sale's bytes as ``pending`` (or ``quarantined`` when they cannot be read) and answer;
# the inbox worker (app/hub/inbox_worker.py) creates the orders later in big groups, off the answer path.
_RECEIVE = ("INSERT INTO raw_payloads (source, shop_id, kind, body, sha256, status, error)"
            " SELECT %s, %s, v.kind, v.body, v.sha256, v.status, v.error"
            " FROM unnest(%b::text[], %b::bytea[], %b::text[], %b::text[], %b::text[]) AS v(kind, body, sha256, status, error)"
            " ON CONFLICT ON CONSTRAINT uq_raw_payloads_source_sha256 DO NOTHING RETURNING sha256")


def receive(engine: sa.Engine, *, shop_id: int, source: str, payloads: Sequence[Payload],
            normalise: Normaliser) -> list[Outcome]:
    """Store pushed sales durably in one statement, their orders to be created by :func:`create_received`.

    The statement is its own transaction (autocommit: no BEGIN and COMMIT round trips for the doors to wait on
    and pay for); it is durable when it returns.

    Per payload, in order: ``accepted`` (stored, pending; ``platform_order_no`` is the sale's number),
    ``duplicate`` (these bytes were received before, or earlier in ``payloads``: nothing stored) or
    ``quarantined`` (unreadable: stored with the reason, no order will be made of it; ``error`` says why).
    Each is read once here (a JSON read, no database) so an unreadable sale is answered as such at once.
    """
    read: dict[str, InboundOrder | Exception] = {}
    for p in payloads:
        if p.sha256 not in read:
            try:
                read[p.sha256] = normalise(p.body)
            except Exception as err:  # any failure to read a sale quarantines it, never stops the others
                read[p.sha256] = err
    # In hash order, like _store_payloads: groups committed side by side take the unique index's locks in one order.
    unique = sorted({p.sha256: p for p in payloads}.values(), key=lambda p: p.sha256)
    errors = [_reason(read[p.sha256]) if isinstance(read[p.sha256], Exception) else None for p in unique]
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            fresh = {sha for (sha,) in conn.exec_driver_sql(_RECEIVE, (
                source, shop_id, [p.kind for p in unique], [p.body for p in unique], [p.sha256 for p in unique],
                ["pending" if e is None else "quarantined" for e in errors], [e[:2000] if e else None for e in errors]))}
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as err:  # as a unit of work says it: nothing was stored
        raise DatabaseUnavailable(detail=first_line(err)) from err
    outcomes, seen = [], set()
    for p in payloads:
        got = read[p.sha256]
        if p.sha256 not in fresh or p.sha256 in seen:
            outcomes.append(Outcome("duplicate"))
        elif isinstance(got, Exception):
            outcomes.append(Outcome("quarantined", error=_reason(got)))
        else:
            outcomes.append(Outcome("accepted", got.platform_order_no))
        seen.add(p.sha256)
    return outcomes


def _reason(err: Exception) -> str:
    return str(err) or type(err).__name__


# Oldest first, from the small partial index of what waits (migration 0052); another hub's worker skips these.
_PENDING = ("SELECT p.id, p.shop_id, s.code, p.source, p.body, p.sha256 FROM raw_payloads p JOIN shops s ON s.id = p.shop_id"
            " WHERE p.status = 'pending' AND (%s::bigint IS NULL OR p.id = %s::bigint)"
            " ORDER BY p.id LIMIT %s FOR UPDATE OF p SKIP LOCKED")
_PENDING_IDS = "SELECT id FROM raw_payloads WHERE status = 'pending' ORDER BY id LIMIT %s"
_REFUSED = ("UPDATE raw_payloads SET status = 'quarantined', error = %s WHERE id = %s AND status = 'pending'")
_SETTLE = ("UPDATE raw_payloads AS p SET status = v.status, error = v.error, order_id = v.oid"
           " FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::bigint[]) AS v(pid, status, error, oid) WHERE p.id = v.pid")


def create_received(uow: UnitOfWork, normaliser: Callable[[str, str], Normaliser], *, limit: int = 500) -> BatchResult:
    """Create the orders of up to ``limit`` received sales (:func:`receive`), oldest first, in one transaction.

    ``normaliser(source, shop code)`` reads a sale. Each payload becomes ``parsed`` and linked to its order (or
    ``quarantined`` with the reason) in the same transaction that creates the order, so a sale's order is
    created exactly once: a worker that dies mid-way leaves its sales pending, taken again by the next.
    A sale whose number is stored already is judged like any later version (same, stale or applied).
    If the database refuses the group (a sale it cannot store, e.g. a sale number too long; not a lost
    connection, which is raised), the sales are created one by one and one still refused after a second try
    is quarantined with the database's reason, so one sale never holds up the others.
    """
    try:
        return _create_received(uow, normaliser, limit, None)
    except (sa.exc.DBAPIError, psycopg.Error) as err:
        if not _refused(err):
            raise
        log.warning("creating %d received sales' orders failed (%s); one by one", limit, first_line(err))
    with uow:
        ids = [pid for (pid,) in uow.session.connection().exec_driver_sql(_PENDING_IDS, (limit,))]
    outcomes: list[Outcome] = []
    for pid in ids:
        for attempt in (1, 2):
            try:
                outcomes += _create_received(uow, normaliser, 1, pid).outcomes
                break
            except (sa.exc.DBAPIError, psycopg.Error) as err:
                if not _refused(err):
                    raise
                if attempt == 2:
                    reason = f"门店销售单无法生成订单（数据库拒绝：{first_line(err)}）"
                    with uow:
                        uow.session.connection().exec_driver_sql(_REFUSED, (reason[:2000], pid))
                        uow.commit()
                    outcomes.append(Outcome("quarantined", error=reason))
    return BatchResult(tuple(outcomes))


def _refused(err: Exception) -> bool:
    """The database refused what was asked (bad data, a racing writer's key), as opposed to being away."""
    lost = (sa.exc.OperationalError, sa.exc.InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
    return not isinstance(err, lost)


def _create_received(uow: UnitOfWork, normaliser: Callable[[str, str], Normaliser], limit: int,
                     only: int | None) -> BatchResult:
    with uow:
        session = uow.session
        rows = session.connection().exec_driver_sql(_PENDING, (only, only, limit)).all()
        by_shop: dict[int, list[Any]] = {}
        for row in rows:
            by_shop.setdefault(row.shop_id, []).append(row)
        outcomes: list[Outcome] = []
        settled: dict[int, tuple[str, str | None, int | None]] = {}  # payload id → (status, error, order id)
        for shop_id, shop_rows in by_shop.items():
            parsed: list[tuple[InboundOrder, str, int]] = []
            for row in shop_rows:
                try:
                    parsed.append((normaliser(row.source, row.code)(bytes(row.body)), row.sha256, row.id))
                except Exception as err:  # read at the doors already; a connector changed since: kept, with why
                    settled[row.id] = ("quarantined", _reason(err)[:2000], None)
                    outcomes.append(Outcome("quarantined", error=_reason(err)))
            links: dict[int, int | None] = {}
            applied = _apply(session, shop_id, parsed, links_out=links)
            settled |= {pid: ("parsed", None, links.get(pid)) for _, _, pid in parsed}
            outcomes += applied
            _count_ingested(session, shop_id, sum(1 for o in applied if o.verdict in ("new", "apply")))
        if settled:
            session.connection().exec_driver_sql(_SETTLE, (
                list(settled), [v[0] for v in settled.values()], [v[1] for v in settled.values()],
                [v[2] for v in settled.values()]))
        uow.commit()
    return BatchResult(tuple(outcomes))


# Written as SQL once: building and compiling the ORM upsert cost ≈1 ms of the hub's CPU per page.
_COUNT_INGESTED = ("INSERT INTO shop_sync_state (shop_id, orders_ingested) VALUES (%s, %s) ON CONFLICT (shop_id)"
                   " DO UPDATE SET orders_ingested = shop_sync_state.orders_ingested + EXCLUDED.orders_ingested")


def _count_ingested(session: Any, shop_id: int, n: int) -> None:
    if n:
        session.connection().exec_driver_sql(_COUNT_INGESTED, (shop_id, n))


def fill_ext(uow: UnitOfWork, order_no: str, values: dict[str, str]) -> None:
    """Extension attributes that arrive after the order, from another API (达人佣金比例 from the
    settlement API, 淘客ID from the affiliate API): added or updated, the order's version bumped so
    stations see the change."""
    with uow:
        order = uow.session.execute(sa.select(Order).where(Order.order_no == order_no).with_for_update()).scalar_one_or_none()
        if order is None:
            raise NotFound(what="order", key=order_no)
        _upsert_ext(uow.session, [{"order_id": order.id, "platform": order.platform, "key": k, "value": v}
                                  for k, v in values.items()])
        order.version += 1  # an ext change is a change of the order: change feed and version move
        uow.commit()


def _repeated_messages(session: Any, source: str, messages: Sequence[tuple[str, str] | None]) -> set[int]:
    """Record the batch's pushed message ids in one statement; the positions of those seen before."""
    named = {m[0]: m[1] for m in messages if m is not None}
    if not named:
        return set()
    stmt = pg_insert(InboundMessage).on_conflict_do_nothing().returning(InboundMessage.msg_id)
    fresh = set(session.scalars(stmt, [{"source": source, "msg_id": k, "topic": t} for k, t in sorted(named.items())]))
    repeated, claimed = set(), set()
    for i, m in enumerate(messages):
        if m is not None:
            if m[0] not in fresh or m[0] in claimed:
                repeated.add(i)
            claimed.add(m[0])
    return repeated


@dataclass(frozen=True, slots=True)
class QuarantinedPayload:
    id: int
    source: str
    shop_id: int | None
    kind: str
    error: str | None
    received_at: datetime
    attempts: int
    size: int


def list_quarantined(uow: UnitOfWork) -> list[QuarantinedPayload]:
    """Payloads waiting in quarantine, newest first."""
    with uow:
        rows = uow.session.execute(
            sa.select(RawPayload.id, RawPayload.source, RawPayload.shop_id, RawPayload.kind, RawPayload.error,
                      RawPayload.received_at, RawPayload.attempts, sa.func.length(RawPayload.body))
            .where(RawPayload.status == "quarantined").order_by(RawPayload.id.desc()))
        return [QuarantinedPayload(*row) for row in rows]


def retry_quarantined(uow: UnitOfWork, payload_id: int, normalise: Normaliser, *, actor: Actor) -> Outcome:
    """Run a quarantined payload through normalisation again (e.g. after a connector fix)."""
    with uow:
        require(uow, actor, "quarantine.retry")
        payload = uow.session.get(RawPayload, payload_id, with_for_update=True)
        if payload is None or payload.status != "quarantined" or payload.shop_id is None:
            raise NotFound(what="payload", key=str(payload_id))
        try:
            inbound = normalise(payload.body)
        except Exception as err:
            payload.attempts += 1
            payload.error = (str(err) or type(err).__name__)[:2000]
            uow.commit()
            return Outcome("quarantined", error=payload.error)
        payload.status = "parsed"
        payload.error = None
        outcome = _apply(uow.session, payload.shop_id, [(inbound, payload.sha256, payload.id)])[0]
        uow.commit()
        return outcome
