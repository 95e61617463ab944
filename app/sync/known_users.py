"""The people who signed in at this station, kept in its SQLite file so it can open while the database is away.

After each successful online sign-in the person's argon2 hash, role and name are stored here (the
station's own file, private to the station's user account); offline, a sign-in is checked against
that hash. Someone the station has never seen cannot sign in offline, and a person disabled on the
server since is only refused once the station is back online — said plainly on the sign-in screen.
"""

from __future__ import annotations

from app.domain import clock
from app.domain.errors import BusinessError
from app.domain.messages import Coded
from app.services.auth import SignedIn, verify_password
from app.sync.local_db import LocalDb

SCHEMA = """
CREATE TABLE IF NOT EXISTS known_users (
    login TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    signed_in_at TEXT NOT NULL
);
"""
KEEP = 20  # the last people who signed in here


class KnownUsers:
    """The station's list of recent people (``station.sqlite3``)."""

    def __init__(self, db: LocalDb) -> None:
        self.db = db
        with db.connect() as conn:
            conn.executescript(SCHEMA)

    def remember(self, who: SignedIn) -> None:
        """Keep (or refresh) one person after an online sign-in; the oldest beyond ``KEEP`` are forgotten."""
        if not who.password_hash:
            return
        with self.db.connect() as conn:
            conn.execute("INSERT INTO known_users VALUES (?, ?, ?, ?, ?) ON CONFLICT (login) DO UPDATE SET "
                         "display_name = excluded.display_name, role = excluded.role, "
                         "password_hash = excluded.password_hash, signed_in_at = excluded.signed_in_at",
                         (who.login, who.display_name, who.role, who.password_hash, clock.now().isoformat()))
            conn.execute("DELETE FROM known_users WHERE login NOT IN (SELECT login FROM known_users "
                         "ORDER BY signed_in_at DESC LIMIT ?)", (KEEP,))

    def logins(self) -> list[str]:
        return [r[0] for r in self.db.connect().execute("SELECT login FROM known_users ORDER BY signed_in_at DESC")]

    def sign_in(self, login: str, password: str, *, allowed_roles: tuple[str, ...] = ()) -> SignedIn:
        """Check ``password`` against the kept hash.

        Raises:
            BusinessError: SIGN_IN_OFFLINE_UNKNOWN, SIGN_IN_FAILED, SIGN_IN_ROLE_NOT_AT_STATION.
        """
        row = self.db.connect().execute("SELECT login, display_name, role, password_hash FROM known_users "
                                        "WHERE login = ?", (login.strip(),)).fetchone()
        if row is None:
            raise BusinessError("SIGN_IN_OFFLINE_UNKNOWN", login=login.strip())
        if not verify_password(row["password_hash"], password):
            raise BusinessError("SIGN_IN_FAILED")
        if allowed_roles and row["role"] not in allowed_roles:
            raise BusinessError("SIGN_IN_ROLE_NOT_AT_STATION", role=Coded("role", row["role"]),
                                allowed=[Coded("role", r) for r in allowed_roles])
        return SignedIn(row["login"], row["display_name"], row["role"], False, offline=True)
