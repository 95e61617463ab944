"""TLS to a shared server for real: verify-full with the provisioning file's root certificate, refusals in words."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.bootstrap import bootstrap, connect_or_offline
from app.cli.station import provision
from app.db import engine as db_engine
from app.services.unit_of_work import DatabaseUnavailable
from app.settings import load_settings
from app.sync.station_sync import StationSync
from app.ui.station import sign_in_screen, station_known_users
from tests.support.tls_postgres import CertAuthority, TlsPostgres, server_bin

REPO = Path(__file__).resolve().parents[2]
BIN = server_bin()
pytestmark = pytest.mark.skipif(BIN is None, reason="Debian's PostgreSQL server (apt package postgresql) is not "
                                                    "installed: installer/dev.sh installs it when run as root")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TlsPostgres, CertAuthority, CertAuthority]]:
    """One TLS server per module (initdb + start take seconds), its CA, and a CA it does not know."""
    root = tmp_path_factory.mktemp("tls")
    ca, stranger = CertAuthority(root / "ca", "OrderHub 测试根证书"), CertAuthority(root / "other-ca", "别家的根证书")
    assert BIN is not None
    server = TlsPostgres(root / "server", ca, BIN)
    yield server, ca, stranger
    server.stop()


def _provisioned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str):
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "station.toml"
    source.write_text(text, encoding="utf-8")
    config = tmp_path / "config.toml"
    monkeypatch.setenv("ORDERHUB_CONFIG", str(config))
    provision(source)
    return load_settings(env={"ORDERHUB_CONFIG": str(config), "ORDERHUB_DATA_DIR": str(tmp_path / "data")})


def test_a_station_provisioned_with_verify_full_and_the_root_certificate_connects_encrypted(tls, tmp_path,
                                                                                          monkeypatch):
    server, ca, _ = tls
    settings = _provisioned(tmp_path, monkeypatch, f"""
[database]
url = "{server.url()}"
sslmode = "verify-full"
sslrootcert = "{ca.files.cert}"
[station]
name = "仓库工作台-TLS"
""")
    hub = bootstrap(settings)  # migrations run over the encrypted connection too
    try:
        with hub.engine.connect() as conn:
            ssl, version = conn.execute(sa.text(
                "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).one()
        assert ssl is True and version.startswith("TLSv1.")
        # the station's sync worker opens its own connections (LISTEN through libpq): encrypted as well
        station = StationSync(hub.engine.url, settings.data_dir)
        try:
            station.sync_once()
            with hub.engine.connect() as conn:
                plain = conn.scalar(sa.text(
                    "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                    "WHERE a.datname = 'orderhub' AND a.client_addr IS NOT NULL AND NOT s.ssl"))
                listening = conn.scalar(sa.text(
                    "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                    "WHERE a.query = 'LISTEN order_changes' AND s.ssl"))
            assert plain == 0 and listening == 1
        finally:
            station.stop()
    finally:
        hub.close()


def test_a_server_certificate_from_another_authority_is_refused_in_words(tls, tmp_path, monkeypatch, qtbot, cjk_font,
                                                                        shots_dir):
    server, _, stranger = tls
    settings = _provisioned(tmp_path, monkeypatch, f"""
[database]
url = "{server.url()}"
sslmode = "verify-full"
sslrootcert = "{stranger.files.cert}"
""")
    with pytest.raises(DatabaseUnavailable) as refused:
        bootstrap(settings)
    assert refused.value.code == "DATABASE_TLS_UNTRUSTED"
    assert "不是由配置的根证书签发" in refused.value.message("zh") and "sslrootcert" in refused.value.message("zh")
    assert "not issued by the configured root certificate" in refused.value.message("en")
    # the station still starts (offline), it does not fall over, and its sign-in says why
    hub, offline = connect_or_offline(settings)
    try:
        assert offline and hub.offline_reason is not None and hub.offline_reason.code == "DATABASE_TLS_UNTRUSTED"
        login = sign_in_screen(hub, station_known_users(hub), offline=True, lang="zh")
        qtbot.addWidget(login)
        login.show()
        assert "离线登录" in login.offline_note.text() and login.offline_reason.isVisible()
        assert login.offline_reason.text().startswith(f"数据库服务器（localhost:{server.port}/orderhub）出示的证书不是由")
        assert login.grab().save(str(Path(shots_dir) / "auth-offline-tls-refused.png"))
    finally:
        hub.close()


def test_a_host_name_the_certificate_does_not_name_is_refused_in_words(tls, tmp_path, monkeypatch):
    server, ca, _ = tls
    # the right machine (hostaddr) under a name its certificate does not carry
    settings = _provisioned(tmp_path, monkeypatch, f"""
[database]
url = "{server.url(host="db.elsewhere.example", hostaddr="127.0.0.1")}"
sslmode = "verify-full"
sslrootcert = "{ca.files.cert}"
""")
    with pytest.raises(DatabaseUnavailable) as refused:
        bootstrap(settings)
    assert refused.value.code == "DATABASE_TLS_HOST_MISMATCH"
    assert "证书不属于所连接的主机名" in refused.value.message("zh")


def test_hostssl_only_access_refuses_a_plain_connection_and_says_to_turn_encryption_on(tls, tmp_path, monkeypatch):
    server, _, _ = tls
    settings = _provisioned(tmp_path, monkeypatch, f'[database]\nurl = "{server.url()}"\nsslmode = "disable"\n')
    with pytest.raises(DatabaseUnavailable) as refused:
        bootstrap(settings)
    assert refused.value.code == "DATABASE_TLS_REQUIRED"
    assert "只接受加密连接" in refused.value.message("zh")


def test_the_stations_role_signs_in_with_its_client_certificate_from_the_provisioning_file(tls, tmp_path,
                                                                                          monkeypatch):
    server, ca, _ = tls
    client = ca.issue(tmp_path / "client", "orderhub_station", client=True)
    settings = _provisioned(tmp_path, monkeypatch, f"""
[database]
url = "{server.url(user="orderhub_station")}"
sslmode = "verify-full"
sslrootcert = "{ca.files.cert}"
sslcert = "{client.cert}"
sslkey = "{client.key}"
""")
    assert (settings.database_sslcert, settings.database_sslkey) == (client.cert, client.key)
    engine = db_engine.create_engine(db_engine.resolve(settings).url)
    try:
        with engine.connect() as conn:
            who, dn = conn.execute(sa.text(
                "SELECT current_user, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).one()
        assert (who, dn) == ("orderhub_station", "/CN=orderhub_station")
    finally:
        engine.dispose()
    without = _provisioned(tmp_path / "no-cert", monkeypatch, f"""
[database]
url = "{server.url(user="orderhub_station")}"
sslmode = "verify-full"
sslrootcert = "{ca.files.cert}"
""")
    with pytest.raises(DatabaseUnavailable) as refused:
        bootstrap(without)
    assert refused.value.code == "DATABASE_TLS_CLIENT_CERT"


def test_the_command_line_says_the_refusal_in_words_and_shows_no_traceback(tls, tmp_path):
    server, _, stranger = tls
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
    env |= {"ORDERHUB_CONFIG": str(tmp_path / "none.toml"), "ORDERHUB_DATA_DIR": str(tmp_path / "data"),
            "ORDERHUB_DATABASE_URL": server.url(), "ORDERHUB_DATABASE_SSLMODE": "verify-full",
            "ORDERHUB_DATABASE_SSLROOTCERT": str(stranger.files.cert)}
    done = subprocess.run([sys.executable, "-m", "app", "db", "status"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0
    assert "不是由配置的根证书签发" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
