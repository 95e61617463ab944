"""Routing fixtures: the small test company on a fresh database."""

from __future__ import annotations

import pytest

# The routing tables must be on Base.metadata before any test compares the schema with the models.
import app.db.routing_models  # noqa: F401
from tests.routing.world import World, build


@pytest.fixture
def world(hub) -> World:
    """Three warehouses (杭州自营仓, 合肥云仓, 广州云仓), four shops, five SKUs; no stock, no rules."""
    return build(hub)
