"""The statistics reports quote: the spread of a metric over members or seeds, and the confidence interval of
a difference between two configs trained on the same seeds (scipy's Student t)."""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


def spread(values: list[float]) -> dict[str, float]:
    """mean, std (sample, n - 1; 0 for one value), min and max."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan}
    return {"mean": statistics.fmean(finite), "std": statistics.stdev(finite) if len(finite) > 1 else 0.0,
            "min": min(finite), "max": max(finite)}


@dataclass
class Difference:
    mean: float
    std: float
    low: float  # the 95% confidence interval of the mean difference
    high: float
    wins: int  # seeds on which the difference is > 0
    count: int


def paired_difference(a: list[float], b: list[float], confidence: float = 0.95) -> Difference:
    """a[i] - b[i] over seeds i (both configs trained with the same seeds): mean, std and the t interval of the
    mean (a single pair has no interval: nan)."""
    from scipy import stats

    differences = [x - y for x, y in zip(a, b)]
    summary = spread(differences)
    n = len(differences)
    if n > 1 and summary["std"] > 0:
        low, high = stats.t.interval(confidence, n - 1, loc=summary["mean"], scale=summary["std"] / math.sqrt(n))
    elif n > 1:  # every seed gave the same difference
        low = high = summary["mean"]
    else:
        low = high = math.nan
    return Difference(summary["mean"], summary["std"], float(low), float(high), sum(d > 0 for d in differences), n)
