"""Lets `python -m app` run the same command line as `orderhub`."""

from app.cli import main

raise SystemExit(main())
