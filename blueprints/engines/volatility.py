"""Volatility and value at risk per price series, updated one price at a time, in O(log window).

:class:`SeriesRisk` keeps one series' risk state from its prices (log returns):

- EWMA variances (RiskMetrics) at a few decay factors :data:`LAMBDAS`, bias-corrected so they need
  no seed value: ``var = S / W`` with ``S = λS + (1-λ)r²`` and ``W = λW + (1-λ)``;
- a bounded window of the last :data:`WINDOW` returns, kept sorted too, for historical quantiles;
- the same window of *standardised* returns ``z = r / σ`` (σ the λ = 0.94 forecast made before the
  return), for filtered historical simulation (FHS) and for the skewness and excess kurtosis a
  Cornish-Fisher quantile reads (running sums over the window);
- the price's running peak (drawdown) and the periods since the last large loss.

:func:`value_at_risk` turns one-period figures into a loss over ``h`` periods (square root of time)
by four methods: ``normal``, ``cornish_fisher`` (the normal quantile corrected for the window's
skewness and excess kurtosis, clipped to where the expansion holds), ``historical`` (raw returns)
and ``filtered_historical`` (standardised returns times today's σ). Losses are positive fractions of
value: a log-return quantile ``q`` is the loss ``1 - exp(q)``.

:class:`EwmaVolatilityModel` is the online model: it forecasts the realised volatility over the
horizon, ``sqrt(s_k · h · var_k)``, with the decay ``k`` whose running QLIKE is lowest and ``s_k``
a variance scale learned from realised outcomes (1 at the start). :func:`kupiec_pof` is Kupiec's
proportion-of-failures test for a VaR backtest.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "DEFAULT_LAMBDA",
    "LAMBDAS",
    "TAILS",
    "VARIANCE_KEYS",
    "VAR_METHODS",
    "WINDOW",
    "EwmaVolatilityModel",
    "SeriesRisk",
    "VarMethod",
    "kupiec_pof",
    "normal_quantile",
    "qlike",
    "risk_features",
    "value_at_risk",
    "variance_key",
]

LAMBDAS: Final = (0.90, 0.94, 0.97, 0.99)
"""EWMA decay factors tracked per series; the model picks among them by running QLIKE."""
DEFAULT_LAMBDA: Final = 0.94
"""RiskMetrics' daily decay: used until the model has learned enough to choose."""
WINDOW: Final = 250
"""Returns kept per series for historical quantiles and moments (about a trading year of days)."""
MIN_TAIL_RETURNS: Final = 30
"""Below this many returns, quantile methods fall back to the normal one, and moments to 0."""
CF_MAX_SKEW: Final = 1.0
CF_MAX_KURTOSIS: Final = 4.0
"""Cornish-Fisher reads skewness and excess kurtosis clipped to these (one crash day in a short window
would otherwise bend the expansion out of shape: it stops being monotonic)."""
VarMethod = Literal["cornish_fisher", "normal", "filtered_historical", "historical"]
VAR_METHODS: Final[tuple[VarMethod, ...]] = ("cornish_fisher", "normal", "filtered_historical", "historical")
_MAX_ABS_LOG_RETURN = 2.0  # a price moving by e^2 in one period is a data error, not a return


def variance_key(lam: float) -> str:
    """The feature name of the EWMA variance with decay ``lam``: ``ewma_var_94`` for 0.94."""
    return f"ewma_var_{round(lam * 100)}"


def normal_quantile(p: float) -> float:
    """The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9)."""
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
         -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
         -1.328068155288572e01)  # fmt: skip
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
         4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if p < 0.02425 or p > 1 - 0.02425:
        q = math.sqrt(-2 * math.log(min(p, 1 - p)))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
        return x if p < 0.5 else -x
    q = p - 0.5
    r = q * q
    return (
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
        * q
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    )


def _normal_es_ratio(p: float, z: float) -> float:
    """ES / VaR of a normal tail: φ(z) / (p · |z|)."""
    return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) / (p * -z)


@dataclass(frozen=True)
class _Tail:
    p: float
    z: float  # the normal quantile, negative
    es_ratio: float  # normal ES / VaR
    keys: tuple[str, str, str, str]  # hist_var, hist_es, z_var, z_es


