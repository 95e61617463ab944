"""Shop credentials outside the database: the OS keyring where there is one, a private file where not.

The database only holds a reference (``shops.credentials_ref``). On a desktop the secret goes to
the OS keyring (Secret Service, macOS Keychain, Windows Credential Locker). A headless server
usually has no keyring: then secrets live in ``<data dir>/secrets.json``, readable only by the
service user (mode 0600), and the hub says so in its log at start.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path
from collections.abc import Callable
from typing import Any, Protocol

from connectors.base import Connector, Credentials

log = logging.getLogger(__name__)
SERVICE = "OrderHub"
STAT_EVERY = 1.0  # seconds: how stale secrets.json may be seen (an edit by another process shows within this)


class CredentialStore(Protocol):
    def get(self, ref: str) -> Credentials | None: ...
    def put(self, ref: str, credentials: Credentials) -> None: ...


class KeyringStore:
    """Secrets in the OS keyring, one JSON entry per shop."""

    def __init__(self) -> None:
        import keyring

        self._keyring = keyring

    def __reduce__(self) -> tuple[type, tuple]:  # handed to the push inbox's worker process (it imports keyring itself)
        return KeyringStore, ()

    def get(self, ref: str) -> Credentials | None:
        raw = self._keyring.get_password(SERVICE, ref)
        return Credentials(**json.loads(raw)) if raw else None

    def put(self, ref: str, credentials: Credentials) -> None:
        self._keyring.set_password(SERVICE, ref, json.dumps(asdict(credentials)))


class FileStore:
    """Secrets in a private JSON file (0600) for headless servers without a keyring."""

    # ``get`` costs a stat of a local file (parsed again only when it changed): fit for the doors'
    # event loop. The keyring (D-Bus, Keychain) may block and is asked from a worker thread.
    cheap_get = True

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        # The parsed file, kept until the file changes (every push asks for its shop's secret).
        self._cached: tuple[tuple[int, int, int], dict[str, Credentials]] | None = None
        self._checked = float("-inf")  # when the file was last stat'ed

    def __reduce__(self) -> tuple[type, tuple]:  # handed to the push inbox's worker process: the path, read there
        return FileStore, (self.path,)

    def _read(self) -> dict[str, dict]:
        if not self.path.exists():
            return {}
        return json.loads(self.path.read_text(encoding="utf-8"))

    def _parsed(self, *, recent: bool = False) -> dict[str, Credentials]:
        cached, now = self._cached, time.monotonic()
        if recent and cached is not None and now - self._checked < STAT_EVERY:
            return cached[1]  # a burst of pushes stats the file once a second, not once per push
        self._checked = now
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return {}
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)  # os.replace in put() gives a new inode
        cached = self._cached
        if cached is not None and cached[0] == stamp:
            return cached[1]
        parsed = {ref: Credentials(**entry) for ref, entry in self._read().items() if entry}
        self._cached = (stamp, parsed)
        return parsed

    def peek(self, ref: str) -> Credentials | None:
        """The kept credentials themselves, not a copy, as of at most ``STAT_EVERY`` seconds ago: to read only
        (the doors verify a signature with them). ``get`` always looks at the file: a token another process
        just refreshed must be seen at once (a refresh token may be single-use)."""
        return self._parsed(recent=True).get(ref)

    def get(self, ref: str) -> Credentials | None:
        found = self._parsed().get(ref)
        # A copy: connectors refresh tokens in place (connectors/pdd.py), the cache must not change with them.
        return replace(found, extra=dict(found.extra)) if found is not None else None

    def put(self, ref: str, credentials: Credentials) -> None:
        with self._lock:
            data = self._read()
            data[ref] = asdict(credentials)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False)
            os.replace(tmp, self.path)
            self._checked = float("-inf")  # this process sees its own change at once


_refresh_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def wire(connector: Connector, store: CredentialStore, ref: str | None) -> Connector:
    """Persist refreshed tokens, and refresh each shop's token in one place at a time.

    Pollers and push handlers each hold a connector; when both find the token expired at once,
    the second must adopt the token the first just got (a refresh token can be single-use, and
    WeChat invalidates the previous token on every fetch), not refresh again.
    """
    if not ref:
        return connector
    with _locks_guard:
        lock = _refresh_locks.setdefault(ref, threading.Lock())
    refresh = connector.refresh_token

    def refresh_once() -> None:
        with lock:
            latest = store.get(ref)
            if latest is not None and latest.access_token != connector.credentials.access_token:
                connector.credentials = latest  # someone else refreshed meanwhile
                return
            refresh()

    connector.refresh_token = refresh_once  # type: ignore[method-assign]
    connector.on_credentials_changed = lambda creds: store.put(ref, creds)
    return connector


class KeptConnectors:
    """One wired connector per thread and shop, kept: its HTTP session keeps its connection to the
    platform alive instead of opening one per push. A changed shop or credentials make a new one."""

    def __init__(self, factory: Callable[[Any, Credentials], Connector], store: CredentialStore) -> None:
        self.factory, self.store = factory, store
        self._local = threading.local()

    def get(self, shop: Any, creds: Credentials) -> Connector:
        """This thread's connector for ``shop`` (a ``ShopConfig``)."""
        kept: dict[int, tuple[Any, Connector]] = self._local.__dict__.setdefault("connectors", {})
        found = kept.get(shop.id)
        if found is not None and found[0] == shop and found[1].credentials == creds:
            return found[1]
        if found is not None:
            found[1].close()
        # A copy: connectors refresh tokens in place, and ``creds`` may be the store's own (FileStore.peek).
        connector = wire(self.factory(shop, replace(creds, extra=dict(creds.extra))), self.store, shop.credentials_ref)
        kept[shop.id] = (shop, connector)
        return connector


def open_store(data_dir: Path, *, prefer_keyring: bool = True) -> CredentialStore:
    """The OS keyring if a usable one is installed, else the private file in ``data_dir``."""
    if prefer_keyring:
        try:
            import keyring
            from keyring.backends import fail

            backend = keyring.get_keyring()
            if not isinstance(backend, fail.Keyring) and backend.priority > 0:
                return KeyringStore()
        except Exception as err:  # a broken keyring backend must not stop the hub
            log.warning("OS keyring unavailable (%s)", err)
    path = data_dir / "secrets.json"
    log.warning("no OS keyring here: shop credentials are kept in %s (readable by this user only)", path)
    return FileStore(path)
