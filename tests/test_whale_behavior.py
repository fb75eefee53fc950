"""whale_behavior: self-labels, features on hand-made transfers, the learned sample, analysis, the bundled stream."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tracer.blueprints.analysis import analyze
from tracer.blueprints.recipes import whale_behavior
from tracer.blueprints.recipes.whale_behavior import WhaleBehavior, WhaleOutput, simulate
from tracer.online_models import Deployment, Scored
from tracer.schemas.export import WIRE_MODELS
from tracer.schemas.token_transfer import TokenTransfer

BP = WhaleBehavior()
PARAMS = BP.resolve_params()
HOUR = 3600.0
STREAM = Path(__file__).resolve().parents[1] / "agents" / "samples" / "token_transfer.jsonl"


def transfer(
    ts: float, sender: str, receiver: str = "0xother", deposit: bool = False, usd: float = 1e5
) -> dict[str, Any]:
    """A canonical transfer record (``ts`` in float seconds)."""
    return {"ts": ts, "from_address": sender, "to_address": receiver, "to_exchange": deposit,
            "token": "ETH", "amount": usd / 1650, "usd_value": usd}  # fmt: skip


def test_a_deposit_within_the_horizon_settles_the_holders_predictions_as_sales() -> None:
    state = BP.new_state(PARAMS)
    assert BP.self_labels(transfer(0.0, "0xwhale"), state, PARAMS) == []
    assert BP.self_labels(transfer(HOUR, "0xwhale"), state, PARAMS) == []
    assert BP.self_labels(transfer(2 * HOUR, "0xsomeone", deposit=True), state, PARAMS) == []  # not the whale
    settled = BP.self_labels(transfer(24 * HOUR, "0xwhale", "0xcex", deposit=True), state, PARAMS)
    assert settled == [("0xwhale@0", 1.0), ("0xwhale@3600000", 1.0)]  # exactly at the horizon counts
    assert state.book.open_count() == 2  # 0xsomeone's and the deposit's own


def test_the_stream_clock_settles_quiet_holders_as_not_selling() -> None:
    state = BP.new_state(PARAMS)
    BP.self_labels(transfer(0.0, "0xwhale"), state, PARAMS)
    BP.self_labels(transfer(10 * HOUR, "0xwhale", deposit=False), state, PARAMS)
    assert BP.self_labels(transfer(24 * HOUR, "0xanyone"), state, PARAMS) == []
    assert BP.self_labels(transfer(24 * HOUR + 1, "0xanyone"), state, PARAMS) == [("0xwhale@0", 0.0)]
    late = BP.self_labels(transfer(30 * HOUR, "0xwhale", deposit=True), state, PARAMS)
    assert late == [("0xwhale@36000000", 1.0)]  # the 10 h one was still open; the 0 h one is settled


def test_the_horizon_parameter_and_the_pending_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    params = BP.resolve_params({"horizonHours": 6})
    state = BP.new_state(params)
    BP.self_labels(transfer(0.0, "0xwhale"), state, params)
    assert BP.self_labels(transfer(7 * HOUR, "0xwhale", deposit=True), state, params) == [("0xwhale@0", 0.0)]
    monkeypatch.setattr(whale_behavior, "MAX_PENDING", 3)
    state = BP.new_state(PARAMS)
    assert state.book.max_open == 3
    for i in range(5):
        BP.self_labels(transfer(float(i), "0xwhale"), state, PARAMS)
    assert state.book.open_count() == 3 and state.book.dropped == 2


def test_features_read_the_holders_history() -> None:
    state = BP.new_state(PARAMS)
    first = BP.featurize(transfer(0.0, "0xwhale", "0xcex", deposit=True), state, PARAMS)
    assert first["to_exchange"] == 1.0 and first["recent_deposits"] == 0.0
    BP.featurize(transfer(HOUR, "0xvesting", "0xwhale", usd=1e6), state, PARAMS)  # an unlock
    BP.featurize(transfer(2 * HOUR, "0xcex", "0xfund", usd=5e5), state, PARAMS)  # a withdrawal
    later = BP.featurize(transfer(2 * HOUR, "0xwhale"), state, PARAMS)
    assert later["recent_deposits"] == pytest.approx(0.5 ** (2 / 24))
    assert later["deposit_share"] == pytest.approx(1.1 / 2)
    assert later["log_inflow_usd"] == pytest.approx(np.log1p(1e6 * 0.5 ** (1 / 24)))
    assert later["log_hours_since_deposit"] == pytest.approx(np.log1p(2.0))
    fund = BP.featurize(transfer(2 * HOUR, "0xfund"), state, PARAMS)
    assert fund["log_withdrawn_usd"] == pytest.approx(np.log1p(5e5)) and fund["log_inflow_usd"] == 0.0
    assert BP.featurize(transfer(3 * HOUR, "0xcex"), state, PARAMS)["from_exchange"] == 1.0


def test_output_fields_and_protocols() -> None:
    deployment = Deployment(WhaleBehavior)
    results = [deployment.score(row) for row in BP.sample(300, 2).to_dict("records")]
    outputs = [r.output for r in results if isinstance(r, Scored)]
    assert len(outputs) == 300 and all(isinstance(o, WhaleOutput) for o in outputs)
    assert {o.horizon_hours for o in outputs} == {24}
    assert {o.recommended_protocol for o in outputs} <= {"no_action", "monitor", "hedge", "reduce_exposure"}


def test_the_stream_learns_the_planted_sellers() -> None:
    frame, _ = simulate(6000, 4)
    report = Deployment(WhaleBehavior).replay(frame)
    assert report.n_errors == 0 and report.n_learned > 5000
    assert 0.2 < report.metrics["positive_rate"] < 0.7
    assert report.metrics["auc"] > 0.78  # the planted hazard itself: ~0.90; the base rate: 0.5
    base_rate = max(report.metrics["positive_rate"], 1 - report.metrics["positive_rate"])
    assert report.metrics["accuracy"] > base_rate + 0.15


def test_sample_is_seeded_and_pickles_mid_stream() -> None:
    assert BP.sample(100, 1).equals(BP.sample(100, 1))
    rows = BP.sample(200, 4).to_dict("records")
    deployment = Deployment(WhaleBehavior)
    for row in rows[:100]:
        deployment.learn_from([deployment.score(row)])  # type: ignore[list-item]
    clone = pickle.loads(pickle.dumps(deployment))
    assert [clone.score(r).score for r in rows[100:]] == [deployment.score(r).score for r in rows[100:]]


def test_analyze_ranks_it_first_on_its_sample_and_its_stream() -> None:
    stream = pd.read_json(STREAM, lines=True)
    for frame in (BP.sample(2000, 1), stream):
        assert analyze({"transfers": frame})[0].blueprint == "whale_behavior"


def test_the_bundled_stream_validates_and_scores_without_dead_letters() -> None:
    assert TokenTransfer in WIRE_MODELS
    lines = STREAM.read_text().splitlines()
    assert len(lines) >= 500 and STREAM.stat().st_size < 300_000
    records = [TokenTransfer.model_validate_json(line).model_dump(exclude_none=True) for line in lines]
    assert records[0] == json.loads(lines[0])
    results = Deployment(WhaleBehavior).score_many(records)
    assert all(isinstance(r, Scored) for r in results)
    report = Deployment(WhaleBehavior).replay(pd.DataFrame(records))
    assert report.n_errors == 0 and report.n_learned > 0


def test_a_deployment_takes_its_labels_from_the_transfers() -> None:
    deployment = Deployment(WhaleBehavior)
    t0 = 1_696_723_200_000
    rows = [
        {
            "ts": t0,
            "from_address": "0xwhale",
            "to_address": "0xfriend",
            "to_exchange": False,
            "usd_value": 1e6,
        },
        {"ts": t0 + 1000, "from_address": "0xfish", "to_address": "0xfriend", "to_exchange": False},
        {"ts": t0 + 3_600_000, "from_address": "0xwhale", "to_address": "0xcex", "to_exchange": True},
        {"ts": t0 + 90_000_001, "from_address": "0xother", "to_address": "0xfriend", "to_exchange": False},
    ]
    revealed = []
    for row in rows:
        scored = deployment.score(row)
        assert isinstance(scored, Scored)
        revealed.append(scored.revealed)
        deployment.learn_from([scored])
    assert revealed[2] == ((f"0xwhale@{t0}", 1.0),)
    assert revealed[3] == ((f"0xfish@{t0 + 1000}", 0.0), (f"0xwhale@{t0 + 3_600_000}", 0.0))
    assert deployment.labels_learned == 3
