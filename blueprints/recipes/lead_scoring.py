"""``lead_scoring``: which sales prospects will convert, ranked by their probability (issue 18,
business operations).

A recipe on :class:`~tracer.blueprints.tasks.BinaryClassification`: one row per lead (a prospect,
a contact, a campaign's addressee), its outcome (converted, won, purchased) learned when it
arrives, usually weeks later on ``tracer.labels``. Every other column of the lead is learned from
(context features: job title, country, a CRM's own scores...). The recipe reads, where it finds
them (all optional; synonyms in brackets):

- lead id (``prospect_id``, ``contact_id``, ``lead_number``...), lead source (``source``,
  ``utm_source``, ``channel``, ``campaign_name``, ``lead_origin``...), industry (``sector``,
  ``vertical``);
- engagement: site visits (``total_visits``...), page views, pages per visit, time on site
  (``total_time_spent_on_website``...), email opens and clicks, a demo request (``requested_demo``,
  ``demo_booked``...), days since the last activity (``days_since_last_touch``...);
- fit: company size (``employees``, ``headcount``: a number or a band such as ``51-200``).

The features, the way a salesperson reads a lead (heavy-tailed ones logged before scaling):

===========================  =====================================================================
the five counts              visits, page views, time on site, email opens and clicks, as given
``pages_per_visit``          given, or page views / visits: depth of browsing
``time_per_visit``           time on site / visits
``email_click_rate``         clicks / opens (at most 1)
``engagement_touches``       visits + email opens + email clicks: engagement intensity
``demo_requested``           1 / 0
``days_since_last_activity`` recency; ``active_this_week``: 1 when at most 7 days
``company_size``             employees (a band's middle); ``size_band`` its band, one-hot: fit
``lead_source``, ``industry`` the values, one-hot
===========================  =====================================================================

Label: the ``converted`` column (``conversion``, ``closed_won``, ``is_won``, ``purchase``,
``purchased``, ``signed_up``, ``is_customer``, ``lead_status``...): yes/no, 1/0, true/false or
words such as ``won``/``lost``, ``Closed Won``/``Closed Lost``; any other status (``open``) is
no label yet.

Output (:class:`LeadOutput`): ``conversion_probability``, ``lead_grade`` (A: >= 0.5, B: >= 0.25,
C: >= 0.10, else D), ``risk_classification`` (here: the chance to convert, low..critical),
``risk_vectors`` (what pushes the chance up, in sales words: ``requested_a_demo``,
``recently_active``...), ``recommended_protocol`` (nurture, marketing_follow_up, sales_call,
priority_sales_call) and ``confidence``.
"""

from __future__ import annotations

import math
import re
from types import MappingProxyType
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator
from river import linear_model, optim

from tracer.blueprints.actions import by_risk
from tracer.blueprints.base import Features, InputSpec, LabelSpec, OnlineModel, OutputSpec, Params, Record
from tracer.blueprints.engines.models import RiverBinaryClassifier, ScaleAndEncode
from tracer.blueprints.tasks import BinaryClassification, BinaryOutput

__all__ = ["LeadOutput", "LeadScoring", "lead_grade", "parse_company_size", "planted_logit"]

LeadGrade = Literal["A", "B", "C", "D"]
GRADE_CUTS: tuple[tuple[float, LeadGrade], ...] = ((0.5, "A"), (0.25, "B"), (0.10, "C"))
COUNTS = ("visits", "page_views", "time_on_site", "email_opens", "email_clicks")
SIZE_BANDS: tuple[tuple[float, str], ...] = ((10, "1-10"), (50, "11-50"), (200, "51-200"), (1000, "201-1000"))
ACTIVE_DAYS = 7.0
LEARNING_RATE, INTERCEPT_RATE = 0.005, 0.03
"""Lead tables are wide (a CRM export or a campaign file carries dozens of columns, all learned as
context) and conversions rare: a smaller step than the default's 0.03 averages the weights over more
leads; the intercept keeps 0.03 to follow the conversion rate."""
DRIVER_WORDS = MappingProxyType({
    "visits_high": "many_site_visits", "page_views_high": "many_page_views",
    "time_on_site_high": "long_time_on_site", "email_opens_high": "opens_emails",
    "email_clicks_high": "clicks_emails", "pages_per_visit_high": "deep_browsing",
    "time_per_visit_high": "long_visits", "email_click_rate_high": "clicks_through_emails",
    "engagement_touches_high": "highly_engaged", "demo_requested_high": "requested_a_demo",
    "active_this_week_high": "active_this_week", "days_since_last_activity_low": "recently_active",
    "company_size_high": "large_company", "company_size_low": "small_company",
})  # fmt: skip
"""Driver names (``feature_high``/``_low``) said in sales words; others are kept as they are."""

