"""Signing in and out: argon2 passwords, lockout after repeated failures, sessions that expire when idle.

Every sign-in, sign-out and failure is an audit record with the station and its IP. Failures are
committed before the refusal is raised, so a guesser's attempts are counted and recorded even though
the caller only sees "wrong login or password". Time comes from ``now`` (default: the business
clock), so tests move it by hand.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.db.auth_models import AuthSession
from app.db.models import User
from app.domain import clock
from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.messages import Coded
from app.domain.permissions import PERSON_ROLES, is_service_login
from app.services import audit
from app.services.unit_of_work import UnitOfWork

PASSWORD_MIN = 8
# OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): a guess costs an attacker as much memory as
# the library's default would while a sign-in stays well under 300 ms on a busy 2-core station; the
# parameters live in each hash, so older hashes still verify and are upgraded at their next sign-in.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


@dataclass(frozen=True, slots=True)
class Policy:
    """The sign-in numbers, from the settings (``sign_in_max_failures`` …)."""

    max_failures: int = 5
    lock_minutes: int = 15
    idle_minutes: int = 30
    cli_minutes: int = 480

    @classmethod
    def from_settings(cls, settings: object) -> Policy:
        return cls(getattr(settings, "sign_in_max_failures", 5), getattr(settings, "sign_in_lock_minutes", 15),
                   getattr(settings, "idle_sign_out_minutes", 30), getattr(settings, "cli_session_minutes", 480))


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who signed in; ``token`` names the session, ``password_hash`` is for the station's offline list."""

    login: str
    display_name: str
    role: str
    must_change_password: bool
    token: str = field(default="", repr=False)
    password_hash: str = field(default="", repr=False)
    offline: bool = False


