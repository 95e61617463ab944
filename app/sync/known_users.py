"""The people who signed in at this station, kept in its SQLite file so it can open while the database is away.

After each successful online sign-in the person's argon2 hash, role and name are stored here (the
station's own file, private to the station's user account); offline, a sign-in is checked against
that hash. Someone the station has never seen cannot sign in offline, and a person disabled on the
server since is only refused once the station is back online — said plainly on the sign-in screen.

Every offline sign-in, failure and sign-out is queued in the station's outbox (same file, fsync'd)
as an ``auth.offline_event`` command, so it reaches the server's audit trail exactly once when the
link is back. Wrong offline passwords count here too: after ``Policy.max_failures`` in a row the
person is locked at this station for ``lock_minutes``, as the server would.
"""

from __future__ import annotations

import socket
import uuid
from datetime import datetime, timedelta

from app.domain import clock
from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.messages import Coded
from app.services.auth import Policy, SignedIn, verify_password
from app.sync.commands import Command
from app.sync.local_db import LocalDb
from app.sync.outbox import Outbox

SCHEMA = """
CREATE TABLE IF NOT EXISTS known_users (
    login TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    signed_in_at TEXT NOT NULL
);
"""
# added after the first stations were out: an older file gains them on open
COLUMNS = {"failed_attempts": "INTEGER NOT NULL DEFAULT 0", "locked_until": "TEXT"}
KEEP = 20  # the last people who signed in here
EVENT = "auth.offline_event"


class KnownUsers:
    """The station's list of recent people (``station.sqlite3``), and the queue of its offline sign-in events."""

    def __init__(self, db: LocalDb, *, actor: Actor | None = None, policy: Policy = Policy()) -> None:
        self.db, self.policy = db, policy
        self.actor = actor or Actor("-", "-")
        self.outbox = Outbox(db)
        with db.connect() as conn:
            conn.executescript(SCHEMA)
            have = {r[1] for r in conn.execute("PRAGMA table_info(known_users)")}
            for name, kind in COLUMNS.items():
                if name not in have:
                    conn.execute(f"ALTER TABLE known_users ADD COLUMN {name} {kind}")

    def remember(self, who: SignedIn) -> None:
        """Keep (or refresh) one person after an online sign-in; the oldest beyond ``KEEP`` are forgotten."""
        if not who.password_hash:
            return
        with self.db.connect() as conn:
            conn.execute("INSERT INTO known_users (login, display_name, role, password_hash, signed_in_at) "
                         "VALUES (?, ?, ?, ?, ?) ON CONFLICT (login) DO UPDATE SET "
                         "display_name = excluded.display_name, role = excluded.role, "
                         "password_hash = excluded.password_hash, signed_in_at = excluded.signed_in_at, "
                         "failed_attempts = 0, locked_until = NULL",
                         (who.login, who.display_name, who.role, who.password_hash, clock.now().isoformat()))
            conn.execute("DELETE FROM known_users WHERE login NOT IN (SELECT login FROM known_users "
                         "ORDER BY signed_in_at DESC LIMIT ?)", (KEEP,))

    def logins(self) -> list[str]:
        return [r[0] for r in self.db.connect().execute("SELECT login FROM known_users ORDER BY signed_in_at DESC")]

    def sign_in(self, login: str, password: str, *, allowed_roles: tuple[str, ...] = ()) -> SignedIn:
        """Check ``password`` against the kept hash; the attempt, either way, is queued for the server's audit.

        Raises:
            BusinessError: SIGN_IN_OFFLINE_UNKNOWN, SIGN_IN_FAILED, SIGN_IN_LOCKED, SIGN_IN_ROLE_NOT_AT_STATION.
        """
        login = login.strip()[:60]  # what the audit trail can hold; nobody's login is longer
        now = clock.now()
        row = self.db.connect().execute("SELECT * FROM known_users WHERE login = ?", (login,)).fetchone()
        if row is None:
            self._queue("sign_in_failed", login, now, reason="unknown_offline")
            raise BusinessError("SIGN_IN_OFFLINE_UNKNOWN", login=login)
        locked = datetime.fromisoformat(row["locked_until"]) if row["locked_until"] else None
        if locked is not None and locked > now:
            self._queue("sign_in_failed", login, now, reason="locked", locked_until=locked.isoformat())
            raise BusinessError("SIGN_IN_LOCKED", until=clock.local(locked).strftime("%H:%M"))
        if not verify_password(row["password_hash"], password):
            self._wrong_password(login, now, 0 if locked is not None else int(row["failed_attempts"]))
        if allowed_roles and row["role"] not in allowed_roles:
            self._queue("sign_in_failed", login, now, reason="role_not_at_station", role=row["role"])
            raise BusinessError("SIGN_IN_ROLE_NOT_AT_STATION", role=Coded("role", row["role"]),
                                allowed=[Coded("role", r) for r in allowed_roles])
        with self.db.connect() as conn:
            conn.execute("UPDATE known_users SET failed_attempts = 0, locked_until = NULL WHERE login = ?", (login,))
        self._queue("sign_in", login, now, role=row["role"])
        return SignedIn(row["login"], row["display_name"], row["role"], False, offline=True)

    def signed_out(self, who: SignedIn, reason: str = "signed_out") -> None:
        """Queue the end of an offline session (``expired`` when the station signed its person out for idling)."""
        self._queue("expired" if reason == "expired" else "sign_out", who.login, clock.now(), reason=reason)

    def _wrong_password(self, login: str, now: datetime, failed_before: int) -> None:
        failed = failed_before + 1
        until = now + timedelta(minutes=self.policy.lock_minutes) if failed >= self.policy.max_failures else None
        with self.db.connect() as conn:
            conn.execute("UPDATE known_users SET failed_attempts = ?, locked_until = ? WHERE login = ?",
                         (failed, until.isoformat() if until else None, login))
        self._queue("sign_in_failed", login, now, reason="wrong_password", failed_attempts=failed,
                    locked_until=until.isoformat() if until else None)
        if until is not None:
            raise BusinessError("SIGN_IN_LOCKED", until=clock.local(until).strftime("%H:%M"))
        raise BusinessError("SIGN_IN_FAILED")

    def _queue(self, kind: str, login: str, at: datetime, **facts: object) -> None:
        """Put one event in the outbox (on disk when this returns); its command UUID is its id everywhere."""
        event_id = uuid.uuid4()
        args: dict[str, object] = {"kind": kind, "login": login or "-", "at": at.isoformat(),
                                   "event_id": str(event_id), "host": socket.gethostname(),
                                   "max_failures": self.policy.max_failures, "lock_minutes": self.policy.lock_minutes}
        args |= {k: v for k, v in facts.items() if v is not None}
        operator = login if login and not login.startswith("system:") else "-"
        self.outbox.add(Command(EVENT, args, operator, self.actor.station, self.actor.station_ip, event_id, at))

    def pending_events(self) -> int:
        """Offline sign-in events not yet in the server's audit trail."""
        row = self.db.connect().execute("SELECT count(*) FROM outbox WHERE name = ? AND state = 'pending'",
                                        (EVENT,)).fetchone()
        return int(row[0])
