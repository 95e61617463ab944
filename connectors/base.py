"""What every platform connector shares: errors with stable codes, retry with backoff, pull windows.

A connector is a real HTTP client (requests) for one platform's public API. It lists orders
changed in a time window, fetches their details, and normalises a detail payload into an
:class:`~app.domain.intake.InboundOrder`. The hub decides when to pull and stores the result.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

import orjson
import requests

from app.domain.intake import InboundOrder

log = logging.getLogger(__name__)
T = TypeVar("T")


class PlatformError(Exception):
    """A platform answered with an error, or could not be reached.

    Attributes:
        platform: which channel.
        code: the platform's own error code (``"25"``, ``"40003"``, ``"42001"``, ``"http-503"``, ``"timeout"``).
        sub_code: the platform's sub-code where it has one (``isv.access-token-expired``).
        retryable: a server-side or transient fault: try again after a pause.
        auth_expired: the access token expired: refresh once, then retry.
        retry_after: seconds the platform asked us to wait (rate-limit bans).
    """

    def __init__(self, platform: str, code: str, message: str, *, sub_code: str = "", retryable: bool = False,
                 auth_expired: bool = False, retry_after: float | None = None) -> None:
        super().__init__(f"{platform} {code} {sub_code} {message}".strip())
        self.platform, self.code, self.sub_code, self.message = platform, code, sub_code, message
        self.retryable, self.auth_expired, self.retry_after = retryable, auth_expired, retry_after


class PayloadError(Exception):
    """A payload that cannot be understood (malformed JSON, missing or impossible fields): quarantine it."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a transient failure: 3 retries with exponential backoff by default."""

    retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, err: PlatformError) -> float:
        if err.retry_after is not None:
            return min(err.retry_after, 60.0)
        backoff = min(self.max_delay, self.base_delay * 2**attempt)
        return backoff * (0.75 + random.random() / 2)  # jitter: two hubs don't retry in lockstep


def with_retries(policy: RetryPolicy, call: Callable[[], T], *, on_auth_expired: Callable[[], None] | None = None) -> T:
    """Run ``call``; retry transient failures per ``policy``; refresh an expired token once.

    Raises:
        PlatformError: the last failure once retries are used up, or at once if not retryable.
    """
    attempt = 0
    refreshed = False
    while True:
        try:
            return call()
        except PlatformError as err:
            if err.auth_expired and on_auth_expired is not None and not refreshed:
                refreshed = True
                on_auth_expired()
                continue
            if not err.retryable or attempt >= policy.retries:
                raise
            pause = policy.delay(attempt, err)
            log.info("%s: %s; retry %d/%d in %.1f s", err.platform, err, attempt + 1, policy.retries, pause)
            policy.sleep(pause)
            attempt += 1


def http(session: requests.Session, platform: str, method: str, url: str, *, timeout: float,
         **kwargs: Any) -> requests.Response:
    """One HTTP exchange; transport failures and 5xx/429 become retryable :class:`PlatformError`."""
    try:
        response = session.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout as err:
        raise PlatformError(platform, "timeout", f"no answer within {timeout:.0f} s", retryable=True) from err
    except requests.ConnectionError as err:
        raise PlatformError(platform, "unreachable", str(err)[:200], retryable=True) from err
    if response.status_code == 429:
        after = response.headers.get("Retry-After")
        raise PlatformError(platform, "http-429", "rate limited", retryable=True,
                            retry_after=float(after) if after and after.isdigit() else None)
    if response.status_code >= 500:
        raise PlatformError(platform, f"http-{response.status_code}", response.text[:200], retryable=True)
    return response


def loads_exact(data: bytes | str) -> Any:
    """JSON as ``json.loads(data, parse_float=Decimal)`` reads it, but in C (orjson) when that gives the same.

    orjson reads a number with a fraction or an exponent, or an integer beyond 64 bits, as a float
    where the standard reader gives a Decimal (or the exact int): a document with any float in it is
    read again by the standard library, as is one orjson rejects (``NaN``, a lone surrogate), so the
    result is always exactly what the standard reader gives. Platforms send amounts as integer fen
    or as strings, so the second reading is rare.

    Raises:
        ValueError: not JSON (``json.JSONDecodeError``, as the standard reader raises it).
    """
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        doc = None  # the standard reader decides, with its own error or its own leniency
    else:
        # A number token that orjson could have read as a float stands after a bracket, a colon or a
        # comma and has a fraction, an exponent or 19+ digits. One C scan of the text that finds none
        # (text inside strings can only make it look, never miss) spares walking the decoded tree.
        could = (_FLOAT_TOKEN_BYTES if isinstance(data, bytes | bytearray | memoryview) else _FLOAT_TOKEN).search(data)
        if could is None or not _has_float(doc):
            return doc
    return json.loads(data, parse_float=Decimal)


