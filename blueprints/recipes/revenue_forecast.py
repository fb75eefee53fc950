"""``revenue_forecast``: total revenue over the next 30 and 90 days, per series, learned online.

Each row is one period (5 minutes, an hour, a day, a week, a month...) of one series, carrying its
revenue (or calls, takings, demand: any value that adds up over time), usually its date, and optionally
its active customers and a series id (a store, a state). The model is a
:class:`~tracer.blueprints.engines.seasonal_forecaster.SeasonalForecaster`: per series, naive,
seasonal-naive and damped Holt-Winters smoothers run side by side and the forecast comes from those with
the lowest recent error; the spacing and the calendar's cycle come from the dates, and intraday data with
closed hours is read by slot of the week (see that module for the method). Without dates each row is the
next day. Outputs are computed before the row's own revenue is learned:

* ``forecast_30d`` and ``forecast_90d`` are the expected totals over the 30 and 90 days *after* the
  row's period, forecast from everything learned before the row. For daily data that is the next 30
  and 90 days; for weekly data 30/7 weeks (the fifth week counts 2/7); for monthly and coarser data
  a month counts as 30 days, so they are the next month and the next quarter;
* ``confidence_interval`` is ``forecast_30d ± z · rms`` at ``confidenceLevel``, where ``rms`` is the
  root mean square error of the model's own past 30-day totals (one-step errors scaled to 30 days
  until ten 30-day windows have closed);
* ``trend_analysis`` is growth or decline when the least-squares slope of the last 90 days (with
  seasonal means) is significant (``|t| > 3``) and projects a change beyond ±3% over 90 days;
* ``seasonality_flag`` says whether recent values repeat with the calendar's cycle (weekly for daily
  data, yearly for weekly or monthly data), whatever the ``seasonality`` parameter makes the model fit.

Early in a series the forecasts fall back to the last value (none yet: 0), and the interval to the
spread one-step errors allow.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
import pandas as pd

from tracer.blueprints.base import (
    Features,
    InputSpec,
    LabelSpec,
    OnlineModel,
    OutputSpec,
    Params,
    ParamSpec,
)
from tracer.blueprints.engines.seasonal_forecaster import DEFAULT_SERIES
from tracer.blueprints.tasks import SEASONALITIES, Forecast, confidence_level
from tracer.schemas.base import OutboundModel

__all__ = ["SAMPLE_WEEKLY_PATTERN", "RevenueForecast", "RevenueForecastOutput"]

SAMPLE_WEEKLY_PATTERN: Final = (0.85, 0.95, 1.0, 1.0, 1.05, 1.3, 0.85)
"""Monday..Sunday multipliers planted in :meth:`RevenueForecast.sample`."""


class RevenueForecastOutput(OutboundModel):
    """What ``revenue_forecast`` answers for one row (seed 000, "Revenue Projection Blueprint")."""

    forecast_30d: float
    """Expected total revenue over the 30 days after the row's period (the next month for monthly data)."""
    forecast_90d: float
    """Expected total revenue over the 90 days after the row's period (the next quarter for monthly data)."""
    confidence_interval: tuple[float, float]
    """Bounds around ``forecast_30d`` at the ``confidenceLevel``, from the model's own errors."""
    trend_analysis: Literal["growth_detected", "decline_detected", "stable"]
    """A significant slope over the last 90 days projecting beyond ±3% in 90 days is growth or decline."""
    seasonality_flag: bool
    """Whether recent values repeat with the calendar's cycle (see the module docstring)."""


_DATE = InputSpec(
    "date",
    "timestamp",
    "The period the row reports (its start or end, consistently): one row per period per series. "
    "Without it each row is the next day.",
    (
        "day",
        "ds",
        "period",
        "month",
        "week",
        "timestamp",
        "order_date",
        "transaction_date",
        "invoice_date",
        "created_at",
        "datetime",
        "time",
    ),
)
_REVENUE = InputSpec(
    "revenue",
    "numeric",
    "Revenue of the period (any currency, consistently).",
    (
        "sales",
        "amount",
        "total",
        "gmv",
        "income",
        "total_revenue",
        "net_revenue",
        "gross_revenue",
        "sales_amount",
        "turnover",
        "takings",
        "demand",
        "calls",
        "value",
        "y",
        "x",
    ),
)
_CUSTOMER_COUNT = InputSpec(
    "customer_count",
    "numeric",
    "Active customers (or users, subscribers) in the period; lets a change in the base move the forecast.",
    (
        "active_users",
        "customers",
        "subscribers",
        "active_customers",
        "num_customers",
        "n_customers",
        "user_count",
        "users",
        "accounts",
    ),
)
_SERIES_ID = InputSpec(
    "series_id",
    "id",
    f"Which series the row belongs to (a store, a region...): each gets its own model. "
    f"Without it every row is one series, {DEFAULT_SERIES!r}.",
    (
        "store_id",
        "store",
        "shop_id",
        "state",
        "region",
        "country",
        "location",
        "branch",
        "segment",
        "series",
        "series_key",
        "key",
        "item",
        "item_id",
        "product",
        "product_id",
        "sku",
        "entity_id",
    ),
)


