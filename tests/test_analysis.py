"""Dataset analysis: column kinds, time-series detection, blueprint suggestions, the CLI table, loading."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.seed_churn import SeedChurn
from tracer.blueprints import analysis, profiling, registry
from tracer.blueprints.analysis import (
    DatasetFormatError,
    Suggestion,
    analyze,
    is_time_series,
    load_dataset,
    profile_columns,
    render_table,
)
from tracer.blueprints.profiling import SAMPLE_ROWS, name_tokens, time_series_profile
from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.blueprints.recipes.price_movement import PriceMovement
from tracer.blueprints.recipes.revenue_forecast import RevenueForecast

RNG_SEED = 11


def kinds(frame: pd.DataFrame) -> dict[str, str]:
    return {p.name: p.kind for p in profile_columns(frame)}


# -- frames: the same kinds of data under different names --------------------------------------------


def telco(n: int = 300) -> pd.DataFrame:
    """IBM Telco churn's column names and value styles: no dates, tenure in months, Churn Yes/No."""
    rng = np.random.default_rng(RNG_SEED)
    return pd.DataFrame(
        {
            "customerID": [
                f"{rng.integers(1000, 9999)}-{''.join(rng.choice(list('ABCDEFGHIJ'), 5))}" for _ in range(n)
            ],
            "gender": rng.choice(["Female", "Male"], n),
            "SeniorCitizen": rng.integers(0, 2, n),
            "tenure": rng.integers(0, 72, n),
            "PhoneService": rng.choice(["Yes", "No"], n),
            "Contract": rng.choice(["Month-to-month", "One year", "Two year"], n),
            "MonthlyCharges": rng.uniform(18, 119, n).round(2),
            "TotalCharges": [
                " " if i % 60 == 0 else f"{v:.2f}" for i, v in enumerate(rng.uniform(18, 8000, n))
            ],
            "Churn": rng.choice(["Yes", "No"], n),
        }
    )


