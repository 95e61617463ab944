"""Group commit for pushes: pushes that arrive together are stored in one transaction, each answered on its own.

One push per transaction costs ~40 ms on a loaded two-core server (the commit and the triggers);
fifty in one transaction cost ~2 ms each. Each shop gets a lane: a queue and ``in_flight`` threads
that each take whatever pushes are waiting (up to ``max_batch``) and commit them as one group, so
the next group forms and is sent while the previous one's commit is in flight (one thread per lane
made the commit round trip the limit, not the CPU). Every push gets its own outcomes once ITS group
is committed, so nothing answered 200 can be lost. Groups in flight side by side take their locks
in the same order (payloads by hash, messages by id, orders by id); two that carry the same new
order collide on its unique key, and like any group that fails as a whole (a database error) their
pushes are then retried one by one, so one poison push cannot fail the others; a push that still
fails gets the error (the doors answer 5xx) and its sender retries.

Three kinds of lane, none of which creates an order while its sender waits (issue #19): store sales
(``/pos/``) are stored as received (``ingest.receive``: the verified body, pending) and their orders created
afterwards by the inbox worker (``ingest.create_received``, app/hub/inbox_worker.py); platform pushes
(``/push/``) only record their messages in the push inbox (app/services/push_inbox.py), and the inbox worker
fetches the order details afterwards; a signed push that cannot be read is kept quarantined (``ingest_batch``).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from app.bootstrap import OrderHub
from app.services import ingest, push_inbox

log = logging.getLogger(__name__)

Message = tuple[str, str]  # a pushed message's (msg_id, topic)
AfterCommit = Callable[[str, ingest.BatchResult], None]  # (source, what the group stored)
# A lane's work: commit the group's jobs, answer one result per job, and what to run once they are answered.
Commit = Callable[[list["_Job"]], tuple[list[Any], Callable[[], None] | None]]


@dataclass(frozen=True, slots=True)
class _Job:
    """A push in a lane; answered on ``future`` (a thread waits) or on ``waiter`` in ``loop`` (the doors await)."""

    items: Sequence[Any]
    normalise: ingest.Normaliser | None = None
    messages: Sequence[Message | None] = ()
    future: Future[Any] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    waiter: asyncio.Future[Any] | None = None


def _answer(jobs: Sequence[_Job], results: Sequence[Any] | None = None, err: BaseException | None = None) -> None:
    """Each job's result (or ``err``); the loop's waiters of a group are settled by one callback, not one per push
    (every ``call_soon_threadsafe`` wakes the loop through its self-pipe)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = defaultdict(list)
    for n, job in enumerate(jobs):
        if job.waiter is not None and job.loop is not None:
            by_loop[job.loop].append((job.waiter, results[n] if results is not None else None))
        elif job.future is not None and results is not None:
            job.future.set_result(results[n])
        elif job.future is not None:
            job.future.set_exception(err if err is not None else RuntimeError("no result"))
    for loop, answers in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, answers, err)
        except RuntimeError:  # the loop is closed (the doors stopped): nobody waits for these answers any more
            log.info("%d answers after the doors closed", len(answers))


def _settle(answers: list[tuple[asyncio.Future[Any], Any]], err: BaseException | None) -> None:
    for waiter, result in answers:
        if waiter.done():  # it gave up (timed out); its sender was answered 5xx and resends
            continue
        if err is not None:
            waiter.set_exception(err)
        else:
            waiter.set_result(result)


