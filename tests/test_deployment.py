"""Deployment: score, capture, learn from what was captured, replay; the River adapters behind it."""

from __future__ import annotations

import doctest
import math
import pickle
from typing import Any, cast

import pandas as pd
import pytest
from river import compose, linear_model, optim, preprocessing

import tracer.blueprints.engines.models as models_module
import tracer.blueprints.engines.scale_encode as scale_encode_module
import tracer.blueprints.registry as registry_module
import tracer.online_models.deployment as deployment_module
from tests.seed_churn import SeedChurn
from tracer.blueprints.base import Features, Params, Record
from tracer.blueprints.engines.models import RiverBinaryClassifier, RiverRegressor, ScaleAndEncode
from tracer.blueprints.errors import InputError, InvalidValueError, MissingInputsError
from tracer.blueprints.recipes.customer_churn import ChurnOutput, ChurnState, CustomerChurn
from tracer.online_models import MIN_FRAME_ROWS, Captured, Deployment, Scored
from tracer.schemas import ReasonCode


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return [dict(row) for row in CustomerChurn().sample(600, seed=4).to_dict("records")]


def conserved(deployment: Deployment[Any]) -> bool:
    counts = deployment.counters()
    return counts["events_seen"] == counts["predictions"] + counts["errors"]


@pytest.mark.parametrize("module", [deployment_module, models_module, scale_encode_module, registry_module])
def test_doctests(module: Any) -> None:
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0


# -- score and learn -------------------------------------------------------------------------------


def test_score_captures_features_under_the_prediction_key(rows: list[dict[str, Any]]) -> None:
    deployment = Deployment(CustomerChurn)
    scored = deployment.score(rows[0])
    assert scored.key.startswith(f"{rows[0]['cust_id']}@")
    assert isinstance(scored.output, ChurnOutput)
    assert scored.score == scored.output.churn_probability
    assert scored.label == float(rows[0]["churned"])
    assert deployment.pending == 1
    captured = deployment.learn_one(scored.key, scored.label or 0.0)
    assert isinstance(captured, Captured) and captured.features is scored.features
    assert (deployment.pending, deployment.labels_learned, deployment.model_version) == (0, 1, 1)
    assert deployment.learn_one(scored.key, 1.0) is None  # already learned: counted, not relearned
    assert deployment.labels_unmatched == 1


def test_learn_by_raw_row_finds_the_capture_without_recomputing(rows: list[dict[str, Any]]) -> None:
    deployment = Deployment(CustomerChurn)
    scored = deployment.score(rows[0])
    captured = deployment.learn_one(rows[0], "yes")
    assert captured is not None and captured.key == scored.key
    with pytest.raises(InvalidValueError, match=r"'label'.*'maybe'"):
        deployment.learn_one(rows[1], "maybe")


def test_learning_uses_the_features_captured_at_prediction_time() -> None:
    """No leakage: March's label is learned from March's features, not from features recomputed later."""
    february = {"cust_id": "c1", "snapshot_date": "2024-02-29", "signup_date": "2023-03-31",
                "last_login": "2024-02-28", "total_spend": 600.0, "feature_usage": 1100, "plan": "pro"}  # fmt: skip
    march = {**february, "snapshot_date": "2024-03-31", "last_login": "2024-03-30", "feature_usage": 1110}
    april = {**february, "snapshot_date": "2024-04-30", "last_login": "2024-04-01", "feature_usage": 1111}
    deployment = Deployment(CustomerChurn)
    deployment.replay(CustomerChurn().sample(200, seed=8))
    deployment.score(february)
    scored_march = deployment.score(march)
    deployment.score(april)
    state_after_april = pickle.loads(pickle.dumps(deployment.state))
    recomputed = CustomerChurn().featurize(
        deployment._canonical(march, None), state_after_april, deployment.params
    )
    assert "declining_usage" in scored_march.features and "declining_usage" not in recomputed
    with_recomputed = pickle.loads(pickle.dumps(deployment.model))
    with_recomputed.learn_one(recomputed, 1.0)
    with_captured = pickle.loads(pickle.dumps(deployment.model))
    with_captured.learn_one(scored_march.features, 1.0)
    state_before = pickle.dumps(deployment.state)
    assert deployment.learn_one(march, 1.0) is not None  # the raw row finds its capture
    assert pickle.dumps(deployment.state) == state_before  # and nothing was featurized again
    probe = scored_march.features
    assert deployment.model.predict_one(probe) == with_captured.predict_one(probe)
    assert deployment.model.predict_one(probe) != with_recomputed.predict_one(probe)


