"""Group commit for pushes: pushes that arrive together are stored in one transaction, each answered on its own.

One push per transaction costs ~40 ms on a loaded two-core server (the commit and the triggers);
fifty in one transaction cost ~2 ms each. Each shop gets one thread (a lane) that takes whatever
pushes are waiting (up to ``max_batch``), ingests them with one ``ingest_batch`` and hands every
push its own outcomes. Store sales (``/pos/``) and platform pushes (``/push/``, whose pushed
message ids are recorded in the same transaction as the order detail they brought) go through
the same lanes. The sender gets its answer only after its push is committed, so nothing answered
200 can be lost. If a group fails as a whole (a database error), its pushes are retried one by
one so one poison push cannot fail the others; a push that still fails gets the error (the doors
answer 5xx) and its sender retries.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from app.bootstrap import OrderHub
from app.services import ingest

log = logging.getLogger(__name__)

Message = tuple[str, str]  # a pushed message's (msg_id, topic)
AfterCommit = Callable[[str, ingest.BatchResult], None]  # (source, what the group stored)


@dataclass(frozen=True, slots=True)
class _Push:
    payloads: Sequence[ingest.Payload]
    messages: Sequence[Message | None]
    normalise: ingest.Normaliser
    future: Future[list[ingest.Outcome]] = field(default_factory=Future)


class _ShopLane(threading.Thread):
    def __init__(self, app: OrderHub, shop_id: int, source: str, max_batch: int, after: AfterCommit | None) -> None:
        super().__init__(name=f"intake-{shop_id}-{source}", daemon=True)
        self.app, self.shop_id, self.source, self.max_batch, self.after = app, shop_id, source, max_batch, after
        self.waiting: queue.SimpleQueue[_Push | None] = queue.SimpleQueue()

    def run(self) -> None:
        while (first := self.waiting.get()) is not None:
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self.waiting.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self.waiting.put(None)  # finish this batch, then stop
                    break
                batch.append(item)
            self._ingest(batch)

    def _ingest(self, batch: list[_Push]) -> None:
        by_body: dict[bytes, ingest.Normaliser] = {}
        for push in batch:
            for payload in push.payloads:
                by_body.setdefault(payload.body, push.normalise)
        messages = [m for push in batch for m in push.messages]
        try:
            result = ingest.ingest_batch(self.app.uow(), shop_id=self.shop_id, source=self.source,
                                         payloads=[p for push in batch for p in push.payloads],
                                         normalise=lambda body: by_body[body](body),
                                         messages=messages if any(messages) else None)
        except Exception as err:  # a database error: isolate it, one transaction per push
            if len(batch) > 1:
                log.warning("intake group of %d pushes failed; retrying one by one", len(batch), exc_info=True)
                for push in batch:
                    self._ingest([push])
            else:
                batch[0].future.set_exception(err)
            return
        outcomes = iter(result.outcomes)
        for push in batch:  # answered now: committed
            push.future.set_result([next(outcomes) for _ in push.payloads])
        if self.after is not None:
            try:
                self.after(self.source, result)
            except Exception:  # stored and answered already; what follows (routing) catches up on its own
                log.exception("after-intake step failed")


class IntakeBatcher:
    """Ingests pushed payloads shop by shop in group-committed batches; ``submit`` waits for its own outcomes.

    ``after`` runs in the lane once a group is committed and answered (the hub routes what changed).
    """

    def __init__(self, app: OrderHub, *, max_batch: int = 200, timeout: float = 60.0,
                 after: AfterCommit | None = None) -> None:
        self.app, self.max_batch, self.timeout, self.after = app, max_batch, timeout, after
        self._lanes: dict[tuple[int, str], _ShopLane] = {}
        self._lock = threading.Lock()

    def submit(self, shop_id: int, source: str, normalise: ingest.Normaliser, payload: ingest.Payload) -> ingest.Outcome:
        """One payload (a store sale); its outcome once committed."""
        return self.submit_many(shop_id, source, normalise, [payload])[0]

    def submit_many(self, shop_id: int, source: str, normalise: ingest.Normaliser, payloads: Sequence[ingest.Payload],
                    messages: Sequence[Message | None] | None = None) -> list[ingest.Outcome]:
        """One push's payloads (and the pushed messages that brought them), stored together; their outcomes.

        Raises:
            Exception: the database error that kept the push from being stored (nothing of it was).
        """
        if not payloads:
            return []
        return self.enqueue(shop_id, source, normalise, payloads, messages).result(self.timeout)

    async def stored(self, shop_id: int, source: str, normalise: ingest.Normaliser, payloads: Sequence[ingest.Payload],
                     messages: Sequence[Message | None] | None = None) -> list[ingest.Outcome]:
        """:meth:`submit_many` for the event loop: awaits the commit without holding a thread."""
        if not payloads:
            return []
        future = asyncio.wrap_future(self.enqueue(shop_id, source, normalise, payloads, messages))
        # shield: a timeout must not cancel the push under the lane (it may be committing); like submit_many's
        # result(timeout), the waiter gives up and the sender, answered 5xx, resends (stored once).
        return await asyncio.wait_for(asyncio.shield(future), self.timeout)

    def enqueue(self, shop_id: int, source: str, normalise: ingest.Normaliser, payloads: Sequence[ingest.Payload],
                messages: Sequence[Message | None] | None = None) -> Future[list[ingest.Outcome]]:
        """Hands a push to its shop's lane; the future is resolved once it is committed (or failed)."""
        key = (shop_id, source)
        with self._lock:
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = _ShopLane(self.app, shop_id, source, self.max_batch, self.after)
                lane.start()
        push = _Push(list(payloads), list(messages) if messages is not None else [None] * len(payloads), normalise)
        lane.waiting.put(push)
        return push.future

    def stop(self) -> None:
        with self._lock:
            lanes, self._lanes = list(self._lanes.values()), {}
        for lane in lanes:
            lane.waiting.put(None)
        for lane in lanes:
            lane.join(10)
