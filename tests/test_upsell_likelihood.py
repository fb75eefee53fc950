"""upsell_likelihood: features on hand-made accounts, labels in expansion words, the output the
composite engine reads (probability, potential and expected expansion value) and its protocols,
the planted answer of the sample against its ceiling, and analyze's ranking.

No public subscription-expansion table ships in an installed package, so the quality figure is the
sample's: the progressive AUC against the AUC of the log-odds the sample was drawn from.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tracer.blueprints.actions import PROTOCOLS
from tracer.blueprints.analysis import analyze
from tracer.blueprints.recipes.upsell_likelihood import UpsellLikelihood, UpsellOutput, planted_logit
from tracer.online_models import Deployment
from tracer.online_models.metrics import exact_auc

BP = UpsellLikelihood()
PARAMS = BP.resolve_params()
INPUTS = [spec.name for spec in UpsellLikelihood.inputs()]


def account(**values: Any) -> dict[str, Any]:
    """A canonical record: every input present, None unless given."""
    return {name: values.get(name) for name in INPUTS}


def test_features_of_a_growing_account() -> None:
    record = account(seats=20.0, active_users=19.0, usage_growth=30.0, feature_adoption=8.0, limit_hits=3.0,
                     tenure_months=14.0, support_tickets=1.0, nps=9.0, mrr=600.0, plan_tier="Team")  # fmt: skip
    features = BP.features(record, PARAMS)
    assert features["seat_utilization"] == 0.95 and features["seats_full"] == 1.0
    assert features["usage_growth"] == 0.3 and features["feature_adoption"] == 8.0
    assert features["limit_hits"] == 3.0 and features["hits_limits"] == 1.0
    assert (features["tenure_months"], features["support_tickets"], features["nps"]) == (14.0, 1.0, 9.0)
    assert features["mrr"] == 600.0 and features["plan_tier"] == "Team"


def test_features_of_a_sparse_or_odd_account() -> None:
    assert BP.features(account(), PARAMS) == {}
    features = BP.features(account(seats=0.0, active_users=5.0, usage_growth=900.0, limit_hits=0.0), PARAMS)
    assert "seat_utilization" not in features and "seats_full" not in features  # no seats to divide by
    assert features["usage_growth"] == 5.0 and features["hits_limits"] == 0.0  # growth capped
    given = BP.features(
        account(seats=10.0, active_users=10.0, seat_utilization=45.0, usage_growth=-0.2), PARAMS
    )
    assert given["seat_utilization"] == 0.45 and given["seats_full"] == 0.0  # the given share wins
    assert given["usage_growth"] == -0.2
    over = BP.features(account(seats=4.0, active_users=7.0), PARAMS)
    assert over["seat_utilization"] == 1.75 and over["seats_full"] == 1.0  # a ratio of counts, not a percent


@pytest.mark.parametrize(
    ("value", "label"),
    [("Yes", 1.0), ("no", 0.0), ("Upgraded", 1.0), ("no_change", 0.0), ("Expanded", 1.0), ("downgraded", 0.0),
     (True, 1.0), (0, 0.0), ("trial", None), (None, None)],
)  # fmt: skip
def test_label_in_expansion_words(value: Any, label: float | None) -> None:
    assert BP.label_of(account(expanded=value), PARAMS) == label


def test_protocols_offer_seats_to_full_accounts_and_a_tier_to_others() -> None:
    model = BP.make_model(PARAMS, seed=0)
    full: dict[str, float | str] = {"seats_full": 1.0}
    cases = [(0.1, {}, "low", "nurture"), (0.3, full, "medium", "product_training"),
             (0.6, {"seats_full": 0.0}, "high", "tier_upgrade"), (0.9, {}, "critical", "tier_upgrade"),
             (0.6, full, "high", "seat_expansion_offer"), (0.9, full, "critical", "seat_expansion_offer")]  # fmt: skip
    for score, features, risk, protocol in cases:
        output = BP.postprocess(score, dict(features), model, PARAMS)
        assert isinstance(output, UpsellOutput)
        assert (output.expansion_probability, output.risk_classification) == (score, risk)
        assert output.recommended_protocol == protocol and protocol in PROTOCOLS


def test_expected_expansion_value_for_the_composite_engine() -> None:
    model = BP.make_model(PARAMS, seed=0)
    bare = BP.postprocess(0.4, {}, model, PARAMS)
    assert bare.potential_expansion_value is None and bare.expected_expansion_value is None
    from_mrr = BP.postprocess(0.4, {"mrr": 1000.0}, model, PARAMS)  # tierUplift 0.5 by default
    assert from_mrr.potential_expansion_value == 500.0 and from_mrr.expected_expansion_value == pytest.approx(
        200.0
    )
    doubled = BP.postprocess(0.4, {"mrr": 1000.0}, model, BP.resolve_params({"tierUplift": 1.0}))
    assert doubled.expected_expansion_value == pytest.approx(400.0)
    given = BP.postprocess(0.4, {"mrr": 1000.0, "expansion_potential": 300.0}, model, PARAMS)
    assert given.potential_expansion_value == 300.0 and given.expected_expansion_value == pytest.approx(120.0)
    fields = set(UpsellOutput.model_fields)
    assert {"expansion_probability", "potential_expansion_value", "expected_expansion_value"} <= fields


def test_a_ready_account_scores_high_and_gets_seats() -> None:
    deployment = Deployment(UpsellLikelihood)
    deployment.replay(BP.sample(4000, 5))
    ready = {"Account ID": "ready", "Plan": "Team", "Licensed Seats": 20, "Active Seats": 20, "Usage Growth %": 40,
             "Features Used": 11, "Quota Hits": 6, "Tenure Months": 24, "Tickets": 0, "NPS Score": 10, "MRR": 600,
             "Region": "North America", "Billing": "annual"}  # fmt: skip
    output = deployment.score(ready).output
    assert isinstance(output, UpsellOutput)
    assert output.expansion_probability > 0.6 and output.recommended_protocol == "seat_expansion_offer"
    assert output.expected_expansion_value == pytest.approx(output.expansion_probability * 300.0)
    assert output.risk_vectors, output
    idle = {**ready, "Plan": "Enterprise", "Active Seats": 8, "Usage Growth %": -20, "Features Used": 1,
            "Quota Hits": 0, "Tenure Months": 2, "Tickets": 6, "NPS Score": 2, "Region": "LATAM"}  # fmt: skip
    assert deployment.score(idle).score < 0.05


def test_the_planted_answer_is_learned_near_its_ceiling() -> None:
    """Progressive AUC on the last 70% of the sample, at least 0.95x the AUC of the log-odds the sample
    was drawn from, on the same rows (those with every value the planted model reads)."""
    frame = BP.sample(8000, 2)
    report = Deployment(UpsellLikelihood).replay(frame)
    assert report.n_errors == 0 and report.n_learned == len(frame)
    rows = report.rows
    labels = np.array(rows.labels, dtype=float)
    scores = np.array(rows.scores)
    truth = planted_logit(frame.iloc[list(rows.positions)])
    kept = ~np.isnan(truth) & (np.arange(len(labels)) >= 0.3 * len(labels))
    ceiling = exact_auc(labels[kept], truth[kept])
    learned = exact_auc(labels[kept], scores[kept])
    assert ceiling > 0.75
    assert learned >= 0.95 * ceiling, (learned, ceiling)


def test_analyze_ranks_it_first_on_its_sample() -> None:
    best = analyze({"accounts.csv": BP.sample(2000, 1)})[0]
    assert best.blueprint == "upsell_likelihood" and not best.missing, best
    assert best.label_column == "Upgraded" and best.column_mapping["seats"] == "Licensed Seats"
