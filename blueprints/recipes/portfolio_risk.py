"""``portfolio_risk``: how volatile will this position or portfolio be over the horizon, and how much
could it lose (value at risk)?

Inputs (one price per position per period, long format): ``date`` (time, timestamp, trade_date,
trading_day...), ``asset`` (symbol, ticker, instrument, isin, portfolio_id, fund, account...),
``price`` (close, adj_close, nav, market_value, portfolio_value...) and optionally ``quantity``
(shares, qty, holding...) to state the VaR in money. Rows of a position must come in time order.

Features, per position, from its log returns (:mod:`~tracer.blueprints.engines.volatility`): EWMA
variances at decays 0.90/0.94/0.97/0.99 (RiskMetrics), the historical 5%/1% quantiles and tail
means of the last 250 returns, the same of the standardised returns ``r / σ`` (filtered historical
simulation), their skewness and excess kurtosis, the long-run variance, drawdown from the peak and
the periods since a return beyond the 1% normal tail. They do not depend on the parameters.

Model: :class:`~tracer.blueprints.engines.volatility.EwmaVolatilityModel`, the EWMA variance whose
running QLIKE is lowest (0.94 for the first 50 labels) times a scale learned from the outcomes,
over ``horizonPeriods`` by the square root of time. The label comes from the data itself: the
position's price ``horizonPeriods`` rows later settles the prediction with the realised volatility
over the horizon, ``sqrt(Σ r²)`` of the log returns in between (:meth:`PortfolioRisk.self_labels`).

Output (:class:`PortfolioRiskOutput`): ``volatility_forecast`` (the headline: the standard deviation
of the log return over the horizon, not annualised), ``value_at_risk_95``/``_99`` and
``expected_shortfall_95`` (loss fractions of value over the horizon, positive, by ``varMethod``:
Cornish-Fisher by default, the only method whose 1-day 95% and 99% exceedances passed Kupiec's test
on every file of ``bench/quality_portfolio.py``),
``value_at_risk_95_amount`` (with a quantity), ``risk_classification`` (the forecast against the
position's own long-run volatility: below 0.8x low, 0.8-1.25x medium, 1.25-2x high, above critical),
``risk_vectors`` (``volatility_rising``, ``recent_large_loss``, ``fat_tails``, ``negative_skew``,
``in_drawdown``), ``recommended_protocol`` (hold, monitor, reduce_exposure, hedge), ``confidence``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Final

import numpy as np
import pandas as pd
from pydantic import Field

from tracer.blueprints.base import (
    Blueprint,
    Features,
    InputSpec,
    LabelSpec,
    OnlineModel,
    OutputSpec,
    Params,
    ParamSpec,
    Record,
    Task,
)
from tracer.blueprints.engines.volatility import (
    VAR_METHODS,
    EwmaVolatilityModel,
    SeriesRisk,
    VarMethod,
    risk_features,
    value_at_risk,
    variance_key,
)
from tracer.blueprints.tasks import RiskLevel
from tracer.schemas.base import OutboundModel

__all__ = ["PortfolioRisk", "PortfolioRiskOutput", "PortfolioRiskState", "simulate_market"]

RISK_RATIOS: Final[tuple[tuple[float, RiskLevel], ...]] = ((2.0, "critical"), (1.25, "high"), (0.8, "medium"))
"""Forecast volatility / the position's long-run volatility at or above which each level starts."""
PROTOCOLS: Final[dict[RiskLevel, str]] = {
    "low": "hold", "medium": "monitor", "high": "reduce_exposure", "critical": "hedge",
}  # fmt: skip


class PortfolioRiskOutput(OutboundModel):
    """What ``portfolio_risk`` says about one position after one price."""

    volatility_forecast: Annotated[float, Field(ge=0)] = Field(
        description="Expected std of the log return over horizon_periods (not annualised)."
    )
    value_at_risk_95: Annotated[float, Field(ge=0, le=1)] = Field(
        description="Loss over the horizon exceeded with 5% probability, as a fraction of value."
    )
    value_at_risk_99: Annotated[float, Field(ge=0, le=1)]
    expected_shortfall_95: Annotated[float, Field(ge=0, le=1)] = Field(
        description="Mean loss fraction in the worst 5% of outcomes."
    )
    value_at_risk_95_amount: float | None = Field(
        description="value_at_risk_95 x price x quantity, if given."
    )
    risk_classification: RiskLevel
    risk_vectors: list[str]
    recommended_protocol: str
    confidence: Annotated[float, Field(ge=0, le=1)] = Field(
        description="Labels learned n/(n+100) x returns seen m/(m+30)."
    )
    horizon_periods: Annotated[int, Field(gt=0)]
    var_method: str


