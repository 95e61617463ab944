"""The 主管 tab's one-read dashboard equals the separate reads (totals, time series, bars) it replaces."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain.health import Grain
from app.services import health
from app.services.health import Span
from tests.health.world import build, case, order, rescue, ship
from tests.auth.conftest import actor_of

SUP = actor_of("supervisor")  # health is read by someone holding health.view

H = timedelta(hours=1)


@pytest.fixture
def company(hub):
    """Two days over two shops and two warehouses; some late, some rescued, one never assigned."""
    w = build(hub)
    for day in range(2):
        for n in range(6):
            t0 = w.now - (day * 24 + 2 + 3 * n) * H
            no = order(w, "dy" if n % 2 else "tb", ordered_at=t0, warehouse="hz" if n % 3 else "hf", ship_by=t0 + 24 * H)
            if n == 1:
                rescue(w, no, "order.expedite", who="ajie")
            ship(w, no, t0 + (30 if n == 4 else 5) * H)
            if n < 2:
                case(w, no, t0 + 6 * H, 60 + 20 * n, agent="xiaomei", closed_after_s=3600)
    return w


@pytest.mark.parametrize("grain", list(Grain))
def test_one_read_of_the_rollup_gives_the_same_summary_series_and_bars_as_the_separate_reads(hub, company, grain):
    span = Span.of(company.now - 72 * H, company.now + H)
    board = health.dashboard(hub.uow(), SUP, span, grain)
    assert board.points == health.timeline(hub.uow(), SUP, span, grain)
    for dim in ("shop", "warehouse", "platform", "agent"):
        assert board.bars[dim] == health.bars(hub.uow(), SUP, span, dim)
    with hub.uow() as uow:
        assert board.summary.counts == health.totals(uow.session, span)
    # and by hand: 12 orders, 2 shipped late, 2 rescued, over two shops
    assert (board.summary.counts.orders, board.summary.counts.late, board.summary.counts.rescued) == (12, 2, 2)
    assert sum(b.counts.orders for b in board.bars["shop"]) == 12 and len(board.bars["shop"]) == 2
    assert sum(p.counts.orders for p in board.points) == 12


def test_an_empty_range_reads_as_no_data_not_an_error(hub, company):
    board = health.dashboard(hub.uow(), SUP, Span.of(company.now + 48 * H, company.now + 50 * H), Grain.HOUR)
    assert board.points == [] and board.summary.counts.orders == 0
    assert board.bars["shop"] == board.bars["warehouse"] == board.bars["platform"] == []