LEAD = InputSpec("lead_id", "id", "The lead, prospect or contact the row is about.",
                 ("prospect_id", "contact_id", "lead_number", "prospect_number", "opportunity_id", "lead",
                  "prospect", "visitor_id"))  # fmt: skip
SOURCE = InputSpec("lead_source", "categorical", "Where the lead came from: channel, campaign or referrer.",
                   ("source", "utm_source", "channel", "acquisition_channel", "marketing_channel", "lead_channel",
                    "campaign_name", "utm_campaign", "utm_medium", "lead_origin", "referral_source",
                    "traffic_source"))  # fmt: skip
INDUSTRY = InputSpec("industry", "categorical", "The lead's company's industry.",
                     ("sector", "vertical", "company_industry", "industry_sector", "business_sector"))  # fmt: skip
VISITS = InputSpec("visits", "numeric", "Visits to the website so far.",
                   ("total_visits", "website_visits", "site_visits", "web_visits", "num_visits", "visit_count",
                    "website_sessions"))  # fmt: skip
PAGE_VIEWS = InputSpec("page_views", "numeric", "Pages viewed so far.",
                       ("pageviews", "pages_viewed", "page_view_count", "pages_visited", "total_page_views"))  # fmt: skip
PAGES_PER_VISIT = InputSpec("pages_per_visit", "numeric", "Average pages viewed per visit.",
                            ("page_views_per_visit", "pages_per_session", "avg_pages_per_visit"))  # fmt: skip
TIME_ON_SITE = InputSpec("time_on_site", "numeric", "Total time spent on the website (any unit, the same for all rows).",
                         ("total_time_spent_on_website", "time_spent_on_website", "time_on_website",
                          "seconds_on_site", "minutes_on_site", "site_time", "website_time"))  # fmt: skip
EMAIL_OPENS = InputSpec("email_opens", "numeric", "Marketing emails opened.",
                        ("emails_opened", "email_open_count", "email_opened", "opens", "open_count"))  # fmt: skip
EMAIL_CLICKS = InputSpec("email_clicks", "numeric", "Links clicked in marketing emails.",
                         ("emails_clicked", "email_click_count", "email_clicked", "clicks", "click_count",
                          "link_clicks"))  # fmt: skip
DEMO = InputSpec("demo_requested", "boolean", "Whether the lead asked for a demo or a trial.",
                 ("requested_demo", "demo_request", "demo_booked", "booked_demo", "demo", "trial_requested",
                  "requested_trial"))  # fmt: skip
DAYS_SINCE = InputSpec("days_since_last_activity", "numeric", "Days since the lead's last activity or touch.",
                       ("days_since_last_touch", "days_since_last_contact", "days_since_last_engagement",
                        "days_since_last_interaction", "days_since_last_visit", "last_activity_days"))  # fmt: skip
COMPANY_SIZE = InputSpec("company_size", "categorical", "Employees: a number or a band such as '51-200'.",
                         ("employees", "employee_count", "num_employees", "number_of_employees", "headcount",
                          "company_employees", "company_headcount", "organization_size", "staff_count"))  # fmt: skip
CONVERTED = InputSpec(
    "converted", "categorical", "Whether the lead converted: yes/no, 1/0, true/false or won/lost.",
    ("conversion", "is_converted", "converted_flag", "lead_converted", "is_won", "closed_won", "deal_won",
     "purchase", "purchased", "made_purchase", "bought", "signed_up", "is_customer", "became_customer",
     "lead_status", "deal_stage", "opportunity_stage"),
)  # fmt: skip


def lead_grade(probability: float) -> LeadGrade:
    """A >= 0.5, B >= 0.25, C >= 0.10, else D: finer than the risk levels where conversions live."""
    return next((grade for cut, grade in GRADE_CUTS if probability >= cut), "D")


def parse_company_size(text: str | None) -> float | None:
    """Employees from ``"250"``, ``"1,200"``, ``"51-200"`` (its middle) or ``"1000+"``; None if no number.

    >>> parse_company_size("51-200"), parse_company_size("10,000+"), parse_company_size("n/a")
    (125.5, 10000.0, None)
    """
    numbers = [float(part.replace(",", "")) for part in re.findall(r"\d[\d,]*\.?\d*", text or "")]
    return None if not numbers else sum(numbers[:2]) / len(numbers[:2])


