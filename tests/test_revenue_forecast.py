"""revenue_forecast: output contract, accuracy against seasonal-naive, seasonality and trend detection,
granularity, series isolation, determinism and pickling.

The verbs are driven directly with canonical records (``date`` in float epoch seconds), the way a
deployment drives them: featurize -> predict_one -> postprocess, then learn_one on the captured
features with the row's revenue. Nothing here depends on the input layer or the runtime.
"""

from __future__ import annotations

import doctest
import math
import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.blueprints.base import OnlineModel
from tracer.blueprints.engines import (
    forecast_candidates,
    forecast_errors,
    seasonal_forecaster,
    series_statistics,
)
from tracer.blueprints.engines.forecast_candidates import Smoother
from tracer.blueprints.engines.seasonal_forecaster import SeasonalForecaster
from tracer.blueprints.engines.series_statistics import granularity_of
from tracer.blueprints.errors import ParameterError
from tracer.blueprints.recipes import revenue_forecast
from tracer.blueprints.recipes.revenue_forecast import (
    SAMPLE_WEEKLY_PATTERN,
    RevenueForecast,
    RevenueForecastOutput,
)

BP = RevenueForecast()
DAY = 86_400.0
START = 1_672_617_600.0  # 2023-01-02, a Monday


def record(
    day: float, revenue: float, *, customers: float | None = None, series: str | None = None
) -> dict[str, Any]:
    """A canonical record; optional inputs default to None as the input layer leaves them."""
    return {"date": START + day * DAY, "revenue": revenue, "customer_count": customers, "series_id": series}


def canonical(frame: pd.DataFrame, *, customers: bool = True) -> list[dict[str, Any]]:
    """The sample in the blueprint's input names: order_date -> date (epoch s), sales -> revenue..."""
    seconds = (pd.to_datetime(frame["order_date"], utc=True) - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(
        seconds=1
    )
    return [
        {"date": float(ts), "revenue": float(sales), "customer_count": float(count) if customers else None}
        | {"series_id": None}
        for ts, sales, count in zip(seconds, frame["sales"], frame["active_customers"], strict=True)
    ]


def drive(
    records: list[dict[str, Any]], params: dict[str, Any] | None = None
) -> tuple[list[float], list[RevenueForecastOutput], OnlineModel]:
    """Score every record, then learn it (inline labels): one-step forecasts, outputs and the model."""
    resolved = BP.resolve_params(params)
    BP.new_state(resolved)  # stateless: all history lives in the model
    model = BP.make_model(resolved, seed=0)
    scores, outputs = [], []
    for row in records:
        features = BP.featurize(row, None, resolved)
        score = model.predict_one(features)
        outputs.append(BP.postprocess(score, features, model, resolved))
        scores.append(score)
        label = BP.label_of(row, resolved)
        assert label is not None
        model.learn_one(features, label)
    return scores, outputs, model


def mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean(np.abs(actual - forecast) / np.abs(actual)))


def test_doctests() -> None:
    for module in (
        revenue_forecast,
        seasonal_forecaster,
        series_statistics,
        forecast_candidates,
        forecast_errors,
    ):
        assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


def test_output_fields_and_types_are_the_seeds() -> None:
    assert list(RevenueForecastOutput.model_fields) == [
        "forecast_30d",
        "forecast_90d",
        "confidence_interval",
        "trend_analysis",
        "seasonality_flag",
    ]
    _, outputs, _ = drive(canonical(BP.sample(120, seed=1)))
    for output in outputs:
        dumped = output.model_dump(mode="json")
        assert type(dumped["forecast_30d"]) is float and type(dumped["forecast_90d"]) is float
        low, high = dumped["confidence_interval"]
        assert type(low) is float and type(high) is float and low <= dumped["forecast_30d"] <= high
        assert dumped["trend_analysis"] in {"growth_detected", "decline_detected", "stable"}
        assert type(dumped["seasonality_flag"]) is bool
        assert all(math.isfinite(v) for v in (dumped["forecast_30d"], dumped["forecast_90d"], low, high))


def test_first_rows_give_finite_fallbacks() -> None:
    _, outputs, _ = drive([record(0, 500.0), record(1, 520.0), record(2, 510.0)])
    assert outputs[0].forecast_30d == 0.0 and outputs[0].confidence_interval == (0.0, 0.0)
    assert outputs[1].forecast_30d == pytest.approx(30 * 500.0)  # last value, 30 daily periods
    assert outputs[2].forecast_90d == pytest.approx(90 * 520.0)


