"""A separate allocator process for the concurrency test: `python -m tests.routing.allocators URL GO_FILE ORDER_NO…`.

It connects, waits until GO_FILE exists (so all processes start routing together), routes its
orders one by one, and prints one JSON line of outcomes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from app.domain.actor import Actor
from app.services import routing
from app.services.unit_of_work import UnitOfWork


def main(url: str, go: str, order_nos: list[str]) -> None:
    engine = sa.create_engine(url, pool_size=1)
    factory = sessionmaker(engine, expire_on_commit=False)
    with engine.connect():
        pass
    actor = Actor(f"system:hub-{os.getpid()}", f"hub-{os.getpid()}")
    deadline = time.monotonic() + 60
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    outcomes = {no: routing.route_order(UnitOfWork(factory), no, actor).outcome for no in order_nos}
    engine.dispose()
    print(json.dumps(outcomes))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
