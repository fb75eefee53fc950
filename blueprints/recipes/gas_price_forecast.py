"""``gas_price_forecast``: what will the base fee be ``horizonBlocks`` blocks from now?

Question: the base fee per gas of an EIP-1559 chain over the next blocks (1, 5 or 25), so a wallet or
a bot knows whether to send now, wait, or raise its max fee.

Inputs (block snapshots, :class:`~tracer.schemas.block_snapshot.BlockSnapshot`; synonyms in brackets):
``number`` (block_number, block_height), ``timestamp`` (block_timestamp, block_time), ``baseFeePerGas``
(base_fee_per_gas, base_fee_gwei), ``gasUsed`` (gas_used), ``gasLimit`` (gas_limit); optionally
``priorityFeePerGas`` (median_priority_fee, priority_fee_gwei), ``transactionCount`` (tx_count) and
``chain`` (network, chain_id). Fees in gwei or wei, consistently; outputs are in the same unit.

Features, per chain: the EIP-1559 step of this block (``formula_change_pct``: the next base fee is
known exactly, ``base × (1 + (used − target) / target / 8)`` with target = limit / 2), the block's
excess use over target and its fast and slow exponential means (congestion persists), the base fee's
change over 5 blocks and its distance from a slow average, the log base fee, the priority fee relative
to the base fee (tips lead demand) and the log transaction count.

Model: an online linear regression (standard-scaled) of the *residual* of the EIP-1559 baseline:
``100 × ln(base fee at n + horizon / formula's next base fee)``; zero weights give the baseline.

Label: self-labelled. A later block of the same chain numbered at least ``n + horizonBlocks`` (at most
twice the horizon later) settles block ``n``'s prediction (:meth:`GasPriceForecast.self_labels`).

Output (:class:`GasPriceForecastOutput`): ``predicted_base_fee`` (headline), ``next_block_base_fee``
(the formula's), ``expected_change_pct``, ``horizon_blocks``, ``fee_trend``, ``risk_classification``
(of fees rising), ``risk_vectors``, ``recommended_protocol`` and ``confidence``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import ClassVar, Literal

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
)
from tracer.blueprints.engines.models import RiverRegressor, ScaleAndEncode
from tracer.blueprints.protocols import offers_experience
from tracer.schemas.base import OutboundModel
from tracer.schemas.block_snapshot import BlockSnapshot

__all__ = [
    "FEATURE_NAMES", "WIRE_NAMES", "GasPriceForecast", "GasPriceForecastOutput", "GasState", "eip1559_next",
    "wire_records",
]  # fmt: skip

FEATURE_NAMES: tuple[str, ...] = (
    "formula_change_pct", "excess_use", "excess_use_fast", "excess_use_slow", "base_change_5_pct",
    "base_vs_average_pct", "log_base_fee", "priority_fee_log_ratio", "log_transactions",
)  # fmt: skip
_FAST, _SLOW, _AVERAGE = 0.3, 0.05, 0.01  # exponential weights per block
_DEFAULT_CHAIN = "chain"
_TREND_PCT = 2.0  # |expected change| below this is "stable"
_RISK_CUTS: tuple[tuple[float, RiskLevel], ...] = ((10.0, "critical"), (2.0, "high"), (-2.0, "medium"))
DRIVERS: dict[str, str] = {
    "formula_change_pct": "block_over_target",
    "excess_use_fast": "blocks_congested",
    "excess_use_slow": "sustained_congestion",
    "base_change_5_pct": "base_fee_rising",
    "priority_fee_log_ratio": "tips_rising",
}


def eip1559_next(base_fee: float, gas_used: float, gas_limit: float) -> float:
    """The next block's base fee under EIP-1559 (elasticity 2, change denominator 8).

    >>> eip1559_next(100.0, 30e6, 30e6), eip1559_next(100.0, 0.0, 30e6), eip1559_next(100.0, 15e6, 30e6)
    (112.5, 87.5, 100.0)
    """
    target = gas_limit / 2.0
    excess = min(max((gas_used - target) / target, -1.0), 1.0) if target > 0 else 0.0
    return base_fee * (1.0 + excess / 8.0)


class GasPriceForecastOutput(OutboundModel):
    """What one block's forecast says."""

    predicted_base_fee: float = Field(ge=0, description="Base fee expected horizon_blocks after this block.")
    next_block_base_fee: float = Field(ge=0, description="The next block's base fee by the EIP-1559 formula.")
    expected_change_pct: float = Field(description="predicted_base_fee against this block's base fee, in %.")
    horizon_blocks: int = Field(gt=0)
    fee_trend: Literal["rising", "falling", "stable"]
    risk_classification: RiskLevel = Field(
        description="Of fees rising: low falling, medium stable, up from +2%, +10%."
    )
    risk_vectors: list[str] = Field(description="What pushes the fee up, in plain words, strongest first.")
    recommended_protocol: str = Field(description="wait_for_lower_fees, submit_now or raise_max_fee.")
    confidence: float = Field(ge=0, le=1, description="n / (n + 100), n settled forecasts learned.")


