"""Summary statistics of raw timing samples (seconds).

The checklist of anchors-microbench §7.7: keep the raw samples and report median, mean, max,
min, p10/p90, coefficient of variation and n. Percentiles interpolate linearly between order
statistics (NumPy's default "linear" method), so small n still gives stable p10/p90.
"""

from __future__ import annotations

import math
from typing import Sequence


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile of already sorted values; fraction in [0, 1]."""
    if not sorted_values:
        raise ValueError("samples: need at least one sample")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction: must be in [0, 1], got {fraction}")
    position = fraction * (len(sorted_values) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    weight = position - lower
    return sorted_values[lower] * (1.0 - weight) + sorted_values[upper] * weight


def summarize(samples_seconds: Sequence[float]) -> dict[str, float]:
    """Median, mean, max, min, p10, p90, cv (std/mean, population) and n of the samples."""
    values = [float(v) for v in samples_seconds]
    if not values:
        raise ValueError("samples: need at least one sample")
    if any(not math.isfinite(v) or v < 0.0 for v in values):
        raise ValueError("samples: every sample must be a finite non-negative number of seconds")
    ordered = sorted(values)
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    return {
        "median": percentile(ordered, 0.5),
        "mean": mean,
        "max": ordered[-1],
        "min": ordered[0],
        "p10": percentile(ordered, 0.1),
        "p90": percentile(ordered, 0.9),
        "cv": math.sqrt(variance) / mean if mean > 0.0 else 0.0,
        "n": len(values),
    }
