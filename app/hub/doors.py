"""The hub's public doors served by uvicorn: limits and timeouts a push receiver on the internet needs.

The standard library's ``ThreadingHTTPServer`` gives every connection a thread with no time limit
and reads whatever body length a client declares, so a few thousand idle sockets or one huge
``Content-Length`` take the hub's doors down. Here an event loop holds the connections (an idle
socket costs a few kilobytes, not a thread), the request's headers must arrive within
``header_timeout`` (nginx's ``client_header_timeout``) and its body within ``body_timeout``, a
declared or streamed body over ``max_body`` is refused with 413 before it is read, and malformed
request lines or headers are answered 400 by the HTTP parser. Only a complete request reaches the
(blocking, database-bound) handler, on a bounded pool of worker threads.

A handler may also offer a ``fast`` door: a coroutine run on the event loop itself, for requests
whose work before the database is cheap and never blocks (a store sale: check the signature, hand
the sale to its shop's group commit and await the commit). It answers ``None`` for a request it does
not take, which then goes to the pool as usual. No thread is handed the request and back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.domain.messages import render
from app.hub.db_status import HUB_DATABASE

log = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, str], bytes], tuple[int, dict[str, Any]]]
# Runs on the event loop; None: not taken here, the request goes to the blocking handler on the pool.
FastHandler = Callable[[str, dict[str, str], bytes], Awaitable[tuple[int, dict[str, Any]] | None]]
RAW_REPLY = "__raw_reply__"  # an answer's key for the platform's own reply bytes, sent as they are


@dataclass(frozen=True, slots=True)
class DoorLimits:
    """What one request may cost; the defaults fit platform pushes (a few kB) with room to spare."""

    max_body: int = 2 * 1024 * 1024  # the largest push seen is a 抖店 batch of ~100 kB
    header_timeout: float = 15.0  # seconds from connecting (or the previous answer) to the end of headers
    body_timeout: float = 30.0  # seconds for the whole body once the headers are in
    keep_alive: int = 15  # seconds an idle kept-alive connection stays open
    # Handler threads. Platform pushes hold a database connection each (the pool queues the rest);
    # store sales wait on their shop's group commit (app/hub/intake_batcher.py) and hold none.
    workers: int = 64
    # Who may set X-Forwarded-For: the TLS-terminating proxy in front (ARCHITECTURE.md, "The doors").
    trusted_proxies: str = "127.0.0.1"
    # Answers say which door process gave them (an ``X-Door-Pid`` header): tests and drills, not the internet.
    name_process: bool = False


def _json(status: int, answer: dict[str, Any]) -> tuple[int, bytes, bytes]:
    return status, json.dumps(answer, ensure_ascii=False).encode(), b"application/json; charset=utf-8"


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class DoorApp:
    """The ASGI application: reads a bounded body, then runs the blocking handler on the pool."""

    def __init__(self, handler: Handler, limits: DoorLimits, fast: FastHandler | None = None) -> None:
        self.handler, self.limits, self.fast = handler, limits, fast
        self.named = [(b"x-door-pid", str(os.getpid()).encode())] if limits.name_process else []
        self.pool = ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="door")

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            return
        extra = self.named
        try:
            body = await self._body(scope, receive)
            path, headers = _request(scope)
            answered = await self._fast(path, headers, body) if self.fast is not None else None
            if answered is None:
                answered = await asyncio.get_running_loop().run_in_executor(
                    self.pool, self._answer, path, headers, body)
            status, data, content_type = answered
        except _Refused as refusal:
            status, data, content_type = _json(refusal.status, {"ok": False, "message": refusal.message})
            extra = [*self.named, (b"connection", b"close")]  # the rest of a refused body is never read, not even to discard it
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type), (b"content-length", str(len(data)).encode()), *extra]})
        await send({"type": "http.response.body", "body": data})

    async def _body(self, scope: dict[str, Any], receive: Callable) -> bytes:
        if scope["method"] != "POST":
            raise _Refused(405, render("DOOR_POST_ONLY", "zh"))
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and int(declared) > self.limits.max_body:  # the parser has checked it is a number
            raise _Refused(413, render("DOOR_TOO_LARGE", "zh", kb=self.limits.max_body // 1024))
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.limits.body_timeout):
                more = True
                while more:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise _Refused(400, render("DOOR_DISCONNECTED", "zh"))
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.limits.max_body:
                        raise _Refused(413, render("DOOR_TOO_LARGE", "zh", kb=self.limits.max_body // 1024))
                    chunks.append(chunk)
                    more = message.get("more_body", False)
        except TimeoutError:
            raise _Refused(408, render("DOOR_TOO_SLOW", "zh")) from None
        return b"".join(chunks)

    async def _fast(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, bytes] | None:
        assert self.fast is not None
        try:
            answered = await self.fast(path, headers, body)
        except Exception as err:  # the same answers as the pool's: 503 for a lost database, else 500
            return _failed(err)
        return None if answered is None else _reply(*answered)

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, bytes]:
        try:
            status, answer = self.handler(path, headers, body)
        except Exception as err:  # never crash the doors on one bad request; the sender retries
            return _failed(err)
        return _reply(status, answer)


def _request(scope: dict[str, Any]) -> tuple[str, dict[str, str]]:
    # Raw path and query exactly as sent: some platforms (WeChat) sign over the query string.
    path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    headers[":query"] = scope.get("query_string", b"").decode("latin-1")
    client = scope.get("client")
    headers[":client"] = client[0] if client else ""  # after X-Forwarded-For from a trusted proxy
    return path, headers


def _failed(err: Exception) -> tuple[int, bytes, bytes]:
    if HUB_DATABASE.failed(err, "推送接收"):  # one sentence per outage, not a traceback per request
        return _json(503, {"ok": False, "message": render("DOOR_DB_DOWN", "zh")})
    log.error("receiver failed", exc_info=err)
    return _json(500, {"ok": False, "message": render("DOOR_FAILED", "zh", error=type(err).__name__)})


def _reply(status: int, answer: dict[str, Any]) -> tuple[int, bytes, bytes]:
    raw = answer.pop(RAW_REPLY, None)
    if isinstance(raw, bytes):
        return status, raw, b"text/plain"
    return _json(status, answer)


class _TimedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol plus a deadline for the request's headers (slowloris).

    uvicorn times out idle kept-alive connections but not a connection that never finishes its
    headers; one that has not within ``header_timeout`` is closed.
    """

    header_timeout = 15.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def _arm_header_deadline(self) -> None:
        self._header_deadline = self.loop.call_later(self.header_timeout, self._header_deadline_passed)

    def _header_deadline_passed(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._header_deadline.cancel()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():  # kept alive: the next request's headers get their own deadline
            self._header_deadline.cancel()
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._header_deadline.cancel()
        super().connection_lost(exc)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (not on Windows), else the standard library's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


class DoorServer:
    """Serves a handler on one listening socket from a background thread (the hub, tests, drills).

    ``reuse_port``: the socket is opened with SO_REUSEPORT, so other processes of the same user may listen on
    the same address and port and the kernel spreads new connections over them all (the hub's extra door
    processes, app/hub/receiver.py ``DoorProcess``).
    """

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1", port: int = 0,
                 limits: DoorLimits | None = None, fast: FastHandler | None = None, reuse_port: bool = False) -> None:
        self.limits = limits or DoorLimits()
        self.app = DoorApp(handler, self.limits, fast)
        protocol = type("DoorHttp", (_TimedHttp,), {"header_timeout": self.limits.header_timeout})
        self.socket = socket.create_server((host, port), backlog=4096, reuse_port=reuse_port)
        self.config = uvicorn.Config(
            self.app, http=protocol, lifespan="off", log_config=None, access_log=False,
            timeout_keep_alive=self.limits.keep_alive, backlog=4096, server_header=False,
            proxy_headers=True, forwarded_allow_ips=self.limits.trusted_proxies, timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self._serve, name="doors", daemon=True)

    def _serve(self) -> None:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(self.server.serve(sockets=[self.socket]))

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> DoorServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.socket.close()
        self.app.pool.shutdown(wait=False, cancel_futures=True)