def test_one_step_mape_beats_seasonal_naive_by_ten_percent() -> None:
    records = canonical(BP.sample(730, seed=3))
    scores, _, _ = drive(records)
    revenue = np.array([r["revenue"] for r in records])
    start = 28  # both forecasters scored from the fifth week on
    ours = mape(revenue[start:], np.array(scores)[start:])
    seasonal_naive = mape(revenue[start:], revenue[start - 7 : -7])
    assert ours <= 0.9 * seasonal_naive, (ours, seasonal_naive)


def test_customer_count_improves_the_forecast() -> None:
    frame = BP.sample(730, seed=3)
    revenue = frame["sales"].to_numpy()[28:]
    with_count = mape(revenue, np.array(drive(canonical(frame))[0])[28:])
    without = mape(revenue, np.array(drive(canonical(frame, customers=False))[0])[28:])
    assert with_count < without


def test_forecast_totals_track_realised_totals() -> None:
    records = canonical(BP.sample(400, seed=2))
    _, outputs, _ = drive(records)
    revenue = np.array([r["revenue"] for r in records])
    errors = [abs(outputs[t].forecast_30d / revenue[t + 1 : t + 31].sum() - 1) for t in range(60, 360)]
    covered = [
        outputs[t].confidence_interval[0]
        <= revenue[t + 1 : t + 31].sum()
        <= outputs[t].confidence_interval[1]
        for t in range(60, 360)
    ]
    assert np.mean(errors) < 0.05
    assert np.mean(covered) >= 0.8  # confidenceLevel 0.9 by default
    assert outputs[-1].forecast_90d == pytest.approx(3 * outputs[-1].forecast_30d, rel=0.1)


def test_wider_confidence_level_gives_a_wider_interval() -> None:
    records = canonical(BP.sample(120, seed=4))
    widths = []
    for level in (0.8, 0.9, 0.95):
        interval = drive(records, {"confidenceLevel": level})[1][-1].confidence_interval
        widths.append(interval[1] - interval[0])
    assert widths[0] < widths[1] < widths[2]


def test_seasonality_flag_on_the_weekly_sample_off_on_white_noise() -> None:
    _, weekly, model = drive(canonical(BP.sample(120, seed=5)))
    assert all(output.seasonality_flag for output in weekly[40:])
    assert isinstance(model, SeasonalForecaster) and model.series["all"].season_m == 7
    ensemble = model.series["all"].ensemble
    assert ensemble is not None
    smoothers = [c for c in ensemble.candidates if isinstance(c, Smoother) and c.cycle == 7]
    assert smoothers
    for smoother in smoothers:  # season positions are days since the epoch mod 7; day 0 was a Thursday
        by_weekday = {(position + 3) % 7: float(effect) for position, effect in enumerate(smoother.season)}
        assert max(by_weekday, key=by_weekday.__getitem__) == int(np.argmax(SAMPLE_WEEKLY_PATTERN))
    noise = np.random.default_rng(0).normal(1000.0, 100.0, 365)
    _, flat, model = drive([record(day, float(y)) for day, y in enumerate(noise)])
    assert not any(output.seasonality_flag for output in flat)
    assert isinstance(model, SeasonalForecaster) and model.series["all"].season_m == 0


def test_trend_analysis() -> None:
    rng = np.random.default_rng(1)
    days = np.arange(200)
    series = {
        "growth_detected": 1000.0 * (1 + 0.002 * days),
        "decline_detected": 1000.0 * (1 - 0.002 * days),
        "stable": np.full(200, 1000.0),
    }
    for expected, level in series.items():
        values = level * (1 + 0.05 * rng.standard_normal(200))
        _, outputs, _ = drive([record(day, float(y)) for day, y in enumerate(values)])
        assert [o.trend_analysis for o in outputs[100:]] == [expected] * 100, expected
    _, sample_outputs, _ = drive(canonical(BP.sample(365, seed=0)))  # +9% per 90 days, planted
    assert sample_outputs[-1].trend_analysis == "growth_detected"


@pytest.mark.parametrize(("spacing_days", "periods_in_30d"), [(7.0, 30 / 7), (30.4375, 1.0), (1 / 24, 720.0)])
def test_horizons_follow_the_detected_granularity(spacing_days: float, periods_in_30d: float) -> None:
    rows = [record(i * spacing_days, 100.0) for i in range(60)]
    _, outputs, _ = drive(rows)
    assert outputs[-1].forecast_30d == pytest.approx(100.0 * periods_in_30d, rel=1e-6)
    assert outputs[-1].forecast_90d == pytest.approx(300.0 * periods_in_30d, rel=1e-6)


