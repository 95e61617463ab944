"""Settings, declared once with type, default and business title; read once at start and passed in.

Sources, later wins: defaults → the config file (``config.toml`` in the user's config
folder, or ``ORDERHUB_CONFIG``) → environment variables ``ORDERHUB_<NAME>``.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import platformdirs

APP_NAME = "OrderHub"


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def _default_config_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a station or hub needs to know at start."""

    database_url: str | None = field(
        default=None,
        metadata={"title": ("数据库地址", "Database URL"), "env": "ORDERHUB_DATABASE_URL"},
    )
    data_dir: Path = field(
        default_factory=_default_data_dir,
        metadata={"title": ("数据文件夹", "Data folder"), "env": "ORDERHUB_DATA_DIR"},
    )
    language: str = field(default="zh", metadata={"title": ("界面语言", "Language"), "env": "ORDERHUB_LANGUAGE"})
    embedded_keep_running: bool = field(
        default=False,
        metadata={
            "title": ("退出后保持内置数据库运行", "Keep the built-in database running after exit"),
            "env": "ORDERHUB_EMBEDDED_KEEP_RUNNING",
        },
    )
    station_name: str = field(
        default_factory=lambda: os.uname().nodename if hasattr(os, "uname") else "station",
        metadata={"title": ("工作站名称", "Station name"), "env": "ORDERHUB_STATION_NAME"},
    )

    sms_gateway_url: str = field(
        default="https://dysmsapi.aliyuncs.com",
        metadata={"title": ("短信网关地址", "SMS gateway URL"), "env": "ORDERHUB_SMS_GATEWAY_URL"},
    )
    sms_access_key_id: str | None = field(
        default=None,
        metadata={"title": ("短信 AccessKey ID（密钥存于凭据库）", "SMS AccessKey ID (secret in the credential store)"),
                  "env": "ORDERHUB_SMS_ACCESS_KEY_ID"},
    )
    sms_sign_name: str | None = field(
        default=None, metadata={"title": ("短信签名", "SMS signature name"), "env": "ORDERHUB_SMS_SIGN_NAME"},
    )

    # --- warehouse (issue #8) ---
    slip_printer: str | None = field(
        default=None,
        metadata={"title": ("拣货单打印机（如 network:192.168.1.50:9100、usb:0x0416:0x5011、serial:/dev/ttyUSB0:9600、"
                            "file:/路径/slips.bin）", "Pick-slip printer (network:HOST:PORT, usb:VID:PID, serial:PORT:BAUD, "
                            "file:PATH)"), "env": "ORDERHUB_SLIP_PRINTER"},
    )
    slip_profile: str = field(
        default="a5", metadata={"title": ("拣货单纸宽（a5 / 4in / 80mm / 58mm）", "Pick-slip paper (a5 / 4in / 80mm / 58mm)"),
                                "env": "ORDERHUB_SLIP_PROFILE"},
    )
    scanner_max_gap_ms: float = field(
        default=20.0, metadata={"title": ("扫码枪按键最大间隔（毫秒，更慢即视为手工输入）",
                                          "Scanner: longest gap between keys (ms; slower is typing)"),
                                "env": "ORDERHUB_SCANNER_MAX_GAP_MS"},
    )
    scanner_typing_gap_ms: float = field(
        default=30.0, metadata={"title": ("手工输入的最短按键间隔（毫秒）", "Typing: shortest gap between keys (ms)"),
                                "env": "ORDERHUB_SCANNER_TYPING_GAP_MS"},
    )
    scanner_serial_port: str | None = field(
        default=None, metadata={"title": ("串口扫码枪端口（如 /dev/ttyUSB0 或 COM3）", "Serial scanner port"),
                                "env": "ORDERHUB_SCANNER_SERIAL_PORT"},
    )

    tracking_delay_hours: float = field(
        default=24.0, metadata={"title": ("物流节点间隔超过多少小时标为延误", "Mark a tracking node late after (hours)"),
                                "env": "ORDERHUB_TRACKING_DELAY_HOURS"},
    )

    # --- people and permissions (issue #14) ---
    sign_in_max_failures: int = field(
        default=5, metadata={"title": ("连续输错密码几次后锁定", "Wrong passwords in a row before locking"),
                             "env": "ORDERHUB_SIGN_IN_MAX_FAILURES"},
    )
    sign_in_lock_minutes: int = field(
        default=15, metadata={"title": ("锁定时长（分钟）", "Lock for (minutes)"), "env": "ORDERHUB_SIGN_IN_LOCK_MINUTES"},
    )
    idle_sign_out_minutes: int = field(
        default=30, metadata={"title": ("无操作多久后自动退出登录（分钟）", "Sign out after idle (minutes)"),
                              "env": "ORDERHUB_IDLE_SIGN_OUT_MINUTES"},
    )
    station_heartbeat_seconds: int = field(
        default=30, metadata={"title": ("工作站心跳间隔（秒；两个间隔无心跳即显示离线）",
                                        "Station heartbeat every (seconds; offline after two missed)"),
                              "env": "ORDERHUB_STATION_HEARTBEAT_SECONDS"},
    )
    # --- raw payload archive (issue #18) ---
    payload_retention_days: int = field(
        default=90, metadata={"title": ("原始报文在线保留天数（更早的可归档到文件）",
                                        "Keep raw payloads online for (days; older ones may be archived)"),
                              "env": "ORDERHUB_PAYLOAD_RETENTION_DAYS"},
    )
    payload_archive_dir: str | None = field(
        default=None, metadata={"title": ("原始报文归档文件夹（空为数据文件夹下 payload-archive）",
                                          "Raw payload archive folder (empty: payload-archive in the data folder)"),
                                "env": "ORDERHUB_PAYLOAD_ARCHIVE_DIR"},
    )
    cli_session_minutes: int = field(
        default=480, metadata={"title": ("命令行登录有效期（分钟）", "Command-line sign-in lasts (minutes)"),
                               "env": "ORDERHUB_CLI_SESSION_MINUTES"},
    )
    station_roles: str | None = field(
        default=None, metadata={"title": ("本工作站允许的角色（逗号分隔，空为全部）",
                                          "Roles allowed at this station (comma-separated; empty: all)"),
                                "env": "ORDERHUB_STATION_ROLES"},
    )
    database_sslmode: str | None = field(
        default=None, metadata={"title": ("数据库加密连接（如 verify-full）", "Database TLS mode (e.g. verify-full)"),
                                "env": "ORDERHUB_DATABASE_SSLMODE"},
    )
    database_sslrootcert: Path | None = field(
        default=None, metadata={"title": ("数据库服务器根证书文件", "Database server root certificate"),
                                "env": "ORDERHUB_DATABASE_SSLROOTCERT"},
    )
    database_sslcert: Path | None = field(
        default=None, metadata={"title": ("本工作站的客户端证书文件", "This station's client certificate"),
                                "env": "ORDERHUB_DATABASE_SSLCERT"},
    )
    database_sslkey: Path | None = field(
        default=None, metadata={"title": ("客户端证书的私钥文件", "The client certificate's private key"),
                                "env": "ORDERHUB_DATABASE_SSLKEY"},
    )

    # --- the hub's doors (issue #19) ---
    door_processes: int | None = field(
        default=None, metadata={"title": ("接收推送和门店销售单的进程数（空：两核及以上为 2，否则 1）",
                                          "Processes answering pushes and store sales (empty: 2 with 2 or more cores, else 1)"),
                                "env": "ORDERHUB_DOOR_PROCESSES"},
    )

    @property
    def doors(self) -> int:
        """How many processes serve the hub's doors (``door_processes``, or by the cores there are)."""
        if self.door_processes:
            return max(1, self.door_processes)
        return 2 if (os.cpu_count() or 1) >= 2 else 1

    # --- live logistics (issue #15) ---
    still_hours: float = field(
        default=48.0, metadata={"title": ("包裹多少小时没有物流更新就提醒客服", "Tell customer service after a parcel "
                                          "has not moved for (hours)"), "env": "ORDERHUB_STILL_HOURS"},
    )
    still_hours_by_carrier: str | None = field(
        default=None, metadata={"title": ("按承运商单独设置的停滞小时数（如 sf=24,jd=72；代码见承运商表）",
                                          "Per-carrier hours before a parcel counts as stuck (e.g. sf=24,jd=72)"),
                                "env": "ORDERHUB_STILL_HOURS_BY_CARRIER"},
    )

    @property
    def allowed_roles(self) -> tuple[str, ...]:
        """The roles that may sign in at this station (empty: every role)."""
        return tuple(r.strip() for r in (self.station_roles or "").split(",") if r.strip())

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url


