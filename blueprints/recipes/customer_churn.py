"""``customer_churn``: which customers are about to leave, why, and what to do about it (seed 000).

Each record is a snapshot of one customer as of some time: when they were last active, when the
account was created, what they have spent, and optionally their support tickets, feature usage
(both running totals, like the spend) and plan. The blueprint never reads the wall clock: "now"
is the record's as-of time, or its last activity when the row has no as-of column (then
``days_inactive`` is 0 and recency carries no signal, so send an as-of column when you can).

Features, in natural units (the model takes logs of the heavy-tailed ones before scaling):

==========================  ================================================================
``days_inactive``           days from the last activity to the as-of time
``account_tenure_days``     days from account creation to the as-of time
``daily_value_rate``        total value per day of tenure
``support_intensity``       support tickets per 30 days of tenure (tenure floored at 30 days)
``usage_rate``              feature uses per 30 days of tenure (tenure floored at 30 days)
``declining_usage``         0..1, how far usage since this customer's previous record fell
                            below their earlier rate (per-customer state)
``recent_support_rate``     support tickets per 30 days since the customer's previous record
``plan_type``               the plan, one-hot encoded
==========================  ================================================================

Labels. ``cancelled_subscription`` (the default) reads the ``churned`` column: whether the
customer cancelled within ``predictionWindow`` after the as-of time. That label looks forward
from the features, so nothing leaks; it can also arrive later on ``tracer.labels``.
``no_login_30_days`` labels a row by the state it describes: churned when the as-of time is 30
or more days after the last activity. That suits retrospective exports (one row per customer as
of an export date), but the label is then a function of the row's own recency, so under this
definition the model does not see ``days_inactive``: it learns which customer profiles lapse,
from tenure, value, support and usage. A row without an as-of time has no label under it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, NamedTuple, cast

import numpy as np
import pandas as pd
from pydantic import Field
from river import linear_model, optim

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
    StandIn,
)
from tracer.blueprints.engines.models import RiverBinaryClassifier, ScaleAndEncode, hoeffding_tree_classifier
from tracer.blueprints.protocols import offers_block_explaining, offers_experience
from tracer.blueprints.tasks import RiskLevel, distinct_names, driver_name, pushing_features
from tracer.schemas.base import OutboundModel

__all__ = ["ChurnOutput", "ChurnState", "CustomerChurn"]

DAY_S = 86_400.0
WINDOW_DAYS = {"30_days": 30, "60_days": 60, "90_days": 90}
INACTIVITY_RULE_DAYS = 30.0
RISK_THRESHOLDS: tuple[tuple[float, RiskLevel], ...] = ((0.75, "critical"), (0.5, "high"), (0.25, "medium"))
CONFIDENCE_RAMP_LABELS = 100
"""Labels after which the model counts as half experienced in ``confidence``."""
RISK_VECTOR_MIN_LOGIT = 0.1
"""A feature must add at least this much to the logit to be named as a risk vector."""
# Human names of a feature pushing risk up, when its value is above / below the usual.
VECTOR_NAMES: dict[str, tuple[str, str]] = {
    "days_inactive": ("long_inactivity", "recent_activity"), "account_tenure_days": ("long_tenure", "new_account"),
    "daily_value_rate": ("high_value", "low_value"), "usage_rate": ("heavy_usage", "low_usage"),
    "support_intensity": ("support_complaints", "few_support_contacts"),
    "recent_support_rate": ("support_complaints", "few_support_contacts"),
    "declining_usage": ("declining_usage", "steady_usage"),
}  # fmt: skip
PROTOCOLS_FOR_VECTOR = {
    "long_inactivity": "engagement_campaign", "declining_usage": "engagement_campaign",
    "low_usage": "product_training", "new_account": "onboarding_assistance",
    "support_complaints": "support_escalation", "low_value": "retention_offer",
}  # fmt: skip
PROTOCOLS_FOR_RISK: dict[RiskLevel, tuple[str, ...]] = {
    "low": (), "medium": ("engagement_campaign",), "high": ("retention_offer",),
    "critical": ("immediate_outreach", "retention_offer"),
}  # fmt: skip
LOGGED_FEATURES = ("days_inactive", "account_tenure_days", "daily_value_rate", "support_intensity",
                   "usage_rate", "recent_support_rate")  # fmt: skip


class ChurnOutput(OutboundModel):
    """What ``customer_churn`` says about one customer."""

    churn_probability: Annotated[float, Field(ge=0, le=1, description="P(churn within the window).")]
    risk_classification: RiskLevel
    estimated_churn_window: str = Field(
        description="Median time to churn if the risk is spread evenly over the window, e.g. '21 days'; "
        "'more than 30 days' when churn within the window is less likely than not."
    )
    intervention_protocols: list[str]
    risk_vectors: list[str] = Field(description="Named features pushing the risk up, strongest first.")
    confidence: Annotated[float, Field(ge=0, le=1, description="|2p - 1| x n / (n + 100), n labels learned.")]


Seen = tuple[float, float | None, float | None, float | None]
"""What the state remembers of a customer's latest record: its time (s), feature usage count, usage
rate and support tickets. A plain tuple: every checkpoint pickles the whole state, and 40,000
customers took 91 ms as NamedTuples (a Python call each) against 11 ms as tuples."""

ChurnState = dict[str, Seen]

MAX_CUSTOMERS = 500_000
"""The most customers a deployment's state remembers (about 130 MB of entries). Past it, the tenth
whose latest snapshot is oldest are forgotten at once (:func:`_forget_oldest`), so the state, and
every checkpoint of it, stays bounded however many customers stream by. A forgotten customer who
comes back is featurized as a new one: no usage decline or recent support rate on that first row
back. Which customers go depends only on the state, so a replay forgets the same ones."""


class _Seen(NamedTuple):
    """A customer in checkpoints written before :data:`Seen` was a plain tuple; they still load."""

    time_s: float
    usage_count: float | None
    usage_rate: float | None
    support_tickets: float | None


def _reference_time(record: Record) -> float:
    """'Now' for a record: its as-of time, else its last activity, else 0.0. With neither (a table of
    customers with a tenure but no dates), tenure derived from 0.0 comes back out unchanged."""
    as_of = record["as_of_time"] if record["as_of_time"] is not None else record["last_activity_date"]
    return 0.0 if as_of is None else float(as_of)


def _created_from_tenure_days(tenure_days: Any, record: Record) -> float:
    return _reference_time(record) - float(tenure_days) * DAY_S


def _created_from_tenure_months(tenure_months: Any, record: Record) -> float:
    return _created_from_tenure_days(float(tenure_months) * 30.4375, record)


CUSTOMER_ID = InputSpec(
    "customer_id", "id", "The customer the row is about; keys predictions and labels.",
    ("customer", "cust_id", "customerid", "user_id", "user", "account_id", "client_id", "client", "subscriber_id",
     "member_id"),
)  # fmt: skip
LAST_ACTIVITY = InputSpec(
    "last_activity_date", "timestamp", "The customer's most recent interaction (login, visit, purchase).",
    ("last_login", "last_login_date", "last_login_at", "last_seen", "last_seen_at", "last_active",
     "last_active_date", "last_activity", "last_activity_at", "last_visit", "last_interaction"),
)  # fmt: skip
ACCOUNT_CREATED = InputSpec(
    "account_created_date", "timestamp", "When the account was opened.",
    ("signup_date", "sign_up_date", "created_at", "created_date", "registration_date", "registered_at",
     "account_created", "account_created_at", "join_date", "joined_at", "start_date", "customer_since"),
    stand_ins=(
        StandIn("tenure_days", "numeric", ("tenure", "account_age_days", "days_since_signup", "age_days"),
                _created_from_tenure_days, "Account age in days at the as-of time."),
        StandIn("tenure_months", "numeric", ("account_age_months", "months_active", "months_since_signup"),
                _created_from_tenure_months, "Account age in months at the as-of time."),
    ),
)  # fmt: skip
TOTAL_VALUE = InputSpec(
    "total_value", "numeric", "Lifetime spend (or another lifetime value measure) up to the as-of time.",
    ("total_spend", "total_charges", "lifetime_value", "lifetime_spend", "ltv", "clv", "customer_value",
     "total_revenue", "revenue", "total_amount", "total_purchases", "spend"),
)  # fmt: skip
SUPPORT_TICKETS = InputSpec(
    "support_tickets", "numeric", "Support tickets opened so far (a running total).",
    ("support_calls", "support_requests", "support_cases", "tickets", "num_tickets", "ticket_count",
     "complaints", "customer_service_calls"),
)  # fmt: skip
FEATURE_USAGE = InputSpec(
    "feature_usage_count", "numeric", "Product feature uses so far (a running total).",
    ("feature_usage", "usage_count", "usage", "feature_uses", "sessions", "session_count", "logins",
     "login_count", "events", "activity_count"),
)  # fmt: skip
PLAN_TYPE = InputSpec(
    "plan_type", "categorical", "Subscription tier.",
    ("plan", "plan_name", "tier", "subscription_type", "subscription_plan", "subscription_tier",
     "contract", "contract_type", "membership"),
)  # fmt: skip
AS_OF = InputSpec(
    "as_of_time",
    "timestamp",
    "When the row's values were true (snapshot or event time); 'now' for the features.",
    ("as_of", "as_of_date", "snapshot_date", "snapshot_time", "snapshot_at", "event_time", "event_date",
     "observed_at", "ts", "timestamp", "date"),
)  # fmt: skip
CHURNED = InputSpec(
    "churned", "boolean", "Whether the customer cancelled within the prediction window after the as-of time.",
    ("churn", "is_churned", "has_churned", "churn_flag", "cancelled", "canceled", "exited", "attrition",
     "left"),
)  # fmt: skip


def _risk_level(probability: float) -> RiskLevel:
    if probability < RISK_THRESHOLDS[-1][0]:
        return "low"
    for threshold, level in RISK_THRESHOLDS:
        if probability >= threshold:
            return level
    return "low"


def _churn_window(probability: float, window_days: int) -> str:
    """Median time to churn under a constant hazard that gives ``probability`` over the window."""
    if probability < 0.5:
        return f"more than {window_days} days"
    hazard_per_window = -math.log(max(1.0 - probability, 1e-9))
    days = max(1, round(window_days * math.log(2.0) / hazard_per_window))
    return "1 day" if days == 1 else f"{days} days"


def _iso(epoch_s: float, with_time: bool) -> str:
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ" if with_time else "%Y-%m-%d")


class CustomerChurn(Blueprint[ChurnOutput, ChurnState]):
    """Customer Churn Predictor: the probability that a customer leaves within the window, with reasons."""

    id = "customer_churn"
    name = "Customer Churn Predictor"
    category = "business_operations"
    use_case = (
        "Subscription or account-based businesses that want to reach customers before they leave: "
        "score every customer snapshot as it streams in, rank by churn risk, and act on the named "
        "risk vectors."
    )
    task = "binary"
    required_inputs = ()
    optional_inputs = (CUSTOMER_ID, LAST_ACTIVITY, ACCOUNT_CREATED, TOTAL_VALUE, SUPPORT_TICKETS,
                       FEATURE_USAGE, PLAN_TYPE, AS_OF, CHURNED)  # fmt: skip
    learns_context = True
    parameters = (
        ParamSpec("churnDefinition", "cancelled_subscription",
                  "What counts as churn: the 'churned' column (a cancellation within the window), or no "
                  "activity for 30 days at the as-of time (see the module docs on leakage).",
                  ("cancelled_subscription", "no_login_30_days")),
        ParamSpec("predictionWindow", "30_days", "How far ahead churn is predicted; shapes estimated_churn_window.",
                  tuple(WINDOW_DAYS)),
    )  # fmt: skip
    challenger_models = ("hoeffding_tree",)
    feature_params = frozenset({"churnDefinition"})  # decides whether days_inactive is a feature
    label = LabelSpec(
        "cancelled_subscription: the 'churned' column; no_login_30_days: as-of time minus last activity >= 30 days.",
        column=CHURNED, rule="no_login_30_days", rule_needs=("last_activity_date", "as_of_time"),
    )  # fmt: skip
    output = OutputSpec(ChurnOutput, "probability", "Likelihood to churn within the prediction window.",
                        headline="churn_probability", range=(0.0, 1.0))  # fmt: skip
    entity_input = "customer_id"
    time_input = "as_of_time"
    data_requirements = (
        "One row per customer (or customer snapshot) with a churn outcome to learn from (or outcomes "
        "arriving later as labels), and any columns describing the customer: every usable column is "
        "learned from. At best: a customer id, last activity and account creation times (or a tenure), "
        "lifetime value, support tickets, feature usage and plan; an as-of column gives recency its "
        "meaning, and repeated snapshots of one customer let the blueprint see usage decline. Without an "
        "id each row is its own customer; without activity dates there is no recency feature."
    )

    def new_state(self, params: Params) -> ChurnState:
        return {}

    def snapshot_state(self, state: ChurnState) -> ChurnState:
        """A shallow copy: each customer's entry is a tuple, replaced, never changed in place."""
        return state.copy()

    def scratch_state(self, state: ChurnState, record: Record) -> ChurnState:
        """The record's customer only: an HTTP prediction copies one entry, not every customer seen."""
        customer = record["customer_id"]
        seen = state.get(customer)
        return {} if seen is None else {customer: seen}

    def featurize(self, record: Record, state: ChurnState, params: Params) -> Features:
        last_active: float | None = record["last_activity_date"]
        as_of = _reference_time(record)
        created: float | None = record["account_created_date"]
        tenure_days = max((as_of - created) / DAY_S, 0.0) if created is not None else None
        months = max(tenure_days or 0.0, 30.0) / 30.0
        features: Features = {}
        if tenure_days is not None:
            features["account_tenure_days"] = tenure_days
        if record["total_value"] is not None:
            features["daily_value_rate"] = max(record["total_value"], 0.0) / max(tenure_days or 30.0, 1.0)
        if last_active is not None and params["churnDefinition"] != "no_login_30_days":
            features["days_inactive"] = max((as_of - last_active) / DAY_S, 0.0)
        tickets: float | None = record["support_tickets"]
        usage: float | None = record["feature_usage_count"]
        usage_rate = None if usage is None else usage / months
        if tickets is not None:
            features["support_intensity"] = tickets / months
        if usage_rate is not None:
            features["usage_rate"] = usage_rate
        if record["plan_type"] is not None:
            features["plan_type"] = record["plan_type"]
        customer = record["customer_id"]
        if customer is None:  # each row its own customer: nothing to remember
            return features
        seen = state.get(customer)
        if seen is None:
            state[customer] = (as_of, usage, usage_rate, tickets)
            if len(state) > MAX_CUSTOMERS:
                _forget_oldest(state)
            return features
        seen_s, seen_usage, seen_rate, seen_tickets = seen
        if as_of > seen_s:
            gap_months = max((as_of - seen_s) / DAY_S, 1.0) / 30.0
            if usage is not None and seen_usage is not None and seen_rate:
                recent_rate = (usage - seen_usage) / gap_months
                if recent_rate < 0:  # not a running total after all: compare the counts themselves
                    recent_rate = usage / gap_months
                features["declining_usage"] = min(max(1.0 - recent_rate / seen_rate, 0.0), 1.0)
            if tickets is not None and seen_tickets is not None:
                features["recent_support_rate"] = max(tickets - seen_tickets, 0.0) / gap_months
        if as_of >= seen_s:
            state[customer] = (as_of, usage, usage_rate, tickets)
        return features

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        # Deterministic: zero-initialised weights and no sampling, so `seed` changes nothing here.
        # Learns row by row even in micro-batches: River's learn_many takes one averaged SGD step per
        # batch, which on sample(20000) dropped the replay AUC from 0.76 to 0.59 at 256 rows a batch.
        return RiverBinaryClassifier(
            ScaleAndEncode(log1p=LOGGED_FEATURES)
            | linear_model.LogisticRegression(optimizer=optim.SGD(0.03), l2=1e-4, intercept_lr=0.03),
            mini_batch_learning=False,
        )

    def make_challenger_model(self, name: str, params: Params, seed: int) -> OnlineModel:
        """``hoeffding_tree``: a non-linear challenger on the same features."""
        if name == "hoeffding_tree":
            return hoeffding_tree_classifier(seed, log1p=LOGGED_FEATURES)
        return super().make_challenger_model(name, params, seed)

    def label_of(self, record: Record, params: Params) -> float | None:
        if params["churnDefinition"] == "no_login_30_days":
            as_of = record["as_of_time"]
            if as_of is None or record["last_activity_date"] is None:
                return None
            return float(as_of - record["last_activity_date"] >= INACTIVITY_RULE_DAYS * DAY_S)
        churned = record["churned"]
        return None if churned is None else float(churned)

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> ChurnOutput:
        return self._output(score, self._risk_vectors(features, model), _experience(model), params)

    def postprocess_many(
        self, scores: Sequence[float], features: Sequence[Features], model: OnlineModel, params: Params
    ) -> list[ChurnOutput]:
        """The outputs of a scored micro-batch, its risk vectors read from the linear model's matrices
        of the batch (``explained_block``) rather than explained row by row."""
        block = model.explained_block(features) if offers_block_explaining(model) else None
        if block is None:
            return super().postprocess_many(scores, features, model, params)
        experience = _experience(model)
        pushing: list[list[tuple[float, str, bool]]] = [[] for _ in features]
        rows, columns = np.nonzero(block.shares >= RISK_VECTOR_MIN_LOGIT)
        if len(rows):
            shares = block.shares[rows, columns].tolist()
            up = (block.scaled[rows, columns] > 0).tolist()
            numeric = block.numeric
            for r, c, share, rising in zip(rows.tolist(), columns.tolist(), shares, up, strict=True):
                pushing[r].append((share, numeric[c], rising))
        for r, feature, share in block.one_hot:
            if share >= RISK_VECTOR_MIN_LOGIT:
                pushing[r].append((share, feature, False))
        return [
            self._output(
                score, _vector_names(sorted(push, reverse=True), x) if push else [], experience, params
            )
            for score, x, push in zip(scores, features, pushing, strict=True)
        ]

    @staticmethod
    def _output(score: float, vectors: list[str], experience: float, params: Params) -> ChurnOutput:
        probability = min(max(score, 0.0), 1.0)
        risk = _risk_level(probability)
        protocols = list(PROTOCOLS_FOR_RISK[risk])
        if risk != "low":
            for vector in vectors:
                protocol = PROTOCOLS_FOR_VECTOR.get(vector)
                if protocol is not None and protocol not in protocols:
                    protocols.append(protocol)
        return ChurnOutput(
            churn_probability=probability,
            risk_classification=risk,
            estimated_churn_window=_churn_window(
                probability, WINDOW_DAYS[cast(str, params["predictionWindow"])]
            ),
            intervention_protocols=protocols,
            risk_vectors=vectors,
            confidence=abs(2.0 * probability - 1.0) * experience,
        )

    @staticmethod
    def _risk_vectors(features: Features, model: OnlineModel) -> list[str]:
        return _vector_names(pushing_features(features, model, RISK_VECTOR_MIN_LOGIT), features)

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Monthly snapshots of synthetic customers, in users' column names, sorted by snapshot date.

        The planted signal: each customer has a latent engagement that drifts (down, for about a
        third of them); it shows up noisily as inactivity, slower usage and more support tickets.
        The chance of cancelling within 30 days of a snapshot rises as engagement falls, with
        unresolved support trouble, on the basic plan and for young accounts. About 3% of the
        optional values are missing.
        """
        return _sample(n_rows, seed)


def _forget_oldest(state: ChurnState) -> None:
    """Forget the tenth of the customers whose latest snapshot is oldest; among those tied at the
    cut, the smallest ids. By time and id, not by the dict's order, so any run forgets the same
    ones (0.1-0.25 s for 500,000 customers, once per 50,000 new ones)."""
    count = len(state) // 10
    times = np.fromiter((seen[0] for seen in state.values()), dtype=np.float64, count=len(state))
    cutoff = float(np.partition(times, count)[count])
    older = [customer for customer, seen in state.items() if seen[0] < cutoff]
    tied = heapq.nsmallest(count - len(older), (c for c, seen in state.items() if seen[0] == cutoff))
    for customer in older + tied:
        del state[customer]


def _experience(model: OnlineModel) -> float:
    """How much ``confidence`` trusts the model, 0..1: half at ``CONFIDENCE_RAMP_LABELS`` labels
    learned, nothing from a model that doesn't count them
    (:class:`~tracer.blueprints.protocols.Experienced`)."""
    n_learned = float(model.n_learned) if offers_experience(model) else 0.0
    return n_learned / (n_learned + CONFIDENCE_RAMP_LABELS)


def _vector_names(ranked: list[tuple[float, str, bool]], features: Features) -> list[str]:
    """The risk vectors: the first three distinct names of the features pushing towards churn,
    ``ranked`` by share (largest first), each with whether its scaled value is above average."""

    def name_of(feature: str, rising: bool) -> str:
        pair = VECTOR_NAMES.get(feature)
        if pair is not None:
            return pair[0] if rising else pair[1]
        if feature == "plan_type":
            return f"plan_{features[feature]}"
        return driver_name(feature, features.get(feature), rising)

    return distinct_names(ranked, name_of, 3)


def _sample(n_rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = datetime(2023, 1, 1, tzinfo=UTC).timestamp()
    plans, plan_weights = ("basic", "pro", "enterprise"), (0.5, 0.35, 0.15)
    fees = {"basic": 15.0, "pro": 49.0, "enterprise": 199.0}
    rows: list[dict[str, Any]] = []
    customer = 0
    while len(rows) < n_rows:
        customer += 1
        plan = str(rng.choice(plans, p=plan_weights))
        fee = fees[plan] * float(rng.lognormal(0.0, 0.2))
        first = start + float(rng.integers(0, 30)) * DAY_S
        signup = first - float(rng.uniform(15, 900)) * DAY_S
        engagement = float(rng.normal(0.0, 1.0))
        drift = -float(rng.uniform(0.3, 0.9)) if rng.random() < 0.3 else float(rng.normal(0.0, 0.1))
        troubled = bool(rng.random() < 0.15)
        months_before = (first - signup) / DAY_S / 30.0
        usage = float(rng.poisson(math.exp(2.5 + 0.5 * engagement) * months_before))
        tickets = float(rng.poisson((0.2 + 0.6 * troubled) * months_before))
        spend = fee * months_before
        for month in range(6):
            if len(rows) >= n_rows:
                break
            as_of = first + month * 30 * DAY_S
            if month:
                engagement += drift + float(rng.normal(0.0, 0.2))
                usage += float(rng.poisson(math.exp(2.5 + 0.5 * engagement)))
                tickets += float(rng.poisson(0.2 + 0.6 * troubled + 0.4 * max(0.0, -engagement)))
                spend += fee
            tenure_days = (as_of - signup) / DAY_S
            inactive_days = min(float(rng.exponential(math.exp(1.0 - 0.9 * engagement))), tenure_days)
            logit = (-2.6 - 0.9 * engagement + 0.8 * troubled + 0.5 * (plan == "basic")
                     - 0.35 * math.log(tenure_days / 30.0 + 1.0) + 0.6 * (drift < -0.2))  # fmt: skip
            churned = bool(rng.random() < 1.0 / (1.0 + math.exp(-logit)))
            rows.append({
                "cust_id": f"C{seed % 1000:03d}-{customer:06d}", "snapshot_date": _iso(as_of, with_time=False),
                "signup_date": _iso(signup, with_time=False),
                "last_login": _iso(as_of - inactive_days * DAY_S, with_time=True),
                "plan": plan if rng.random() > 0.03 else None, "total_spend": round(spend, 2),
                "support_tickets": tickets if rng.random() > 0.03 else math.nan,
                "feature_usage": usage if rng.random() > 0.03 else math.nan, "churned": churned,
            })  # fmt: skip
            if churned:
                break
    frame = pd.DataFrame.from_records(rows)
    return frame.sort_values("snapshot_date", kind="stable").reset_index(drop=True)
