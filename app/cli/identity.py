"""Who is acting on the command line: a signed-in person (``orderhub login``) or the hub's service account.

Acting commands never take a name on trust. The identity comes, in this order, from
``--service-account hub`` (a key kept in this computer's credential store, checked against the
account's hash in the database), ``ORDERHUB_USER`` + ``ORDERHUB_PASSWORD`` (signed in for this one
command, for scripts), or the session left by ``orderhub login`` in the data folder (a short-lived
token; only its SHA-256 is in the database). ``--operator``, where a command still has it, must
name the same person.
"""

from __future__ import annotations

import argparse
import getpass
import json
import secrets
import sys
from typing import Any

from app.domain.fields import Lang, code_label
from app.domain.permissions import SERVICE_LOGIN
from app.settings import Settings

from app.hub.identity import SERVICE_KEY_REF, save_session, session_path, signed_in_actor

__all__ = ["signed_in_actor", "register", "HANDLERS"]


def register(sub: Any) -> None:
    login = sub.add_parser("login", help="命令行登录 / sign in on the command line")
    login.add_argument("login", help="登录名 / login")
    login.add_argument("--password-stdin", action="store_true", help="从标准输入读密码 / read the password from stdin")
    sub.add_parser("logout", help="命令行退出登录 / sign out")
    sub.add_parser("whoami", help="当前登录的是谁 / who is signed in")
    key = sub.add_parser("service-key", help="为 hub 服务账号生成密钥（管理员）/ issue the hub service account's key (admin)")
    key.add_argument("--print", action="store_true", help="同时打印密钥（给其他服务器用）/ also print the key")


def _read_password(args: argparse.Namespace, lang: Lang) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass("密码：" if lang == "zh" else "Password: ")


def login_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.bootstrap import bootstrap, station_ip
    from app.services import auth

    hub = bootstrap(settings)
    try:
        who = auth.sign_in(hub.uow(), args.login, _read_password(args, lang), station=settings.station_name,
                           station_ip=station_ip(hub.target), policy=auth.Policy.from_settings(settings), kind="cli")
    finally:
        hub.close()
    save_session(settings, who.login, who.token)  # the token is a secret: owner only
    print(f"{who.display_name}（{code_label('role', who.role, lang)}）" if lang == "zh"
          else f"{who.display_name} ({code_label('role', who.role, lang)})")
    return 0


def logout_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.bootstrap import bootstrap
    from app.services import auth

    path = session_path(settings)
    if path.is_file():
        saved = json.loads(path.read_text())
        hub = bootstrap(settings)
        try:
            auth.sign_out(hub.uow(), saved["token"], hub.actor(saved["login"]))
        finally:
            hub.close()
        path.unlink()
    return 0


def whoami_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.bootstrap import bootstrap

    hub = bootstrap(settings)
    try:
        actor = signed_in_actor(hub, args)
    finally:
        hub.close()
    print(actor.operator)
    return 0


def service_key_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    """An admin issues the hub's key: kept in this computer's credential store, its argon2 hash in the database."""
    import sqlalchemy as sa

    from app.bootstrap import bootstrap
    from app.hub.credentials import open_store
    from app.services import audit, auth
    from app.services.permissions import require
    from connectors.base import Credentials

    hub = bootstrap(settings)
    try:
        actor = signed_in_actor(hub, args)
        key = secrets.token_urlsafe(32)
        with hub.uow() as uow:
            require(uow, actor, "users.manage")
            uow.session.execute(sa.text("UPDATE users SET password_hash = :h WHERE login = :l"),
                                {"h": auth.hash_password(key), "l": SERVICE_LOGIN})
            audit.record(uow.session, actor, "auth.password_reset", "user", SERVICE_LOGIN, basis=None, before=None,
                         after=None)
            uow.commit()
        open_store(settings.data_dir).put(SERVICE_KEY_REF, Credentials(app_key=SERVICE_LOGIN, app_secret=key))
    finally:
        hub.close()
    if args.print:
        print(key)
    return 0


HANDLERS = {"login": login_command, "logout": logout_command, "whoami": whoami_command,
            "service-key": service_key_command}