def _coerce(kind: object, raw: object) -> object:
    text = str(raw)
    if kind in (bool, "bool"):
        return text.strip().lower() in ("1", "true", "yes", "on")
    if kind in (Path, "Path", "Path | None"):
        return Path(text).expanduser()
    if kind in (int, "int", "int | None"):
        return int(text)
    if kind in (float, "float"):
        return float(text)
    return raw if not isinstance(raw, str) else text


def load_settings(env: dict[str, str] | None = None, config_file: Path | None = None) -> Settings:
    """Read the settings once: defaults, then the config file, then the environment."""
    env = dict(os.environ if env is None else env)
    settings = Settings()
    config_file = config_file or Path(env.get("ORDERHUB_CONFIG") or _default_config_file())
    values: dict[str, object] = {}
    if config_file.is_file():
        with config_file.open("rb") as fh:
            values.update(tomllib.load(fh).get("orderhub", {}))
    for f in fields(Settings):
        name = f.metadata.get("env")
        if name and env.get(name):
            values[f.name] = env[name]
    known = {f.name: f.type for f in fields(Settings)}
    coerced = {k: _coerce(known[k], v) for k, v in values.items() if k in known}
    return replace(settings, **coerced)


def config_file_path(env: dict[str, str] | None = None) -> Path:
    """The config file this station reads (``ORDERHUB_CONFIG`` or the user's config folder)."""
    env = dict(os.environ if env is None else env)
    return Path(env.get("ORDERHUB_CONFIG") or _default_config_file())


