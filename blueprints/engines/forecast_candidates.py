"""Cheap one-step forecasters for one series, and an online choice among them by recent error.

Every candidate is exponential smoothing in state-space form with an optional damped trend and an
optional season, the season indexed by a *position* the caller computes from the timestamp (month of
year, quarter, day of week, 5-minute slot of the week...). Keying the season by calendar position
rather than by row count keeps the phase right through gaps, nights and weekends: a slot that is never
open is never seen, and it forecasts nothing.

* :class:`Smoother` covers naive (``alpha=1``), simple, Holt damped and Holt-Winters damped, additive or
  multiplicative. Until a season position has been seen once, its effect is the value over the level
  (so the first forecasts of a cycle are seasonal-naive); every cycle the effects are re-centred.
* :class:`SeasonalNaive` is the value last seen at the same position.
* :class:`Ensemble` scores each candidate's forecast before the value is learned and forecasts with
  the mean of the few whose exponentially weighted absolute percentage error is lowest so far: only
  past errors decide.

Horizon totals have closed forms: one cycle of seasonal weights sums once, and a damped trend's
contribution is geometric, so a 90-day total of 5-minute data costs a few vector sums, not 25,920 steps;
the rows scored from one model state share those sums
(:class:`~tracer.blueprints.engines.forecast_sums.CycleSums`). Horizons of a few steps are walked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from tracer.blueprints.engines.forecast_sums import CycleSums, on_open_slots, ramp_sum

__all__ = ["Ensemble", "SeasonalNaive", "Smoother"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_EPS = 1e-9
_FACTOR_RANGE = (0.0, 50.0)  # multiplicative season factors are clamped here
_MIN_ERROR = 1e-6  # the smallest error a combination weight divides by
_WALK_MAX = 16  # horizons up to this many steps are summed step by step


def _damped(phi: float, h: float) -> float:
    """Σ_{j=1..h} φ^j: how many slopes a damped trend adds over ``h`` steps."""
    if h == 1.0:
        return phi
    return h if phi >= 1.0 else phi * (1.0 - phi**h) / (1.0 - phi)


@dataclass(slots=True, eq=False)
class Smoother:
    """Exponential smoothing with an optional damped trend (``beta > 0``) and an optional season of
    ``cycle`` positions, additive or multiplicative."""

    alpha: float
    beta: float = 0.0
    phi: float = 1.0
    gamma: float = 0.0
    cycle: int = 0
    multiplicative: bool = False
    level: float | None = None
    trend: float = 0.0
    season: FloatArray = field(default_factory=lambda: np.zeros(0))
    seen: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))
    since_centred: int = 0

    def __post_init__(self) -> None:
        neutral = 1.0 if self.multiplicative else 0.0
        self.season = np.full(self.cycle, neutral)
        self.seen = np.zeros(self.cycle, dtype=np.bool_)

    @property
    def name(self) -> str:
        """A short label: ``naive``, ``ses``, ``holt``, ``hw-add-12``, ``hw-mul-2016``..."""
        if not self.cycle:
            return "naive" if self.alpha >= 1.0 else ("holt" if self.beta else "ses")
        return f"hw-{'mul' if self.multiplicative else 'add'}-{self.cycle}{'' if self.beta else '-flat'}"

    def ready(self, position: int) -> bool:
        """Whether the forecast at ``position`` means anything yet (its season position was seen)."""
        return self.level is not None and (not self.cycle or bool(self.seen[position % self.cycle]))

    def forecast(self, position: int, steps: float = 1.0) -> float:
        """The value expected ``steps`` periods after the last learned one, at season ``position``."""
        if self.level is None:
            return math.nan
        base = self.level + self.trend * _damped(self.phi, steps) if self.trend else self.level
        if not self.cycle:
            return base
        effect = float(self.season[position % self.cycle])
        return base * effect if self.multiplicative else base + effect

    def learn(self, position: int, y: float, steps: float = 1.0) -> None:
        """Update level, trend and the position's effect with ``y``, ``steps`` periods after the last."""
        if self.level is None or not math.isfinite(self.level):
            self.level, self.trend = y, 0.0
            if self.cycle:
                self.season[position % self.cycle] = 1.0 if self.multiplicative else 0.0
                self.seen[position % self.cycle] = True
            return
        prior = self.level + self.trend * _damped(self.phi, steps) if self.trend else self.level
        if self.cycle:
            slot = position % self.cycle
            if not self.seen[slot]:  # first time at this position: its effect, the level waits
                self.seen[slot] = True
                self.season[slot] = self._effect(y, prior)
                self.level, self.trend = prior, self.trend * self.phi**steps
                return
            effect = float(self.season[slot])
            deseasoned = y / effect if self.multiplicative and effect > _EPS else y
            if not self.multiplicative:
                deseasoned = y - effect
            new_level = self.alpha * deseasoned + (1.0 - self.alpha) * prior
            self.season[slot] = self.gamma * self._effect(y, prior) + (1.0 - self.gamma) * effect
        else:
            new_level = self.alpha * y + (1.0 - self.alpha) * prior
        if self.beta:
            self.trend = (
                self.beta * (new_level - self.level) + (1.0 - self.beta) * self.trend * self.phi**steps
            )
        self.level = new_level
        self.since_centred += 1
        if self.cycle and self.since_centred >= self.cycle:
            self._centre()

    def total(self, start: int, offset: int, steps: int, open_slots: BoolArray | None) -> float:
        """The sum of forecasts for the ``steps`` periods after position ``start``, the trend having run
        ``offset`` steps since the last learned value; slots never open (nights, weekends: False in
        ``open_slots``, a whole cycle of positions) count nothing."""
        if open_slots is None and 0 < steps <= _WALK_MAX:  # a few steps: walking them is cheaper
            return self.walk(start, offset, steps)[steps]
        return self.total_from(self.sums(open_slots), start, offset, steps)

    def walk(self, start: int, offset: int, steps: int, sums: list[float] | None = None) -> list[float]:
        """The running sums of the forecasts of the ``steps`` periods after position ``start`` (``[0]``:
        none), the trend having run ``offset`` steps: :meth:`forecast` summed in order. ``sums``, the
        running sums of fewer steps, are extended."""
        sums = [0.0] if sums is None else sums
        if self.level is None:
            return sums + [0.0] * (steps + 1 - len(sums))
        level, trend, phi = self.level, self.trend, self.phi
        cycle, multiplicative = self.cycle, self.multiplicative
        season = self.season.tolist() if cycle else []
        total = sums[-1]
        for h in range(len(sums), steps + 1):
            n = offset + h  # the trend's steps, damped as in _damped
            value = level
            if trend:
                value = level + trend * (
                    phi if n == 1 else n if phi >= 1.0 else phi * (1.0 - phi**n) / (1.0 - phi)
                )
            if cycle:
                effect = season[(start + h) % cycle]
                value = value * effect if multiplicative else value + effect
            total += value
            sums.append(total)
        return sums

    def sums(self, open_slots: BoolArray | None) -> CycleSums:
        """The cycle sums :meth:`total_from` reads, for the current state: of the weights the level and
        trend are multiplied by, and of the additive effects."""
        if not self.cycle:
            return CycleSums.of(on_open_slots(np.ones(1), open_slots), phi=self.phi)
        # intraday, a slot never seen is closed; otherwise it is neutral
        mask = self.seen.astype(np.float64) if open_slots is not None else np.ones(self.cycle)
        if self.multiplicative:
            return CycleSums.of(on_open_slots(self.season * mask, open_slots), phi=self.phi)
        weights, adds = on_open_slots(mask, open_slots), on_open_slots(self.season * mask, open_slots)
        return CycleSums.of(weights, adds, self.phi)

    def total_from(self, sums: CycleSums, start: int, offset: int, steps: int) -> float:
        """:meth:`total` from this state's :meth:`sums`."""
        if self.level is None or steps <= 0:
            return 0.0
        plain, geometric, added = sums.parts(start, steps)
        if self.phi >= 1.0:  # undamped: the trend adds Σ h·w_h
            ramp = ramp_sum(sums.weights, start, steps) if self.trend else 0.0
            return self.level * plain + self.trend * (ramp + offset * plain) + added
        d_inf = self.phi / (1.0 - self.phi)
        damp = self.phi**offset  # the trend has already decayed over the offset
        return self.level * plain + self.trend * (d_inf * (plain - damp * geometric)) + added

    def _effect(self, y: float, prior: float) -> float:
        if not self.multiplicative:
            return y - prior
        if prior <= _EPS:
            return 1.0
        return min(max(y / prior, _FACTOR_RANGE[0]), _FACTOR_RANGE[1])

    def _centre(self) -> None:
        """Re-centre the seen effects (mean 1 or 0), moving the difference into the level."""
        self.since_centred = 0
        if self.level is None or not self.seen.any():
            return
        mean = float(self.season[self.seen].mean())
        if self.multiplicative and mean > _EPS:
            self.season[self.seen] /= mean
            self.level *= mean
            self.trend *= mean
        elif not self.multiplicative:
            self.season[self.seen] -= mean
            self.level += mean