def churn_export(n: int = 300) -> pd.DataFrame:
    """A product database export: spaced names, epoch-ms logins, date strings, 0/1 label."""
    rng = np.random.default_rng(RNG_SEED)
    return pd.DataFrame(
        {
            "Cust ID": np.arange(1000, 1000 + n),
            "last_login": 1_700_000_000_000 + rng.integers(0, 10**9, n),
            "signup_date": pd.date_range("2021-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "total_spend": rng.uniform(0, 900, n).round(2),
            "tickets": rng.integers(0, 5, n),
            "churned": rng.integers(0, 2, n),
        }
    )


def daily_sales(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(RNG_SEED)
    days = pd.date_range("2023-01-01", periods=n, freq="D")
    return pd.DataFrame({"Date": days.strftime("%Y-%m-%d"), "Sales": (1000 + rng.normal(0, 50, n)).round(2)})


def store_orders(n_weeks: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(RNG_SEED)
    weeks = pd.date_range("2022-01-03", periods=n_weeks, freq="W-MON")
    return pd.DataFrame(
        {
            "order_date": np.repeat(weeks, 3),
            "store": np.tile(["north", "south", "east"], n_weeks),
            "amount": rng.uniform(5_000, 9_000, 3 * n_weeks).round(2),
        }
    )


def sku_sales(n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(RNG_SEED)
    price = rng.choice([9.99, 11.99, 12.49, 14.99], n)
    return pd.DataFrame(
        {
            "sku": rng.choice([f"SKU-{i:04d}" for i in range(40)], n),
            "price": price,
            "units": rng.poisson(200 / price),
            "date": pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M:%S"),
        }
    )


def market_csv(n: int = 900) -> pd.DataFrame:
    """Snapshots as a user's CSV names them, instead of seed 002's wire names."""
    wire = PriceMovement().sample(n, seed=RNG_SEED)
    return wire.rename(
        columns={"ts": "timestamp", "symbol": "ticker", "mid": "price", "spreadBp": "spread_bp",
                 "vol1m": "volume_1m", "rsi14": "rsi"}
    )  # fmt: skip


# -- column kinds ---------------------------------------------------------------------------------------


def test_column_kinds_on_a_hand_built_frame() -> None:
    n = 40
    rng = np.random.default_rng(RNG_SEED)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{i:03d}" for i in range(n)],
            "signup": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "last_seen": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%m/%d/%Y"),
            "event_ms": 1_696_723_200_000 + 1000 * np.arange(n),
            "created_at": 1_600_000_000 + 3600 * np.arange(n),
            "when": pd.date_range("2024-01-01", periods=n, freq="h", tz="Europe/Paris"),
            "amount": np.where(np.arange(n) % 7 == 0, np.nan, rng.uniform(0, 100, n)),
            "total": [" " if i == 3 else f"{1000 + 37.5 * i:,.2f}" for i in range(n)],
            "big_number": rng.integers(1_000_000_000, 4_000_000_000, n),
            "plan": rng.choice(["basic", "pro", "team"], n),
            "churned": rng.choice(["Yes", "No"], n),
            "is_active": rng.integers(0, 2, n),
            "comment": [f"the customer wrote a long note number {i} about billing" for i in range(n)],
            "nothing": [None] * n,
        }
    )
    assert kinds(frame) == {
        "user_id": "id",
        "signup": "timestamp",
        "last_seen": "timestamp",
        "event_ms": "timestamp",
        "created_at": "timestamp",
        "when": "timestamp",
        "amount": "numeric",
        "total": "numeric",
        "big_number": "numeric",  # in the epoch-seconds range, but nothing in its name says time
        "plan": "categorical",
        "churned": "boolean",
        "is_active": "boolean",
        "comment": "text",
        "nothing": "empty",
    }
    profiles = {p.name: p for p in profile_columns(frame)}
    assert profiles["last_seen"].time_format == "%m/%d/%Y"
    assert profiles["event_ms"].time_format == "epoch_ms" and profiles["created_at"].time_format == "epoch_s"
    assert profiles["churned"].target_like and profiles["is_active"].target_like
    assert not profiles["plan"].target_like
    assert profiles["amount"].missing_fraction == pytest.approx(6 / 40)
    assert profiles["total"].missing_fraction == pytest.approx(1 / 40)


def test_real_data_quirks() -> None:
    frame = telco()
    assert kinds(frame) == {
        "customerID": "id",
        "gender": "boolean",
        "SeniorCitizen": "boolean",
        "tenure": "numeric",
        "PhoneService": "boolean",
        "Contract": "categorical",
        "MonthlyCharges": "numeric",
        "TotalCharges": "numeric",  # strings, with blanks for new customers
        "Churn": "boolean",
    }
    mixed = pd.DataFrame({"mixed": [1, "a", 2.5, None] * 10, "row": np.arange(40), "price": ["$1,200"] * 40})
    assert kinds(mixed) == {"mixed": "categorical", "row": "id", "price": "numeric"}
    assert kinds(pd.DataFrame({"d": pd.Series(["a", "b"] * 20, dtype="category")})) == {"d": "boolean"}


values = st.one_of(
    st.none(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.booleans(),
    st.datetimes(),
    st.sampled_from(["", " ", "NA", "1,234.5", "$3", "2024-02-30", "01/02/2024", "Yes", "no"]),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(values, min_size=3, max_size=3), min_size=0, max_size=40))
def test_any_messy_frame_profiles_and_analyzes_without_error(rows: list[list[object]]) -> None:
    frame = pd.DataFrame(rows, columns=["ts", "price", "symbol"], dtype=object)
    profiles = profile_columns(frame)
    assert [p.name for p in profiles] == ["ts", "price", "symbol"]
    is_time_series(frame, profiles)
    [suggestion] = analyze(frame, [PriceMovement])
    assert 0.0 <= suggestion.compatibility < 0.5


def test_profiles_read_a_bounded_sample() -> None:
    big = pd.DataFrame({"id": np.arange(50_000), "x": np.random.default_rng(0).normal(size=50_000)})
    profiles = profile_columns(big)
    assert all(p.distinct_values <= SAMPLE_ROWS for p in profiles)
    assert [p.kind for p in profiles] == ["id", "numeric"]
    assert profiles == profile_columns(big)  # the sample is seeded


def test_name_tokens_normalise_case_camel_and_separators() -> None:
    assert (
        name_tokens("customerID")
        == name_tokens("Customer ID")
        == name_tokens("customer_id")
        == ("customer", "id")
    )
    assert name_tokens("MonthlyCharges") == ("monthly", "charges")
    assert "".join(name_tokens("spreadBp")) == "".join(name_tokens("spread_bp"))
    assert name_tokens("order_qty") == ("order", "quantity")
    assert doctest.testmod(profiling).failed == 0


# -- time series -------------------------------------------------------------------------------------------


def test_time_series_overall_per_entity_and_not_at_all() -> None:
    sales = daily_sales()
    assert is_time_series(sales, profile_columns(sales))
    series = time_series_profile(sales, profile_columns(sales))
    assert series is not None and series.median_spacing_seconds == 86_400 and series.entity_column is None

    rng = np.random.default_rng(RNG_SEED)  # five sensors every 60 s, each with its own phase, shuffled
    phases = rng.uniform(0, 60, 5)
    rows = [(f"s{k}", 1_700_000_000 + phases[k] + 60 * i, rng.normal()) for k in range(5) for i in range(100)]
    sensors = pd.DataFrame(rows, columns=["sensor", "ts", "reading"]).sample(frac=1, random_state=1)
    series = time_series_profile(sensors, profile_columns(sensors))
    assert series is not None and series.regular and series.entity_column == "sensor"
    assert series.median_spacing_seconds == pytest.approx(60)

    events = pd.DataFrame({"created_at": 1_700_000_000 + np.cumsum(rng.exponential(300, 500)), "amount": 1.0})
    events["amount"] = rng.uniform(1, 50, 500)
    assert not is_time_series(events, profile_columns(events))
    no_time = telco()
    assert not is_time_series(no_time, profile_columns(no_time))


# -- suggestions against the registry ---------------------------------------------------------------------


DEMAND_FAMILY = ("product_demand", "price_optimization", "price_elasticity")
"""Units sold by product and date: the question is the user's (how many next week, or at what price)."""


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        pytest.param(telco(), "customer_churn", id="telco"),
        pytest.param(churn_export(), "customer_churn", id="churn_export"),
        pytest.param(daily_sales(), "revenue_forecast", id="daily_sales"),
        pytest.param(store_orders(), "revenue_forecast", id="store_orders"),
        pytest.param(sku_sales(), "price_optimization", id="sku_sales"),
        pytest.param(sku_sales().drop(columns="price"), "product_demand", id="sku_units"),
        pytest.param(PriceMovement().sample(900, seed=RNG_SEED), "price_movement", id="wire_snapshots"),
        pytest.param(market_csv(), "price_movement", id="csv_snapshots"),
    ],
)
def test_the_right_blueprint_ranks_first(frame: pd.DataFrame, expected: str) -> None:
    registered = registry.ids()
    needed = {"customer_churn", "revenue_forecast", "price_optimization", "price_movement"}
    assert needed <= set(registered), f"not registered yet: {sorted(needed - set(registered))}"
    suggestions = analyze({"data.csv": frame})
    if expected in DEMAND_FAMILY:  # units by product and date fit a forecast, and with a price, pricing too
        assert suggestions[0].blueprint in DEMAND_FAMILY, render_table(suggestions)
        assert expected in [s.blueprint for s in suggestions[:3]], render_table(suggestions)
    else:
        assert suggestions[0].blueprint == expected, render_table(suggestions)
    assert len(suggestions) == len(registered)
    assert suggestions == sorted(suggestions, key=lambda s: -s.compatibility)
    assert suggestions[0].compatibility >= 0.7 and not suggestions[0].missing


