"""price_optimization: output contract, elasticity recovery, optimal prices within observed bounds, profit
objective, odd rows, pooling, determinism and pickling.

The verbs are driven directly with canonical records (``date`` in float epoch seconds): featurize ->
predict_one -> postprocess, then learn_one on the captured features with the row's quantity.
"""

from __future__ import annotations

import doctest
import math
import pickle
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.blueprints.base import OnlineModel
from tracer.blueprints.engines import elasticity_model
from tracer.blueprints.engines.elasticity_model import ElasticityModel, ProductEstimate
from tracer.blueprints.errors import ParameterError
from tracer.blueprints.recipes import price_optimization
from tracer.blueprints.recipes.price_optimization import (
    ALL_PRODUCTS,
    SAMPLE_ELASTICITIES,
    PriceOptimization,
    PriceOptimizationOutput,
    optimal_price,
)
from tracer.online_models import Deployment

BP = PriceOptimization()
IMPACT = re.compile(r"^[+-]\d+%$")


def canonical(frame: pd.DataFrame, *, cost: bool = True, category: bool = True) -> list[dict[str, Any]]:
    """The sample in the blueprint's input names: sku -> product_id, unit_price -> price, units -> ..."""
    seconds = (pd.to_datetime(frame["order_date"], utc=True) - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(
        seconds=1
    )
    columns = ("sku", "unit_price", "units", "unit_cost", "category")
    return [
        {
            "date": float(ts),
            "product_id": str(sku),
            "price": float(price),
            "quantity_sold": float(units),
            "cost": float(unit_cost) if cost else None,
            "category": str(group) if category else None,
        }
        for ts, (sku, price, units, unit_cost, group) in zip(
            seconds, frame[list(columns)].itertuples(index=False), strict=True
        )
    ]


def row(product: str, price: float, quantity: float, **extra: Any) -> dict[str, Any]:
    """A canonical record; optional inputs default to None as the input layer leaves them."""
    record = {"date": 0.0, "product_id": product, "price": price, "quantity_sold": quantity}
    return record | {"cost": None, "category": None} | extra


def drive(
    records: list[dict[str, Any]], params: dict[str, Any] | None = None
) -> tuple[list[float], list[PriceOptimizationOutput], OnlineModel]:
    """Score every record, then learn its quantity (inline labels)."""
    resolved = BP.resolve_params(params)
    BP.new_state(resolved)  # stateless: the demand curves live in the model
    model = BP.make_model(resolved, seed=0)
    scores, outputs = [], []
    for record in records:
        features = BP.featurize(record, None, resolved)
        score = model.predict_one(features)
        outputs.append(BP.postprocess(score, features, model, resolved))
        scores.append(score)
        label = BP.label_of(record, resolved)
        assert label is not None
        model.learn_one(features, label)
    return scores, outputs, model


@pytest.fixture(scope="module")
def sample_run() -> tuple[list[dict[str, Any]], list[float], list[PriceOptimizationOutput], OnlineModel]:
    records = canonical(BP.sample(2000, seed=0))  # 500 rows per product
    return (records, *drive(records))


def test_doctests() -> None:
    for module in (price_optimization, elasticity_model):
        assert doctest.testmod(module).failed == 0


def test_output_fields_and_types_are_the_seeds(sample_run: Any) -> None:
    assert list(PriceOptimizationOutput.model_fields) == [
        "optimal_price",
        "elasticity_coefficient",
        "revenue_impact",
        "volume_impact",
    ]
    for output in sample_run[2]:
        dumped = output.model_dump(mode="json")
        assert type(dumped["optimal_price"]) is float and math.isfinite(dumped["optimal_price"])
        assert type(dumped["elasticity_coefficient"]) is float and math.isfinite(
            dumped["elasticity_coefficient"]
        )
        assert IMPACT.match(dumped["revenue_impact"]) and IMPACT.match(dumped["volume_impact"])


def test_elasticity_recovered_within_ten_percent_per_product(sample_run: Any) -> None:
    model = sample_run[3]
    assert isinstance(model, ElasticityModel)
    for product, planted in SAMPLE_ELASTICITIES.items():
        assert model.estimate(product).elasticity == pytest.approx(planted, rel=0.10), product


def test_optimal_price_inside_observed_bounds(sample_run: Any) -> None:
    records, _, outputs, _ = sample_run
    seen: dict[str, list[float]] = {}
    for record, output in zip(records, outputs, strict=True):
        prices = seen.setdefault(record["product_id"], [])
        prices.append(record["price"])  # the row's own price counts as observed
        assert min(prices) - 1e-9 <= output.optimal_price <= max(prices) + 1e-9


def test_revenue_objective_goes_to_the_bound_elasticity_points_to(sample_run: Any) -> None:
    records, _, outputs, _ = sample_run
    last = {record["product_id"]: (record, output) for record, output in zip(records, outputs, strict=True)}
    for product, planted in SAMPLE_ELASTICITIES.items():
        prices = [r["price"] for r in records if r["product_id"] == product]
        record, output = last[product]
        expected = max(prices) if planted > -1 else min(prices)
        assert output.optimal_price == pytest.approx(expected), product
        # the move raises revenue; volume moves against the price
        assert int(output.revenue_impact[:-1]) >= 0
        volume = int(output.volume_impact[:-1])
        assert volume <= 0 if output.optimal_price > record["price"] else volume >= 0


def test_profit_objective_uses_unit_cost() -> None:
    records = canonical(BP.sample(2000, seed=1))
    _, outputs, model = drive(records, {"objective": "profit"})
    assert isinstance(model, ElasticityModel)
    last = {record["product_id"]: (record, output) for record, output in zip(records, outputs, strict=True)}
    for product in SAMPLE_ELASTICITIES:
        record, output = last[product]
        estimate, slope = model.estimate(product), output.elasticity_coefficient  # as scored, before learning
        markup = record["cost"] * slope / (1 + slope) if slope < -1 else math.inf
        expected = min(max(markup, estimate.min_price), estimate.max_price)
        assert output.optimal_price == pytest.approx(expected, rel=1e-3), product
    # the planted -2.2 and -1.5 products have their Lerner price inside the observed range
    for product in ("SKU-1002", "SKU-1003"):
        estimate, (record, output) = model.estimate(product), last[product]
        assert estimate.min_price < output.optimal_price < estimate.max_price
        planted = SAMPLE_ELASTICITIES[product]
        assert output.optimal_price == pytest.approx(record["cost"] * planted / (1 + planted), rel=0.1)


def test_profit_without_any_cost_falls_back_to_revenue() -> None:
    records = canonical(BP.sample(400, seed=2), cost=False)
    assert drive(records, {"objective": "profit"})[1] == drive(records, {"objective": "revenue"})[1]


def test_unit_elastic_within_noise_keeps_the_current_price() -> None:
    estimate = ProductEstimate(
        elasticity=-1.02, standard_error=0.05, min_price=8.0, max_price=12.0, cost=None
    )
    assert optimal_price(10.0, estimate, "revenue", None) == 10.0
    confident = ProductEstimate(
        elasticity=-1.02, standard_error=0.001, min_price=8.0, max_price=12.0, cost=None
    )
    assert optimal_price(10.0, confident, "revenue", None) == 8.0
    assert optimal_price(10.0, confident, "profit", 100.0) == 12.0  # cost above every price
    assert optimal_price(10.0, ProductEstimate(-0.5, 0.01, 8.0, 12.0, 2.0), "profit", None) == 12.0


def test_quantity_forecast_beats_the_product_mean(sample_run: Any) -> None:
    records, scores, _, _ = sample_run
    running: dict[str, list[float]] = {}
    ours, baseline = [], []
    for record, score in zip(records, scores, strict=True):
        history = running.setdefault(record["product_id"], [])
        if len(history) >= 20:
            ours.append(abs(score - record["quantity_sold"]))
            baseline.append(abs(float(np.mean(history)) - record["quantity_sold"]))
        history.append(record["quantity_sold"])
    assert np.mean(ours) < 0.8 * np.mean(baseline)


def test_zero_quantities_and_non_positive_prices() -> None:
    params = BP.resolve_params()
    model = BP.make_model(params, seed=0)
    assert isinstance(model, ElasticityModel)
    for i in range(40):
        price = 10.0 + i % 5
        quantity = 0.0 if i % 4 == 0 else 1000.0 * price**-2.0
        model.learn_one(BP.featurize(row("A", price, quantity), None, params), quantity)
    assert model.estimate("A").elasticity == pytest.approx(-2.0, abs=1e-3)  # zeros stay out of the fit
    at_ten = model.predict_one(BP.featurize(row("A", 10.0, 0.0), None, params))
    assert at_ten == pytest.approx(0.75 * 10.0, rel=0.05)  # scaled by the share of rows that sold
    before = pickle.dumps(model)
    for price, quantity in ((0.0, 5.0), (-3.0, 5.0), (10.0, -2.0), (10.0, math.nan)):
        model.learn_one({"product_id": "A", "price": price}, quantity)
    assert pickle.dumps(model) == before  # nothing learned from them
    for price in (0.0, -3.0):
        features: dict[str, float | str] = {"product_id": "A", "price": price}
        assert math.isfinite(model.predict_one(features))
        output = BP.postprocess(model.predict_one(features), features, model, params)
        assert math.isfinite(output.optimal_price) and output.revenue_impact == "+0%"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "C"]),
            st.floats(-10.0, 1e6),  # price (the input layer should reject negatives; guarded anyway)
            st.floats(-5.0, 1e6),  # quantity, zeros and returns included
            st.none() | st.floats(0.0, 1e6),  # cost
            st.sampled_from([None, "x", "y"]),
        ),
        max_size=80,
    ),
    st.sampled_from(["revenue", "profit"]),
)
def test_odd_streams_never_raise_and_stay_finite(
    rows: list[tuple[str, float, float, float | None, str | None]], objective: str
) -> None:
    records = [row(p, price, q, cost=cost, category=group) for p, price, q, cost, group in rows]
    scores, outputs, _ = drive(records, {"objective": objective})
    assert all(math.isfinite(score) and score >= 0 for score in scores)
    for output in outputs:
        assert math.isfinite(output.optimal_price) and math.isfinite(output.elasticity_coefficient)
        assert IMPACT.match(output.revenue_impact) and IMPACT.match(output.volume_impact)


