"""The hub's child processes (the push inbox worker, the extra doors): started, watched, started again, stopped.

A child is started by forkserver where there is one (a clean process with the child's modules loaded,
forked per start: no threads or locks of the hub copied, and a restart takes milliseconds), else spawn
(Windows, macOS). It is handed the reading end of a pipe whose writing end only the hub holds: when that
end closes (the hub stopped it, or the hub is gone: killed, crashed) the child ends, so it is never
orphaned. A child that ends without being asked is logged in words and started again after
``restart_after`` seconds, doubling (up to a minute) while it keeps dying within ten seconds.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

from app.domain.messages import render

log = logging.getLogger(__name__)


def context(preload: str) -> Any:
    """forkserver with ``preload`` (a module name) loaded, where there is one; else spawn."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([preload])
        return ctx
    return multiprocessing.get_context("spawn")


class Supervised(ABC):
    """One child process the hub keeps running (see the module docstring).

    A subclass says how a child is launched (:meth:`_launch`: the started process and the hub's end of its
    pipe, the child holding the other) and which catalogue message says one ended (``ENDED``, with ``pid``,
    ``exit_code`` and ``seconds``); :meth:`_relaunched` runs after every restart.
    """

    ENDED = ""
    NAME = "child"

    def __init__(self, *, restart_after: float = 1.0) -> None:
        self.restart_after = restart_after
        self.process: Any = None
        self.restarts = 0
        self._pipe: Any = None  # the hub's end of the child's pipe
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @abstractmethod
    def _launch(self) -> tuple[Any, Any]:
        """Start one child: the started process and the hub's end of its pipe."""

    def _relaunched(self) -> None:
        """Called after a child was started again (e.g. to pass on what happened meanwhile)."""

    def start(self) -> Supervised:
        self.process, self._pipe = self._launch()
        self._watcher = threading.Thread(target=self._watch, name=f"{self.NAME}-watch", daemon=True)
        self._watcher.start()
        return self

    def _watch(self) -> None:
        quick = 0  # deaths in a row within ten seconds of a start
        while True:
            process, started = self.process, time.monotonic()
            process.join()  # the watcher alone joins the process (one reader of its exit status)
            if self._stopping.is_set():
                return
            quick = quick + 1 if time.monotonic() - started < 10 else 1
            pause = min(60.0, self.restart_after * 2 ** (quick - 1))
            log.error("%s", render(self.ENDED, pid=process.pid, exit_code=process.exitcode, seconds=pause))
            if self._stopping.wait(pause):
                return
            try:
                launched = self._launch()
            except Exception:  # e.g. out of processes: tried again after the next pause
                log.exception("starting the %s process again failed", self.NAME)
                continue
            with self._lock:
                if self._stopping.is_set():  # stop() came meanwhile: this one ends as its pipe closes
                    launched[1].close()
                old, (self.process, self._pipe) = self._pipe, launched
                self.restarts += 1
            if old is not None:
                old.close()
            self._relaunched()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the child to finish and end (its pipe closes); ended by force after ``timeout`` s."""
        self._stopping.set()
        with self._lock:
            pipe, self._pipe = self._pipe, None
        if pipe is not None:
            pipe.close()
        if self._watcher is None:  # never started
            return
        self._watcher.join(timeout)
        if self._watcher.is_alive():
            log.warning("%s process %s did not stop within %.0f s; ending it", self.NAME, self.pid, timeout)
            self.process.kill()
            self._watcher.join(5)


class Coalesced:
    """Counts passed on at most every ``every`` seconds, summed: however many came meanwhile, one ``send``.

    ``add`` never blocks (it runs after each group commit, on any thread); ``send`` runs on a thread of
    its own and is told the sum. A ``send`` that fails (the other side gone) loses nothing that matters:
    these are wake-ups, and the woken side also looks on its own every second.
    """

    def __init__(self, send: Any, every: float, name: str) -> None:
        self.send, self.every = send, every
        self._lock = threading.Lock()
        self._woken, self._stopping = threading.Event(), threading.Event()
        self._count = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Coalesced:
        self._thread.start()
        return self

    def add(self, count: int = 0) -> None:
        with self._lock:
            self._count += count
        self._woken.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._woken.wait()
            self._stopping.wait(self.every)  # a burst's commits gathered into one message, not one each
            self._woken.clear()
            with self._lock:
                count, self._count = self._count, 0
            if self._stopping.is_set():
                return
            try:
                self.send(count)
            except (OSError, ValueError):  # the other side is gone (started again soon), or we are stopping
                pass

    def stop(self) -> None:
        self._stopping.set()
        self._woken.set()
        if self._thread.is_alive():
            self._thread.join(5)
