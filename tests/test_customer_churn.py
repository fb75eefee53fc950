"""customer_churn: features from the record's own clock, labels without leakage, outputs people can use."""

from __future__ import annotations

import copy
import pickle
import re
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from tracer.blueprints import registry
from tracer.blueprints.errors import ParameterError
from tracer.blueprints.inputs import canonical_record, resolve_columns
from tracer.blueprints.recipes import customer_churn
from tracer.blueprints.recipes.customer_churn import (
    ChurnOutput,
    CustomerChurn,
    _churn_window,
    _risk_level,
    _Seen,
)
from tracer.online_models import Deployment

DAY = 86_400.0
CHURN = CustomerChurn()
DEFAULTS = CustomerChurn.resolve_params()


def canonical(**row: Any) -> dict[str, Any]:
    return canonical_record(resolve_columns(CustomerChurn, row), row)


def customer(**changes: Any) -> dict[str, Any]:
    return {"cust_id": "c1", "snapshot_date": "2024-03-31", "signup_date": "2023-03-31", "last_login": "2024-03-01",
            "total_spend": 730.0, "support_tickets": 24, "feature_usage": 1200, "plan": "pro", **changes}  # fmt: skip


def test_registered_with_the_seed_parameters() -> None:
    assert registry.get("customer_churn") is CustomerChurn
    assert registry.categories() == ["business_operations"] or "business_operations" in registry.categories()
    assert DEFAULTS == {"churnDefinition": "cancelled_subscription", "predictionWindow": "30_days"}
    with pytest.raises(ParameterError, match="unknown parameter"):
        CustomerChurn.resolve_params({"window": "30_days"})
    with pytest.raises(
        ParameterError,
        match=re.escape("predictionWindow='45_days' is not one of 30_days | 60_days | 90_days"),
    ):
        CustomerChurn.resolve_params({"predictionWindow": "45_days"})


def test_features_use_the_as_of_time_never_the_wall_clock() -> None:
    features = CHURN.featurize(canonical(**customer()), {}, DEFAULTS)
    assert features["days_inactive"] == 30.0
    assert features["account_tenure_days"] == 366.0  # 2024 is a leap year
    assert features["daily_value_rate"] == pytest.approx(730.0 / 366.0)
    assert features["support_intensity"] == pytest.approx(24 / (366 / 30))
    assert features["usage_rate"] == pytest.approx(1200 / (366 / 30))
    assert features["plan_type"] == "pro"
    assert "declining_usage" not in features  # no earlier record of this customer
    old = CHURN.featurize(canonical(**customer(snapshot_date="2010-01-31", signup_date="2009-01-31",
                                               last_login="2010-01-01")), {}, DEFAULTS)  # fmt: skip
    assert old["days_inactive"] == 30.0


def test_without_an_as_of_time_the_last_activity_is_now() -> None:
    row = customer()
    del row["snapshot_date"]
    features = CHURN.featurize(canonical(**row), {}, DEFAULTS)
    assert features["days_inactive"] == 0.0
    assert features["account_tenure_days"] == 336.0


def test_per_customer_state_sees_usage_decline_and_new_tickets() -> None:
    state = CHURN.new_state(DEFAULTS)
    CHURN.featurize(canonical(**customer()), state, DEFAULTS)
    # a month later: 20 more uses (the earlier rate was ~98 a month) and 6 new tickets
    later = customer(snapshot_date="2024-04-30", support_tickets=30, feature_usage=1220)
    features = CHURN.featurize(canonical(**later), state, DEFAULTS)
    assert features["declining_usage"] == pytest.approx(1 - 20 / (1200 / (366 / 30)), rel=1e-3)
    assert features["recent_support_rate"] == pytest.approx(6.0)
    # another customer is unaffected; an older record does not rewind the state
    assert "declining_usage" not in CHURN.featurize(canonical(**customer(cust_id="c2")), state, DEFAULTS)
    CHURN.featurize(canonical(**customer(snapshot_date="2024-01-31")), state, DEFAULTS)
    assert state["c1"][0] == datetime(2024, 4, 30, tzinfo=UTC).timestamp()


def test_a_prediction_from_outside_the_stream_copies_its_customer_only() -> None:
    state = CHURN.new_state(DEFAULTS)
    for i in range(50):
        CHURN.featurize(canonical(**customer(cust_id=f"c{i}")), state, DEFAULTS)
    later = canonical(**customer(cust_id="c7", snapshot_date="2024-04-30", feature_usage=1220))
    scratch = CHURN.scratch_state(state, later)
    assert scratch == {"c7": state["c7"]}
    assert CHURN.featurize(later, scratch, DEFAULTS) == CHURN.featurize(later, copy.deepcopy(state), DEFAULTS)
    assert CHURN.scratch_state(state, canonical(**customer(cust_id="new"))) == {}


