"""``price_optimization``: each product's price elasticity, learned online, and the price it points to.

The model is an :class:`~tracer.blueprints.engines.elasticity_model.ElasticityModel`: per product, a log-log
demand curve ``log q = a + b · log price`` from exact running sufficient statistics, shrunk toward
its category's (or all products') pooled elasticity while its own rows are few.

Optimal price
    Within the prices observed for the product (and the row's own). Under ``objective=revenue``,
    ``price · q`` rises with price when ``b > -1`` and falls when ``b < -1``, so the optimum is the
    highest or lowest observed price; when ``b`` is within two standard errors of -1 the row's price
    is kept. Under ``objective=profit`` with a unit cost (the row's, else the product's last), it is
    ``cost · b / (1 + b)`` for ``b < -1``, clipped to the range (the highest price otherwise); with
    no cost known it falls back to revenue.

Impacts
    The optimum against the row's price on the fitted curve: ``volume_impact`` is ``(p*/p)^b - 1``
    and ``revenue_impact`` is ``(p*/p)^(1+b) - 1``, revenue under either objective.

Prices are taken as given: promotions, seasons or stock-outs that move price and demand together
bias the slope. The date only orders the rows.
"""

from __future__ import annotations

import math
from typing import Final, Literal

import numpy as np
import pandas as pd

from tracer.blueprints.base import (
    Blueprint,
    Features,
    InputSpec,
    LabelSpec,
    OnlineModel,
    OutputSpec,
    Params,
    ParamSpec,
    Record,
)
from tracer.blueprints.engines.elasticity_model import ElasticityModel, ProductEstimate
from tracer.schemas.base import OutboundModel

__all__ = ["SAMPLE_ELASTICITIES", "PriceOptimization", "PriceOptimizationOutput", "optimal_price"]

SAMPLE_ELASTICITIES: Final = {"SKU-1001": -0.8, "SKU-1002": -1.5, "SKU-1003": -2.2, "SKU-1004": -1.2}
"""The elasticities planted in :meth:`PriceOptimization.sample`."""
_SAMPLE_PRODUCTS: Final = (  # sku, category, base price, unit cost, units sold at the base price
    ("SKU-1001", "pantry", 4.0, 1.5, 120.0),
    ("SKU-1002", "electronics", 50.0, 15.0, 60.0),
    ("SKU-1003", "pantry", 20.0, 8.0, 90.0),
    ("SKU-1004", "electronics", 120.0, 50.0, 40.0),
)


def optimal_price(
    price: float, estimate: ProductEstimate, objective: Literal["revenue", "profit"], cost: float | None
) -> float:
    """The price that maximises expected revenue (or profit) on the fitted curve, within observed prices.

    >>> estimate = ProductEstimate(-2.0, 0.05, 8.0, 12.0, None)
    >>> optimal_price(10.0, estimate, "revenue", None), optimal_price(10.0, estimate, "profit", 5.0)
    (8.0, 10.0)
    """
    low, high = min(estimate.min_price, price), max(estimate.max_price, price)
    slope = estimate.elasticity
    cost = cost if cost is not None else estimate.cost
    if objective == "profit" and cost is not None and cost > 0.0:
        return min(max(cost * slope / (1.0 + slope), low), high) if slope < -1.0 else high
    if abs(slope + 1.0) <= 2.0 * estimate.standard_error:
        return price
    return high if slope > -1.0 else low


class PriceOptimizationOutput(OutboundModel):
    """What ``price_optimization`` answers for one row (seed 000, "Price Optimization Blueprint")."""

    optimal_price: float
    """The price, within the product's observed prices, that maximises expected revenue (or profit)."""
    elasticity_coefficient: float
    """% change in quantity for a 1% change in price, for this product (-1.2: 1% dearer sells 1.2% less)."""
    revenue_impact: str
    """Expected revenue change at ``optimal_price`` against the row's price, like ``"+12%"``."""
    volume_impact: str
    """Expected change in units sold at ``optimal_price`` against the row's price, like ``"-8%"``."""


