"""The push inbox: a platform's signed notification is stored when answered; its order's detail is fetched after.

A push only says "order X changed". The doors verify it and store the message (``inbound_messages``,
state ``pending``) in one group commit, and answer 200 only after that commit; the inbox worker
(app/hub/inbox_worker.py) then claims pending messages, fetches each named order's detail once,
and ingests it with the messages marked ``done`` in the same transaction. A fetch that fails leaves
its messages pending with the reason and a time to try again; every attempt is kept for the order's
story. A claim is a lease (``next_try_at``, empty until the first claim, moves ahead), so a hub that dies mid-fetch leaves its
messages to be claimed again, never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.db.models import InboundMessage, InboundMessageAttempt
from app.services.unit_of_work import UnitOfWork

Message = tuple[str, str, str]  # a pushed message's (msg_id, topic, platform order no)

_STORE = pg_insert(InboundMessage).on_conflict_do_nothing().returning(InboundMessage.msg_id)


def store(uow: UnitOfWork, shop_id: int, source: str, messages: Sequence[Message]) -> list[bool]:
    """Record pushed messages as pending in one statement; per message, True if it was new.

    A message seen before (or earlier in ``messages``) is a repeat: it stores nothing and its sender
    is answered as for the first, which is pending or done already.
    """
    with uow:
        fresh = _insert(uow.session, shop_id, source, messages)
        uow.commit()
    seen: set[str] = set()
    new = []
    for msg_id, _, _ in messages:
        new.append(msg_id in fresh and msg_id not in seen)
        seen.add(msg_id)
    return new


def _insert(session: Any, shop_id: int, source: str, messages: Sequence[Message]) -> set[str]:
    # In msg_id order: two groups in flight that share messages take their row locks in the same order.
    unique = sorted({m[0]: m for m in messages}.values())
    if not unique:
        return set()
    return set(session.scalars(_STORE, [
        {"source": source, "msg_id": msg_id, "topic": topic, "shop_id": shop_id, "platform_order_no": order_no,
         "state": "pending"} for msg_id, topic, order_no in unique]))


@dataclass(frozen=True, slots=True)
class Claimed:
    """A pending message a worker now holds for ``lease`` seconds."""

    id: int
    shop_id: int
    source: str
    msg_id: str
    platform_order_no: str
    attempt: int  # this fetch's number, from 1
    received_at: datetime


_CLAIM = sa.text(
    "UPDATE inbound_messages m SET attempts = m.attempts + 1, next_try_at = now() + make_interval(secs => :lease)"
    " FROM (SELECT id FROM inbound_messages WHERE state = 'pending' AND (next_try_at IS NULL OR next_try_at <= now())"
    "       ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED) due"
    " WHERE m.id = due.id"
    " RETURNING m.id, m.shop_id, m.source, m.msg_id, m.platform_order_no, m.attempts, m.received_at")


def claim(uow: UnitOfWork, *, limit: int = 200, lease: float = 30.0) -> list[Claimed]:
    """Take up to ``limit`` due messages, oldest first; others (another hub's worker) skip them meanwhile."""
    with uow:
        rows = uow.session.execute(_CLAIM, {"n": limit, "lease": lease}).all()
        uow.commit()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


def mark_done(session: Any, claimed: Sequence[Claimed]) -> None:
    """In the transaction that stores the fetched detail: the messages are done and the attempt recorded."""
    if not claimed:
        return
    ids = [c.id for c in claimed]
    session.execute(sa.update(InboundMessage).where(InboundMessage.id.in_(ids))
                    .values(state="done", done_at=sa.func.now(), next_try_at=None))
    session.execute(sa.insert(InboundMessageAttempt),
                    [{"message_id": c.id, "attempt": c.attempt, "ok": True} for c in claimed])


def failed(uow: UnitOfWork, claimed: Sequence[Claimed], reason: str, retry_in: float) -> None:
    """A fetch that failed: the messages stay pending with the reason, due again in ``retry_in`` seconds."""
    if not claimed:
        return
    with uow:
        session = uow.session
        session.execute(sa.update(InboundMessage).where(InboundMessage.id.in_([c.id for c in claimed]))
                        .values(last_error=reason[:2000],
                                next_try_at=sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, retry_in)))
        session.execute(sa.insert(InboundMessageAttempt),
                        [{"message_id": c.id, "attempt": c.attempt, "ok": False, "error": reason[:2000]} for c in claimed])
        uow.commit()


@dataclass(frozen=True, slots=True)
class InboxCounts:
    pending: int
    failing: int  # pending with a failed attempt behind them
    oldest_pending_s: float | None


def counts(uow: UnitOfWork) -> InboxCounts:
    """How the inbox stands (the hub's status line, drills)."""
    with uow:
        row = uow.session.execute(sa.text(
            "SELECT count(*), count(last_error), extract(epoch FROM now() - min(received_at))"
            " FROM inbound_messages WHERE state = 'pending'")).one()
    return InboxCounts(row[0], row[1], float(row[2]) if row[2] is not None else None)