def test_same_seed_same_data_same_predictions(rows: list[dict[str, Any]]) -> None:
    runs = []
    for _ in range(2):
        deployment = Deployment(CustomerChurn, seed=3)
        report = deployment.replay(pd.DataFrame.from_records(rows))
        runs.append((report.metrics, [deployment.score(row).score for row in rows[:50]]))
    assert runs[0] == runs[1]


def test_pickle_round_trip_predicts_identically(rows: list[dict[str, Any]]) -> None:
    deployment = Deployment(CustomerChurn)
    for row in rows[:300]:
        scored = deployment.score(row)
        if scored.label is not None and scored.label < 1:  # leave some captures pending
            deployment.learn_one(scored, scored.label)
    restored = pickle.loads(pickle.dumps(deployment))
    assert restored.pending == deployment.pending > 0
    assert restored.counters() == deployment.counters()
    for row in rows[300:]:
        left, right = deployment.score(row), restored.score(row)
        assert left.output == right.output
        deployment.learn_from([left])
        restored.learn_from([right])


# -- micro-batches ---------------------------------------------------------------------------------


def test_score_many_scores_with_the_model_as_of_the_batch_start(rows: list[dict[str, Any]]) -> None:
    deployment = Deployment(CustomerChurn)
    deployment.replay(pd.DataFrame.from_records(rows[:400]))
    per_row = pickle.loads(pickle.dumps(deployment))
    batch = rows[400:480]
    assert len(batch) >= MIN_FRAME_ROWS
    results = deployment.score_many(batch)
    expected = [per_row.score(row) for row in batch]
    assert [r.score for r in results if isinstance(r, Scored)] == pytest.approx([e.score for e in expected])
    assert [r.output.risk_vectors for r in results if isinstance(r, Scored)] == [
        e.output.risk_vectors for e in expected
    ]
    learned = deployment.learn_from(r for r in results if isinstance(r, Scored))
    assert len(learned) == len(batch)


def test_a_bad_row_takes_its_slot_and_the_batch_goes_on(rows: list[dict[str, Any]]) -> None:
    deployment = Deployment(SeedChurn)
    batch: list[Any] = [dict(row) for row in rows[:40]]
    batch[3]["total_spend"] = "lots"
    batch[5]["last_login"] = math.inf
    batch[7] = {"cust_id": "only an id"}
    batch[9] = ["not", "a", "row"]
    batch[11]["signup_date"] = None
    results = deployment.score_many(batch, row_ids=[f"offset-{i}" for i in range(40)])
    reasons = {i: r.reason for i, r in enumerate(results) if isinstance(r, InputError)}
    assert reasons == {3: ReasonCode.WRONG_TYPE, 5: ReasonCode.NON_FINITE, 7: ReasonCode.MISSING_FIELD,
                       9: ReasonCode.NOT_AN_OBJECT, 11: ReasonCode.MISSING_FIELD}  # fmt: skip
    assert "row offset-3" in str(results[3])
    assert isinstance(results[7], MissingInputsError)
    assert sum(isinstance(r, Scored) for r in results) == 35
    assert conserved(deployment)
    assert deployment.counters()["errors_missing_field"] == 2


class ExplodingChurn(CustomerChurn):
    """A blueprint with a bug: featurize fails for one customer."""

    def featurize(self, record: Record, state: ChurnState, params: Params) -> Features:
        if record["customer_id"] == "boom":
            raise ZeroDivisionError("division by zero")
        return super().featurize(record, state, params)


def test_a_blueprint_bug_is_a_scoring_error_not_a_crash(rows: list[dict[str, Any]]) -> None:
    deployment = Deployment(ExplodingChurn)
    batch = [dict(row) for row in rows[:5]]
    batch[2]["cust_id"] = "boom"
    results = deployment.score_many(batch)
    assert isinstance(results[2], InputError) and results[2].reason == ReasonCode.SCORING_ERROR
    assert "ZeroDivisionError" in str(results[2])
    with pytest.raises(InputError) as caught:
        deployment.score(batch[2])
    assert caught.value.reason == ReasonCode.SCORING_ERROR
    assert conserved(deployment)


class PickyOutputChurn(CustomerChurn):
    """A blueprint whose output fails for one customer: the batch's outputs then fail as a whole."""

    def postprocess(self, score: float, features: Features, model: Any, params: Params) -> ChurnOutput:
        if features["daily_value_rate"] == 0.0:
            raise ValueError("no spend")
        return super().postprocess(score, features, model, params)

    def postprocess_many(self, scores: Any, features: Any, model: Any, params: Params) -> list[ChurnOutput]:
        return [self.postprocess(score, x, model, params) for score, x in zip(scores, features, strict=True)]


