"""``employee_retention``: which employees are flight risks (issue 18, business operations).

A recipe on :class:`~tracer.blueprints.tasks.BinaryClassification`: one row per employee (or per
employee and review date) from an HR system, its outcome (the employee left) learned when it is
known, often months later on ``tracer.labels``. Every column of the export is learned from
(context features: department, travel, marital status, stock options...); the recipe reads these
where it finds them, all optional, each under the names HR systems use:

=============================  =================================================================
input (synonyms, a few)        features
=============================  =================================================================
``salary`` (MonthlyIncome,     ``salary`` (logged); with ``job_level`` also ``pay_for_level``,
pay, annual_salary, wage)      salary per level step (logged): pay relative to the level
``job_level`` (JobLevel,       ``job_level``
grade, band)
``tenure_years``               ``tenure_years`` (logged), ``new_hire`` (1 under 2 years)
(YearsAtCompany, tenure)
``years_since_promotion``      ``years_since_promotion`` (logged) and ``promotion_stall``: years
(YearsSinceLastPromotion)      since promotion / (tenure + 1)
``years_with_manager``         ``years_with_manager`` (logged)
``overtime`` (OverTime)        ``overtime``: 1 / 0 from yes/no, true/false, 1/0
``job_satisfaction``,          each on its own ordinal scale (1-4 numbers, or low / medium /
``environment_satisfaction``,  high / very high, bad / good / better / best), and
``work_life_balance``,         ``low_satisfaction``: how many of them are at the bottom of their
``job_involvement``            scale (a whole rating of 1 or less; a 0-1 fraction never is)
``distance_from_home``         ``distance_from_home`` (logged)
``age``                        ``age``
``companies_worked``,          ``companies_worked`` (logged) and ``job_hopping``: previous
``total_working_years``        employers per year worked (+1)
=============================  =================================================================

The label: the ``attrition`` column (IBM HR's ``Attrition``; also left, quit, resigned, terminated,
turnover...): yes/no, 1/0, true/false or words such as ``left``/``stayed``.

Output (:class:`RetentionOutput`, stable names): ``attrition_probability`` (P(the employee leaves)),
``risk_classification``, ``risk_vectors`` (drivers in HR words: ``overtime``,
``underpaid_for_level``, ``stalled_promotion``, ``low_job_satisfaction``...),
``recommended_protocol`` (``no_action``, ``check_in``, ``stay_interview``, ``retention_offer``)
and ``confidence``.
"""

from __future__ import annotations

import functools
import math
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field

from tracer.blueprints.actions import by_risk
from tracer.blueprints.base import Features, InputSpec, LabelSpec, OnlineModel, OutputSpec, Params, Record
from tracer.blueprints.protocols import offers_experience
from tracer.blueprints.tasks import (
    BinaryClassification,
    BinaryOutput,
    RiskLevel,
    distinct_names,
    driver_name,
    pushing_features,
)

__all__ = ["EmployeeRetention", "RetentionOutput", "ordinal", "planted_sample"]


def _numeric(name: str, description: str, *synonyms: str) -> InputSpec:
    return InputSpec(name, "numeric", description, synonyms)


EMPLOYEE = InputSpec("employee_id", "id", "The employee the row is about; keys predictions and labels.",
                     ("employee_number", "EmployeeNumber", "emp_id", "emp_no", "employee", "staff_id",
                      "worker_id", "personnel_number", "person_id", "associate_id"))  # fmt: skip
SALARY = _numeric("salary", "Pay, any period (the same for every row).", "MonthlyIncome", "monthly_income",
                  "monthly_salary", "annual_salary", "base_salary", "base_pay", "pay", "wage",
                  "annual_pay", "monthly_pay", "compensation", "total_compensation")  # fmt: skip
JOB_LEVEL = _numeric("job_level", "The level or grade of the position (a number).", "JobLevel", "level",
                     "grade", "pay_grade", "job_grade", "salary_grade", "band", "position_level")  # fmt: skip
TENURE = _numeric("tenure_years", "Years at the company.", "YearsAtCompany", "years_at_company", "tenure",
                  "years_of_service", "service_years", "length_of_service", "years_employed")  # fmt: skip
PROMOTION = _numeric("years_since_promotion", "Years since the last promotion.", "YearsSinceLastPromotion",
                     "time_since_promotion", "years_since_promoted")  # fmt: skip
