"""Shops and their credentials at the admin station: add, edit, disable, and test the connection.

Secrets go to the credential store (OS keyring or the private 0600 file, see app/hub/credentials.py);
the database keeps only the reference and the app key, which is not a secret. The audit trail
records who changed a shop and that a secret was replaced, never the secret.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from app.db.models import Shop
from app.domain.actor import Actor
from app.domain.clock import now as clock_now
from app.domain.errors import BusinessError, InvalidValue, NotFound
from app.domain.fields import CODE_LISTS, Lang, label
from app.domain.messages import Coded, render
from app.services import audit
from app.services.permissions import require
from app.services.unit_of_work import UnitOfWork
from connectors import catalog
from connectors.base import Credentials, PlatformError, RetryPolicy

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


class CredentialStore(Protocol):
    def get(self, ref: str) -> Credentials | None: ...
    def put(self, ref: str, credentials: Credentials) -> None: ...


@dataclass(frozen=True, slots=True)
class ShopView:
    """A shop as the admin page lists it; ``has_secret`` says whether the store holds its secret."""

    code: str
    name: str
    platform: str
    platform_shop_id: str
    api_base_url: str
    app_key: str
    enabled: bool
    has_secret: bool


@dataclass(frozen=True, slots=True)
class ShopDraft:
    """What the shop form sends; an empty secret on an existing shop keeps the stored one."""

    code: str
    name: str
    platform: str
    api_base_url: str = ""
    platform_shop_id: str = ""
    app_key: str = ""
    app_secret: str = ""
    access_token: str = ""
    refresh_token: str = ""
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """The answer to 测试连接: an outcome code and the facts for its sentence."""

    outcome: str  # ok | wrong_secret | unauthorised | unreachable | refused | no_secret
    message_code: str
    params: dict[str, Any]

    def message(self, lang: Lang = "zh") -> str:
        return render(self.message_code, lang, **self.params)


def ref_for(code: str) -> str:
    return f"orderhub:shop:{code}"


def store_name(store: CredentialStore) -> str:
    """Which kind of store holds secrets here, as a message code (the file store has a path)."""
    return "STORE_FILE" if hasattr(store, "path") else "STORE_KEYRING"


def _view(shop: Shop, store: CredentialStore) -> ShopView:
    creds = store.get(shop.credentials_ref) if shop.credentials_ref else None
    return ShopView(shop.code, shop.name, shop.platform, shop.platform_shop_id or "", shop.api_base_url or "",
                    str((shop.settings or {}).get("app_key") or (creds.app_key if creds else "")), shop.enabled,
                    bool(creds and creds.app_secret))


def list_shops(uow: UnitOfWork, store: CredentialStore) -> list[ShopView]:
    with uow:
        shops = list(uow.session.scalars(sa.select(Shop).order_by(Shop.platform, Shop.code)))
    return [_view(s, store) for s in shops]


def _checked(draft: ShopDraft) -> ShopDraft:
    code, name = draft.code.strip(), draft.name.strip()
    if not _CODE.match(code):
        raise InvalidValue(field=label("shop", "code"), value=code, reason="字母、数字、- _ .，最多 40 位")
    if not name:
        raise InvalidValue(field=label("shop", "name"), value="", reason="必填")
    if draft.platform not in CODE_LISTS["platform"]:
        raise InvalidValue(field=label("shop", "platform"), value=draft.platform, reason="未知平台")
    url = catalog.normalise_gateway(draft.platform, draft.api_base_url or catalog.gateway_for(draft.platform))
    if url and not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise BusinessError("SHOP_BAD_URL", value=url)
    return replace(draft, code=code, name=name, api_base_url=url, app_key=draft.app_key.strip(),
                   platform_shop_id=draft.platform_shop_id.strip())


def save_shop(uow: UnitOfWork, store: CredentialStore, draft: ShopDraft, actor: Actor, *,
              is_new: bool, lang: Lang = "zh") -> tuple[ShopView, str]:
    """Add (``is_new``) or change a shop; its secrets into ``store``, the rest and an audit record into the database.

    Permission: ``shops.manage``.

    Raises:
        BusinessError: ``SHOP_CODE_TAKEN``, ``SHOP_NEEDS_SECRET``, ``SHOP_BAD_URL``, ``INVALID_VALUE``, ``NOT_FOUND``.
    """
    draft = _checked(draft)
    ref = ref_for(draft.code)
    with uow:
        require(uow, actor, "shops.manage")
        s = uow.session
        shop = s.scalar(sa.select(Shop).where(Shop.code == draft.code).with_for_update())
        if is_new and shop is not None:
            raise BusinessError("SHOP_CODE_TAKEN", shop_code=draft.code)
        if not is_new and shop is None:
            raise NotFound(what="shop", key=draft.code)
        old = store.get(shop.credentials_ref) if shop is not None and shop.credentials_ref else None
        # every shop has a secret: platforms sign with it, store tills (门店POS) sign their sales with it
        needs_key = draft.platform != "pos"
        if (needs_key and not draft.app_key) or not (draft.app_secret or (old and old.app_secret)):
            raise BusinessError("SHOP_NEEDS_SECRET")
        before = None if shop is None else {"name": shop.name, "platform": shop.platform, "enabled": shop.enabled,
                                            "api_base_url": shop.api_base_url, "app_key": (shop.settings or {}).get("app_key")}
        shop = shop or Shop(code=draft.code)
        shop.name, shop.platform, shop.enabled = draft.name, draft.platform, draft.enabled
        shop.api_base_url = draft.api_base_url or None
        shop.platform_shop_id = draft.platform_shop_id or None
        shop.credentials_ref = ref
        shop.settings = {**(shop.settings or {}), "app_key": draft.app_key}
        s.add(shop)
        s.flush()
        secret_changed = bool(draft.app_secret or draft.access_token or draft.refresh_token)
        audit.record(s, actor, "shop.save", "shops", draft.code, basis=None, before=before,
                     after={"name": draft.name, "platform": draft.platform, "enabled": draft.enabled,
                            "api_base_url": draft.api_base_url, "app_key": draft.app_key,
                            "secret_replaced": secret_changed})
        if secret_changed or old is None or old.app_key != draft.app_key:
            # the store is written before the commit: a failed commit leaves an unused entry, never a shop without its secret
            store.put(ref, Credentials(app_key=draft.app_key, app_secret=draft.app_secret or (old.app_secret if old else ""),
                                       access_token=draft.access_token or (old.access_token if old else ""),
                                       refresh_token=draft.refresh_token or (old.refresh_token if old else ""),
                                       extra=dict(old.extra) if old else {}))
        uow.commit()
    return _view(shop, store), render("SHOP_SAVED", lang, shop=draft.name, store=render(store_name(store), lang))


def set_shop_enabled(uow: UnitOfWork, store: CredentialStore, code: str, enabled: bool, actor: Actor) -> ShopView:
    """Switch a shop's order pulling on or off. Permission: ``shops.manage``."""
    with uow:
        require(uow, actor, "shops.manage")
        s = uow.session
        shop = s.scalar(sa.select(Shop).where(Shop.code == code).with_for_update())
        if shop is None:
            raise NotFound(what="shop", key=code)
        audit.record(s, actor, "shop.enable" if enabled else "shop.disable", "shops", code, basis=None,
                     before={"enabled": shop.enabled}, after={"enabled": enabled})
        shop.enabled = enabled
        uow.commit()
    return _view(shop, store)


