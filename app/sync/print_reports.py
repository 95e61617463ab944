"""Hands a station's print failures on to the server as ``station.print_failure`` commands in its outbox.

The print queue keeps every failure in its own file in the same transaction as the job's problem;
this moves them into the station's outbox (durable, replayed in order until the server answers).
Each failure's command id is derived from the station, job and failure number, so a failure handed
on twice (the station died between the outbox write and marking it handed on) is one command.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from app.domain.actor import Actor
from app.sync.commands import Command

NAMESPACE = uuid.UUID("5d6c1f0e-7b1a-4f4e-9a53-16a1c0de0016")
NAME = "station.print_failure"


def command_id(station: str, job_id: str, attempt: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{station}\x1f{job_id}\x1f{attempt}")


class PrintFailureReporter:
    """Moves ``queue``'s unreported failures into ``sync``'s outbox; call :meth:`forward` after a failure."""

    def __init__(self, queue: Any, sync: Any, actor: Actor, printer: str) -> None:
        self.queue, self.sync, self.actor, self.printer = queue, sync, actor, printer
        self._lock = threading.Lock()

    def forward(self) -> int:
        """Queue every failure not yet handed on; returns how many were handed on now."""
        with self._lock:
            failures = self.queue.unreported_failures()
            for f in failures:
                cid = command_id(self.actor.station, f.job_id, f.attempt)
                if self.sync.outbox.entry(cid) is None:
                    args = {"printer": self.printer, "job_id": f.job_id, "attempt": f.attempt, "order_no": f.order_no,
                            "reason": f.problem_code, "params": f.problem_params, "failed_at": f.failed_at}
                    command = Command(NAME, args, self.actor.operator, self.actor.station, self.actor.station_ip,
                                      id=cid)
                    self.sync.submit_command(command)
            if failures:
                self.queue.mark_reported([f.seq for f in failures])
        return len(failures)