MANAGER = _numeric("years_with_manager", "Years with the current manager.", "YearsWithCurrManager",
                   "years_with_curr_manager", "years_with_current_manager", "manager_tenure")  # fmt: skip
OVERTIME = InputSpec("overtime", "categorical", "Whether the employee works overtime: yes/no, 1/0.",
                     ("OverTime", "over_time", "works_overtime", "overtime_flag"))  # fmt: skip
JOB_SAT = InputSpec("job_satisfaction", "categorical", "Job satisfaction: 1-4 or low..very high.",
                    ("JobSatisfaction", "job_sat", "satisfaction", "satisfaction_level", "employee_satisfaction"))  # fmt: skip
ENV_SAT = InputSpec("environment_satisfaction", "categorical", "Satisfaction with the work environment.",
                    ("EnvironmentSatisfaction", "env_satisfaction", "workplace_satisfaction"))  # fmt: skip
BALANCE = InputSpec("work_life_balance", "categorical", "Work-life balance: 1-4 or bad..best.",
                    ("WorkLifeBalance", "wlb", "work_life_balance_score"))  # fmt: skip
INVOLVEMENT = InputSpec("job_involvement", "categorical", "Job involvement or engagement: 1-4 or low..very high.",
                        ("JobInvolvement", "engagement", "engagement_score", "employee_engagement"))  # fmt: skip
DISTANCE = _numeric("distance_from_home", "Commute distance.", "DistanceFromHome", "commute_distance",
                    "commute_km", "commute_miles", "commute_time")  # fmt: skip
AGE = _numeric("age", "The employee's age in years.", "Age", "employee_age", "age_years")
COMPANIES = _numeric("companies_worked", "Employers before this one.", "NumCompaniesWorked",
                     "num_companies_worked", "previous_employers", "prior_employers", "number_of_companies")  # fmt: skip
WORKING_YEARS = _numeric("total_working_years", "Years of work experience in all.", "TotalWorkingYears",
                         "years_of_experience", "experience_years", "work_experience", "years_experience")  # fmt: skip
ATTRITION = InputSpec(
    "attrition", "categorical", "Whether the employee left: yes/no, 1/0, or left/stayed.",
    ("Attrition", "left", "has_left", "left_company", "employee_left", "quit", "resigned", "terminated",
     "turnover", "churned_employee", "attrited", "separated", "termination_flag", "is_leaver"),
)  # fmt: skip

SATISFACTIONS = ("job_satisfaction", "environment_satisfaction", "work_life_balance", "job_involvement")
_WORDS = {"very_low": 0.0, "low": 1.0, "bad": 1.0, "poor": 1.0, "medium": 2.0, "good": 2.0, "moderate": 2.0,
          "high": 3.0, "better": 3.0, "very_high": 4.0, "best": 4.0, "excellent": 4.0}  # fmt: skip
NEW_HIRE_YEARS = 2.0
VECTORS: dict[str, tuple[str, str]] = {
    "salary": ("high_pay", "low_pay"), "pay_for_level": ("well_paid_for_level", "underpaid_for_level"),
    "job_level": ("senior_level", "junior_level"), "tenure_years": ("long_tenure", "short_tenure"),
    "new_hire": ("new_hire", "settled_in"), "years_since_promotion": ("no_recent_promotion", "recent_promotion"),
    "promotion_stall": ("stalled_promotion", "recent_promotion"),
    "years_with_manager": ("long_with_manager", "new_manager"), "overtime": ("overtime", "no_overtime"),
    "low_satisfaction": ("low_satisfaction", "satisfied"),
    "distance_from_home": ("long_commute", "short_commute"), "age": ("older_employee", "young_employee"),
    "companies_worked": ("many_previous_employers", "few_previous_employers"),
    "job_hopping": ("job_hopper", "loyal_career"), "total_working_years": ("experienced", "early_career"),
    **{name: (f"high_{name}", f"low_{name}") for name in SATISFACTIONS},
}  # fmt: skip


@functools.lru_cache(maxsize=4096)
def ordinal(value: str | None) -> float | None:
    """A rating as a number: ``"3"`` -> 3.0, ``"Very High"`` -> 4.0, ``"Bad"`` -> 1.0; None if unknown."""
    if value is None:
        return None
    text = value.strip().lower().replace(" ", "_").replace("-", "_")
    try:
        number = float(text)
    except ValueError:
        return _WORDS.get(text)
    return number if math.isfinite(number) else None


