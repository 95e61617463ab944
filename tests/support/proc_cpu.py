"""CPU seconds of the processes a drill or benchmark involves (COMMON rule: report CPU per unit of work, not wall time).

``PgCpu`` samples every PostgreSQL process of a data folder (the postmaster and the backends it forks) every
half second with psutil; a backend that ends between two samples loses at most its last half second.
``children_cpu`` is what this process's waited-for children used (hub processes started and reaped by a drill).
"""

from __future__ import annotations

import resource
import threading
from pathlib import Path


class PgCpu(threading.Thread):
    """CPU seconds of every PostgreSQL process seen, sampled; the last sample of each counts."""

    def __init__(self, pgdata: Path) -> None:
        super().__init__(daemon=True, name="pg-cpu")
        self.pgdata, self.seen, self.stop_event = Path(pgdata), {}, threading.Event()

    def sample(self) -> None:
        import psutil

        from tests.sync.drills import postgres_processes

        try:
            pids = postgres_processes(self.pgdata)
        except (OSError, ValueError, IndexError):  # stopped: nothing to sample
            return
        for pid in pids:
            try:
                proc = psutil.Process(pid)
                t = proc.cpu_times()
                self.seen[(pid, proc.create_time())] = t.user + t.system
            except psutil.Error:
                continue

    def run(self) -> None:
        while not self.stop_event.wait(0.5):
            self.sample()

    def total(self) -> float:
        return sum(self.seen.values())

    def finish(self) -> float:
        """A last sample, stop sampling, and the total."""
        self.sample()
        self.stop_event.set()
        return self.total()


def own_cpu() -> float:
    """CPU seconds of this process so far (every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu() -> float:
    """CPU seconds of this process's children that have ended and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
