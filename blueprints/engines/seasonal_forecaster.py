"""An online forecaster for many calendar series: a few cheap smoothers per series, chosen by recent error.

Rows carry a series key, a timestamp and optionally a covariate (``customer_count`` for revenue).
Per series the forecaster keeps:

* the **clock**: the median spacing of the last dates, snapped to intraday, hourly, daily, weekly,
  monthly or quarterly. Dates that are decimal years (``1991.5``, as R's ``ts`` objects print them)
  are read as years. A row's *step* counts calendar periods (month index for monthly data, so month
  lengths don't matter); intraday rows count one step each, so nights and weekends with no rows are
  closed hours, not missing data. Without dates every row is one step, read as a day;
* the **season position** of each row: month of year, quarter of year, week of year, day of week, or
  for intraday data the slot of the week (and of the day) from the timestamp's time of week. A slot
  that never has rows (07:00-21:55 weekdays only: 900 of the week's 2016 five-minute slots) forecasts
  nothing in horizon totals;
* an :class:`~tracer.blueprints.engines.forecast_candidates.Ensemble` of naive, seasonal-naive,
  damped Holt-Winters additive and multiplicative, and a fast "profile × level" smoother per cycle
  (see :mod:`~tracer.blueprints.engines.forecast_candidates`). The one-step forecast is the candidate
  with the lowest recent absolute percentage error; without dates, cycles of 7, 12 and 4 rows compete;
* **seasonality detection** for the flag: every cycle, once 3 are buffered, two Ljung-Box tests at lags
  ``m`` and ``2m`` (``m`` rows per cycle) over the buffer. The flag goes on below p = 1e-4 and off
  above p = 0.01;
* a **trend test**: every week, a least-squares slope with seasonal means over the last 90 days is
  growth or decline when significant (``|t| > 3``) and projecting beyond ±3% of the level in 90 days;
* with a covariate, a one-coefficient **correction** ``× (1 + θ · surprise)``
  (:mod:`~tracer.blueprints.engines.forecast_errors`);
* the **errors of its own forecasts**: realised totals over ``interval_days`` against what it forecast
  for them, and until ten such windows have closed, one-step errors scaled to the window.

Horizon totals are closed forms over whole cycles (no step-by-step walk). Nothing is random, and every
piece pickles.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final, Literal

import numpy as np

from tracer.blueprints.base import Features
from tracer.blueprints.engines.forecast_candidates import Candidate, Ensemble, SeasonalNaive, Smoother
from tracer.blueprints.engines.forecast_errors import ErrorTracker
from tracer.blueprints.engines.series_statistics import (
    MAX_CYCLE,
    SeriesClock,
    Trend,
    clock_for,
    season_p_value,
    trend_of,
)

__all__ = ["DEFAULT_SERIES", "Outlook", "SeasonalForecaster", "Seasonality"]

DEFAULT_SERIES: Final = "all"
"""The series a row belongs to when it names none."""
Seasonality = Literal["auto", "none", "weekly", "yearly"]

_MIN_ROWS = 4  # rows before the candidates start (the spacing is known by then)
_SEASON_ON, _SEASON_OFF = 1e-4, 1e-2  # p-values that switch the seasonality flag on and off
_TREND_DAYS, _MIN_TREND_ROWS, _MAX_TREND_CYCLE = 90.0, 12, 52
_ALPHA, _BETA, _PHI, _GAMMA = 0.2, 0.1, 0.98, 0.2  # Holt-Winters: level, slope, damping, season
_PRUNE_CYCLES = 4  # after this many cycles of rows the ensemble keeps its best candidates only
_MIN_TREND_EVERY = 4  # rows between trend tests, at least (monthly data: every 4 months)
_MIN_TEST_EVERY = 12  # rows between seasonality tests, at least (quarterly data: every 3 years)
_MIN_BUFFER, _MAX_BUFFER = 96, 8 * 2048
_NO_DATE_CYCLES: Final = (7, 12, 4)  # rows without dates: these cycles compete
_CYCLE_DAYS: Final = {"weekly": 7.0, "yearly": 365.25}
_WEEK = 604_800.0


@dataclass(frozen=True, slots=True)
class Outlook:
    """What the forecaster expects after one row, for its series."""

    totals: tuple[float, ...]
    """Forecast totals over each horizon asked for, starting after the row's period."""
    rms_error: float
    """Root mean square error of the total over ``interval_days`` (the forecaster's setting)."""
    trend: Trend
    seasonal: bool


