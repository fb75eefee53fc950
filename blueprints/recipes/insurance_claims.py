"""``insurance_claims``: will this policy claim within its period, and how much (issue 18, financial risk).

A recipe on :class:`~tracer.blueprints.tasks.BinaryClassification` with a two-part model
(:class:`~tracer.blueprints.engines.frequency_severity.FrequencySeverity`): one row per policy-period
(a policy-year, a member-year), scored when the period starts; its outcome arrives when the period
is settled, often months later on ``tracer.labels``. Every other usable column is learned from too
(context features). The expected cost is ``P(claim) x E[amount | claim]``.

Inputs (all optional; the first name is the input's, the others some of its synonyms):

- ``policy_id`` (``policy_number``, ``idpol``, ``member_id``...) keys predictions, with
  ``period_start`` (``policy_start``, ``inception_date``...) when given, so renewals don't collide;
- ``exposure`` (``exposure_years``, ``earned_exposure``, ``time_on_risk``...): years of cover;
- ``insured_value`` (``vehicle_value``, ``veh_value``, ``sum_insured``...);
- ``age`` (``driver_age``, ``drivage``, ``ageph``...) and ``vehicle_age`` (``veh_age``, ``vehage``...);
- ``region`` (``area``, ``territory``, ``zone``...) and ``coverage`` (``coverage_type``, ``product``, ``plan``...);
- ``prior_claims`` (``previous_claims``, ``claims_history``...), ``deductible`` (``excess``...) and
  ``coinsurance`` (``coins``, ``coinsurance_rate``...).

Features: ``exposure`` and ``log_exposure`` (claims are Poisson in exposure: ``log p ~ log
exposure`` for rare claims); ``insured_value``, ``prior_claims`` and ``deductible`` (logged before
scaling); ``age`` with ``age_band`` (``<18`` ... ``75+``: the bends of a U-shaped risk),
``vehicle_age``, ``coinsurance``; ``region`` and ``coverage`` one-hot.

Label: the claim amount (``claim_amount``, ``claimcst0``, ``claims_cost``, ``loss``, ``meddol``...)
and/or the claim flag (``claimed``: ``claim``, ``clm``, ``has_claim``, ``binexp``, a claim count...).
:meth:`InsuranceClaims.label_of` gives one float: the amount when the row has one (0 or less: no
claim; above 0 up to 1 currency unit: 1.0, a claim that says nothing of its amount); else, from the
flag alone, 1.0 for a claim and 0.0 for none; None without either. The model learns claim-or-not
from every label (``y >= 0.5``) and the log amount from labels above 1.0 (a flag alone trains the
frequency part only). A delayed label on ``tracer.labels`` is the same: an amount or ``yes``/``no``.

Output (:class:`ClaimOutput`): ``claim_probability`` (headline), ``expected_severity`` (the amount
if a claim happens), ``expected_claim_amount`` (their product: the pure premium), ``cost_relativity``
(the expected cost over the book's average, the claim odds alone while no amount is known),
``risk_classification`` from the relativity (below 1: low; 1.5: medium; 2.5: high; above: critical),
``risk_vectors`` (what pushes the expected cost up), ``recommended_protocol`` and ``confidence``.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field
from river import linear_model, optim

from tracer.blueprints.base import Features, InputSpec, LabelSpec, OnlineModel, OutputSpec, Params, Record
from tracer.blueprints.engines.frequency_severity import FrequencySeverity
from tracer.blueprints.engines.models import RiverBinaryClassifier, RiverRegressor, ScaleAndEncode
from tracer.blueprints.tasks import (
    MAX_DRIVERS,
    BinaryClassification,
    BinaryOutput,
    RiskLevel,
    distinct_names,
    driver_name,
    pushing_features,
)

__all__ = ["ClaimOutput", "InsuranceClaims"]

POLICY = InputSpec("policy_id", "id", "The policy (or member, insured) the period is about.",
                   ("policy_number", "policy_no", "policyid", "idpol", "pol_id", "contract_id", "member_id",
                    "insured_id", "policyholder_id"))  # fmt: skip
PERIOD = InputSpec("period_start", "timestamp", "When the period of cover starts.",
                   ("policy_start", "policy_start_date", "inception_date", "effective_date", "start_date",
                    "cover_start", "renewal_date"))  # fmt: skip
EXPOSURE = InputSpec("exposure", "numeric", "Years of cover in the period (1.0 for a full year).",
                     ("exposure_years", "expo", "earned_exposure", "exposure_time", "time_on_risk", "years_covered",
                      "policy_years", "time_eligible", "time"))  # fmt: skip
VALUE = InputSpec("insured_value", "numeric", "The insured value: vehicle value, sum insured, building value.",
                  ("vehicle_value", "veh_value", "vehvalue", "sum_insured", "insured_amount", "car_value",
                   "property_value", "coverage_amount"))  # fmt: skip
AGE = InputSpec("age", "numeric", "Age of the insured (or the main driver), in years.",
                ("driver_age", "drivage", "ageph", "insured_age", "policyholder_age", "age_of_insured",
                 "customer_age", "xage", "agecat"))  # fmt: skip
VEHICLE_AGE = InputSpec("vehicle_age", "numeric", "Age of the vehicle (or the insured object), in years.",
                        ("veh_age", "vehage", "car_age", "vehicle_years", "building_age"))  # fmt: skip
REGION = InputSpec("region", "categorical", "Region, area or rating territory.",
                   ("area", "territory", "zone", "rating_area", "district", "postcode_area", "site"))  # fmt: skip
COVERAGE = InputSpec("coverage", "categorical", "Product, cover or plan type.",
                     ("coverage_type", "cover_type", "product", "product_type", "policy_type", "plan",
                      "insurance_plan", "veh_body", "vehicle_type", "line_of_business"))  # fmt: skip
PRIOR = InputSpec("prior_claims", "numeric", "Claims in earlier periods.",
                  ("previous_claims", "past_claims", "claims_history", "prior_claim_count", "num_prior_claims",
                   "claims_last_3y", "bonus_malus", "bonusmalus"))  # fmt: skip
DEDUCTIBLE = InputSpec("deductible", "numeric", "Deductible (excess) per claim or per period.",
                       ("excess", "deductible_amount", "voluntary_excess", "franchise"))  # fmt: skip
COINSURANCE = InputSpec("coinsurance", "numeric", "Coinsurance rate: the insured's share of a claim.",
                        ("coins", "coinsurance_rate", "copay_rate", "cost_share"))  # fmt: skip
AMOUNT = InputSpec("claim_amount", "numeric", "Amount claimed in the period (0 if none).",
                   ("claim_amount_total", "claims_amount", "claimcst0", "claim_cost", "claims_cost", "claimcost",
                    "total_claim_amount", "claimamount", "loss", "losses", "incurred", "paid_amount", "meddol"))  # fmt: skip
CLAIMED = InputSpec("claimed", "categorical", "Whether the period had a claim: yes/no, 1/0, or a claim count.",
                    ("claim", "clm", "has_claim", "claim_flag", "any_claim", "is_claim", "claim_ind", "binexp",
                     "claimnb", "claim_count", "numclaims", "n_claims"))  # fmt: skip

AGE_BANDS = ((18.0, "<18"), (25.0, "18-24"), (40.0, "25-39"), (60.0, "40-59"), (75.0, "60-74"))
RELATIVITY_LEVELS: tuple[tuple[float, RiskLevel], ...] = ((2.5, "critical"), (1.5, "high"), (1.0, "medium"))
_CLAIM_WORDS = frozenset({"yes", "y", "true", "t", "claim", "claimed"})
_NO_CLAIM_WORDS = frozenset({"no", "n", "false", "f", "none", "no_claim"})


class ClaimOutput(BinaryOutput):
    """What ``insurance_claims`` says about one policy-period."""

    claim_probability: Annotated[float, Field(ge=0, le=1, description="P(at least one claim in the period).")]
    expected_severity: Annotated[
        float | None, Field(ge=0, description="E[amount | a claim]; None until an amount was learned.")
    ]
    expected_claim_amount: Annotated[
        float | None, Field(ge=0, description="claim_probability x expected_severity: the pure premium.")
    ]
    cost_relativity: Annotated[float, Field(ge=0, description="Expected cost over the book's average.")]
    risk_vectors: list[str] = Field(description="Features pushing the expected cost up, strongest first.")


class InsuranceClaims(BinaryClassification[ClaimOutput]):
    """Insurance Claims: the probability that a policy claims within its period, and the expected amount."""

    id = "insurance_claims"
    name = "Insurance Claims (frequency x severity)"
    category = "financial_risk"
    use_case = "Insurers: score each policy-period for its claim probability, expected claim amount and pure premium."
    optional_inputs = (POLICY, PERIOD, EXPOSURE, VALUE, AGE, VEHICLE_AGE, REGION, COVERAGE, PRIOR, DEDUCTIBLE,
                       COINSURANCE, AMOUNT, CLAIMED)  # fmt: skip
    protocols = MappingProxyType(
        {"low": "standard_renewal", "medium": "review_premium", "high": "underwriter_review",
         "critical": "decline_or_reprice"}
    )  # fmt: skip
    label = LabelSpec(
        "The claim amount (0 if none); without it, the claim flag (yes/no, 1/0, a count) trains the "
        "claim probability only.",
        column=AMOUNT, rule="claim_flag", rule_needs=("claimed",),
    )  # fmt: skip
    output = OutputSpec(ClaimOutput, "probability", "Likelihood of a claim in the period, with its expected amount.",
                        headline="claim_probability", range=(0.0, 1.0))  # fmt: skip
    entity_input = "policy_id"
    time_input = "period_start"
    log1p_features = ("insured_value", "prior_claims", "deductible")
    data_requirements = (
        "One row per policy-period (policy-year, member-year) with its claim amount or claim flag to learn "
        "from, or outcomes arriving later as labels; every usable column is learned from. Exposure, insured "
        "value, ages, region, cover, prior claims, deductible and coinsurance are read where found."
    )

    def features(self, record: Record, params: Params) -> Features:
        features: Features = {}
        exposure: float | None = record["exposure"]
        if exposure is not None:
            features["exposure"] = min(max(exposure, 0.0), 5.0)
            features["log_exposure"] = math.log(min(max(exposure, 0.01), 5.0))
        for name in ("insured_value", "prior_claims", "deductible", "vehicle_age", "coinsurance"):
            if record[name] is not None:
                features[name] = max(record[name], 0.0)
        age: float | None = record["age"]
        if age is not None:
            features["age"] = age
            features["age_band"] = next((band for cut, band in AGE_BANDS if age < cut), "75+")
        for name in ("region", "coverage"):
            if record[name] is not None:
                features[name] = record[name]
        return features

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        frequency = RiverBinaryClassifier(
            ScaleAndEncode(log1p=self.log1p_features)
            | linear_model.LogisticRegression(optimizer=optim.SGD(0.03), l2=1e-4, intercept_lr=0.03),
            mini_batch_learning=False,
        )
        severity = RiverRegressor(
            ScaleAndEncode(log1p=self.log1p_features)
            | linear_model.LinearRegression(
                optimizer=optim.SGD(0.01), l2=1e-4, intercept_lr=0.01, clip_gradient=1.0
            ),
            mini_batch_learning=False,
        )
        return FrequencySeverity(frequency, severity)

    def label_of(self, record: Record, params: Params) -> float | None:
        amount: float | None = record["claim_amount"]
        if amount is not None:
            return 0.0 if amount <= 0.0 else max(amount, 1.0)
        flag: str | None = record["claimed"]
        if flag is None:
            return None
        text = flag.strip().lower()
        if text in _CLAIM_WORDS or text in _NO_CLAIM_WORDS:
            return float(text in _CLAIM_WORDS)
        try:
            count = float(text)
        except ValueError:
            return None
        return float(count > 0) if math.isfinite(count) else None

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> ClaimOutput:
        probability = min(max(score, 0.0), 1.0)
        severity = model.expected_severity(features) if isinstance(model, FrequencySeverity) else None
        relativity = model.relativity(probability, severity) if isinstance(model, FrequencySeverity) else 1.0
        risk: RiskLevel = next((level for cut, level in RELATIVITY_LEVELS if relativity >= cut), "low")
        drivers = distinct_names(
            pushing_features(features, model),
            lambda feature, rising: driver_name(feature, features.get(feature), rising),
            MAX_DRIVERS,
        )
        learned = float(getattr(model, "n_learned", 0))
        return ClaimOutput(
            claim_probability=probability,
            expected_severity=severity,
            expected_claim_amount=None if severity is None else probability * severity,
            cost_relativity=relativity,
            risk_classification=risk,
            risk_vectors=drivers,
            recommended_protocol=self.protocols[risk],
            confidence=abs(2.0 * probability - 1.0) * learned / (learned + 100.0),
        )

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        return policies(n_rows, seed)[0]


def policies(n_rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Motor policies (the sample), each one's planted claim probability and its planted expected cost.

    Claims are Poisson in exposure, ``log rate = -1.9 + 0.9 [age < 25] + 0.4 [age >= 70] + 0.35 prior
    claims + region + 0.35 [comprehensive] - 0.3 log(deductible / 500) + 0.2 log(value / 20k) + 0.25
    [pays monthly]`` (the last a column the recipe doesn't read: context); each claim's amount is
    lognormal, ``log amount ~ N(log 2500 + 0.7 log(value / 20k) + 0.3 [comprehensive], 0.8)``. About
    3% of values are missing. Periods start in date order through 2023."""
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(45, 16, n_rows), 18, 90).round(0)
    value = rng.lognormal(math.log(20_000), 0.5, n_rows).round(-2)
    region = rng.choice(["Urban", "Suburban", "Rural", "Coastal"], n_rows, p=[0.4, 0.3, 0.2, 0.1])
    coverage = rng.choice(["comprehensive", "third_party", "collision"], n_rows, p=[0.5, 0.3, 0.2])
    deductible = rng.choice([250.0, 500.0, 1000.0, 2000.0], n_rows, p=[0.2, 0.4, 0.3, 0.1])
    prior = rng.poisson(0.4, n_rows)
    monthly = rng.random(n_rows) < 0.35
    exposure = np.where(rng.random(n_rows) < 0.7, 1.0, rng.uniform(0.1, 1.0, n_rows)).round(3)
    region_effect = {"Urban": 0.45, "Suburban": 0.1, "Rural": -0.35, "Coastal": 0.2}
    log_rate = (-1.9 + 0.9 * (age < 25) + 0.4 * (age >= 70) + 0.35 * prior
                + np.vectorize(region_effect.__getitem__)(region) + 0.35 * (coverage == "comprehensive")
                - 0.3 * np.log(deductible / 500.0) + 0.2 * np.log(value / 20_000.0) + 0.25 * monthly)  # fmt: skip
    rate = np.exp(log_rate) * exposure
    counts = rng.poisson(rate)
    mu = math.log(2500.0) + 0.7 * np.log(value / 20_000.0) + 0.3 * (coverage == "comprehensive")
    amounts = np.array(
        [rng.lognormal(m, 0.8, k).sum() if k else 0.0 for m, k in zip(mu, counts, strict=True)]
    )
    start = pd.Timestamp("2023-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 365, n_rows)), unit="D")
    rows: dict[str, Any] = {
        "policy_number": [f"P{seed % 1000:03d}-{i:06d}" for i in range(n_rows)],
        "policy_start": start.strftime("%Y-%m-%d"), "exposure": exposure, "driver_age": age,
        "vehicle_value": value, "veh_age": rng.integers(0, 20, n_rows), "area": region,
        "coverage_type": coverage, "previous_claims": prior, "deductible": deductible,
        "payment_frequency": np.where(monthly, "monthly", "annual"), "gender": rng.choice(["F", "M"], n_rows),
        "claim_amount": amounts.round(2),
    }  # fmt: skip
    frame = pd.DataFrame(rows)
    holes = rng.random((n_rows, 2)) < 0.03
    frame.loc[holes[:, 0], "vehicle_value"] = np.nan
    frame.loc[holes[:, 1], "area"] = None
    return frame, 1.0 - np.exp(-rate), rate * np.exp(mu + 0.32)