@dataclass(slots=True, eq=False)
class SeasonalNaive:
    """The value last seen at the same season position (the last value before a position is seen)."""

    cycle: int
    last: float | None = None
    values: FloatArray = field(default_factory=lambda: np.zeros(0))
    seen: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))

    def __post_init__(self) -> None:
        self.values = np.zeros(self.cycle)
        self.seen = np.zeros(self.cycle, dtype=np.bool_)

    @property
    def name(self) -> str:
        return f"snaive-{self.cycle}"

    def ready(self, position: int) -> bool:
        return bool(self.seen[position % self.cycle])

    def forecast(self, position: int, steps: float = 1.0) -> float:
        slot = position % self.cycle
        if self.seen[slot]:
            return float(self.values[slot])
        return math.nan if self.last is None else self.last

    def learn(self, position: int, y: float, steps: float = 1.0) -> None:
        slot = position % self.cycle
        self.values[slot], self.seen[slot], self.last = y, True, y

    def total(self, start: int, offset: int, steps: int, open_slots: BoolArray | None) -> float:
        if open_slots is None and 0 < steps <= _WALK_MAX:
            return self.walk(start, offset, steps)[steps]
        return self.total_from(self.sums(open_slots), start, offset, steps)

    def walk(self, start: int, offset: int, steps: int, sums: list[float] | None = None) -> list[float]:
        """The running sums of the forecasts of the ``steps`` periods after position ``start``."""
        sums = [0.0] if sums is None else sums
        if self.last is None:
            return sums + [0.0] * (steps + 1 - len(sums))
        values, seen, last, cycle = self.values.tolist(), self.seen.tolist(), self.last, self.cycle
        total = sums[-1]
        for h in range(len(sums), steps + 1):
            slot = (start + h) % cycle
            total += values[slot] if seen[slot] else last
            sums.append(total)
        return sums

    def sums(self, open_slots: BoolArray | None) -> CycleSums:
        if self.last is None:
            return CycleSums.of(np.zeros(1))
        values = (
            self.values * self.seen if open_slots is not None else np.where(self.seen, self.values, self.last)
        )
        return CycleSums.of(on_open_slots(values, open_slots))

    def total_from(self, sums: CycleSums, start: int, offset: int, steps: int) -> float:
        if self.last is None or steps <= 0:
            return 0.0
        return sums.parts(start, steps)[0]