@dataclass
class _Position:
    risk: SeriesRisk = field(default_factory=SeriesRisk)
    periods: int = 0
    pending: deque[tuple[int, str]] = field(default_factory=deque)  # (period, prediction key)


@dataclass
class PortfolioRiskState:
    """Each position's risk state and the predictions waiting for their horizon."""

    positions: dict[str, _Position] = field(default_factory=dict)

    def position(self, asset: str) -> _Position:
        found = self.positions.get(asset)
        if found is None:
            found = self.positions[asset] = _Position()
        return found


_SYNONYMS_DATE = ("time", "timestamp", "datetime", "day", "trading_day", "trade_date", "as_of_date",
                  "asof_date", "valuation_date", "price_date", "pricing_date", "close_date")  # fmt: skip
_SYNONYMS_ASSET = ("symbol", "ticker", "asset_id", "instrument", "security", "security_id", "isin", "cusip",
                   "stock", "index", "index_name", "position_id", "portfolio", "portfolio_id", "fund",
                   "fund_id", "account")  # fmt: skip
_SYNONYMS_PRICE = ("close", "adj_close", "adjusted_close", "close_price", "closing_price", "price", "px_last",
                   "settle", "settlement_price", "nav", "nav_per_share", "unit_price", "share_price",
                   "market_value", "portfolio_value", "position_value", "fund_value")  # fmt: skip
_SYNONYMS_QUANTITY = ("shares", "qty", "shares_held", "quantity_held", "holdings", "position_size",
                      "nominal", "num_shares")  # fmt: skip


