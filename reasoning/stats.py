"""Small statistics for sweeps: a mean and its 95 % interval over a handful of repeats.

The interval is Student's t interval, mean ± t(0.975, n-1) · s / √n, with s the sample
standard deviation: sweeps repeat a prompt 3–10 times, where a bootstrap over three
values can only redraw those three values and gives intervals far too narrow. t assumes
roughly normal scores; for pass/fail scores near 0 or 1 the interval is clipped to the
scale's ends by the caller (`clip`). With one value there is no interval (None, None).
No scipy here: the quantiles for 1–30 degrees of freedom are tabulated, and beyond 30
the normal 1.96 is within 2 % of t.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# t(0.975, df) for df = 1 … 30 (any statistics table).
T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)
Z_975 = 1.96


def t_quantile(df: int) -> float:
    if df < 1:
        raise ValueError("no interval with fewer than 2 values")
    return T_975[df - 1] if df <= len(T_975) else Z_975


@dataclass(frozen=True)
class Estimate:
    """The mean of `n` values and its 95 % t interval (None with fewer than 2 values)."""

    n: int
    mean: float | None
    low: float | None
    high: float | None
    sd: float | None  # sample standard deviation: the spread of single runs

    def as_dict(self) -> dict[str, float | int | None]:
        return {"n": self.n, "mean": self.mean, "low": self.low, "high": self.high, "sd": self.sd}


def estimate(values: Sequence[float], clip: tuple[float, float] | None = None) -> Estimate:
    values = [float(v) for v in values]
    n = len(values)
    if n == 0:
        return Estimate(0, None, None, None, None)
    mean = sum(values) / n
    if n == 1:
        return Estimate(1, mean, None, None, None)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    low, high = mean - half, mean + half
    if clip is not None:
        low, high = max(low, clip[0]), min(high, clip[1])
    return Estimate(n, mean, low, high, sd)
