"""yield_optimization: self-labels, features, output, the bundled stream, learning and ranking."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path
from typing import Any

import pandas as pd

from tracer.blueprints.actions import PROTOCOLS
from tracer.blueprints.analysis import analyze
from tracer.blueprints.recipes.yield_optimization import FEATURE_NAMES, YieldOptimization
from tracer.online_models import Deployment
from tracer.schemas.pool_snapshot import PoolSnapshot

BP = YieldOptimization()
PARAMS = BP.resolve_params()
STREAM = Path(__file__).resolve().parents[1] / "agents" / "samples" / "pool_snapshot.jsonl"


def snap(hours: float, apy: float, pool: str = "aave:USDC", **extra: Any) -> dict[str, Any]:
    """A canonical snapshot (``ts`` in seconds), optional inputs None as the input layer leaves them."""
    record: dict[str, Any] = {
        "ts": 1_700_000_000.0 + 3600 * hours,
        "protocol": "aave",
        "pool": pool,
        "apy": apy,
    }
    record.update(
        {"tvlUsd": 1e8, "utilization": 0.7, "rewardTokenPrice": 10.0, "apyBase": None, "apyReward": None}
    )
    record.update(extra)
    return record


def test_self_labels_settle_at_the_horizon_with_the_risk_adjusted_mean() -> None:
    params = BP.resolve_params({"horizonHours": 6, "riskAversion": 1.0})
    state = BP.new_state(params)
    assert BP.self_labels(snap(0, 5.0), state, params) == []
    assert BP.self_labels(snap(3, 4.0), state, params) == []
    assert BP.self_labels(snap(3, 9.0, pool="other"), state, params) == []  # another pool settles nothing
    [(key, label)] = BP.self_labels(snap(6, 8.0), state, params)  # later APYs 4 and 8: mean 6, std 2
    assert key == BP.prediction_key(snap(0, 5.0))
    assert math.isclose(label, 6.0 - 2.0)
    assert BP.self_labels(snap(7, 8.0), state, params) == []  # the 3 h one is not due yet


def test_features_read_history_and_odd_values() -> None:
    state = BP.new_state(PARAMS)
    first = BP.featurize(snap(0, 5.0, apyReward=2.0), state, PARAMS)
    assert list(first) == list(FEATURE_NAMES)
    assert first["apy_change_1"] == 0.0 and first["reward_share"] == 0.4
    later = BP.featurize(snap(1, 8.0, tvlUsd=2e8, rewardTokenPrice=5.0), state, PARAMS)
    assert later["apy_change_1"] == 3.0 and later["apy_vs_ema"] == 3.0
    assert math.isclose(float(later["tvl_flow_1"] or 0), math.log(2.0))
    assert float(later["reward_price_trend"] or 0) < 0
    odd = BP.featurize(snap(2, 0.0, tvlUsd=0.0, rewardTokenPrice=0.0, apyReward=float("nan")), state, PARAMS)
    assert all(isinstance(v, float) and math.isfinite(v) for v in odd.values())


def test_output_names_a_fading_yield_and_a_protocol_in_the_vocabulary() -> None:
    model = BP.make_model(PARAMS, seed=0)
    state = BP.new_state(PARAMS)
    BP.featurize(snap(0, 5.0, utilization=0.6), state, PARAMS)
    x = BP.featurize(snap(1, 20.0, utilization=0.95), state, PARAMS)
    out = BP.postprocess(10.0, x, model, PARAMS)
    assert out.expected_apy == 10.0 and out.current_apy == 20.0 and out.apy_change == -10.0
    assert out.risk_classification == "critical" and out.recommended_protocol == "rotate_out"
    assert "utilisation_spike" in out.risk_vectors
    steady = BP.postprocess(21.0, x, model, PARAMS)
    assert steady.risk_classification == "low" and steady.risk_vectors == []
    assert {out.recommended_protocol, steady.recommended_protocol} <= set(PROTOCOLS)


def test_sample_is_deterministic_and_state_pickles() -> None:
    pd.testing.assert_frame_equal(BP.sample(400, 3), BP.sample(400, 3))
    assert not BP.sample(400, 3).equals(BP.sample(400, 4))
    state = BP.new_state(PARAMS)
    for record in [snap(h, 5.0 + h) for h in range(30)]:
        BP.self_labels(record, state, PARAMS)
        BP.featurize(record, state, PARAMS)
    assert pickle.loads(pickle.dumps(state)).pools.keys() == state.pools.keys()


def test_learns_the_planted_reversion_better_than_persistence() -> None:
    frame = BP.sample(8_000, seed=2)
    report = Deployment(YieldOptimization).replay(frame)
    assert report.n_errors == 0 and report.n_learned > 7_000
    rows = pd.DataFrame(
        {"pos": report.rows.positions, "score": report.rows.scores, "label": report.rows.labels}
    )
    rows["apy"] = frame["apy"].to_numpy()[rows["pos"]]
    rows = rows.dropna().iloc[len(rows) // 3 :]
    model_mae = (rows["score"] - rows["label"]).abs().mean()
    persistence_mae = (rows["apy"] - rows["label"]).abs().mean()
    assert model_mae < persistence_mae


def test_bundled_stream_validates_and_scores_without_dead_letters() -> None:
    lines = STREAM.read_text().splitlines()
    assert len(lines) > 0 and STREAM.stat().st_size < 300_000
    rows = [PoolSnapshot.model_validate(json.loads(line)).model_dump() for line in lines]
    report = Deployment(YieldOptimization).replay(pd.DataFrame(rows))
    assert report.n_errors == 0 and report.n_scored == len(rows) and report.n_learned > 0


def test_analyze_ranks_yield_optimization_first_on_its_sample() -> None:
    [best, *_] = analyze({"pools.csv": BP.sample(2_000, 1)})
    assert best.blueprint == "yield_optimization"
