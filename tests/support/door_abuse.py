"""Raw-socket abuse of the hub's doors and a paced signed-push load, shared by the suite and drill_doors.py."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from connectors.pos import sign

MALFORMED = {
    "garbage request line": b"HELLO THERE\r\n\r\n",
    "unknown HTTP version": b"POST /pos/X HTTP/7.3\r\nHost: a\r\n\r\n",
    "chunked body with a bad chunk size": b"POST /pos/X HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "non-numeric Content-Length": b"POST /pos/X HTTP/1.1\r\nHost: a\r\nContent-Length: lots\r\n\r\nabc",
    "negative Content-Length": b"POST /pos/X HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
    "header without colon": b"POST /pos/X HTTP/1.1\r\nHost: a\r\nthis is not a header\r\n\r\n",
    "space inside a header name": b"POST /pos/X HTTP/1.1\r\nHost: a\r\nBad Name: 1\r\n\r\n",
    "control byte in the path": b"POST /pos/\x01X HTTP/1.1\r\nHost: a\r\n\r\n",
    "two different Content-Lengths": b"POST /pos/X HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
}


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def status_of(reply: bytes) -> int | None:
    """The status code of a raw HTTP answer, or None when the server closed without one."""
    if not reply.startswith(b"HTTP/1."):
        return None
    return int(reply.split(b" ", 2)[1])


def raw_exchange(url: str, data: bytes, *, timeout: float = 10.0) -> bytes:
    """Send ``data`` as is and read until the server closes or stops sending."""
    with socket.create_connection(address(url), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks):
                    head, _, rest = b"".join(chunks).partition(b"\r\n\r\n")
                    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), None)
                    if length is not None and len(rest) >= length:
                        break
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


def declare_huge_body(url: str, declared: int, *, timeout: float = 10.0) -> tuple[int | None, float]:
    """Headers announcing ``declared`` bytes, no body sent: (status, seconds to the answer)."""
    started = time.perf_counter()
    reply = raw_exchange(url, (f"POST /pos/X HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
                               f"Content-Length: {declared}\r\n\r\n").encode() + b"{" * 1024, timeout=timeout)
    return status_of(reply), time.perf_counter() - started


def stream_huge_body(url: str, sent_limit: int, *, timeout: float = 10.0) -> tuple[int | None, int]:
    """A chunked body with no declared length, sent until the server answers: (status, bytes sent)."""
    sent = 0
    with socket.create_connection(address(url), timeout=timeout) as sock:
        sock.sendall(b"POST /pos/X HTTP/1.1\r\nHost: hub\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
        try:
            while sent < sent_limit:
                sock.sendall(chunk)
                sent += 0x10000
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            return status_of(sock.recv(65536)), sent
        except (ConnectionResetError, TimeoutError):
            return None, sent


@dataclass
class IdleCrowd:
    """``n`` connections that never finish a request; half trickle a header line now and then (slowloris)."""

    url: str
    n: int
    sockets: list[socket.socket] = field(default_factory=list)

    def open(self) -> IdleCrowd:
        host, port = address(self.url)
        for i in range(self.n):
            sock = socket.create_connection((host, port), timeout=10)
            if i % 2:
                sock.sendall(b"POST /pos/X HTTP/1.1\r\nHost: hub\r\n")  # headers started, never finished
            self.sockets.append(sock)
        return self

    def trickle(self) -> None:
        for sock in self.sockets[1::2]:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                pass

    def still_open(self) -> int:
        """How many the server has not closed yet (a closed one reads as end-of-file)."""
        alive = 0
        for sock in self.sockets:
            sock.setblocking(False)
            try:
                alive += sock.recv(1) != b""
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        return alive

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def post(path: str, headers: dict[str, str], body: bytes) -> bytes:
    """A raw HTTP/1.1 POST of ``body`` to ``path`` with ``headers`` (a platform's signed push, as it sends it)."""
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"POST {path} HTTP/1.1\r\nHost: hub\r\n{lines}Content-Length: {len(body)}\r\n\r\n".encode() + body


def signed_push(store_code: str, secret: str, body: bytes) -> bytes:
    """One POS sale as a raw HTTP/1.1 request, signed as a till signs it."""
    stamp = str(int(time.time()))
    return post(f"/pos/{store_code}", {"Content-Type": "application/json; charset=utf-8", "X-OrderHub-Timestamp": stamp,
                                       "X-OrderHub-Signature": sign(secret, stamp, body)}, body)


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    return int(head.split(b" ", 2)[1]), await reader.readexactly(length)


@dataclass
class LoadResult:
    """Latencies (ms) of answered pushes, answers' statuses and bodies, and what failed on the wire."""

    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


async def _paced_load(url: str, requests: list[bytes], rate: float, connections: int) -> LoadResult:
    """Open-loop: request i is due at start + i/rate; latency counts from when it was due, not sent."""
    result = LoadResult()
    host, port = address(url)
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    started = time.perf_counter()

    async def sender() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while (item := await queue.get()) is not None:
            due, data = item
            try:
                writer.write(data)
                status, body = await _read_answer(reader)
                result.latencies.append((time.perf_counter() - due) * 1000)
                result.statuses.append(status)
                result.bodies.append(body)
            except (OSError, asyncio.IncompleteReadError) as err:
                result.errors.append(type(err).__name__)
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
        writer.close()

    workers = [asyncio.create_task(sender()) for _ in range(connections)]
    for i, data in enumerate(requests):
        due = started + i / rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        queue.put_nowait((due, data))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    result.seconds = time.perf_counter() - started
    return result


def paced_load(url: str, requests: list[bytes], *, rate: float, connections: int = 64) -> LoadResult:
    """Send ``requests`` at ``rate`` per second over ``connections`` kept-alive connections."""
    return asyncio.run(_paced_load(url, requests, rate, connections))


def create_received(hub) -> int:
    """What the inbox worker does after a burst, done here in the test's thread (no worker process): the
    orders of every received store sale created; how many sales were taken."""
    from app.hub.inbox_worker import received_sale
    from app.services import ingest

    taken = 0
    while n := len(ingest.create_received(hub.uow(), received_sale).outcomes):
        taken += n
    return taken
