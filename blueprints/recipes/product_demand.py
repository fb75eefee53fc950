"""``product_demand``: units each product will sell next period and over the weeks ahead, for inventory.

The question: how many units of each product will sell in the next period, the next 7 and 28 days,
within what interval, and should stock be reordered now, held, or orders cut?

Inputs (the user's column names in brackets):

* ``units_sold`` (units, qty, quantity, quantity_sold, unit_sales, sales_qty, ...): the period's units,
  required; it is also the label (self-labelled: each row is forecast before its units are learned);
* ``date`` (day, week, order_date, sale_date, ds, ...): the period; without it each row is the next day;
* ``product_id`` (sku, item_id, item, article, ...): one series, one state per product, many in one topic;
* ``stock_on_hand`` (on_hand, inventory, stock_level, ...): units in stock, for the reorder call.

No features of its own: the row's product and date go to the shared
:class:`~tracer.blueprints.engines.seasonal_forecaster.SeasonalForecaster` (per product, naive,
seasonal-naive and damped Holt-Winters smoothers chosen by recent error, the weekday pattern learned).

Intermittent demand (slow movers with many zero days): the forecaster's candidates include smoothers
whose level is a running mean of the units, zeros included, so a slow mover's forecast is its rate
(0.4 a day), not the last value (0 or 1); the choice among candidates weighs percentage errors floored
at 5% of the typical value, so zero days don't blow them up. ``bench/quality_demand.py`` measures it on
the series with more than 30% zero days apart. ``demand_pattern`` names the product's pattern by the
Syntetos-Boylan cut-offs over its recent periods: mean interval between sales above 1.32 periods
(intermittent), squared variation of the sale sizes above 0.49 (erratic), both (lumpy), else smooth.

Outputs, before the row's own units are learned:

* ``expected_units`` (headline): the forecast of the row's period, at least 0;
* ``units_next_7d`` and ``units_next_28d``: expected totals over the 7 and 28 days after it;
* ``units_interval``: ``expected_units ± z · rms`` at ``confidenceLevel``, ``rms`` the product's recent
  one-step error, floored at 0;
* ``days_of_cover``: ``stock_on_hand`` over the expected daily rate (None without stock);
* ``demand_pattern``, ``demand_trend`` (rising, falling, stable: the forecaster's 90-day trend test);
* ``recommended_protocol``: with stock, ``reorder_now`` when it won't cover the next 7 days plus a
  safety margin (``z · rms · sqrt(periods)``), ``reduce_order`` when it covers more than 28 days, else
  ``hold_stock``; without stock, ``reduce_order`` on a falling trend, else ``hold_stock``;
* ``confidence``: ``n / (n + 100) / (1 + rms / max(expected_units, 1))``, n periods learned.
"""

from __future__ import annotations

import math
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from tracer.blueprints.actions import protocol
from tracer.blueprints.base import Features, InputSpec, LabelSpec, OnlineModel, OutputSpec, Params, Record
from tracer.blueprints.engines.seasonal_forecaster import DEFAULT_SERIES, SeasonalForecaster
from tracer.blueprints.tasks import Forecast, confidence_level
from tracer.schemas.base import OutboundModel

__all__ = ["SAMPLE_PRODUCTS", "SAMPLE_WEEKDAY", "ProductDemand", "ProductDemandOutput"]

Pattern = Literal["smooth", "intermittent", "erratic", "lumpy"]
Trend = Literal["rising", "falling", "stable"]
_TRENDS: Final[dict[str, Trend]] = {
    "growth_detected": "rising",
    "decline_detected": "falling",
    "stable": "stable",
}
_REORDER, _HOLD, _REDUCE = protocol("reorder_now"), protocol("hold_stock"), protocol("reduce_order")
ADI_CUT, CV2_CUT = 1.32, 0.49
"""Syntetos-Boylan cut-offs: mean periods between sales, and squared variation of the sale sizes."""
_EXPERIENCE_RAMP: Final = 100.0

SAMPLE_PRODUCTS: Final = {"TSHIRT-M-BLK": 24.0, "TSHIRT-L-BLK": 18.0, "HOODIE-M-GRY": 9.0, "SOCKS-3PK": 30.0,
                          "CAP-RED": 2.5, "SCARF-WOOL": 0.6, "BELT-BRN-42": 0.3, "GLOVES-XL": 0.45}  # fmt: skip
"""Products of :meth:`ProductDemand.sample` and their mean units on a Wednesday (the last four: slow movers)."""
SAMPLE_WEEKDAY: Final = (0.8, 0.85, 1.0, 1.0, 1.15, 1.5, 1.2)
"""Monday..Sunday multipliers planted in the sample."""


