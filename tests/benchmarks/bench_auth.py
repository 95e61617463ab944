"""Sign-in with argon2: hash verify alone, and a whole sign-in (look-up, verify, session, audit) on a real database.

Run: .venv/bin/python tests/benchmarks/bench_auth.py [--rounds 30]
Prints a human summary, then one JSON line (last) with every figure. Target: a sign-in under 300 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.bootstrap import bootstrap  # noqa: E402
from app.services import auth  # noqa: E402
from app.settings import Settings  # noqa: E402

PASSWORD = "bench-password-2026"


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    opts = parser.parse_args()
    figures: dict[str, object] = {}
    started = time.perf_counter()
    stored = auth.hash_password(PASSWORD)
    figures["hash_ms"] = round((time.perf_counter() - started) * 1000, 1)
    verify = []
    for _ in range(opts.rounds):
        t = time.perf_counter()
        assert auth.verify_password(stored, PASSWORD)
        verify.append(time.perf_counter() - t)
    figures["verify"] = _ms(verify)
    print(f"argon2id hash {figures['hash_ms']} ms; verify p50 {figures['verify']['p50_ms']} ms")
    with tempfile.TemporaryDirectory() as folder:
        hub = bootstrap(Settings(database_url=None, data_dir=Path(folder), station_name="bench"))
        try:
            with hub.engine.begin() as conn:
                conn.execute(sa.text("INSERT INTO users (login, display_name, role, password_hash) "
                                     "VALUES ('bench.cs', '测速', 'cs', :h)"), {"h": stored})
            sign_ins = []
            for _ in range(opts.rounds):
                t = time.perf_counter()
                who = auth.sign_in(hub.uow(), "bench.cs", PASSWORD, station="bench", station_ip="127.0.0.1")
                sign_ins.append(time.perf_counter() - t)
                assert who.role == "cs"
            figures["sign_in"] = _ms(sign_ins)
            wrong = []
            for n in range(4):  # below the lockout
                t = time.perf_counter()
                try:
                    auth.sign_in(hub.uow(), "bench.cs", f"wrong-{n}", station="bench")
                except Exception:
                    pass
                wrong.append(time.perf_counter() - t)
            figures["wrong_password"] = _ms(wrong)
        finally:
            hub.close()
    figures["target_ms"] = 300
    figures["sign_in_p95_under_target"] = figures["sign_in"]["p95_ms"] < 300  # type: ignore[index]
    print(f"whole sign-in p50 {figures['sign_in']['p50_ms']} ms, p95 {figures['sign_in']['p95_ms']} ms "  # type: ignore[index]
          f"(target 300 ms); a wrong password p50 {figures['wrong_password']['p50_ms']} ms")  # type: ignore[index]
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