def test_new_products_borrow_their_category() -> None:
    params = BP.resolve_params()
    model = BP.make_model(params, seed=0)
    assert isinstance(model, ElasticityModel)
    rng = np.random.default_rng(3)
    for i in range(400):
        product, category, slope = [("A", "snacks", -2.5), ("B", "snacks", -2.5), ("C", "tools", -0.5)][i % 3]
        price = float(np.exp(rng.normal(2.0, 0.2)))
        quantity = float(np.exp(4.0 + slope * (np.log(price) - 2.0) + rng.normal(0, 0.1)))
        model.learn_one(
            BP.featurize(row(product, price, quantity, category=category), None, params), quantity
        )
    # one price point says nothing about slope: the product takes its category's
    model.learn_one(BP.featurize(row("D", 9.0, 30.0, category="snacks"), None, params), 30.0)
    assert model.estimate("D").elasticity == pytest.approx(-2.5, abs=0.1)
    assert model.estimate("E", category="tools").elasticity == pytest.approx(-0.5, abs=0.1)
    unseen = model.predict_one({"product_id": "Z", "price": 5.0})
    assert math.isfinite(unseen) and unseen > 0


def test_deterministic_and_pickles_mid_stream() -> None:
    records = canonical(BP.sample(600, seed=4))
    assert drive(records)[1] == drive(records)[1]
    params = BP.resolve_params()
    model = BP.make_model(params, seed=0)
    for record in records[:300]:
        model.learn_one(BP.featurize(record, None, params), record["quantity_sold"])
    clone = pickle.loads(pickle.dumps(model))
    for record in records[300:]:
        features = BP.featurize(record, None, params)
        assert clone.predict_one(features) == model.predict_one(features)
        assert BP.postprocess(0.0, features, clone, params) == BP.postprocess(0.0, features, model, params)
        model.learn_one(features, record["quantity_sold"])
        clone.learn_one(features, record["quantity_sold"])