def test_the_state_is_bounded_forgetting_the_customers_seen_longest_ago(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(customer_churn, "MAX_CUSTOMERS", 100)
    state = CHURN.new_state(DEFAULTS)
    for day in range(101):  # customer c<day> last seen on day <day>: c0 is the oldest
        snapshot = f"2024-{1 + day // 28:02d}-{1 + day % 28:02d}"
        CHURN.featurize(canonical(**customer(cust_id=f"c{day}", snapshot_date=snapshot)), state, DEFAULTS)
    assert len(state) == 91 and not {f"c{day}" for day in range(10)} & set(state)
    back = customer(cust_id="c3", snapshot_date="2024-06-01", feature_usage=1220)
    assert "declining_usage" not in CHURN.featurize(canonical(**back), state, DEFAULTS), (
        "a forgotten customer is new"
    )
    assert "declining_usage" in CHURN.featurize(canonical(**{**back, "cust_id": "c50"}), state, DEFAULTS)

    tied: dict[str, Any] = {f"c{i:03d}": (5.0, None, None, None) for i in range(101)}
    customer_churn._forget_oldest(tied)
    assert sorted(tied) == [f"c{i:03d}" for i in range(10, 101)], (
        "ties at the cut go by id, whatever the order"
    )


def test_state_from_a_checkpoint_of_named_tuples_still_featurizes_the_same() -> None:
    """Checkpoints written before the per-customer state became plain tuples hold ``_Seen`` objects."""
    first, later = (
        canonical(**customer()),
        canonical(**customer(snapshot_date="2024-04-30", feature_usage=1220)),
    )
    state = CHURN.new_state(DEFAULTS)
    CHURN.featurize(first, state, DEFAULTS)
    old = {key: _Seen(*seen) for key, seen in state.items()}
    assert type(pickle.loads(pickle.dumps(old))["c1"]) is _Seen
    assert CHURN.featurize(later, old, DEFAULTS) == CHURN.featurize(later, state, DEFAULTS)
    assert type(old["c1"]) is tuple and old["c1"] == state["c1"]


def test_labels_by_column_or_by_the_inactivity_rule() -> None:
    assert CHURN.label_of(canonical(**customer(churned="yes")), DEFAULTS) == 1.0
    assert CHURN.label_of(canonical(**customer()), DEFAULTS) is None
    rule = {**DEFAULTS, "churnDefinition": "no_login_30_days"}
    assert CHURN.label_of(canonical(**customer(last_login="2024-03-01T00:00:00Z")), rule) == 1.0
    assert CHURN.label_of(canonical(**customer(last_login="2024-03-01T00:00:01Z")), rule) == 0.0
    row = customer()
    del row["snapshot_date"]
    assert CHURN.label_of(canonical(**row), rule) is None


def test_the_inactivity_rule_hides_the_recency_it_labels_from() -> None:
    rule = {**DEFAULTS, "churnDefinition": "no_login_30_days"}
    features = CHURN.featurize(canonical(**customer()), {}, rule)
    assert "days_inactive" not in features
    deployment = Deployment(CustomerChurn, rule)
    report = deployment.replay(CustomerChurn().sample(1500, seed=3))
    assert report.n_learned == report.n_rows  # every sampled row has an as-of time, so a label


@pytest.mark.parametrize(
    ("probability", "window", "expected"),
    [(0.73, 30, "16 days"), (0.5, 30, "30 days"), (0.49, 30, "more than 30 days"), (0.9, 90, "27 days"),
     (0.999999, 30, "2 days"), (1.0, 30, "1 day"), (0.0, 60, "more than 60 days")],
)  # fmt: skip
def test_churn_window_is_the_median_time_under_a_constant_hazard(
    probability: float, window: int, expected: str
) -> None:
    assert _churn_window(probability, window) == expected


def test_risk_levels() -> None:
    assert [_risk_level(p) for p in (0.0, 0.24, 0.25, 0.5, 0.74, 0.75, 1.0)] == [
        "low", "low", "medium", "high", "high", "critical", "critical",
    ]  # fmt: skip


def test_output_fields_are_exactly_the_documented_ones() -> None:
    assert list(ChurnOutput.model_fields) == [
        "churn_probability", "risk_classification", "estimated_churn_window", "intervention_protocols",
        "risk_vectors", "confidence",
    ]  # fmt: skip


def test_an_untrained_model_is_a_coin_flip_with_no_confidence() -> None:
    output = Deployment(CustomerChurn).predict_one(customer())
    assert output.churn_probability == 0.5
    assert output.confidence == 0.0
    assert output.risk_vectors == []
    assert output.risk_classification == "high"
    assert output.intervention_protocols == ["retention_offer"]


@pytest.fixture(scope="module")
def trained() -> Deployment[ChurnOutput]:
    deployment = Deployment(CustomerChurn, {"predictionWindow": "60_days"})
    deployment.replay(CustomerChurn().sample(6000, seed=1))
    return deployment


def test_risk_vectors_name_what_pushes_risk_up(trained: Deployment[ChurnOutput]) -> None:
    lapsing = trained.predict_one(customer(cust_id="x1", last_login="2024-01-15", feature_usage=30, plan="basic",
                                           signup_date="2024-01-01", total_spend=15))  # fmt: skip
    assert lapsing.risk_classification in ("medium", "high", "critical")
    assert lapsing.risk_vectors[0] == "long_inactivity"
    assert "engagement_campaign" in lapsing.intervention_protocols
    loyal = trained.predict_one(customer(cust_id="x2", last_login="2024-03-30", feature_usage=5000,
                                         signup_date="2020-01-01", total_spend=20000, plan="enterprise"))  # fmt: skip
    assert loyal.risk_classification == "low"
    assert loyal.intervention_protocols == []
    assert loyal.estimated_churn_window == "more than 60 days"
    assert loyal.confidence > 0.9
    assert lapsing.churn_probability > 10 * loyal.churn_probability


def test_an_unseen_plan_scores_and_contributes_nothing(trained: Deployment[ChurnOutput]) -> None:
    unseen = trained.score(customer(cust_id="x3", plan="platinum"))
    assert "plan_type" not in trained.model.contributions(unseen.features)  # type: ignore[attr-defined]
    without = trained.score(customer(cust_id="x4", plan=None))
    assert unseen.score == pytest.approx(without.score)


def test_sample_is_realistic_and_seeded() -> None:
    frame = CustomerChurn().sample(3000, seed=5)
    assert list(frame.columns) == ["cust_id", "snapshot_date", "signup_date", "last_login", "plan", "total_spend",
                                   "support_tickets", "feature_usage", "churned"]  # fmt: skip
    assert len(frame) == 3000
    assert 0.04 < frame["churned"].mean() < 0.2
    assert frame["snapshot_date"].is_monotonic_increasing
    assert 0.0 < frame["support_tickets"].isna().mean() < 0.1
    assert frame["cust_id"].nunique() < len(frame)  # customers come back month after month
    assert frame.equals(CustomerChurn().sample(3000, seed=5))


def test_online_auc_matches_a_batch_baseline_on_the_same_rows() -> None:
    """The bench in bench/churn_online_vs_batch.py, smaller: online >= 0.97 x a gradient-boosted baseline."""
    sklearn_ensemble = pytest.importorskip("sklearn.ensemble")
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    import pandas as pd

    deployment = Deployment(CustomerChurn)
    scored = []
    for row in CustomerChurn().sample(8000, seed=2).to_dict("records"):
        item = deployment.score(row)
        deployment.learn_one(item, item.label if item.label is not None else 0.0)
        scored.append(item)
    scores = [item.score for item in scored]
    labels = np.array([item.label for item in scored])
    features = pd.DataFrame.from_records([item.features for item in scored]).astype({"plan_type": "category"})
    cut = int(len(scored) * 0.7)
    baseline = sklearn_ensemble.HistGradientBoostingClassifier(
        random_state=0, categorical_features="from_dtype"
    )
    baseline.fit(features.iloc[:cut], labels[:cut])
    batch_auc = sklearn_metrics.roc_auc_score(labels[cut:], baseline.predict_proba(features.iloc[cut:])[:, 1])
    online_auc = sklearn_metrics.roc_auc_score(labels[cut:], scores[cut:])
    assert online_auc >= 0.97 * batch_auc, (online_auc, batch_auc)


def test_a_batch_is_explained_as_each_row_alone(trained: Deployment[ChurnOutput]) -> None:
    blueprint, model, params = trained.blueprint, copy.deepcopy(trained.model), trained.params
    model.estimator[-1]._weights["plan_type_basic"] = 0.5  # type: ignore[attr-defined]  # a plan that pushes too
    records = [
        trained._canonical(row, i)
        for i, row in enumerate(CustomerChurn().sample(400, seed=9).to_dict("records"))
    ]
    state = blueprint.new_state(params)
    features = [blueprint.featurize(record, state, params) for record in records]
    scores = model.predict_rows(features)  # type: ignore[attr-defined]
    together = blueprint.postprocess_many(scores, features, model, params)
    alone = [
        blueprint.postprocess(score, x, model, params) for score, x in zip(scores, features, strict=True)
    ]
    assert together == alone
    vectors = {name for output in together for name in output.risk_vectors}
    assert {"long_inactivity", "plan_basic"} <= vectors  # numeric and one-hot shares both came through
    assert blueprint.postprocess_many(scores, list(features), model, params) == alone  # row by row: no block