def test_when_a_batchs_outputs_fail_each_row_is_tried_alone(rows: list[dict[str, Any]]) -> None:
    deployment = Deployment(PickyOutputChurn)
    batch = [dict(row) for row in rows[: MIN_FRAME_ROWS + 8]]
    batch[4]["total_spend"] = 0.0
    results = deployment.score_many(batch)
    failed = {i: r.reason for i, r in enumerate(results) if isinstance(r, InputError)}
    assert failed == {4: ReasonCode.SCORING_ERROR}
    assert "ValueError: no spend" in str(results[4])
    assert conserved(deployment)


class SelfLabellingChurn(CustomerChurn):
    """Each record settles the customer's previous prediction: label 1 if usage has not grown."""

    def new_state(self, params: Params) -> ChurnState:
        return {}

    def self_labels(self, record: Record, state: ChurnState, params: Params) -> list[tuple[str, float]]:
        seen = state.get(record["customer_id"])
        if seen is None:
            return []
        seen_s, seen_usage, _, _ = seen
        key = f"{record['customer_id']}@{int(seen_s * 1000)}"
        return [(key, float((record["feature_usage_count"] or 0) <= (seen_usage or 0)))]


def test_labels_revealed_by_later_records_are_learned_from_earlier_captures(
    rows: list[dict[str, Any]],
) -> None:
    deployment = Deployment(SelfLabellingChurn, pending_ttl_s=40 * 86_400)  # monthly snapshots
    frame = pd.DataFrame.from_records(rows).drop(columns=["churned"])  # no inline labels
    report = deployment.replay(frame)
    repeat_visits = len(frame) - frame["cust_id"].nunique()
    assert report.n_learned == deployment.labels_learned == repeat_visits > 0
    assert report.metrics["n_labels"] == repeat_visits
    # with a week's TTL, monthly snapshots come too late: every capture expires, and is counted
    short = Deployment(SelfLabellingChurn)
    assert short.replay(frame).n_learned == 0
    assert short.labels_unmatched == repeat_visits
    assert short.counters()["pending_expired"] + short.pending == len(frame)


# -- replay and housekeeping -----------------------------------------------------------------------


def test_replay_learns_in_time_order_and_reports_progress() -> None:
    frame = CustomerChurn().sample(4000, seed=6)
    calls: list[tuple[int, int]] = []
    report = Deployment(CustomerChurn).replay(
        frame.sample(frac=1.0, random_state=1), progress=lambda *a: calls.append(a)
    )
    assert report.metrics["auc"] > 0.7
    assert report.n_rows == report.n_scored == report.n_learned == 4000
    assert calls[-1] == (4000, 4000) and len(calls) == 4000
    # sorted by the as-of time either way; only rows of the same day may come in another order
    in_order = Deployment(CustomerChurn).replay(frame)
    assert in_order.metrics["auc"] == pytest.approx(report.metrics["auc"], abs=0.01)
    batched = Deployment(CustomerChurn).replay(frame, batch_size=100, progress=lambda *a: calls.append(a))
    assert batched.metrics["auc"] == pytest.approx(report.metrics["auc"], abs=0.02)
    assert calls[-1] == (4000, 4000)
    assert "auc=" in str(report)


