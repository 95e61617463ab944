"""Loopback simulators of the platforms, built to their public API docs (signing, paging, errors)."""
