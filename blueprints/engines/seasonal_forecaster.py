"""An online forecaster for many calendar series: River Holt-Winters with seasonality found online.

Rows carry a series key, a timestamp and optionally a covariate (``customer_count`` for revenue).
Per series the forecaster keeps:

* the **granularity**: the median spacing of the last dates, snapped to hour, day, week, month or
  quarter. Horizons in days become steps (a fractional last step counts by its fraction); for
  monthly and coarser data a month counts as 30 days, so 30 days is one month and 90 days one
  quarter. Up to 64 missing periods are filled with the model's own forecasts, so the seasonal
  phase stays aligned. A row whose date is not after the series' last learned date is not learned;
* a River :class:`~river.time_series.HoltWinters` (additive level, trend and season;
  ``alpha=0.1, beta=0.01, gamma=0.1``), started without a season after 4 rows and rebuilt from a
  buffer of recent values whenever the seasonal period it should use changes. River initialises
  from the first values only (and its additive season as ratios), so a least-squares fit of level,
  slope (shrunk toward 0 unless significant) and seasonal means over the whole buffer replaces
  that start before the buffer is replayed;
* **online seasonality detection**: the candidate cycle is the calendar's (24 for hourly data, 7 for
  daily, 52 for weekly, 12 for monthly, 4 for quarterly) or the one asked for. Every cycle, once
  3 are buffered, two Ljung-Box tests at lags ``m`` and ``2m`` run over the buffer (up to 8 cycles):
  one on its first differences, one on what a centred moving average leaves. Both remove trends and
  random walks, which do not repeat. The flag goes on below p = 1e-4 and off again above p = 0.01;
* a **trend test**: every week, a least-squares slope with seasonal means (cycles up to 52) over the
  last 90 days (at least 3 cycles and 12 rows) is growth or decline when it is significant
  (``|t| > 3``) and projects a change beyond ±3% of the current level over 90 days;
* with a covariate, a one-coefficient **correction** ``× (1 + θ · surprise)``: the forecast's relative
  error is regressed (ridge, prior θ ~ N(0, 1)) on the covariate's surprise, its relative deviation
  from its own Holt forecast with the same smoothing, so a jump in, say, active customers moves
  the forecast before the smoothed revenue level catches up;
* the **errors of its own forecasts**: realised totals over ``interval_days`` against what it
  forecast for them, and, until ten such windows have closed, one-step errors scaled to the window
  as for simple exponential smoothing (``Σ (1 + αj)²``).

Nothing is random, and every piece pickles.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import Final, Literal

from river.time_series import HoltWinters

from tracer.blueprints.base import Features
from tracer.blueprints.engines.series_statistics import (
    Granularity,
    Trend,
    granularity_of,
    least_squares,
    season_p_value,
    trend_of,
)

__all__ = ["DEFAULT_SERIES", "Outlook", "SeasonalForecaster", "Seasonality"]

DEFAULT_SERIES: Final = "all"
"""The series a row belongs to when it names none."""
Seasonality = Literal["auto", "none", "weekly", "yearly"]

_ALPHA, _BETA, _GAMMA = 0.1, 0.01, 0.1
_MIN_ROWS = 4  # rows before the Holt-Winters model starts
_MAX_GAP_FILL = 64  # missing periods filled with forecasts; longer outages are not filled
_ERROR_MEMORY = 100  # error statistics weigh roughly the last this many errors
_MIN_WINDOWS = 10  # closed windows before their errors replace the one-step estimate
_SEASON_ON, _SEASON_OFF = 1e-4, 1e-2  # p-values that switch the seasonality flag on and off
_MAX_CYCLE = 400  # longer cycles (yearly on hourly data) are not modelled
_TREND_DAYS, _MIN_TREND_ROWS, _MAX_TREND_CYCLE = 90.0, 12, 52
_MIN_BUFFER = 96
_MAX_STEPS = 2400  # forecast steps computed for one horizon (90 days of hourly data)
_CYCLE_DAYS: Final = {"weekly": 7.0, "yearly": 365.25}
_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Outlook:
    """What the forecaster expects after one row, for its series."""

    totals: tuple[float, ...]
    """Forecast totals over each horizon asked for, starting after the row's period."""
    rms_error: float
    """Root mean square error of the total over ``interval_days`` (the forecaster's setting)."""
    trend: Trend
    seasonal: bool