TAILS: Final = {
    p: _Tail(p, normal_quantile(p), _normal_es_ratio(p, normal_quantile(p)),
             (f"hist_var_{k}", f"hist_es_{k}", f"z_var_{k}", f"z_es_{k}"))
    for p, k in ((0.05, "05"), (0.01, "01"))
}  # fmt: skip
"""The tails VaR is computed at, with their feature names."""
_Z01: Final = TAILS[0.01].z
_DEFAULT_INDEX: Final = LAMBDAS.index(DEFAULT_LAMBDA)
VARIANCE_KEYS: Final = tuple(variance_key(lam) for lam in LAMBDAS)


def _tail(ordered: Sequence[float], p: float) -> tuple[float, float]:
    """The ``p`` quantile of sorted values (interpolated between order statistics) and the mean of
    the worst ``ceil(p · n)`` values, both negated: losses."""
    position = p * (len(ordered) - 1)
    low = int(position)
    quantile = ordered[low] + (ordered[low + 1] - ordered[low]) * (position - low)
    count = max(1, math.ceil(p * len(ordered)))
    return -quantile, -sum(ordered[:count]) / count


@dataclass
class SeriesRisk:
    """One series' running risk state (see the module docstring). Pickles; copy with :meth:`copy`."""

    last_price: float | None = None
    n_returns: int = 0
    ew_sums: list[float] = field(default_factory=lambda: [0.0] * len(LAMBDAS))
    ew_weights: list[float] = field(default_factory=lambda: [0.0] * len(LAMBDAS))
    returns: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    sorted_returns: list[float] = field(default_factory=list)
    z: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    sorted_z: list[float] = field(default_factory=list)
    z_sums: list[float] = field(default_factory=lambda: [0.0] * 4)
    square_sum: float = 0.0
    peak: float = 0.0
    since_large_loss: int = 1_000_000

    def copy(self) -> SeriesRisk:
        """An independent copy (lists and deques copied, numbers shared)."""
        return SeriesRisk(
            self.last_price, self.n_returns, list(self.ew_sums), list(self.ew_weights),
            deque(self.returns, maxlen=WINDOW), list(self.sorted_returns), deque(self.z, maxlen=WINDOW),
            list(self.sorted_z), list(self.z_sums), self.square_sum, self.peak, self.since_large_loss,
        )  # fmt: skip

    def variance(self, index: int) -> float:
        """The one-period variance forecast of decay ``LAMBDAS[index]`` (0 before any return)."""
        weight = self.ew_weights[index]
        return self.ew_sums[index] / weight if weight > 0 else 0.0

    def variances(self) -> list[float]:
        """The one-period variance forecasts of every decay, in LAMBDAS order."""
        return [s / w if w > 0 else 0.0 for s, w in zip(self.ew_sums, self.ew_weights, strict=True)]

    def update(self, price: float) -> float | None:
        """Take the next price; returns its log return (None for the first price or a non-positive one)."""
        if not price > 0.0 or not math.isfinite(price):
            return None
        if price > self.peak:
            self.peak = price
        previous, self.last_price = self.last_price, price
        if previous is None:
            return None
        r = math.log(price / previous)
        if not -_MAX_ABS_LOG_RETURN <= r <= _MAX_ABS_LOG_RETURN:
            r = _MAX_ABS_LOG_RETURN if r > 0 else -_MAX_ABS_LOG_RETURN
        sigma = math.sqrt(self.variance(_DEFAULT_INDEX))
        self.since_large_loss += 1
        if sigma > 0 and self.n_returns >= MIN_TAIL_RETURNS:
            z = r / sigma
            if z < _Z01:
                self.since_large_loss = 0
            self._push(self.z, self.sorted_z, z)
        r2 = r * r
        self.ew_sums = [lam * s + (1 - lam) * r2 for lam, s in zip(LAMBDAS, self.ew_sums, strict=True)]
        self.ew_weights = [lam * w + 1 - lam for lam, w in zip(LAMBDAS, self.ew_weights, strict=True)]
        self._push(self.returns, self.sorted_returns, r)
        self.n_returns += 1
        return r

    def _push(self, window: deque[float], ordered: list[float], value: float) -> None:
        standardised = window is self.z
        if len(window) == window.maxlen:
            evicted = window[0]
            del ordered[bisect.bisect_left(ordered, evicted)]
            if standardised:
                self._moments(evicted, -1.0)
            else:
                self.square_sum -= evicted * evicted
        window.append(value)
        bisect.insort(ordered, value)
        if standardised:
            self._moments(value, 1.0)
        else:
            self.square_sum += value * value
        if self.n_returns % WINDOW == 0:  # running sums drift: recompute them now and then
            if standardised:
                self.z_sums = [math.fsum(v**k for v in window) for k in (1, 2, 3, 4)]
            else:
                self.square_sum = math.fsum(v * v for v in window)

    def long_run_variance(self) -> float:
        """The mean squared return over the window: the series' own long-run variance."""
        return max(self.square_sum, 0.0) / len(self.returns) if self.returns else 0.0

    def _moments(self, z: float, sign: float) -> None:
        z2 = z * z
        sums = self.z_sums
        sums[0] += sign * z
        sums[1] += sign * z2
        sums[2] += sign * z2 * z
        sums[3] += sign * z2 * z2

    def skew_kurtosis(self) -> tuple[float, float]:
        """Skewness and excess kurtosis of the standardised returns in the window (0, 0 while few)."""
        n = len(self.z)
        if n < MIN_TAIL_RETURNS:
            return 0.0, 0.0
        s1, s2, s3, s4 = (s / n for s in self.z_sums)
        var = s2 - s1 * s1
        if var <= 1e-12:
            return 0.0, 0.0
        m3 = s3 - 3 * s1 * s2 + 2 * s1**3
        m4 = s4 - 4 * s1 * s3 + 6 * s1 * s1 * s2 - 3 * s1**4
        return m3 / var**1.5, m4 / (var * var) - 3.0


