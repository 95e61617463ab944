"""The pure health arithmetic: ratings against thresholds, percentiles, which stages agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.health import (CONSISTENCY, REAL_ON_TIME, RESPONSE, TRACEABILITY, Counts, Grain, Rating, consistent,
                               default_grain, median, percentile, ratio)


@pytest.mark.parametrize(("metric", "value", "rating"), [
    (CONSISTENCY, 0.003, Rating.GREEN), (CONSISTENCY, 0.0031, Rating.AMBER), (CONSISTENCY, 0.011, Rating.RED),
    (RESPONSE, 112, Rating.GREEN), (RESPONSE, 200, Rating.AMBER), (RESPONSE, 225, Rating.RED),
    (TRACEABILITY, 1.0, Rating.GREEN), (TRACEABILITY, 0.995, Rating.AMBER), (TRACEABILITY, 0.9, Rating.RED),
    (REAL_ON_TIME, 0.61, Rating.RED), (REAL_ON_TIME, 0.9, Rating.AMBER), (REAL_ON_TIME, 0.982, Rating.GREEN),
    (RESPONSE, None, Rating.NONE),
])
def test_each_number_is_green_within_its_threshold_amber_near_it_and_red_beyond(metric, value, rating):
    assert metric.rate(value) == rating


def test_the_story_behind_the_issue_98_percent_nominal_with_37_percent_rescued_is_red():
    c = Counts(shipped=1000, on_time=982, on_time_clean=982 - 370)
    assert c.nominal_on_time == pytest.approx(0.982)
    assert c.real_on_time == pytest.approx(0.612)
    assert REAL_ON_TIME.rate(c.real_on_time) == Rating.RED


def test_nothing_to_divide_is_no_value_not_zero():
    assert ratio(0, 0) is None and Counts().real_on_time is None and median([]) is None


def test_percentiles_interpolate_like_postgres_percentile_cont():
    assert median([60, 100, 200]) == 100
    assert median([30, 90, 150, 600]) == 120
    assert percentile([1, 2, 3, 4, 5], 95) == pytest.approx(4.8)


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=50))
def test_the_median_lies_between_the_smallest_and_largest_value(values):
    assert min(values) <= median(values) <= max(values)


def test_our_picking_stage_agrees_with_a_platform_that_says_paid_but_shipped_does_not():
    assert consistent("allocating", "paid") and consistent("paid", "allocating") and consistent("shipped", "shipped")
    assert not consistent("shipped", "paid") and not consistent("cancelled", "paid")


def test_the_grain_keeps_a_chart_readable():
    t = datetime(2026, 1, 1, tzinfo=UTC)  # pure arithmetic on a span: no clock involved
    assert default_grain(t, t + timedelta(days=1)) == Grain.HOUR
    assert default_grain(t, t + timedelta(days=7)) == Grain.DAY
    assert default_grain(t, t + timedelta(days=180)) == Grain.WEEK
