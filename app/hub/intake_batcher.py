"""Group commit for pushed sales: pushes that arrive together are stored in one transaction, each answered on its own.

One sale per transaction costs ~40 ms on a loaded two-core server (the commit and the triggers);
fifty in one transaction cost ~2 ms each. Each shop gets one thread that takes whatever pushes
are waiting (up to ``max_batch``), ingests them with one ``ingest_batch`` and hands every push its
own outcome. The sender still gets its answer only after its sale is committed, so nothing
answered 200 can be lost. If a batch fails as a whole (a database error), its pushes are retried
one by one so one poison sale cannot fail the others; a push that still fails gets the error and
its sender retries.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future

from app.bootstrap import OrderHub
from app.services import ingest

log = logging.getLogger(__name__)


class _ShopLane(threading.Thread):
    def __init__(self, app: OrderHub, shop_id: int, source: str, normalise: ingest.Normaliser, max_batch: int) -> None:
        super().__init__(name=f"intake-{shop_id}", daemon=True)
        self.app, self.shop_id, self.source, self.normalise, self.max_batch = app, shop_id, source, normalise, max_batch
        self.waiting: queue.SimpleQueue[tuple[ingest.Payload, Future[ingest.Outcome]] | None] = queue.SimpleQueue()

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

    def _ingest(self, batch: list[tuple[ingest.Payload, Future[ingest.Outcome]]]) -> None:
        try:
            result = ingest.ingest_batch(self.app.uow(), shop_id=self.shop_id, source=self.source,
                                         payloads=[p for p, _ in batch], normalise=self.normalise)
        except Exception as err:  # a database error: isolate it, one transaction per push
            if len(batch) > 1:
                log.warning("intake batch of %d failed; retrying one by one", len(batch), exc_info=True)
                for item in batch:
                    self._ingest([item])
            else:
                batch[0][1].set_exception(err)
            return
        for (_, future), outcome in zip(batch, result.outcomes, strict=True):
            future.set_result(outcome)


class IntakeBatcher:
    """Ingests pushed payloads shop by shop in group-committed batches; ``submit`` waits for its own outcome."""

    def __init__(self, app: OrderHub, *, max_batch: int = 200, timeout: float = 60.0) -> None:
        self.app, self.max_batch, self.timeout = app, max_batch, timeout
        self._lanes: dict[int, _ShopLane] = {}
        self._lock = threading.Lock()

    def submit(self, shop_id: int, source: str, normalise: ingest.Normaliser, payload: ingest.Payload) -> ingest.Outcome:
        with self._lock:
            lane = self._lanes.get(shop_id)
            if lane is None:
                lane = self._lanes[shop_id] = _ShopLane(self.app, shop_id, source, normalise, self.max_batch)
                lane.start()
        future: Future[ingest.Outcome] = Future()
        lane.waiting.put((payload, future))
        return future.result(self.timeout)

    def stop(self) -> None:
        with self._lock:
            lanes, self._lanes = list(self._lanes.values()), {}
        for lane in lanes:
            lane.waiting.put(None)
        for lane in lanes:
            lane.join(10)

