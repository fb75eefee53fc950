"""The runtime's multi-class paths: scores that are class probabilities, labels that are class names,
metrics (log loss, accuracy), drift on the 0/1 error, shadow agreement on the top class, promotion,
the Prometheus score histogram, and ``LiveDeployment.process`` with delayed labels (match_outcome)."""

from __future__ import annotations

import doctest
import json
import math
import pickle

import numpy as np
import pytest

from tracer.agents.metrics import TracerMetrics
from tracer.blueprints.errors import InvalidValueError
from tracer.blueprints.recipes.match_outcome import MatchOutcome
from tracer.drift import AgreementTracker, PromotionJudge
from tracer.online_models import Deployment
from tracer.online_models import metrics as metrics_module
from tracer.online_models.batch import Source
from tracer.online_models.live import LiveDeployment, RoutedEvent, _error_of
from tracer.online_models.metrics import BinaryMetrics, MultiClassMetrics, RegressionMetrics, metrics_for
from tracer.schemas import ClassProbabilities, DeploymentSpec, DriftPolicy
from tracer.schemas import scores as scores_module


def test_class_probabilities_are_their_top_probability_as_a_float_and_pickle() -> None:
    score = ClassProbabilities((2.0, 1.0, 1.0))  # normalised
    assert isinstance(score, float) and float(score) == pytest.approx(0.5)
    assert score.probabilities == pytest.approx((0.5, 0.25, 0.25)) and score.top == 0
    assert score.of(1.0) == pytest.approx(0.25) and score.of(7.0) == 0.0 and score.of(0.5) == 0.0
    assert score.log_loss(2.0) == pytest.approx(math.log(4.0))
    again = pickle.loads(pickle.dumps(score))
    assert type(again) is ClassProbabilities and again.probabilities == score.probabilities
    assert json.dumps({"score": score}) == '{"score": 0.5}'
    for bad in ((0.0, 0.0), (float("nan"), 1.0), (-0.5, 1.5), ()):
        with pytest.raises(ValueError):
            ClassProbabilities(bad)
    assert scores_module.class_error(score, 0.0) is False and scores_module.class_error(0.9, 0.0) is True
    assert doctest.testmod(scores_module).failed == 0


def test_multiclass_metrics_are_accuracy_and_log_loss_of_the_labels_class() -> None:
    metrics = metrics_for("multiclass")
    assert isinstance(metrics, MultiClassMetrics)
    assert isinstance(metrics_for("binary"), BinaryMetrics) and isinstance(
        metrics_for("forecast"), RegressionMetrics
    )
    assert metrics.get() == {"n_labels": 0.0}
    pairs = [(0.0, (0.7, 0.2, 0.1)), (1.0, (0.5, 0.4, 0.1)), (2.0, (0.1, 0.1, 0.8)), (2.0, (0.3, 0.3, 0.4))]
    for label, probabilities in pairs:
        metrics.update(label, ClassProbabilities(probabilities))
    got = metrics.get()
    expected_loss = -np.mean(np.log([0.7, 0.4, 0.8, 0.4]))
    assert got["accuracy"] == pytest.approx(0.75) and got["logloss"] == pytest.approx(expected_loss)
    assert (got["rate_0"], got["rate_1"], got["rate_2"]) == (0.25, 0.25, 0.5)
    metrics.update(0.0, 0.9)  # a plain float knows no class: the worst clipped loss, never right
    assert metrics.get()["accuracy"] == pytest.approx(0.6)
    assert doctest.testmod(metrics_module).failed == 0


def test_a_multiclass_label_is_its_class_index_from_a_name_or_an_index() -> None:
    deployment = Deployment(MatchOutcome)
    assert [deployment.label_value(v) for v in ("H", "draw", "Away_Win", 2, 0.0, "x")] == [
        0.0,
        1.0,
        2.0,
        2.0,
        0.0,
        1.0,
    ]
    for bad in ("banana", 3, 1.5, -1):
        with pytest.raises(InvalidValueError):
            deployment.label_value(bad)


def test_drift_watches_the_top_class_error() -> None:
    score = ClassProbabilities((0.2, 0.5, 0.3))
    assert _error_of("multiclass", score, 1.0) is False
    assert _error_of("multiclass", score, 0.0) is True
    assert _error_of("binary", 0.8, 1.0) is False and _error_of("regression", 3.0, 1.0) == 2.0


def test_shadow_agreement_is_on_the_top_class_and_its_metrics_on_the_label() -> None:
    tracker = AgreementTracker("twin", deployment="matches", kind="multiclass", window_events=3, slo=0.9)
    a, b, c = (
        ClassProbabilities((0.5, 0.3, 0.2)),
        ClassProbabilities((0.4, 0.35, 0.25)),
        ClassProbabilities((0.2, 0.3, 0.5)),
    )
    assert tracker.agrees(a, b) and not tracker.agrees(a, c) and not tracker.agrees(0.5, 0.5)
    windows = tracker.observe_many([a, a, a], [b, c, None], start_position=0, ts_ms=0)  # None is skipped
    assert windows == [] and tracker.skipped_events == 1
    window = tracker.observe(a, a, position=3, ts_ms=0)
    assert window is not None and window.report.agreement == pytest.approx(2 / 3) and window.alert is not None
    tracker.observe_label(a, c, 2.0)
    assert tracker.live_metrics == {"accuracy": 0.0, "log_loss": pytest.approx(-math.log(0.2))}
    assert tracker.shadow_metrics == {"accuracy": 1.0, "log_loss": pytest.approx(-math.log(0.5))}
    policy = DriftPolicy(auto_promote_margin=0.01)
    judge = PromotionJudge.from_policy(policy, "multiclass")
    assert judge is not None and judge.metric == "accuracy"


