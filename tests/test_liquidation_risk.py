"""liquidation_risk: self-labels from later snapshots, features, output, schema, stream, quality, analyze."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from tracer.blueprints.analysis import analyze
from tracer.blueprints.engines.offset_logistic import OffsetLogistic
from tracer.blueprints.recipes.liquidation_risk import (
    LiquidationOutput,
    LiquidationRisk,
    health_factor,
    simulate_positions,
)
from tracer.online_models import Deployment
from tracer.schemas.export import WIRE_MODELS
from tracer.schemas.position_snapshot import PositionSnapshot

BP = LiquidationRisk()
T0 = 1_700_000_000.0
STREAM = Path(__file__).resolve().parents[1] / "agents" / "samples" / "position_snapshot.jsonl"


def snap(account: str, hours: float, price: float, **extra: Any) -> dict[str, Any]:
    """A canonical snapshot: 10 WETH at ``price`` (threshold 0.8) against 12,000 USDC, ``hours`` after T0."""
    record: dict[str, Any] = {spec.name: None for spec in BP.inputs()}
    record.update(ts=T0 + 3600.0 * hours, account=account, protocol="aave-v3", collateralAsset="WETH",
                  collateralAmount=10.0, collateralPrice=price, liquidationThreshold=0.8, debtAsset="USDC",
                  debtAmount=12_000.0, debtPrice=1.0)  # fmt: skip
    return {**record, **extra}


def key(account: str, hours: float) -> str:
    return f"aave-v3:{account}@{int((T0 + 3600.0 * hours) * 1000)}"


def labels_of(records: list[dict[str, Any]], params: dict[str, Any] | None = None) -> list[tuple[str, float]]:
    resolved = BP.resolve_params(params)
    state, out = BP.new_state(resolved), []
    for record in records:
        out += BP.self_labels(record, state, resolved)
        BP.featurize(record, state, resolved)
    return out


def test_the_health_factor_is_computed_or_read() -> None:
    assert health_factor(snap("a", 0, 2000.0)) == 16_000 / 12_000
    assert health_factor(snap("a", 0, 2000.0, healthFactor=1.1)) == 1.1
    assert health_factor(snap("a", 0, 2000.0, debtAmount=0.0)) == 10.0


def test_a_liquidation_within_the_horizon_settles_the_waiting_snapshots_as_positive() -> None:
    records = [snap("a", 0, 2000.0), snap("a", 10, 1800.0), snap("a", 30, 1400.0), snap("a", 31, 2000.0)]
    # 0 h is 30 h before the HF < 1 snapshot: past a 24 h horizon; 10 h is within it
    assert labels_of(records) == [(key("a", 0), 0.0), (key("a", 10), 1.0)]
    assert labels_of(records, {"horizonHours": 72}) == [(key("a", 0), 1.0), (key("a", 10), 1.0)]


def test_the_horizon_passing_settles_negative_and_a_flag_counts_as_liquidation() -> None:
    records = [
        snap("a", 0, 2000.0),
        snap("b", 1, 2000.0),
        snap("a", 25, 2000.0),
        snap("b", 2, 2000.0, liquidated=True),
    ]
    assert labels_of(records) == [(key("a", 0), 0.0), (key("b", 1), 1.0)]
    assert labels_of(records, {"horizonHours": 1}) == [(key("a", 0), 0.0), (key("b", 1), 1.0)]


def test_features_read_trend_volatility_and_topups() -> None:
    params = BP.resolve_params()
    state = BP.new_state(params)
    BP.featurize(snap("a", 0, 2000.0), state, params)
    features = BP.featurize(snap("a", 2, 1900.0, collateralAmount=11.0), state, params)
    hf = 11.0 * 1900.0 * 0.8 / 12_000
    assert math.isclose(features["log_health_factor"], math.log(hf))
    assert math.isclose(features["hf_trend_per_hour"], (math.log(hf) - math.log(16_000 / 12_000)) / 2)
    assert features["collateral_topups"] == 1.0 and features["collateralAsset"] == "weth"
    assert features["collateral_volatility"] > 0.01  # a 5 % move in 2 h lifts the 1 % prior
    assert 0.0 < features["first_passage_probability"] < 1.0


def test_the_output_carries_the_health_factor_and_horizon() -> None:
    params = BP.resolve_params({"horizonHours": 6})
    output = BP.postprocess(0.9, {"log_health_factor": math.log(1.05)}, BP.make_model(params, 0), params)
    assert isinstance(output, LiquidationOutput) and output.liquidation_probability == 0.9
    assert (output.horizon_hours, output.recommended_protocol) == (6, "repay_debt")
    assert math.isclose(output.health_factor, 1.05)


def test_the_prior_model_learns_corrections() -> None:
    model = OffsetLogistic("prior", learning_rate=0.05)
    for _ in range(300):
        model.learn_one({"prior": -1.0, "careful": 1.0}, 0.0)
        model.learn_one({"prior": -1.0, "careful": 0.0}, 1.0)
    assert (
        model.predict_one({"prior": -1.0, "careful": 0.0})
        > 0.6
        > 0.4
        > model.predict_one({"prior": -1.0, "careful": 1.0})
    )


def test_a_deployment_learns_from_its_own_stream() -> None:
    deployment = Deployment(LiquidationRisk)
    wire = [
        {**snap("0xa", h, p), "ts": int((T0 + 3600 * h) * 1000)}
        for h, p in ((0, 2000.0), (1, 1600.0), (2, 1400.0))
    ]
    learned = [y for row in wire for _, y in deployment.learn_from([deployment.score(row)])]
    assert learned == [1.0, 1.0] and deployment.labels_learned == 2


def test_the_bundled_stream_validates_and_scores_without_dead_letters() -> None:
    assert PositionSnapshot in WIRE_MODELS
    lines = STREAM.read_text().splitlines()
    assert len(lines) > 200 and STREAM.stat().st_size < 300_000
    rows = [json.loads(line) for line in lines]
    for row in rows:
        PositionSnapshot.model_validate(row)
    deployment = Deployment(LiquidationRisk)
    scored = [deployment.score(row) for row in rows]  # a bad row would raise (a dead letter in a worker)
    assert all(isinstance(s.output, LiquidationOutput) for s in scored)
    assert sum(len(s.revealed) for s in scored) > 100


def test_the_model_beats_the_health_factor_and_nears_the_ceiling() -> None:
    frame, planted = simulate_positions(8000, 3)
    report = Deployment(LiquidationRisk).replay(frame)
    assert report.n_errors == 0 and report.n_learned > 5000
    labels = np.array([np.nan if y is None else y for y in report.rows.labels])
    known = ~np.isnan(labels)
    at, y = np.asarray(report.rows.positions)[known], labels[known]
    hf = frame["healthFactor"].fillna(frame["collateralAmount"] * frame["collateralPrice"]
                                      * frame["liquidationThreshold"] / frame["debtAmount"]).to_numpy()  # fmt: skip
    auc = report.metrics["auc"]
    assert auc > roc_auc_score(y, -hf[at]), auc
    assert auc >= 0.95 * roc_auc_score(y, planted[at]), auc


def test_analyze_ranks_it_first_on_its_sample() -> None:
    suggestions = analyze({"sample": BP.sample(2000, 1)})
    assert suggestions[0].blueprint == "liquidation_risk"
    assert suggestions[0].column_mapping["debtAmount"] == "debtAmount"
