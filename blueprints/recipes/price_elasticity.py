"""``price_elasticity``: how strongly each product's demand responds to its price, with an interval.

The question: by how many percent do a product's units fall when its price rises 1%, how sure is that,
and what does it mean for its price?

Relation to ``price_optimization``: two blueprints on one engine, no copied code. Both learn the
same per-product log-log demand curves (:class:`~tracer.blueprints.engines.elasticity_model.ElasticityModel`,
pooled by category), and this recipe featurises a row with ``PriceOptimization.featurize`` and reuses
its inputs and :func:`~tracer.blueprints.recipes.price_optimization.optimal_price`. They answer two
questions: ``price_optimization`` names a price to charge; this one reports the curve itself (the
elasticity with its interval, a point on the curve, the units expected at the row's price) for a
pricing analyst or for the composite engine, which prices an action from ``elasticity``,
``reference_price`` and ``units_at_reference_price``: ``q(p) = units_at_reference_price · (p /
reference_price)^elasticity``. One blueprint with two ids would have had one output for two questions.

Inputs (the user's column names in brackets): ``price`` (unit_price, average_price, shelf_price, ...)
and ``quantity_sold`` (units, units_sold, qty, total_volume, unit_sales, ...), required; ``product_id``
(sku, item_id, brand, market, ...), ``date`` (week, order_date, ...), ``category`` and, its own,
``price_index`` (cpi, deflator, ...): over months or years prices drift with inflation, so a price index
turns prices into real prices before the fit (and ``reference_price`` back into the row's money).

Features: the product, its (real) price and category: the model's own. Label: the row's
``quantity_sold`` at its price (delayed: the units sold in the row's period arrive after it).

Outputs, from the curve learned before the row:

* ``elasticity`` (headline) and ``elasticity_interval`` at ``confidenceLevel`` (± z standard errors);
* ``demand_classification``: ``elastic`` when the whole interval is below -1, ``inelastic`` when above,
  else ``unit_elastic``;
* ``expected_units`` at the row's price; ``reference_price`` (the geometric mean of the product's prices)
  and ``units_at_reference_price``; ``optimal_price_point``: the revenue-maximising observed price;
* ``price_drivers``: the curve in plain words; ``recommended_protocol``: ``price_test`` while less
  than half of the estimate is the product's own (too little price variation), else ``lower_price``
  (elastic), ``raise_price`` (inelastic) or ``hold_price``; ``confidence``: that own share, 0..1.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Final, Literal

import numpy as np
import pandas as pd

from tracer.blueprints.actions import protocol
from tracer.blueprints.base import (
    Blueprint,
    Features,
    InputSpec,
    LabelSpec,
    OnlineModel,
    OutputSpec,
    Params,
    Record,
)
from tracer.blueprints.engines.elasticity_model import ElasticityModel
from tracer.blueprints.recipes.price_optimization import PriceOptimization, optimal_price
from tracer.blueprints.tasks import Z_OF_LEVEL, confidence_level
from tracer.schemas.base import OutboundModel

__all__ = ["SAMPLE_ELASTICITIES", "PriceElasticity", "PriceElasticityOutput"]

DemandClass = Literal["elastic", "unit_elastic", "inelastic"]
MIN_OWN_SHARE: Final = 0.5
"""Below this share of its own price variation in the estimate, a product gets ``price_test``."""
_PROTOCOLS: Final[dict[DemandClass, str]] = {
    "elastic": protocol("lower_price"),
    "inelastic": protocol("raise_price"),
    "unit_elastic": protocol("hold_price"),
}
_TEST = protocol("price_test")

SAMPLE_ELASTICITIES: Final = {"JUICE-64OZ": -2.4, "COFFEE-1LB": -0.6, "CEREAL-18OZ": -1.5,
                              "YOGURT-4PK": -1.0, "DETERGENT-2L": -0.7, "CHIPS-10OZ": -1.9}  # fmt: skip
"""The elasticities planted in :meth:`PriceElasticity.sample`."""
_SAMPLE_PRODUCTS: Final = (  # sku, category, base real price, weekly units at that price
    ("JUICE-64OZ", "beverages", 3.5, 400.0),
    ("COFFEE-1LB", "beverages", 8.0, 150.0),
    ("CEREAL-18OZ", "breakfast", 4.2, 260.0),
    ("YOGURT-4PK", "breakfast", 3.0, 300.0),
    ("DETERGENT-2L", "household", 11.0, 90.0),
    ("CHIPS-10OZ", "snacks", 3.9, 350.0),
)


class PriceElasticityOutput(OutboundModel):
    """What ``price_elasticity`` answers for one row: its product's demand curve."""

    elasticity: float
    """% change in units for a 1% change in price (-1.8: 1% dearer sells 1.8% fewer units)."""
    elasticity_interval: tuple[float, float]
    """Bounds around ``elasticity`` at ``confidenceLevel``."""
    demand_classification: DemandClass
    """elastic (interval below -1), inelastic (above -1) or unit_elastic."""
    expected_units: float
    """Units expected at the row's price in the row's period."""
    reference_price: float
    """The product's typical price (geometric mean of its prices), in the row's money."""
    units_at_reference_price: float
    """Units expected per row at ``reference_price``: with ``elasticity``, the whole curve."""
    optimal_price_point: float
    """The observed price that maximises expected revenue (``price_optimization``'s rule)."""
    price_drivers: list[str]
    """The curve in plain words: the response to a 1% price rise, and where the estimate comes from."""
    recommended_protocol: str
    """price_test, lower_price, raise_price or hold_price (see the module docstring)."""
    confidence: float
    """Share of the estimate that comes from the product's own price variation, 0..1."""