def test_granularity_snapping() -> None:
    assert [granularity_of(d).name for d in (1 / 24, 1, 7, 28, 31, 91, 3)] == [
        "hourly",
        "daily",
        "weekly",
        "monthly",
        "monthly",
        "quarterly",
        "irregular",
    ]


def test_monthly_data_finds_a_yearly_season() -> None:
    months = np.arange(60)
    values = 1000 * (1 + 0.3 * np.sin(2 * np.pi * months / 12)) + np.random.default_rng(2).normal(0, 20, 60)
    _, outputs, model = drive([record(m * 30.4375, float(v)) for m, v in zip(months, values, strict=True)])
    assert outputs[-1].seasonality_flag
    assert isinstance(model, SeasonalForecaster) and model.series["all"].season_m == 12


def test_series_are_independent() -> None:
    a = canonical(BP.sample(90, seed=6))
    b = [{**r, "revenue": r["revenue"] * 3.0} for r in canonical(BP.sample(90, seed=7))]
    mixed = [row for pair in zip(a, b, strict=True) for row in pair]
    mixed = [{**row, "series_id": "north" if i % 2 == 0 else "south"} for i, row in enumerate(mixed)]
    _, together, _ = drive(mixed)
    _, alone_a, _ = drive(a)
    _, alone_b, _ = drive(b)
    assert together[0::2] == alone_a and together[1::2] == alone_b
    assert BP.prediction_key(mixed[1]) == f"south@{int(mixed[1]['date'] * 1000)}"
    assert BP.prediction_key(a[0]) == f"all@{int(a[0]['date'] * 1000)}"


def test_gaps_duplicates_and_late_rows() -> None:
    records = canonical(BP.sample(200, seed=8))
    with_gaps = [r for i, r in enumerate(records) if i % 17 != 5]  # missing days
    scores, _, _ = drive(with_gaps)
    revenue = np.array([r["revenue"] for r in with_gaps])
    assert mape(revenue[40:], np.array(scores)[40:]) < 0.06  # the weekly phase survives the gaps
    _, _, model = drive(records[:100])
    before = model.predict_one(BP.featurize(records[100], None, BP.resolve_params()))
    for stale in (records[99], records[50]):  # a duplicate date and a late row are not learned
        model.learn_one(BP.featurize(stale, None, BP.resolve_params()), 1e9)
    assert model.predict_one(BP.featurize(records[100], None, BP.resolve_params())) == before


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-5.0, 400.0),  # date, in days (duplicates, late rows, gaps and sub-second steps)
            st.floats(-1e9, 1e9),  # revenue, refunds included
            st.none() | st.floats(0.0, 1e7),  # customer count
            st.sampled_from([None, "a", "b"]),
        ),
        max_size=80,
    )
)
def test_odd_streams_never_raise_and_stay_finite(
    rows: list[tuple[float, float, float | None, str | None]],
) -> None:
    records = [record(day, revenue, customers=count, series=series) for day, revenue, count, series in rows]
    scores, outputs, _ = drive(records)
    assert all(math.isfinite(score) for score in scores)
    for output in outputs:
        values = (output.forecast_30d, output.forecast_90d, *output.confidence_interval)
        assert all(math.isfinite(v) for v in values)


def test_seasonality_parameter() -> None:
    records = canonical(BP.sample(120, seed=9))
    _, outputs, model = drive(records, {"seasonality": "none"})
    assert isinstance(model, SeasonalForecaster) and model.series["all"].season_m == 0
    assert outputs[-1].seasonality_flag  # the flag reports the data, whatever the model fits
    _, _, model = drive(records[:20], {"seasonality": "weekly"})
    assert isinstance(model, SeasonalForecaster) and model.series["all"].season_m == 7  # before detection
    with pytest.raises(ParameterError):
        BP.resolve_params({"seasonality": "hourly"})
    with pytest.raises(ParameterError):
        BP.make_model({"seasonality": "hourly"}, seed=0)


