"""Warehouse fixtures: the small warehouse on a fresh database."""

from __future__ import annotations

import pytest

from tests.warehouse.world import WarehouseWorld, build


@pytest.fixture
def wh(hub) -> WarehouseWorld:
    """杭州自营仓 with bins in zones A, B, C, five SKUs with barcodes and 100 of each in stock."""
    return build(hub)
