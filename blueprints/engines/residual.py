"""A regressor that learns the change from an anchor feature rather than the value itself.

When the value a few steps ahead is mostly the value now (a pool's APY, a price), a linear model
learning the raw target starts far off and spends its first thousand labels finding the anchor's
coefficient. Learning ``y - x[anchor]`` instead starts at persistence (the inner model predicts a
change of 0 before it has learned anything) and spends every label on the departures from it.

>>> class Mean:
...     def __init__(self) -> None:
...         self.total, self.n = 0.0, 0
...     def predict_one(self, x: dict[str, float | str | None]) -> float:
...         return self.total / self.n if self.n else 0.0
...     def learn_one(self, x: dict[str, float | str | None], y: float) -> None:
...         self.total, self.n = self.total + y, self.n + 1
>>> model = ResidualRegressor(Mean(), anchor="now")
>>> model.predict_one({"now": 5.0})
5.0
>>> model.learn_one({"now": 5.0}, 4.0)
>>> model.predict_one({"now": 10.0}), model.n_learned
(9.0, 1)
"""

from __future__ import annotations

import math

from tracer.blueprints.base import Features, OnlineModel

__all__ = ["ResidualRegressor"]


class ResidualRegressor:
    """``x[anchor] + inner(x)``, with ``inner`` learning ``y - x[anchor]``."""

    def __init__(self, inner: OnlineModel, anchor: str) -> None:
        self.inner = inner
        self.anchor = anchor
        self.n_learned = 0
        """Labels learned so far."""

    def _anchor(self, x: Features) -> float:
        value = x.get(self.anchor)
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else 0.0

    def predict_one(self, x: Features) -> float:
        """The anchor plus the change the inner model predicts."""
        return self._anchor(x) + float(self.inner.predict_one(x))

    def learn_one(self, x: Features, y: float) -> None:
        """The inner model learns the change ``y - x[anchor]``."""
        self.inner.learn_one(x, y - self._anchor(x))
        self.n_learned += 1
