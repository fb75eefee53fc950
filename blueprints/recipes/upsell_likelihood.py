"""``upsell_likelihood``: will this customer account expand: upgrade its plan or add seats (issue 19).

Category ``business_operations``: the rows are subscription accounts (plan, seats, usage, tenure,
tickets, NPS), the records ``customer_churn`` reads, and the seed's composite ``revenue_optimization``
combines the two (with ``price_elasticity`` and ``payment_default``) to price a ``tier_upgrade``.

A recipe on :class:`~tracer.blueprints.tasks.BinaryClassification`: one row per account and period
(a monthly or quarterly snapshot), its outcome (expanded or not over the next period) learned when
the period ends, on ``tracer.labels``. Every other column is learned from (context features:
industry, region, billing cycle...). The recipe reads, where it finds them (all optional; synonyms
in brackets):

- the account (``account_id``, ``subscription_id``, ``tenant_id``, ``workspace_id``...) and its
  plan (``plan``, ``tier``, ``subscription_plan``, ``edition``...);
- seats (``licensed_seats``, ``seat_count``...), active users (``active_seats``, ``seats_used``...)
  or the seat utilisation itself (a fraction or a percent);
- usage growth (``usage_growth_pct``, ``usage_trend``...: a fraction or a percent), feature adoption
  (``features_used``, ``adoption_score``...: a share, a percent or a count), plan-limit hits
  (``quota_hits``, ``usage_limit_reached``...);
- tenure (``tenure_months``, ``months_as_customer``...), support tickets and NPS;
- the account's recurring revenue (``mrr``, ``arr``, ``contract_value``...) and, if the data has it,
  the value of its next step up (``expansion_potential``, ``upgrade_value``...).

The features, as an account manager reads an account (heavy-tailed ones logged before scaling):

========================  =====================================================================
``seats``, ``active_users``  as given
``seat_utilization``      given, or active users / seats; ``seats_full``: 1 from 90%
``usage_growth``          a fraction (``25`` is read as 25%), capped to -1..5
``feature_adoption``      as given; ``limit_hits``: as given; ``hits_limits``: 1 with any
``tenure_months``, ``support_tickets``, ``nps``  as given
``mrr``, ``expansion_potential``  as given
``plan_tier``             the value, one-hot
========================  =====================================================================

Label: the ``expanded`` column (``upgraded``, ``upsold``, ``expansion``, ``did_upgrade``,
``added_seats``...): yes/no, 1/0, true/false or words such as ``upgraded``/``no_change``.

Output (:class:`UpsellOutput`), field names kept stable for the composite engine:
``expansion_probability``; ``potential_expansion_value`` (per period: the row's expansion potential
if given, else ``mrr`` x the ``tierUplift`` parameter; None without either) and
``expected_expansion_value`` (probability x potential); ``risk_classification`` (here: the chance
to expand, low..critical), ``risk_vectors`` (what pushes it up), ``recommended_protocol`` (nurture,
product_training, then seat_expansion_offer for an account using 90% of its seats or more, else
tier_upgrade) and ``confidence``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field

from tracer.blueprints.actions import by_risk, protocol
from tracer.blueprints.base import (
    Features,
    InputSpec,
    LabelSpec,
    OnlineModel,
    OutputSpec,
    Params,
    ParamSpec,
    Record,
)
from tracer.blueprints.tasks import BinaryClassification, BinaryOutput

__all__ = ["UpsellLikelihood", "UpsellOutput", "planted_logit"]

SEATS_FULL = 0.9
SEAT_OFFER = protocol("seat_expansion_offer")

ACCOUNT = InputSpec("account_id", "id", "The customer account the row is about.",
                    ("subscription_id", "tenant_id", "workspace_id", "org_id", "organization_id", "company_id",
                     "customer_account_id"))  # fmt: skip
PLAN = InputSpec("plan_tier", "categorical", "The account's current plan or tier.",
                 ("plan", "tier", "subscription_plan", "plan_name", "current_plan", "subscription_tier",
                  "pricing_tier", "edition", "plan_type"))  # fmt: skip
SEATS = InputSpec("seats", "numeric", "Seats or licences the account pays for.",
                  ("licensed_seats", "seat_count", "licenses", "licences", "num_seats", "purchased_seats",
                   "seats_purchased", "paid_seats"))  # fmt: skip
ACTIVE = InputSpec("active_users", "numeric", "Users or seats actually active in the period.",
                   ("active_seats", "seats_used", "used_seats", "active_licenses", "monthly_active_users",
                    "active_user_count"))  # fmt: skip
UTILIZATION = InputSpec("seat_utilization", "numeric", "Share of paid seats in use: a fraction or a percent.",
                        ("seat_utilisation", "license_utilization", "seat_usage", "seat_usage_pct",
                         "utilization_rate", "license_usage"))  # fmt: skip
GROWTH = InputSpec("usage_growth", "numeric", "Growth in usage over the last period: a fraction or a percent.",
                   ("usage_growth_pct", "usage_trend", "usage_change", "usage_growth_rate", "mom_usage_growth",
                    "growth_in_usage"))  # fmt: skip
ADOPTION = InputSpec("feature_adoption", "numeric", "Features adopted: a share, a percent or a count.",
                     ("features_used", "feature_adoption_rate", "adoption_score", "feature_usage",
                      "modules_used", "features_adopted"))  # fmt: skip
LIMIT_HITS = InputSpec("limit_hits", "numeric", "Times the account hit a plan limit in the period.",
                       ("plan_limit_hits", "quota_hits", "usage_limit_reached", "over_limit_events",
                        "limit_reached_count", "overage_events"))  # fmt: skip
TENURE = InputSpec("tenure_months", "numeric", "Months since the account started.",
                   ("months_as_customer", "account_age_months", "customer_tenure_months", "months_subscribed",
                    "account_tenure"))  # fmt: skip
TICKETS = InputSpec("support_tickets", "numeric", "Support tickets opened in the period.",
                    ("tickets", "num_tickets", "ticket_count", "support_cases", "support_requests"))  # fmt: skip
NPS = InputSpec("nps", "numeric", "The account's NPS or likelihood-to-recommend score.",
                ("nps_score", "net_promoter_score", "likely_to_recommend", "recommend_score"))  # fmt: skip
MRR = InputSpec("mrr", "numeric", "The account's recurring revenue (any period, the same for every row).",
                ("monthly_recurring_revenue", "arr", "annual_recurring_revenue", "contract_value",
                 "subscription_fee", "acv", "monthly_fee"))  # fmt: skip
POTENTIAL = InputSpec("expansion_potential", "numeric", "What the next step up would add to the recurring revenue.",
                      ("upsell_potential", "upgrade_value", "next_tier_price_delta", "expansion_opportunity",
                       "whitespace_value"))  # fmt: skip
EXPANDED = InputSpec(
    "expanded", "categorical", "Whether the account expanded: yes/no, 1/0, true/false or upgraded/no_change.",
    ("upgraded", "upsold", "expansion", "did_upgrade", "did_expand", "is_upsell", "upsell", "added_seats",
     "expanded_flag", "account_expanded", "upgrade_flag"),
)  # fmt: skip
TIER_UPLIFT = ParamSpec("tierUplift", 0.5, "An upgrade's added recurring revenue as a share of the current, "
                        "when the data has no expansion potential.", (0.25, 0.5, 1.0))  # fmt: skip


def _fraction(value: float) -> float:
    """A share given as a fraction or a percent (above 1.5: a percent)."""
    return value / 100.0 if abs(value) > 1.5 else value


class UpsellOutput(BinaryOutput):
    """What ``upsell_likelihood`` says about one account (field names the composite engine reads)."""

    expansion_probability: Annotated[
        float, Field(ge=0, le=1, description="P(the account expands next period).")
    ]
    potential_expansion_value: float | None = Field(
        default=None, ge=0, description="Recurring revenue an expansion adds: given, or mrr x tierUplift."
    )
    expected_expansion_value: float | None = Field(
        default=None, ge=0, description="expansion_probability x potential_expansion_value.")  # fmt: skip


class UpsellLikelihood(BinaryClassification[UpsellOutput]):
    """Upsell Likelihood: the probability that an account upgrades its plan or adds seats."""

    id = "upsell_likelihood"
    name = "Upsell Likelihood"
    category = "business_operations"
    use_case = (
        "Subscription businesses: find the accounts ready to upgrade or add seats, and what it is worth."
    )
    optional_inputs = (ACCOUNT, PLAN, SEATS, ACTIVE, UTILIZATION, GROWTH, ADOPTION, LIMIT_HITS, TENURE, TICKETS,
                       NPS, MRR, POTENTIAL, EXPANDED)  # fmt: skip
    parameters = (TIER_UPLIFT,)
    feature_params = frozenset()
    positive_labels = BinaryClassification.positive_labels | {"expanded", "upgraded", "upsold", "added_seats"}
    negative_labels = BinaryClassification.negative_labels | {"no_change", "no change", "flat", "not_expanded",
                                                               "downgraded", "churned"}  # fmt: skip
    protocols = by_risk(
        low="nurture", medium="product_training", high="tier_upgrade", critical="tier_upgrade"
    )
    label = LabelSpec(
        "The 'expanded' column: yes/no, 1/0, true/false or upgraded/no_change.", column=EXPANDED
    )
    output = OutputSpec(UpsellOutput, "probability", "Likelihood that the account expands (upgrades, adds seats).",
                        headline="expansion_probability", range=(0.0, 1.0))  # fmt: skip
    entity_input = "account_id"
    log1p_features = ("seats", "active_users", "limit_hits", "support_tickets", "mrr", "expansion_potential",
                      "tenure_months")  # fmt: skip
    data_requirements = (
        "One row per account and period with its outcome (expanded: upgraded or added seats) to learn "
        "from, or outcomes arriving as labels when the period ends; every usable column is learned from. "
        "Seats and their use, usage growth, feature adoption, plan-limit hits, tenure, tickets, NPS and "
        "recurring revenue add the features account managers read first."
    )

    def features(self, record: Record, params: Params) -> Features:
        features: Features = {
            name: max(record[name], 0.0)
            for name in ("seats", "active_users", "limit_hits", "tenure_months", "support_tickets", "mrr",
                         "expansion_potential")
            if record[name] is not None
        }  # fmt: skip
        seats, active = record["seats"], record["active_users"]
        utilization = record["seat_utilization"]
        if utilization is not None:
            utilization = _fraction(utilization)
        elif seats is not None and active is not None and seats > 0:
            utilization = active / seats
        if utilization is not None:
            share = min(max(utilization, 0.0), 2.0)
            features["seat_utilization"] = share
            features["seats_full"] = float(share >= SEATS_FULL)
        if record["usage_growth"] is not None:
            features["usage_growth"] = min(max(_fraction(record["usage_growth"]), -1.0), 5.0)
        if record["feature_adoption"] is not None:
            features["feature_adoption"] = max(record["feature_adoption"], 0.0)
        if record["limit_hits"] is not None:
            features["hits_limits"] = float(record["limit_hits"] > 0)
        if record["nps"] is not None:
            features["nps"] = record["nps"]
        if record["plan_tier"] is not None:
            features["plan_tier"] = record["plan_tier"]
        return features

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> UpsellOutput:
        output = super().postprocess(score, features, model, params)
        update: dict[str, Any] = {}
        if output.risk_classification in ("high", "critical") and features.get("seats_full") == 1.0:
            update["recommended_protocol"] = SEAT_OFFER
        potential = features.get("expansion_potential")
        mrr = features.get("mrr")
        if not isinstance(potential, float) and isinstance(mrr, float):
            potential = mrr * float(params.get("tierUplift", TIER_UPLIFT.default))
        if isinstance(potential, float):
            update["potential_expansion_value"] = potential
            update["expected_expansion_value"] = output.expansion_probability * potential
        return output.model_copy(update=update) if update else output

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Monthly snapshots of B2B accounts whose odds to expand rise with full seats, usage growth,
        feature adoption, plan-limit hits and NPS, a lower plan (room to grow) and a region (a column
        the recipe doesn't read: context), and fall with many tickets and the first months
        (:func:`planted_logit`). About 3% of values are missing."""
        rng = np.random.default_rng(seed)
        plan = rng.choice(list(PLAN_LIFT), n_rows, p=[0.4, 0.35, 0.2, 0.05])
        seats = np.maximum(rng.lognormal(2.3, 0.9, n_rows).round(0), 1)
        price = pd.Series(plan).map({"Starter": 15.0, "Team": 30.0, "Business": 55.0, "Enterprise": 90.0})
        rows: dict[str, Any] = {
            "Account ID": [f"ACC{seed % 1000:03d}-{i:06d}" for i in range(n_rows)],
            "Plan": plan, "Licensed Seats": seats,
            "Active Seats": np.minimum(rng.binomial(seats.astype(int) + 2, rng.beta(6, 2, n_rows)), seats + 2),
            "Usage Growth %": rng.normal(5.0, 15.0, n_rows).round(1),
            "Features Used": rng.binomial(12, rng.beta(2, 3, n_rows)),
            "Quota Hits": rng.poisson(rng.exponential(0.6, n_rows)),
            "Tenure Months": rng.integers(1, 72, n_rows), "Tickets": rng.poisson(1.2, n_rows),
            "NPS Score": rng.integers(0, 11, n_rows), "MRR": (seats * price.to_numpy()).round(2),
            "Region": rng.choice(list(REGION_LIFT), n_rows), "Billing": rng.choice(["monthly", "annual"], n_rows),
        }  # fmt: skip
        frame = pd.DataFrame(rows)
        frame["Upgraded"] = rng.random(n_rows) < 1.0 / (1.0 + np.exp(-planted_logit(frame)))
        holes = rng.random((n_rows, 2)) < 0.03
        frame.loc[holes[:, 0], "NPS Score"] = math.nan
        frame.loc[holes[:, 1], "Usage Growth %"] = math.nan
        return frame


PLAN_LIFT = {"Starter": 0.3, "Team": 0.2, "Business": 0.0, "Enterprise": -1.0}
REGION_LIFT = {"North America": 0.3, "Europe": 0.0, "APAC": -0.2, "LATAM": -0.4}


def planted_logit(frame: pd.DataFrame) -> np.ndarray:
    """The log-odds :meth:`UpsellLikelihood.sample` draws ``Upgraded`` from, read from its columns (NaN
    where a value it reads was blanked): the ceiling a model of the sample can reach."""
    utilization = frame["Active Seats"] / frame["Licensed Seats"]
    logit = (-3.4 + 1.6 * (utilization >= SEATS_FULL) + 0.04 * frame["Usage Growth %"]
             + 0.15 * frame["Features Used"] + 0.9 * np.log1p(frame["Quota Hits"]) + 0.12 * (frame["NPS Score"] - 7)
             - 0.3 * frame["Tickets"] - 0.8 * (frame["Tenure Months"] < 4) + frame["Plan"].map(PLAN_LIFT)
             + frame["Region"].map(REGION_LIFT))  # fmt: skip
    return np.asarray(logit, dtype=np.float64)
