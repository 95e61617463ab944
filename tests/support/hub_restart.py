"""PostgreSQL stopped hard (or its sessions terminated) under a running `orderhub hub` process while the platforms
keep taking orders, pushes arrive on the doors and a ship confirmation is in flight (issue #19).

Shared by the suite (tests/intake/test_drill_hub_restart.py, a few cycles) and
tests/benchmarks/drill_hub_restart.py (20 cycles). The hub is the real command in its own process;
the platforms are the project's simulators on loopback; the server is one the caller may stop.
Each cycle says how many orders were lost and doubled and how long the hub took to drain after
the database came back.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from app.db.models import Order, Shipment, Shop
from app.hub.credentials import FileStore
from app.hub.registry import simulator_module
from app.services import writeback
from connectors.base import Credentials
from connectors.simulators.pos import PosStoreSimulator, sale_body
from connectors.simulators.server import Request, Response, SimServer
from connectors.simulators.world import SimOrder, SimWorld

REPO = Path(__file__).resolve().parents[2]
CREDS = Credentials(app_key="1234567890123456789", app_secret="testsecret", access_token="token-1",
                    refresh_token="refresh-1")
#: Not 拼多多 here: it answers only 3 minutes behind its clock (connectors/pdd.py ``lag``), so no hub
#: could have its last orders within the 30 s this drill measures.
PLATFORMS = ("douyin", "taobao", "wechat")
POS_SECRET = "pos-store-secret-0123"
DOWN_WORDS = "数据库不可用"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> float:
    """Seconds until ``condition`` holds (real time: the hub runs on its own)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if condition():
                return time.monotonic() - start
        except (sa.exc.DBAPIError, requests.RequestException):  # our own look while the server or hub is away
            pass
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class ShipGate:
    """Wraps a simulator: the first request naming ``marker`` (the ship confirmation) is held ``hold`` seconds
    before the platform applies it, so the database can be taken away while the hub waits for the answer."""

    def __init__(self, handle: Callable[[Request], Response]) -> None:
        self.handle_inner, self.marker, self.hold = handle, "", 0.0
        self.arrived = threading.Event()

    def arm(self, marker: str, hold: float) -> None:
        self.marker, self.hold = marker, hold
        self.arrived.clear()

    def handle(self, req: Request) -> Response:
        if self.marker and self.marker in req.body.decode("utf-8", "replace") + str(req.query):
            self.marker = ""
            self.arrived.set()
            time.sleep(self.hold)
        return self.handle_inner(req)


