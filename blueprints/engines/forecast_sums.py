"""Sums of one cycle of season weights over a run of steps from any start, for horizon totals.

A horizon total needs, for a cycle of weights ``w`` (``m`` positions) and a run of ``steps`` periods
after position ``start``, ``Σ_{h=1..steps} w[(start+h) mod m]`` and its damped form ``Σ φ^h w[...]``:
whole cycles by multiplication (a geometric series when damped), plus the partial one.
:class:`CycleSums` keeps the cycle written twice (any rotation is a view of it, not a copy) and the
sums it has computed per rotation and partial length: a forecaster builds one per candidate and
model state and asks it for every row scored until it learns again, so the rows of a block that
share a season position share the work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

__all__ = ["CycleSums", "on_open_slots", "powers", "ramp_sum"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@lru_cache(maxsize=64)
def powers(phi: float, m: int) -> FloatArray:
    """``φ^1 .. φ^m``, cached: a few cycle lengths and damping factors are ever used."""
    return phi ** np.arange(1, m + 1, dtype=np.float64)


def _rotated(weights: FloatArray, first: int) -> FloatArray:
    """The cycle starting at position ``first``."""
    split = first % len(weights)
    return np.concatenate((weights[split:], weights[:split])) if split else weights


def ramp_sum(weights: FloatArray, start: int, steps: int) -> float:
    """``Σ_{h=1..steps} h · w[(start+h) mod m]`` over whole cycles plus the partial one."""
    m = len(weights)
    cycle = _rotated(weights, start + 1)
    whole, partial = divmod(steps, m)
    j = np.arange(1, m + 1, dtype=np.float64)
    total = float(cycle.sum()) * m * whole * (whole - 1) / 2.0 + whole * float(j @ cycle)
    return total + float((whole * m + j[:partial]) @ cycle[:partial])


def on_open_slots(weights: FloatArray, open_slots: BoolArray | None) -> FloatArray:
    """Weights of a cycle tiled onto the open slots of a longer one (a daily profile onto the week's
    open hours; a level alone onto every open slot)."""
    if open_slots is None or len(open_slots) % len(weights) or len(open_slots) == len(weights):
        return weights
    return np.tile(weights, len(open_slots) // len(weights)) * open_slots


@dataclass(slots=True, eq=False)
class CycleSums:
    """Plain and damped sums of a cycle of weights, and plain sums of a cycle of additive effects, over
    any run of steps (see the module)."""

    doubled: FloatArray
    """The weights' cycle twice: the cycle starting at ``j`` is ``doubled[j : j + m]``."""
    adds: FloatArray | None
    """The additive effects' cycle twice, if any."""
    phi: float
    """The damping of the geometric sums (1: none asked)."""
    known: dict[tuple[int, int], tuple[float, float, float]] = field(default_factory=dict)
    """:meth:`parts` asked before, by first position and steps."""
    cycles: dict[tuple[int, int], float] = field(default_factory=dict)
    """Sums over one cycle by (which sum, first position): 0 the weights, 1 damped, 2 the effects."""

    @classmethod
    def of(cls, weights: FloatArray, adds: FloatArray | None = None, phi: float = 1.0) -> CycleSums:
        twice = None if adds is None else np.concatenate((adds, adds))
        return cls(np.concatenate((weights, weights)), twice, phi)

    @property
    def weights(self) -> FloatArray:
        """The weights' cycle from position 0."""
        return self.doubled[: len(self.doubled) // 2]

    def parts(self, start: int, steps: int) -> tuple[float, float, float]:
        """Over the ``steps`` periods after ``start``: ``Σ w[(start+h) mod m]``, ``Σ φ^h w[...]`` (0 when
        φ = 1) and ``Σ a[...]`` of the effects (0 without)."""
        m = len(self.doubled) // 2
        first = (start + 1) % m
        known = self.known.get((first, steps))
        if known is None:
            whole, partial = divmod(steps, m)
            plain = whole * self._cycle(0, first) + self._partial(self.doubled, first, partial)
            geometric = added = 0.0
            if self.phi < 1.0:  # whole cycles as a geometric series, plus the rest
                ratio = self.phi**m
                geometric = self._cycle(1, first) * (
                    whole if ratio >= 1.0 else (1.0 - ratio**whole) / (1.0 - ratio)
                )
                rest = self._partial(self.doubled, first, partial, damped=True)
                geometric += ratio**whole * rest
            if self.adds is not None:
                added = whole * self._cycle(2, first) + self._partial(self.adds, first, partial)
            known = self.known[first, steps] = (plain, geometric, added)
        return known

    def _cycle(self, which: int, first: int) -> float:
        total = self.cycles.get((which, first))
        if total is None:
            m = len(self.doubled) // 2
            doubled = self.adds if which == 2 and self.adds is not None else self.doubled
            total = self._partial(doubled, first, m, damped=which == 1)
            self.cycles[which, first] = total
        return total

    def _partial(self, doubled: FloatArray, first: int, length: int, *, damped: bool = False) -> float:
        if not length:  # an empty sum
            return 0.0
        run = doubled[first : first + length]
        if damped:
            return float(powers(self.phi, len(doubled) // 2)[:length] @ run)
        return float(run.sum())
