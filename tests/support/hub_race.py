"""Two real hub processes racing for the same shops while one is killed with SIGKILL; shared by suite and drill."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]

_HUB = """
import sys, threading
from pathlib import Path
from app.bootstrap import bootstrap
from app.settings import Settings
from app.hub.credentials import FileStore
from app.hub.registry import connector_for
from app.hub.service import Hub
from connectors.base import RetryPolicy
app = bootstrap(Settings(database_url=sys.argv[1], data_dir=Path(sys.argv[2])))
policy = RetryPolicy(sleep=lambda s: None)
Hub(app, lambda s, c: connector_for(s, c, policy=policy), FileStore(Path(sys.argv[3])), hub_id=sys.argv[4],
    claim_interval=0.5, poll_interval=0.3).start()
threading.Event().wait()
"""


@dataclass
class HubRace:
    """Starts, kills and restarts two hub processes against one database and one credential store."""

    database_url: str
    data_dir: Path
    secrets: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    kills: int = 0

    def start(self, name: str) -> None:
        folder = self.data_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(_HUB), self.database_url, str(folder), str(self.secrets), name],
            cwd=REPO, env=os.environ | {"PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            self.kills += 1
        proc.wait(30)

    def kill_and_restart_one(self, rng: random.Random) -> str:
        name = rng.choice(sorted(self.procs))
        self.kill(name)
        self.start(name)
        return name

    def stop(self) -> None:
        for name in list(self.procs):
            self.kill(name)


def ingested(engine: sa.Engine) -> tuple[int, int, int]:
    """(orders, distinct (shop, platform order no), raw payloads not linked to an order)."""
    with engine.connect() as conn:
        return (conn.scalar(sa.text("SELECT count(*) FROM orders")),
                conn.scalar(sa.text("SELECT count(DISTINCT (shop_id, platform_order_no)) FROM orders")),
                conn.scalar(sa.text("SELECT count(*) FROM raw_payloads WHERE order_id IS NULL")))


def wait_for(engine: sa.Engine, expected: int, timeout: float) -> tuple[int, int, int]:
    """Until ``expected`` orders are stored (or ``timeout``): the counts at the end."""
    deadline = time.monotonic() + timeout
    counts = ingested(engine)
    while counts[0] < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        counts = ingested(engine)
    return counts
