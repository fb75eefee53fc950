"""Context features: the user's other columns, profiled once, the same online and offline."""

from __future__ import annotations

import doctest
import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from tracer.agents.cli import main as cli
from tracer.blueprints import context
from tracer.blueprints.context import CONTEXT_KEY, PROFILE_ROWS, context_features, profile_context
from tracer.blueprints.errors import InputError
from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.blueprints.recipes.payment_default import PaymentDefault
from tracer.online_models import Deployment, Scored
from tracer.schemas import ReasonCode


def telco_shaped(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """A table shaped like the public telecom churn tables: no customer id, no dates, a Churn column,
    and most of the signal in columns no recipe declares (contract, internet service)."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n_rows, p=[0.55, 0.25, 0.2])
    internet = rng.choice(["DSL", "Fiber optic", "No"], n_rows)
    tenure = rng.integers(1, 72, n_rows)
    monthly = rng.uniform(20, 110, n_rows).round(2)
    logit = -2.0 + 1.0 * (contract == "Month-to-month") + 2.5 * (internet == "Fiber optic") - 0.01 * tenure
    churn = rng.random(n_rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({
        "gender": rng.choice(["Female", "Male"], n_rows), "SeniorCitizen": rng.integers(0, 2, n_rows),
        "tenure": tenure, "Contract": contract, "InternetService": internet, "MonthlyCharges": monthly,
        "TotalCharges": (monthly * tenure).round(2), "Churn": np.where(churn, "Yes", "No"),
    })  # fmt: skip


def test_the_module_examples_run() -> None:
    result = doctest.testmod(context)
    assert result.attempted > 0 and result.failed == 0


def test_churn_learns_a_table_with_no_id_and_no_dates_from_its_context() -> None:
    frame = telco_shaped(3000)
    deployment = Deployment(CustomerChurn)
    report = deployment.replay(frame)
    assert report.n_scored == 3000 and report.n_errors == 0
    assert deployment.context is not None
    used = deployment.context.describe()["used"]
    assert {"InternetService", "MonthlyCharges", "gender", "SeniorCitizen"} <= set(used)
    inputs = "read by the blueprint's inputs"  # as plan, tenure and lifetime value
    assert deployment.context.describe()["left_out"] == {
        "Churn": "the label", "Contract": inputs, "tenure": inputs, "TotalCharges": inputs,
    }  # fmt: skip
    # the internet service is no input of churn's: only the context reads it, and it carries signal
    without = Deployment(CustomerChurn).replay(frame.drop(columns=["InternetService"]))
    assert report.metrics["auc"] > without.metrics["auc"] + 0.05


def test_tracer_eval_scores_a_real_shaped_table_with_no_id_and_no_dates(tmp_path: Any) -> None:
    path = tmp_path / "telco.csv"
    telco_shaped(1500).to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["eval", "--blueprint", "customer_churn", str(path)])
    assert result.exit_code in (0, 1), result.output  # scored; the SLO gates decide 0 or 1
    assert (
        "1500 rows, 1500 scored" in result.output.replace("1,500", "1500") and "auc" in result.output.lower()
    )


def test_unseen_categories_and_odd_values_never_dead_letter_a_row() -> None:
    frame = telco_shaped(400)
    deployment = Deployment(CustomerChurn)
    deployment.replay(frame)
    odd = [
        {"InternetService": "Satellite", "MonthlyCharges": "n/a", "tenure": 5, "Churn": "No"},
        {"Contract": None, "MonthlyCharges": float("nan"), "InternetService": 7, "Churn": "Yes"},
        {"gender": ["a", "list"], "InternetService": {"a": 1}, "SeniorCitizen": "maybe"},
        {"MonthlyCharges": "abc", "gender": 3.5, "SeniorCitizen": None, "Churn": "No"},
        {"MonthlyCharges": {"x": 1}, "InternetService": float("inf"), "Churn": "No"},
        {"MonthlyCharges": float("inf"), "InternetService": "DSL", "Churn": "No"},
    ]
    results = deployment.score_many(odd)
    assert all(isinstance(result, Scored) for result in results)
    first = results[0]
    assert isinstance(first, Scored) and first.features["InternetService"] == "other"
    assert "MonthlyCharges" not in first.features


def test_leaks_are_left_out_with_their_reason() -> None:
    frame = telco_shaped(300).assign(
        churn_reason=lambda f: np.where(f.Churn == "Yes", "Competitor", None),
        left_company=lambda f: np.where(f.Churn == "Yes", 1, 0),
        row_id=lambda f: [f"r{i}" for i in range(len(f))],
    )
    deployment = Deployment(CustomerChurn)
    deployment.profile(frame)
    assert deployment.context is not None
    left_out = deployment.context.describe()["left_out"]
    assert left_out["churn_reason"] == "named like the label (a leak)"
    assert left_out["left_company"].startswith("the label under another name")
    assert left_out["row_id"].startswith("an id")


def test_the_same_features_online_and_offline() -> None:
    frame = telco_shaped(600)
    offline = Deployment(CustomerChurn)
    offline.profile(frame)
    online = pickle.loads(pickle.dumps(offline))  # the same profile, as a checkpoint or HTTP deploy has it
    records = offline.canonical_frame(frame)
    batch = offline.score_records(list(enumerate(records)))
    streamed = [online.score(row) for row in frame.to_dict("records")]
    assert [item.features for item in batch if isinstance(item, Scored)] == [
        item.features for item in streamed
    ]


def test_a_stream_is_profiled_from_its_first_rows_and_keeps_the_profile() -> None:
    rows = telco_shaped(PROFILE_ROWS + 50).to_dict("records")
    deployment = Deployment(CustomerChurn)
    early = deployment.score_many(rows[: PROFILE_ROWS - 1])
    assert deployment.context is None and all(
        isinstance(item, Scored) and "InternetService" not in item.features for item in early
    )
    later = deployment.score_many(rows[PROFILE_ROWS - 1 :])
    assert deployment.context is not None and deployment.context.rows_profiled == PROFILE_ROWS
    assert all(isinstance(item, Scored) and "InternetService" in item.features for item in later)
    restored = pickle.loads(pickle.dumps(deployment))
    assert restored.context == deployment.context
    peeked = restored.peek(rows[0])  # a request from outside the stream uses, never takes, the profile
    assert "InternetService" in peeked.features


def test_a_request_before_the_profile_does_not_feed_it() -> None:
    deployment = Deployment(CustomerChurn)
    deployment.peek(telco_shaped(1).to_dict("records")[0])
    assert deployment._profile_rows == [] and deployment.context is None


def test_payment_default_reads_good_and_bad_statuses_and_its_ratios() -> None:
    frame = PaymentDefault().sample(2000, seed=3)
    deployment = Deployment(PaymentDefault)
    report = deployment.replay(frame)
    assert report.n_errors == 0 and report.metrics["n_labels"] == 2000 and report.metrics["auc"] > 0.7
    scored = deployment.score(
        {"Income": 1000, "Debt": 5000, "Amount": 3000, "Job": "freelance", "Status": "bad"}
    )
    assert scored.label == 1.0 and scored.features["debt_to_income"] == 5.0
    assert 0 <= scored.output.default_probability <= 1 and scored.output.risk_classification in (
        "low", "medium", "high", "critical"
    )  # fmt: skip
    assert deployment.score({"Income": 1000, "Status": "good"}).label == 0.0


def test_context_features_need_no_profile_rows_of_their_own() -> None:
    profile = profile_context(telco_shaped(50), label_column="Churn")
    assert context_features(profile, {}) == {}
    assert CONTEXT_KEY not in context_features(profile, {"tenure": 3})


def test_a_bad_row_for_a_declared_input_still_dead_letters_with_its_column() -> None:
    deployment = Deployment(CustomerChurn)
    [result] = deployment.score_many([{"tenure": "ninety", "Churn": "No"}])
    assert isinstance(result, InputError) and "tenure" in str(result)


def test_a_row_with_nothing_to_score_from_is_refused_with_its_reason() -> None:
    deployment = Deployment(CustomerChurn)
    with pytest.raises(InputError, match="nothing to score from") as refused:
        deployment.peek({"x": 1})  # a request: its unknown column feeds no profile
    assert refused.value.reason == ReasonCode.MISSING_FIELD
    [streamed] = deployment.score_many([{"cust_id": "c1", "churned": False}])
    assert isinstance(streamed, InputError) and streamed.reason == ReasonCode.MISSING_FIELD
    [early] = deployment.score_many([{"x": 1, "churned": False}])  # before the profile: it feeds it
    assert isinstance(early, Scored)
