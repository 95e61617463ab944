"""A loopback TCP proxy in front of PostgreSQL's unix socket that can pass, stall or drop the traffic."""

from __future__ import annotations

import select
import socket
import threading
import time

import sqlalchemy as sa


class LoopbackProxy:
    """127.0.0.1:<port> → the server's unix socket. ``stall()`` holds every byte (nothing errors,
    nothing arrives, like a dead switch); ``drop()`` resets every connection and refuses new ones."""

    def __init__(self, unix_path: str) -> None:
        self.unix_path = unix_path
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.mode = "pass"
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @classmethod
    def to(cls, url: sa.URL) -> LoopbackProxy:
        return cls(f"{url.query['host']}/.s.PGSQL.{url.port or 5432}")

    def url(self, url: sa.URL) -> sa.URL:
        """``url`` re-pointed at the proxy."""
        return url.set(host="127.0.0.1", port=self.port, query={k: v for k, v in url.query.items() if k != "host"})

    def stall(self) -> None:
        self.mode = "stall"

    def resume(self) -> None:
        self.mode = "pass"

    def drop(self) -> None:
        self.mode = "drop"
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            for s in (a, b):
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    s.close()
                except OSError:
                    pass

    def close(self) -> None:
        self._closed = True
        self.drop()
        self.listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.mode == "drop":
                client.close()
                continue
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.unix_path)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            self._serve(client, upstream)

    def _serve(self, client: socket.socket, upstream: socket.socket) -> None:
        threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not self._closed:
                if self.mode == "stall":
                    time.sleep(0.02)
                    continue
                readable, _, _ = select.select([src], [], [], 0.1)
                if not readable:
                    continue
                if self.mode == "stall":
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except (OSError, ValueError):
            pass
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass
