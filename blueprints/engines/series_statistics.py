"""Statistics of calendar series, for online forecasters: granularity, seasonality and trend tests.

Pure functions over short buffers of recent values (a few hundred at most), deterministic, numpy only:

* :func:`granularity_of` snaps a median spacing between dates to hour, day, week, month or quarter;
* :func:`season_p_value` tests whether a buffer repeats every ``m`` periods;
* :func:`least_squares` fits level, slope and seasonal means, with the slope's t-statistic;
* :func:`trend_of` turns that slope into growth, decline or stable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

__all__ = ["Granularity", "Trend", "granularity_of", "least_squares", "season_p_value", "trend_of"]

Trend = Literal["growth_detected", "decline_detected", "stable"]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Granularity:
    """A series' calendar granularity."""

    name: str
    period_days: float
    """One period's length for horizons in days (a month counts as 30 days)."""
    auto_cycle: int
    """The calendar's seasonal period in steps (7 for daily data), 0 if none."""


_GRANULARITIES: Final = (  # name, lowest and highest spacing in days, period for horizons, cycle
    ("hourly", 0.9 / 24, 1.1 / 24, 1 / 24, 24),
    ("daily", 0.9, 1.1, 1.0, 7),
    ("weekly", 6.5, 7.5, 7.0, 52),
    ("monthly", 27.0, 32.0, 30.0, 12),
    ("quarterly", 85.0, 95.0, 90.0, 4),
)


def granularity_of(spacing_days: float) -> Granularity:
    """Snap a median spacing to a calendar granularity; any other keeps its own length and no cycle.

    >>> granularity_of(30.4).name, granularity_of(30.4).period_days, granularity_of(30.4).auto_cycle
    ('monthly', 30.0, 12)
    """
    for name, low, high, period_days, cycle in _GRANULARITIES:
        if low <= spacing_days <= high:
            return Granularity(name, period_days, cycle)
    return Granularity("irregular", spacing_days, 0)


def season_p_value(values: Iterable[float], m: int) -> float:
    """How likely the buffer looks m-periodic by chance: the smaller p of two Ljung-Box tests at lags m
    and 2m, one on the first differences (sharp patterns) and one on what a centred m-period moving
    average leaves (smooth ones). Both remove trends and random walks, which do not repeat."""
    y = np.fromiter(values, dtype=np.float64)
    weights = np.ones(m) if m % 2 else np.concatenate([[0.5], np.ones(m - 1), [0.5]])
    half = (len(weights) - 1) // 2
    moving_average = np.convolve(y, weights / m, mode="valid")
    remainder = y[half : half + len(moving_average)] - moving_average
    return min(_ljung_box_p(np.diff(y), m), _ljung_box_p(remainder, m))


def _ljung_box_p(x: FloatArray, m: int) -> float:
    """p-value of Ljung-Box over lags m and 2m (m alone if too short); 1 unless lag m correlates positively."""
    x = x - x.mean()
    n, denominator = len(x), float(x @ x)
    lags = [k for k in (m, 2 * m) if k <= n - m // 2 - 2]
    if denominator <= 0.0 or not lags:
        return 1.0
    acf = [float(x[:-k] @ x[k:]) / denominator for k in lags]
    if acf[0] <= 0.0:
        return 1.0
    q = n * (n + 2) * sum(r * r / (n - k) for r, k in zip(acf, lags, strict=True))
    return math.exp(-q / 2) if len(lags) == 2 else math.erfc(math.sqrt(q / 2))


def least_squares(values: list[float], m: int) -> tuple[float, float, float, FloatArray]:
    """Fit ``y = a + b·t + s[t mod m]`` (effects sum to 0): the level at t = 0, the slope, its t-statistic
    and the effects. Normal equations on a centred time axis: the design is at most a few hundred
    rows by ``m + 1`` columns."""
    y = np.asarray(values, dtype=np.float64)
    n = len(y)
    t = np.arange(n, dtype=np.float64)
    centre = (n - 1) / 2.0
    design = np.column_stack(
        [np.ones(n), t - centre] + [(t % m == j).astype(np.float64) for j in range(1, m)]
    )
    inverse = np.linalg.pinv(design.T @ design)
    coef = inverse @ (design.T @ y)
    effects = np.concatenate([[0.0], coef[2:]]) if m > 1 else np.zeros(1)
    slope = float(coef[1])
    level = float(coef[0] + effects.mean()) - slope * centre
    residuals = y - design @ coef
    dof = n - design.shape[1]
    variance = float(residuals @ residuals) / dof * float(inverse[1, 1]) if dof > 0 else 0.0
    if variance > 1e-24 * max(1.0, slope * slope):
        t_statistic = slope / math.sqrt(variance)
    else:
        t_statistic = math.copysign(math.inf, slope) if slope and dof > 0 else 0.0
    return level, slope, t_statistic, effects - effects.mean()


def trend_of(
    values: list[float], m: int, steps: float, *, threshold: float = 0.03, min_rows: int = 12
) -> Trend:
    """Growth or decline when the least-squares slope (with seasonal means) is significant (``|t| > 3``)
    and projects a change beyond ``±threshold`` of the current level over ``steps`` periods.

    >>> trend_of([100.0 + 2 * t + (t % 2) for t in range(30)], m=2, steps=10)
    'growth_detected'
    """
    if len(values) < max(min_rows, 2 * m + 2):
        return "stable"
    level, slope, t_statistic, _ = least_squares(values, m)
    current = level + slope * (len(values) - 1)
    if current == 0.0 or abs(t_statistic) <= 3.0:
        return "stable"
    change = slope * steps / abs(current)
    if change >= threshold:
        return "growth_detected"
    return "decline_detected" if change <= -threshold else "stable"