def test_deterministic_and_pickles_mid_stream() -> None:
    records = canonical(BP.sample(150, seed=10))
    assert drive(records)[1] == drive(records)[1]
    params = BP.resolve_params()
    model = BP.make_model(params, seed=0)
    for row in records[:100]:
        model.learn_one(BP.featurize(row, None, params), row["revenue"])
    clone = pickle.loads(pickle.dumps(model))
    for row in records[100:]:
        features = BP.featurize(row, None, params)
        assert clone.predict_one(features) == model.predict_one(features)
        assert BP.postprocess(0.0, features, clone, params) == BP.postprocess(0.0, features, model, params)
        model.learn_one(features, row["revenue"])
        clone.learn_one(features, row["revenue"])


def test_learn_does_not_mutate_features_and_order_does_not_matter() -> None:
    params = BP.resolve_params()
    forward, backward = BP.make_model(params, seed=0), BP.make_model(params, seed=0)
    for day in range(40):
        features = BP.featurize(record(day, 100.0 + day % 7, customers=50.0 + day), None, params)
        snapshot = dict(features)
        forward.learn_one(features, 100.0 + day % 7)
        backward.learn_one(dict(reversed(list(features.items()))), 100.0 + day % 7)
        assert features == snapshot
    probe = BP.featurize(record(40, 0.0, customers=90.0), None, params)
    assert forward.predict_one(probe) == backward.predict_one(probe)


def test_sample_is_seeded_and_in_users_column_names() -> None:
    frame = BP.sample(50, seed=11)
    assert list(frame.columns) == ["order_date", "sales", "active_customers"]
    assert frame.equals(BP.sample(50, seed=11)) and not frame.equals(BP.sample(50, seed=12))
    assert frame["order_date"].iloc[0] == "2023-01-02" and len(frame) == 50


def test_declarations() -> None:
    assert (BP.id, BP.category, BP.task, BP.entity_input, BP.time_input) == (
        "revenue_forecast",
        "business_operations",
        "forecast",
        "series_id",
        "date",
    )
    assert [i.name for i in BP.required_inputs] == ["revenue"]  # without dates each row is the next day
    assert [i.name for i in BP.optional_inputs] == ["date", "customer_count", "series_id"]
    assert BP.output.headline == "forecast_30d"
    assert set(revenue_forecast.__all__) == {
        "SAMPLE_WEEKLY_PATTERN",
        "RevenueForecast",
        "RevenueForecastOutput",
    }


def business_hours(weeks: int, seed: int) -> list[dict[str, Any]]:
    """5-minute call counts 07:00-21:55 on weekdays only (180 slots a day, 900 a week): a daily hump,
    quieter Fridays, Poisson noise. No rows at night or on weekends."""
    rng = np.random.default_rng(seed)
    rows = []
    for day in range(7 * weeks):
        if day % 7 >= 5:  # START is a Monday
            continue
        for slot in range(180):
            hump = 60.0 + 140.0 * math.sin(math.pi * slot / 180.0)
            mean = hump * (0.8 if day % 7 == 4 else 1.0)
            rows.append(record(day + (7 * 3600 + 300 * slot) / DAY, float(rng.poisson(mean))))
    return rows


def test_intraday_profile_with_closed_hours_beats_naive_and_sums_open_hours_only() -> None:
    records = business_hours(weeks=6, seed=12)
    scores, outputs, model = drive(records)
    values = np.array([r["revenue"] for r in records])
    start = 900  # after the first week
    ours = mape(values[start:], np.array(scores)[start:])
    naive = mape(values[start:], values[start - 1 : -1])
    assert ours <= 0.9 * naive, (ours, naive)
    assert isinstance(model, SeasonalForecaster)
    series = model.series["all"]
    assert series.clock is not None and series.clock.intraday and series.clock.cycles == (2016, 288)
    assert series.open_slots is not None and int(series.open_slots.sum()) == 900
    # a weekday's open hours hold ~ 180 x 60 + 140 x 180 x 2/pi calls; the 30 days after the last row (a
    # Friday evening) hold 16 such weekdays and 4 Fridays at 80%, and 10 weekend days with no rows
    day_total = 180 * 60.0 + 140.0 * 180 * 2 / math.pi
    assert outputs[-1].forecast_30d == pytest.approx((16 + 4 * 0.8) * day_total, rel=0.05)
    # 90 days: 12 weeks and Saturday..Thursday, 64 weekdays of which 12 Fridays
    assert outputs[-1].forecast_90d == pytest.approx((52 + 12 * 0.8) * day_total, rel=0.05)