def _size_band(employees: float) -> str:
    return next((band for top, band in SIZE_BANDS if employees <= top), "1001+")


class LeadOutput(BinaryOutput):
    """What ``lead_scoring`` says about one lead."""

    conversion_probability: Annotated[float, Field(ge=0, le=1, description="P(the lead converts).")]
    lead_grade: LeadGrade = Field(description="A: p >= 0.5, B: >= 0.25, C: >= 0.10, D: below.")

    @model_validator(mode="before")
    @classmethod
    def _grade(cls, values: Any) -> Any:
        if isinstance(values, dict) and "lead_grade" not in values and "conversion_probability" in values:
            return {**values, "lead_grade": lead_grade(float(values["conversion_probability"]))}
        return values


class LeadScoring(BinaryClassification[LeadOutput]):
    """Lead Scoring: the probability that a sales prospect converts, to rank who to call first."""

    id = "lead_scoring"
    name = "Lead Scoring"
    category = "business_operations"
    label_ttl_s = 180 * 86_400.0  # a deal closes weeks or months later
    use_case = "Sales and marketing teams: rank leads by their chance to convert and call the best first."
    optional_inputs = (LEAD, SOURCE, INDUSTRY, VISITS, PAGE_VIEWS, PAGES_PER_VISIT, TIME_ON_SITE, EMAIL_OPENS,
                       EMAIL_CLICKS, DEMO, DAYS_SINCE, COMPANY_SIZE, CONVERTED)  # fmt: skip
    positive_labels = BinaryClassification.positive_labels | {
        "converted", "won", "closed_won", "closed won", "purchased", "bought", "customer", "signed_up", "signed up"
    }  # fmt: skip
    negative_labels = BinaryClassification.negative_labels | {
        "not_converted", "not converted", "lost", "closed_lost", "closed lost", "disqualified", "unqualified"
    }  # fmt: skip
    protocols = by_risk(
        low="nurture", medium="marketing_follow_up", high="sales_call", critical="priority_sales_call"
    )
    label = LabelSpec("The 'converted' column: yes/no, 1/0, true/false or won/lost.", column=CONVERTED)
    output = OutputSpec(LeadOutput, "probability", "Likelihood that the lead converts.",
                        headline="conversion_probability", range=(0.0, 1.0))  # fmt: skip
    entity_input = "lead_id"
    log1p_features = (*COUNTS, "pages_per_visit", "time_per_visit", "engagement_touches",
                      "days_since_last_activity", "company_size")  # fmt: skip
    data_requirements = (
        "One row per lead with its outcome (converted, won, purchased) to learn from, or outcomes arriving "
        "later as labels; every usable column is learned from. Engagement counts, recency, demo requests, "
        "source, industry and company size add the features salespeople read first."
    )

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        """The default classifier (scaled numbers, one-hot categories, online logistic regression)
        with :data:`LEARNING_RATE`; deterministic, so ``seed`` changes nothing."""
        return RiverBinaryClassifier(
            ScaleAndEncode(log1p=self.log1p_features)
            | linear_model.LogisticRegression(
                optimizer=optim.SGD(LEARNING_RATE), l2=1e-4, intercept_lr=INTERCEPT_RATE
            ),
            mini_batch_learning=False,
        )

    def features(self, record: Record, params: Params) -> Features:
        counts: dict[str, float] = {
            name: max(record[name], 0.0) for name in COUNTS if record[name] is not None
        }
        features: Features = dict(counts)
        visits, opens = counts.get("visits", 0.0), counts.get("email_opens", 0.0)
        if record["pages_per_visit"] is not None:
            features["pages_per_visit"] = max(record["pages_per_visit"], 0.0)
        elif visits > 0 and "page_views" in counts:
            features["pages_per_visit"] = counts["page_views"] / visits
        if visits > 0 and "time_on_site" in counts:
            features["time_per_visit"] = counts["time_on_site"] / visits
        if opens > 0 and "email_clicks" in counts:
            features["email_click_rate"] = min(counts["email_clicks"] / opens, 1.0)
        touches = [counts[name] for name in ("visits", "email_opens", "email_clicks") if name in counts]
        if touches:
            features["engagement_touches"] = sum(touches)
        if record["demo_requested"] is not None:
            features["demo_requested"] = float(record["demo_requested"])
        days = record["days_since_last_activity"]
        if days is not None:
            features["days_since_last_activity"] = max(days, 0.0)
            features["active_this_week"] = float(days <= ACTIVE_DAYS)
        employees = parse_company_size(record["company_size"])
        if employees is not None:
            features["company_size"] = employees
            features["size_band"] = _size_band(employees)
        for name in ("lead_source", "industry"):
            if record[name] is not None:
                features[name] = record[name]
        return features

    def postprocess(self, score: float, features: Features, model: OnlineModel, params: Params) -> LeadOutput:
        output = super().postprocess(score, features, model, params)
        words = [DRIVER_WORDS.get(name, name) for name in output.risk_vectors]
        return output.model_copy(update={"risk_vectors": list(dict.fromkeys(words))})

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """B2B leads whose odds rise with engagement (visits, time on site, email clicks), a demo request,
        recent activity, a referral or webinar source, a mid-sized company (51-1000 employees) and a
        senior job title (a column the recipe doesn't read: context), and fall with cold outbound
        leads and tiny companies (:func:`planted_logit`). About 3% of values are missing."""
        rng = np.random.default_rng(seed)
        interest = rng.normal(0.0, 1.0, n_rows)
        visits = rng.poisson(np.exp(0.9 + 0.5 * interest))
        opens = rng.poisson(np.exp(1.0 + 0.3 * interest))
        demo = rng.random(n_rows) < 1.0 / (1.0 + np.exp(2.5 - 0.8 * interest))
        rows: dict[str, Any] = {
            "Lead ID": [f"L{seed % 1000:03d}-{i:06d}" for i in range(n_rows)],
            "Lead Source": rng.choice(list(SOURCE_LIFT), n_rows, p=[0.25, 0.2, 0.1, 0.1, 0.1, 0.25]),
            "Industry": rng.choice(["Software", "Finance", "Healthcare", "Retail", "Manufacturing", "Education"],
                                   n_rows),
            "Employees": np.maximum(rng.lognormal(4.5, 1.6, n_rows).round(0), 1),
            "Total Visits": visits, "Page Views": visits + rng.poisson(2.0 * visits),
            "Time on Site": (visits * rng.gamma(2.0, 60.0 * np.exp(0.3 * interest))).round(0),
            "Email Opens": opens, "Email Clicks": rng.binomial(opens, 1.0 / (1.0 + np.exp(1.5 - 0.6 * interest))),
            "Demo Requested": np.where(demo, "Yes", "No"),
            "Days Since Last Activity": rng.exponential(np.exp(2.5 - 0.4 * interest)).round(0),
            "Job Title": rng.choice(list(TITLE_LIFT), n_rows, p=[0.08, 0.12, 0.2, 0.3, 0.25, 0.05]),
            "Country": rng.choice(["US", "UK", "DE", "FR", "IN", "BR"], n_rows),
        }  # fmt: skip
        frame = pd.DataFrame(rows)
        frame["Converted"] = rng.random(n_rows) < 1.0 / (1.0 + np.exp(-planted_logit(frame)))
        holes = rng.random((n_rows, 3)) < 0.03
        frame.loc[holes[:, 0], "Employees"] = math.nan
        frame.loc[holes[:, 1], "Industry"] = None
        frame.loc[holes[:, 2], "Days Since Last Activity"] = math.nan
        return frame


