"""The 抖店 simulator writes each order version once and keeps a window's sorted list while paging:
what it answers is still exactly what rendering afresh gives, before and after the world changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from connectors.simulators.douyin import DouyinSimulator
from connectors.simulators.world import SimWorld

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def _world() -> SimWorld:
    world = SimWorld("douyin", seed=3, clock=lambda: T0 + timedelta(minutes=29))
    for i in range(150):
        world.create(1, at=T0 + timedelta(seconds=i * 5))
    return world


def _pages(sim: DouyinSimulator) -> list[dict]:
    window = {"order_by": "update_time", "size": 100, "update_time_start": int(T0.timestamp()),
              "update_time_end": int((T0 + timedelta(minutes=30)).timestamp())}
    return [json.loads(sim._envelope(10000, sim._search({**window, "page": page})))["data"] for page in (1, 0)]


def test_answers_equal_fresh_rendering_before_and_after_changes() -> None:
    world = _world()
    sim = DouyinSimulator(world, app_key="k", app_secret="s")
    sim.prepare()
    first = _pages(sim)
    newest_first = [sim.render(o) for o in sorted(world.orders.values(), key=lambda o: (o.updated, o.order_id),
                                                  reverse=True)]
    assert [o for p in first for o in p["shop_order_list"]] == newest_first[100:] + newest_first[:100]
    order_id = first[1]["shop_order_list"][0]["order_id"]
    world.change_address(order_id, "解放路88号")
    world.cancel(first[0]["shop_order_list"][-1]["order_id"])
    world.create(1, at=T0 + timedelta(minutes=20))
    again = _pages(sim)
    fresh = _pages(DouyinSimulator(world, app_key="k", app_secret="s"))
    assert again == fresh and again[0]["total"] == 151
    changed = next(o for p in again for o in p["shop_order_list"] if o["order_id"] == order_id)
    assert changed["mask_post_addr"]["detail"] == "解放路**号"
    detail = json.loads(sim._envelope(10000, sim._detail({"shop_order_id": order_id})))["data"]["shop_order_detail"]
    assert detail == changed