class ProductDemandOutput(OutboundModel):
    """What ``product_demand`` answers for one period of one product."""

    expected_units: float
    """Units expected in the row's period, forecast from everything learned before it."""
    units_next_7d: float
    """Expected units over the 7 days after the row's period."""
    units_next_28d: float
    """Expected units over the 28 days after the row's period."""
    units_interval: tuple[float, float]
    """Bounds around ``expected_units`` at ``confidenceLevel`` (never below 0)."""
    days_of_cover: float | None
    """Days the row's stock on hand lasts at the expected rate (None without stock or demand)."""
    demand_pattern: Pattern
    """smooth, intermittent, erratic or lumpy (Syntetos-Boylan, over the product's recent periods)."""
    demand_trend: Trend
    """A significant slope over the last 90 days projecting beyond ±3% is rising or falling."""
    recommended_protocol: str
    """reorder_now, hold_stock or reduce_order (see the module docstring)."""
    confidence: float
    """From 0 to 1: experience times how small the recent error is next to the forecast."""


_DATE = InputSpec(
    "date",
    "timestamp",
    "The period the row counts (a day or a week): one row per product per period, 0 units included.",
    ("day", "ds", "week", "week_start", "order_date", "sale_date", "sales_date", "period", "business_date"),
)
_UNITS = InputSpec(
    "units_sold",
    "numeric",
    "Units of the product sold in the period (0 when none).",
    ("units", "qty", "quantity", "quantity_sold", "unit_sales", "sales_qty", "sales_units", "qty_sold",
     "sold_qty", "demand_units", "pieces_sold", "item_count"),
)  # fmt: skip
_PRODUCT = InputSpec(
    "product_id",
    "id",
    f"The product (SKU, item): each gets its own forecast. Without it every row is one series, {DEFAULT_SERIES!r}.",
    ("sku", "item_id", "item", "product", "sku_id", "article", "product_code", "variant_id", "item_code"),
)
_STOCK = InputSpec(
    "stock_on_hand",
    "numeric",
    "Units in stock at the row's period: the reorder call compares it with the demand ahead.",
    (
        "on_hand",
        "stock",
        "inventory",
        "inventory_level",
        "stock_level",
        "on_hand_qty",
        "available_stock",
        "soh",
    ),
)