_FLOAT_TOKEN = re.compile(r"(?:^|[\[:,])[ \t\n\r]*-?[0-9]+(?:[.eE]|[0-9]{18})")
_FLOAT_TOKEN_BYTES = re.compile(_FLOAT_TOKEN.pattern.encode())


def _has_float(value: Any) -> bool:
    kind = type(value)
    if kind is dict:
        value = value.values()
    elif kind is not list:
        return kind is float
    for item in value:
        kind = type(item)
        if kind is float or ((kind is dict or kind is list) and _has_float(item)):
            return True
    return False


def platform_session(base_url: str) -> requests.Session:
    """An HTTP session for one platform's API, with the environment's proxy and CA bundle read once.

    ``requests`` otherwise reads them on every call (``Session.trust_env``: the proxy variables
    matched against the URL, ``~/.netrc``, ``REQUESTS_CA_BUNDLE``), a tenth of a pushed order's detail
    fetch. A connector calls one base URL, so its proxy is known at the start; no platform signs in
    through ``.netrc``.
    """
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(base_url))  # honours NO_PROXY for this host
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.trust_env = False
    return session


@dataclass(frozen=True, slots=True)
class RawOrder:
    """One order's detail payload exactly as received (kept verbatim before anything is parsed)."""

    platform_order_no: str
    body: bytes
    kind: str
    # The body already decoded, when the connector decoded it while cutting it out of a list
    # answer: normalising then does not parse the same bytes a second time. Never compared.
    parsed: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class PushMessage:
    """A platform's pushed message (address change, cancellation, refund): which order to re-read.

    Pushes may repeat (platforms say so): ``msg_id`` is what the hub deduplicates on.
    """

    msg_id: str
    topic: str
    platform_order_no: str


@dataclass
class Credentials:
    """A shop's secrets, loaded from the credential store (never from the database)."""

    app_key: str
    app_secret: str
    access_token: str = ""
    refresh_token: str = ""
    extra: dict[str, str] = field(default_factory=dict)


#: How far our clock may run ahead of a platform's (the hubs keep NTP time; the platforms' gateways only
#: insist on 10 minutes). The hub's rules for skipping re-listed orders lean on it (app/hub/pollers.py).
CLOCK_SKEW = timedelta(seconds=2)


def platform_behind(sent: datetime, date_header: str | None) -> timedelta | None:
    """How far the platform's clock was surely behind ours, from an answer's HTTP ``Date`` (whole seconds:
    when it answered, after ``sent`` by our clock, its clock read less than Date + 1 s); None if it was
    not surely behind, or the header is missing or unreadable."""
    if not date_header:
        return None
    try:
        answered = parsedate_to_datetime(date_header)
    except (TypeError, ValueError, IndexError):
        return None
    if answered.tzinfo is None:
        return None
    behind = sent - (answered + timedelta(seconds=1))
    return behind if behind > timedelta(0) else None


def json_span(text: str, key: str, value: Any) -> str | None:
    """The source text of ``value`` where it sits under ``"key":`` in the JSON ``text`` (None if not found),
    ``value`` as read with ``parse_float=Decimal``. A connector stores an order's own bytes cut out of the
    answer this way, leaving behind an envelope whose ``request_id`` changes on every call: the hub tells a
    repeated version from a new one by the payload's hash."""
    decoder = json.JSONDecoder(parse_float=Decimal)
    for found in re.finditer(rf'"{key}"\s*:\s*', text):
        try:
            got, end = decoder.raw_decode(text, found.end())
        except ValueError:
            continue
        if got == value:  # the equality check rules out the same key inside a string or another object
            return text[found.end():end]
    return None


def utc_now() -> datetime:
    return datetime.now(UTC)


