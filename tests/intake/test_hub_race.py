"""Two hub processes racing for the same shops while one is killed with SIGKILL again and again: every order once."""

from __future__ import annotations

import random
import time

import pytest

from app.hub.registry import simulator_module
from connectors.base import Credentials
from connectors.simulators.server import SimServer
from connectors.simulators.world import SimWorld
from tests.support.hub_race import HubRace, wait_for

CREDS = Credentials(app_key="1234567890123456789", app_secret="testsecret", access_token="token-1",
                    refresh_token="refresh-1")


@pytest.mark.slow
def test_two_hubs_killed_in_turn_while_orders_keep_coming_ingest_every_order_exactly_once(hub, add_shop, credentials,
                                                                                          tmp_path):
    worlds, servers = [], []
    for i, platform in enumerate(("douyin", "taobao")):
        world = SimWorld(platform, seed=40 + i)
        server = SimServer(simulator_module(platform).make_simulator(world, CREDS).handle).start()
        add_shop(platform, f"RACE{i}", url=server.url, creds=CREDS, platform_shop_id=f"7700{i}")
        worlds.append(world)
        servers.append(server)
    race = HubRace(hub.engine.url.render_as_string(hide_password=False), tmp_path / "hubs", credentials.path)
    rng = random.Random(19)
    try:
        race.start("hub-a")
        race.start("hub-b")
        for _ in range(4):
            for world in worlds:
                world.create(12)
            time.sleep(rng.uniform(1.0, 3.0))
            race.kill_and_restart_one(rng)
        for world in worlds:
            world.create(12)
        expected = sum(len(w.orders) for w in worlds)
        orders, distinct, unlinked = wait_for(hub.engine, expected, timeout=90)
    finally:
        race.stop()
        for server in servers:
            server.stop()
    assert race.kills >= 4
    assert orders == distinct == expected  # nothing lost, nothing doubled
    assert unlinked == 0