class RevenueForecast(Forecast[RevenueForecastOutput]):
    """Revenue projection: 30- and 90-day totals, an interval, the trend and a seasonality flag.

    The model is a :class:`~tracer.blueprints.engines.seasonal_forecaster.SeasonalForecaster` (a few
    smoothers per series, chosen by recent error). Featurisation is stateless: the date, series and customer count pass
    through, and all temporal state lives in the model, which learns each row's revenue after scoring it.

    >>> blueprint = RevenueForecast()
    >>> params = blueprint.resolve_params()
    >>> model = blueprint.make_model(params, seed=0)
    >>> for day in range(120):
    ...     record = {"date": day * 86_400.0, "revenue": 1000.0 + 5 * day + 300.0 * (day % 7 == 5),
    ...               "customer_count": None, "series_id": None}
    ...     x = blueprint.featurize(record, None, params)
    ...     output = blueprint.postprocess(model.predict_one(x), x, model, params)
    ...     model.learn_one(x, blueprint.label_of(record, params))
    >>> output.trend_analysis, output.seasonality_flag
    ('growth_detected', True)
    """

    id = "revenue_forecast"
    name = "Revenue Forecast"
    category = "business_operations"
    use_case = (
        "Project revenue for the next 30 and 90 days from a stream of daily, weekly or monthly totals, "
        "per store or region, with an interval and whether it grows and follows a cycle."
    )
    required_inputs = (_REVENUE,)
    optional_inputs = (_DATE, _CUSTOMER_COUNT, _SERIES_ID)
    parameters = (
        ParamSpec(
            "seasonality",
            "auto",
            "The cycle the model fits: auto (the calendar's, when detected), none, weekly or yearly.",
            SEASONALITIES,
        ),
        confidence_level("confidence_interval around forecast_30d"),
    )
    label = LabelSpec(
        "The row's own revenue: each row is scored (forecast) before its revenue is learned.", column=_REVENUE
    )
    output = OutputSpec(
        RevenueForecastOutput,
        "value",
        "Expected revenue over the next 30 and 90 days, with an interval, trend and seasonality flag.",
        headline="forecast_30d",
    )
    value_input = "revenue"
    covariate_input = "customer_count"
    data_requirements = (
        "One row per period (minutes, hour, day, week, month or quarter; decimal years like 1991.5 are read "
        "as years) per series, in time order: a date and that period's revenue. Intraday data may skip closed "
        "hours and weekends. Aggregate transactions to periods first; a row whose date is not after the last "
        "one of its series is scored but not learned. Without a date each row is the next day. Forecasts "
        "start after 4 rows and follow the season after one cycle; the seasonality flag is tested after 3 "
        "cycles (3 weeks of daily data, 3 years of monthly data). Optional: customer_count, and series_id "
        "for several series (stores, states) in one deployment."
    )

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> RevenueForecastOutput:
        """Horizon totals, the interval and the trend from the model's state for this row's series."""
        outlook = self.outlook(features, model)
        total_30d, total_90d = outlook.totals
        half_width = self.half_width(outlook.rms_error, params)
        return RevenueForecastOutput(
            forecast_30d=total_30d,
            forecast_90d=total_90d,
            confidence_interval=(total_30d - half_width, total_30d + half_width),
            trend_analysis=outlook.trend,
            seasonality_flag=outlook.seasonal,
        )

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Daily revenue from 2023-01-02 (a Monday) with known structure, in users' column names.

        ``sales = active_customers × 12 × SAMPLE_WEEKLY_PATTERN[weekday] × (1 + 4% noise)``, where
        ``active_customers`` starts at 1,000 and grows 0.1% a day with a 0.5% daily random walk: a
        weekly season, a growth trend (about +9% per 90 days) and noise.
        """
        rng = np.random.default_rng(seed)
        days = np.arange(n_rows)
        customers = 1000.0 * np.exp(0.001 * days + np.cumsum(0.005 * rng.standard_normal(n_rows)))
        weekly = np.asarray(SAMPLE_WEEKLY_PATTERN)[days % 7]
        sales = customers * 12.0 * weekly * (1.0 + 0.04 * rng.standard_normal(n_rows))
        dates = pd.date_range("2023-01-02", periods=n_rows, freq="D")
        return pd.DataFrame(
            {
                "order_date": dates.strftime("%Y-%m-%d"),
                "sales": np.round(sales, 2),
                "active_customers": np.round(customers).astype(np.int64),
            }
        )