def test_a_complete_match_maps_every_column_and_says_so() -> None:
    [suggestion] = analyze({"customers.csv": churn_export()}, [CustomerChurn])
    assert suggestion.column_mapping == {
        "customer_id": "Cust ID",
        "last_activity_date": "last_login",
        "account_created_date": "signup_date",
        "total_value": "total_spend",
        "support_tickets": "tickets",
        "churned": "churned",
    }
    assert suggestion.label_column == "churned" and suggestion.missing == []
    assert suggestion.compatibility >= 0.8
    assert suggestion.reason.startswith(
        "Found a churned label (churned); optional customer id (Cust ID), last activity date (last_login)"
    )


def test_missing_required_inputs_keep_the_score_low_and_are_named() -> None:
    [suggestion] = analyze(daily_sales(), [PriceMovement])
    assert suggestion.compatibility < 0.5
    assert suggestion.missing == ["symbol", "mid", "spreadBp", "vol1m", "rsi14"]
    assert "Missing: symbol, mid, spread bp, vol1m and rsi14." in suggestion.reason

    [churn] = analyze(telco(), [CustomerChurn])  # churn needs only its outcome and columns to learn from
    assert churn.missing == [] and churn.compatibility >= 0.8 and churn.label_column == "Churn"
    [seed_churn] = analyze(telco(), [SeedChurn])  # as the seed wrote it, it needs activity dates
    assert seed_churn.missing == ["last_activity_date"] and seed_churn.compatibility < 0.5
    assert "tenure stands in for account created date" in seed_churn.reason

    unlabelled = telco().drop(columns=["Churn"])
    [no_outcome] = analyze(unlabelled, [CustomerChurn])  # nothing to learn from: low, and says why
    assert no_outcome.missing == ["churned"] and no_outcome.compatibility < 0.5


def test_stand_ins_are_mapped_under_their_own_name() -> None:
    frame = PriceMovement().sample(300, seed=1)
    frame["spread"] = frame["spreadBp"] * frame["mid"] / 1e4  # price units, not basis points
    [suggestion] = analyze(frame.drop(columns="spreadBp"), [PriceMovement])
    assert suggestion.column_mapping["spread"] == "spread" and "spreadBp" not in suggestion.column_mapping
    assert "spread stands in for spread bp" in suggestion.reason
    assert suggestion.compatibility >= 0.7