_YES_NO = {"yes": 1.0, "y": 1.0, "true": 1.0, "t": 1.0, "1": 1.0, "1.0": 1.0,
           "no": 0.0, "n": 0.0, "false": 0.0, "f": 0.0, "0": 0.0, "0.0": 0.0}  # fmt: skip


class RetentionOutput(BinaryOutput):
    """What ``employee_retention`` says about one employee."""

    attrition_probability: Annotated[float, Field(ge=0, le=1, description="P(the employee leaves).")]


class EmployeeRetention(BinaryClassification[RetentionOutput]):
    """Employee Retention: the probability that an employee leaves, with the reasons HR acts on."""

    id = "employee_retention"
    name = "Employee Attrition Risk"
    category = "business_operations"
    label_ttl_s = 400 * 86_400.0  # a leaver is known months later
    use_case = "HR teams: find the employees who are flight risks and why, to act before they resign."
    optional_inputs = (EMPLOYEE, SALARY, JOB_LEVEL, TENURE, PROMOTION, MANAGER, OVERTIME, JOB_SAT, ENV_SAT,
                       BALANCE, INVOLVEMENT, DISTANCE, AGE, COMPANIES, WORKING_YEARS, ATTRITION)  # fmt: skip
    positive_labels = BinaryClassification.positive_labels | {"left", "leaver", "quit", "resigned", "terminated",
                                                              "attrited", "voluntary", "involuntary", "separated"}  # fmt: skip
    negative_labels = BinaryClassification.negative_labels | {"stayed", "stayer", "active", "current", "retained",
                                                              "employed"}  # fmt: skip
    protocols = by_risk(low="no_action", medium="check_in", high="stay_interview", critical="retention_offer")
    label = LabelSpec("The 'attrition' column: yes/no, 1/0, or left/stayed.", column=ATTRITION)
    output = OutputSpec(RetentionOutput, "probability", "Likelihood that the employee leaves.",
                        headline="attrition_probability", range=(0.0, 1.0))  # fmt: skip
    entity_input = "employee_id"
    log1p_features = ("salary", "pay_for_level", "tenure_years", "years_since_promotion", "years_with_manager",
                      "distance_from_home", "companies_worked", "total_working_years")  # fmt: skip
    data_requirements = (
        "One row per employee (an HR export) with whether they left to learn from, or outcomes arriving "
        "later as labels; every usable column is learned from. Pay, level, tenure, promotions, overtime, "
        "satisfaction, commute, age and career history add the features HR analysts read first."
    )

    def features(self, record: Record, params: Params) -> Features:
        features: Features = {
            name: max(record[name], 0.0)
            for name in ("salary", "job_level", "tenure_years", "years_since_promotion", "years_with_manager",
                         "distance_from_home", "age", "companies_worked", "total_working_years")
            if record[name] is not None
        }  # fmt: skip
        salary, level, tenure = record["salary"], record["job_level"], record["tenure_years"]
        promotion, companies, working = (record[name] for name in ("years_since_promotion", "companies_worked",
                                                                    "total_working_years"))  # fmt: skip
        if salary is not None and level is not None and level > 0:
            features["pay_for_level"] = max(salary, 0.0) / level
        if tenure is not None:
            features["new_hire"] = float(tenure < NEW_HIRE_YEARS)
            if promotion is not None:
                features["promotion_stall"] = max(promotion, 0.0) / (max(tenure, 0.0) + 1.0)
        if companies is not None and working is not None:
            features["job_hopping"] = max(companies, 0.0) / (max(working, 0.0) + 1.0)
        overtime = None if record["overtime"] is None else _YES_NO.get(record["overtime"].strip().lower())
        if overtime is not None:
            features["overtime"] = overtime
        ratings = [(name, ordinal(record[name])) for name in SATISFACTIONS]
        known = [(name, rating) for name, rating in ratings if rating is not None]
        for name, rating in known:
            features[name] = rating
        if known:
            lowest = sum(rating <= 1.0 and rating.is_integer() for _, rating in known)  # not a 0-1 fraction
            features["low_satisfaction"] = float(lowest)
        return features

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> RetentionOutput:
        probability = min(max(score, 0.0), 1.0)
        risk: RiskLevel = next((level for cut, level in _THRESHOLDS if probability >= cut), "low")
        learned = float(model.n_learned) if offers_experience(model) else 0.0

        def name_of(feature: str, rising: bool) -> str:
            pair = VECTORS.get(feature)
            if pair is None:
                return driver_name(feature, features.get(feature), rising)
            return pair[0] if rising else pair[1]

        return RetentionOutput(
            attrition_probability=probability,
            risk_classification=risk,
            risk_vectors=distinct_names(pushing_features(features, model), name_of, 3),
            recommended_protocol=self.protocols[risk],
            confidence=abs(2.0 * probability - 1.0) * learned / (learned + 100.0),
        )

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """An HR export (IBM HR's column names) whose attrition odds rise with overtime, low job and
        environment satisfaction, pay below the level's, short tenure, a stalled promotion, job hopping,
        youth, a long commute, frequent travel and being single. About 3% of values are missing."""
        return planted_sample(n_rows, seed)[0]