@dataclass
class _Chain:
    bases: deque[float] = field(default_factory=lambda: deque(maxlen=6))
    fast: float = 0.0
    slow: float = 0.0
    log_average: float | None = None
    pending: deque[tuple[int, str, float]] = field(default_factory=deque)  # number, key, formula's next


@dataclass
class GasState:
    """Per-chain history for the features, and each chain's forecasts waiting for their block."""

    chains: dict[str, _Chain] = field(default_factory=dict)
    dropped: int = 0

    def chain(self, name: str) -> _Chain:
        found = self.chains.get(name)
        if found is None:
            found = self.chains[name] = _Chain()
        return found


def _chain_of(record: Record) -> str:
    chain = record.get("chain")
    return str(chain) if chain is not None and str(chain) else _DEFAULT_CHAIN


def _fee(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) and value >= 0 else None


class GasPriceForecast(Blueprint[GasPriceForecastOutput, GasState]):
    """Base fee forecast per block, labelled by the chain's later blocks."""

    id: ClassVar[str] = "gas_price_forecast"
    name: ClassVar[str] = "Gas Price Forecaster"
    category: ClassVar[str] = "crypto_defi"
    use_case: ClassVar[str] = (
        "Forecast the base fee a few blocks ahead from each block's fee market, beating the EIP-1559 "
        "formula held flat, so transactions go out when gas is cheap."
    )
    task: ClassVar[Task] = "regression"
    required_inputs: ClassVar[tuple[InputSpec, ...]] = (
        InputSpec("number", "id", "Block number.", ("block_number", "blocknumber", "block_height", "block_num", "height", "block")),
        InputSpec("timestamp", "timestamp", "Block time.", ("block_timestamp", "block_time", "block_ts", "time", "ts")),
        InputSpec("baseFeePerGas", "numeric", "Base fee per gas (gwei or wei).",
                  ("base_fee_per_gas", "base_fee", "basefee", "base_fee_gwei", "base_fee_wei", "basefeepergas")),
        InputSpec("gasUsed", "numeric", "Gas used by the block.", ("gas_used", "block_gas_used", "gasused")),
        InputSpec("gasLimit", "numeric", "The block's gas limit.", ("gas_limit", "block_gas_limit", "gaslimit")),
    )  # fmt: skip
    optional_inputs: ClassVar[tuple[InputSpec, ...]] = (
        InputSpec("priorityFeePerGas", "numeric", "Median priority fee (tip) per gas.",
                  ("priority_fee_per_gas", "median_priority_fee", "priority_fee", "priority_fee_gwei",
                   "max_priority_fee_per_gas", "tip_gwei", "median_tip")),
        InputSpec("transactionCount", "numeric", "Transactions in the block.",
                  ("transaction_count", "tx_count", "txn_count", "num_transactions", "transactions")),
        InputSpec("chain", "id", "Chain (one fee market each).", ("network", "chain_id", "chain_name", "blockchain")),
    )  # fmt: skip
    parameters: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("horizonBlocks", 5, "How many blocks ahead the base fee is forecast.", (1, 5, 25)),
    )
    feature_params = frozenset()  # the horizon only settles labels
    self_labelling = True
    input_schema = BlockSnapshot
    label: ClassVar[LabelSpec] = LabelSpec(
        description="100 x ln(base fee horizonBlocks later / the EIP-1559 formula's next base fee).",
        rule="self-labelled: the chain's first later block numbered at least n + horizonBlocks (within 2x)",
    )
    output: ClassVar[OutputSpec] = OutputSpec(
        model=GasPriceForecastOutput,
        kind="value",
        description="Base fee expected horizonBlocks ahead, with the formula's next fee and what to do.",
        headline="predicted_base_fee",
    )
    entity_input: ClassVar[str] = "number"
    time_input: ClassVar[str | None] = "timestamp"
    data_requirements: ClassVar[str] = "Consecutive blocks of each chain, in order (a few hundred to learn)."
    protocols = by_risk(
        low="wait_for_lower_fees", medium="submit_now", high="submit_now", critical="raise_max_fee"
    )

    def new_state(self, params: Params) -> GasState:
        return GasState()

    def scratch_state(self, state: GasState, record: Record) -> GasState:
        """The record's chain's history only (its pending forecasts stay behind)."""
        chain = state.chains.get(_chain_of(record))
        if chain is None:
            return GasState()
        copy = _Chain(
            deque(chain.bases, maxlen=chain.bases.maxlen), chain.fast, chain.slow, chain.log_average
        )
        return GasState({_chain_of(record): copy})

    def featurize(self, record: Record, state: GasState, params: Params) -> Features:
        """Features of one block against its chain's history; then the block joins the history."""
        chain = state.chain(_chain_of(record))
        base = max(float(record["baseFeePerGas"]), 1e-12)
        limit = float(record["gasLimit"])
        target = limit / 2.0
        excess = min(max((float(record["gasUsed"]) - target) / target, -1.0), 1.0) if target > 0 else 0.0
        log_base = math.log(base)
        first = chain.log_average is None
        chain.fast = excess if first else chain.fast + _FAST * (excess - chain.fast)
        chain.slow = excess if first else chain.slow + _SLOW * (excess - chain.slow)
        chain.log_average = (
            log_base
            if chain.log_average is None
            else chain.log_average + _AVERAGE * (log_base - chain.log_average)
        )
        earlier = chain.bases[0] if chain.bases else base
        tip = _fee(record.get("priorityFeePerGas"))
        count = _fee(record.get("transactionCount"))
        chain.bases.append(base)
        return {
            "formula_change_pct": 100.0 * excess / 8.0,
            "excess_use": excess,
            "excess_use_fast": chain.fast,
            "excess_use_slow": chain.slow,
            "base_change_5_pct": 100.0 * math.log(base / earlier),
            "base_vs_average_pct": 100.0 * (log_base - chain.log_average),
            "log_base_fee": log_base,
            "priority_fee_log_ratio": math.log(max(tip / base, 1e-4)) if tip is not None else 0.0,
            "log_transactions": math.log1p(count) if count is not None else 0.0,
        }

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        """Scaled online linear regression of the formula's residual (deterministic: ``seed`` unused)."""
        return RiverRegressor(
            ScaleAndEncode()
            | linear_model.LinearRegression(optimizer=optim.SGD(0.005), l2=1e-4, intercept_lr=0.005)
        )

    def label_of(self, record: Record, params: Params) -> float | None:
        """None: later blocks settle each forecast (``self_labels``)."""
        return None

    def self_labels(self, record: Record, state: GasState, params: Params) -> list[tuple[str, float]]:
        """Settle the chain's forecasts this block reaches; then queue this block's."""
        chain = state.chain(_chain_of(record))
        number, horizon = _number(record), _horizon(params)
        base = max(float(record["baseFeePerGas"]), 1e-12)
        labels: list[tuple[str, float]] = []
        pending = chain.pending
        while pending and pending[0][0] <= number - horizon:
            earlier, key, formula_next = pending.popleft()
            if number - earlier <= 2 * horizon:
                labels.append((key, 100.0 * math.log(base / max(formula_next, 1e-12))))
            else:
                state.dropped += 1
        nxt = eip1559_next(base, float(record["gasUsed"]), float(record["gasLimit"]))
        if not pending or pending[-1][0] < number:  # a repeated or out-of-order block settles nothing later
            pending.append((number, self.prediction_key(record), nxt))
        return labels

    def prediction_key(self, record: Record) -> str:
        """The chain and the block number: ``ethereum#19000000``."""
        return f"{_chain_of(record)}#{_number(record)}"

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> GasPriceForecastOutput:
        """The residual back to a base fee, with its trend, drivers and what to do."""
        residual = min(max(score, -200.0), 200.0) if math.isfinite(score) else 0.0
        base = math.exp(float(features["log_base_fee"]))
        nxt = base * (1.0 + float(features["formula_change_pct"]) / 100.0)
        predicted = nxt * math.exp(residual / 100.0)
        change = 100.0 * (predicted / base - 1.0)
        risk: RiskLevel = next((level for cut, level in _RISK_CUTS if change >= cut), "low")
        learned = float(model.n_learned) if offers_experience(model) else 0.0
        trend: Literal["rising", "falling", "stable"] = (
            "rising" if change >= _TREND_PCT else "falling" if change <= -_TREND_PCT else "stable"
        )
        return GasPriceForecastOutput(
            predicted_base_fee=predicted,
            next_block_base_fee=nxt,
            expected_change_pct=change,
            horizon_blocks=_horizon(params),
            fee_trend=trend,
            risk_classification=risk,
            risk_vectors=[word for name, word in DRIVERS.items() if float(features[name]) > 0.0][:3]
            if change > 0
            else [],
            recommended_protocol=self.protocols[risk],
            confidence=learned / (learned + 100.0),
        )

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Seeded mainnet-like blocks, 12 s apart, base fee in gwei, following EIP-1559 exactly.

        Planted: demand is a persistent AR(1) (half-life ~25 blocks) with bursts, so blocks stay over
        or under target for a while and the base fee keeps moving the way recent blocks pushed it;
        the median tip reads that demand with less noise than one block's gas. About 2 % of tips and
        transaction counts are missing; ``miner`` and ``size`` are not read.
        """
        rng = np.random.default_rng(seed)
        demand, base = 0.0, 20.0 * math.exp(rng.normal(0, 0.3))
        limit = 30_000_000.0
        rows: list[dict[str, object]] = []
        for i in range(n_rows):
            burst = rng.random() < 0.004
            demand = 0.973 * demand + 0.08 * rng.standard_normal() + (rng.normal(0.6, 0.2) if burst else 0.0)
            demand -= 0.03 * math.log(base / 20.0)  # dear gas cools demand a little
            ratio = min(max(1.0 + 0.9 * demand + 0.35 * rng.standard_normal(), 0.0), 2.0)
            used = round(ratio * limit / 2.0)
            tip = 0.05 * base * math.exp(1.2 * demand + 0.25 * rng.standard_normal())
            rows.append({
                "block_number": 19_000_000 + i,
                "timestamp": 1_705_000_000 + 12 * i,
                "base_fee_gwei": round(base, 6),
                "gas_used": used,
                "gas_limit": int(limit),
                "priority_fee_gwei": round(tip, 6) if rng.random() > 0.02 else None,
                "tx_count": int(max(0, rng.normal(60 + 100 * used / limit, 15))) if rng.random() > 0.02 else None,
                "miner": f"0x{rng.integers(0, 8):040x}",
                "size": int(rng.normal(80_000, 20_000)),
            })  # fmt: skip
            base = eip1559_next(round(base, 6), used, limit)
        return pd.DataFrame(rows)


WIRE_NAMES: dict[str, str] = {
    "block_number": "number", "base_fee_gwei": "baseFeePerGas", "gas_used": "gasUsed", "gas_limit": "gasLimit",
    "priority_fee_gwei": "priorityFeePerGas", "tx_count": "transactionCount",
}  # fmt: skip
"""The sample's columns in :class:`BlockSnapshot`'s wire names (``timestamp`` is the same)."""


def wire_records(frame: pd.DataFrame, chain: str = "ethereum") -> list[dict[str, object]]:
    """Sample rows as block snapshots on the wire (missing optional fields left out), for a bundled stream."""
    records: list[dict[str, object]] = []
    for row in frame.rename(columns=WIRE_NAMES).to_dict("records"):
        record: dict[str, object] = {"chain": chain}
        for name in BlockSnapshot.model_fields:
            value = row.get(name)
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                record[name] = int(value) if name in ("number", "timestamp", "transactionCount") else value
        records.append(record)
    return records


def _number(record: Record) -> int:
    return int(float(record["number"]))


def _horizon(params: Params) -> int:
    return int(float(params.get("horizonBlocks", 5)))
