"""``cash_flow_forecast``: a business's liquidity ahead, net cash flow per period (financial risk).

Question: how much cash will come in net over the next period, 30 and 90 days (a 13-week view), where
will the balance be, and how likely is it to fall below the floor? A recipe on
:class:`~tracer.blueprints.tasks.Forecast`: each row is one period (week, month, day) of one business,
forecast before its own net flow is learned (self-labelled), by the shared
:class:`~tracer.blueprints.engines.seasonal_forecaster.SeasonalForecaster` (naive, seasonal-naive and
damped Holt-Winters per series, additive only when a series starts with a value <= 0).

Inputs (a user's column names in brackets):

* ``net_cash_flow`` (net_flow, cash_flow, net...), or instead ``inflows`` (receipts, cash_in,
  income...) with ``outflows`` (payments, cash_out, expenses, spend...): net = inflows - |outflows|
  (outflows written negative count the same); a row with inflows but no outflows is scored, not learned;
* ``period`` (date, month, week, week_ending...); without it each row is the next day;
* ``cash_balance`` (balance, closing_balance...) at the end of the row's period, or ``opening_balance``
  (opening_balance, beginning_balance...): then closing = opening + the period's net flow;
* ``entity_id`` (entity, business_unit, account...): each series gets its own model.

Features: the series, the date and nothing else; all history lives in the model. The label is the
row's own net flow. Net flows are negative and near zero, so quality is MAE (against naive and
seasonal-naive), never MAPE. Output (:class:`CashFlowOutput`, stable names):

* ``net_flow_next_period``: the net flow of the period after the row's (headline);
* ``net_flow_30d``, ``net_flow_90d``: totals over the 30 and 90 days after the row's period, and
  ``interval_30d`` around the first at ``confidenceLevel`` from the model's own 30-day errors;
* ``projected_balance``: the balance after 90 days (None without a balance);
* ``shortfall_probability``: P(balance + total < ``minimumBalance``) at 30 or 90 days, the larger,
  with a normal error of the 30-day RMS scaled by h/30 (a level error persists); without a balance,
  the chance of a net cash burn. ``liquidity_risk``: low < 5% <= medium < 25% <= high;
* ``recommended_protocol``: maintain | accelerate_receivables | arrange_credit_line;
* ``confidence``: |2p - 1| x n / (n + 26), n periods learned for the series.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Final, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from tracer.blueprints.actions import protocol
from tracer.blueprints.base import (
    Features,
    InputSpec,
    LabelSpec,
    OnlineModel,
    OutputSpec,
    Params,
    ParamSpec,
    Record,
    StandIn,
)
from tracer.blueprints.engines.seasonal_forecaster import SeasonalForecaster
from tracer.blueprints.tasks import SEASONALITIES, Forecast, confidence_level
from tracer.schemas.base import OutboundModel

__all__ = ["CashFlowForecast", "CashFlowOutput", "LiquidityRisk", "planted_ledger"]

LiquidityRisk = Literal["low", "medium", "high"]
RISK_CUTS: Final[tuple[tuple[float, LiquidityRisk], ...]] = ((0.25, "high"), (0.05, "medium"))
EXPERIENCE_PERIODS: Final = 26.0  # periods learned after which confidence counts half


class CashFlowOutput(OutboundModel):
    """What ``cash_flow_forecast`` answers for one period of one business."""

    net_flow_next_period: float = Field(description="Net cash flow expected in the period after the row's.")
    net_flow_30d: float = Field(description="Expected net flow over the 30 days after the row's period.")
    net_flow_90d: float = Field(description="Expected net flow over the 90 days after the row's period.")
    interval_30d: tuple[float, float] = Field(description="Bounds of net_flow_30d at confidenceLevel.")
    projected_balance: float | None = Field(description="Balance after 90 days; None without a balance.")
    shortfall_probability: Annotated[float, Field(ge=0, le=1, description="P(balance < floor in 90 days).")]
    liquidity_risk: LiquidityRisk
    recommended_protocol: str
    confidence: Annotated[float, Field(ge=0, le=1)]


def _net_from_inflows(inflows: float, record: Record) -> float | None:
    outflows = record.get("outflows")
    return None if outflows is None else inflows - abs(float(outflows))


def _closing_from_opening(opening: float, record: Record) -> float | None:
    net = record.get("net_cash_flow")
    return None if net is None else opening + float(net)


_OUTFLOWS = InputSpec(
    "outflows", "numeric", "Cash paid out in the period (positive or negative: its size counts).",
    ("outflow", "cash_out", "cash_outflow", "cash_outflows", "payments", "total_payments", "disbursements",
     "money_out", "withdrawals", "expenses", "total_expenses", "spend", "spending", "outgoings"),
)  # fmt: skip
_NET = InputSpec(
    "net_cash_flow", "numeric", "Net cash flow of the period, inflows less outflows (negative when burning).",
    ("net_flow", "net_cashflow", "cash_flow", "cashflow", "net", "net_cash", "net_movement", "net_change",
     "net_cash_movement", "operating_cash_flow", "free_cash_flow"),
    (StandIn("inflows", "numeric",
             ("inflow", "cash_in", "cash_inflow", "cash_inflows", "receipts", "total_receipts", "collections",
              "money_in", "deposits", "income"),
             _net_from_inflows, "Cash received in the period; net = inflows - |outflows|."),),
)  # fmt: skip
_PERIOD = InputSpec(
    "period", "timestamp", "The period the row reports (consistently its start or end). Without it each "
    "row is the next day.",
    ("date", "week", "month", "period_end", "period_start", "week_ending", "week_start", "month_end",
     "as_of", "as_of_date", "value_date", "posting_date", "ds"),
)  # fmt: skip
_BALANCE = InputSpec(
    "cash_balance", "numeric", "Cash at the end of the row's period (all accounts, or the series' account).",
    ("balance", "closing_balance", "ending_balance", "end_balance", "current_balance", "bank_balance",
     "cash_on_hand", "cash_position", "available_balance"),
    (StandIn("opening_balance", "numeric",
             ("starting_balance", "beginning_balance", "start_balance", "balance_brought_forward"),
             _closing_from_opening, "Cash at the start of the period; closing = opening + net flow."),),
)  # fmt: skip
_ENTITY = InputSpec(
    "entity_id", "id", "The business, unit or bank account the row is about: each is its own series.",
    ("entity", "business", "business_id", "business_unit", "company", "company_id", "subsidiary",
     "account", "bank_account", "cost_centre", "cost_center"),
)  # fmt: skip


class CashFlowForecast(Forecast[CashFlowOutput]):
    """Cash flow forecast: next period, 30 and 90 days of net flow, the balance ahead and its risk."""

    id = "cash_flow_forecast"
    name = "Cash Flow Forecast"
    category = "financial_risk"
    use_case = (
        "Treasurers and owners: forecast each period's net cash flow (inflows less outflows) per business "
        "or account, the balance 13 weeks ahead and the risk of a cash shortfall."
    )
    required_inputs = (_NET,)
    optional_inputs = (_PERIOD, _OUTFLOWS, _BALANCE, _ENTITY)
    parameters = (
        ParamSpec("seasonality", "auto", "The cycle the model fits: auto, none, weekly or yearly.", SEASONALITIES),
        confidence_level("interval_30d"),
        ParamSpec("minimumBalance", 0.0, "The cash floor a shortfall is measured against (a buffer, a covenant)."),
    )  # fmt: skip
    label = LabelSpec("The row's own net cash flow, learned after the row is forecast.", column=_NET)
    output = OutputSpec(
        CashFlowOutput, "value", "Net cash flow ahead, the projected balance and the shortfall risk.",
        headline="net_flow_next_period",
    )  # fmt: skip
    time_input = "period"
    entity_input = "entity_id"
    value_input = "net_cash_flow"
    protocols: ClassVar[Mapping[LiquidityRisk, str]] = MappingProxyType(
        {"low": protocol("maintain"), "medium": protocol("accelerate_receivables"),
         "high": protocol("arrange_credit_line")}
    )  # fmt: skip
    data_requirements = (
        "One row per period (week, month or day) per business or account, in time order: a date and the "
        "period's net cash flow, or its inflows and outflows. Optional: the closing (or opening) balance, "
        "for the projected balance, and a series id. Forecasts start after 4 periods and follow the year's "
        "cycle after one year of weekly or monthly data."
    )

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> CashFlowOutput:
        """Horizon totals, the balance ahead, the chance it falls below the floor, and what to do."""
        outlook = self.outlook(features, model)
        total_30d, total_90d = outlook.totals
        series_id = str(features.get("series_id"))
        assert isinstance(model, SeasonalForecaster)  # outlook() has checked it
        next_period = model.forecast(2, series_id)[-1]
        balance = features.get("cash_balance")
        known = isinstance(balance, float)
        start = float(balance) if isinstance(balance, float) else 0.0
        floor = float(params.get("minimumBalance", 0.0))
        rms = outlook.rms_error
        probability = max(
            _below(start + total, floor, rms * days / 30.0)
            for total, days in zip(outlook.totals, self.horizons_days, strict=True)
        )
        risk: LiquidityRisk = next((level for cut, level in RISK_CUTS if probability >= cut), "low")
        series = model.series.get(series_id)
        learned = float(series.n_learned) if series is not None else 0.0
        half_width = self.half_width(rms, params)
        return CashFlowOutput(
            net_flow_next_period=next_period if math.isfinite(next_period) else 0.0,
            net_flow_30d=total_30d,
            net_flow_90d=total_90d,
            interval_30d=(total_30d - half_width, total_30d + half_width),
            projected_balance=start + total_90d if known else None,
            shortfall_probability=probability,
            liquidity_risk=risk,
            recommended_protocol=self.protocols[risk],
            confidence=abs(2.0 * probability - 1.0) * learned / (learned + EXPERIENCE_PERIODS),
        )

    def featurize(self, record: Record, state: None, params: Params) -> Features:
        """The base's series and date, and the closing balance when known (the model ignores it)."""
        features = super().featurize(record, state, params)
        if record.get("cash_balance") is not None:
            features["cash_balance"] = float(record["cash_balance"])
        return features

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Weekly ledgers of one business per 260 rows (5 years; at least 4), see :func:`planted_ledger`."""
        return planted_ledger(n_rows, seed, businesses=max(4, n_rows // 260)).drop(columns=["expected_net"])


def _below(expected: float, floor: float, sigma: float) -> float:
    """P(value < floor) for a normal value around ``expected`` (a step at sigma 0)."""
    if sigma <= 0.0:
        return float(expected < floor)
    return 0.5 * math.erfc((expected - floor) / (sigma * math.sqrt(2.0)))


def planted_ledger(n_rows: int, seed: int, *, monthly: bool = False, businesses: int = 4) -> pd.DataFrame:
    """Ledgers of ``businesses`` firms, weekly (Fridays from 2021-01-01) or monthly, ``n_rows`` rows in
    time order, with the planted expected net flow of each row in ``expected_net``.

    Receipts grow 0-25% a year, swing with the year (±10-30%) and jump 30% in December for half the
    firms, with 8% noise. Payments: payroll every other Friday (monthly: each month), rent in the week
    holding the 1st, tax in the week holding the 15th of Jan/Apr/Jul/Oct, and suppliers at 45-62% of
    the previous period's receipts (5% noise). ``expected_net`` is the net flow's mean given the past.
    """
    rng = np.random.default_rng(seed)
    periods = -(-n_rows // businesses)
    if monthly:
        dates = pd.date_range("2019-01-31", periods=periods, freq="ME")
    else:
        dates = pd.date_range("2021-01-01", periods=periods, freq="7D")
    years = np.arange(periods) * (1 / 12 if monthly else 7 / 365.25)
    per = 52 / 12 if monthly else 1.0  # weeks in a period
    season_angle = 2 * np.pi * dates.day_of_year.to_numpy() / 365.25
    day, month = dates.day.to_numpy(), dates.month.to_numpy()
    rent_due = np.ones(periods, bool) if monthly else day <= 7
    tax_due = np.isin(month, (1, 4, 7, 10)) & (True if monthly else (day >= 15) & (day <= 21))
    frames = []
    for firm in range(businesses):
        weekly = rng.lognormal(np.log(40_000), 0.6)
        level = weekly * np.exp(rng.uniform(0.0, 0.25) * years)
        shape = 1 + rng.uniform(0.1, 0.3) * np.sin(season_angle + rng.uniform(0, 2 * np.pi))
        expected_in = level * per * shape * np.where((month == 12) & (firm % 2 == 0), 1.3, 1.0)
        receipts = expected_in * (1 + 0.08 * rng.standard_normal(periods))
        payday = np.ones(periods, bool) if monthly else np.arange(periods) % 2 == firm % 2
        payroll = payday * level * rng.uniform(0.25, 0.35) * (per if monthly else 2.0)
        rent = rent_due * weekly * rng.uniform(0.2, 0.4) * 1.03 ** np.floor(years)
        tax = tax_due * level * rng.uniform(0.4, 0.8)
        supplier_rate = rng.uniform(0.45, 0.62)
        previous = np.concatenate([[expected_in[0]], receipts[:-1]])
        suppliers = supplier_rate * previous * (1 + 0.05 * rng.standard_normal(periods))
        paid = payroll + rent + tax + suppliers
        net = receipts - paid
        rows: dict[str, Any] = {
            "week_ending" if not monthly else "month": dates.strftime("%Y-%m-%d"),
            "business_unit": f"BU-{seed % 100:02d}{firm:02d}",
            "cash_in": receipts.round(2),
            "cash_out": paid.round(2),
            "closing_balance": (weekly * rng.uniform(3, 10) + np.cumsum(net)).round(2),
            "headcount": np.round(payroll.max() / 1500 + rng.integers(-2, 3, periods)).astype(np.int64),
            "region": rng.choice(["north", "south", "west"]),
            "expected_net": expected_in - payroll - rent - tax - supplier_rate * previous,
        }
        frames.append(pd.DataFrame(rows).reset_index(names="step"))
    frame = pd.concat(frames).sort_values(["step", "business_unit"], kind="stable").head(n_rows)
    frame = frame.drop(columns=["step"]).reset_index(drop=True)
    holes = rng.random((len(frame), 2)) < 0.03
    frame.loc[holes[:, 0], "closing_balance"] = np.nan
    frame.loc[holes[:, 1], "region"] = None
    return frame