ALL_PRODUCTS = "all"
"""The product of every row when the data has no product id."""
_PRODUCT_ID = InputSpec(
    "product_id",
    "id",
    "The product (or SKU, variant) the row is about: each gets its own demand curve.",
    ("sku", "item_id", "product", "product_code", "item", "article", "asin", "variant_id", "sku_id"),
)
_PRICE = InputSpec(
    "price",
    "numeric",
    "The unit price the quantity sold at.",
    ("unit_price", "sale_price", "list_price", "selling_price", "price_paid", "avg_price", "net_price"),
)
_QUANTITY = InputSpec(
    "quantity_sold",
    "numeric",
    "Units sold at that price in the row's period or transaction (0 when none sold).",
    ("quantity", "units", "units_sold", "qty", "quantity_ordered", "sold_units", "demand"),
)
_DATE = InputSpec(
    "date",
    "timestamp",
    "When the sale happened; orders the rows.",
    ("order_date", "transaction_date", "sale_date", "day", "ds", "timestamp", "created_at", "week"),
)
_COST = InputSpec(
    "cost",
    "numeric",
    "Unit cost, for objective=profit.",
    ("unit_cost", "cogs", "cost_price", "purchase_price", "landed_cost", "cost_per_unit"),
)
_CATEGORY = InputSpec(
    "category",
    "categorical",
    "The product's category: products with few rows borrow their category's elasticity.",
    ("product_category", "category_name", "department", "product_type", "product_group"),
)


