"""The small statistics every analysis table rounds the same way (metrics, audit)."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean, median


def round2(x: float) -> float:
    """Return `x` as a float rounded to 2 decimals (how tables show means)."""
    return round(float(x), 2)


def rate(part: float, total: int) -> float | None:
    """Return part / total rounded to 4 decimals, or None when `total` is 0."""
    return None if total == 0 else round(part / total, 4)


def mean(values: Sequence[float]) -> float | None:
    """Return the mean rounded to 2 decimals, or None for no values."""
    return round2(fmean(values)) if values else None


def median2(values: Sequence[float]) -> float | None:
    """Return the median as a float rounded to 2 decimals, or None for no values."""
    return round2(median(values)) if values else None