def _fit_holt_winters(values: list[float], m: int) -> HoltWinters:
    """A Holt-Winters model started from a least-squares fit over ``values``, then fed the rest of them.

    The slope is shrunk by ``max(0, 1 - 4/t²)``, so a start on a few noisy rows does not invent a trend.
    """
    level, slope, t_statistic, effects = least_squares(values, m)
    slope *= max(0.0, 1.0 - 4.0 / t_statistic**2) if t_statistic else 0.0
    model = HoltWinters(alpha=_ALPHA, beta=_BETA, gamma=_GAMMA if m else None, seasonality=m)  # type: ignore[no-untyped-call]
    start = max(2, m)
    for y in values[:start]:  # River initialises its components here; they are replaced just below
        model.learn_one(y)  # type: ignore[no-untyped-call]
    model.level.clear()
    model.level.append(level + slope * (start - 1))
    if model.trend is not None:
        model.trend.clear()
        model.trend.append(slope)
    if model.season is not None:
        model.season.clear()
        model.season.extend(float(effects[i % m]) for i in range(start))
    for y in values[start:]:
        model.learn_one(y)  # type: ignore[no-untyped-call]
    return model


@dataclass(slots=True, eq=False)
class _Series:
    """Everything the forecaster knows about one series."""

    last_ts: float | None = None
    deltas: deque[float] = field(default_factory=partial(deque, maxlen=9))
    spacing: float | None = None  # median of the last deltas, in seconds
    grain: Granularity | None = None
    buffer: deque[float] = field(default_factory=partial(deque, maxlen=_MIN_BUFFER))
    holt_winters: HoltWinters | None = None
    season_m: int = 0  # the seasonal period the Holt-Winters model uses
    seasonal: bool = False  # the detection result
    trend: Trend = "stable"
    n_learned: int = 0
    cum_value: float = 0.0
    pending: deque[tuple[int, float, float]] = field(default_factory=deque)  # (closing step, forecast, cum)
    n_errors: int = 0
    n_windows: int = 0
    mean_sq_error_1: float = 0.0
    mean_sq_error_window: float = 0.0
    covariate_holt: tuple[float, float] | None = None  # (level, slope)
    su_u: float = 0.0
    su_r: float = 0.0
    mean_sq_relative_error: float = 0.0

    def granularity(self, next_delta: float | None = None) -> Granularity | None:
        """The series' granularity; with no spacing seen yet, the one ``next_delta`` seconds suggest."""
        if self.grain is None and next_delta and next_delta > 0:
            return granularity_of(next_delta / _DAY)
        return self.grain

    def add_delta(self, delta: float) -> None:
        self.deltas.append(delta)
        self.spacing = statistics.median(self.deltas)
        self.grain = granularity_of(self.spacing / _DAY)

    def steps_to(self, ts: float | None) -> int:
        """Periods from the last learned row to ``ts`` (at least 1)."""
        if ts is None or self.last_ts is None or ts <= self.last_ts:
            return 1
        spacing = self.spacing or ts - self.last_ts
        return max(1, min(round((ts - self.last_ts) / spacing), 10 * _MAX_GAP_FILL))

    def path(self, steps: int, covariate: float | None) -> list[float]:
        """Forecasts for the next ``steps`` periods, with the covariate correction."""
        if self.holt_winters is None:
            return [self.buffer[-1] if self.buffer else 0.0] * steps
        factor = self.covariate_factor(covariate)
        return [f * factor for f in self.holt_winters.forecast(steps)]  # type: ignore[no-untyped-call]

    def covariate_expected(self) -> float | None:
        """The covariate's own Holt forecast (same smoothing as the value's), if positive."""
        if self.covariate_holt is None or sum(self.covariate_holt) <= 0:
            return None
        return sum(self.covariate_holt)

    def covariate_factor(self, covariate: float | None) -> float:
        """``1 + θ · surprise``: the relative change the covariate's surprise implies for the value.

        θ is the least-squares slope of the relative one-step error on the covariate's relative
        surprise, shrunk by a N(0, 1) prior (the mean squared relative error is the ridge term).
        """
        expected = self.covariate_expected()
        if covariate is None or expected is None or self.su_u <= 0.0:
            return 1.0
        surprise = min(max(covariate / expected - 1.0, -0.5), 0.5)
        theta = self.su_r / (self.su_u + self.mean_sq_relative_error)  # prior θ ~ N(0, 1)
        return min(max(1.0 + theta * surprise, 0.5), 1.5)


