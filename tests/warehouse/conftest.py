"""Warehouse fixtures: the small warehouse on a fresh database."""

from __future__ import annotations

import pytest

from tests.warehouse.world import WarehouseWorld, build


@pytest.fixture
def wh(hub) -> WarehouseWorld:
    """杭州自营仓 with bins in zones A, B, C, five SKUs with barcodes and 100 of each in stock."""
    return build(hub)


@pytest.fixture
def cjk_font(qapp):
    from app.ui import fonts

    return fonts.install(qapp)


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: /tmp/orderhub-screens (looked at by a person)."""
    import os
    from pathlib import Path

    path = Path("/tmp/orderhub-screens")
    os.makedirs(path, exist_ok=True)
    return path