Candidate = Smoother | SeasonalNaive


@dataclass(slots=True, eq=False)
class Ensemble:
    """Candidates run side by side; the forecast is the mean of the ``top`` with the lowest recent error.

    Each candidate's absolute percentage error (relative to ``|y|``, floored at a small fraction of the
    typical value so zeros don't explode) is smoothed with weight ``rate``; a candidate with no
    forecast yet is not chosen.
    """

    candidates: list[Candidate]
    rate: float = 0.1
    errors: list[float] = field(default_factory=list)
    scale: float = 0.0  # smoothed |y|: the floor of the percentage errors' denominator
    chosen: int = 0
    top: int = 3
    prune_at: int = 0
    """After this many values, only the ``keep`` best candidates go on (0: never)."""
    keep: int = 6
    n_learned: int = 0
    cached: tuple[tuple[int, float], list[tuple[int, float]]] | None = None

    def __post_init__(self) -> None:
        self.errors = [math.inf] * len(self.candidates)

    @property
    def best(self) -> Candidate:
        """The candidate the forecasts come from."""
        return self.candidates[self.chosen]

    def forecast(self, position: int, steps: float = 1.0) -> float:
        """The mean forecast of the ``top`` best-scored candidates ready at ``position`` (a season
        position they have seen)."""
        return self._combine(self._forecasts(position, steps))

    def _forecasts(self, position: int, steps: float) -> list[tuple[int, float]]:
        """``(candidate index, forecast)`` of the candidates ready at ``position``; kept until the next
        :meth:`learn`, which reuses them when it learns the row that was just forecast."""
        if self.cached is not None and self.cached[0] == (position, steps):
            return self.cached[1]
        forecasts = []
        for index, candidate in enumerate(self.candidates):
            if candidate.ready(position):
                predicted = candidate.forecast(position, steps)
                if math.isfinite(predicted):
                    forecasts.append((index, predicted))
        self.cached = ((position, steps), forecasts)
        return forecasts

    def _combine(self, forecasts: list[tuple[int, float]]) -> float:
        if not forecasts:
            return math.nan
        errors = self.errors
        top = sorted(forecasts, key=lambda pair: errors[pair[0]])[: self.top]
        weights = [
            1.0 / max(errors[index], _MIN_ERROR) if math.isfinite(errors[index]) else 1.0 for index, _ in top
        ]
        return sum(w * value for w, (_, value) in zip(weights, top, strict=True)) / sum(weights)

    def total(
        self,
        start: int,
        offset: int,
        steps: int,
        open_slots: BoolArray | None,
        cycle: int | None = None,
        memo: dict[Any, Any] | None = None,
    ) -> float:
        """The mean horizon total of the ``top`` best-scored candidates (see :meth:`Smoother.total`); with
        ``cycle``, of those with that season only (intraday: a week's profile, since a daily profile's
        level is today's, a Friday's for the next month). ``memo`` keeps what the current state implies
        (the order, each candidate's cycle sums) for the next totals: the caller empties it on learning."""
        memo = {} if memo is None else memo
        order: list[int] | None = memo.get(("order", cycle))
        if order is None:
            indices = [i for i, c in enumerate(self.candidates) if cycle is None or c.cycle == cycle]
            order = sorted(indices or range(len(self.candidates)), key=self.errors.__getitem__)[: self.top]
            memo["order", cycle] = order
        total = 0.0
        for i in order:
            candidate = self.candidates[i]
            if open_slots is None and 0 < steps <= _WALK_MAX:  # a few steps: walked, the next one kept
                walked = memo.get(("walk", i, start, offset))
                if walked is None or len(walked) <= steps:
                    walked = memo["walk", i, start, offset] = candidate.walk(start, offset, steps + 1, walked)
                total += walked[steps]
                continue
            sums = memo.get((i, open_slots is None))
            if sums is None:
                sums = memo[i, open_slots is None] = candidate.sums(open_slots)
            total += candidate.total_from(sums, start, offset, steps)
        return total / len(order)

    def learn(self, position: int, y: float, steps: float = 1.0) -> float:
        """Score every candidate's forecast of ``y``, let each learn it, and choose again. Returns the
        ensemble's forecast of ``y`` (what :meth:`forecast` said before ``y`` was learned)."""
        self.scale = abs(y) if not self.scale else 0.98 * self.scale + 0.02 * abs(y)
        denominator = max(abs(y), 0.05 * self.scale, _EPS)
        forecasts = self._forecasts(position, steps)
        combined = self._combine(forecasts)
        errors, rate = self.errors, self.rate
        for index, predicted in forecasts:
            error = min(abs(y - predicted) / denominator, 10.0)
            previous = errors[index]
            errors[index] = error if math.isinf(previous) else previous + rate * (error - previous)
        for candidate in self.candidates:
            candidate.learn(position, y, steps)
        self.cached = None
        self.n_learned += 1
        if self.n_learned == self.prune_at and len(self.candidates) > self.keep:
            order = sorted(range(len(self.candidates)), key=errors.__getitem__)[: self.keep]
            self.candidates = [self.candidates[i] for i in order]
            self.errors = [errors[i] for i in order]
        self.chosen = min(range(len(self.candidates)), key=self.errors.__getitem__)
        return combined
