"""The statistics reports quote: the spread of a metric over members or seeds, and the 95% confidence interval
of the difference between two configs (scipy's t tests: paired when both were trained on the same seeds)."""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


def spread(values: list[float]) -> dict[str, float]:
    """mean, std (sample, n - 1; 0 for one value), min and max of the finite values."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan}
    return {"mean": statistics.fmean(finite), "std": statistics.stdev(finite) if len(finite) > 1 else 0.0,
            "min": min(finite), "max": max(finite)}


@dataclass
class Difference:
    mean: float  # mean of a - b
    std: float  # std of the per-seed differences (paired), or of the two groups' difference (unpaired)
    low: float  # the 95% confidence interval of the mean difference (nan when it cannot be computed)
    high: float
    wins: int  # paired: seeds on which a > b
    count: int
    paired: bool


def difference(a: list[float], b: list[float], paired: bool) -> Difference:
    """a - b: paired over seeds (a[i] and b[i] trained with the same seed), else Welch's unequal variances."""
    from scipy import stats

    if paired:
        per_seed = [x - y for x, y in zip(a, b)]
        summary = spread(per_seed)
        test = stats.ttest_rel(a, b) if len(a) > 1 and summary["std"] > 0 else None
        wins = sum(d > 0 for d in per_seed)
    else:
        summary = {"mean": statistics.fmean(a) - statistics.fmean(b),
                   "std": math.sqrt(spread(a)["std"] ** 2 / len(a) + spread(b)["std"] ** 2 / len(b))}
        test = stats.ttest_ind(a, b, equal_var=False) if min(len(a), len(b)) > 1 and summary["std"] > 0 else None
        wins = 0
    if test is not None:
        interval = test.confidence_interval(0.95)
        low, high = float(interval.low), float(interval.high)
    elif len(a) > 1 and len(b) > 1:  # every seed gave the same difference: no spread to widen it
        low = high = summary["mean"]
    else:
        low = high = math.nan
    return Difference(summary["mean"], summary["std"], low, high, wins, len(a), paired)
