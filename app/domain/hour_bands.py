"""下单时段 bands (China local hours) as the order map's counts keep them, and which bands make up a range."""

from __future__ import annotations

#: (first hour, hour after the last), China time; the ``hour_band`` code list names the same bands.
HOUR_BANDS = ((0, 6), (6, 12), (12, 18), (18, 22), (22, 24))


def bands_for(hours: tuple[int, int] | None) -> list[int] | None:
    """The starts of the bands that make up ``hours`` exactly, or None when the range splits a band."""
    if hours is None:
        return None
    inside = [start for start, end in HOUR_BANDS if start >= hours[0] and end <= hours[1]]
    covered = sum(end - start for start, end in HOUR_BANDS if start in inside)
    return inside if inside and covered == hours[1] - hours[0] else None


def band_of(hour: int) -> int:
    """The start of the band ``hour`` (0–23, China time) falls in."""
    return next(start for start, end in HOUR_BANDS if start <= hour < end)
