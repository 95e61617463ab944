"""A small threaded HTTP server on loopback that platform simulators plug into."""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """One HTTP request as a simulator sees it (query parsed, body as raw bytes)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json; charset=utf-8"})


Handler = Callable[[Request], Response]


class SimServer:
    """Serves ``handler`` on 127.0.0.1 (port 0 picks a free one) in a background thread."""

    def __init__(self, handler: Handler, *, port: int = 0, host: str = "127.0.0.1",
                 clock: Callable[[], datetime] | None = None) -> None:
        """``clock``: the platform's clock its answers' HTTP ``Date`` follows (default: this machine's)."""
        self.handler = handler
        self.requests: list[Request] = []  # what arrived, for tests that check the client's behaviour
        outer = self

        class _Http(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Without this each keep-alive answer waits ~40 ms for delayed ACKs (Nagle): 230 orders take 10 s, not 1.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                              {k.lower(): v for k, v in self.headers.items()}, body)
                outer.requests.append(req)
                try:
                    resp = outer.handler(req)
                except Exception:  # a simulator bug must show as a 500, as a real server would
                    log.exception("simulator handler failed")
                    resp = Response(500, b'{"error":"simulator failure"}')
                try:
                    self.send_response(resp.status)
                    for key, value in resp.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(resp.body)))
                    self.end_headers()
                    self.wfile.write(resp.body)
                except (BrokenPipeError, ConnectionResetError):
                    log.debug("client went away before the answer (it timed out)")

            do_GET = do_POST = _serve  # noqa: N815

            def date_time_string(self, timestamp: float | None = None) -> str:
                if clock is None or timestamp is not None:
                    return super().date_time_string(timestamp)
                return format_datetime(clock().astimezone(UTC), usegmt=True)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                log.debug("sim %s", format % args)

        self.httpd = ThreadingHTTPServer((host, port), _Http)
        self.httpd.daemon_threads = True
        # A short poll interval makes stop() take 50 ms instead of half a second.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="simulator", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SimServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SimProcess:
    """One platform's simulator in a process of its own, as a real platform is another machine.

    A benchmark that serves several platforms from its own interpreter makes every platform's list
    and detail calls wait for one GIL (and for the benchmark's own measuring): here each platform has
    its own. ``make_simulator(world, creds)`` (a module-level function, so it crosses to the new
    process by name) builds the simulator on a ``SimWorld(platform, seed=seed)``. :meth:`publish`
    has the process place one new order at each of the given wall-clock moments (so the schedule is
    kept there, not by the caller); :meth:`report` answers with the moment each order was placed and
    the ship confirmations the platform applied. Started with ``spawn``: no copy of the caller's
    threads or connections.
    """

    def __init__(self, make_simulator: Callable[..., object], platform: str, creds: object, *, seed: int = 1,
                 timeout: float = 60.0) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.platform, self._timeout = platform, timeout
        self.process = ctx.Process(target=_serve_platform, args=(child, make_simulator, platform, seed, creds),
                                   name=f"simulator-{platform}", daemon=True)
        self.url = ""

    @property
    def pid(self) -> int:
        return int(self.process.pid or 0)

    def start(self) -> SimProcess:
        self.process.start()
        self.url = self._answer()
        return self

    def publish(self, moments: Sequence[float]) -> None:
        """Place one new (paid) order at each ``time.time()`` moment in ``moments`` (late ones at once)."""
        self._conn.send(("publish", sorted(moments)))

    def report(self, calls: dict[str, Sequence[bytes]] | None = None) -> dict:
        """``{"published": {order_id: moment placed}, "shipments": [(order_id, tracking_no)], "calls": {kind: n}}``.

        ``calls`` names kinds of request by the API names that mark them (found in the path, the query or
        the body); each is counted there, in the simulator's process, and the first kind that matches wins.
        """
        self._conn.send(("report", calls or {}))
        return self._answer()

    def _answer(self):  # noqa: ANN202 - whatever the process sent
        if not self._conn.poll(self._timeout):
            raise TimeoutError(f"simulator {self.platform} did not answer in {self._timeout} s")
        return self._conn.recv()

    def stop(self) -> None:
        try:
            self._conn.send(("stop",))
        except OSError:
            pass
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self._conn.close()

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve_platform(conn, make_simulator: Callable[..., object], platform: str, seed: int,  # noqa: ANN001
                    creds: object) -> None:
    """The simulator's process: serve, place orders on schedule, answer reports until told to stop."""
    from connectors.simulators.world import SimWorld

    world = SimWorld(platform, seed=seed)
    server = SimServer(make_simulator(world, creds).handle).start()  # type: ignore[attr-defined]
    published: dict[str, float] = {}
    stop = threading.Event()

    def place(moments: list[float]) -> None:
        for moment in moments:
            if stop.wait(max(0.0, moment - time.time())):
                return
            with world.lock:
                (order,) = world.create(1)
                published[order.order_id] = time.time()

    conn.send(server.url)
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:  # the caller is gone
                break
            if message[0] == "publish":
                threading.Thread(target=place, args=(message[1],), name="publish", daemon=True).start()
            elif message[0] == "report":
                with world.lock:
                    conn.send({"published": dict(published), "shipments": list(world.shipments_applied),
                               "calls": _count_calls(list(server.requests), message[1])})
            else:
                break
    finally:
        stop.set()
        server.stop()


def _count_calls(requests: Sequence[Request], names: dict[str, Sequence[bytes]]) -> dict[str, int]:
    """How many of ``requests`` each kind in ``names`` counts (a request goes to the first kind that names it)."""
    counts = dict.fromkeys(names, 0)
    for req in requests:
        text = b" ".join((req.path.encode(), *(f"{k}={v}".encode() for k, v in req.query.items()), req.body or b""))
        for kind, marks in names.items():
            if any(mark in text for mark in marks):
                counts[kind] += 1
                break
    return counts


def slow(seconds: float) -> None:
    """Answer late (a fault)."""
    time.sleep(seconds)
