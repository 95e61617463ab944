"""A proxy that lets a command's COMMIT reach PostgreSQL and then drops the answer, once per command.

It reads the PostgreSQL wire protocol from the station: the Bind of ``INSERT INTO applied_commands``
names the command (a replay batch's one INSERT names all of its commands; the last stands for them), and the ``COMMIT`` after it is the one whose acknowledgement is lost. The server
has committed; the station hears only a reset connection (odoo/odoo#40567: the order reached the
server, the answer did not, the re-send made a duplicate).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import uuid

from tests.sync.proxy import LoopbackProxy

_SSL, _GSS = 80877103, 80877104


class _Conversation:
    """What one client connection has said so far, as far as the drop needs to know."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.startup = True
        self.statements: dict[bytes, bytes] = {}
        self.command: uuid.UUID | None = None
        self.drop_answer = threading.Event()


class LostAckProxy(LoopbackProxy):
    """Every command's first COMMIT is applied and its answer lost; later attempts pass untouched."""

    def __init__(self, unix_path: str) -> None:
        self.seen: set[uuid.UUID] = set()
        self.dropped = 0
        self._seen_lock = threading.Lock()
        super().__init__(unix_path)

    def _serve(self, client: socket.socket, upstream: socket.socket) -> None:
        talk = _Conversation()
        threading.Thread(target=self._requests, args=(client, upstream, talk), daemon=True).start()
        threading.Thread(target=self._answers, args=(upstream, client, talk), daemon=True).start()

    def _requests(self, src: socket.socket, dst: socket.socket, talk: _Conversation) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                talk.buf += data
                self._read(talk)  # arms the drop before the COMMIT goes out
                dst.sendall(data)
        except OSError:
            pass
        _close(src, dst)

    def _answers(self, src: socket.socket, dst: socket.socket, talk: _Conversation) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if talk.drop_answer.is_set():  # the server has answered the COMMIT: it committed
                    self.dropped += 1
                    _reset(dst)
                    _reset(src)
                    return
                dst.sendall(data)
        except OSError:
            pass
        _close(src, dst)

    def _read(self, talk: _Conversation) -> None:
        buf = talk.buf
        while True:
            if talk.startup:
                if len(buf) < 8:
                    return
                length = struct.unpack("!I", buf[:4])[0]
                if len(buf) < length:
                    return
                code = struct.unpack("!I", buf[4:8])[0]
                talk.startup = code in (_SSL, _GSS)
                del buf[:length]
                continue
            if len(buf) < 5:
                return
            kind, length = buf[0:1], struct.unpack("!I", buf[1:5])[0]
            if len(buf) < 1 + length:
                return
            body = bytes(buf[5:1 + length])
            del buf[:1 + length]
            self._message(talk, kind, body)

    def _message(self, talk: _Conversation, kind: bytes, body: bytes) -> None:
        if kind == b"P":
            name, rest = body.split(b"\0", 1)
            talk.statements[name] = rest.split(b"\0", 1)[0]
        elif kind == b"B":
            _portal, rest = body.split(b"\0", 1)
            statement, rest = rest.split(b"\0", 1)
            query = talk.statements.get(statement, b"")
            if b"INSERT INTO applied_commands" in query:
                talk.command = _first_parameter(rest)
        elif kind == b"Q":
            query = body.split(b"\0", 1)[0].strip().upper()
            if query.startswith(b"COMMIT") and talk.command is not None:
                with self._seen_lock:
                    first = talk.command not in self.seen
                    self.seen.add(talk.command)
                if first:
                    talk.drop_answer.set()
                talk.command = None
            elif query.startswith(b"ROLLBACK"):
                talk.command = None


def _first_parameter(bind: bytes) -> uuid.UUID | None:
    n_formats = struct.unpack("!H", bind[:2])[0]
    formats = struct.unpack(f"!{n_formats}H", bind[2:2 + 2 * n_formats])
    at = 2 + 2 * n_formats
    n_params = struct.unpack("!H", bind[at:at + 2])[0]
    if not n_params:
        return None
    size = struct.unpack("!i", bind[at + 2:at + 6])[0]
    raw = bind[at + 6:at + 6 + size]
    binary = (formats[0] if formats else 0) == 1
    if binary and size == 16:
        return uuid.UUID(bytes=raw)
    text = raw.decode().lstrip("\x01")  # (binary jsonb starts with its version byte)
    if text.startswith("["):  # a replay batch records its commands in one INSERT, as JSON rows
        rows = json.loads(text)
        return uuid.UUID(rows[-1]["command_id"]) if rows else None
    return uuid.UUID(text)


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, not a clean close
    except OSError:
        pass
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes the other pump's recv now (close alone waits for it)
    except OSError:
        pass
    _close(sock)


def _close(*socks: socket.socket) -> None:
    for s in socks:
        try:
            s.close()
        except OSError:
            pass
