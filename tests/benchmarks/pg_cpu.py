"""CPU seconds of the PostgreSQL server a benchmark runs against, summed over every process of it.

One place for what four benchmarks (bench_ingest, bench_peak_day, bench_scale, bench_station_pull) each
did their own way: find the postmaster behind the engine's connection and add up its CPU, its live
children's (backends, autovacuum workers, WAL writer, checkpointer) and its exited children's (counted
in the postmaster's ``children_*`` once reaped, so a backend that came and went within the run counts).
"""

from __future__ import annotations

import psutil
import sqlalchemy as sa


class PostgresCpu:
    """The server behind ``engine`` (an embedded one: same machine, so its processes can be read)."""

    def __init__(self, engine: sa.Engine) -> None:
        with engine.connect() as conn:
            backend = int(conn.scalar(sa.text("SELECT pg_backend_pid()")))
            conn.rollback()
        self.postmaster = psutil.Process(backend).parent()

    @property
    def pid(self) -> int:
        return self.postmaster.pid

    def processes(self) -> list[psutil.Process]:
        return [self.postmaster, *self.postmaster.children()]

    def seconds(self) -> float:
        """CPU seconds so far: the postmaster, its live children and those already reaped."""
        t = self.postmaster.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in self.postmaster.children():
            try:
                c = child.cpu_times()
                total += c.user + c.system
            except psutil.Error:
                pass  # ended meanwhile: counted in children_* once reaped
        return total

    def by_process(self) -> dict[int, float]:
        """CPU seconds per live server process, from /proc/PID/schedstat (nanoseconds; psutil's cpu_times
        count 10 ms ticks, too coarse for a 3 ms query), psutil where /proc does not say."""
        out = {}
        for proc in self.processes():
            try:
                with open(f"/proc/{proc.pid}/schedstat") as f:
                    out[proc.pid] = int(f.read().split()[0]) / 1e9
            except OSError:
                try:
                    t = proc.cpu_times()
                    out[proc.pid] = t.user + t.system
                except psutil.Error:
                    pass
        return out

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> float:
        """CPU seconds between two :meth:`by_process` snapshots: processes in both, plus those started since."""
        return sum(t - before.get(pid, 0.0) for pid, t in after.items())
