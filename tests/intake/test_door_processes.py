"""The hub's doors served by more than one process on one port (issue #19): spread, stored once, none left behind."""

import json
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import sqlalchemy as sa

from app.db.models import RawPayload
from app.hub.doors import DoorLimits
from app.hub.receiver import Receiver, ReceiverServer
from connectors.simulators.pos import sale_body
from connectors.simulators.world import SimWorld
from tests.support import door_abuse

STORE = "POS-SZ-DOORS2"


def _factory(shop, creds):  # POS shops are never polled
    raise AssertionError("POS needs no connector")


def _send(url: str, bodies: list[bytes]) -> list[tuple[int | None, int, dict]]:
    """Each sale on a connection of its own (the kernel picks a door process per connection): status, pid, answer."""
    def one(body: bytes) -> tuple[int | None, int, dict]:
        reply = door_abuse.raw_exchange(url, door_abuse.signed_push(STORE, "store-secret", body), timeout=30)
        head, _, rest = reply.partition(b"\r\n\r\n")
        pid = re.search(rb"(?im)^x-door-pid: *(\d+)", head)
        return door_abuse.status_of(reply), int(pid.group(1)) if pid else 0, json.loads(rest or b"{}")
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, bodies))


def test_two_door_processes_share_the_port_store_every_sale_once_and_the_extra_one_ends_with_the_hub(
        hub, add_shop, credentials, caplog):
    add_shop("pos", STORE, name="深圳门店")
    server = ReceiverServer(Receiver(hub, _factory, credentials), inbox_worker=False, processes=2,
                            limits=DoorLimits(name_process=True)).start()
    extra = server.doors[0].process
    sales = iter(sale_body(o, STORE) for o in SimWorld("pos", seed=61).create(400, status="completed"))
    sent: list[bytes] = []
    seen: set[int] = set()
    try:
        # Until the extra process listens, the kernel has only the hub's socket: send rounds until both answered.
        deadline = time.monotonic() + 90  # bounds a failure only (a loaded machine starts the process slowly)
        while seen != {server.doors[0].pid, psutil.Process().pid} and time.monotonic() < deadline:
            bodies = [next(sales) for _ in range(16)]
            answers = _send(server.url, bodies)
            assert [(s, a.get("verdict")) for s, _, a in answers] == [(200, "accepted")] * 16
            sent += bodies
            seen |= {pid for _, pid, _ in answers}
        assert seen == {server.doors[0].pid, psutil.Process().pid}  # both processes answered sales
        # Sent again (tills that never saw the answers), over both processes: nothing doubles.
        again = _send(server.url, sent[:16])
        assert {(s, a.get("verdict")) for s, _, a in again} == {(200, "duplicate")}
        # An extra door process that dies is said in words and started again.
        os.kill(extra.pid, signal.SIGKILL)
        deadline = time.monotonic() + 60  # bounds a failure only; the restart waits restart_after (1 s)
        while server.doors[0].restarts == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.doors[0].restarts == 1 and any("意外退出" in r.getMessage() for r in caplog.records)
        killed, extra = extra, server.doors[0].process
        assert extra.is_alive() and not psutil.pid_exists(killed.pid)
    finally:
        server.stop()
    with hub.uow() as uow:
        stored = uow.session.scalars(sa.select(RawPayload.body)).all()
    assert sorted(stored) == sorted(sent)  # every answered sale stored, once
    assert not extra.is_alive() and not psutil.pid_exists(extra.pid)  # the hub stopped: its extra door process is gone
