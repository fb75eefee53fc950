"""fraud_detection: per-card features, the anomaly score before labels, the blend, bounded state,
the planted answer learned, and the analysis ranking. No real-data test: no card-fraud table ships
in an installable package (see bench/quality_fraud.py)."""

from __future__ import annotations

import doctest
import pickle
from typing import Any

import pytest
from sklearn.metrics import roc_auc_score

from tracer.blueprints.analysis import analyze
from tracer.blueprints.engines import anomaly
from tracer.blueprints.engines.anomaly import PriorBlendedClassifier, RarityDetector
from tracer.blueprints.recipes import fraud_detection
from tracer.blueprints.recipes.fraud_detection import PRIOR_POWER, FraudDetection, FraudOutput, generate
from tracer.online_models import Deployment, Scored

BP = FraudDetection()
PARAMS = BP.resolve_params()
DAY = 86_400.0


def txn(time_s: float | None, amount: float, card: str | None = "c1", category: str | None = "grocery_pos",
        merchant: str | None = "m1", **extra: Any) -> dict[str, Any]:  # fmt: skip
    """A canonical record; inputs not given are None, as the input layer leaves them."""
    record: dict[str, Any] = {"amount": amount, "card_id": card, "timestamp": time_s, "transaction_id": None,
                              "merchant": merchant, "merchant_category": category, "country": None,
                              "channel": None, "device": None, "fraud": None}  # fmt: skip
    record.update(extra)
    return record


def usual_days(state: fraud_detection.FraudState, days: int = 8) -> None:
    """One ordinary afternoon purchase a day for card c1."""
    for day in range(days):
        BP.featurize(txn(day * DAY + 14 * 3600, 40.0 + day), state, PARAMS)


def test_a_fraud_burst_reads_as_such() -> None:
    state = BP.new_state(PARAMS)
    usual_days(state)
    night = 9 * DAY + 2 * 3600
    first = BP.featurize(txn(night, 900.0, category="shopping_net", merchant="m9"), state, PARAMS)
    assert first["amount_vs_card_usual"] > 2.0
    assert first["new_category"] == first["new_merchant"] == first["night_hour"] == 1.0
    assert first["transactions_last_hour"] < 0.1  # the last purchase was a day and a half ago
    second = BP.featurize(txn(night + 300, 850.0, category="shopping_net", merchant="m9"), state, PARAMS)
    assert second["transactions_last_hour"] > 0.9 and second["minutes_since_previous"] == 5.0
    assert second["new_category"] == 0.0  # seen five minutes ago
    usual = BP.featurize(txn(10 * DAY + 15 * 3600, 45.0), state, PARAMS)
    assert usual["night_hour"] == 0.0 and usual["new_category"] == 0.0
    assert abs(float(usual["amount_vs_card_usual"])) < float(first["amount_vs_card_usual"])


def test_missing_card_time_and_category_still_featurize() -> None:
    state = BP.new_state(PARAMS)
    features = BP.featurize(txn(None, 12.0, card=None, category=None, merchant=None), state, PARAMS)
    assert set(features) == {"amount", "anomaly_score"}
    usual_days(state)
    late = BP.featurize(txn(None, 50.0), state, PARAMS)  # no time: no gap, counts not decayed
    assert "minutes_since_previous" not in late and "night_hour" not in late


def test_anomaly_score_ranks_before_any_label() -> None:
    deployment: Deployment[FraudOutput] = Deployment(FraudDetection)
    frame, _ = generate(3000, 5)
    results = deployment.score_many(frame.drop(columns=["is_fraud"]).to_dict("records"))
    outputs = [r.output for r in results if isinstance(r, Scored)]
    assert deployment.labels_learned == 0 and len(outputs) == len(frame)
    assert roc_auc_score(frame["is_fraud"], [o.anomaly_score for o in outputs]) > 0.7
    # with no label learned the headline is the anomaly prior, and the protocol follows it
    for output in outputs:
        assert output.fraud_probability == pytest.approx(output.anomaly_score**PRIOR_POWER)
    held = [o for o in outputs if o.anomaly_score > 0.99]
    assert held and all(o.recommended_protocol in {"hold_for_review", "decline"} for o in held)
    assert any("amount_far_above_card_usual" in o.risk_vectors for o in held)


def test_the_planted_answer_is_learned_near_the_ceiling() -> None:
    frame, probability = generate(8000, 2)
    report = Deployment(FraudDetection).replay(frame)
    ceiling = roc_auc_score(frame["is_fraud"], probability)
    assert report.n_errors == 0 and 0.005 < frame["is_fraud"].mean() < 0.03
    assert report.metrics["auc"] >= 0.93 * ceiling, (report.metrics["auc"], ceiling)


def test_scratch_state_scores_without_learning() -> None:
    state = BP.new_state(PARAMS)
    usual_days(state)
    before = pickle.dumps(state)
    record = txn(9 * DAY, 500.0)
    scratch = BP.scratch_state(state, record)
    assert not scratch.learns and set(scratch.cards) == {"c1"}
    assert BP.featurize(record, scratch, PARAMS) == BP.featurize(record, pickle.loads(before), PARAMS)
    assert pickle.dumps(state) == before


def test_cards_remembered_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fraud_detection, "MAX_CARDS", 20)
    state = BP.new_state(PARAMS)
    for i in range(50):
        BP.featurize(txn(float(i), 10.0, card=f"c{i}"), state, PARAMS)
    assert len(state.cards) <= 20 and "c49" in state.cards and "c0" not in state.cards


def test_blend_leans_on_the_prior_until_labels() -> None:
    model = BP.make_model(PARAMS, 0)
    assert isinstance(model, PriorBlendedClassifier)
    x: dict[str, float | str] = {"amount": 10.0, "anomaly_score": 0.99}
    assert model.predict_one(x) == pytest.approx(0.99**PRIOR_POWER)
    for i in range(3000):
        model.learn_one({"amount": float(i % 50), "anomaly_score": 0.5}, 0.0)
    blended = model.predict_one(x)
    assert blended < 0.5 * 0.99**PRIOR_POWER  # mostly the model's (low) probability now
    rows = [x, {"amount": 3.0, "anomaly_score": 0.2}, {"amount": 7.0}]
    assert model.predict_rows(rows) == pytest.approx([model.predict_one(r) for r in rows])


def test_rarity_detector() -> None:
    assert doctest.testmod(anomaly).failed == 0
    detector = RarityDetector(2, window=50)
    assert detector.score_one((0.5, None)) == 0.5  # nothing seen yet
    for i in range(200):
        detector.score_and_learn((0.05 * (i % 4), None))
    assert len(detector._sorted) == 50
    assert detector.score_one((0.95, None)) == 1.0 and detector.score_one((0.0, None)) < 0.7


def test_analysis_ranks_fraud_detection_first_on_its_sample() -> None:
    suggestions = analyze({"sample": BP.sample(2000, 1)})
    assert suggestions[0].blueprint == "fraud_detection", [
        (s.blueprint, s.compatibility) for s in suggestions
    ]
    assert suggestions[0].label_column == "is_fraud"
    assert suggestions[0].compatibility - suggestions[1].compatibility >= 0.05
