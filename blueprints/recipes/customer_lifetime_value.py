"""``customer_lifetime_value``: how much will this customer spend over the next ``horizonDays``?

Inputs: the customer's orders as they happen, one row per order: ``customer_id`` (customer,
cust_id, client_id, buyer_id, shopper_id, member_id...), ``order_date`` (purchase_date,
transaction_date, invoice_date, order_time...), ``order_value`` (order_total, amount_spent,
purchase_amount, dollar_value, sales_amount...) and optionally ``items`` (number_of_items,
quantity, number_of_cds...). A row without an order value scores the customer as of its date (a
snapshot: no purchase). Every other usable column (channel, country...) is learned from too.

Features, per customer, the summary the probabilistic models (BG/NBD with Gamma-Gamma) read:
``frequency`` (repeat purchase days), ``age_days`` (since the first purchase, their T),
``recency_days`` (first to last purchase, their t_x), ``days_since_last``, ``mean_spend``,
``mean_items``, ``orders_per_year``, ``spend_per_year``, ``order_value`` (this order) and
``first_order`` (1.0 for a customer's first purchase day).

Model: :class:`~tracer.blueprints.engines.hurdle.HurdleRegressor`, the probability of any purchase in
the horizon times the lognormal mean spend when there is one. The label comes from the stream
itself (:meth:`CustomerLifetimeValue.self_labels`): a prediction made at time t is settled, once
the stream's time passes t + horizonDays, with the customer's spend in (t, t + horizonDays].

Output (:class:`LifetimeValueOutput`): ``expected_spend`` (the headline, over the horizon),
``purchase_probability``, ``value_tier`` (top, high, medium, low: the expected spend against the
average settled horizon spend, from 3x, 1x and 0.3x up), ``value_drivers``,
``recommended_protocol`` (vip_treatment, loyalty_reward, cross_sell, no_action; engagement_campaign
for a lapsing customer who used to buy: purchase probability under 0.25 after a repeat purchase),
``confidence`` and ``horizon_days``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Final, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from tracer.blueprints.actions import protocol
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
    Task,
)
from tracer.blueprints.engines.deadlines import Deadlines
from tracer.blueprints.engines.hurdle import HurdleRegressor
from tracer.blueprints.tasks import MAX_DRIVERS, distinct_names, driver_name, pushing_features
from tracer.schemas.base import OutboundModel

__all__ = ["CustomerLifetimeValue", "LifetimeValueOutput", "LifetimeValueState"]

DAY_S: Final = 86_400.0
MAX_CUSTOMERS: Final = 1_000_000
"""Customers the state remembers; past it the tenth whose last order is oldest are forgotten (their
pending predictions are then never settled), so the state stays bounded."""
ValueTier = Literal["top", "high", "medium", "low"]
TIERS: Final[tuple[tuple[float, ValueTier], ...]] = ((3.0, "top"), (1.0, "high"), (0.3, "medium"))
PROTOCOLS: Final[dict[ValueTier, str]] = {
    "top": protocol("vip_treatment"), "high": protocol("loyalty_reward"),
    "medium": protocol("cross_sell"), "low": protocol("no_action"),
}  # fmt: skip
LAPSING: Final = protocol("engagement_campaign")
LOGGED: Final = ("frequency", "age_days", "recency_days", "days_since_last", "mean_spend", "mean_items",
                 "orders_per_year", "spend_per_year", "order_value")  # fmt: skip


class LifetimeValueOutput(OutboundModel):
    """What ``customer_lifetime_value`` says about a customer after an order (or as of a snapshot)."""

    expected_spend: Annotated[float, Field(ge=0)] = Field(description="Expected spend over horizon_days.")
    purchase_probability: Annotated[float, Field(ge=0, le=1)] = Field(description="P(any purchase).")
    value_tier: ValueTier = Field(description="expected_spend against the average horizon spend.")
    value_drivers: list[str] = Field(description="Features making a purchase likelier, strongest first.")
    recommended_protocol: str
    confidence: Annotated[float, Field(ge=0, le=1)] = Field(description="n / (n + 100), n labels learned.")
    horizon_days: int


@dataclass
class _Customer:
    first_s: float
    last_s: float
    days: int = 0  # distinct purchase days (times)
    spend: float = 0.0
    items: float = 0.0
    pending: dict[str, float] = field(default_factory=dict)  # prediction key -> spend when predicted


@dataclass
class LifetimeValueState:
    """Each customer's summary and unsettled predictions, and every prediction's settling time."""

    customers: dict[str, _Customer] = field(default_factory=dict)
    deadlines: Deadlines = field(default_factory=Deadlines)


CUSTOMER = InputSpec("customer_id", "id", "The customer who ordered.",
                     ("customer", "cust_id", "customerid", "customer_number", "client_id", "buyer_id",
                      "shopper_id", "member_id", "user_id"))  # fmt: skip
ORDER_DATE = InputSpec("order_date", "timestamp", "When the order was placed.",
                       ("purchase_date", "transaction_date", "invoice_date", "order_time", "order_timestamp",
                        "ordered_at", "purchased_at", "date_of_purchase", "txn_date"))  # fmt: skip
ORDER_VALUE = InputSpec("order_value", "numeric", "What the order was worth (blank: a snapshot, no order).",
                        ("order_total", "order_amount", "amount_spent", "purchase_amount", "purchase_value",
                         "dollar_value", "sales_amount", "transaction_amount", "basket_value", "spent"))  # fmt: skip
ITEMS = InputSpec("items", "numeric", "Items in the order.",
                  ("number_of_items", "item_count", "n_items", "units", "number_of_cds", "basket_size"))  # fmt: skip


class CustomerLifetimeValue(Blueprint[LifetimeValueOutput, LifetimeValueState]):
    """Customer Lifetime Value: expected spend over a horizon, settled by the customer's later orders."""

    id: ClassVar[str] = "customer_lifetime_value"
    name: ClassVar[str] = "Customer Lifetime Value"
    category: ClassVar[str] = "ecommerce_retail"
    use_case: ClassVar[str] = (
        "Shops and subscription sellers: after every order, what the customer will spend over the next "
        "months, to decide whom to reward, cross-sell or win back; learned from what customers do spend."
    )
    task: ClassVar[Task] = "regression"
    required_inputs: ClassVar[tuple[InputSpec, ...]] = (CUSTOMER, ORDER_DATE)
    optional_inputs: ClassVar[tuple[InputSpec, ...]] = (ORDER_VALUE, ITEMS)
    parameters: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("horizonDays", 90, "The horizon the spend is predicted over.", (30, 90, 180, 365)),
    )
    feature_params = frozenset()  # the horizon settles labels and names the output, never the features
    self_labelling = True
    learns_context = True
    label_ttl_s: ClassVar[float] = 400 * DAY_S  # covers the longest horizon
    label: ClassVar[LabelSpec] = LabelSpec(
        "The customer's spend in the horizonDays after the prediction.",
        rule="self-labelled: once the stream passes t + horizonDays, the customer's spend in between",
        rule_needs=("customer_id", "order_date"),
    )
    output: ClassVar[OutputSpec] = OutputSpec(
        LifetimeValueOutput, "value", "Expected spend over the horizon, with a value tier and what to do.",
        headline="expected_spend", range=(0.0, 1e9),
    )  # fmt: skip
    entity_input: ClassVar[str] = "customer_id"
    time_input: ClassVar[str | None] = "order_date"
    drift_exempt_features = ("age_days",)
    data_requirements: ClassVar[str] = (
        "Orders (transactions) as they happen, one row each: a customer id, a date and the order's value; "
        "months of history before predictions settle (a label comes horizonDays after its order)."
    )

    def new_state(self, params: Params) -> LifetimeValueState:
        return LifetimeValueState()

    def scratch_state(self, state: LifetimeValueState, record: Record) -> LifetimeValueState:
        """The record's customer only, without pending predictions (featurize doesn't read them)."""
        found = state.customers.get(str(record["customer_id"]))
        if found is None:
            return LifetimeValueState()
        copy = _Customer(found.first_s, found.last_s, found.days, found.spend, found.items)
        return LifetimeValueState({str(record["customer_id"]): copy})

    def featurize(self, record: Record, state: LifetimeValueState, params: Params) -> Features:
        """The customer's summary after this order (which joins it first), as of the order's date."""
        now, value = float(record["order_date"]), record["order_value"]
        customer = state.customers.get(str(record["customer_id"]))
        if value is not None and value >= 0:
            if customer is None:
                customer = state.customers[str(record["customer_id"])] = _Customer(now, now)
                if len(state.customers) > MAX_CUSTOMERS:
                    _forget_oldest(state)
            if customer.days == 0:
                customer.first_s = customer.last_s = now
            customer.days += now > customer.last_s or customer.days == 0
            customer.last_s = max(customer.last_s, now)
            customer.spend += value
            customer.items += record["items"] or 0.0
        features: Features = {} if value is None else {"order_value": max(value, 0.0)}
        if customer is None or customer.days == 0:
            return features | {"first_order": float(value is not None), "frequency": 0.0}
        age = max(now - customer.first_s, 0.0) / DAY_S
        years = max(age, 30.0) / 365.0
        return features | {
            "first_order": float(customer.days == 1 and value is not None),
            "frequency": float(customer.days - 1),
            "age_days": age,
            "recency_days": (customer.last_s - customer.first_s) / DAY_S,
            "days_since_last": max(now - customer.last_s, 0.0) / DAY_S,
            "mean_spend": customer.spend / customer.days,
            "mean_items": customer.items / customer.days,
            "orders_per_year": customer.days / years,
            "spend_per_year": customer.spend / years,
        }

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        """Deterministic: ``seed`` changes nothing."""
        return HurdleRegressor(log1p=LOGGED)

    def label_of(self, record: Record, params: Params) -> float | None:
        """None: an order settles nothing of its own; later time does (``self_labels``)."""
        return None

    def self_labels(
        self, record: Record, state: LifetimeValueState, params: Params
    ) -> list[tuple[str, float]]:
        """Settle every prediction whose horizon ended before this record's date with its customer's
        spend since; then queue this record's own prediction. Called before ``featurize``."""
        now, horizon_s = float(record["order_date"]), _horizon(params) * DAY_S
        labels: list[tuple[str, float]] = []
        for name, key in state.deadlines.passed(now):
            customer = state.customers.get(name)
            spent_then = None if customer is None else customer.pending.pop(key, None)
            if customer is not None and spent_then is not None:
                labels.append((key, customer.spend - spent_then))
        name, key = str(record["customer_id"]), self.prediction_key(record)
        customer = state.customers.get(name)
        if customer is None:  # a first order or a snapshot of someone new: featurize goes on from here
            customer = state.customers[name] = _Customer(now, now)
            if len(state.customers) > MAX_CUSTOMERS:
                _forget_oldest(state)
        if key not in customer.pending:
            state.deadlines.add(now + horizon_s, name, key)
        customer.pending[key] = customer.spend + max(record["order_value"] or 0.0, 0.0)  # after this order
        return labels

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> LifetimeValueOutput:
        expected = max(score, 0.0) if score == score else 0.0
        hurdle = model if isinstance(model, HurdleRegressor) else None
        probability = min(max(hurdle.purchase_probability(features), 0.0), 1.0) if hurdle else 1.0
        average = _average(model)
        ratio = expected / average if average > 0 else 0.0
        tier: ValueTier = next((level for cut, level in TIERS if ratio >= cut), "low")
        lapsing = probability < 0.25 and float(features.get("frequency", 0.0)) >= 1.0
        learned = float(getattr(model, "n_learned", 0))
        drivers = distinct_names(
            pushing_features(features, model),
            lambda feature, rising: driver_name(feature, features.get(feature), rising),
            MAX_DRIVERS,
        )
        return LifetimeValueOutput(
            expected_spend=min(expected, 1e9),
            purchase_probability=probability,
            value_tier=tier,
            value_drivers=drivers,
            recommended_protocol=LAPSING if lapsing and tier != "top" else PROTOCOLS[tier],
            confidence=learned / (learned + 100.0),
            horizon_days=_horizon(params),
        )

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Orders over 18 months from customers buying at their own Poisson rate until they drop out
        (BG/NBD's story), each spending around their own mean (Gamma-Gamma's). Planted: app buyers
        buy twice as often and loyalty members drop out half as often. About 3% of items are blank;
        ``country`` is not read by the recipe."""
        rng = np.random.default_rng(seed)
        frames: list[pd.DataFrame] = []
        total, batch = 0, max(n_rows // 3, 20)
        while total < n_rows:
            frames.append(_customers(rng, batch, offset=batch * len(frames)))
            total += len(frames[-1])
        frame: Any = pd.concat(frames).sort_values("order_date", kind="stable").head(n_rows)
        frame["order_date"] = (
            pd.Timestamp("2023-01-01") + pd.to_timedelta(frame["order_date"], "D")
        ).dt.strftime("%Y-%m-%d")
        frame.loc[rng.random(len(frame)) < 0.03, "items"] = np.nan
        return frame.reset_index(drop=True)


def _customers(rng: np.random.Generator, n: int, offset: int) -> pd.DataFrame:
    channel = rng.choice(["web", "app", "store"], n, p=[0.5, 0.3, 0.2])
    loyalty = rng.random(n) < 0.3
    rate = rng.gamma(0.8, 1 / 40, n) * np.where(channel == "app", 2.0, 1.0)  # orders per day
    dropout = rng.beta(1.0, 3.0, n) * np.where(loyalty, 0.5, 1.0)  # after each order
    mean_spend = rng.gamma(6.0, 8.0, n)
    rows: list[tuple[str, float, float, float, str, str, str]] = []
    for i in range(n):
        day = rng.uniform(0, 540)
        while day < 540:
            items = float(rng.integers(1, 6))
            value = round(float(mean_spend[i] * rng.gamma(8.0, 1 / 8.0) * (0.8 + 0.1 * items)), 2)
            member = "yes" if loyalty[i] else "no"
            rows.append((f"C{offset + i:06d}", day, value, items, str(channel[i]), member, "DE"))
            if rng.random() < dropout[i]:
                break
            day += rng.exponential(1 / rate[i])
    columns = ["customer_id", "order_date", "order_total", "items", "channel", "loyalty_member", "country"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["country"] = rng.choice(["DE", "FR", "NL"], len(frame))
    frame["order_date"] = frame["order_date"].round(0)
    return frame


def _horizon(params: Params) -> int:
    return int(float(params.get("horizonDays", 90) or 90))


def _average(model: OnlineModel) -> float:
    """The average horizon spend of the outcomes learned: the model's own mean prediction scale."""
    if isinstance(model, HurdleRegressor) and model.n_positive:
        share = model.n_positive / max(model.n_learned, 1)
        return share * float(np.exp(min(model.log_mean + 0.5 * model.log_var, 20.0)))
    return 0.0


def _forget_oldest(state: LifetimeValueState) -> None:
    by_last = sorted(state.customers, key=lambda name: state.customers[name].last_s)
    for name in by_last[: len(by_last) // 10]:
        del state.customers[name]