class Known(Protocol):
    """What a connector asks the hub about the orders a list page names, before fetching their details
    (the poller answers it: app/hub/pollers.py ``KnownVersions``)."""

    def __call__(self, listed: Sequence[tuple[str, datetime]], *, exact: bool = True) -> set[str]:
        """Of these (platform order number, time), which need no detail call: the hub holds them at
        that version or later. ``exact``: the time is the order's modification time as the list gives
        it (淘宝/天猫, 拼多多); otherwise (a list of bare ids, 微信小店) it is the end of the update-time
        window that listed the order, so all the hub knows is that the order's time is at most that."""
        ...

    def cuts(self, start: datetime, end: datetime) -> list[datetime]:
        """For a list of bare ids: whole seconds strictly inside (start, end) at which to cut the window
        into smaller windows listed one by one, so that more of the orders the hub has read already
        are listed in a window that ends early enough for ``known`` to rule them out (may be empty)."""
        ...

    def distrust(self) -> None:
        """The platform's clock is off ours by more than the rules allow: forget the reads remembered so far
        and remember none until the poll ends (what was read meanwhile is not known to be current)."""
        ...


class Connector(ABC):
    """One channel's client. Subclasses declare the platform's window rules and implement the calls."""

    platform: str
    #: the widest modification-time window the platform accepts in one query
    max_window: timedelta = timedelta(minutes=30)
    #: how far behind "now" a window must end (PDD: 3 min)
    lag: timedelta = timedelta(0)

    def __init__(self, base_url: str, credentials: Credentials, *, shop_id: str = "", timeout: float = 10.0,
                 policy: RetryPolicy | None = None, session: requests.Session | None = None,
                 clock: Callable[[], datetime] = utc_now,
                 on_credentials_changed: Callable[[Credentials], None] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.shop_id = shop_id
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.session = session or platform_session(self.base_url)
        self.clock = clock
        self.on_credentials_changed = on_credentials_changed

    @abstractmethod
    def changed_orders(self, start: datetime, end: datetime, known: Known | None = None) -> Iterator[RawOrder]:
        """Every order modified in [start, end], with its full detail, following the platform's paging rules.

        ``known``: where the list gives each order's modification time before its detail is fetched
        (淘宝/天猫, 拼多多), the connector asks it once per list page and leaves out the orders it
        names: they are stored at that version already, and their details would only be parsed and
        found unchanged. A list of bare ids (微信小店) cuts its window where ``known.cuts`` says and
        asks with each window's end instead (``exact=False``). Platforms whose list carries whole
        orders ignore it.
        """

    @abstractmethod
    def fetch(self, platform_order_no: str) -> RawOrder:
        """One order's current detail (after a pushed message)."""

    @abstractmethod
    def normalise(self, raw: RawOrder) -> InboundOrder:
        """The payload in the hub's shape.

        Raises:
            PayloadError: the payload is malformed; it will be quarantined with this message.
        """

    def parse_push(self, headers: dict[str, str], body: bytes) -> PushMessage:
        """Verify and read a pushed message (platforms that push override this).

        Raises:
            PlatformError: code ``sign`` for a bad signature, ``push`` where the platform does not push.
        """
        raise PlatformError(self.platform, "push", "this channel does not push messages")

    def parse_pushes(self, headers: dict[str, str], body: bytes) -> list[PushMessage]:
        """Every message in a push (platforms that batch messages override this)."""
        return [self.parse_push(headers, body)]

    #: what the platform expects back for a push it should not resend (None: a JSON answer will do)
    push_ack: bytes | None = None

    def refresh_token(self) -> None:
        """Get a new access token (platforms with tokens override this)."""
        raise PlatformError(self.platform, "auth", "access token expired and this platform cannot refresh it")

    def close(self) -> None:
        self.session.close()


def plan_windows(high_water: datetime | None, now: datetime, *, max_window: timedelta, overlap: timedelta,
                 lag: timedelta = timedelta(0), first_lookback: timedelta = timedelta(days=1)) -> list[tuple[datetime, datetime]]:
    """The windows to pull next: from the high-water mark minus an overlap up to ``now - lag``.

    The overlap re-reads the edge of the last window, so an order modified in the same second
    the previous poll ended, or committed late on the platform side, is not missed (duplicates
    are harmless: ingest ignores the same payload). Each window respects the platform's maximum.
    """
    end = now - lag
    start = (high_water - overlap) if high_water is not None else end - first_lookback
    windows = []
    while start < end:
        stop = min(start + max_window, end)
        windows.append((start, stop))
        start = stop
    return windows
