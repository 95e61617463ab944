"""A fake network printer: a real TCP server on 127.0.0.1 that takes ESC/POS and answers DLE EOT.

It records every byte it receives per connection, answers real-time status queries from its
current state (online, offline, paper out, paper low, cover open), and can drop a connection
after a number of job bytes, as a printer that is switched off mid-slip does.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
import time

STATUS_BASE = 0x12


class FakePrinter:
    def __init__(self) -> None:
        self.state = "online"  # online | offline | paper_out | paper_low | cover_open
        self.drop_after: int | None = None  # close the next connection after this many job bytes
        self.stall = False  # stop reading job bytes (a jammed printer): the sender blocks
        # (after this many job bytes on one connection, attribute changes): a fault that strikes
        # mid-wave at an exact point, e.g. (len(first_two_slips), {"state": "paper_out"}).
        self.turn: tuple[int, dict[str, object]] | None = None
        self.connections: list[bytearray] = []
        self.status_queries = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                fake._serve(self.request)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def status_byte(self, n: int) -> int:
        s = self.state
        if n == 1:
            return STATUS_BASE | (0x08 if s in ("offline", "paper_out", "cover_open") else 0)
        if n == 2:
            return STATUS_BASE | (0x04 if s == "cover_open" else 0) | (0x20 if s == "paper_out" else 0)
        if n == 4:
            return STATUS_BASE | (0x60 if s == "paper_out" else 0) | (0x0C if s == "paper_low" else 0)
        return STATUS_BASE

    def _serve(self, conn: socket.socket) -> None:
        received = bytearray()
        with self._lock:
            self.connections.append(received)
            drop_after, self.drop_after = self.drop_after, None
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            # A real-time query is the last thing the client sends before it waits for the answer:
            # three bytes 10 04 n at the end of what arrived, followed by silence. (The same three
            # bytes inside a job's raster data are followed by more data, so they stay data.)
            query = None
            if len(chunk) >= 3 and chunk[-3:-1] == b"\x10\x04" and chunk[-1] in (1, 2, 4):
                conn.settimeout(0.05)
                try:
                    more = conn.recv(65536, socket.MSG_PEEK)
                except (TimeoutError, socket.timeout):
                    more = b""
                except OSError:
                    return
                conn.settimeout(None)
                if not more:
                    query, chunk = chunk[-1], chunk[:-3]
            if drop_after is not None and len(received) + len(chunk) >= drop_after:
                received += chunk[: drop_after - len(received)]
                # RST, not FIN: the client sees the link break, as with a printer switched off.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                return
            received += chunk
            if self.turn is not None and len(received) >= self.turn[0]:
                changes, self.turn = self.turn[1], None
                for name, value in changes.items():
                    setattr(self, name, value)
            if query is not None:
                self.status_queries += 1
                conn.sendall(bytes((self.status_byte(query),)))
            while self.stall and received:
                time.sleep(0.02)

    def jobs_received(self, payload: bytes) -> int:
        """How many times ``payload`` arrived whole (what came out of the printer complete)."""
        return sum(bytes(c).count(payload) for c in self.connections)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