def write_settings(path: Path, **values: object) -> None:
    """Set ``values`` in the ``[orderhub]`` table of the config file, keeping every other setting in it.

    Written to a temporary file and moved into place, so a crash never leaves half a file.
    """
    import tomli_w

    known = {f.name for f in fields(Settings)}
    unknown = set(values) - known
    if unknown:
        raise KeyError(sorted(unknown))
    data: dict[str, object] = {}
    if path.is_file():
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    table = dict(data.get("orderhub", {}))  # type: ignore[call-overload]
    for key, value in values.items():
        if value is None:
            table.pop(key, None)
        else:
            table[key] = str(value) if isinstance(value, Path) else value
    data["orderhub"] = table
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


# --- station provisioning (issue #14): IT writes one file, every station imports it at first start ---
PROVISION_KEYS: dict[tuple[str, str], str] = {
    ("database", "url"): "database_url",
    ("database", "sslmode"): "database_sslmode",
    ("database", "sslrootcert"): "database_sslrootcert",
    ("database", "sslcert"): "database_sslcert",
    ("database", "sslkey"): "database_sslkey",
    ("station", "name"): "station_name",
    ("station", "roles"): "station_roles",
    ("station", "language"): "language",
    ("printer", "slip"): "slip_printer",
    ("printer", "profile"): "slip_profile",
    ("scanner", "serial_port"): "scanner_serial_port",
    ("scanner", "max_gap_ms"): "scanner_max_gap_ms",
}