def test_replay_counts_bad_rows_with_examples(rows: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame.from_records(rows).astype({"total_spend": object})
    frame.loc[5, "total_spend"] = "n/a?"
    frame.loc[9, "last_login"] = None
    deployment = Deployment(SeedChurn)
    report = deployment.replay(frame)
    assert (report.n_rows, report.n_scored, report.n_errors) == (600, 598, 2)
    assert report.errors_by_reason == {"wrong_type": 1, "missing_field": 1}
    assert any("row 5" in example and "'n/a?'" in example for example in report.example_errors)
    assert conserved(deployment)


def test_captures_expire_in_event_time_and_are_bounded(rows: list[dict[str, Any]]) -> None:
    deployment = Deployment(CustomerChurn, pending_ttl_s=10 * 86_400, max_pending=100)
    for row in rows[:150]:
        deployment.score(row)
    counts = deployment.counters()
    assert counts["pending"] == 100 and counts["pending_evicted"] == 50
    assert deployment.watermark_s is not None
    assert deployment.expire(deployment.watermark_s) > 0
    assert (
        deployment.expire(deployment.watermark_s + 11 * 86_400) + deployment.counters()["pending_expired"] > 0
    )
    assert deployment.pending == 0
    assert deployment.counters()["pending_expired"] == 100


def test_rescoring_the_same_key_replaces_the_capture(rows: list[dict[str, Any]]) -> None:
    deployment = Deployment(CustomerChurn)
    deployment.score(rows[0])
    deployment.score(rows[0])
    assert deployment.pending == 1 and deployment.counters()["pending_superseded"] == 1


def test_replace_model_bumps_the_version(rows: list[dict[str, Any]]) -> None:
    deployment = Deployment(CustomerChurn)
    scored = deployment.score(rows[0])
    assert deployment.replace_model() == 2
    assert deployment.learn_one(scored, 1.0) is not None
    assert deployment.score(rows[1]).output.churn_probability != 0.5


def test_column_mapping_is_checked_up_front() -> None:
    with pytest.raises(InputError, match="unknown input"):
        Deployment(CustomerChurn, column_mapping={"last_seen_at": "seen"})
    deployment = Deployment(CustomerChurn, column_mapping={"last_activity_date": "seen"})
    row = {"cust_id": "a", "seen": "2024-01-01", "signup_date": "2023-01-01", "total_spend": 1.0}
    assert deployment.score(row).features["account_tenure_days"] == 365.0


# -- the River adapters ----------------------------------------------------------------------------


def test_the_fast_path_is_exactly_rivers_pipeline(rows: list[dict[str, Any]]) -> None:
    def pipeline() -> compose.Pipeline:
        return ScaleAndEncode(log1p=("usage_rate",)) | linear_model.LogisticRegression(
            optim.SGD(0.1), l2=1e-3
        )

    features = [Deployment(CustomerChurn).score(row).features for row in rows]
    adapter, plain = RiverBinaryClassifier(pipeline()), pipeline()
    for x, row in zip(features, rows, strict=True):
        assert adapter.predict_one(x) == plain.predict_proba_one(dict(x))[True]
        adapter.learn_one(x, float(row["churned"]))
        plain.learn_one(x, bool(row["churned"]))


def test_batch_verbs_match_the_per_row_verbs(rows: list[dict[str, Any]]) -> None:
    features = [Deployment(CustomerChurn).score(row).features for row in rows]
    labels = [float(row["churned"]) for row in rows]
    frame = pd.DataFrame.from_records(features)
    model = RiverBinaryClassifier(
        ScaleAndEncode(log1p=("days_inactive",)) | linear_model.LogisticRegression()
    )
    for x, y in zip(features[:300], labels[:300], strict=True):
        model.learn_one(x, y)
    assert model.predict_many(frame) == pytest.approx([model.predict_one(x) for x in features])
    # learn_many: one averaged River step per batch, with the scaler learning each column's present values
    batch = frame.iloc[300:]
    model.learn_many(batch, labels[300:])
    assert model.n_learned == len(rows)
    assert model.estimator[0].scaler.counts["support_intensity"] == sum(  # type: ignore[index]
        "support_intensity" in x for x in features
    )


def test_models_ignore_none_and_nan_features() -> None:
    regressor = RiverRegressor(preprocessing.StandardScaler() | linear_model.LinearRegression())
    for i in range(50):
        regressor.learn_one({"a": float(i), "b": math.nan if i % 2 else 1.0}, 2.0 * i)
    assert math.isfinite(regressor.predict_one({"a": 3.0, "b": math.nan}))
    assert math.isfinite(regressor.predict_one({"a": 3.0, "b": cast(float, None)}))  # a blueprint's slip
    regressor.learn_one({"a": 3.0, "b": cast(float, None)}, 6.0)
    frame = pd.DataFrame({"a": [1.0, 2.0, math.nan], "b": [1.0, math.nan, 3.0]})
    assert all(math.isfinite(v) for v in regressor.predict_many(frame))  # NaN rows fall back to per-row
    regressor.learn_many(frame, [1.0, 2.0, 3.0])
    assert regressor.n_learned == 54
    assert set(regressor.contributions({"a": 3.0, "b": 1.0})) == {"a", "b"}
    tree = RiverBinaryClassifier(preprocessing.StandardScaler())  # not linear: no contributions
    assert tree.contributions({"a": 1.0}) == {}


def test_contributions_sum_to_the_logit(rows: list[dict[str, Any]]) -> None:
    deployment = Deployment(CustomerChurn)
    deployment.replay(pd.DataFrame.from_records(rows))
    model = deployment.model
    assert isinstance(model, RiverBinaryClassifier)
    for row in rows[:20]:
        x = deployment.score(row).features
        probability = model.predict_one(x)
        logit = sum(model.contributions(x).values()) + model.estimator[-1].intercept  # type: ignore[index]
        assert probability == pytest.approx(1 / (1 + math.exp(-logit)))
        assert set(model.contributions(x)) <= set(x)