_PRICE, _QUANTITY = PriceOptimization.required_inputs
_PRODUCT_ID, _DATE, _, _CATEGORY = PriceOptimization.optional_inputs  # not the unit cost
_PRICE = dataclasses.replace(
    _PRICE, synonyms=(*_PRICE.synonyms, "average_price", "shelf_price", "retail_price")
)
_QUANTITY = dataclasses.replace(
    _QUANTITY,
    synonyms=(*_QUANTITY.synonyms, "total_volume", "unit_sales", "volume_sold", "quantity_demanded"),
)
_PRICE_INDEX = InputSpec(
    "price_index",
    "numeric",
    "A price index for the row's period (CPI, a deflator): prices are divided by it before the fit.",
    ("cpi", "consumer_price_index", "deflator", "price_deflator", "inflation_index", "cpi_index"),
)
_CURVES: Final = PriceOptimization()


class PriceElasticity(Blueprint[PriceElasticityOutput, None]):
    """Price elasticity of demand per product, with an interval and a point on its curve.

    >>> bp = PriceElasticity()
    >>> params = bp.resolve_params()
    >>> model = bp.make_model(params, seed=0)
    >>> for price in [8.0, 9.0, 10.0, 11.0, 12.0] * 20:
    ...     record = {"product_id": "A", "price": price, "quantity_sold": 1000.0 * price**-0.5,
    ...               "date": None, "category": None, "price_index": None}
    ...     model.learn_one(bp.featurize(record, None, params), bp.label_of(record, params))
    >>> x = bp.featurize({**record, "price": 10.0}, None, params)
    >>> out = bp.postprocess(model.predict_one(x), x, model, params)
    >>> out.elasticity, out.demand_classification, out.recommended_protocol, out.optimal_price_point
    (-0.5, 'inelastic', 'raise_price', 12.0)
    """

    id = "price_elasticity"
    name = "Price Elasticity"
    category = "ecommerce_retail"
    use_case = (
        "Measure how each product's units respond to its price, online from sales at varying prices: the "
        "elasticity with an interval, elastic or not, and the demand curve's reference point."
    )
    task = "regression"
    required_inputs = (_PRICE, _QUANTITY)
    optional_inputs = (
        dataclasses.replace(_PRODUCT_ID, synonyms=(*_PRODUCT_ID.synonyms, "brand", "market")),
        _DATE,
        _CATEGORY,
        _PRICE_INDEX,
    )
    parameters = (confidence_level("elasticity_interval around elasticity"),)
    feature_params = frozenset()
    label = LabelSpec(
        "The row's quantity_sold at the row's price (delayed: known after the period).", column=_QUANTITY
    )
    output = OutputSpec(
        PriceElasticityOutput,
        "value",
        "The product's price elasticity with an interval, its class, and a reference point on its demand curve.",
        headline="elasticity",
    )
    entity_input = "product_id"
    time_input = "date"
    data_requirements = (
        "Rows of price and units sold per product and period (weekly store or chain totals, daily sales), "
        "with the price varying: about 50 rows over 3 or more price points per product give an interval "
        "narrower than ±0.3; a product whose price never moved borrows its category's elasticity and is "
        "told to test prices. Optional: product id, date (orders the rows), category (pools sparse "
        "products) and a price index such as the CPI when the data spans years."
    )

    def new_state(self, params: Params) -> None:
        """No feature state: the curves are the model's."""
        return None

    def featurize(self, record: Record, state: None, params: Params) -> Features:
        """``price_optimization``'s features, the price divided by the row's price index when given."""
        features = _CURVES.featurize(record, None, params)
        index = record.get("price_index")
        if index is not None and index > 0.0:
            features["price"] = float(features["price"]) / float(index)
            features["price_index"] = float(index)
        return features

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        """An :class:`ElasticityModel`, as ``price_optimization``'s; no randomness."""
        return _CURVES.make_model(params, seed)

    def label_of(self, record: Record, params: Params) -> float | None:
        """The row's quantity sold."""
        return _CURVES.label_of(record, params)

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> PriceElasticityOutput:
        """The product's curve as the model knows it before the row: see the module docstring."""
        if not isinstance(model, ElasticityModel):
            raise TypeError(f"price_elasticity needs an ElasticityModel, got {type(model).__name__}")
        category = features.get("category")
        estimate = model.estimate(
            str(features.get("product_id", "")), category if isinstance(category, str) else None
        )
        price, index = _positive(features.get("price")), _positive(features.get("price_index")) or 1.0
        slope, half = (
            estimate.elasticity,
            Z_OF_LEVEL[float(params.get("confidenceLevel", 0.9))] * estimate.standard_error,
        )
        low, high = slope - half, slope + half
        kind: DemandClass = "elastic" if high < -1.0 else "inelastic" if low > -1.0 else "unit_elastic"
        reference = estimate.reference_price if math.isfinite(estimate.reference_price) else price or 0.0
        units_there = estimate.reference_units if math.isfinite(estimate.reference_units) else max(score, 0.0)
        best = optimal_price(price, estimate, "revenue", None) if price else 0.0
        own = estimate.own_share
        source = f"{own:.0%} from its own price changes" + (
            "" if own >= MIN_OWN_SHARE else ", the rest pooled"
        )
        return PriceElasticityOutput(
            elasticity=round(slope, 4),
            elasticity_interval=(round(low, 4), round(high, 4)),
            demand_classification=kind,
            expected_units=max(score, 0.0) if math.isfinite(score) else 0.0,
            reference_price=reference * index,
            units_at_reference_price=units_there,
            optimal_price_point=best * index,
            price_drivers=[f"1% dearer: {slope:+.2f}% units", f"elasticity {source}"],
            recommended_protocol=_PROTOCOLS[kind] if own >= MIN_OWN_SHARE else _TEST,
            confidence=own,
        )

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Weekly sales of six products with known elasticities (:data:`SAMPLE_ELASTICITIES`), from 2022-01-03.

        Each week a product's real price is its base price times a promotion (10 to 35% off, 30% of weeks)
        and ±6% noise; the shelf price is that times the CPI (from 100, +0.06% a week). Units are Poisson
        with mean ``base units · (real price / base price)^b``. Columns: ``week, sku, category,
        average_price, units_sold, cpi`` and, unread, ``stores_selling`` (with gaps); 3% of categories blank.
        """
        rng = np.random.default_rng(seed)
        index = np.arange(n_rows)
        week = index // len(_SAMPLE_PRODUCTS)
        sku, category, base_price, base_units = (
            np.asarray(column)[index % len(_SAMPLE_PRODUCTS)]
            for column in zip(*_SAMPLE_PRODUCTS, strict=True)
        )
        discount = np.where(rng.random(n_rows) < 0.3, rng.uniform(0.1, 0.35, n_rows), 0.0)
        real = base_price.astype(float) * (1.0 - discount) * rng.uniform(0.94, 1.06, n_rows)
        cpi = 100.0 * 1.0006**week
        slope = np.asarray([SAMPLE_ELASTICITIES[s] for s in sku])
        units = rng.poisson(base_units.astype(float) * (real / base_price.astype(float)) ** slope)
        stores = rng.poisson(40.0, n_rows).astype(float)
        stores[rng.random(n_rows) < 0.05] = np.nan
        categories = category.astype(object)
        categories[rng.random(n_rows) < 0.03] = None
        return pd.DataFrame(
            {
                "week": (pd.Timestamp("2022-01-03") + pd.to_timedelta(7 * week, unit="D")).strftime(
                    "%Y-%m-%d"
                ),
                "sku": sku,
                "category": categories,
                "average_price": np.round(real * cpi / 100.0, 2),
                "units_sold": units.astype(np.int64),
                "cpi": np.round(cpi, 2),
                "stores_selling": stores,
            }
        )


def _positive(value: float | str | None) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) and value > 0.0 else None