class _Lane:
    """One shop's queue and the threads that commit its groups, ``in_flight`` of them at most at once."""

    def __init__(self, name: str, commit: Commit, in_flight: int, max_batch: int) -> None:
        self.commit, self.max_batch = commit, max_batch
        self.waiting: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.busy = self.most_busy = 0  # groups being committed now, and at most so far (drills, tests)
        self._count = threading.Lock()
        self.threads = [threading.Thread(target=self._run, name=f"{name}-{n}", daemon=True) for n in range(in_flight)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        while (first := self.waiting.get()) is not None:
            batch, size = [first], len(first.items)
            while size < self.max_batch:
                try:
                    job = self.waiting.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self.waiting.put(None)  # finish this group, then stop
                    break
                batch.append(job)
                size += len(job.items)
            self._commit(batch)

    def _counted(self, batch: list[_Job]) -> tuple[list[Any], Callable[[], None] | None]:
        with self._count:
            self.busy += 1
            self.most_busy = max(self.most_busy, self.busy)
        try:
            return self.commit(batch)
        finally:
            with self._count:
                self.busy -= 1

    def _commit(self, batch: list[_Job]) -> None:
        try:
            results, after = self._counted(batch)
        except Exception as err:  # a database error or a collision with a group beside it: one transaction per job
            if len(batch) > 1:
                log.info("group of %d pushes failed (%s); retrying one by one", len(batch), type(err).__name__)
                for job in batch:
                    self._commit([job])
            else:
                _answer(batch, err=err)
            return
        if len(results) != len(batch):
            _answer(batch, err=RuntimeError(f"{len(results)} results for {len(batch)} pushes"))
            return
        _answer(batch, results)  # answered now: committed
        if after is not None:
            try:
                after()
            except Exception:  # stored and answered already; what follows (routing) catches up on its own
                log.exception("after-intake step failed")

    def stop(self) -> None:
        for _ in self.threads:
            self.waiting.put(None)

    def join(self, timeout: float) -> None:
        for thread in self.threads:
            thread.join(timeout)


def _messages(payloads: Sequence[ingest.Payload], messages: Sequence[Message | None] | None) -> list[Message | None]:
    return list(messages) if messages is not None else [None] * len(payloads)


class IntakeBatcher:
    """Ingests pushed payloads shop by shop in group-committed batches; ``submit`` waits for its own outcomes.

    ``after`` runs in the lane once a group is committed and answered (the hub routes what changed);
    ``on_inbox`` once a group of push-inbox messages is, with their number (the hub wakes its inbox worker).
    """

    def __init__(self, app: OrderHub, *, max_batch: int = 200, timeout: float = 60.0, in_flight: int = 3,
                 after: AfterCommit | None = None, on_inbox: Callable[[int], None] | None = None) -> None:
        self.app, self.max_batch, self.timeout, self.in_flight = app, max_batch, timeout, in_flight
        self.after, self.on_inbox = after, on_inbox
        self._lanes: dict[tuple[int, str], _Lane] = {}
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
        return await self._awaited(lambda job: self._put_sale(shop_id, source, job),
                                   list(payloads), normalise, _messages(payloads, messages))

    async def _awaited(self, put: Callable[[_Job], None], items: list[Any], normalise: ingest.Normaliser | None = None,
                       messages: Sequence[Message | None] = ()) -> Any:
        # The loop's own future, settled from the lane with the rest of its group: cancelling or timing out the
        # waiter never touches the push under the lane (it may be committing); like submit_many's
        # result(timeout), the waiter gives up and the sender, answered 5xx, resends (stored once).
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        put(_Job(items, normalise, messages, None, loop, waiter))
        late = loop.call_later(self.timeout, lambda: waiter.done() or waiter.set_exception(TimeoutError()))
        try:
            return await waiter
        finally:
            late.cancel()

    def enqueue(self, shop_id: int, source: str, normalise: ingest.Normaliser, payloads: Sequence[ingest.Payload],
                messages: Sequence[Message | None] | None = None) -> Future[list[ingest.Outcome]]:
        """Hands a push to its shop's lane; the future is resolved once it is committed (or failed)."""
        future: Future[list[ingest.Outcome]] = Future()
        self._put_sale(shop_id, source, _Job(list(payloads), normalise, _messages(payloads, messages), future))
        return future

    def _put_sale(self, shop_id: int, source: str, job: _Job) -> None:
        self._lane(shop_id, source, lambda batch: self._ingest(shop_id, source, batch)).waiting.put(job)

    def _put_received(self, shop_id: int, source: str, job: _Job) -> None:
        self._lane(shop_id, f"sale:{source}", lambda batch: self._receive(shop_id, source, batch)).waiting.put(job)

    def receive(self, shop_id: int, source: str, normalise: ingest.Normaliser, payload: ingest.Payload) -> ingest.Outcome:
        """A store sale from a worker thread: stored as received (its order created afterwards); its outcome."""
        future: Future[list[ingest.Outcome]] = Future()
        self._put_received(shop_id, source, _Job([payload], normalise, future=future))
        return future.result(self.timeout)[0]

    async def received(self, shop_id: int, source: str, normalise: ingest.Normaliser,
                       payload: ingest.Payload) -> ingest.Outcome:
        """:meth:`receive` for the event loop."""
        return (await self._awaited(lambda job: self._put_received(shop_id, source, job), [payload], normalise))[0]

    def _put_inbox(self, shop_id: int, source: str, job: _Job) -> None:
        self._lane(shop_id, f"inbox:{source}", lambda batch: self._store_inbox(shop_id, source, batch)).waiting.put(job)

    def inbox(self, shop_id: int, source: str, messages: Sequence[push_inbox.Message]) -> Future[list[bool]]:
        """Hands a push's messages to its shop's inbox lane; resolved (new or repeat, per message) once committed."""
        future: Future[list[bool]] = Future()
        self._put_inbox(shop_id, source, _Job(list(messages), future=future))
        return future

    def inbox_sync(self, shop_id: int, source: str, messages: Sequence[push_inbox.Message]) -> list[bool]:
        """:meth:`inbox` for a worker thread: waits for the commit."""
        return self.inbox(shop_id, source, messages).result(self.timeout)

    async def inbox_stored(self, shop_id: int, source: str, messages: Sequence[push_inbox.Message]) -> list[bool]:
        """:meth:`inbox` for the event loop."""
        return await self._awaited(lambda job: self._put_inbox(shop_id, source, job), list(messages))

    def most_in_flight(self, shop_id: int, kind: str) -> int:
        """The most groups of a lane (``kind``: ``sale:<source>``, ``inbox:<source>``, or the source for quarantined
        pushes) committed at once so far."""
        lane = self._lanes.get((shop_id, kind))
        return lane.most_busy if lane is not None else 0

    def _lane(self, shop_id: int, kind: str, commit: Commit) -> _Lane:
        key = (shop_id, kind)
        lane = self._lanes.get(key)
        if lane is None:
            with self._lock:
                lane = self._lanes.get(key)
                if lane is None:
                    lane = self._lanes[key] = _Lane(f"intake-{shop_id}-{kind}", commit, self.in_flight, self.max_batch)
        return lane

    def _ingest(self, shop_id: int, source: str, batch: list[_Job]) -> tuple[list[Any], Callable[[], None] | None]:
        by_body: dict[bytes, ingest.Normaliser] = {}
        for job in batch:
            for payload in job.items:
                by_body.setdefault(payload.body, job.normalise)
        messages = [m for job in batch for m in job.messages]
        result = ingest.ingest_batch(self.app.uow(), shop_id=shop_id, source=source,
                                     payloads=[p for job in batch for p in job.items],
                                     normalise=lambda body: by_body[body](body),
                                     messages=messages if any(messages) else None)
        outcomes = iter(result.outcomes)
        answers = [[next(outcomes) for _ in job.items] for job in batch]
        after = self.after
        return answers, (None if after is None else lambda: after(source, result))

    def _receive(self, shop_id: int, source: str, batch: list[_Job]) -> tuple[list[Any], Callable[[], None] | None]:
        by_body: dict[bytes, ingest.Normaliser] = {}
        for job in batch:
            for payload in job.items:
                by_body.setdefault(payload.body, job.normalise)
        outcomes = iter(ingest.receive(self.app.engine, shop_id=shop_id, source=source,
                                       payloads=[p for job in batch for p in job.items],
                                       normalise=lambda body: by_body[body](body)))
        answers = [[next(outcomes) for _ in job.items] for job in batch]
        accepted = sum(1 for a in answers for o in a if o.verdict == "accepted")
        on_inbox = self.on_inbox  # the inbox worker creates the orders; it holds back while the doors are busy
        return answers, (None if on_inbox is None or not accepted else lambda: on_inbox(accepted))

    def _store_inbox(self, shop_id: int, source: str, batch: list[_Job]) -> tuple[list[Any], Callable[[], None] | None]:
        items = [m for job in batch for m in job.items]
        fresh = iter(push_inbox.store(self.app.uow(), shop_id, source, items))
        on_inbox = self.on_inbox
        return [[next(fresh) for _ in job.items] for job in batch], (None if on_inbox is None else lambda: on_inbox(len(items)))

    def stop(self) -> None:
        with self._lock:
            lanes, self._lanes = list(self._lanes.values()), {}
        for lane in lanes:
            lane.stop()
        for lane in lanes:
            lane.join(10)