class SeasonalForecaster:
    """Per-series Holt-Winters forecasters behind the :class:`~tracer.blueprints.base.OnlineModel` verbs.

    ``predict_one(x)`` forecasts the value of the row ``x`` from what was learned before it;
    ``learn_one(x, y)`` feeds the row's value. Features name the series, the time (epoch seconds) and
    the covariate under the keys given here.

    >>> model = SeasonalForecaster()
    >>> for day in range(60):
    ...     x = {"series_id": "all", "date_epoch_s": day * 86_400.0}
    ...     model.learn_one(x, 1000.0 + 10 * day + (200.0 if day % 7 == 5 else 0.0))
    >>> round(model.predict_one({"series_id": "all", "date_epoch_s": 60 * 86_400.0}))
    1600
    >>> [round(v) for v in model.forecast(3)]
    [1600, 1810, 1620]
    """

    def __init__(
        self,
        seasonality: Seasonality = "auto",
        *,
        series_key: str = "series_id",
        time_key: str = "date_epoch_s",
        covariate_key: str = "customer_count",
        interval_days: float = 30.0,
    ) -> None:
        self.seasonality = seasonality
        self.series_key, self.time_key, self.covariate_key = series_key, time_key, covariate_key
        self.interval_days = interval_days
        self.series: dict[str, _Series] = {}

    def predict_one(self, x: Features) -> float:
        """The forecast of this row's value, from what was learned before it (0 for a new series)."""
        series = self.series.get(self._series_of(x))
        if series is None:
            return 0.0
        steps = series.steps_to(_number(x, self.time_key))
        return series.path(steps, _number(x, self.covariate_key))[-1]

    def learn_one(self, x: Features, y: float) -> None:
        """Learn the row's value ``y``; rows not after their series' last date are not learned."""
        if not math.isfinite(y):
            return
        ts = _number(x, self.time_key)
        series = self.series.setdefault(self._series_of(x), _Series())
        if ts is not None and series.last_ts is not None:
            if ts <= series.last_ts:
                return
            gap = series.steps_to(ts) - 1
            series.add_delta(ts - series.last_ts)
            if 0 < gap <= _MAX_GAP_FILL:
                for value in series.path(gap, None):
                    self._commit(series, value)
        covariate = _number(x, self.covariate_key)
        if series.n_learned:
            self._track_errors(series, y, covariate)
        self._commit(series, y)
        series.last_ts = ts if ts is not None else series.last_ts
        grain = series.granularity()
        window = _steps_in(self.interval_days / grain.period_days) if grain else 1
        forecast_total = sum(series.path(window, covariate))
        series.pending.append((series.n_learned + window, forecast_total, series.cum_value))

    def forecast(self, horizon: int, series_id: str = DEFAULT_SERIES) -> list[float]:
        """Forecasts for the ``horizon`` periods after the last one learned (no covariate correction)."""
        series = self.series.get(series_id)
        return series.path(horizon, None) if series is not None else [0.0] * horizon

    def outlook(self, x: Features, horizons_days: tuple[float, ...] = (30.0, 90.0)) -> Outlook:
        """Totals over each horizon after the row's period, the interval window's error, trend, season."""
        series = self.series.get(self._series_of(x))
        if series is None:
            return Outlook(tuple(0.0 for _ in horizons_days), 0.0, "stable", False)
        ts, covariate = _number(x, self.time_key), _number(x, self.covariate_key)
        offset = series.steps_to(ts)
        grain = series.granularity(None if ts is None or series.last_ts is None else ts - series.last_ts)
        period_days = grain.period_days if grain else 1.0
        steps = [days / period_days for days in horizons_days]
        path = series.path(offset + _steps_in(max(steps, default=1.0)), covariate)[offset:]
        totals = tuple(_window_total(path, h) for h in steps)
        rms = _rms_error(series, self.interval_days / period_days)
        return Outlook(totals, rms, series.trend, series.seasonal)

    # -- internals ------------------------------------------------------------------------------

    def _series_of(self, x: Features) -> str:
        value = x.get(self.series_key)
        return value if isinstance(value, str) and value else DEFAULT_SERIES

    def _commit(self, series: _Series, y: float) -> None:
        """Feed one period's value: buffer, Holt-Winters, closing windows, seasonal decisions."""
        series.buffer.append(y)
        if series.holt_winters is not None:
            series.holt_winters.learn_one(y)  # type: ignore[no-untyped-call]
        series.n_learned += 1
        series.cum_value += y
        while series.pending and series.pending[0][0] <= series.n_learned:
            _, forecast_total, cum_at_start = series.pending.popleft()
            error = series.cum_value - cum_at_start - forecast_total
            series.n_windows += 1
            weight = max(1.0 / series.n_windows, 1.0 / _ERROR_MEMORY)
            series.mean_sq_error_window += weight * (error * error - series.mean_sq_error_window)
        self._maybe_rebuild(series)

    def _maybe_rebuild(self, series: _Series) -> None:
        """Detect the season every cycle, and rebuild the model when the period it should use changes."""
        grain = series.granularity()
        cycle = grain.auto_cycle if grain else 0
        if grain and self.seasonality in _CYCLE_DAYS:
            cycle = round(_CYCLE_DAYS[self.seasonality] / grain.period_days)
            cycle = cycle if 2 <= cycle <= _MAX_CYCLE else 0
        if series.buffer.maxlen != max(8 * cycle, _MIN_BUFFER):
            series.buffer = deque(series.buffer, maxlen=max(8 * cycle, _MIN_BUFFER))
        wanted = series.season_m
        if cycle and len(series.buffer) > 3 * cycle and series.n_learned % cycle == 0:
            p_value = season_p_value(series.buffer, cycle)
            series.seasonal = p_value < (_SEASON_OFF if series.seasonal else _SEASON_ON)
            wanted = cycle if series.seasonal else 0
        if self.seasonality != "auto":
            wanted = cycle if self.seasonality in _CYCLE_DAYS and len(series.buffer) >= 2 * cycle else 0
        must_start = series.holt_winters is None and series.n_learned >= _MIN_ROWS
        if (must_start or wanted != series.season_m) and len(series.buffer) >= max(_MIN_ROWS, 2 * wanted):
            series.holt_winters = _fit_holt_winters(list(series.buffer), wanted)
            series.season_m = wanted
        if grain and series.n_learned % max(1, round(7.0 / grain.period_days)) == 0:  # weekly
            m = series.season_m if series.season_m <= _MAX_TREND_CYCLE else 0
            lookback = max(round(_TREND_DAYS / grain.period_days), 3 * m, _MIN_TREND_ROWS)
            series.trend = trend_of(list(series.buffer)[-lookback:], m, _TREND_DAYS / grain.period_days)

    def _track_errors(self, series: _Series, y: float, covariate: float | None) -> None:
        """One-step error statistics and the covariate regression, before ``y`` is learned."""
        base = series.path(1, None)[0]
        error = y - base * series.covariate_factor(covariate)
        series.n_errors += 1
        weight = max(1.0 / series.n_errors, 1.0 / _ERROR_MEMORY)
        series.mean_sq_error_1 += weight * (error * error - series.mean_sq_error_1)
        if covariate is None or covariate <= 0:
            return
        expected = series.covariate_expected()
        if expected is not None and abs(base) > 1e-9:
            surprise, relative_error = covariate / expected - 1.0, y / base - 1.0
            decay = 1.0 - 1.0 / _ERROR_MEMORY
            series.su_u = decay * series.su_u + surprise * surprise
            series.su_r = decay * series.su_r + surprise * relative_error
            series.mean_sq_relative_error += weight * (relative_error**2 - series.mean_sq_relative_error)
        level, slope = series.covariate_holt or (covariate, 0.0)
        new_level = _ALPHA * covariate + (1.0 - _ALPHA) * (level + slope)
        series.covariate_holt = (new_level, _BETA * (new_level - level) + (1.0 - _BETA) * slope)