def test_the_prometheus_score_histogram_takes_the_top_class_probability() -> None:
    metrics = TracerMetrics()
    scores = [ClassProbabilities((0.7, 0.2, 0.1)), ClassProbabilities((0.35, 0.33, 0.32))]
    metrics.record_batch("matches", "fixtures", consumed=2, predicted=2, scores=scores)
    text = metrics.render().decode()
    assert 'ml_prediction_score_bucket{deployment="matches",le="0.4",model_version="unknown"} 1.0' in text
    assert 'ml_prediction_score_sum{deployment="matches",model_version="unknown"} 1.05' in text


SPEC = {"id": "matches", "blueprint": "match_outcome", "input_topics": ["fixtures"], "key_field": "MatchID",
        "labels": {"mode": "delayed", "ttl_seconds": 400 * 86_400}}  # fmt: skip


def _fixtures(n: int, seed: int = 3) -> tuple[list[RoutedEvent], list[str]]:
    """Pre-match rows (no result, no score) as a stream, and each match's result word."""
    frame = MatchOutcome().sample(n, seed)
    results = frame["FTR"].tolist()
    rows = json.loads(frame.drop(columns=["FTR", "FTHG", "FTAG"]).to_json(orient="records"))
    source = Source("fixtures", 0, 0)
    return [
        RoutedEvent(json.dumps(row).encode(), None, source._replace(offset=i), 0)
        for i, row in enumerate(rows)
    ], results


def _labels(keys: list[str], results: list[str]) -> list[RoutedEvent]:
    source = Source("tracer.labels", 0, 0)
    return [
        RoutedEvent(json.dumps({"deployment": "matches", "key": k, "label": r, "ts": 1}).encode(), None, source, 0, is_label=True)
        for k, r in zip(keys, results, strict=True)
    ]  # fmt: skip


def test_live_process_scores_matches_and_learns_delayed_results_with_a_shadow() -> None:
    spec = DeploymentSpec.model_validate(
        SPEC | {"shadows": [{"name": "twin"}], "drift": {"agreement_window_events": 100}}
    )
    live = LiveDeployment(spec, created_at=0)
    events, results = _fixtures(1200)
    correct = 0
    reports = []
    for start in range(0, 1200, 100):
        batch = live.process(events[start : start + 100], now_ms=0)
        assert len(batch.predictions) == 100 and not batch.dead_letters
        for prediction in batch.predictions:
            assert isinstance(prediction.score, ClassProbabilities)
            assert prediction.output.result_probability == pytest.approx(float(prediction.score))
        if start >= 600:
            correct += sum(
                p.score.top == "HDA".index(r)
                for p, r in zip(batch.predictions, results[start : start + 100], strict=True)
            )  # type: ignore[attr-defined]
        learned = live.process(
            _labels([p.key for p in batch.predictions], results[start : start + 100]), now_ms=0
        )
        assert learned.labels_joined == 100 and not learned.dead_letters
        reports += batch.reports
    assert live.live.counters()["labels_learned"] == 1200 and live.live.pending == 0
    assert correct / 600 > 0.5, "the results were learned: better than the home-win rate alone"
    assert reports and all(r.agreement == 1.0 for r in reports), "the twin learns the same results"
    assert reports[-1].live_metrics["accuracy"] > 0.5 and reports[-1].live_metrics["log_loss"] < 1.0
    restored = pickle.loads(pickle.dumps(live))  # a checkpoint with multi-class captures pending
    assert restored.live.model.ratings == live.live.model.ratings


def test_concept_drift_fires_when_the_results_stop_following_the_ratings() -> None:
    live = LiveDeployment(DeploymentSpec.model_validate(SPEC), created_at=0)
    events, results = _fixtures(4000)
    swapped = {"H": "A", "A": "H", "D": "D"}
    for start in range(0, 4000, 250):
        batch = live.process(events[start : start + 250], now_ms=0)
        truth = results[start : start + 250]
        if start >= 2000:  # the world turns upside down: the favourite loses
            truth = [swapped[r] for r in truth]
        live.process(_labels([p.key for p in batch.predictions], truth), now_ms=0)
    assert live.monitor.detections["concept"] >= 1


def test_tracer_eval_gates_and_shows_multiclass_metrics() -> None:
    from tracer.agents.evaluate import gates_for, metrics_table, parse_gate
    from tracer.online_models.baselines import compare_replay

    assert gates_for([], "multiclass") == [] and parse_gate("logloss<=1.0", "multiclass").metric == "logloss"
    with pytest.raises(Exception, match="no metric 'auc'"):
        parse_gate("auc>=0.6", "multiclass")
    frame = MatchOutcome().sample(300, 2)
    deployment = Deployment(MatchOutcome)
    report = deployment.replay(frame)
    assert compare_replay(deployment, frame, report) is None
    table = metrics_table(report, "multiclass", [])
    assert "log loss" in table and "accuracy" in table