@dataclass(slots=True, eq=False)
class _Series:
    """Everything the forecaster knows about one series."""

    last_ts: float | None = None
    last_step: int = 0
    last_position: int = 0
    deltas: deque[float] = field(default_factory=partial(deque, maxlen=9))
    clock: SeriesClock | None = None
    start_rows: list[tuple[float | None, float]] = field(default_factory=list)  # rows before the start
    ensemble: Ensemble | None = None
    buffer: deque[float] = field(default_factory=partial(deque, maxlen=_MIN_BUFFER))
    season_m: int = 0  # the cycle the forecasts use (0: none), as the flag or the parameter says
    seasonal: bool = False
    trend: Trend = "stable"
    n_learned: int = 0
    open_slots: np.ndarray[Any, np.dtype[np.bool_]] | None = None  # intraday: the week's slots seen open
    week_seen: bool = False  # intraday: the series has spanned a whole week
    first_ts: float | None = None
    errors: ErrorTracker = field(default_factory=ErrorTracker)
    memo: dict[Any, Any] = field(default_factory=dict)
    """What was derived from the current state (cycle sums for the horizon totals, forecasts), for the
    rows scored until it learns again: emptied whenever it learns, and not pickled."""

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "memo"}

    def __setstate__(self, state: dict[str, Any] | list[Any]) -> None:
        """New-layout state only; an old (River Holt-Winters) checkpoint's series restarts empty."""
        fresh = _Series()
        for name in self.__dataclass_fields__:
            value = state.get(name, getattr(fresh, name)) if isinstance(state, dict) else getattr(fresh, name)
            setattr(self, name, value)

    def steps_to(self, ts: float | None) -> int:
        """Steps from the last learned row to ``ts`` (at least 1; always 1 intraday or without dates)."""
        if ts is None or self.clock is None or self.clock.intraday or self.last_ts is None:
            return 1
        return max(1, self.step(ts) - self.last_step)

    def step(self, ts: float) -> int:
        """The clock's step of ``ts``, kept until the series learns (its clock, once set, stays)."""
        step: int | None = self.memo.get(("step", ts))
        if step is None:
            assert self.clock is not None, "a step needs the clock"
            step = self.memo["step", ts] = self.clock.step(ts)
        return step

    def position_of(self, ts: float | None, steps: int) -> int:
        if ts is not None and self.clock is not None and self.clock.grain.name != "none":
            return self.clock.position(ts) if self.clock.intraday else self.step(ts)
        return self.last_position + steps

    def forecast(self, ts: float | None) -> float:
        """The one-step forecast of a row at ``ts`` (the last value before the candidates start)."""
        if self.ensemble is None:
            return self.start_rows[-1][1] if self.start_rows else 0.0
        steps = self.steps_to(ts)
        value = self.ensemble.forecast(self.position_of(ts, steps), steps)
        return value if math.isfinite(value) else (self.buffer[-1] if self.buffer else 0.0)

    def total(self, start: int, offset: int, steps: float) -> float:
        """The forecast total over ``steps`` periods after position ``start`` (a fraction of the last),
        ``offset`` steps after the last learned row."""
        if self.ensemble is None:
            return (self.start_rows[-1][1] if self.start_rows else 0.0) * steps
        best, open_slots = self.ensemble, self.open_slots
        if not self.week_seen:  # before a whole week, a slot not seen yet is unknown, not closed
            open_slots = None
        cycle = (
            self.clock.cycles[0]
            if self.clock is not None and self.clock.intraday and self.clock.cycles
            else None
        )
        whole = math.floor(steps)
        total = best.total(start, offset, whole, open_slots, cycle, self.memo)
        if steps > whole:
            total += (steps - whole) * (
                best.total(start, offset, whole + 1, open_slots, cycle, self.memo) - total
            )
        return total if math.isfinite(total) else 0.0

    def rows_per_cycle(self) -> int:
        """Rows in one season cycle: the cycle, or intraday the open slots of a day (180 of 288)."""
        if self.clock is None or not self.clock.cycles:
            return 0
        open_slots = self.open_slots
        if open_slots is not None:
            days = self.clock.cycles[0] // self.clock.cycles[-1] if len(self.clock.cycles) > 1 else 1
            return max(2, int(open_slots.sum()) // max(days, 1))
        return self.clock.cycles[0]


def _candidates(cycles: tuple[int, ...], multiplicative: bool, trend: bool) -> list[Candidate]:
    """Naive and Holt damped; per cycle seasonal-naive and damped Holt-Winters additive (and, for positive
    values, multiplicative), plus a fast multiplicative profile × level. Without ``trend`` (intraday:
    a slope per 5 minutes is noise, and a 90-day horizon would extrapolate it) the smoothers are flat."""
    beta, phi = (_BETA, _PHI) if trend else (0.0, 1.0)
    holt = Smoother(alpha=0.3, beta=0.05, phi=0.9) if trend else Smoother(alpha=0.3)
    out: list[Candidate] = [Smoother(alpha=1.0), holt]
    for cycle in cycles:
        out.append(SeasonalNaive(cycle))
        for multiplicative_season in (False, True) if multiplicative else (False,):
            out.append(Smoother(_ALPHA, beta, phi, _GAMMA, cycle=cycle, multiplicative=multiplicative_season))
        if multiplicative:  # a fast level times a slowly learned seasonal profile
            out.append(Smoother(alpha=0.5, gamma=0.1, cycle=cycle, multiplicative=True))
    return out


class SeasonalForecaster:
    """Per-series forecaster ensembles behind the :class:`~tracer.blueprints.base.OnlineModel` verbs.

    ``predict_one(x)`` forecasts the value of the row ``x`` from what was learned before it;
    ``learn_one(x, y)`` feeds the row's value. Features name the series, the time (epoch seconds) and
    the covariate under the keys given here.

    >>> model = SeasonalForecaster()
    >>> for day in range(60):
    ...     x = {"series_id": "all", "date_epoch_s": day * 86_400.0}
    ...     model.learn_one(x, 1000.0 + 10 * day + (200.0 if day % 7 == 5 else 0.0))
    >>> round(model.predict_one({"series_id": "all", "date_epoch_s": 60 * 86_400.0}))  # truth: 1600
    1591
    >>> [round(v) for v in model.forecast(3)]  # truth: 1600, 1810, 1620
    [1591, 1827, 1618]
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
        base = series.forecast(_number(x, self.time_key))
        return base * series.errors.covariate_factor(_number(x, self.covariate_key))

    def learn_one(self, x: Features, y: float) -> None:
        """Learn the row's value ``y``; rows not after their series' last date are not learned."""
        if not math.isfinite(y):
            return
        ts = _number(x, self.time_key)
        series = self.series.setdefault(self._series_of(x), _Series())
        if ts is not None and series.last_ts is not None:
            if ts <= series.last_ts:
                return
            series.deltas.append(ts - series.last_ts)
        series.memo.clear()
        covariate = _number(x, self.covariate_key)
        steps = series.steps_to(ts)
        clock_now = self._clock_value(series, ts)
        series.errors.close_windows(clock_now)
        series.errors.add(y)
        if series.ensemble is None:
            if series.start_rows:
                series.errors.one_step(y, series.forecast(ts), covariate)
            series.start_rows.append((ts, y))
            if len(series.start_rows) >= _MIN_ROWS:
                self._start(series)
        else:
            position = series.position_of(ts, steps)
            base = series.ensemble.learn(position, y, steps)  # its forecast of y, made before learning y
            series.errors.one_step(y, base if math.isfinite(base) else series.buffer[-1], covariate)
            if series.open_slots is not None:
                series.open_slots[position % len(series.open_slots)] = True
                if not series.week_seen and ts is not None and series.first_ts is not None:
                    series.week_seen = (ts - series.first_ts) * series.clock.unit_s >= _WEEK  # type: ignore[union-attr]
            series.last_position = position
            series.buffer.append(y)
            series.n_learned += 1
            self._detect(series)
        if series.clock is not None and ts is not None:
            series.last_step = series.step(ts)
        series.last_ts = ts if ts is not None else series.last_ts
        series.first_ts = series.last_ts if series.first_ts is None else series.first_ts
        window = self._window_steps(series)
        if series.errors.due_window(series.n_learned, window):
            forecast_total = series.total(series.last_position, 0, math.ceil(window))
            series.errors.open_window(clock_now + math.ceil(window), forecast_total)

    def forecast(self, horizon: int, series_id: str = DEFAULT_SERIES) -> list[float]:
        """Forecasts for the ``horizon`` periods after the last one learned (no covariate correction)."""
        series = self.series.get(series_id)
        if series is None or series.ensemble is None:
            return [series.forecast(None) if series else 0.0] * horizon
        known = series.memo.get(("forecast", horizon))
        if known is None:
            ensemble = series.ensemble
            known = [ensemble.forecast(series.last_position + h, h) for h in range(1, horizon + 1)]
            series.memo["forecast", horizon] = known
        return list(known)

    def outlook(self, x: Features, horizons_days: tuple[float, ...] = (30.0, 90.0)) -> Outlook:
        """Totals over each horizon after the row's period, the interval window's error, trend, season."""
        series = self.series.get(self._series_of(x))
        if series is None:
            return Outlook(tuple(0.0 for _ in horizons_days), 0.0, "stable", False)
        ts, covariate = _number(x, self.time_key), _number(x, self.covariate_key)
        period_days = self._period_days(series, ts)
        factor = series.errors.covariate_factor(covariate)
        offset = series.steps_to(ts)
        start = series.position_of(ts, offset)
        totals = tuple(series.total(start, offset, days / period_days) * factor for days in horizons_days)
        rms = series.errors.rms(self.interval_days / period_days)
        return Outlook(totals, rms, series.trend, series.seasonal)

    # -- internals ------------------------------------------------------------------------------

    def _series_of(self, x: Features) -> str:
        value = x.get(self.series_key)
        return value if isinstance(value, str) and value else DEFAULT_SERIES

    def _period_days(self, series: _Series, ts: float | None) -> float:
        if series.clock is not None:
            return series.clock.grain.period_days
        if ts is not None and series.last_ts is not None and ts > series.last_ts:
            return clock_for([ts - series.last_ts], ts, ()).grain.period_days
        return 1.0

    def _window_steps(self, series: _Series) -> float:
        return self.interval_days / (series.clock.grain.period_days if series.clock else 1.0)

    def _clock_value(self, series: _Series, ts: float | None) -> float:
        """Where the row sits for closing error windows: its step, or wall-clock slot intraday."""
        if series.clock is None or ts is None:
            return float(series.n_learned + len(series.start_rows))
        if series.clock.intraday:
            return math.floor(ts / series.clock.spacing + 0.5)
        return float(series.step(ts))

    def _start(self, series: _Series) -> None:
        """Fix the clock from the first rows' spacing, build the candidates, and feed them those rows."""
        rows, series.start_rows = series.start_rows, []
        times = [ts for ts, _ in rows if ts is not None]
        deltas = [b - a for a, b in itertools.pairwise(times) if b > a]
        series.clock = clock_for(
            deltas, times[-1] if times else None, _NO_DATE_CYCLES if self.seasonality == "auto" else (7,)
        )
        period_days = series.clock.grain.period_days
        cycles = _forced(series.clock.cycles, self.seasonality, period_days)
        positive = all(y > 0 for _, y in rows)
        series.ensemble = Ensemble(
            _candidates(cycles, positive, trend=not series.clock.intraday),
            prune_at=_PRUNE_CYCLES * max(cycles, default=4),
        )
        if series.clock.intraday and cycles:
            series.open_slots = np.zeros(cycles[0], dtype=np.bool_)
        series.season_m = cycles[0] if cycles and self.seasonality in _CYCLE_DAYS else 0
        previous: float | None = None
        for ts, y in rows:
            steps = (
                1
                if previous is None or ts is None
                else max(1, series.clock.step(ts) - series.clock.step(previous))
            )
            if series.clock.intraday:
                steps = 1
            position = series.position_of(ts, steps)
            series.ensemble.learn(position, y, steps)
            if series.open_slots is not None:
                series.open_slots[position % len(series.open_slots)] = True
            series.last_position, previous = position, ts
            series.buffer.append(y)
            series.n_learned += 1

    def _detect(self, series: _Series) -> None:
        """The seasonality flag every cycle, and the trend every week."""
        clock = series.clock
        cycle = series.rows_per_cycle()
        size = min(max(8 * cycle, _MIN_BUFFER), _MAX_BUFFER)
        if series.buffer.maxlen != size:
            series.buffer = deque(series.buffer, maxlen=size)
        if cycle and len(series.buffer) > 3 * cycle and series.n_learned % max(cycle, _MIN_TEST_EVERY) == 0:
            p_value = season_p_value(series.buffer, cycle)
            series.seasonal = p_value < (_SEASON_OFF if series.seasonal else _SEASON_ON)
            if self.seasonality == "auto" and clock is not None:
                series.season_m = clock.cycles[0] if series.seasonal else 0
        period_days = clock.grain.period_days if clock else 1.0
        rows_per_week = max(1, round(7.0 / period_days)) if not (clock and clock.intraday) else 5 * cycle
        if series.n_learned % max(_MIN_TREND_EVERY, rows_per_week) == 0:
            m = series.season_m if 0 < series.season_m <= _MAX_TREND_CYCLE else 0
            rows_90d = round(_TREND_DAYS / period_days) if not (clock and clock.intraday) else 65 * cycle
            lookback = max(rows_90d, 3 * m, _MIN_TREND_ROWS)
            recent = list(series.buffer)[-lookback:]
            series.trend = trend_of(recent, m, _TREND_DAYS / period_days * len(recent) / max(rows_90d, 1))

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Series pickled by the River Holt-Winters version restart empty (their state has no ensemble)."""
        self.__dict__.update(state)
        self.series = {key: value for key, value in self.series.items() if value.clock is not None}


def _forced(cycles: tuple[int, ...], seasonality: Seasonality, period_days: float) -> tuple[int, ...]:
    """The cycles to model: the calendar's, or the one the ``seasonality`` parameter asks for."""
    if seasonality == "none":
        return ()
    if seasonality in _CYCLE_DAYS:
        cycle = round(_CYCLE_DAYS[seasonality] / period_days)
        return (cycle,) if 2 <= cycle <= MAX_CYCLE else ()
    return cycles


def _number(x: Features, name: str) -> float | None:
    value = x.get(name)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None