def test_a_column_of_the_wrong_kind_counts_less() -> None:
    right = PriceMovement().sample(300, seed=1)
    wrong = right.assign(rsi14=np.where(right["rsi14"] > 50, "overbought", "oversold"))
    [good], [bad] = analyze(right, [PriceMovement]), analyze(wrong, [PriceMovement])
    assert bad.compatibility < good.compatibility
    assert "rsi14 (rsi14, but it looks boolean)" in bad.reason


def test_a_generic_target_column_serves_as_the_label() -> None:
    frame = churn_export().rename(columns={"churned": "target"})
    [suggestion] = analyze(frame, [CustomerChurn])
    assert suggestion.label_column == "target" and suggestion.column_mapping["churned"] == "target"


def test_several_datasets_each_suggestion_names_its_own() -> None:
    datasets = {"sales.csv": daily_sales(), "ticks.jsonl": PriceMovement().sample(300, seed=2)}
    suggestions = analyze(datasets, [PriceMovement, RevenueForecast])
    by_id = {s.blueprint: s for s in suggestions}
    assert by_id["price_movement"].dataset == "ticks.jsonl"
    assert by_id["revenue_forecast"].dataset == "sales.csv"
    assert by_id["revenue_forecast"].column_mapping == {"date": "Date", "revenue": "Sales"}
    assert by_id["revenue_forecast"].reason.startswith("Found revenue (Sales); optional date (Date)")
    unnamed = analyze([daily_sales(), PriceMovement().sample(300, seed=2)], [PriceMovement])
    assert unnamed[0].dataset == "dataset_1"


def test_suggestions_are_api_ready() -> None:
    [suggestion] = analyze(PriceMovement().sample(300, seed=2), [PriceMovement])
    again = Suggestion.model_validate_json(suggestion.model_dump_json())
    assert again == suggestion
    assert round(suggestion.compatibility, 2) == suggestion.compatibility
    assert "the label comes from the data itself" in suggestion.reason


# -- the CLI's side ------------------------------------------------------------------------------------------


def test_render_table_is_fixed_width_and_wraps_reasons() -> None:
    doctests = doctest.testmod(analysis)
    assert doctests.attempted > 0 and doctests.failed == 0
    suggestions = analyze(daily_sales(), [PriceMovement, RevenueForecast])
    table = render_table(suggestions, reason_width=40)
    lines = table.splitlines()
    assert lines[0].split() == ["#", "blueprint", "compatibility", "reason"]
    assert lines[2].split()[:3] == ["1", "revenue_forecast", f"{suggestions[0].compatibility:.2f}"]
    reason_column = lines[0].index("reason")
    assert all(len(line) <= reason_column + 40 for line in lines[2:])
    assert any(line[:reason_column].strip() == "" for line in lines[2:])  # continuation lines
    assert render_table([]) == "No blueprints are registered."


def test_load_dataset_reads_csv_parquet_and_jsonl(tmp_path: Path) -> None:
    frame = PriceMovement().sample(50, seed=3)
    frame.to_csv(tmp_path / "ticks.csv", index=False)
    frame.to_csv(tmp_path / "ticks.csv.gz", index=False)
    frame.to_parquet(tmp_path / "ticks.parquet")
    frame.to_json(tmp_path / "ticks.jsonl", orient="records", lines=True)
    for name in ("ticks.csv", "ticks.csv.gz", "ticks.parquet", "ticks.jsonl"):
        loaded = load_dataset(tmp_path / name)
        assert list(loaded.columns) == list(frame.columns), name
        assert loaded["ts"].tolist() == frame["ts"].tolist(), name  # epoch ms stays a number
    (tmp_path / "ticks.xlsx").write_bytes(b"")
    with pytest.raises(DatasetFormatError, match=r"ticks\.xlsx: can't read '\.xlsx'; use \.csv, \.tsv"):
        load_dataset(tmp_path / "ticks.xlsx")


def test_a_required_number_no_name_finds_takes_the_only_numeric_column() -> None:
    frame = pd.DataFrame({"Month": [f"{2000 + i // 12} {m}" for i, m in enumerate(["Jan", "Feb", "Mar"] * 12)],
                          "Visitors": np.random.default_rng(1).uniform(100, 200, 36).round(1)})  # fmt: skip
    [suggestion] = analyze(frame, [RevenueForecast])
    assert suggestion.column_mapping["revenue"] == "Visitors" and not suggestion.missing
    assert "revenue (Visitors, the only numeric column)" in suggestion.reason
    two = frame.assign(Rooms=np.random.default_rng(2).uniform(10, 20, 36).round(1))
    [ambiguous] = analyze(two, [RevenueForecast])
    assert ambiguous.missing == ["revenue"]  # two numbers: no guess
