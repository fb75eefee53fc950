"""``payment_default``: the credit risk of an application, a loan or an invoice (seed 000, financial risk).

A recipe on :class:`~tracer.blueprints.tasks.BinaryClassification`: one row per application, its
outcome (defaulted, or a ``bad``/``good`` status) learned when it arrives, often months later on
``tracer.labels``. Every column of the application is learned from (context features); the recipe
reads income, debt and amount where it finds them, with the two ratios lenders read first:

=====================  ==============================================
``income``, ``debt``,  the values themselves (logged before scaling)
``amount``
``debt_to_income``     debt / income
``amount_to_income``   requested or outstanding amount / income
=====================  ==============================================
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field

from tracer.blueprints.actions import by_risk
from tracer.blueprints.base import Features, InputSpec, LabelSpec, OutputSpec, Params, Record
from tracer.blueprints.tasks import BinaryClassification, BinaryOutput

__all__ = ["DefaultOutput", "PaymentDefault"]

INCOME = InputSpec("income", "numeric", "The applicant's income (any period, the same for every row).",
                   ("annual_income", "annual_inc", "monthly_income", "salary", "earnings", "revenue"))  # fmt: skip
DEBT = InputSpec("debt", "numeric", "The applicant's existing debt.",
                 ("total_debt", "debts", "liabilities", "balance", "outstanding_debt", "total_bal_il"))  # fmt: skip
AMOUNT = InputSpec("amount", "numeric", "The amount applied for, lent or invoiced.",
                   ("loan_amount", "funded_amnt", "loan_amnt", "credit_amount", "invoice_amount", "principal"))  # fmt: skip
APPLICANT = InputSpec("applicant_id", "id", "The application, loan or customer the row is about.",
                      ("application_id", "loan_id", "customer_id", "invoice_id", "account_id", "client_id"))  # fmt: skip
DEFAULTED = InputSpec(
    "defaulted", "categorical", "Whether it defaulted: yes/no, 1/0, or a bad/good status.",
    ("default", "is_default", "defaulted_flag", "bad_loan", "loan_status", "status", "class", "risk", "delinquent"),
)  # fmt: skip


class DefaultOutput(BinaryOutput):
    """What ``payment_default`` says about one application."""

    default_probability: Annotated[float, Field(ge=0, le=1, description="P(default).")]


class PaymentDefault(BinaryClassification[DefaultOutput]):
    """Payment Default Risk: the probability that an application, loan or invoice is not repaid."""

    id = "payment_default"
    name = "Payment Default Risk"
    category = "financial_risk"
    label_ttl_s = 400 * 86_400.0  # outcomes come months later
    use_case = "Lenders and businesses selling on credit: score each application or invoice for default risk."
    optional_inputs = (APPLICANT, INCOME, DEBT, AMOUNT, DEFAULTED)
    positive_labels = BinaryClassification.positive_labels | {"bad", "default", "defaulted", "charged_off"}
    negative_labels = BinaryClassification.negative_labels | {"good", "paid", "fully_paid", "current"}
    protocols = by_risk(
        low="approve", medium="approve_with_monitoring", high="manual_review", critical="decline"
    )
    label = LabelSpec("The 'defaulted' column: yes/no, 1/0, or a bad/good status.", column=DEFAULTED)
    output = OutputSpec(DefaultOutput, "probability", "Likelihood that the applicant defaults.",
                        headline="default_probability", range=(0.0, 1.0))  # fmt: skip
    entity_input = "applicant_id"
    log1p_features = ("income", "debt", "amount", "debt_to_income", "amount_to_income")
    data_requirements = (
        "One row per application, loan or invoice with its outcome (defaulted, or a good/bad status) to "
        "learn from, or outcomes arriving later as labels; every usable column is learned from. Income, "
        "debt and amount add the ratios lenders read first."
    )

    def features(self, record: Record, params: Params) -> Features:
        features: Features = {
            name: max(record[name], 0.0) for name in ("income", "debt", "amount") if record[name] is not None
        }
        income: float | None = record["income"]
        if income is not None and income > 0:
            if record["debt"] is not None:
                features["debt_to_income"] = max(record["debt"], 0.0) / income
            if record["amount"] is not None:
                features["amount_to_income"] = max(record["amount"], 0.0) / income
        return features

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Applications whose default odds rise with debt and amount against income, a past record of
        arrears and a freelance job, and fall with years in the job. About 3% of values are missing."""
        rng = np.random.default_rng(seed)
        income = rng.lognormal(7.5, 0.5, n_rows).round(0)
        debt = (income * rng.exponential(0.6, n_rows)).round(0)
        amount = (income * rng.uniform(0.5, 6.0, n_rows)).round(-1)
        job = rng.choice(["fixed", "freelance", "partime", "others"], n_rows, p=[0.6, 0.2, 0.12, 0.08])
        arrears = rng.random(n_rows) < 0.15
        seniority = rng.integers(0, 30, n_rows)
        logit = (-2.5 + 2.0 * np.log1p(debt / income) + 0.8 * np.log1p(amount / income) + 2.0 * arrears
                 + 1.0 * (job == "freelance") - 0.08 * seniority)  # fmt: skip
        bad = rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))
        rows: dict[str, Any] = {
            "application_id": [f"A{seed % 1000:03d}-{i:06d}" for i in range(n_rows)],
            "Income": income, "Debt": debt, "Amount": amount, "Job": job,
            "Records": np.where(arrears, "yes", "no"), "Seniority": seniority,
            "Status": np.where(bad, "bad", "good"),
        }  # fmt: skip
        frame = pd.DataFrame(rows)
        holes = rng.random((n_rows, 2)) < 0.03
        frame.loc[holes[:, 0], "Debt"] = np.nan
        frame.loc[holes[:, 1], "Job"] = None
        return frame
