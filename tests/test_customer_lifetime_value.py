"""customer_lifetime_value: features and self-labels on hand-made orders, the hurdle engine, the
spend learned on the sample, analysis ranking, and CDNOW (skipped without ``lifetimes``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tracer.blueprints.analysis import analyze
from tracer.blueprints.engines.hurdle import HurdleRegressor
from tracer.blueprints.recipes.customer_lifetime_value import CustomerLifetimeValue, LifetimeValueOutput
from tracer.online_models import Deployment

BP = CustomerLifetimeValue()
DAY = 86_400.0


def order(day: float, value: float | None, customer: str = "A", items: float | None = None) -> dict[str, Any]:
    return {"customer_id": customer, "order_date": day * DAY, "order_value": value, "items": items}


def drive(
    records: list[dict[str, Any]], **params: Any
) -> tuple[list[dict[str, Any]], list[tuple[str, float]]]:
    """self_labels then featurize per record, as a deployment does; returns the features and labels."""
    resolved = BP.resolve_params(params)
    state = BP.new_state(resolved)
    features, labels = [], []
    for record in records:
        labels += BP.self_labels(record, state, resolved)
        features.append(BP.featurize(record, state, resolved))
    return features, labels


def test_features_are_the_customer_summary_as_of_the_record() -> None:
    features, _ = drive([order(0, 100.0, items=2), order(10, 50.0, items=1), order(40, None)])
    assert features[0]["first_order"] == 1.0 and features[0]["frequency"] == 0.0
    second = features[1]
    assert second["frequency"] == 1.0 and second["recency_days"] == 10.0 and second["age_days"] == 10.0
    assert second["mean_spend"] == 75.0 and second["mean_items"] == 1.5 and second["days_since_last"] == 0.0
    assert second["order_value"] == 50.0 and second["spend_per_year"] == pytest.approx(150.0 * 365 / 30)
    snapshot = features[2]  # no order: the same customer 30 days on
    assert "order_value" not in snapshot and snapshot["first_order"] == 0.0
    assert (
        snapshot["days_since_last"] == 30.0 and snapshot["age_days"] == 40.0 and snapshot["frequency"] == 1.0
    )


def test_a_prediction_is_settled_by_the_spend_in_its_horizon() -> None:
    _, labels = drive([
        order(0, 100.0), order(10, 50.0), order(40, 30.0), order(95, 20.0), order(101, 5.0, customer="B"),
    ])  # fmt: skip
    settled = dict(labels)
    assert settled == {"A@0": 80.0, f"A@{int(10 * DAY * 1000)}": 50.0}  # (0, 90] and (10, 100]
    _, short = drive([order(0, 100.0), order(10, 50.0), order(40, 30.0)], horizonDays=30)
    assert dict(short) == {"A@0": 50.0}  # the 30-day horizon of day 0 closed before day 40


def test_a_deployment_learns_the_self_labels_it_settles() -> None:
    frame = pd.DataFrame({
        "customer_id": ["A", "A", "B", "A", "B"],
        "order_date": ["2024-01-01", "2024-01-20", "2024-02-01", "2024-05-01", "2024-06-15"],
        "order_total": [100.0, 40.0, 10.0, 60.0, 20.0],
    })  # fmt: skip
    report = Deployment(CustomerLifetimeValue).replay(frame)
    assert report.rows.labels[:3] == (40.0, 0.0, 0.0) and report.n_learned == 3  # B@02-01 at 06-15
    assert report.rows.labels[3] is None  # A's last order: its horizon is still open


def test_the_hurdle_model_learns_probability_and_size() -> None:
    model = HurdleRegressor()
    rng = np.random.default_rng(0)
    for _ in range(3000):
        loyal = float(rng.random() < 0.5)
        y = rng.lognormal(4.0 + loyal, 0.3) if rng.random() < 0.2 + 0.6 * loyal else 0.0
        model.learn_one({"loyal": loyal}, y)
    assert model.purchase_probability({"loyal": 1.0}) == pytest.approx(0.8, abs=0.06)
    assert model.purchase_probability({"loyal": 0.0}) == pytest.approx(0.2, abs=0.06)
    expected = 0.8 * math.exp(5.0 + 0.045)
    assert model.predict_one({"loyal": 1.0}) == pytest.approx(expected, rel=0.2)


def test_the_sample_spend_is_learned_better_than_its_mean() -> None:
    report = Deployment(CustomerLifetimeValue).replay(BP.sample(4000, 3))
    labels = np.array([math.nan if y is None else y for y in report.rows.labels])
    settled = ~np.isnan(labels)
    assert settled.sum() > 2000
    mean_mae = np.abs(labels[settled] - labels[settled].mean()).mean()
    assert report.metrics["mae"] < 0.92 * mean_mae, (report.metrics, mean_mae)


def test_the_output_names_a_tier_and_protocol() -> None:
    deployment = Deployment(CustomerLifetimeValue)
    frame = BP.sample(2000, 1)
    deployment.replay(frame)
    loyal = frame.groupby("customer_id").size().idxmax()
    output = deployment.predict_one({"customer_id": loyal, "order_date": "2024-07-01", "order_total": 90.0})
    assert isinstance(output, LifetimeValueOutput) and output.expected_spend > 0
    assert output.value_tier in {"top", "high"} and output.recommended_protocol in {
        "vip_treatment",
        "loyalty_reward",
    }
    quiet = deployment.predict_one({"customer_id": "nobody", "order_date": "2024-07-01"})
    assert quiet.expected_spend < output.expected_spend and quiet.horizon_days == 90


def test_analyze_ranks_it_first_on_its_sample() -> None:
    suggestions = analyze({"orders.csv": BP.sample(2000, 1)})
    assert suggestions[0].blueprint == "customer_lifetime_value", suggestions[:3]
    assert suggestions[0].compatibility > suggestions[1].compatibility


def test_cdnow_is_found_and_streams() -> None:
    datasets = pytest.importorskip("lifetimes.datasets")
    frame = datasets.load_dataset("CDNOW_master.txt", sep=r"\s+")
    frame["date"] = pd.to_datetime(frame["date"].astype(str)).dt.strftime("%Y-%m-%d")
    frame = frame.rename(columns={"date": "order_date"})
    first = frame[frame["customer_id"] <= 1500]  # the first 1,500 customers, all their orders
    assert analyze({"cdnow.csv": first})[0].blueprint == "customer_lifetime_value"
    report = Deployment(CustomerLifetimeValue).replay(first)
    assert report.n_errors == 0 and report.n_learned > 1000
    labels = np.array([math.nan if y is None else y for y in report.rows.labels])
    settled = ~np.isnan(labels)
    assert report.metrics["mae"] < np.abs(labels[settled] - labels[settled].mean()).mean()
