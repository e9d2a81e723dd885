"""Intervals for reported figures: every rate with n and a 95 % interval.

>>> wilson(18, 20)                 # 18 successes out of 20
Interval(estimate=0.9, low=0.699..., high=0.972..., n=20)
>>> mean_interval([0.91, 0.88, 0.93])   # a mean over seeds (Student t)

Only numpy and scipy; nothing here runs a model.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95 % interval and the sample size behind it."""

    estimate: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.estimate:.3g} [{self.low:.3g}, {self.high:.3g}] (n={self.n})"

    def percent(self) -> str:
        """``90.0 % [69.9, 97.2] (n=20)``"""
        return f"{100 * self.estimate:.1f} % [{100 * self.low:.1f}, {100 * self.high:.1f}] (n={self.n})"

    def as_dict(self) -> dict[str, float | int]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "n": self.n}


def wilson(successes: int, n: int, z: float = Z95) -> Interval:
    """The Wilson score interval of a binomial proportion (well-behaved at 0, 1 and small n)."""
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"wilson: need 0 <= successes <= n, got {successes} of {n}")
    return _wilson_of_share(successes / n if n else math.nan, n, z)


def _wilson_of_share(p: float, n: int, z: float = Z95) -> Interval:
    if n == 0:
        return Interval(math.nan, 0.0, 1.0, 0)
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if p == 0.0 else max(0.0, centre - half)  # exact at the ends, not 1 - 1e-16
    high = 1.0 if p == 1.0 else min(1.0, centre + half)
    return Interval(p, low, high, n)


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """The mean of ``values`` with a Student-t interval (e.g. a metric over training seeds)."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, -math.inf, math.inf, 1)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n)


def difference_of_proportions(a: int, n_a: int, b: int, n_b: int, z: float = Z95) -> Interval:
    """``a/n_a − b/n_b`` with Newcombe's hybrid score interval (built from two Wilson intervals)."""
    first, second = wilson(a, n_a, z), wilson(b, n_b, z)
    d = first.estimate - second.estimate
    low = d - math.sqrt((first.estimate - first.low) ** 2 + (second.high - second.estimate) ** 2)
    high = d + math.sqrt((first.high - first.estimate) ** 2 + (second.estimate - second.low) ** 2)
    return Interval(d, max(-1.0, low), min(1.0, high), min(n_a, n_b))


def paired_win_rate(wins: int, losses: int, ties: int = 0) -> Interval:
    """Share of paired comparisons won, a tie counting half, with a Wilson interval on the n pairs."""
    n = wins + losses + ties
    return _wilson_of_share((wins + ties / 2) / n if n else math.nan, n)
