"""A guard for the Qt binding itself: PySide6 6.12.0 on Python 3.11 aborts after ~10,000 void calls."""

import subprocess
import sys
import textwrap


def test_a_station_can_make_a_hundred_thousand_qt_calls_without_the_binding_crashing():
    script = textwrap.dedent("""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtGui import QPainterPath
        from PySide6.QtWidgets import QApplication, QLabel
        app = QApplication([])
        path, label = QPainterPath(), QLabel()
        before = sys.getrefcount(None)
        for _ in range(50_000):
            path.lineTo(1.0, 2.0)
            label.setText("配货中")
        print(sys.getrefcount(None) - before)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert abs(int(done.stdout.strip())) < 1000  # no drift of None's reference count
