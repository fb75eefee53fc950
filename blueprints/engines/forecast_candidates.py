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
contribution is geometric, so a 90-day total of 5-minute data costs a few vector sums, not 25,920 steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

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


def _periodic_sums(weights: FloatArray, start: int, steps: int, phi: float) -> tuple[float, float]:
    """``Σ_{h=1..steps} w[(start+h) mod m]`` and ``Σ_{h=1..steps} φ^h w[(start+h) mod m]``, in closed form
    over whole cycles plus the partial one."""
    m = len(weights)
    cycle = _rotated(weights, start + 1)  # cycle[j] is the weight of step h = j + 1
    whole, partial = divmod(steps, m)
    powers = _powers(phi, m)
    plain = whole * float(cycle.sum()) + float(cycle[:partial].sum())
    one_cycle = float(powers @ cycle)
    ratio = phi**m
    geometric = one_cycle * (whole if ratio >= 1.0 else (1.0 - ratio**whole) / (1.0 - ratio))
    geometric += ratio**whole * float(powers[:partial] @ cycle[:partial])
    return plain, geometric


@lru_cache(maxsize=64)
def _powers(phi: float, m: int) -> FloatArray:
    """``φ^1 .. φ^m``, cached: a few cycle lengths and damping factors are ever used."""
    return phi ** np.arange(1, m + 1, dtype=np.float64)


def _rotated(weights: FloatArray, first: int) -> FloatArray:
    """The cycle starting at position ``first``."""
    split = first % len(weights)
    return np.concatenate((weights[split:], weights[:split])) if split else weights


def _ramp_sum(weights: FloatArray, start: int, steps: int) -> float:
    """``Σ_{h=1..steps} h · w[(start+h) mod m]`` over whole cycles plus the partial one."""
    m = len(weights)
    cycle = _rotated(weights, start + 1)
    whole, partial = divmod(steps, m)
    j = np.arange(1, m + 1, dtype=np.float64)
    total = float(cycle.sum()) * m * whole * (whole - 1) / 2.0 + whole * float(j @ cycle)
    return total + float((whole * m + j[:partial]) @ cycle[:partial])


def _on_open_slots(weights: FloatArray, open_slots: BoolArray | None) -> FloatArray:
    """Weights of a cycle tiled onto the open slots of a longer one (a daily profile onto the week's
    open hours; a level alone onto every open slot)."""
    if open_slots is None or len(open_slots) % len(weights) or len(open_slots) == len(weights):
        return weights
    return np.tile(weights, len(open_slots) // len(weights)) * open_slots


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
        if self.level is None or steps <= 0:
            return 0.0
        d_inf = self.phi / (1.0 - self.phi) if self.phi < 1.0 else 0.0
        if open_slots is None and steps <= _WALK_MAX:  # a few steps: walking them is cheaper
            return sum(self.forecast(start + h, offset + h) for h in range(1, steps + 1))
        weights, adds = np.ones(1), np.zeros(1)
        if self.cycle:  # intraday, a slot never seen is closed; otherwise it is neutral
            mask = self.seen.astype(np.float64) if open_slots is not None else np.ones(self.cycle)
            weights = self.season * mask if self.multiplicative else mask
            adds = np.zeros(self.cycle) if self.multiplicative else self.season * mask
        weights, adds = _on_open_slots(weights, open_slots), _on_open_slots(adds, open_slots)
        plain, geometric = _periodic_sums(weights, start, steps, self.phi)
        added = _periodic_sums(adds, start, steps, 1.0)[0] if not self.multiplicative else 0.0
        if self.phi >= 1.0:  # undamped: the trend adds Σ h·w_h
            ramp = _ramp_sum(weights, start, steps) if self.trend else 0.0
            return self.level * plain + self.trend * (ramp + offset * plain) + added
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
        if self.last is None or steps <= 0:
            return 0.0
        if open_slots is None and steps <= _WALK_MAX:
            return sum(self.forecast(start + h) for h in range(1, steps + 1))
        values = (
            self.values * self.seen if open_slots is not None else np.where(self.seen, self.values, self.last)
        )
        weights = _on_open_slots(values, open_slots)
        return _periodic_sums(weights, start, steps, 1.0)[0]


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
        self, start: int, offset: int, steps: int, open_slots: BoolArray | None, cycle: int | None = None
    ) -> float:
        """The mean horizon total of the ``top`` best-scored candidates (see :meth:`Smoother.total`); with
        ``cycle``, of those with that season only (intraday: a week's profile, since a daily profile's
        level is today's, a Friday's for the next month)."""
        indices = [i for i, c in enumerate(self.candidates) if cycle is None or c.cycle == cycle]
        order = sorted(indices or range(len(self.candidates)), key=self.errors.__getitem__)[: self.top]
        return sum(self.candidates[i].total(start, offset, steps, open_slots) for i in order) / len(order)

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
