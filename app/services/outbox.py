"""The outbox: everything the hub sends out or hands to a person, written in the same transaction
as the change that caused it, sent at least once, never twice for one event.

A message's ``dedupe_key`` names its event (``sms:<case>:<step seq>:<template>``); a second
enqueue for the same event is ignored. Senders *claim* due messages with a lease (the row's next
attempt moves into the future and its attempt count goes up, committed before anything is sent),
so two dispatchers never send the same message at once, and one that dies mid-send leaves the
message to be retried when the lease runs out — the sender then checks with the far side whether
the first try got through before trying again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.db.models import OutboxMessage
from app.domain.actor import Actor
from app.domain.errors import NotFound
from app.services.unit_of_work import UnitOfWork
from app.services.permissions import require

#: Retry pauses after a transient failure: 30 s, 1 min, 2 min … capped at 30 min.
BASE_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(minutes=30)
#: Give up (status failed, visible to admins, retryable by hand) after this many attempts.
MAX_ATTEMPTS = 12


def enqueue(session: Session, topic: str, dedupe_key: str, payload: dict[str, Any]) -> bool:
    """Add a message in the caller's transaction; False when that event already has one."""
    stmt = pg_insert(OutboxMessage).values(topic=topic, dedupe_key=dedupe_key, payload=payload)
    # RETURNING, not rowcount: the driver may report -1 (truthy) for an insert that did nothing
    added = session.execute(stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(OutboxMessage.id))
    return added.scalar_one_or_none() is not None


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    topic: str
    dedupe_key: str
    payload: dict[str, Any]
    attempts: int  # including this one: > 1 means an earlier try may have got through


def claim(uow: UnitOfWork, topic: str, *, limit: int = 50, lease: timedelta = timedelta(minutes=2),
          now: datetime | None = None) -> list[Claimed]:
    """Take up to ``limit`` due messages of ``topic`` for sending (committed before returning)."""
    with uow:
        at = now or uow.session.scalar(sa.select(sa.func.now()))
        rows = uow.session.execute(
            sa.select(OutboxMessage).where(OutboxMessage.topic == topic, OutboxMessage.status == "pending",
                                           OutboxMessage.next_attempt_at <= at)
            .order_by(OutboxMessage.id).limit(limit).with_for_update(skip_locked=True)).scalars().all()
        out = []
        for row in rows:
            row.attempts += 1
            row.next_attempt_at = at + lease
            out.append(Claimed(row.id, row.topic, row.dedupe_key, dict(row.payload), row.attempts))
        uow.commit()
        return out


def settle(session: Session, outbox_id: int, *, sent: bool, error: str | None = None, final: bool = False,
           retry_after: float | None = None) -> str:
    """Record how a claimed message went: sent; or failed for good; or back in the queue with backoff.

    Returns the message's new ``outbox_status`` code.
    """
    row = session.get(OutboxMessage, outbox_id, with_for_update=True)
    if row is None:
        raise NotFound(what="outbox", key=str(outbox_id))
    now = session.scalar(sa.select(sa.func.now()))
    if sent:
        row.status, row.sent_at, row.last_error = "sent", now, None
    elif final or row.attempts >= MAX_ATTEMPTS:
        row.status, row.last_error = "failed", error
    else:
        pause = timedelta(seconds=retry_after) if retry_after else min(MAX_RETRY, BASE_RETRY * 2 ** (row.attempts - 1))
        row.status, row.last_error, row.next_attempt_at = "pending", error, now + pause
    return row.status


def _locked(uow: UnitOfWork, outbox_id: int) -> OutboxMessage:
    row = uow.session.get(OutboxMessage, outbox_id, with_for_update=True)
    if row is None:
        raise NotFound(what="outbox", key=str(outbox_id))
    return row


def retry(uow: UnitOfWork, outbox_id: int, actor: Actor) -> None:
    """Put a failed message back in the queue now (an admin fixed the cause)."""
    with uow:
        require(uow, actor, "outbox.retry")
        row = _locked(uow, outbox_id)
        if row.status == "failed":
            row.status, row.next_attempt_at = "pending", sa.func.now()
        uow.commit()


def acknowledge(uow: UnitOfWork, outbox_id: int, actor: Actor) -> None:
    """A message meant for people (procurement alert, customer-service notice) was read and handled."""
    with uow:
        require(uow, actor, "outbox.acknowledge")
        row = _locked(uow, outbox_id)
        if row.status == "pending":
            row.status, row.sent_at = "sent", sa.func.now()
            row.payload = {**row.payload, "handled_by": actor.operator}
        uow.commit()


def listing(uow: UnitOfWork, *, topics: tuple[str, ...] = (), statuses: tuple[str, ...] = (),
            limit: int = 200) -> list[dict[str, Any]]:
    """Messages newest first, optionally of some topics / statuses (for the app and the CLI)."""
    with uow:
        q = sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        if topics:
            q = q.where(OutboxMessage.topic.in_(topics))
        if statuses:
            q = q.where(OutboxMessage.status.in_(statuses))
        return [{"id": r.id, "topic": r.topic, "dedupe_key": r.dedupe_key, "payload": dict(r.payload),
                 "status": r.status, "attempts": r.attempts, "last_error": r.last_error, "created_at": r.created_at,
                 "sent_at": r.sent_at, "next_attempt_at": r.next_attempt_at}
                for r in uow.session.scalars(q)]