_THRESHOLDS: tuple[tuple[float, RiskLevel], ...] = ((0.75, "critical"), (0.5, "high"), (0.25, "medium"))
_RATINGS = np.array(["Low", "Medium", "High", "Very_High"])


def planted_sample(n_rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray[Any, np.dtype[np.float64]]]:
    """:meth:`EmployeeRetention.sample` and each row's planted probability of leaving (the ceiling)."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 61, n_rows)
    working = np.minimum(rng.integers(0, 41, n_rows), age - 18)
    tenure = np.minimum(rng.geometric(0.15, n_rows) - 1, working)
    promotion = np.minimum(rng.geometric(0.35, n_rows) - 1 + rng.integers(0, 6, n_rows) * (rng.random(n_rows) < 0.3), tenure)  # fmt: skip
    manager = np.minimum(rng.geometric(0.25, n_rows) - 1, tenure)
    companies = np.minimum(rng.poisson(1.0 + working / 8.0), 9)
    level = np.clip(1 + working // 8 + rng.integers(-1, 2, n_rows), 1, 5)
    pay_gap = rng.normal(0.0, 0.25, n_rows)  # log pay against the level's typical pay
    income = (2200.0 * level**1.3 * np.exp(pay_gap)).round(0)
    overtime = rng.random(n_rows) < 0.28
    job_sat, env_sat = rng.integers(1, 5, (2, n_rows))
    balance = rng.integers(1, 5, n_rows)
    distance = rng.integers(1, 30, n_rows)
    travel = rng.choice(["Non-Travel", "Travel_Rarely", "Travel_Frequently"], n_rows, p=[0.1, 0.7, 0.2])
    marital = rng.choice(["Single", "Married", "Divorced"], n_rows, p=[0.32, 0.46, 0.22])
    department = rng.choice(["Research_Development", "Sales", "Human_Resources"], n_rows, p=[0.65, 0.3, 0.05])
    logit = (-2.6 + 1.4 * overtime + 0.5 * (job_sat == 1) + 0.45 * (env_sat == 1) - 0.15 * (job_sat - 2.5)
             - 1.6 * pay_gap + 0.8 * (tenure < 2) + 0.25 * promotion / (tenure + 1.0)
             + 1.2 * companies / (working + 1.0) - 0.03 * (age - 36) + 0.02 * distance
             + 0.7 * (travel == "Travel_Frequently") + 0.6 * (marital == "Single") + 0.3 * (balance == 1))  # fmt: skip
    probability = 1.0 / (1.0 + np.exp(-logit))
    left = rng.random(n_rows) < probability
    rows: dict[str, Any] = {
        "EmployeeNumber": np.arange(1, n_rows + 1) + 1000 * (seed % 1000), "Age": age, "Department": department,
        "BusinessTravel": travel, "MaritalStatus": marital, "JobLevel": level, "MonthlyIncome": income,
        "YearsAtCompany": tenure, "YearsSinceLastPromotion": promotion, "YearsWithCurrManager": manager,
        "OverTime": np.where(overtime, "Yes", "No"), "JobSatisfaction": _RATINGS[job_sat - 1],
        "EnvironmentSatisfaction": env_sat, "WorkLifeBalance": balance, "DistanceFromHome": distance,
        "NumCompaniesWorked": companies, "TotalWorkingYears": working, "Attrition": np.where(left, "Yes", "No"),
    }  # fmt: skip
    frame = pd.DataFrame(rows)
    holes = rng.random((n_rows, 3)) < 0.03
    frame["MonthlyIncome"] = frame["MonthlyIncome"].where(~holes[:, 0])
    frame.loc[holes[:, 1], "JobSatisfaction"] = None
    frame["DistanceFromHome"] = frame["DistanceFromHome"].where(~holes[:, 2])
    return frame, probability