class ProvisionError(ValueError):
    """The provisioning file cannot be used; ``code`` and ``params`` say which entry and why (a message in
    ``app.domain.messages``, shown in words next to the file)."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code, params)
        self.code, self.params = code, params


def _toml_position(err: tomllib.TOMLDecodeError) -> tuple[str, str]:
    found = re.search(r"line (\d+), column (\d+)", str(err))
    return (found.group(1), found.group(2)) if found else ("?", "?")


def read_provisioning(path: Path) -> dict[str, object]:
    """The settings a provisioning file gives (``[database]``, ``[station]``, ``[printer]``, ``[scanner]``).

    Roles may be written as codes (``picker``) or as people say them (``拣货员``).

    Raises:
        ProvisionError: unreadable file or TOML, an unknown section or key, an unknown role or language.
    """
    from app.domain.fields import CODE_LISTS, code_from_label
    from app.domain.messages import Coded

    name = Path(path).name
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise ProvisionError("PROVISION_UNREADABLE", file=name) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        line, column = _toml_position(err)
        raise ProvisionError("PROVISION_BAD_TOML", file=name, line=line, column=column) from None
    known = [f"[{section}] {key}" for section, key in PROVISION_KEYS]
    values: dict[str, object] = {}
    for section, entries in data.items():
        if not isinstance(entries, dict):
            raise ProvisionError("PROVISION_UNKNOWN_KEY", entry=section, known=known)
        for key, value in entries.items():
            name_ = PROVISION_KEYS.get((section, key))
            if name_ is None:
                raise ProvisionError("PROVISION_UNKNOWN_KEY", entry=f"[{section}] {key}", known=known)
            if name_ == "station_roles":
                roles = value if isinstance(value, list) else str(value).split(",")
                codes = []
                for role in (str(r).strip() for r in roles if str(r).strip()):
                    try:
                        code = role if role in CODE_LISTS["role"] else code_from_label("role", role)
                    except KeyError:
                        code = "service"
                    if code == "service":  # unknown, or the hub's account, which no person signs in as
                        people = [Coded("role", r) for r in CODE_LISTS["role"] if r != "service"]
                        raise ProvisionError("PROVISION_UNKNOWN_ROLE", role=role, allowed=people)
                    codes.append(code)
                value = ",".join(codes)
            if name_ == "language" and value not in ("zh", "en"):
                raise ProvisionError("PROVISION_BAD_LANGUAGE", value=value)
            values[name_] = value
    if not values:
        raise ProvisionError("PROVISION_EMPTY", file=name)
    return values


def describe_provisioning(values: dict[str, object], lang: str = "zh") -> list[tuple[str, str, str]]:
    """What a provisioning file will set, as (key, business label, value shown) rows for its preview.

    The database is shown as host, port, database and user (never a password); roles by their names.
    """
    from urllib.parse import unquote, urlsplit

    from app.domain.fields import code_label

    zh = lang == "zh"
    rows: list[tuple[str, str, str]] = []
    url = values.get("database_url")
    if url:
        parts = urlsplit(str(url))
        host = parts.hostname or ("本机" if zh else "this computer")
        where = f"{host}:{parts.port or 5432} / {unquote(parts.path.lstrip('/')) or '-'}"
        if parts.username:
            where += f"（{'用户' if zh else 'user'} {unquote(parts.username)}）" if zh else f" (user {unquote(parts.username)})"
        rows.append(("database", "数据库" if zh else "Database", where))
    else:
        rows.append(("database", "数据库" if zh else "Database", "不变（本机内置数据库或已有设置）" if zh
                     else "unchanged (built-in database or the current setting)"))
    if values.get("database_sslmode") or values.get("database_sslrootcert"):
        tls, comma = str(values.get("database_sslmode") or "-"), "，" if zh else ", "
        if values.get("database_sslrootcert"):
            tls += f"{comma}{'根证书' if zh else 'root certificate'} {values['database_sslrootcert']}"
        if values.get("database_sslcert"):
            tls += f"{comma}{'客户端证书' if zh else 'client certificate'} {values['database_sslcert']}"
        rows.append(("tls", "加密连接" if zh else "Encryption", tls))
    if values.get("station_name"):
        rows.append(("station", "工作站名称" if zh else "Station name", str(values["station_name"])))
    roles = [r for r in str(values.get("station_roles") or "").split(",") if r]
    rows.append(("roles", "允许登录的角色" if zh else "Roles allowed here",
                 ("、" if zh else ", ").join(code_label("role", r, lang) for r in roles) if roles
                 else ("全部角色" if zh else "every role")))
    if values.get("slip_printer") or values.get("slip_profile"):
        printer = str(values.get("slip_printer") or ("未设置" if zh else "not set"))
        if values.get("slip_profile"):
            printer += f"（{'纸宽' if zh else 'paper'} {values['slip_profile']}）" if zh else f" (paper {values['slip_profile']})"
        rows.append(("printer", "拣货单打印机" if zh else "Pick-slip printer", printer))
    if values.get("scanner_serial_port"):
        rows.append(("scanner", "串口扫码枪" if zh else "Serial scanner", str(values["scanner_serial_port"])))
    if values.get("language"):
        rows.append(("language", "界面语言" if zh else "Language", {"zh": "中文", "en": "English"}[str(values["language"])]))
    return rows


def write_config(values: dict[str, object], config_file: Path | None = None, env: dict[str, str] | None = None) -> Path:
    """Merge ``values`` into the station's config file (``[orderhub]`` table) and return its path."""
    path = Path(config_file) if config_file else config_file_path(env)
    write_settings(path, **values)
    return path
