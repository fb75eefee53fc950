"""A hurdle model for a value that is often zero and heavy-tailed when it is not: spend over a horizon.

``E[y] = P(y > 0) x E[y | y > 0]``: an online logistic regression learns whether any value comes, and
an online linear regression (Adam steps, clipped gradients: a new customer's rare features don't
throw it off) learns ``log y`` on the positive outcomes only, centred on their running mean; the
conditional mean is the lognormal one, ``exp(mu + s^2 / 2)`` with ``s^2`` the running variance of
the log residuals. Each part has its own scaler (the size part's learns from positive rows only); the model explains
itself through the occurrence part and counts what it learned.

>>> model = HurdleRegressor()
>>> for i in range(2000):  # no order: no spend; else 20 per order
...     model.learn_one({"orders": float(i % 4)}, 0.0 if i % 4 == 0 else 20.0 * (i % 4))
>>> [round(model.purchase_probability({"orders": n}), 1) for n in (0.0, 2.0)], round(model.predict_one({"orders": 3.0}))
([0.1, 1.0], 63)
"""

from __future__ import annotations

import math
from typing import Any, Protocol, cast

from river import linear_model, optim

from tracer.blueprints.base import Features
from tracer.blueprints.engines.scale_encode import RiverX, ScaleAndEncode

__all__ = ["HurdleRegressor"]


class _Proba(Protocol):
    def predict_proba_one(self, x: RiverX) -> dict[Any, float]: ...


class _Predict(Protocol):
    def predict_one(self, x: RiverX) -> float | None: ...


MAX_SHIFT = 4.0
"""The most the regression moves log y from its running mean: a factor of e^4 ~ 55 either way."""
_MAX_LOG = 20.0  # exp(20) ~ 5e8: a bound on a conditional mean, never a prediction anyone meant


class HurdleRegressor:
    """P(positive) from a logistic regression times a lognormal mean from a regression of log y, each
    behind its own :class:`~tracer.blueprints.engines.scale_encode.ScaleAndEncode` (a row is split once)."""

    def __init__(self, log1p: tuple[str, ...] = ()) -> None:
        self.scale = ScaleAndEncode(log1p=log1p)
        self.size_scale = ScaleAndEncode(log1p=log1p)
        """The size part's own scaler: it learns the spread of the rows with a positive outcome only."""
        self.occurs = linear_model.LogisticRegression(optimizer=optim.SGD(0.03), l2=1e-4, intercept_lr=0.03)
        self.size = linear_model.LinearRegression(
            optimizer=optim.Adam(0.01), l2=1e-4, intercept_lr=0.01, clip_gradient=3.0
        )
        self.n_learned = 0
        """Outcomes learned (zero ones included)."""
        self.n_positive = 0
        self.log_mean = 0.0
        self.log_var = 1.0
        """Running variance of the log residuals (of ``log y`` around its running mean, at first)."""
        self._last: tuple[Features, RiverX, RiverX, RiverX] | None = None  # x, numeric, categorical, z

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_last": None}

    def _scaled(self, x: Features) -> tuple[RiverX, RiverX, RiverX]:
        """(numeric, categorical, scaled) of ``x``, kept until the next row or the next learning."""
        last = self._last
        if last is not None and last[0] is x:
            return last[1], last[2], last[3]
        numeric, categorical = self.scale.split_one(cast(RiverX, x))
        z = self.scale.transform_split(numeric, categorical)
        self._last = (x, numeric, categorical, z)
        return numeric, categorical, z

    def purchase_probability(self, x: Features) -> float:
        """P(y > 0)."""
        return float(cast(_Proba, self.occurs).predict_proba_one(self._scaled(x)[2]).get(True, 0.5))

    def conditional_mean(self, x: Features) -> float:
        """E[y | y > 0]; 0.0 before any positive outcome."""
        if not self.n_positive:
            return 0.0
        numeric, categorical, _ = self._scaled(x)
        mu = self.log_mean + self._shift(self.size_scale.transform_split(numeric, categorical))
        return math.exp(min(mu + 0.5 * self.log_var, _MAX_LOG))

    def predict_one(self, x: Features) -> float:
        return self.purchase_probability(x) * self.conditional_mean(x)

    def learn_one(self, x: Features, y: float) -> None:
        numeric, categorical, _ = self._scaled(x)
        self.scale.scaler.learn_one(numeric)  # as River's pipeline: the scaler learns, then scales
        z = self.scale.transform_split(numeric, categorical)
        self._last = None
        self.n_learned += 1
        positive = y > 0.0
        self.occurs.learn_one(z, positive)
        if not positive:
            return
        log_y = math.log(y)
        self.n_positive += 1
        rate = max(1.0 / self.n_positive, 0.001)
        self.size_scale.scaler.learn_one(numeric)
        z = self.size_scale.transform_split(numeric, categorical)
        residual = log_y - self.log_mean - self._shift(z)
        if self.n_positive > 1:
            self.log_var += rate * (residual * residual - self.log_var)
        self.log_mean += rate * (log_y - self.log_mean)
        self.size.learn_one(z, log_y - self.log_mean)

    def _shift(self, z: RiverX) -> float:
        """The regression's shift of log y from its mean, within +-MAX_SHIFT (a rare feature's first
        values scale to large numbers before the scaler has seen their spread)."""
        return min(max(float(cast(_Predict, self.size).predict_one(z) or 0.0), -MAX_SHIFT), MAX_SHIFT)

    def contributions(self, x: Features) -> dict[str, float]:
        """Each feature's share of the occurrence logit (what makes a purchase likely); a one-hot
        column ``channel_app`` counts towards ``channel``."""
        numeric, categorical, z = self._scaled(x)
        weights = self.occurs.weights
        shares = {str(k): weights[k] * z[k] for k in numeric if weights.get(k) and z.get(k)}
        for key, label in categorical.items():
            weight = weights.get(f"{key}_{label}")
            if weight:
                shares[str(key)] = weight
        return shares

    def scaled_values(self, x: Features) -> dict[str, float]:
        """The numeric features as the models see them (z-scores)."""
        z = self._scaled(x)[2]
        return {k: float(z[k]) for k in x if k in z}
