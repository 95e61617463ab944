"""Order events to the ERP: endpoints, claiming deliveries in order per order, every attempt logged, dead letters.

The events themselves are written by database triggers in the transaction of the change
(migration 0013), one outbox row per event and endpoint. A delivery is due only when every
earlier delivery of the same order to the same endpoint has gone through, so the ERP sees an
order's events in the order they happened even with several dispatchers and retries. After an
endpoint's last attempt a delivery is a dead letter (outbox status failed) that holds the order's
later events back until an admin replays it.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
import sqlalchemy.orm

from app.db.erp_models import ErpDelivery, ErpDeliveryAttempt, ErpEndpoint
from app.db.models import Order, OutboxMessage
from app.domain.actor import Actor
from app.domain.errors import BusinessError, NotFound
from app.services import audit, outbox
from app.services.permissions import require
from app.services.unit_of_work import UnitOfWork
from connectors.base import Credentials

TOPIC = "erp"
#: Pauses after a failed attempt (the Standard Webhooks example schedule, shortened at the start).
SCHEDULE = (5, 60, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


class SecretStore(Protocol):
    def get(self, ref: str) -> Credentials | None: ...
    def put(self, ref: str, credentials: Credentials) -> None: ...


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: int
    code: str
    name: str
    url: str | None
    events: tuple[str, ...]
    inbound_scheme: str
    secret_ref: str
    enabled: bool
    max_attempts: int


def _endpoint(row: ErpEndpoint) -> Endpoint:
    return Endpoint(row.id, row.code, row.name, row.url, tuple(row.events), row.inbound_scheme, row.secret_ref,
                    row.enabled, row.max_attempts)


def save_endpoint(uow: UnitOfWork, code: str, *, name: str, url: str | None, secret_ref: str,
                  events: tuple[str, ...] = (), inbound_scheme: str = "standard", max_attempts: int = 8,
                  enabled: bool = True, actor: Actor, store: SecretStore | None = None,
                  secret: str | None = None) -> Endpoint:
    """Add or change an endpoint (its secrets live in the credential store under ``secret_ref``). Permission: ``erp.manage``.

    With ``store`` and ``secret`` the secret is put there after the permission check and before the
    commit: a refused person never replaces a secret, and an endpoint never points at a missing one.
    """
    if url is not None and not url.startswith(("http://", "https://")):
        raise BusinessError("ERP_BAD_URL", url=url)
    max_attempts = max(1, max_attempts)
    with uow:
        require(uow, actor, "erp.manage")
        row = uow.session.scalars(sa.select(ErpEndpoint).where(ErpEndpoint.code == code).with_for_update()).first()
        before = None if row is None else {"url": row.url, "events": row.events, "enabled": row.enabled}
        if row is None:
            row = ErpEndpoint(code=code, name=name, secret_ref=secret_ref)
            uow.session.add(row)
        row.name, row.url, row.secret_ref, row.events = name, url, secret_ref, list(events)
        row.inbound_scheme, row.max_attempts, row.enabled = inbound_scheme, max_attempts, enabled
        uow.session.flush()
        if store is not None and secret is not None:
            store.put(secret_ref, Credentials(app_key=code, app_secret=secret))
        audit.record(uow.session, actor, "erp.endpoint_save", "erp_endpoint", code, basis=None, before=before,
                     after={"url": url, "events": list(events), "enabled": enabled, "scheme": inbound_scheme})
        view = _endpoint(row)
        uow.commit()
        return view


def new_signing_secret(scheme: str = "standard") -> str:
    """A fresh secret to give the ERP: ``whsec_`` + base64 for Standard Webhooks, free text for ERPNext."""
    import secrets

    from connectors.erp_webhooks import new_secret

    return secrets.token_hex(24) if scheme == "frappe" else new_secret()


def rotate_secret(uow: UnitOfWork, store: SecretStore, code: str, fresh: str, actor: Actor) -> Endpoint:
    """Give an endpoint a new signing secret, the old one kept as ``previous`` while the ERP catches up. Audited.

    Permission: ``erp.manage``.

    Raises:
        BusinessError: ``ERP_NO_ENDPOINT`` when no endpoint (or no stored secret) has this code.
    """
    with uow:
        require(uow, actor, "erp.manage")
        row = uow.session.scalars(sa.select(ErpEndpoint).where(ErpEndpoint.code == code).with_for_update()).first()
        old = store.get(row.secret_ref) if row is not None else None
        if row is None or old is None:
            raise BusinessError("ERP_NO_ENDPOINT", endpoint=code)
        store.put(row.secret_ref, Credentials(app_key=row.code, app_secret=fresh, extra={"previous": old.app_secret}))
        audit.record(uow.session, actor, "erp.secret_rotated", "erp_endpoint", code, basis=None, before=None,
                     after={"secret_replaced": True})
        view = _endpoint(row)
        uow.commit()
        return view


def endpoints(uow: UnitOfWork) -> list[Endpoint]:
    with uow:
        return [_endpoint(r) for r in uow.session.scalars(sa.select(ErpEndpoint).order_by(ErpEndpoint.code))]


def endpoint(uow: UnitOfWork, code: str) -> Endpoint | None:
    with uow:
        row = uow.session.scalars(sa.select(ErpEndpoint).where(ErpEndpoint.code == code)).first()
        return _endpoint(row) if row else None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A claimed delivery: what to send where. ``webhook_id`` stays the same on every retry."""

    outbox_id: int
    attempt: int
    endpoint_code: str
    url: str
    secret_ref: str
    max_attempts: int
    webhook_id: str
    body: str