def check_connection(uow: UnitOfWork, store: CredentialStore, code: str, actor: Actor, *,
                     timeout: float = 8.0) -> ConnectionCheck:
    """One real signed call through the shop's connector (list the orders changed in the last minutes).

    No retries: a person is waiting for the answer. A refreshed token is kept in the store, as the
    hub would keep it. The outcome is audited. Permission: ``shops.manage``.
    """
    with uow:
        require(uow, actor, "shops.manage")
        shop = uow.session.scalar(sa.select(Shop).where(Shop.code == code))
        if shop is None:
            raise NotFound(what="shop", key=code)
        platform, name, url, ref = shop.platform, shop.name, shop.api_base_url or "", shop.credentials_ref
        shop_id = shop.platform_shop_id or ""
    who = Coded("platform", platform)
    creds = store.get(ref) if ref else None
    if platform not in catalog.CONNECTORS:
        result = ConnectionCheck("refused", "SHOP_CHECK_NO_CONNECTOR", {"platform": who})
    elif creds is None or not creds.app_secret:
        result = ConnectionCheck("no_secret", "SHOP_CHECK_NO_SECRET", {"shop": name})
    else:
        result = _probe(platform, name, url, creds, shop_id, ref or "", store, timeout)
    with uow:
        audit.record(uow.session, actor, "shop.connection_test", "shops", code, basis=None, before=None,
                     after={"outcome": result.outcome, "platform_code": str(result.params.get("platform_code", ""))})
        uow.commit()
    return result


def _probe(platform: str, name: str, url: str, creds: Credentials, shop_id: str, ref: str, store: CredentialStore,
           timeout: float) -> ConnectionCheck:
    who = Coded("platform", platform)
    connector = catalog.make_connector(platform, url, creds, shop_id=shop_id, timeout=timeout,
                                       policy=RetryPolicy(retries=0, sleep=lambda _: None),
                                       on_credentials_changed=lambda c: store.put(ref, c))
    end = clock_now() - connector.lag
    started = time.perf_counter()
    try:
        if platform in catalog.TOKEN_FROM_SECRET:
            connector.refresh_token()  # its calls carry a token, not a signature: the secret is tested by asking for one
        next(iter(connector.changed_orders(end - min(connector.max_window, timedelta(minutes=5)), end)), None)
    except PlatformError as err:
        codes = {err.code, err.sub_code}
        fact = {"platform": who, "platform_code": err.sub_code or err.code}
        if err.code in ("unreachable", "timeout") or err.code.startswith("http-5"):
            return ConnectionCheck("unreachable", "SHOP_CHECK_UNREACHABLE", {"platform": who, "url": url})
        if codes & catalog.WRONG_SECRET.get(platform, frozenset()):
            return ConnectionCheck("wrong_secret", "SHOP_CHECK_WRONG_SECRET", fact)
        if err.auth_expired or codes & catalog.UNAUTHORISED.get(platform, frozenset()):
            return ConnectionCheck("unauthorised", "SHOP_CHECK_UNAUTHORISED", fact)
        return ConnectionCheck("refused", "SHOP_CHECK_REFUSED", {**fact, "detail": err.message[:120]})
    except Exception as err:  # noqa: BLE001 — a garbled answer is still an answer: the gateway is not a platform
        return ConnectionCheck("refused", "SHOP_CHECK_REFUSED", {"platform": who, "platform_code": type(err).__name__,
                                                                 "detail": str(err)[:120]})
    finally:
        connector.close()
    return ConnectionCheck("ok", "SHOP_CHECK_OK", {"platform": who, "shop": name,
                                                   "ms": round((time.perf_counter() - started) * 1000)})


def gateway_for(platform: str) -> str:
    """The platform's production gateway, for the shop form to pre-fill ("" for the store POS)."""
    return catalog.gateway_for(platform)


def is_default_gateway(url: str) -> bool:
    """Whether ``url`` is one of the pre-filled gateways (so switching platform may replace it)."""
    return url in catalog.GATEWAYS.values()
