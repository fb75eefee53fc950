"""gas_price_forecast: the EIP-1559 step, self-labels, features, output, the planted answer, analyze, the bundled stream."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tracer.blueprints.analysis import analyze
from tracer.blueprints.recipes.gas_price_forecast import (
    FEATURE_NAMES,
    GasPriceForecast,
    GasPriceForecastOutput,
    eip1559_next,
    wire_records,
)
from tracer.online_models import Deployment
from tracer.schemas.block_snapshot import BlockSnapshot

BP = GasPriceForecast()
PARAMS = BP.resolve_params({"horizonBlocks": 5})
STREAM = Path(__file__).resolve().parents[1] / "agents" / "samples" / "block_snapshot.jsonl"


def block(
    number: int, base: float, used: float = 15e6, chain: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "number": str(number), "timestamp": 1_705_000_000.0 + 12 * number, "baseFeePerGas": base,
        "gasUsed": used, "gasLimit": 30e6, "priorityFeePerGas": None, "transactionCount": None,
        "chain": chain, **extra,
    }  # fmt: skip


def test_eip1559_step_is_bounded_by_an_eighth() -> None:
    assert eip1559_next(80.0, 30e6, 30e6) == pytest.approx(90.0)
    assert eip1559_next(80.0, 0.0, 30e6) == pytest.approx(70.0)
    assert eip1559_next(80.0, 22.5e6, 30e6) == pytest.approx(85.0)
    assert eip1559_next(80.0, 60e6, 30e6) == pytest.approx(90.0)  # over the limit: still at most 12.5 %


def test_self_labels_settle_at_the_horizon_against_the_formula() -> None:
    state = BP.new_state(PARAMS)
    assert BP.self_labels(block(100, 80.0, used=30e6), state, PARAMS) == []  # formula's next: 90
    for number in range(101, 105):
        assert BP.self_labels(block(number, 90.0), state, PARAMS) == []
    settled = BP.self_labels(block(105, 99.0), state, PARAMS)
    assert [key for key, _ in settled] == ["chain#100"]
    assert settled[0][1] == pytest.approx(100 * math.log(99.0 / 90.0))


def test_self_labels_keep_chains_apart_and_drop_stale_forecasts() -> None:
    state = BP.new_state(PARAMS)
    BP.self_labels(block(0, 10.0, chain="base"), state, PARAMS)
    assert BP.self_labels(block(5, 10.0, chain="ethereum"), state, PARAMS) == []
    assert (
        BP.self_labels(block(20, 10.0, chain="base"), state, PARAMS) == []
    )  # 20 blocks later: > 2x the horizon
    assert state.dropped == 1
    assert [k for k, _ in BP.self_labels(block(10, 10.0, chain="ethereum"), state, PARAMS)] == ["ethereum#5"]


def test_features_follow_the_chain_history() -> None:
    state = BP.new_state(PARAMS)
    first = BP.featurize(
        block(0, 10.0, used=30e6, priorityFeePerGas=1.0, transactionCount=150.0), state, PARAMS
    )
    assert tuple(first) == FEATURE_NAMES
    assert first["formula_change_pct"] == pytest.approx(12.5) and first["excess_use"] == 1.0
    assert first["base_change_5_pct"] == 0.0
    assert first["priority_fee_log_ratio"] == pytest.approx(math.log(0.1))
    for number in range(1, 6):
        later = BP.featurize(block(number, 10.0 * 1.125**number, used=30e6), state, PARAMS)
    assert later["base_change_5_pct"] == pytest.approx(500 * math.log(1.125))
    assert later["excess_use_slow"] == pytest.approx(1.0) and later["priority_fee_log_ratio"] == 0.0
    assert all(math.isfinite(float(v)) for v in later.values())


def test_postprocess_turns_the_residual_into_a_fee_and_an_action() -> None:
    model = BP.make_model(PARAMS, seed=0)
    x = BP.featurize(block(0, 40.0, used=30e6), BP.new_state(PARAMS), PARAMS)
    flat = BP.postprocess(0.0, x, model, PARAMS)
    assert isinstance(flat, GasPriceForecastOutput)
    assert flat.next_block_base_fee == pytest.approx(45.0) and flat.predicted_base_fee == pytest.approx(45.0)
    assert (flat.fee_trend, flat.risk_classification, flat.recommended_protocol) == (
        "rising",
        "critical",
        "raise_max_fee",
    )
    assert "block_over_target" in flat.risk_vectors
    down = BP.postprocess(100 * math.log(0.8), x, model, PARAMS)
    assert down.predicted_base_fee == pytest.approx(36.0)
    assert (down.fee_trend, down.recommended_protocol, down.risk_vectors) == (
        "falling",
        "wait_for_lower_fees",
        [],
    )
    assert BP.postprocess(float("nan"), x, model, PARAMS).predicted_base_fee == pytest.approx(45.0)
    assert BP.output.headline in GasPriceForecastOutput.model_fields


def test_sample_is_seeded_and_follows_eip1559() -> None:
    frame = BP.sample(400, 3)
    assert frame.equals(BP.sample(400, 3)) and not frame.equals(BP.sample(400, 4))
    nxt = [
        eip1559_next(b, u, g)
        for b, u, g in zip(frame.base_fee_gwei, frame.gas_used, frame.gas_limit, strict=True)
    ]
    assert np.allclose(frame.base_fee_gwei[1:], nxt[:-1], rtol=1e-6)


def _mae_against_formula(horizon: int, rows: int) -> tuple[float, float]:
    frame = BP.sample(rows, 2)
    report = Deployment(GasPriceForecast, {"horizonBlocks": horizon}).replay(frame)
    formula = [
        eip1559_next(b, u, g)
        for b, u, g in zip(frame.base_fee_gwei, frame.gas_used, frame.gas_limit, strict=True)
    ]
    model, flat = [], []
    for position, score, label in zip(
        report.rows.positions, report.rows.scores, report.rows.labels, strict=True
    ):
        if label is not None:
            actual = formula[position] * math.exp(label / 100)
            model.append(abs(formula[position] * math.exp(score / 100) - actual))
            flat.append(abs(formula[position] - actual))
    assert len(model) > rows - 2 * horizon
    return float(np.mean(model)), float(np.mean(flat))


def test_the_planted_congestion_beats_the_formula_over_five_blocks() -> None:
    model, formula = _mae_against_formula(5, 8_000)
    assert model < 0.9 * formula, (model, formula)


def test_analyze_ranks_it_first_on_its_sample_and_on_wire_blocks() -> None:
    import pandas as pd

    assert analyze({"sample": BP.sample(2000, 1)})[0].blueprint == "gas_price_forecast"
    wire = pd.DataFrame(wire_records(BP.sample(500, 1)))
    assert analyze({"blocks": wire})[0].blueprint == "gas_price_forecast"


def test_bundled_stream_validates_and_streams_with_self_labels() -> None:
    lines = [json.loads(line) for line in STREAM.read_text().splitlines()]
    assert len(lines) >= 500 and STREAM.stat().st_size < 300_000
    for line in lines:
        BlockSnapshot.model_validate(line)
    deployment = Deployment(GasPriceForecast)
    learned = 0
    for position, line in enumerate(lines):
        scored = deployment.score(line, row=position)
        learned += len(deployment.learn_from([scored]))
        assert scored.output.predicted_base_fee > 0
    assert sum(deployment.errors.values()) == 0
    assert learned == len(lines) - 5 and deployment.labels_learned == learned