ANCHOR_EVENT = "audit.anchor"


def _wants(ep: ErpEndpoint, event_type: str) -> bool:
    return bool(ep.enabled and ep.url) and (not ep.events or event_type in ep.events)


def emit_anchor(uow: UnitOfWork, head: audit.Anchor, day: str) -> int:
    """The day's audit anchor (chain head: record, hash, algorithm, time) as an event to every endpoint that wants it.

    One event per endpoint and business day: the dedupe key names the day, so a job that runs twice,
    or two hubs running it, add nothing the second time. It goes through the outbox like an order's
    events (signed, retried under the same ``webhook-id``, every attempt logged); it belongs to no
    order, so it never waits behind one. Returns how many events were added.
    """
    data = json.loads(head.to_json()) | {"business_day": day}
    added = 0
    with uow:
        s = uow.session
        for ep in s.scalars(sa.select(ErpEndpoint).order_by(ErpEndpoint.code)):
            key = f"erp:{ep.code}:{ANCHOR_EVENT}:{day}"
            if not _wants(ep, ANCHOR_EVENT) or s.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)):
                continue
            event_id = s.scalar(sa.text("SELECT nextval('erp_event_seq')"))
            occurred = s.scalar(sa.text("""SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""))
            payload = {"endpoint": ep.code, "event_id": event_id, "type": ANCHOR_EVENT, "order_no": None,
                       "occurred_at": occurred, "data": data}
            if outbox.enqueue(s, TOPIC, key, payload):  # a racing hub's insert of the same day wins quietly
                outbox_id = s.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key))
                s.add(ErpDelivery(outbox_id=outbox_id, endpoint_id=ep.id, order_id=None, event_id=event_id,
                                  event_type=ANCHOR_EVENT))
                added += 1
        uow.commit()
    return added


def _body(payload: dict[str, Any]) -> str:
    return json.dumps({"type": payload["type"], "timestamp": payload["occurred_at"], "event_id": payload["event_id"],
                       "order_no": payload.get("order_no"), "data": payload.get("data", {})},
                      ensure_ascii=False, separators=(",", ":"))


def _blocked() -> sa.ColumnElement[bool]:
    """An earlier delivery of the same order to the same endpoint has not gone through yet."""
    d2, o2 = sa.orm.aliased(ErpDelivery), sa.orm.aliased(OutboxMessage)
    return sa.exists().where(d2.endpoint_id == ErpDelivery.endpoint_id, d2.order_id == ErpDelivery.order_id,
                             d2.outbox_id < ErpDelivery.outbox_id, o2.id == d2.outbox_id, o2.status != "sent")


def claim(uow: UnitOfWork, *, limit: int = 100, lease: timedelta = timedelta(minutes=2),
          now: datetime | None = None) -> list[Delivery]:
    """Take due deliveries, at most one per order and endpoint, none behind an undelivered earlier one."""
    with uow:
        s = uow.session
        at = now or s.scalar(sa.select(sa.func.now()))
        rows = s.execute(
            sa.select(OutboxMessage, ErpEndpoint)
            .join(ErpDelivery, ErpDelivery.outbox_id == OutboxMessage.id)
            .join(ErpEndpoint, ErpEndpoint.id == ErpDelivery.endpoint_id)
            .where(OutboxMessage.topic == TOPIC, OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= at,
                   ErpEndpoint.enabled.is_(True), ErpEndpoint.url.is_not(None), ~_blocked())
            .order_by(OutboxMessage.id).limit(limit).with_for_update(of=OutboxMessage, skip_locked=True)).all()
        out = []
        for msg, ep in rows:
            msg.attempts += 1
            msg.next_attempt_at = at + lease
            out.append(Delivery(msg.id, msg.attempts, ep.code, ep.url, ep.secret_ref, ep.max_attempts,
                                f"msg_{msg.payload['event_id']}", _body(msg.payload)))
        uow.commit()
        return out


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt went, as the sender saw it."""

    ok: bool
    http_status: int | None
    duration_ms: int
    excerpt: str
    error: str | None
    retry_after: float | None = None
    gone: bool = False


def _settle_failed(s: Any, delivery: Delivery, o: Outcome) -> str:
    pause = SCHEDULE[min(delivery.attempt - 1, len(SCHEDULE) - 1)] * (0.8 + random.random() * 0.4)
    final = o.gone or delivery.attempt >= delivery.max_attempts
    reason = f"第 {delivery.attempt} 次：{o.error or f'HTTP {o.http_status}'}"
    if o.excerpt:
        reason += f"；对方回复：{o.excerpt[:120]}"
    return outbox.settle(s, delivery.outbox_id, sent=False, error=reason, final=final,
                         retry_after=max(o.retry_after or 0, pause))


def record_attempts(uow: UnitOfWork, results: list[tuple[Delivery, Outcome]]) -> list[str]:
    """Log a round's attempts and settle each delivery (sent, back in the queue with backoff, or dead), in one
    transaction. Should it not commit, the leases run out and the deliveries go again under the same
    webhook ids, which the ERP recognises."""
    with uow:
        s = uow.session
        s.execute(sa.insert(ErpDeliveryAttempt), [
            {"outbox_id": d.outbox_id, "attempt": d.attempt, "ok": o.ok, "http_status": o.http_status,
             "duration_ms": o.duration_ms, "excerpt": o.excerpt[:300] or None, "error": o.error} for d, o in results])
        sent = sorted(d.outbox_id for d, o in results if o.ok)
        if sent:  # the common case, in one statement: status, time, no error
            s.execute(sa.update(OutboxMessage).where(OutboxMessage.id.in_(sent))
                      .values(status="sent", sent_at=sa.func.now(), last_error=None))
        failed = {d.outbox_id: _settle_failed(s, d, o) for d, o in sorted(results, key=lambda r: r[0].outbox_id)
                  if not o.ok}
        uow.commit()
        return [failed.get(d.outbox_id, "sent") for d, _ in results]


def record_attempt(uow: UnitOfWork, delivery: Delivery, outcome: Outcome) -> str:
    """Log one attempt and settle its delivery."""
    return record_attempts(uow, [(delivery, outcome)])[0]


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """A delivery as an admin sees it (dead letters, an order's story)."""

    outbox_id: int
    endpoint_code: str
    event_type: str
    order_no: str | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime


def _rows(s: Any, where: Any, limit: int) -> list[DeliveryRow]:
    q = (sa.select(OutboxMessage.id, ErpEndpoint.code, ErpDelivery.event_type, Order.order_no, OutboxMessage.status,
                   OutboxMessage.attempts, OutboxMessage.last_error, OutboxMessage.created_at, OutboxMessage.sent_at,
                   OutboxMessage.next_attempt_at)
         .join(ErpDelivery, ErpDelivery.outbox_id == OutboxMessage.id)
         .join(ErpEndpoint, ErpEndpoint.id == ErpDelivery.endpoint_id)
         .outerjoin(Order, Order.id == ErpDelivery.order_id)
         .where(where).order_by(OutboxMessage.id.desc()).limit(limit))
    return [DeliveryRow(*r) for r in s.execute(q)]


def anchor_deliveries(uow: UnitOfWork, *, limit: int = 7) -> list[DeliveryRow]:
    """The daily audit anchors sent to the ERP, newest first (sent, waiting or failed)."""
    with uow:
        return _rows(uow.session, ErpDelivery.event_type == ANCHOR_EVENT, limit)


def dead_letters(uow: UnitOfWork, *, limit: int = 200) -> list[DeliveryRow]:
    """Deliveries that used up their attempts, newest first, with the last reason."""
    with uow:
        return _rows(uow.session, OutboxMessage.status == "failed", limit)


def deliveries(uow: UnitOfWork, *, order_no: str | None = None, limit: int = 200) -> list[DeliveryRow]:
    """Deliveries newest first, all or one order's."""
    with uow:
        where = Order.order_no == order_no if order_no else OutboxMessage.topic == TOPIC
        return _rows(uow.session, where, limit)


@dataclass(frozen=True, slots=True)
class AttemptRow:
    attempt: int
    at: datetime
    ok: bool
    http_status: int | None
    duration_ms: int
    excerpt: str | None
    error: str | None


def attempts(uow: UnitOfWork, outbox_id: int) -> list[AttemptRow]:
    """Every attempt of one delivery, oldest first."""
    with uow:
        rows = uow.session.scalars(sa.select(ErpDeliveryAttempt).where(ErpDeliveryAttempt.outbox_id == outbox_id)
                                   .order_by(ErpDeliveryAttempt.id))
        return [AttemptRow(r.attempt, r.at, r.ok, r.http_status, r.duration_ms, r.excerpt, r.error) for r in rows]


def replay(uow: UnitOfWork, outbox_id: int, actor: Actor, *, basis: str | None = None) -> DeliveryRow:
    """Send a dead letter again, with a fresh round of attempts (an admin fixed the cause). Audited.

    Permission: ``erp.manage`` (the cause is usually the endpoint's address or secret, an admin's fix).

    Raises:
        NotFound: no ERP delivery has this number.
    """
    with uow:
        require(uow, actor, "erp.manage")
        s = uow.session
        row = s.get(OutboxMessage, outbox_id, with_for_update=True)
        if row is None or row.topic != TOPIC:
            raise NotFound(what="ERP推送", key=str(outbox_id))
        before = {"status": row.status, "attempts": row.attempts, "last_error": row.last_error}
        if row.status == "failed":
            row.status, row.attempts, row.next_attempt_at = "pending", 0, sa.func.now()
            audit.record(s, actor, "erp.webhook_replay", "outbox", str(outbox_id), basis=basis, before=before,
                         after={"status": "pending"})
        s.flush()
        view = _rows(s, OutboxMessage.id == outbox_id, 1)[0]
        uow.commit()
        return view
