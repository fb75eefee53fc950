"""An online logistic regression around a fixed prior: ``logit p = prior + b + sum_i w_i z_i``.

The prior is one feature's value (``offset_key``, already a logit, e.g. a first-passage model's)
taken with coefficient 1 and never learned (nor are the features named in ``unlearned``, such as
the prior's own ingredients); the intercept and the weights of the other features
(numbers as running z-scores, strings one-hot) learn the corrections by SGD on the log loss. A prior
that already ranks well keeps the ranking stable from the first event, where a plain online logistic
regression swings with bursts of delayed labels (a wave of liquidations settles together).

>>> model = OffsetLogistic("prior", learning_rate=0.05)
>>> round(model.predict_one({"prior": 0.0, "x": 1.0}), 2)
0.5
>>> for _ in range(200):
...     model.learn_one({"prior": 0.0, "x": 1.0}, 1.0)
...     model.learn_one({"prior": 0.0, "x": -1.0}, 0.0)
>>> model.predict_one({"prior": 0.0, "x": 1.0}) > 0.8 > 0.2 > model.predict_one({"prior": 0.0, "x": -1.0})
True
"""

from __future__ import annotations

import math

from tracer.blueprints.base import Features

__all__ = ["OffsetLogistic"]

_MAX_Z = 5.0


class OffsetLogistic:
    """Online logistic regression with a fixed offset feature (module docs); deterministic."""

    def __init__(
        self,
        offset_key: str,
        *,
        learning_rate: float = 0.02,
        intercept_rate: float = 0.02,
        l2: float = 1e-4,
        unlearned: frozenset[str] = frozenset(),
    ) -> None:
        self.offset_key = offset_key
        self.unlearned = unlearned | {offset_key}
        self.learning_rate = learning_rate
        self.intercept_rate = intercept_rate
        self.l2 = l2
        self.intercept = 0.0
        self.weights: dict[str, float] = {}
        self.moments: dict[str, tuple[float, float, float]] = {}  # name -> (count, mean, M2)
        self.n_learned = 0

    def _scaled(self, x: Features) -> dict[str, float]:
        """Numbers as z-scores under the running moments (0 before two values), strings one-hot."""
        scaled: dict[str, float] = {}
        for name, value in x.items():
            if name in self.unlearned or value is None:
                continue
            if isinstance(value, str):
                scaled[f"{name}={value}"] = 1.0
                continue
            number = float(value)
            if not math.isfinite(number):
                continue
            count, mean, m2 = self.moments.get(name, (0.0, 0.0, 0.0))
            std = math.sqrt(m2 / (count - 1)) if count > 1 else 0.0
            scaled[name] = max(min((number - mean) / std, _MAX_Z), -_MAX_Z) if std > 0 else 0.0
        return scaled

    def _offset(self, x: Features) -> float:
        value = x.get(self.offset_key)
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else 0.0

    def _logit(self, x: Features, scaled: dict[str, float]) -> float:
        return self._offset(x) + self.intercept + sum(self.weights.get(k, 0.0) * v for k, v in scaled.items())

    def predict_one(self, x: Features) -> float:
        logit = max(min(self._logit(x, self._scaled(x)), 30.0), -30.0)
        return 1.0 / (1.0 + math.exp(-logit))

    def learn_one(self, x: Features, y: float) -> None:
        scaled = self._scaled(x)
        logit = max(min(self._logit(x, scaled), 30.0), -30.0)
        error = 1.0 / (1.0 + math.exp(-logit)) - y
        rate = self.learning_rate
        self.intercept -= self.intercept_rate * error
        for name, value in scaled.items():
            weight = self.weights.get(name, 0.0)
            self.weights[name] = weight - rate * (error * value + self.l2 * weight)
        for name, raw in x.items():  # the moments after the step, as a scaler learns
            if name in self.unlearned or isinstance(raw, str) or raw is None:
                continue
            number = float(raw)
            if math.isfinite(number):
                count, mean, m2 = self.moments.get(name, (0.0, 0.0, 0.0))
                count += 1.0
                delta = number - mean
                mean += delta / count
                self.moments[name] = (count, mean, m2 + delta * (number - mean))
        self.n_learned += 1

    def contributions(self, x: Features) -> dict[str, float]:
        """Each feature's additive share of the logit (the prior's included under its own name)."""
        shares = {k: self.weights.get(k, 0.0) * v for k, v in self._scaled(x).items()}
        shares[self.offset_key] = self._offset(x)
        return {k.partition("=")[0]: v for k, v in shares.items()}

    def scaled_values(self, x: Features) -> dict[str, float]:
        """The numeric features as z-scores (the prior as given)."""
        scaled = {k: v for k, v in self._scaled(x).items() if "=" not in k}
        scaled[self.offset_key] = self._offset(x)
        return scaled
