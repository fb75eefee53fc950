"""``yield_optimization``: which pool will pay the best risk-adjusted APY over the horizon?

Question: for every snapshot of a DeFi yield pool, the risk-adjusted APY it will actually pay over
the next ``horizonHours``; the pool with the highest ``expected_apy`` at a time is the one to be in.

Inputs (pool snapshots, :class:`~tracer.schemas.pool_snapshot.PoolSnapshot`, synonyms after the
wire name): ``ts`` (timestamp, snapshot_time), ``protocol`` (project, dex, platform), ``pool``
(pool_id, pool_address, vault, farm), ``apy`` (total_apy, apy_total, apr), ``tvlUsd`` (tvl,
tvl_usd, total_value_locked), ``utilization`` (utilisation, utilization_rate, borrow_utilization)
and ``rewardTokenPrice`` (reward_token_price, reward_price, incentive_token_price); optional
``apyBase`` and ``apyReward`` (DefiLlama's names: the APY split into fees/interest and incentives).

Features, per pool against its own history: the APY now, its gap to the pool's EMA, its last change
and volatility; utilisation and its gap to its EMA (spikes revert); TVL flows (log change over one
snapshot and against the TVL's EMA: inflows dilute rewards); the reward token's price trend (its
incentives are worth what the token is); the rewards' share of the APY; and the APY's gap to the
market (every pool's EMA). APY alone is a poor guide: these decide whether it lasts.

Model: :class:`~tracer.blueprints.engines.residual.ResidualRegressor`: a standard-scaled online
linear regression of the change from the APY now, so it starts at "the APY lasts" (the baseline).

Label (self-labelled): the mean APY the pool's later snapshots quote up to and including the first
one at or after ``ts + horizonHours``, minus ``riskAversion`` times their standard deviation.

Output fields (stable): ``expected_apy`` (headline, percent), ``current_apy``, ``apy_change``,
``risk_classification`` (how much of the APY is expected to fade), ``risk_vectors`` (why, in plain
words), ``recommended_protocol`` (allocate_more / hold / reduce_exposure / rotate_out),
``confidence`` and ``horizon_hours``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

import numpy as np
import pandas as pd
from pydantic import Field
from river import linear_model, optim

from tracer.blueprints.actions import RiskLevel, by_risk
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
)  # fmt: skip
from tracer.blueprints.engines.models import RiverRegressor, ScaleAndEncode
from tracer.blueprints.engines.residual import ResidualRegressor
from tracer.schemas.base import OutboundModel
from tracer.schemas.pool_snapshot import PoolSnapshot

__all__ = ["FEATURE_NAMES", "YieldOptimization", "YieldOutput", "YieldState"]

FEATURE_NAMES: tuple[str, ...] = (
    "apy", "apy_vs_ema", "apy_change_1", "apy_volatility", "utilization", "utilization_vs_ema",
    "tvl_flow_1", "tvl_vs_ema", "log_tvl", "reward_price_trend", "reward_price_return_1",
    "reward_share", "apy_vs_market",
)  # fmt: skip
_ALPHA = 2.0 / 25.0  # span-24 EMA: a day of hourly snapshots
_MARKET_ALPHA = 0.01
MAX_PENDING_PER_POOL = 5_000
PROTOCOLS = by_risk(low="allocate_more", medium="hold", high="reduce_exposure", critical="rotate_out")
_FADE_LEVELS: tuple[tuple[float, RiskLevel], ...] = ((0.4, "critical"), (0.2, "high"), (0.05, "medium"))


class YieldOutput(OutboundModel):
    """One pool snapshot's outlook, as published in ``Prediction.output``."""

    expected_apy: float = Field(description="Risk-adjusted APY expected over horizon_hours, percent.")
    current_apy: float = Field(description="The APY the snapshot quotes, percent.")
    apy_change: float = Field(description="expected_apy - current_apy, percentage points.")
    risk_classification: RiskLevel = Field(description="Share of the APY expected to fade: 5, 20, 40 % up.")
    risk_vectors: list[str] = Field(description="Why the APY may not last, strongest first.")
    recommended_protocol: str = Field(description="What to do with capital in this pool.")
    confidence: float = Field(ge=0, le=1, description="n / (n + 100), n labels learned.")
    horizon_hours: int = Field(gt=0)


class _Pending(NamedTuple):
    ts_ms: int
    total: float
    squares: float
    n: int
    key: str


@dataclass
class _PoolState:
    apy: float | None = None
    apy_ema: float = 0.0
    apy_var: float = 0.0
    util_ema: float = 0.0
    tvl: float = 0.0
    log_tvl_ema: float = 0.0
    log_price_ema: float = 0.0
    price: float = 0.0
    total: float = 0.0  # running sums of every APY seen, for the labels
    squares: float = 0.0
    count: int = 0
    pending: list[_Pending] = field(default_factory=list)


