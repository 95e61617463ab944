"""A small threaded HTTP server on loopback that platform simulators plug into."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
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


def slow(seconds: float) -> None:
    """Answer late (a fault)."""
    time.sleep(seconds)
