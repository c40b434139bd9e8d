"""Percentiles and summaries of timing samples (pure Python, so the harness's arithmetic is unit-tested)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be between 0 and 100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def median(values: Sequence[float]) -> float:
    return percentile(values, 50.0)


def summarise_latencies(seconds: Sequence[float]) -> dict:
    """p50/p90/p99/max/mean in milliseconds of per-call wall times given in seconds."""
    if not seconds:
        raise ValueError("no latency samples")
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms),
        "mean_ms": sum(ms) / len(ms),
    }


def throughput(n_items: int, seconds: float) -> float:
    """Items per second; a zero duration (clock resolution) counts as infinitely fast, never a crash."""
    if n_items < 0:
        raise ValueError("n_items must be >= 0")
    return n_items / seconds if seconds > 0 else math.inf
