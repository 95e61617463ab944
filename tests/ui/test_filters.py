"""The filter bar: 状态 / 平台 / 店铺 / 小时段 / 省份 / 仓库 / 超时风险 combine, and the map can colour by exception rate."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.demo.seed import seed_demo
from app.domain.clock import local
from app.ui.cs_workspace import CustomerServiceWorkspace


@pytest.fixture
def demo_hub(hub):
    seed_demo(hub, seed=6, n_orders=700, anchor=datetime.now(UTC).replace(microsecond=0))
    return hub


def _rows(ws: CustomerServiceWorkspace) -> list:
    while ws.model.canFetchMore():
        ws.model.fetchMore()
    return [ws.model.row_at(i) for i in range(ws.model.rowCount())]


def _pick(combo, data) -> None:
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)


def test_filters_combine_and_each_narrows_the_list(qtbot, demo_hub, cjk_font, shots_dir):
    ws = CustomerServiceWorkspace(demo_hub.uow)
    qtbot.addWidget(ws)
    everything = _rows(ws)
    _pick(ws.warehouse, ws.warehouse.itemData(1))
    in_wh = _rows(ws)
    assert 0 < len(in_wh) < len(everything) and {r.warehouse for r in in_wh} == {ws.warehouse.itemText(1)}
    _pick(ws.shop, ws.shop.itemData(1))
    both = _rows(ws)
    assert {r.shop for r in both} <= {ws.shop.itemText(1)} and {r.warehouse for r in both} <= {ws.warehouse.itemText(1)}
    assert len(both) < len(in_wh)
    _pick(ws.shop, None)
    _pick(ws.warehouse, None)

    _pick(ws.hours, "18-22")
    evening = _rows(ws)
    assert evening and all(18 <= local(r.ordered_at).hour < 22 for r in evening)
    _pick(ws.hours, None)

    _pick(ws.risk, "overdue")
    overdue = _rows(ws)
    now = datetime.now(UTC)
    with demo_hub.uow() as uow:
        expected = uow.session.scalar(sa.text("SELECT count(*) FROM orders WHERE status IN ('paid', 'allocating') "
                                              "AND ship_by < now()"))
    assert len(overdue) == expected and all(r.status in ("paid", "allocating") and r.ship_by < now for r in overdue)
    _pick(ws.risk, "due_soon")
    assert all(now - timedelta(minutes=1) <= r.ship_by <= now + timedelta(hours=2, minutes=1) for r in _rows(ws))
    _pick(ws.risk, None)
    assert len(_rows(ws)) == len(everything)


def test_the_map_colours_by_exception_rate_on_request(qtbot, demo_hub, cjk_font, shots_dir):
    ws = CustomerServiceWorkspace(demo_hub.uow)
    qtbot.addWidget(ws)
    ws.resize(1500, 760)
    ws.show()
    qtbot.waitExposed(ws)
    assert ws.wait_for_map()
    counts = dict(ws.map._counts)
    placed = [r for r in _rows(ws) if r.province]  # store sales (POS) have no delivery province
    assert all(isinstance(v, int) for v in counts.values()) and sum(counts.values()) == len(placed)
    _pick(ws.measure, "exception_rate")
    assert ws.wait_for_map()
    rates = ws.map._rates  # the map keeps both: it colours by the rate, its tooltips show count and rate
    assert rates and all(0 <= v <= 1 for v in rates.values()) and any(v > 0 for v in rates.values())
    assert ws.map._measure == "exception_rate" and ws.map.value(max(rates, key=rates.get)) == max(rates.values())
    assert ws.map.fmt(0.25) == "25%"
    assert ws.grab().save(str(Path(shots_dir) / "cs-filters-exception-map.png"))