@pytest.mark.parametrize("multiplicative", [False, True])
@pytest.mark.parametrize(("cycle", "phi"), [(0, 0.9), (7, 0.98), (12, 1.0)])
def test_closed_form_totals_equal_the_step_by_step_sum(multiplicative: bool, cycle: int, phi: float) -> None:
    rng = np.random.default_rng(cycle)
    smoother = Smoother(alpha=0.3, beta=0.1, phi=phi, gamma=0.2, cycle=cycle, multiplicative=multiplicative)
    for t in range(40):
        smoother.learn(t, 100.0 + t + 10.0 * (t % 7) + float(rng.normal(0.0, 2.0)))
    for offset, steps in [(1, 5), (1, 30), (3, 100), (2, 91)]:
        walked = sum(smoother.forecast(39 + offset + h, offset + h) for h in range(1, steps + 1))
        closed = smoother.total(39 + offset, offset, steps, np.ones(max(cycle, 1), dtype=np.bool_))
        assert closed == pytest.approx(walked, rel=1e-9)


def test_decimal_year_dates_are_months_and_quarters() -> None:
    model = SeasonalForecaster()
    for i in range(40):
        model.learn_one({"series_id": "m", "date_epoch_s": 1991.5 + i / 12}, 100.0 + 20.0 * (i % 12 == 11))
        model.learn_one({"series_id": "q", "date_epoch_s": 1956.0 + i / 4}, 200.0 + 50.0 * (i % 4 == 3))
    monthly, quarterly = model.series["m"].clock, model.series["q"].clock
    assert monthly is not None and (monthly.grain.name, monthly.cycles) == ("monthly", (12,))
    assert quarterly is not None and (quarterly.grain.name, quarterly.cycles) == ("quarterly", (4,))
    # 40 months from 1991 Jul end in 1994 Oct; the next peak month (i % 12 == 11) is 1995 Jun
    assert model.predict_one({"series_id": "m", "date_epoch_s": 1991.5 + 47 / 12}) == pytest.approx(
        120.0, rel=0.02
    )
    assert model.predict_one({"series_id": "q", "date_epoch_s": 1956.0 + 43 / 4}) == pytest.approx(
        250.0, rel=0.02
    )


def test_rows_without_dates_are_days_and_find_their_cycle() -> None:
    values = [100.0 + 30.0 * (i % 7 == 6) + 3.0 * math.sin(i) for i in range(200)]
    scores, outputs, _ = drive(
        [{"date": None, "revenue": v, "customer_count": None, "series_id": None} for v in values]
    )
    ours = mape(np.array(values[14:]), np.array(scores[14:]))
    assert ours < 0.5 * mape(np.array(values[14:]), np.array(values[13:-1]))  # naive misses the weekly peak
    assert outputs[-1].forecast_30d == pytest.approx(sum(values[-30:]), rel=0.05)


def test_state_and_value_columns_resolve_by_synonym() -> None:
    from tracer.blueprints.inputs import resolve_columns

    resolution = resolve_columns(
        RevenueForecast, ["rownames", "Date", "State", "Takings", "Occupancy", "CPI"]
    )
    assert (resolution.columns["series_id"], resolution.columns["revenue"]) == ("State", "Takings")
    assert resolve_columns(RevenueForecast, ["DateTime", "Calls"]).columns["revenue"] == "Calls"


def test_old_layout_series_restart_after_unpickling() -> None:
    model = SeasonalForecaster()
    for day in range(30):
        model.learn_one({"series_id": "new", "date_epoch_s": START + day * DAY}, 100.0)
    state = dict(model.__dict__)
    old = seasonal_forecaster._Series.__new__(seasonal_forecaster._Series)
    old.__setstate__([None] * 23)  # a River Holt-Winters checkpoint pickled its series as a field list
    state["series"] = {**model.series, "old": old}
    restored = SeasonalForecaster.__new__(SeasonalForecaster)
    restored.__setstate__(state)
    assert set(restored.series) == {"new"}
    assert restored.predict_one({"series_id": "new", "date_epoch_s": START + 30 * DAY}) == pytest.approx(
        100.0
    )


def test_a_subnormal_customer_count_does_not_poison_the_forecast() -> None:
    """Found by the property test above: a customer count of 1e-308 made the covariate's surprise
    infinite and every later forecast NaN."""
    rows = [(0.0, 0.0, None), (1.0, 1.0, 1.1125369292536007e-308), (2.0, 0.0, 2.0), (0.0, 0.0, 0.0)]
    scores, outputs, _ = drive(
        [record(day, revenue, customers=count, series="a") for day, revenue, count in rows]
    )
    assert all(math.isfinite(score) for score in scores) and len(outputs) == 4
