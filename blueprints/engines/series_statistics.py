"""Statistics of calendar series, for online forecasters: granularity, seasonality and trend tests.

Pure functions over short buffers of recent values (a few hundred at most), deterministic, numpy only:

* :func:`granularity_of` snaps a median spacing between dates to hour, day, week, month or quarter,
  and :func:`clock_for` turns it into a :class:`SeriesClock` (steps and season positions);
* :func:`season_p_value` tests whether a buffer repeats every ``m`` periods;
* :func:`least_squares` fits level, slope and seasonal means, with the slope's t-statistic;
* :func:`trend_of` turns that slope into growth, decline or stable.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_CYCLE",
    "Granularity",
    "SeriesClock",
    "Trend",
    "clock_for",
    "granularity_of",
    "least_squares",
    "month_index",
    "season_p_value",
    "trend_of",
]

Trend = Literal["growth_detected", "decline_detected", "stable"]
FloatArray = npt.NDArray[np.float64]
MAX_CYCLE: Final = 4096
"""Longer season cycles (1-minute slots of a week) are not modelled."""
_DECIMAL_YEAR_MAX = 10_000.0  # "epoch seconds" below this with sub-second spacing are decimal years
_DAY, _WEEK, _YEAR_DAYS = 86_400.0, 604_800.0, 365.25


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


@dataclass(frozen=True, slots=True)
class SeriesClock:
    """How a series' timestamps map to steps and season positions (see :func:`clock_for`)."""

    grain: Granularity
    unit_s: float  # seconds per timestamp unit: 1 for epoch seconds, a year's for decimal years
    spacing: float  # in timestamp units
    intraday: bool
    cycles: tuple[int, ...]  # season lengths in positions, the calendar's first

    def step(self, ts: float) -> int:
        """Calendar periods since the epoch (months for monthly data); wall-clock slots intraday."""
        name = self.grain.name
        if name in ("monthly", "quarterly"):
            months = month_index(ts, self.unit_s)
            return months if name == "monthly" else months // 3
        return math.floor(ts / self.spacing + 0.5)

    def position(self, ts: float) -> int:
        """The season position: the step (a cycle of 12 months, 4 quarters, 7 days takes it modulo), or
        intraday the slot of the week."""
        if self.intraday:
            seconds = ts * self.unit_s
            return int((seconds % _WEEK) // (self.spacing * self.unit_s))
        return self.step(ts)


def clock_for(deltas: list[float], last_ts: float | None, no_date_cycles: tuple[int, ...]) -> SeriesClock:
    """The clock the spacing ``deltas`` between a series' timestamps implies.

    Timestamps that are small (below 10,000) and less than one apart are decimal years (``1991.5``, as R
    prints a ``ts``): their spacing is read in years. Sub-daily data is intraday, its season positions
    the slots of the week and of the day. Without dates, the clock counts rows as days and the cycles
    are ``no_date_cycles``.

    >>> clock = clock_for([1 / 12, 1 / 12], 1991.75, ())
    >>> clock.grain.name, clock.cycles, clock.step(1991.5) % 12
    ('monthly', (12,), 6)
    """
    if not deltas:
        return SeriesClock(Granularity("none", 1.0, 7), 1.0, 1.0, False, no_date_cycles)
    spacing = statistics.median(deltas)
    unit_s = 1.0
    if last_ts is not None and abs(last_ts) < _DECIMAL_YEAR_MAX and spacing < 1.0:
        unit_s = _YEAR_DAYS * _DAY
    days = spacing * unit_s / _DAY
    grain = granularity_of(days)
    if days < 0.9 and round(_DAY / (spacing * unit_s)) >= 2:  # intraday: slots of the week and the day
        slots_day = round(_DAY / (spacing * unit_s))
        grain = Granularity("intraday" if days < 0.9 / 24 else "hourly", days, slots_day)
        cycles = tuple(c for c in (7 * slots_day, slots_day) if c <= MAX_CYCLE)
        return SeriesClock(grain, unit_s, spacing, True, cycles)
    return SeriesClock(grain, unit_s, spacing, False, (grain.auto_cycle,) if grain.auto_cycle else ())


def month_index(ts: float, unit_s: float) -> int:
    """Months since year 0: from a decimal year, or from epoch seconds (UTC)."""
    if unit_s != 1.0:
        return math.floor(ts * 12.0 + 0.5)
    try:
        moment = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):  # beyond the calendar: whole 30.44-day months
        return math.floor(ts / (_YEAR_DAYS * _DAY / 12.0))
    return moment.year * 12 + moment.month - 1


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
    and the effects. The slope comes from time and values centred within each season position
    (Frisch-Waugh), so the cost is a few passes over the buffer whatever ``m`` is."""
    y = np.asarray(values, dtype=np.float64)
    n, m = len(y), max(m, 1)
    t = np.arange(n, dtype=np.float64)
    position = np.arange(n) % m
    counts = np.bincount(position, minlength=m).astype(np.float64)
    seen = counts > 0
    counts[~seen] = 1.0
    y_means = np.bincount(position, y, minlength=m) / counts
    t_means = np.bincount(position, t, minlength=m) / counts
    y_within, t_within = y - y_means[position], t - t_means[position]
    spread = float(t_within @ t_within)
    slope = float(t_within @ y_within) / spread if spread > 0 else 0.0
    intercepts = (y_means - slope * t_means)[seen]
    level = float(intercepts.mean())
    effects = np.zeros(m)
    effects[seen] = intercepts - level
    residuals = y_within - slope * t_within
    dof = n - int(seen.sum()) - 1
    variance = float(residuals @ residuals) / dof / spread if dof > 0 and spread > 0 else 0.0
    if variance > 1e-24 * max(1.0, slope * slope):
        t_statistic = slope / math.sqrt(variance)
    else:
        t_statistic = math.copysign(math.inf, slope) if slope and dof > 0 else 0.0
    return level, slope, t_statistic, effects


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