class ProductDemand(Forecast[ProductDemandOutput]):
    """Product demand forecast: units per product next period, over 7 and 28 days, and a stock call.

    >>> bp = ProductDemand()
    >>> params, model = bp.resolve_params(), bp.make_model(bp.resolve_params(), seed=0)
    >>> for day in range(70):
    ...     record = {"date": day * 86_400.0, "units_sold": 10.0 + 5.0 * (day % 7 == 5),
    ...               "product_id": "A", "stock_on_hand": 40.0}
    ...     x = bp.featurize(record, None, params)
    ...     out = bp.postprocess(model.predict_one(x), x, model, params)
    ...     model.learn_one(x, bp.label_of(record, params))
    >>> round(out.expected_units), round(out.units_next_7d), out.demand_pattern, out.recommended_protocol
    (10, 75, 'smooth', 'reorder_now')
    """

    id = "product_demand"
    name = "Product Demand Forecast"
    category = "ecommerce_retail"
    use_case = (
        "Forecast units sold per product (SKU) per day or week for inventory: the next period, 7 and 28 "
        "days ahead, with an interval, the demand pattern, and whether to reorder now."
    )
    required_inputs = (_UNITS,)
    optional_inputs = (_DATE, _PRODUCT, _STOCK)
    parameters = (confidence_level("units_interval around expected_units"),)
    label = LabelSpec(
        "The row's own units: each period is forecast before its units are learned.", column=_UNITS
    )
    output = OutputSpec(
        ProductDemandOutput,
        "value",
        "Expected units next period and over 7 and 28 days per product, an interval and a stock call.",
        headline="expected_units",
    )
    time_input = "date"
    entity_input = "product_id"
    value_input = "units_sold"
    horizons_days = (7.0, 28.0)
    data_requirements = (
        "One row per product per period (a day or a week), in time order: its date and units sold, with 0 "
        "for a period without sales (a missing row is not a zero). Aggregate order lines per product and "
        "day first. Forecasts start after 4 periods and follow the weekday pattern after a few weeks. "
        "Optional: product id (many products in one deployment) and stock on hand (the reorder call)."
    )

    def featurize(self, record: Record, state: None, params: Params) -> Features:
        """The forecaster's features, plus the stock on hand when given."""
        features = super().featurize(record, state, params)
        stock = record.get("stock_on_hand")
        if stock is not None:
            features["stock_on_hand"] = float(stock)
        return features

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> ProductDemandOutput:
        """Horizon totals and trend from the outlook; interval, pattern and stock call from the product's
        recent values and one-step errors."""
        outlook = self.outlook(features, model)
        expected = max(score, 0.0) if math.isfinite(score) else 0.0
        week, month = (max(total, 0.0) for total in outlook.totals)
        series = (
            model.series.get(str(features.get("series_id")))
            if isinstance(model, SeasonalForecaster)
            else None
        )
        rms = math.sqrt(max(series.errors.mean_sq_error_1, 0.0)) if series else 0.0
        learned = series.n_learned + len(series.start_rows) if series else 0
        pattern = series.memo.get("demand_pattern") if series else None  # the series' until it learns
        if pattern is None:
            pattern = demand_pattern(
                list(series.buffer) or [y for _, y in series.start_rows] if series else []
            )
            if series:
                series.memo["demand_pattern"] = pattern
        half = self.half_width(rms, params)
        trend = _TRENDS[outlook.trend]
        stock = features.get("stock_on_hand")
        cover = None
        protocol_name = _REDUCE if trend == "falling" else _HOLD
        if isinstance(stock, float) and learned:
            per_day = month / 28.0
            cover = stock / per_day if per_day > 0.0 else None
            periods = max(7.0 * expected / week, 1.0) if week > 0.0 else 1.0  # periods in 7 days
            if stock < week + half * math.sqrt(periods):
                protocol_name = _REORDER
            else:
                protocol_name = _REDUCE if stock > month else _HOLD
        experience = learned / (learned + _EXPERIENCE_RAMP)
        return ProductDemandOutput(
            expected_units=expected,
            units_next_7d=week,
            units_next_28d=month,
            units_interval=(max(expected - half, 0.0), expected + half),
            days_of_cover=cover,
            demand_pattern=pattern,
            demand_trend=trend,
            recommended_protocol=protocol_name,
            confidence=experience / (1.0 + rms / max(expected, 1.0)),
        )

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Daily units of eight products from 2024-01-01 (a Monday), one row per product and day.

        ``units ~ Poisson(SAMPLE_PRODUCTS[sku] × SAMPLE_WEEKDAY[weekday] × (1 + 0.3% a day))``: four
        fast movers and four slow movers (mostly zero days). Stock on hand runs down with the sales and is
        topped up to three weeks of demand when it falls under one (5% of values blank); ``warehouse``
        is not read.
        """
        rng = np.random.default_rng(seed)
        products = list(SAMPLE_PRODUCTS)
        index = np.arange(n_rows)
        days, sku = index // len(products), np.asarray(products)[index % len(products)]
        units = rng.poisson(self.planted_mean(days, sku))
        stock = np.zeros(n_rows)
        level = {p: 21.0 * SAMPLE_PRODUCTS[p] + 2.0 for p in products}
        for row in range(n_rows):
            product = products[row % len(products)]
            if level[product] < 7.0 * SAMPLE_PRODUCTS[product] + 1.0:
                level[product] = 21.0 * SAMPLE_PRODUCTS[product] + 2.0
            stock[row] = round(level[product])
            level[product] = max(level[product] - units[row], 0.0)
        stock[rng.random(n_rows) < 0.05] = np.nan
        return pd.DataFrame(
            {
                "date": (pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d"),
                "sku": sku,
                "units_sold": units.astype(np.int64),
                "on_hand": stock,
                "warehouse": np.where(index % 2 == 0, "DC-EAST", "DC-WEST"),
            }
        )

    @staticmethod
    def planted_mean(days: npt.NDArray[np.int64], sku: npt.NDArray[np.str_]) -> npt.NDArray[np.float64]:
        """The sample's true mean units per product and day since its start: the forecast ceiling."""
        base = np.asarray([SAMPLE_PRODUCTS[str(s)] for s in sku])
        return np.asarray(
            base * np.asarray(SAMPLE_WEEKDAY)[days % 7] * (1.0 + 0.003 * days), dtype=np.float64
        )


def demand_pattern(values: list[float]) -> Pattern:
    """Syntetos-Boylan class of recent values: ``intermittent`` when sales come less than every 1.32
    periods on average, ``erratic`` when the squared variation of sale sizes exceeds 0.49, ``lumpy`` both.

    >>> demand_pattern([0, 0, 3, 0, 1, 0, 0, 2]), demand_pattern([5, 6, 5, 7]), demand_pattern([1, 0, 9, 0, 0, 1])
    ('intermittent', 'smooth', 'lumpy')
    """
    sales = [value for value in values if value > 0.0]
    if not sales:
        return "intermittent" if values else "smooth"
    mean = sum(sales) / len(sales)
    cv2 = sum((value - mean) ** 2 for value in sales) / len(sales) / (mean * mean)
    intermittent, erratic = len(values) / len(sales) > ADI_CUT, cv2 > CV2_CUT
    if intermittent:
        return "lumpy" if erratic else "intermittent"
    return "erratic" if erratic else "smooth"