class PortfolioRisk(Blueprint[PortfolioRiskOutput, PortfolioRiskState]):
    """Volatility forecast and value at risk per position, labelled by the prices that follow."""

    id: ClassVar[str] = "portfolio_risk"
    name: ClassVar[str] = "Portfolio Risk (Volatility and VaR)"
    category: ClassVar[str] = "financial_risk"
    label_ttl_s: ClassVar[float] = 730 * 86_400.0  # horizonPeriods rows of daily, weekly or monthly prices
    use_case: ClassVar[str] = (
        "Risk desks and investors: after every price of a position or portfolio, its volatility over "
        "the horizon and its value at risk, learned online from what the prices did next."
    )
    task: ClassVar[Task] = "regression"
    required_inputs: ClassVar[tuple[InputSpec, ...]] = (
        InputSpec("date", "timestamp", "The period the price is for (its close).", _SYNONYMS_DATE),
        InputSpec("asset", "id", "The position, instrument or portfolio the price is of.", _SYNONYMS_ASSET),
        InputSpec(
            "price", "numeric", "Its price or value at the period's close (positive).", _SYNONYMS_PRICE
        ),
    )
    optional_inputs: ClassVar[tuple[InputSpec, ...]] = (
        InputSpec("quantity", "numeric", "Units held, to state the VaR in money.", _SYNONYMS_QUANTITY),
    )
    parameters: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("horizonPeriods", 1, "Periods (rows of the position) the risk is over.", (1, 5, 10, 20)),
        ParamSpec("varMethod", "cornish_fisher", "How VaR is computed from the returns.", VAR_METHODS),
    )
    feature_params = frozenset()  # both shape the model, the labels and the output, never the features
    self_labelling = True
    label: ClassVar[LabelSpec] = LabelSpec(
        description="Realised volatility over the horizon: sqrt of the summed squared log returns.",
        rule="self-labelled: the position's price horizonPeriods rows later settles the prediction",
        rule_needs=("date", "asset", "price"),
    )
    output: ClassVar[OutputSpec] = OutputSpec(
        model=PortfolioRiskOutput,
        kind="value",
        description="Volatility over the horizon, VaR 95/99 and expected shortfall, a risk level and drivers.",
        headline="volatility_forecast",
        range=(0.0, 10.0),
    )
    entity_input: ClassVar[str] = "asset"
    time_input: ClassVar[str | None] = "date"
    data_requirements: ClassVar[str] = (
        "One positive price (or portfolio value) per position per period, in long format: a date, a "
        "position id and the price; daily closes are typical. Historical VaR needs 30 returns of a "
        "position; a label arrives horizonPeriods rows later, and waits up to two years of event time "
        "(labels.ttl_seconds: enough for 20 months of monthly prices)."
    )

    def new_state(self, params: Params) -> PortfolioRiskState:
        return PortfolioRiskState()

    def scratch_state(self, state: PortfolioRiskState, record: Record) -> PortfolioRiskState:
        """The record's position only, without its pending predictions (featurize doesn't read them)."""
        found = state.positions.get(str(record["asset"]))
        if found is None:
            return PortfolioRiskState()
        return PortfolioRiskState({str(record["asset"]): _Position(found.risk.copy(), found.periods)})

    def featurize(self, record: Record, state: PortfolioRiskState, params: Params) -> Features:
        """The position's risk features after this price (which joins its history first)."""
        position = state.position(str(record["asset"]))
        price = float(record["price"])
        if price > 0.0:
            position.risk.update(price)
            position.periods += 1
        features: Features = dict(risk_features(position.risk, price))
        quantity = record.get("quantity")
        if quantity is not None and price > 0.0:
            features["position_value"] = price * float(quantity)
        return features

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        """Deterministic: ``seed`` changes nothing."""
        return EwmaVolatilityModel(_horizon(params))

    def label_of(self, record: Record, params: Params) -> float | None:
        """None: a price carries no outcome of its own; later prices settle it (``self_labels``)."""
        return None

    def self_labels(
        self, record: Record, state: PortfolioRiskState, params: Params
    ) -> list[tuple[str, float]]:
        """Settle the position's prediction made ``horizonPeriods`` prices ago with the realised
        volatility since, then queue this one. Called before ``featurize``; a non-positive price
        neither settles nor queues."""
        price = float(record["price"])
        if not price > 0.0:
            return []
        position = state.position(str(record["asset"]))
        horizon, now, risk = _horizon(params), position.periods, position.risk
        labels: list[tuple[str, float]] = []
        pending = position.pending
        while pending and pending[0][0] <= now - horizon:
            period, key = pending.popleft()
            if period == now - horizon and risk.last_price is not None:
                returns = risk.returns
                latest = math.log(price / risk.last_price)
                earlier = sum(returns[-i] ** 2 for i in range(1, min(horizon - 1, len(returns)) + 1))
                labels.append((key, math.sqrt(earlier + latest * latest)))
        pending.append((now, self.prediction_key(record)))
        return labels

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> PortfolioRiskOutput:
        """VaR and shortfall from the forecast and the tails; the level against the long-run volatility."""
        horizon = _horizon(params)
        method = _method(params)
        volatility = score if math.isfinite(score) and score > 0 else 0.0
        sigma = volatility / math.sqrt(horizon)
        var95, es95 = value_at_risk(method, 0.05, horizon, sigma, features)
        var99, _ = value_at_risk(method, 0.01, horizon, sigma, features)
        long_run = math.sqrt(float(features["long_run_var"]))
        ratio = sigma / long_run if long_run > 0 else 1.0
        risk: RiskLevel = next((level for cut, level in RISK_RATIOS if ratio >= cut), "low")
        value = features.get("position_value")
        learned = float(getattr(model, "n_learned", 0))
        seen = float(features["n_returns"])
        return PortfolioRiskOutput(
            volatility_forecast=min(volatility, 10.0),
            value_at_risk_95=var95,
            value_at_risk_99=max(var99, var95),
            expected_shortfall_95=max(es95, var95),
            value_at_risk_95_amount=None if value is None else var95 * float(value),
            risk_classification=risk,
            risk_vectors=_risk_vectors(features),
            recommended_protocol=PROTOCOLS[risk],
            confidence=learned / (learned + 100.0) * seen / (seen + 30.0),
            horizon_periods=horizon,
            var_method=method,
        )

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Daily closes of four assets in long format (see :func:`simulate_market`), without the
        planted volatility: ``date``, ``ticker``, ``close``, ``shares`` (a trade every ~50 days, 3%
        blank), and ``sector`` and ``exchange``, which the recipe doesn't read."""
        days = -(-n_rows // len(_ASSETS))
        return simulate_market(days, seed).drop(columns=["true_sigma"]).head(n_rows).reset_index(drop=True)


def _horizon(params: Params) -> int:
    return int(float(params.get("horizonPeriods", 1) or 1))


def _method(params: Params) -> VarMethod:
    wanted = params.get("varMethod", VAR_METHODS[0])
    return next((method for method in VAR_METHODS if method == wanted), VAR_METHODS[0])


_FAST, _SLOW = variance_key(0.90), variance_key(0.97)


def _risk_vectors(x: Features) -> list[str]:
    """The drivers in words, by a fixed rule each (see the module docstring)."""
    vectors = []
    if float(x[_FAST]) > 1.2 * float(x[_SLOW]) > 0:
        vectors.append("volatility_rising")
    if float(x["periods_since_large_loss"]) < 5:
        vectors.append("recent_large_loss")
    if float(x["excess_kurtosis"]) > 1.0:
        vectors.append("fat_tails")
    if float(x["skewness"]) < -0.5:
        vectors.append("negative_skew")
    if float(x["drawdown"]) > 0.10:
        vectors.append("in_drawdown")
    return vectors


_ASSETS: Final = (  # ticker, sector, start price, GARCH omega (daily var), alpha, beta
    ("NRDX", "technology", 180.0, 4e-6, 0.09, 0.89),
    ("HLTH", "healthcare", 95.0, 2e-6, 0.07, 0.91),
    ("ENRG", "energy", 60.0, 6e-6, 0.10, 0.87),
    ("UTLY", "utilities", 40.0, 1e-6, 0.06, 0.925),
)
CRASH_SHARE: Final = (0.55, 0.58)
"""The share of the span over which the sample's market crashes (all assets at once)."""


def simulate_market(days: int, seed: int) -> pd.DataFrame:
    """Business-day closes of four assets with GARCH(1,1) volatility clustering, Student-t(5) shocks
    (fat tails) half shared by the market, and a crash over :data:`CRASH_SHARE` of the span (the
    variance jumps 9x as it starts, and prices drift down 1% a day). ``true_sigma`` is each row's
    planted volatility of the next day's log return, known at its close: what a forecast should find."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(5, size=(days, len(_ASSETS) + 1)) / math.sqrt(5 / 3)  # unit variance
    start, end = int(CRASH_SHARE[0] * days), max(int(CRASH_SHARE[1] * days), int(CRASH_SHARE[0] * days) + 1)
    dates = pd.bdate_range("2019-01-02", periods=days).strftime("%Y-%m-%d")
    frames: list[pd.DataFrame] = []
    for column, (ticker, sector, first, omega, alpha, beta) in enumerate(_ASSETS):
        variance = omega / (1 - alpha - beta)
        log_price, closes, sigmas = math.log(first), np.empty(days), np.empty(days)
        for day in range(days):
            variance *= 9.0 if day == start else 1.0
            shock = 0.7 * shocks[day, 0] + 0.714 * shocks[day, column + 1]
            r = math.sqrt(variance) * shock + (-0.01 if start <= day < end else 0.0003)
            log_price += r
            closes[day] = math.exp(log_price)
            variance = min(omega + alpha * r * r + beta * variance, 0.01)
            sigmas[day] = math.sqrt(variance * (9.0 if day + 1 == start else 1.0))  # of the next return
        held = 100.0 * np.cumsum(rng.random(days) < 0.02) + 100.0  # a trade every ~50 days
        shares = np.where(rng.random(days) < 0.03, np.nan, held)
        frames.append(pd.DataFrame({"date": dates, "ticker": ticker, "close": closes.round(4),
                                    "shares": shares, "sector": sector, "exchange": "XNAS",
                                    "true_sigma": sigmas}))  # fmt: skip
    frame: Any = pd.concat(frames).sort_values(["date", "ticker"], kind="stable")
    return frame.reset_index(drop=True)
