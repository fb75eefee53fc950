"""return_likelihood: features on hand-made order lines, labels in returns words, the output and its
protocols, the planted answer of the sample against its ceiling, and analyze's ranking.

No public order-returns table ships in an installed package, so the quality figure is the sample's:
the progressive AUC against the AUC of the log-odds the sample was drawn from, on the same rows.
"""

from __future__ import annotations

import doctest
from typing import Any

import numpy as np
import pytest

from tracer.blueprints.actions import PROTOCOLS
from tracer.blueprints.analysis import analyze
from tracer.blueprints.recipes import return_likelihood
from tracer.blueprints.recipes.return_likelihood import (
    ReturnLikelihood,
    ReturnOutput,
    as_fraction,
    planted_logit,
)
from tracer.online_models import Deployment
from tracer.online_models.metrics import exact_auc

BP = ReturnLikelihood()
PARAMS = BP.resolve_params()
INPUTS = [spec.name for spec in ReturnLikelihood.inputs()]


def line(**values: Any) -> dict[str, Any]:
    """A canonical record: every input present, None unless given."""
    return {name: values.get(name) for name in INPUTS}


def test_module_doctests() -> None:
    assert doctest.testmod(return_likelihood).failed == 0


def test_features_of_a_risky_line() -> None:
    record = line(unit_price=80.0, quantity=2.0, discount=50.0, items_in_order=4.0, customer_return_rate=35.0,
                  past_orders=10.0, delivery_days=9.0, product_category="Dresses", size_variant="XL",
                  payment_method="Buy Now Pay Later")  # fmt: skip
    features = BP.features(record, PARAMS)
    assert features["unit_price"] == 80.0 and features["line_value"] == 160.0
    assert features["discount"] == 0.5 and features["deep_discount"] == 1.0
    assert features["customer_return_rate"] == 0.35 and features["first_order"] == 0.0
    assert features["delivery_days"] == 9.0 and features["late_delivery"] == 1.0
    assert features["items_in_order"] == 4.0 and features["quantity"] == 2.0
    assert (features["product_category"], features["size_variant"]) == ("Dresses", "XL")
    assert features["payment_method"] == "Buy Now Pay Later"


def test_features_of_a_sparse_or_odd_line() -> None:
    assert BP.features(line(), PARAMS) == {}
    features = BP.features(line(unit_price=-3.0, discount=0.1, past_orders=0.0, past_returns=0.0), PARAMS)
    assert features["unit_price"] == 0.0 and features["line_value"] == 0.0  # quantity missing: one unit
    assert features["discount"] == 0.1 and features["deep_discount"] == 0.0
    assert features["first_order"] == 1.0 and "customer_return_rate" not in features  # nothing to divide by
    computed = BP.features(line(past_orders=8.0, past_returns=2.0, delivery_days=3.0), PARAMS)
    assert computed["customer_return_rate"] == 0.25 and computed["late_delivery"] == 0.0
    given = BP.features(line(customer_return_rate=0.6, past_orders=8.0, past_returns=2.0), PARAMS)
    assert given["customer_return_rate"] == 0.6  # the given rate wins over the counts


@pytest.mark.parametrize(("value", "fraction"), [(0.0, 0.0), (0.4, 0.4), (1.0, 1.0), (40.0, 0.4), (250.0, 1.0),
                                                 (-5.0, 0.0)])  # fmt: skip
def test_rates_and_discounts_as_fractions(value: float, fraction: float) -> None:
    assert as_fraction(value) == pytest.approx(fraction)


@pytest.mark.parametrize(
    ("value", "label"),
    [("Yes", 1.0), ("no", 0.0), ("Returned", 1.0), ("kept", 0.0), ("Refunded", 1.0), ("Not Returned", 0.0),
     ("1", 1.0), (True, 1.0), (0, 0.0), ("pending", None), (None, None)],
)  # fmt: skip
def test_label_in_returns_words(value: Any, label: float | None) -> None:
    assert BP.label_of(line(returned=value), PARAMS) == label


def test_output_and_protocols() -> None:
    model = BP.make_model(PARAMS, seed=0)
    cases = [(0.1, "low", "no_action"), (0.3, "medium", "size_guidance"), (0.6, "high", "quality_check"),
             (0.9, "critical", "confirm_with_customer")]  # fmt: skip
    for score, risk, protocol in cases:
        output = BP.postprocess(score, {}, model, PARAMS)
        assert isinstance(output, ReturnOutput)
        assert (output.return_probability, output.risk_classification) == (score, risk)
        assert output.recommended_protocol == protocol and protocol in PROTOCOLS
        assert output.confidence == 0.0  # nothing learned yet


def test_a_risky_line_scores_high_with_its_drivers() -> None:
    deployment = Deployment(ReturnLikelihood)
    deployment.replay(BP.sample(4000, 5))
    risky = {"Order Item ID": "risky", "Category": "Dresses", "Size": "XS", "Unit Price": 150.0, "Discount %": 70,
             "Items in Order": 6, "Past Orders": 12, "Return Rate": 0.7, "Shipping Days": 11,
             "Payment Method": "Cash on Delivery", "Channel": "Web", "Customer Age": 30}  # fmt: skip
    output = deployment.score(risky).output
    assert isinstance(output, ReturnOutput)
    assert output.return_probability > 0.6 and output.risk_classification in ("high", "critical")
    assert output.risk_vectors and "customer_return_rate_high" in output.risk_vectors, output.risk_vectors
    safe = {**risky, "Category": "Accessories", "Size": "One Size", "Unit Price": 15.0, "Discount %": 0,
            "Items in Order": 1, "Return Rate": 0.0, "Shipping Days": 2, "Payment Method": "Card", "Channel": "App"}  # fmt: skip
    assert deployment.score(safe).score < 0.1


def test_the_planted_answer_is_learned_near_its_ceiling() -> None:
    """Progressive AUC on the last 70% of the sample, at least 0.95x the AUC of the log-odds the sample
    was drawn from, on the same rows (those with every value the planted model reads)."""
    frame = BP.sample(8000, 2)
    report = Deployment(ReturnLikelihood).replay(frame)
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
    best = analyze({"order_lines.csv": BP.sample(2000, 1)})[0]
    assert best.blueprint == "return_likelihood" and not best.missing, best
    assert best.label_column == "Returned" and best.column_mapping["customer_return_rate"] == "Return Rate"
