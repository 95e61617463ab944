"""A station provisioning file: IT writes it once, each of twenty stations imports it at first start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli.station import provision
from app.domain.errors import BusinessError
from app.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
FILE = """\
[database]
url = "postgresql://orderhub_station@db.xsm.local:5432/orderhub"
sslmode = "verify-full"
sslrootcert = "/etc/orderhub/root.crt"

[station]
name = "仓库工作台-03"
roles = ["拣货员", "wh_lead"]
language = "zh"

[printer]
slip = "network:192.168.1.50:9100"
profile = "80mm"

[scanner]
serial_port = "/dev/ttyUSB0"
"""


def test_a_provisioning_file_becomes_the_stations_settings(tmp_path, monkeypatch):
    source = tmp_path / "warehouse.toml"
    source.write_text(FILE, encoding="utf-8")
    config = tmp_path / "config" / "config.toml"
    monkeypatch.setenv("ORDERHUB_CONFIG", str(config))
    assert provision(source) == config
    settings = load_settings(env={"ORDERHUB_CONFIG": str(config)})
    assert settings.database_url == "postgresql://orderhub_station@db.xsm.local:5432/orderhub"
    assert (settings.database_sslmode, str(settings.database_sslrootcert)) == ("verify-full", "/etc/orderhub/root.crt")
    assert settings.station_name == "仓库工作台-03" and settings.allowed_roles == ("picker", "wh_lead")
    assert (settings.slip_printer, settings.slip_profile) == ("network:192.168.1.50:9100", "80mm")
    assert settings.scanner_serial_port == "/dev/ttyUSB0" and settings.language == "zh"


def test_importing_again_keeps_what_the_station_had_and_changes_what_the_file_says(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('[orderhub]\nidle_sign_out_minutes = 10\nstation_name = "旧名字"\n', encoding="utf-8")
    monkeypatch.setenv("ORDERHUB_CONFIG", str(config))
    source = tmp_path / "p.toml"
    source.write_text('[station]\nname = "客服工作台-12"\n', encoding="utf-8")
    provision(source)
    settings = load_settings(env={"ORDERHUB_CONFIG": str(config)})
    assert settings.station_name == "客服工作台-12" and settings.idle_sign_out_minutes == 10


@pytest.mark.parametrize("text, code, named", [
    ("[station]\nroles = [\"老板\"]\n", "PROVISION_UNKNOWN_ROLE", "角色「老板」不存在。可用的角色：客服、"),
    ("[station]\nroles = [\"系统服务账号\"]\n", "PROVISION_UNKNOWN_ROLE", "「系统服务账号」不存在"),
    ("[station]\nlanguage = \"fr\"\n", "PROVISION_BAD_LANGUAGE", "界面语言「fr」不支持"),
    ("[database]\npassword = \"x\"\n", "PROVISION_UNKNOWN_KEY", "不认识的设置「[database] password」"),
    ("[station\nname = 1\n", "PROVISION_BAD_TOML", "「p.toml」格式不对：第 1 行"),
    ("", "PROVISION_EMPTY", "「p.toml」里没有任何设置"),
])
def test_a_wrong_provisioning_file_is_refused_in_words_and_nothing_is_written(tmp_path, monkeypatch, text, code,
                                                                              named):
    config = tmp_path / "config.toml"
    monkeypatch.setenv("ORDERHUB_CONFIG", str(config))
    source = tmp_path / "p.toml"
    source.write_text(text, encoding="utf-8")
    with pytest.raises(BusinessError) as caught:
        provision(source)
    assert caught.value.code == code
    assert caught.value.message("zh").startswith("工作站配置文件") and named in caught.value.message("zh")
    assert "provisioning file" in caught.value.message("en")
    assert not config.exists()


def test_orderhub_station_provision_writes_the_config_from_the_command_line(tmp_path):
    source = tmp_path / "cs.toml"
    source.write_text('[station]\nname = "客服工作台-20"\nroles = "客服,客服组长"\n', encoding="utf-8")
    config = tmp_path / "config.toml"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env |= {"ORDERHUB_CONFIG": str(config), "ORDERHUB_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "app", "station", "--provision", str(source)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert str(config) in done.stdout
    settings = load_settings(env={"ORDERHUB_CONFIG": str(config)})
    assert settings.station_name == "客服工作台-20" and settings.allowed_roles == ("cs", "cs_lead")