def value_at_risk(
    method: VarMethod, p: float, horizon: int, sigma: float, x: Mapping[str, float | str]
) -> tuple[float, float]:
    """VaR and expected shortfall at tail probability ``p`` (0.05 or 0.01) over ``horizon`` periods,
    as loss fractions.

    ``sigma`` is the one-period volatility forecast (log returns) the parametric methods scale;
    ``x`` the features of :func:`risk_features` (tails and moments; normal ones while the window is
    short). Filtered historical simulation scales its standardised returns by the λ = 0.94 variance
    they were standardised by, whatever ``sigma`` says.
    """
    tail = TAILS[p]
    root_h = math.sqrt(horizon)
    if method == "historical":
        var, es = float(x[tail.keys[0]]), float(x[tail.keys[1]])
        return _loss(var * root_h), _loss(max(es, var) * root_h)
    if method == "filtered_historical":  # the returns were standardised by the λ = 0.94 forecast
        zq, zes = float(x[tail.keys[2]]), float(x[tail.keys[3]])
        own = math.sqrt(float(x[VARIANCE_KEYS[_DEFAULT_INDEX]])) * root_h
        return _loss(zq * own), _loss(max(zes, zq) * own)
    z = tail.z
    if method == "cornish_fisher":
        s = min(max(float(x["skewness"]), -CF_MAX_SKEW), CF_MAX_SKEW)  # where the expansion holds
        k = min(max(float(x["excess_kurtosis"]), 0.0), CF_MAX_KURTOSIS)
        z += (z * z - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s * s / 36
    var = -z * sigma * root_h
    return _loss(var), _loss(var * tail.es_ratio)


def _loss(log_loss: float) -> float:
    """A log-return loss as a fraction of value lost, in [0, 1)."""
    return 1.0 - math.exp(-max(log_loss, 0.0))


def risk_features(series: SeriesRisk, price: float) -> dict[str, float]:
    """The numeric features of one series after its latest price: variances, tails, moments, state.

    Tails are losses of one period's log return (``hist_``) or of a standardised one (``z_``), at
    5% and 1%; while the window is short they are the normal tails of the λ = 0.94 forecast.
    """
    x: dict[str, float] = dict(zip(VARIANCE_KEYS, series.variances(), strict=True))
    sigma = math.sqrt(x[VARIANCE_KEYS[_DEFAULT_INDEX]])
    returns, ordered_z = series.sorted_returns, series.sorted_z
    for tail in TAILS.values():
        hist_var, hist_es, z_var, z_es = tail.keys
        if len(returns) >= MIN_TAIL_RETURNS:
            x[hist_var], x[hist_es] = _tail(returns, tail.p)
        else:
            x[hist_var] = -tail.z * sigma
            x[hist_es] = x[hist_var] * tail.es_ratio
        if len(ordered_z) >= MIN_TAIL_RETURNS:
            x[z_var], x[z_es] = _tail(ordered_z, tail.p)
        else:
            x[z_var], x[z_es] = -tail.z, -tail.z * tail.es_ratio
    x["skewness"], x["excess_kurtosis"] = series.skew_kurtosis()
    x["long_run_var"] = series.long_run_variance()
    x["last_return"] = series.returns[-1] if series.returns else 0.0
    x["drawdown"] = 1.0 - price / series.peak if series.peak > 0 and price > 0 else 0.0
    x["periods_since_large_loss"] = float(series.since_large_loss)
    x["n_returns"] = float(series.n_returns)
    return x


def qlike(realised_var: float, forecast_var: float) -> float:
    """QLIKE loss ``RV/F - log(RV/F) - 1`` (0 at a perfect forecast); needs both positive."""
    ratio = realised_var / forecast_var
    return ratio - math.log(ratio) - 1.0


def kupiec_pof(exceedances: int, n: int, p: float) -> tuple[float, float]:
    """Kupiec's proportion-of-failures likelihood ratio and its chi-square(1) p-value."""
    if n <= 0:
        return math.nan, math.nan
    rate = exceedances / n

    def loglik(q: float) -> float:
        hits = exceedances * math.log(q) if exceedances else 0.0
        misses = (n - exceedances) * math.log(1 - q) if exceedances < n else 0.0
        return hits + misses

    lr = max(-2.0 * (loglik(p) - loglik(rate)), 0.0)
    return lr, math.erfc(math.sqrt(lr / 2.0))


class EwmaVolatilityModel:
    """Forecasts realised volatility over ``horizon`` periods from the features' EWMA variances.

    Each decay ``k`` keeps a variance scale ``s_k`` (an exponentially weighted mean of realised
    variance over its forecast, started at 1) and a running QLIKE of its scaled forecast; the
    forecast is ``sqrt(s_k · h · var_k)`` of the decay with the lowest running QLIKE, the default
    decay until ``warmup`` labels are learned. Deterministic; ``learn_one`` takes the realised
    volatility (square root of the summed squared log returns over the horizon).
    """

    def __init__(self, horizon: int, memory: int = 250, warmup: int = 50) -> None:
        self.horizon = horizon
        self.keys = VARIANCE_KEYS
        self.rate = 1.0 / memory
        self.warmup = warmup
        self.scales = [1.0] * len(LAMBDAS)
        self.losses = [0.0] * len(LAMBDAS)
        self.n_learned = 0

    def chosen(self) -> int:
        """The index in LAMBDAS of the decay forecasting now."""
        if self.n_learned < self.warmup:
            return LAMBDAS.index(DEFAULT_LAMBDA)
        return min(range(len(LAMBDAS)), key=self.losses.__getitem__)

    def chosen_lambda(self) -> float:
        """The decay forecasting now."""
        return LAMBDAS[self.chosen()]

    def predict_one(self, x: Mapping[str, float | str]) -> float:
        k = self.chosen()
        variance = x.get(self.keys[k], 0.0)
        return math.sqrt(max(self.scales[k] * self.horizon * float(variance), 0.0))

    def learn_one(self, x: Mapping[str, float | str], y: float) -> None:
        realised, rate, scales, losses = y * y, self.rate, self.scales, self.losses
        for k, key in enumerate(self.keys):
            forecast = self.horizon * float(x.get(key, 0.0))
            if not forecast > 0.0:
                continue
            scaled = scales[k] * forecast
            losses[k] += rate * (math.log(scaled) + realised / scaled - losses[k])
            ratio = realised / forecast
            scale = scales[k] + rate * ((ratio if ratio < 25.0 else 25.0) - scales[k])  # a crash day: capped
            scales[k] = 0.25 if scale < 0.25 else 4.0 if scale > 4.0 else scale
        self.n_learned += 1
