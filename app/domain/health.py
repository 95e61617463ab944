"""订单健康度: the four health dimensions, their thresholds and the pure arithmetic behind them.

Why measured dimensions instead of one 履约率: a report can say 98.2% on time while a third of
those orders were rescued by hand; each dimension here has its own threshold and is traceable
to the orders behind it (the services count them from rollups; this module only judges).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# Audit actions that mean a person rescued an order by hand: an order shipped on time *after* one of
# these is on time nominally, not really. Migration 0012 holds the same list in SQL (a test checks).
RESCUE_ACTIONS = ("order.status_override", "order.expedite", "order.warehouse_change", "slip.reprint")

# Stages that mean the same to an outside source: the platform says "paid, awaiting shipment" while we
# are picking (配货中 is ours, not the platform's).
_SAME = ({"paid", "allocating"},)


def consistent(ours: str, outside: str) -> bool:
    """Whether our stage agrees with the stage an outside source of truth reports."""
    return ours == outside or any(ours in group and outside in group for group in _SAME)


class Rating(StrEnum):
    """Traffic light of a health number against its threshold (field dictionary "health_rating")."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    NONE = "none"  # nothing to measure in the range (e.g. no after-sales case at all)


@dataclass(frozen=True, slots=True)
class Metric:
    """One health dimension: its target, and how far from it is still amber.

    Attributes:
        key: field dictionary code in "health_metric".
        target: the threshold line drawn on its chart.
        higher_is_better: rates (履约率, 可追溯) want to be high; a mismatch share or a median wait low.
        amber: how far past the target is amber rather than red (same unit as the value).
        unit: "ratio" (shown as %) or "seconds".
    """

    key: str
    target: float
    higher_is_better: bool
    amber: float
    unit: str

    def rate(self, value: float | None) -> Rating:
        """Green within the target, amber within ``amber`` of it, red beyond; NONE without a value."""
        if value is None or math.isnan(value):
            return Rating.NONE
        gap = (self.target - value) if self.higher_is_better else (value - self.target)
        if gap <= 1e-12:
            return Rating.GREEN
        return Rating.AMBER if gap <= self.amber else Rating.RED


CONSISTENCY = Metric("consistency", 0.003, False, 0.007, "ratio")  # ≤ 0.3% disagree; ≤ 1% amber
RESPONSE = Metric("response", 112.0, False, 112.0, "seconds")  # median ≤ 112 s; ≤ 224 s amber
TRACEABILITY = Metric("traceability", 1.0, True, 0.01, "ratio")  # 100%; ≥ 99% amber
REAL_ON_TIME = Metric("real_on_time", 0.95, True, 0.10, "ratio")  # without rescue ≥ 95%; ≥ 85% amber
NOMINAL_ON_TIME = Metric("nominal_on_time", 0.95, True, 0.10, "ratio")
HEADLINE = (CONSISTENCY, RESPONSE, TRACEABILITY, REAL_ON_TIME)
METRICS = {m.key: m for m in (*HEADLINE, NOMINAL_ON_TIME)}

# A story must resolve (rule version, who/what/when, documents) within this many seconds.
TRACE_SECONDS = 30.0


def ratio(part: int, whole: int) -> float | None:
    """``part / whole``, or None when there is nothing to divide (no orders is not 0%)."""
    return part / whole if whole else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0–100) by linear interpolation between closest ranks, like PostgreSQL's
    ``percentile_cont`` — so the services' SQL and a hand computation agree."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 50)


class Grain(StrEnum):
    """How the time series buckets: hour, day or week (China time: a day starts at 00:00 CST)."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


def default_grain(start: datetime, end: datetime) -> Grain:
    """Hours for up to two days, days up to ten weeks, weeks beyond: a chart keeps 24–70 points."""
    span = end - start
    if span <= timedelta(days=2):
        return Grain.HOUR
    return Grain.DAY if span <= timedelta(weeks=10) else Grain.WEEK


@dataclass(frozen=True, slots=True)
class Counts:
    """Sums from the rollup for one bucket or one bar (shop, warehouse, platform)."""

    orders: int = 0
    shipped: int = 0
    on_time: int = 0
    on_time_clean: int = 0
    rescued: int = 0
    rescues: int = 0
    late: int = 0
    checked: int = 0
    mismatched: int = 0
    exceptions: int = 0
    untraceable: int = 0

    @property
    def nominal_on_time(self) -> float | None:
        """Shipped by the deadline, however it got there: the number the old report showed."""
        return ratio(self.on_time, self.shipped)

    @property
    def real_on_time(self) -> float | None:
        """Shipped by the deadline with no manual rescue on the order's record."""
        return ratio(self.on_time_clean, self.shipped)

    @property
    def mismatch_share(self) -> float | None:
        """Share of orders an outside source reported on whose stage disagrees with ours."""
        return ratio(self.mismatched, self.checked)

    @property
    def traceable_share(self) -> float | None:
        """Share of exception orders whose story resolves."""
        return ratio(self.exceptions - self.untraceable, self.exceptions)

    def value(self, key: str) -> float | None:
        return {"consistency": self.mismatch_share, "real_on_time": self.real_on_time,
                "nominal_on_time": self.nominal_on_time}.get(key)
