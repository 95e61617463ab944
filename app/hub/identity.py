"""The command line's identity, resolved in the hub layer so `orderhub hub …` commands share it (see app/cli/identity.py)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.permissions import SERVICE_LOGIN
from app.settings import Settings

if TYPE_CHECKING:
    from app.bootstrap import OrderHub

SESSION_FILE = "cli_session.json"
SERVICE_KEY_REF = "service-account:hub"


def session_path(settings: Settings) -> Path:
    return settings.data_dir / SESSION_FILE


def save_session(settings: Settings, login: str, token: str) -> Path:
    """Keep a command-line session token in the data folder, readable by this user only."""
    path = session_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"login": login, "token": token}, fh)
    return path


def _service_actor(hub: OrderHub) -> Actor:
    import sqlalchemy as sa

    from app.hub.credentials import open_store
    from app.services.auth import verify_password

    creds = open_store(hub.settings.data_dir).get(SERVICE_KEY_REF)
    with hub.uow() as uow:
        stored = uow.session.scalar(sa.select(sa.func.orderhub_password_hash(SERVICE_LOGIN)))
    if creds is None or not verify_password(stored, creds.app_secret):
        raise BusinessError("SIGN_IN_FAILED")
    return hub.actor(SERVICE_LOGIN)


def signed_in_actor(hub: OrderHub, args: argparse.Namespace | None = None) -> Actor:
    """The actor of an acting command (see the module docstring).

    Raises:
        BusinessError: SIGN_IN_REQUIRED, SIGN_IN_EXPIRED, SIGN_IN_FAILED, SIGN_IN_OPERATOR_MISMATCH.
    """
    from app.bootstrap import station_ip
    from app.services import auth

    settings = hub.settings
    policy = auth.Policy.from_settings(settings)
    if args is not None and getattr(args, "service_account", None):
        actor = _service_actor(hub)
    elif os.environ.get("ORDERHUB_USER") and os.environ.get("ORDERHUB_PASSWORD"):
        who = auth.sign_in(hub.uow(), os.environ["ORDERHUB_USER"], os.environ["ORDERHUB_PASSWORD"],
                           station=settings.station_name, station_ip=station_ip(hub.target), policy=policy, kind="cli")
        actor = hub.actor(who.login)
    else:
        path = session_path(settings)
        if not path.is_file():
            raise BusinessError("SIGN_IN_REQUIRED")
        saved = json.loads(path.read_text())
        who = auth.session_user(hub.uow(), saved["token"], idle_minutes=policy.cli_minutes,
                                station=settings.station_name)
        actor = hub.actor(who.login)
    claimed = getattr(args, "operator", None) if args is not None else None
    if claimed and claimed != actor.operator:
        raise BusinessError("SIGN_IN_OPERATOR_MISMATCH", signed_in=actor.operator, operator=claimed)
    return actor
