"""`orderhub station`: open the station on the configured database (nothing seeded), optionally provisioned first."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from app.domain.errors import BusinessError
from app.domain.fields import Lang
from app.settings import (ProvisionError, Settings, config_file_path, load_settings, read_provisioning,
                          write_config)


def register(sub: Any) -> None:
    station = sub.add_parser("station", help="打开工作站（不生成演示数据）/ open the station (no demo data)")
    station.add_argument("--provision", metavar="FILE",
                         help="先导入工作站配置文件（TOML）/ import a station provisioning file first")


def provision(path: Path) -> Path:
    """Write a provisioning file's settings into this station's config; the config file's path.

    Raises:
        BusinessError: PROVISION_* naming the entry that is wrong and why (nothing is written then).
    """
    try:
        values = read_provisioning(path)
    except ProvisionError as err:
        raise BusinessError(err.code, **err.params) from None
    return write_config(values)


def check_database() -> BusinessError | None:
    """Try the database the station's saved settings name (the first-run screen's check); why not, in words."""
    from app.bootstrap import bootstrap

    settings = load_settings()
    if settings.uses_embedded_database:
        return None  # this computer's own database: started with the station
    try:
        bootstrap(settings, upgrade=False).close()
    except BusinessError as err:
        return err
    return None


def first_start(env: dict[str, str] | None = None) -> bool:
    """A station that has never been set up: no config file yet and no database named in the environment."""
    env = dict(os.environ if env is None else env)
    return not config_file_path(env).exists() and not env.get("ORDERHUB_DATABASE_URL")


def station_command(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    from app.bootstrap import connect_or_offline
    from app.cli import _no_screen
    from app.domain.messages import render

    if args.provision:
        written = provision(Path(args.provision))
        print(f"{'已写入' if lang == 'zh' else 'Written'}: {written}")
        settings = load_settings()
    if _no_screen():
        print(render("DEMO_NO_WINDOW", lang), file=sys.stderr)
        return 0
    if not args.provision and first_start():
        from app.ui.station import first_run

        if not first_run(check_database, config_file_path(), lang, default_station=settings.station_name):
            return 0
        settings = load_settings()
    hub, offline = connect_or_offline(settings)
    try:
        from app.hub.credentials import open_store
        from app.ui import station

        return int(station.run(hub, offline=offline, credentials=open_store(settings.data_dir)))
    except BusinessError as err:
        print(err.message(lang), file=sys.stderr)
        return 2
    finally:
        hub.close()


HANDLERS = {"station": station_command}