class PriceOptimization(Blueprint[PriceOptimizationOutput, None]):
    """Price optimisation: per-product elasticity, the best observed price, and its revenue and volume impact.

    The model is an :class:`~tracer.blueprints.engines.elasticity_model.ElasticityModel`; featurisation is stateless (product, price, and cost
    and category when given). Scores are the quantity expected at the row's price, so MAE and MAPE
    on ``quantity_sold`` measure the demand curves.

    >>> blueprint = PriceOptimization()
    >>> params = blueprint.resolve_params()
    >>> model = blueprint.make_model(params, seed=0)
    >>> for price in [8.0, 9.0, 10.0, 11.0, 12.0] * 20:
    ...     record = {"product_id": "A", "price": price, "quantity_sold": 1000.0 * price**-2.0,
    ...               "date": 0.0, "cost": None, "category": None}
    ...     model.learn_one(blueprint.featurize(record, None, params), blueprint.label_of(record, params))
    >>> x = blueprint.featurize({**record, "price": 10.0}, None, params)
    >>> blueprint.postprocess(model.predict_one(x), x, model, params)
    PriceOptimizationOutput(optimal_price=8.0, elasticity_coefficient=-2.0, revenue_impact='+25%', volume_impact='+56%')
    """

    id = "price_optimization"
    name = "Price Optimization"
    category = "ecommerce_retail"
    use_case = (
        "Learn how each product's sales respond to its price from the order stream, and point to the "
        "observed price that earns the most revenue (or profit), with the expected revenue and volume change."
    )
    task = "regression"
    required_inputs = (_PRICE, _QUANTITY)
    optional_inputs = (_PRODUCT_ID, _DATE, _COST, _CATEGORY)
    parameters = (
        ParamSpec(
            "objective",
            "revenue",
            "What optimal_price maximises: revenue, or profit (needs a unit cost; revenue without one).",
            ("revenue", "profit"),
        ),
    )
    feature_params = frozenset()  # its parameters shape the recommendation
    label = LabelSpec("The row's quantity_sold, at the row's price.", column=_QUANTITY)
    output = OutputSpec(
        PriceOptimizationOutput,
        "value",
        "The revenue- (or profit-) maximising observed price, the product's elasticity, and the impacts.",
        headline="optimal_price",
    )
    entity_input = "product_id"
    time_input = "date"
    data_requirements = (
        "Rows of unit price and units sold (orders, or daily totals per product), with the price varying "
        "over time: a product whose price never changed keeps its category's (or the overall) "
        "elasticity. About 50 rows over 3 or more price points per product give a usable elasticity. "
        "Optional: a product id (without one, every row is the same product), a date (orders the rows), "
        "unit cost (objective=profit) and category (pools sparse products)."
    )

    def new_state(self, params: Params) -> None:
        """No feature state: the demand curves are the model's, learned from quantities."""
        return None

    def featurize(self, record: Record, state: None, params: Params) -> Features:
        """The product, its price and, when given, its unit cost and category."""
        product = record["product_id"]
        features: Features = {"product_id": ALL_PRODUCTS if product is None else str(product),
                              "price": float(record["price"])}  # fmt: skip
        if record.get("cost") is not None:
            features["cost"] = float(record["cost"])
        if record.get("category") is not None:
            features["category"] = str(record["category"])
        return features

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        """An :class:`ElasticityModel`; it uses no randomness, so ``seed`` changes nothing."""
        return ElasticityModel()

    def label_of(self, record: Record, params: Params) -> float | None:
        """The row's quantity sold."""
        quantity = record.get("quantity_sold")
        return None if quantity is None else float(quantity)

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> PriceOptimizationOutput:
        """The optimum within the product's observed prices, and the impacts on its fitted curve."""
        if not isinstance(model, ElasticityModel):
            raise TypeError(f"price_optimization needs an ElasticityModel, got {type(model).__name__}")
        price = _number(features, "price") or 0.0
        estimate = model.estimate(str(features.get("product_id", "")), _text(features, "category"))
        objective: Literal["revenue", "profit"] = (
            "profit" if params.get("objective") == "profit" else "revenue"
        )
        best = optimal_price(price, estimate, objective, _number(features, "cost")) if price > 0.0 else price
        log_ratio = math.log(best / price) if price > 0.0 else 0.0
        return PriceOptimizationOutput(
            optimal_price=best,
            elasticity_coefficient=round(estimate.elasticity, 4),
            revenue_impact=_percent(log_ratio * (1.0 + estimate.elasticity)),
            volume_impact=_percent(log_ratio * estimate.elasticity),
        )

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Daily sales of four products with known elasticities (:data:`SAMPLE_ELASTICITIES`).

        Each day every product sells at its base price times a random promotion (0 to 40% off, 40% of
        days) and ±5% noise; units are Poisson with mean ``base units · (price / base price)^b``, so
        ``b`` is the planted elasticity. Columns: ``order_date, sku, category, unit_price, unit_cost,
        units``.
        """
        rng = np.random.default_rng(seed)
        index = np.arange(n_rows)
        sku, category, base_price, cost, base_units = (
            np.asarray(column)[index % len(_SAMPLE_PRODUCTS)]
            for column in zip(*_SAMPLE_PRODUCTS, strict=True)
        )
        discount = np.where(rng.random(n_rows) < 0.4, rng.choice([0.1, 0.2, 0.3, 0.4], n_rows), 0.0)
        price = base_price.astype(float) * (1.0 - discount) * rng.uniform(0.95, 1.05, n_rows)
        elasticity = np.asarray([SAMPLE_ELASTICITIES[s] for s in sku])
        units = rng.poisson(base_units.astype(float) * (price / base_price.astype(float)) ** elasticity)
        days = pd.Timestamp("2024-01-01") + pd.to_timedelta(index // len(_SAMPLE_PRODUCTS), unit="D")
        return pd.DataFrame(
            {
                "order_date": days.strftime("%Y-%m-%d"),
                "sku": sku,
                "category": category,
                "unit_price": np.round(price, 2),
                "unit_cost": cost.astype(float),
                "units": units.astype(np.int64),
            }
        )


def _percent(log_change: float) -> str:
    """``+12%``-style text for a change given as a log ratio (``+0%`` for none; capped at +1,000,000%)."""
    change = math.expm1(min(log_change, math.log(1e4))) if math.isfinite(log_change) else 0.0
    return f"{round(100.0 * change):+d}%"


def _number(x: Features, name: str) -> float | None:
    value = x.get(name)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _text(x: Features, name: str) -> str | None:
    value = x.get(name)
    return value if isinstance(value, str) and value else None