def _rms_error(series: _Series, window_steps: float) -> float:
    """RMS error of a total over ``window_steps`` periods: realised windows, else scaled one-step errors."""
    if series.n_windows >= _MIN_WINDOWS:
        return math.sqrt(series.mean_sq_error_window) * window_steps / _steps_in(window_steps)
    if series.n_errors:
        factor = sum((1.0 + _ALPHA * j) ** 2 for j in range(_steps_in(window_steps)))
        factor *= (window_steps / _steps_in(window_steps)) ** 2
        return math.sqrt(series.mean_sq_error_1 * factor)
    return abs(series.buffer[-1]) * window_steps if series.buffer else 0.0


def _number(x: Features, name: str) -> float | None:
    value = x.get(name)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _steps_in(steps: float) -> int:
    """Whole forecast steps for a horizon of ``steps`` periods: at least 1, at most ``_MAX_STEPS``."""
    return min(max(1, math.ceil(steps)), _MAX_STEPS)


def _window_total(path: list[float], steps: float) -> float:
    """The sum of the first ``steps`` forecasts; a fractional last step counts by its fraction.

    Beyond the path (horizons over ``_MAX_STEPS`` periods: sub-hourly data) the total is scaled up.
    """
    if steps > len(path):
        return _window_total(path, len(path)) * steps / len(path) if path else 0.0
    whole = int(steps)
    total = sum(path[:whole])
    if whole < len(path):
        total += (steps - whole) * path[whole]
    return total