def test_learn_does_not_mutate_features_and_optional_features_may_come_and_go() -> None:
    params = BP.resolve_params()
    model = BP.make_model(params, seed=0)
    for i in range(30):
        extra = {"cost": 4.0, "category": "x"} if i % 2 else {}
        features = BP.featurize(row("A", 10.0 + i % 3, 50.0 - i % 3, **extra), None, params)
        snapshot = dict(features)
        model.learn_one(features, 50.0 - i % 3)
        assert features == snapshot
    assert math.isfinite(model.predict_one({"price": 11.0, "product_id": "A"}))


def test_parameters_sample_and_declarations() -> None:
    with pytest.raises(ParameterError):
        BP.resolve_params({"objective": "margin"})
    frame = BP.sample(40, seed=5)
    assert list(frame.columns) == ["order_date", "sku", "category", "unit_price", "unit_cost", "units"]
    assert frame.equals(BP.sample(40, seed=5)) and not frame.equals(BP.sample(40, seed=6))
    assert set(frame["sku"]) == set(SAMPLE_ELASTICITIES)
    assert (BP.id, BP.category, BP.task, BP.entity_input, BP.time_input) == (
        "price_optimization",
        "ecommerce_retail",
        "regression",
        "product_id",
        "date",
    )
    assert [i.name for i in BP.required_inputs] == [
        "price",
        "quantity_sold",
    ]  # one product, in file order, without the others
    assert [i.name for i in BP.optional_inputs] == ["product_id", "date", "cost", "category"]
    assert BP.output.headline == "optimal_price"


def test_a_table_of_prices_and_units_alone_is_one_product() -> None:
    frame = BP.sample(1500, seed=3)
    one = frame[frame["sku"] == frame["sku"].iloc[0]][["unit_price", "units"]].reset_index(drop=True)
    deployment = Deployment(PriceOptimization)
    report = deployment.replay(one)
    assert report.n_errors == 0 and report.n_scored == len(one)
    assert deployment.score({"unit_price": 10.0, "units": 3}).features["product_id"] == ALL_PRODUCTS
