"""The bundle's entry point: the whole `orderhub` command line (station, demo, db, hub …), as `app.cli:main`."""

import sys

from app.cli import main

if __name__ == "__main__":
    # A windowed Windows build (no console) has no stdout/stderr; argparse's --help and error messages
    # would fail on None, so give them a sink.
    if sys.stdout is None or sys.stderr is None:
        import os

        sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (lives as long as the process)
        sys.stdout = sys.stdout or sink
        sys.stderr = sys.stderr or sink
    raise SystemExit(main())