SOURCE_LIFT = {"Organic Search": 0.0, "Paid Search": -0.2, "Referral": 1.0, "Webinar": 0.6, "Trade Show": 0.3,
               "Cold Outbound": -0.8}  # fmt: skip
TITLE_LIFT = {"C-level": 0.8, "VP": 0.6, "Director": 0.3, "Manager": 0.0, "Individual Contributor": -0.3,
              "Student": -1.0}  # fmt: skip


def planted_logit(frame: pd.DataFrame) -> np.ndarray:
    """The log-odds :meth:`LeadScoring.sample` draws ``Converted`` from, read from its columns (NaN where
    a value it reads was blanked): the ceiling a model of the sample can reach."""
    employees = frame["Employees"].to_numpy(dtype=float)
    logit = (-3.3 + 0.5 * np.log1p(frame["Total Visits"]) + 0.3 * np.log1p(frame["Time on Site"] / 60)
            + 0.6 * np.log1p(frame["Email Clicks"]) + 1.6 * (frame["Demo Requested"] == "Yes")
            - 0.6 * np.log1p(frame["Days Since Last Activity"]) + frame["Lead Source"].map(SOURCE_LIFT)
            + frame["Job Title"].map(TITLE_LIFT) + 0.7 * ((employees > 50) & (employees <= 1000))
            - 0.5 * (employees <= 10) + np.where(np.isnan(employees), np.nan, 0.0))  # fmt: skip
    return np.asarray(logit, dtype=np.float64)