def hash_password(password: str) -> str:
    """An argon2id hash (salted; the parameters travel inside the string)."""
    if len(password) < PASSWORD_MIN:
        raise BusinessError("PASSWORD_TOO_SHORT", min=PASSWORD_MIN)
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; a missing or unreadable hash never matches."""
    if not stored:
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(uow: UnitOfWork, login: str, *, lock: bool = False) -> User | None:
    query = sa.select(User).where(User.login == login, User.role.in_(PERSON_ROLES))
    return uow.session.scalar(query.with_for_update() if lock else query)


def _stored_hash(uow: UnitOfWork, login: str) -> str | None:
    # through the SECURITY DEFINER function: a station's database role cannot read the column itself
    return uow.session.scalar(sa.select(sa.func.orderhub_password_hash(login)))


def sign_in(uow: UnitOfWork, login: str, password: str, *, station: str, station_ip: str | None = None,
            policy: Policy = Policy(), now: datetime | None = None, kind: str = "station",
            allowed_roles: tuple[str, ...] = ()) -> SignedIn:
    """Check login and password; on success open a session (audited), on failure count and record it.

    Raises:
        BusinessError: SIGN_IN_FAILED (unknown login or wrong password — the same words for both),
            SIGN_IN_LOCKED, SIGN_IN_ROLE_NOT_AT_STATION.
    """
    now = now or clock.now()
    login = login.strip()
    actor = Actor(login or "-", station, station_ip)
    with uow:
        user = None if is_service_login(login) else _user(uow, login, lock=True)
        if user is None or not user.enabled:
            audit.record(uow.session, actor, "auth.sign_in_failed", "user", login or "-", basis=None, before=None,
                         after={"reason": "unknown_or_disabled"})
            uow.commit()
            raise BusinessError("SIGN_IN_FAILED")
        if user.locked_until is not None and user.locked_until > now:
            audit.record(uow.session, actor, "auth.sign_in_failed", "user", login, basis=None, before=None,
                         after={"reason": "locked", "locked_until": user.locked_until})
            until = clock.local(user.locked_until).strftime("%H:%M")
            uow.commit()
            raise BusinessError("SIGN_IN_LOCKED", until=until)
        stored = _stored_hash(uow, login)
        if not verify_password(stored, password):
            user.failed_attempts = (0 if user.locked_until is not None else user.failed_attempts) + 1
            user.locked_until = None
            locked = user.failed_attempts >= policy.max_failures
            after = {"reason": "wrong_password", "failed_attempts": user.failed_attempts}
            audit.record(uow.session, actor, "auth.sign_in_failed", "user", login, basis=None, before=None, after=after)
            if locked:
                user.locked_until = now + timedelta(minutes=policy.lock_minutes)
                audit.record(uow.session, actor, "auth.locked", "user", login, basis=None, before=None,
                             after={"locked_until": user.locked_until, "failed_attempts": user.failed_attempts})
            uow.commit()
            if locked:
                raise BusinessError("SIGN_IN_LOCKED", until=clock.local(user.locked_until).strftime("%H:%M"))
            raise BusinessError("SIGN_IN_FAILED")
        if allowed_roles and user.role not in allowed_roles:
            raise BusinessError("SIGN_IN_ROLE_NOT_AT_STATION", role=Coded("role", user.role),
                                allowed=[Coded("role", r) for r in allowed_roles])
        if _hasher.check_needs_rehash(stored):  # type: ignore[arg-type]
            stored = user.password_hash = _hasher.hash(password)
        user.failed_attempts, user.locked_until, user.last_sign_in_at = 0, None, now
        token = secrets.token_urlsafe(32)
        uow.session.add(AuthSession(token_sha256=token_digest(token), login=login, kind=kind, station=station,
                                    started_at=now, last_seen_at=now))
        audit.record(uow.session, actor, "auth.sign_in", "user", login, basis=None, before=None,
                     after={"kind": kind, "role": user.role})
        view = SignedIn(user.login, user.display_name, user.role, user.must_change_password, token, stored or "")
        uow.commit()
    return view


def session_user(uow: UnitOfWork, token: str, *, idle_minutes: int, now: datetime | None = None,
                 station: str | None = None, station_ip: str | None = None) -> SignedIn:
    """The person behind a session token, touching it; an idle or ended session is refused (and ended).

    Raises:
        BusinessError: SIGN_IN_REQUIRED (no such open session) or SIGN_IN_EXPIRED.
    """
    now = now or clock.now()
    with uow:
        row = uow.session.scalar(sa.select(AuthSession).where(AuthSession.token_sha256 == token_digest(token))
                                 .with_for_update())
        if row is None or row.ended_at is not None:
            raise BusinessError("SIGN_IN_REQUIRED")
        user = _user(uow, row.login)
        if user is None or not user.enabled:
            raise BusinessError("SIGN_IN_REQUIRED")
        if now - row.last_seen_at > timedelta(minutes=idle_minutes):
            row.ended_at, row.end_reason = now, "expired"
            audit.record(uow.session, Actor(row.login, station or row.station or "-", station_ip), "auth.expired",
                         "user", row.login, basis=None, before=None, after={"kind": row.kind, "idle_minutes": idle_minutes})
            uow.commit()
            raise BusinessError("SIGN_IN_EXPIRED", minutes=idle_minutes)
        row.last_seen_at = now
        view = SignedIn(user.login, user.display_name, user.role, user.must_change_password, token)
        uow.commit()
    return view


def sign_out(uow: UnitOfWork, token: str, actor: Actor, *, reason: str = "signed_out", now: datetime | None = None) -> None:
    """End a session (audited as a sign-out, or as idle expiry when ``reason`` is ``expired``)."""
    now = now or clock.now()
    with uow:
        row = uow.session.scalar(sa.select(AuthSession).where(AuthSession.token_sha256 == token_digest(token)))
        if row is None or row.ended_at is not None:
            return
        row.ended_at, row.end_reason = now, reason
        audit.record(uow.session, actor, "auth.expired" if reason == "expired" else "auth.sign_out", "user", row.login,
                     basis=None, before=None, after={"kind": row.kind})
        uow.commit()


def change_password(uow: UnitOfWork, login: str, old: str, new: str, actor: Actor) -> None:
    """A person changes their own password (the old one proves it is them); clears a forced change."""
    if old == new:
        raise BusinessError("PASSWORD_SAME")
    new_hash = hash_password(new)
    with uow:
        user = _user(uow, login, lock=True)
        if user is None or not user.enabled or not verify_password(_stored_hash(uow, login), old):
            raise BusinessError("SIGN_IN_FAILED")
        user.password_hash, user.must_change_password = new_hash, False
        user.failed_attempts, user.locked_until = 0, None
        audit.record(uow.session, actor, "auth.password_changed", "user", login, basis=None, before=None, after=None)
        uow.commit()


def needs_first_admin(uow: UnitOfWork) -> bool:
    """An empty company: no person can sign in yet, so the station asks for the first administrator."""
    with uow:
        return not uow.session.scalar(sa.select(sa.exists().where(User.role.in_(PERSON_ROLES))))


def create_first_admin(uow: UnitOfWork, login: str, display_name: str, password: str, *, station: str,
                       station_ip: str | None = None) -> None:
    """The first administrator of an empty database (refused once anyone exists)."""
    from app.services.users import check_login

    check_login(login)
    new_hash = hash_password(password)
    with uow:
        uow.session.execute(sa.text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))  # two first starts at once
        if uow.session.scalar(sa.select(sa.exists().where(User.role.in_(PERSON_ROLES)))):
            raise BusinessError("FIRST_ADMIN_EXISTS")
        uow.session.add(User(login=login, display_name=display_name.strip() or login, role="admin",
                             password_hash=new_hash))
        audit.record(uow.session, Actor(login, station, station_ip), "user.created", "user", login, basis=None,
                     before=None, after={"role": "admin", "first_admin": True})
        uow.commit()


# --- offline sign-ins reaching the server (issue #14) -------------------------------------------
OFFLINE_KINDS = {"sign_in": "auth.sign_in_offline", "sign_in_failed": "auth.sign_in_failed",
                 "sign_out": "auth.sign_out", "expired": "auth.expired"}


def record_offline_event(uow: UnitOfWork, event: dict[str, object], actor: Actor, *, policy: Policy = Policy(),
                         now: datetime | None = None) -> None:
    """Write one sign-in event a station recorded while its database was away into the audit trail.

    The station's outbox delivers it as a command, so its UUID (``event_id``, also in the record)
    makes it land exactly once. ``at`` is the station's business-clock time of the event; the
    record's own time is the server's, when it arrived. A wrong offline password also counts
    towards the server's lockout, unless the person has signed in successfully since (their
    counter started over then). An offline success does not reset the server's counter: failures
    at other stations may have come after it.
    """
    now = now or clock.now()
    kind = str(event.get("kind"))
    if kind not in OFFLINE_KINDS:
        raise BusinessError("SYNC_COMMAND_INVALID", name="auth.offline_event", detail=f"kind: {kind}")
    at = datetime.fromisoformat(str(event["at"]))
    login = str(event.get("login") or "-")
    after: dict[str, object] = {"offline": True, "at": at, "event_id": event.get("event_id"), "kind": "station",
                                "host": event.get("host")}
    for key in ("reason", "role", "failed_attempts", "locked_until"):
        if event.get(key) is not None:
            after[key] = event[key]
    with uow:
        user = None if is_service_login(login) else _user(uow, login, lock=True)
        if user is not None and kind == "sign_in" and (user.last_sign_in_at is None or user.last_sign_in_at < at):
            user.last_sign_in_at = at
        audit.record(uow.session, actor, OFFLINE_KINDS[kind], "user", login, basis=None, before=None, after=after)
        if user is not None and kind == "sign_in_failed" and event.get("reason") == "wrong_password":
            _count_offline_failure(uow, user, actor, at, policy, now)
        uow.commit()


def _count_offline_failure(uow: UnitOfWork, user: User, actor: Actor, at: datetime, policy: Policy,
                           now: datetime) -> None:
    if user.last_sign_in_at is not None and user.last_sign_in_at >= at:
        return  # the person signed in successfully after this failure: the counter started over then
    if user.locked_until is not None and user.locked_until > now:
        return  # already locked; the lock stands as it is
    user.failed_attempts = (0 if user.locked_until is not None else user.failed_attempts) + 1
    user.locked_until = None
    if user.failed_attempts >= policy.max_failures:
        user.locked_until = at + timedelta(minutes=policy.lock_minutes)
        audit.record(uow.session, actor, "auth.locked", "user", user.login, basis=None, before=None,
                     after={"locked_until": user.locked_until, "failed_attempts": user.failed_attempts,
                            "offline_failures": True})