@dataclass
class YieldState:
    """Per-pool history for the features and labels, and the market's mean APY."""

    pools: dict[str, _PoolState] = field(default_factory=dict)
    market_apy: float | None = None

    def pool(self, name: str) -> _PoolState:
        """``name``'s history, started empty the first time it is seen."""
        found = self.pools.get(name)
        if found is None:
            found = self.pools[name] = _PoolState()
        return found


def _num(record: Record, name: str) -> float:
    value = record.get(name)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else 0.0


def _log(value: float) -> float:
    return math.log(value) if value > 0 else 0.0


class YieldOptimization(Blueprint[YieldOutput, YieldState]):
    """Risk-adjusted APY per pool over a horizon, labelled by the pools' later snapshots."""

    id: ClassVar[str] = "yield_optimization"
    name: ClassVar[str] = "Yield Optimizer"
    category: ClassVar[str] = "crypto_defi"
    use_case: ClassVar[str] = (
        "Score every pool snapshot with the risk-adjusted APY it will pay over the horizon, so capital "
        "goes to the pool whose yield lasts rather than the one quoting the highest APY now."
    )
    task: ClassVar[Task] = "regression"
    required_inputs: ClassVar[tuple[InputSpec, ...]] = (
        InputSpec("ts", "timestamp", "Snapshot time (ms epoch on the wire).",
                  ("timestamp", "time", "datetime", "snapshot_time", "snapshot_ts", "block_time")),
        InputSpec("protocol", "categorical", "The DeFi protocol running the pool.",
                  ("project", "protocol_name", "dex", "platform", "defi_protocol")),
        InputSpec("pool", "id", "The pool (market, vault or farm).",
                  ("pool_id", "pool_address", "pool_name", "vault", "farm", "pool_symbol")),
        InputSpec("apy", "numeric", "Total APY quoted now, percent.",
                  ("total_apy", "apy_total", "apy_pct", "apr", "current_apy", "supply_apy")),
        InputSpec("tvlUsd", "numeric", "Total value locked, USD.",
                  ("tvl", "tvl_usd", "total_value_locked", "pool_tvl", "liquidity_usd")),
        InputSpec("utilization", "numeric", "Borrowed / supplied, 0..1.",
                  ("utilisation", "utilization_rate", "utilisation_rate", "borrow_utilization", "util")),
        InputSpec("rewardTokenPrice", "numeric", "USD price of the reward token.",
                  ("reward_token_price", "reward_price", "incentive_token_price", "reward_token_usd")),
    )  # fmt: skip
    optional_inputs: ClassVar[tuple[InputSpec, ...]] = (
        InputSpec("apyBase", "numeric", "APY from fees or interest.", ("apy_base", "base_apy", "fee_apy")),
        InputSpec("apyReward", "numeric", "APY from incentives.", ("apy_reward", "reward_apy", "incentive_apy")),
    )  # fmt: skip
    parameters: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("horizonHours", 24, "How far ahead the APY is judged.", (6, 24, 72, 168)),
        ParamSpec(
            "riskAversion", 0.5, "Standard deviations of APY over the horizon taken off.", (0.0, 0.5, 1.0)
        ),
    )
    feature_params = frozenset()  # both parameters only settle labels
    self_labelling = True
    input_schema = PoolSnapshot
    label_ttl_s: ClassVar[float] = 10 * 24 * 3600.0  # the longest horizon is a week
    label: ClassVar[LabelSpec] = LabelSpec(
        description="Mean APY over the horizon minus riskAversion x its standard deviation, percent.",
        rule=(
            "self-labelled: the pool's later snapshots up to the first at or after ts + horizonHours; "
            "their mean APY minus riskAversion x their standard deviation"
        ),
    )
    output: ClassVar[OutputSpec] = OutputSpec(
        model=YieldOutput,
        kind="value",
        description="Risk-adjusted APY expected over horizonHours, with the protocol to follow.",
        headline="expected_apy",
    )
    entity_input: ClassVar[str] = "pool"
    time_input: ClassVar[str | None] = "ts"
    data_requirements: ClassVar[str] = (
        "Snapshots of several pools over time (hourly or so), ordered in time per pool, each with "
        "APY, TVL, utilisation and the reward token's price."
    )

    def new_state(self, params: Params) -> YieldState:
        """No pool seen yet."""
        return YieldState()

    def featurize(self, record: Record, state: YieldState, params: Params) -> Features:
        """Features of one snapshot against its pool's history; then the snapshot joins it."""
        pool = state.pool(str(record["pool"]))
        apy, util, tvl, price = (
            _num(record, n) for n in ("apy", "utilization", "tvlUsd", "rewardTokenPrice")
        )
        log_tvl, log_price = _log(tvl), _log(price)
        first = pool.apy is None
        if first:
            pool.apy_ema, pool.util_ema, pool.log_tvl_ema, pool.log_price_ema = apy, util, log_tvl, log_price
            pool.tvl, pool.price = tvl, price
        market = apy if state.market_apy is None else state.market_apy
        change = 0.0 if pool.apy is None else apy - pool.apy
        reward = record.get("apyReward")
        features: Features = {
            "apy": apy,
            "apy_vs_ema": apy - pool.apy_ema,
            "apy_change_1": change,
            "apy_volatility": math.sqrt(pool.apy_var),
            "utilization": util,
            "utilization_vs_ema": util - pool.util_ema,
            "tvl_flow_1": log_tvl - _log(pool.tvl) if tvl > 0 and pool.tvl > 0 else 0.0,
            "tvl_vs_ema": log_tvl - pool.log_tvl_ema if tvl > 0 else 0.0,
            "log_tvl": log_tvl,
            "reward_price_trend": log_price - pool.log_price_ema if price > 0 else 0.0,
            "reward_price_return_1": log_price - _log(pool.price) if price > 0 and pool.price > 0 else 0.0,
            "reward_share": min(max(float(reward) / apy, 0.0), 1.0)
            if isinstance(reward, int | float) and apy > 0
            else 0.0,
            "apy_vs_market": apy - market,
        }
        pool.apy_var = (1 - _ALPHA) * (pool.apy_var + _ALPHA * change * change)
        pool.apy_ema += _ALPHA * (apy - pool.apy_ema)
        pool.util_ema += _ALPHA * (util - pool.util_ema)
        if tvl > 0:
            pool.log_tvl_ema += _ALPHA * (log_tvl - pool.log_tvl_ema)
            pool.tvl = tvl
        if price > 0:
            pool.log_price_ema += _ALPHA * (log_price - pool.log_price_ema)
            pool.price = price
        pool.apy = apy
        state.market_apy = market + _MARKET_ALPHA * (apy - market)
        return features

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        """Scaled online linear regression of the APY's change (deterministic: ``seed`` is unused)."""
        inner = RiverRegressor(
            ScaleAndEncode()
            | linear_model.LinearRegression(
                optimizer=optim.SGD(0.005), l2=1e-4, intercept_lr=0.005, clip_gradient=1.0
            )
        )
        return ResidualRegressor(inner, anchor="apy")

    def label_of(self, record: Record, params: Params) -> float | None:
        """None: later snapshots of the pool settle each prediction (``self_labels``)."""
        return None

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> YieldOutput:
        """The expected APY, how much of the current one fades, why, and what to do."""
        current = float(features.get("apy") or 0.0)
        expected = score if math.isfinite(score) else current
        fade = (current - expected) / abs(current) if current else 0.0
        risk: RiskLevel = next((level for cut, level in _FADE_LEVELS if fade >= cut), "low")
        learned = float(getattr(model, "n_learned", 0))
        return YieldOutput(
            expected_apy=expected,
            current_apy=current,
            apy_change=expected - current,
            risk_classification=risk,
            risk_vectors=_fading_reasons(features) if fade > 0 else [],
            recommended_protocol=PROTOCOLS[risk],
            confidence=learned / (learned + 100.0),
            horizon_hours=int(float(params.get("horizonHours", 24))),
        )

    def self_labels(self, record: Record, state: YieldState, params: Params) -> list[tuple[str, float]]:
        """This snapshot's APY joins the pool's sums; predictions whose horizon it reaches settle."""
        pool = state.pool(str(record["pool"]))
        ts_ms = round(float(record["ts"]) * 1000)
        apy = _num(record, "apy")
        pool.total, pool.squares, pool.count = pool.total + apy, pool.squares + apy * apy, pool.count + 1
        cutoff = ts_ms - int(float(params.get("horizonHours", 24)) * 3_600_000)
        aversion = float(params.get("riskAversion", 0.5) or 0.0)
        due = 0
        while due < len(pool.pending) and pool.pending[due].ts_ms <= cutoff:
            due += 1
        labels: list[tuple[str, float]] = []
        for earlier in pool.pending[:due]:
            n = pool.count - earlier.n
            mean = (pool.total - earlier.total) / n
            variance = max((pool.squares - earlier.squares) / n - mean * mean, 0.0)
            labels.append((earlier.key, mean - aversion * math.sqrt(variance)))
        del pool.pending[:due]
        pool.pending.append(
            _Pending(ts_ms, pool.total, pool.squares, pool.count, self.prediction_key(record))
        )
        if len(pool.pending) > MAX_PENDING_PER_POOL:
            del pool.pending[0]
        return labels

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Hourly snapshots of eight pools; see :func:`_sample_pool` for the planted dynamics."""
        rng = np.random.default_rng(seed)
        steps = -(-n_rows // len(_POOLS))
        ts = _START_MS + 3_600_000 * np.arange(steps, dtype=np.int64)
        frames = [
            pd.DataFrame({"ts": ts, "protocol": proto, "pool": f"{proto}:{asset}", "chain": "Ethereum",
                          "symbol": asset, **_sample_pool(rng, steps, *shape)})
            for proto, asset, *shape in _POOLS
        ]  # fmt: skip
        frame = pd.concat(frames).sort_values(["ts", "pool"], kind="stable").head(n_rows)
        frame.loc[rng.random(len(frame)) < 0.02, "apyBase"] = np.nan  # some feeds omit the split
        return frame.reset_index(drop=True)


def _fading_reasons(features: Features) -> list[str]:
    """Plain-words reasons an APY may fade, strongest first (at most three)."""
    signals = {
        "utilisation_spike": float(features["utilization_vs_ema"] or 0.0) / 0.05,
        "apy_spike": float(features["apy_vs_ema"] or 0.0)
        / max(float(features["apy_volatility"] or 0.0), 0.5),
        "tvl_inflow_diluting_rewards": float(features["tvl_vs_ema"] or 0.0) / 0.05,
        "reward_token_falling": -float(features["reward_price_trend"] or 0.0) / 0.05,
        "apy_far_above_market": float(features["apy_vs_market"] or 0.0) / 5.0,
    }
    ranked = sorted(((v, k) for k, v in signals.items() if v >= 1.0), reverse=True)
    return [name for _, name in ranked[:3]]


_START_MS = 1_696_723_200_000
# protocol, asset, mean utilisation, reward tokens a year (thousands), reward token start price, TVL (M USD)
_POOLS: tuple[tuple[str, str, float, float, float, float], ...] = (
    ("aave-v3", "USDC", 0.80, 0.0, 95.0, 400.0),
    ("aave-v3", "WETH", 0.45, 20.0, 95.0, 900.0),
    ("compound-v3", "USDT", 0.75, 200.0, 50.0, 250.0),
    ("morpho-blue", "DAI", 0.82, 3_000.0, 1.5, 120.0),
    ("curve-dex", "3pool", 0.0, 8_000.0, 0.6, 300.0),
    ("convex-finance", "frxETH", 0.0, 1_500.0, 3.0, 80.0),
    ("pendle", "stETH", 0.0, 1_200.0, 2.0, 60.0),
    ("yearn-finance", "crvUSD", 0.60, 600.0, 6.0, 40.0),
)


def _sample_pool(
    rng: np.random.Generator, steps: int, util_mean: float, emissions_k: float, price0: float, tvl_m: float
) -> dict[str, np.ndarray]:
    """One pool's hourly path, with three planted effects a model can learn:

    - utilisation spikes revert (half-life ~10 h), and interest follows a kinked rate curve, so a
      spike's APY does not last;
    - the reward token's price has momentum (its drift persists ~2 days), so a falling token's
      incentive APY keeps falling;
    - capital chases yield: TVL flows in while the APY is above the pool's norm, diluting rewards.
    """
    util, drift, log_price, log_tvl = util_mean, 0.0, math.log(price0), math.log(tvl_m * 1e6)
    tvl_target, apy_norm = log_tvl, None
    out = {
        name: np.empty(steps)
        for name in ("apy", "tvlUsd", "utilization", "rewardTokenPrice", "apyBase", "apyReward")
    }
    shocks = rng.standard_normal((4, steps))
    for t in range(steps):
        if util_mean > 0:
            spike = 0.12 * (rng.random() < 0.02)
            util = min(max(util_mean + 0.93 * (util - util_mean) + 0.01 * shocks[0, t] + spike, 0.01), 0.99)
        borrow = 2.0 + 8.0 * min(util, 0.8) / 0.8 + 120.0 * max(util - 0.8, 0.0)
        base = borrow * util * 0.9 if util_mean > 0 else 1.5 + 0.3 * shocks[0, t]
        drift = 0.98 * drift + 0.002 * shocks[1, t]
        log_price += drift + 0.01 * shocks[2, t]
        reward = emissions_k * 1e3 * math.exp(log_price) / math.exp(log_tvl) * 100.0
        apy = base + reward
        apy_norm = apy if apy_norm is None else apy_norm + 0.02 * (apy - apy_norm)
        tvl_target += 0.004 * (apy - apy_norm)
        log_tvl += 0.1 * (tvl_target - log_tvl) + 0.003 * shocks[3, t]
        for name, value in (("apy", apy), ("tvlUsd", math.exp(log_tvl)), ("utilization", util if util_mean else 0.0),
                            ("rewardTokenPrice", math.exp(log_price)), ("apyBase", base), ("apyReward", reward)):  # fmt: skip
            out[name][t] = value
    return {name: np.round(values, 6 if name != "tvlUsd" else 0) for name, values in out.items()}