@dataclass
class Till:
    """A store till: each sale is pushed until the hub answers 200 (a real till keeps unsent sales)."""

    pos: PosStoreSimulator
    sold: list[SimOrder] = field(default_factory=list)
    refused: int = 0
    _queue: list[bytes] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def sell(self, n: int) -> None:
        orders = self.pos.world.create(n, status="completed")
        with self._lock:
            self.sold += orders
            self._queue += [sale_body(o, self.pos.store_code) for o in orders]

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                body = self._queue[0] if self._queue else None
            if body is None:
                self._stop.wait(0.1)
                continue
            try:
                ok = self.pos.push(body).status_code == 200
            except requests.RequestException:
                ok = False
            if ok:
                with self._lock:
                    self._queue.pop(0)
            else:
                self.refused += 1
                self._stop.wait(0.3)

    def start(self) -> Till:
        threading.Thread(target=self.run, name="till", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()


class HubProcess:
    """`orderhub hub` in its own process, its log kept in a file."""

    def __init__(self, url: str, folder: Path, port: int, poll_interval: float = 0.5, door_processes: int = 1) -> None:
        self.url, self.folder, self.port, self.poll_interval = url, folder, port, poll_interval
        self.door_processes = door_processes  # the setting's default is by the cores; 1 here unless a test asks
        self.log_path = folder / "hub.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> HubProcess:
        env = os.environ | {"ORDERHUB_DATABASE_URL": self.url, "ORDERHUB_DATA_DIR": str(self.folder),
                            "PYTHONPATH": str(REPO), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
                            "PYTHONUNBUFFERED": "1", "ORDERHUB_DOOR_PROCESSES": str(self.door_processes)}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "app", "hub", "--receiver-port", str(self.port),
                                          "--poll-interval", str(self.poll_interval)],
                                         cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self) -> float:
        import psutil

        times = psutil.Process(self.proc.pid).cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class HubRestartDrill:
    """Shops on simulators, a store till, the hub process; ``cycle`` takes the database away and back once."""

    def __init__(self, pg: Any, url: sa.URL, folder: Path, *, shops: int = 3, seed: int = 19,
                 poll_interval: float = 0.5) -> None:
        self.pg, self.folder, self.rng = pg, folder, random.Random(seed)
        self.url = url.render_as_string(hide_password=False)
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        store = FileStore(folder / "secrets.json")
        self.worlds: dict[int, SimWorld] = {}
        self.gates: dict[int, ShipGate] = {}
        self.servers: list[SimServer] = []
        for i in range(shops):
            platform = PLATFORMS[i % len(PLATFORMS)]
            world = SimWorld(platform, seed=200 + i)
            sim = simulator_module(platform).make_simulator(
                world, CREDS, push_url=f"http://127.0.0.1:{self.port}/push/PG{i}")
            gate = ShipGate(sim.handle)
            server = SimServer(gate.handle).start()
            store.put(f"drill:{i}", CREDS)
            shop_id = self._shop(f"PG{i}", platform, server.url, f"drill:{i}", f"8800{i}")
            self.worlds[shop_id], self.gates[shop_id] = world, gate
            self.servers.append(server)
        store.put("drill:pos", Credentials(app_key="POS1", app_secret=POS_SECRET))
        self.pos_shop = self._shop("POS1", "pos", None, "drill:pos", None)
        self.till = Till(PosStoreSimulator(SimWorld("pos", seed=299), f"http://127.0.0.1:{self.port}", "POS1",
                                           POS_SECRET))
        self.hub = HubProcess(self.url, folder, self.port, poll_interval)
        self._tracking = 0
        self._polled_at: float | None = None
        self._sold_at: float | None = None

    def _shop(self, code: str, platform: str, api: str | None, ref: str, platform_shop_id: str | None) -> int:
        with self.engine.begin() as conn:
            return conn.execute(sa.insert(Shop).values(code=code, name=f"演练店铺{code}", platform=platform,
                                                       api_base_url=api, credentials_ref=ref,
                                                       platform_shop_id=platform_shop_id, enabled=True)
                                .returning(Shop.id)).scalar_one()

    # --- what is where ------------------------------------------------------------------------------------
    def expected(self) -> dict[int, set[str]]:
        want = {shop_id: set(world.orders) for shop_id, world in self.worlds.items()}
        want[self.pos_shop] = {o.order_id for o in list(self.till.sold)}
        return want

    def stored(self) -> dict[int, tuple[int, set[str]]]:
        """Per shop: rows, and the distinct platform order ids among them."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(Order.shop_id, Order.platform_order_no)).all()
        out: dict[int, tuple[int, set[str]]] = {}
        for shop_id, platform_no in rows:
            count, ids = out.get(shop_id, (0, set()))
            out[shop_id] = (count + 1, ids | {platform_no})
        return out

    def verdict(self) -> dict[str, int]:
        want, have = self.expected(), self.stored()
        lost = sum(len(ids - have.get(shop, (0, set()))[1]) for shop, ids in want.items())
        doubled = sum(count - len(ids) for count, ids in have.values())
        extra = sum(len(have.get(shop, (0, set()))[1] - ids) for shop, ids in want.items())
        return {"expected": sum(map(len, want.values())), "lost": lost, "doubled": doubled, "unknown": extra}

    def counts(self) -> dict[int, int]:
        """Distinct platform order ids stored per shop: one cheap query, for waiting (``verdict`` compares ids)."""
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(Order.shop_id, sa.func.count(sa.distinct(Order.platform_order_no)))
                                     .group_by(Order.shop_id)).all())

    def all_in(self) -> bool:
        want, have = self.expected(), self.counts()
        missing = {shop: max(0, len(ids) - have.get(shop, 0)) for shop, ids in want.items()}
        now = time.monotonic()
        if not any(n for shop, n in missing.items() if shop != self.pos_shop):
            self._polled_at = self._polled_at or now  # every platform order stored (pollers, pushes)
        if not missing[self.pos_shop] and self.till.pending() == 0:
            self._sold_at = self._sold_at or now  # every store sale answered and stored (doors)
        return not any(missing.values()) and self.till.pending() == 0

    # --- running ------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.hub.start()
        self.till.start()
        until(lambda: requests.get(f"http://127.0.0.1:{self.port}/", timeout=1) is not None, 60, "the hub's doors")

    def new_work(self, orders: int, sales: int) -> None:
        for world in self.worlds.values():
            world.create(orders)
        self.till.sell(sales)

    def ship_one(self) -> tuple[int, str, str]:
        """The warehouse ships one stored platform order: shipment, stage and write-back in one transaction."""
        shop_id = next(iter(self.worlds))
        with self.engine.begin() as conn:
            order_id, platform_no = conn.execute(
                sa.select(Order.id, Order.platform_order_no)
                .where(Order.shop_id == shop_id, Order.status.not_in(("shipped", "completed", "cancelled")))
                .order_by(Order.id).limit(1)).one()
        self._tracking += 1
        tracking_no = f"SF14{self._tracking:011d}"
        from sqlalchemy.orm import Session

        with Session(self.engine) as s:
            order = s.get(Order, order_id)
            shipment = Shipment(order_id=order.id, carrier="顺丰速运", tracking_no=tracking_no, status="created",
                                shipped_at=sa.func.now())
            s.add(shipment)
            order.status, order.tracking_no = "shipped", tracking_no
            s.flush()
            writeback.on_shipped(s, order, shipment)
            s.commit()
        return shop_id, platform_no, tracking_no

    def locks_held(self) -> int:
        """Shops whose advisory lock (app/hub/service.py ``LOCK_NAMESPACE``) some session holds."""
        from app.hub.service import LOCK_NAMESPACE

        with self.engine.connect() as conn:
            return conn.scalar(sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                                       " AND classid = :ns AND objsubid = 2"), {"ns": LOCK_NAMESPACE})

    def ship_status(self, tracking_no: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.scalar(sa.text("SELECT status FROM outbox WHERE dedupe_key = :k"), {"k": f"ship:{tracking_no}"})

    def cycle(self, fault: str, *, orders: int = 10, sales: int = 3, hold: float = 2.0,
              ship_in_flight: bool = False) -> dict[str, Any]:
        """New work, then the fault mid-intake, more work while the database is away, then recovery and drain."""
        from tests.sync.drills import terminate_backends

        self.new_work(orders, sales)
        said_before = self.hub.log().count(DOWN_WORDS)
        shipped = None
        if ship_in_flight:  # the hub is waiting for the platform's answer when the database goes
            until(self.all_in, 60, "the first orders stored")
            shop_id, platform_no, tracking_no = self.ship_one()
            self.gates[shop_id].arm(tracking_no, hold=hold + 1.0)
            until(self.gates[shop_id].arrived.is_set, 30, "the ship confirmation on its way")
            shipped = (shop_id, platform_no, tracking_no)
        else:
            time.sleep(self.rng.uniform(0.1, 1.0))  # somewhere in a poll: between pages or inside one
        terminated = 0
        if fault == "immediate":
            self.pg.kill()
            self.new_work(orders, sales)  # the platforms and the tills go on
            time.sleep(hold)
            said = self.hub.log().count(DOWN_WORDS) > said_before
            self.pg.start()
        elif fault == "freeze":  # SIGSTOP on every server process for ``hold`` seconds
            from tests.sync.drills import postgres_processes

            frozen = postgres_processes(Path(self.pg.server.pgdata))
            try:
                for pid in frozen:
                    os.kill(pid, signal.SIGSTOP)
                self.new_work(orders, sales)
                time.sleep(hold)
                said = self.hub.log().count(DOWN_WORDS) > said_before
            finally:
                for pid in frozen:
                    os.kill(pid, signal.SIGCONT)
        else:
            terminated = terminate_backends(self.pg.admin_url, self.engine.url.database)
            self.new_work(orders, sales)
            said = None  # judged after the drain: a terminated session is usually reconnected at once
        back = time.monotonic()
        self._polled_at = self._sold_at = None
        drain = until(self.all_in, 120, "every order stored after recovery", every=0.25)
        if said is None:
            said = self.hub.log().count(DOWN_WORDS) > said_before
        out = {"fault": fault, "terminated": terminated, "said_unavailable": said, "drain_s": round(drain, 2),
               "platform_orders_s": round(self._polled_at - back, 2), "store_sales_s": round(self._sold_at - back, 2),
               **self.verdict(), "hub_alive": self.hub.alive()}
        if shipped is not None:
            shop_id, platform_no, tracking_no = shipped
            until(lambda: self.ship_status(tracking_no) == "sent", 180, "the ship confirmation settled")
            out["writeback_settled_s"] = round(time.monotonic() - back, 2)
            applied = [t for o, t in self.worlds[shop_id].shipments_applied if t == tracking_no]
            out["writeback_applied"] = len(applied)
        return out

    def close(self) -> None:
        self.till.stop()
        self.hub.stop()
        for server in self.servers:
            server.stop()
        self.engine.dispose()
