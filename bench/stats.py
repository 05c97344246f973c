"""Summarise timings: median, p95 and friends, in milliseconds."""
from __future__ import annotations

import math


def percentile(values: list[float], p: float) -> float:
    """Return the ``p``-th percentile (0-100) with linear interpolation between ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(seconds: list[float]) -> dict:
    """Return count, median, p95, mean and max of durations given in seconds, in ms."""
    if not seconds:
        return {"n": 0, "median_ms": None, "p95_ms": None, "mean_ms": None, "max_ms": None}
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "median_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
            "mean_ms": round(sum(ms) / len(ms), 2), "max_ms": round(max(ms), 2)}


def rate(count: float, seconds: float) -> float | None:
    """Return count per second, or None for a zero duration."""
    return round(count / seconds, 2) if seconds > 0 else None
