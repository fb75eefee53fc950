"""Column resolution and value coercion: errors a person can act on, values a model can use."""

from __future__ import annotations

import doctest
import math
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tracer.blueprints.inputs as inputs_module
from tests.seed_churn import SeedChurn as CustomerChurn
from tracer.blueprints.errors import InputError, InvalidValueError, MissingInputsError
from tracer.blueprints.inputs import (
    canonical_frame,
    canonical_record,
    coerce_value,
    normalize_name,
    resolve_columns,
)
from tracer.schemas import ReasonCode

BASE = {"customer": "c1", "last_login": "2024-03-01", "signup_date": "2023-03-01", "total_spend": 100}
DAY = 86_400.0
T_2024_03_01 = datetime(2024, 3, 1, tzinfo=UTC).timestamp()


def record(**changes: Any) -> dict[str, Any]:
    row = {**BASE, **changes}
    return canonical_record(resolve_columns(CustomerChurn, row), row, row=3)


def test_doctests() -> None:
    assert doctest.testmod(inputs_module).failed == 0


# -- resolution ------------------------------------------------------------------------------------


def test_exact_names_and_synonyms_resolve() -> None:
    columns = ["customer_id", "last_login", "created_at", "ltv", "plan", "snapshot_date", "churn"]
    resolution = resolve_columns(CustomerChurn, columns)
    assert resolution.columns == {
        "customer_id": "customer_id",
        "last_activity_date": "last_login",
        "account_created_date": "created_at",
        "total_value": "ltv",
        "support_tickets": None,
        "feature_usage_count": None,
        "plan_type": "plan",
        "as_of_time": "snapshot_date",
        "churned": "churn",
    }
    assert resolution.missing_optional == ("support_tickets", "feature_usage_count")


@pytest.mark.parametrize(
    ("column", "name"),
    [("Last Login", "last_login"), ("LAST-LOGIN", "last_login"), ("lastLogin", "last_login"),
     ("last_login ", "last_login"), ("Last.Login.Date", "last_login_date")],
)  # fmt: skip
def test_names_match_ignoring_case_spaces_and_underscores(column: str, name: str) -> None:
    assert normalize_name(column) == normalize_name(name)
    resolution = resolve_columns(CustomerChurn, ["CustomerID", column, "Signup Date", "Total Spend"])
    assert resolution.columns["last_activity_date"] == column
    assert resolution.columns["customer_id"] == "CustomerID"
    assert resolution.columns["account_created_date"] == "Signup Date"


def test_exact_match_beats_loose_match_and_a_column_feeds_one_input() -> None:
    resolution = resolve_columns(
        CustomerChurn, ["customer", "Last Login", "last_login", "signup_date", "revenue", "total_spend"]
    )
    assert resolution.columns["last_activity_date"] == "last_login"
    assert resolution.columns["total_value"] == "total_spend"
    assert "Last Login" in resolution.unused_columns and "revenue" in resolution.unused_columns


def test_column_mapping_wins_and_unknown_names_are_refused() -> None:
    mapping = {"last_activity_date": "seen", "total_value": "last_login"}
    resolution = resolve_columns(CustomerChurn, [*BASE, "seen"], mapping)
    assert resolution.columns["last_activity_date"] == "seen"
    assert resolution.columns["total_value"] == "last_login"
    with pytest.raises(
        InputError, match=r"unknown input\(s\) lastlogin; the inputs are: .*last_activity_date"
    ):
        resolve_columns(CustomerChurn, BASE, {"lastlogin": "seen"})


def test_missing_inputs_name_each_input_and_every_name_looked_for() -> None:
    with pytest.raises(MissingInputsError) as caught:
        resolve_columns(CustomerChurn, ["customer", "spend_total"])
    error = caught.value
    assert error.reason == ReasonCode.MISSING_FIELD
    assert set(error.missing) == {"last_activity_date", "account_created_date", "total_value"}
    message = str(error)
    for name in ("last_activity_date", "last_login", "last_seen", "account_created_date", "signup_date",
                 "tenure_days", "tenure", "tenure_months", "total_value", "total_spend", "ltv"):  # fmt: skip
        assert name in message
    assert "column_mapping" in message
    assert "customer_id" not in error.missing


def test_a_mapped_column_that_is_absent_is_named() -> None:
    with pytest.raises(
        MissingInputsError, match=r"last_activity_date \(looked for: seen \(from column_mapping\)"
    ):
        resolve_columns(CustomerChurn, BASE, {"last_activity_date": "seen"})


# -- stand-ins -------------------------------------------------------------------------------------


def test_tenure_days_stands_in_for_the_account_creation_date() -> None:
    row = {
        "customer": "c1",
        "last_login": "2024-03-01",
        "tenure": 90,
        "total_spend": 10,
        "as_of": "2024-03-11",
    }
    resolution = resolve_columns(CustomerChurn, row)
    assert resolution.stand_ins == {"account_created_date": ("tenure_days", "tenure")}
    canonical = canonical_record(resolution, row)
    assert canonical["account_created_date"] == T_2024_03_01 + 10 * DAY - 90 * DAY
    # without an as-of time the last activity is "now"
    del row["as_of"]
    canonical = canonical_record(resolve_columns(CustomerChurn, row), row)
    assert canonical["account_created_date"] == T_2024_03_01 - 90 * DAY


def test_tenure_months_stand_in_and_a_real_column_beats_any_stand_in() -> None:
    row = {"customer": "c1", "last_login": "2024-03-01", "months_active": 2, "total_spend": 10}
    assert canonical_record(resolve_columns(CustomerChurn, row), row)[
        "account_created_date"
    ] == pytest.approx(T_2024_03_01 - 60.875 * DAY)
    both = {**row, "signup_date": "2024-01-01"}
    resolution = resolve_columns(CustomerChurn, both)
    assert resolution.stand_ins == {}
    assert "months_active" in resolution.unused_columns


def test_an_empty_stand_in_for_a_required_input_is_a_missing_field() -> None:
    row = {"customer": "c1", "last_login": "2024-03-01", "tenure": None, "total_spend": 10}
    with pytest.raises(InvalidValueError) as caught:
        canonical_record(resolve_columns(CustomerChurn, row), row, row=9)
    assert caught.value.reason == ReasonCode.MISSING_FIELD
    assert "'tenure', row 9" in str(caught.value)
    with pytest.raises(InvalidValueError, match=r"'tenure'.*'ninety'"):
        canonical_record(resolve_columns(CustomerChurn, row), {**row, "tenure": "ninety"})


# -- coercion --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [1709251200, 1709251200.0, 1709251200000, 1709251200000000, 1709251200000000000, "1709251200",
     "1709251200000", "2024-03-01", "2024-03-01T00:00:00Z", "2024-03-01T01:00:00+01:00", "2024-03-01 00:00:00",
     " 2024-03-01 ", "20240301", "03/01/2024", pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-01", tz="UTC"),
     pd.Timestamp("2024-02-29 19:00", tz="US/Eastern"), datetime(2024, 3, 1), datetime(2024, 3, 1, tzinfo=UTC),
     datetime(2024, 3, 1, 2, tzinfo=timezone(timedelta(hours=2))), date(2024, 3, 1),
     np.datetime64("2024-03-01T00:00:00"), np.int64(1709251200000), np.float64(1709251200.0)],
)  # fmt: skip
def test_timestamps_in_every_usual_form_become_epoch_seconds(value: object) -> None:
    assert record(last_login=value)["last_activity_date"] == T_2024_03_01


@pytest.mark.parametrize(("value", "expected"), [(1, 1.0), (2.5, 2.5), ("3", 3.0), (" 1e3 ", 1000.0),
                                                 (np.int32(4), 4.0), (np.float32(0.5), 0.5), (True, 1.0)])  # fmt: skip
def test_numbers_accept_ints_floats_and_numeric_strings(value: object, expected: float) -> None:
    canonical = record(total_spend=value)["total_value"]
    assert canonical == expected and type(canonical) is float


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("yes", True), ("TRUE", True), ("1", True), (1, True),
                                                 (1.0, True), ("no", False), ("False", False), (0, False),
                                                 (np.bool_(True), True), ("", None), (None, None)])  # fmt: skip
def test_booleans_accept_the_usual_spellings(value: object, expected: bool | None) -> None:
    assert record(churned=value)["churned"] is expected


@pytest.mark.parametrize(
    "value", [None, math.nan, "", "   ", "NaN", "null", pd.NA, pd.NaT, np.float64("nan")]
)
def test_empty_values_of_optional_inputs_become_none(value: object) -> None:
    canonical = record(support_tickets=value, as_of=value, plan="" if isinstance(value, str) else value)
    assert canonical["support_tickets"] is None
    assert canonical["as_of_time"] is None
    assert canonical["plan_type"] is None


def test_missing_keys_become_none_and_every_input_is_a_key() -> None:
    canonical = record()
    assert set(canonical) == {spec.name for spec in (*CustomerChurn.inputs(),)}
    assert canonical["support_tickets"] is None and canonical["churned"] is None


@pytest.mark.parametrize("value", [None, math.nan, "", "nan"])
def test_an_empty_required_value_is_a_missing_field_naming_column_and_row(value: object) -> None:
    with pytest.raises(InvalidValueError) as caught:
        record(total_spend=value)
    error = caught.value
    assert error.reason == ReasonCode.MISSING_FIELD
    assert (error.column, error.row) == ("total_spend", 3)
    assert "total_value is required" in str(error)


def test_a_required_key_missing_from_a_row_is_a_missing_field() -> None:
    resolution = resolve_columns(CustomerChurn, BASE)
    row = {key: value for key, value in BASE.items() if key != "signup_date"}
    with pytest.raises(InvalidValueError) as caught:
        canonical_record(resolution, row, row="offset 17")
    assert caught.value.reason == ReasonCode.MISSING_FIELD
    assert "column 'signup_date', row offset 17" in str(caught.value)


@pytest.mark.parametrize("value", [math.inf, -math.inf, "inf", "-Infinity", np.float64("inf"), 10**400])
def test_infinity_is_non_finite(value: object) -> None:
    with pytest.raises(InvalidValueError) as caught:
        record(total_spend=value)
    assert caught.value.reason == ReasonCode.NON_FINITE
    assert caught.value.column == "total_spend"


@pytest.mark.parametrize(
    ("changes", "column", "value"),
    [({"total_spend": "abc"}, "total_spend", "abc"), ({"total_spend": "1,5"}, "total_spend", "1,5"),
     ({"total_spend": [1]}, "total_spend", [1]), ({"last_login": "yesterday-ish"}, "last_login", "yesterday-ish"),
     ({"last_login": True}, "last_login", True), ({"churned": "maybe"}, "churned", "maybe"),
     ({"churned": 2}, "churned", 2), ({"customer": {"id": 1}}, "customer", {"id": 1})],
)  # fmt: skip
def test_wrong_types_name_column_row_and_value(changes: dict[str, Any], column: str, value: object) -> None:
    with pytest.raises(InvalidValueError) as caught:
        record(**changes)
    error = caught.value
    assert error.reason == ReasonCode.WRONG_TYPE
    assert (error.column, error.row, error.value) == (column, 3, value)
    assert f"column {column!r}, row 3: {value!r} is not" in str(error)


def test_ids_and_categories_are_strings_and_unseen_categories_pass_through() -> None:
    canonical = record(customer=1234, plan="Platinum Ultra")
    assert canonical["customer_id"] == "1234"
    assert canonical["plan_type"] == "Platinum Ultra"
    assert record(customer=1234.0)["customer_id"] == "1234"
    assert record(customer=np.int64(7))["customer_id"] == "7"


def test_the_raw_row_is_not_mutated() -> None:
    row = {**BASE, "support_tickets": math.nan, "plan": " pro "}
    snapshot = dict(row)
    canonical_record(resolve_columns(CustomerChurn, row), row)
    assert repr(row) == repr(snapshot)


def test_coerce_value_names_the_column() -> None:
    assert coerce_value("2024-03-01", "timestamp") == T_2024_03_01
    with pytest.raises(InvalidValueError, match="column 'price', row 2: 'x' is not a finite number"):
        coerce_value("x", "numeric", column="price", row=2)


# -- frames ----------------------------------------------------------------------------------------


def churn_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cust_id": ["a", "b", "c", "d"],
            "last_login": pd.to_datetime(
                ["2024-03-01", "2024-02-01 12:30:00.123456", None, "2024-01-01"], utc=True, format="ISO8601"
            ),
            "signup_date": ["2023-01-01", "2023-06-01T10:00:00Z", "2022-01-01", "2021-01-01"],
            "total_spend": [10.0, 20.0, 30.0, 40.0],
            "support_tickets": [1.0, math.nan, 3.0, 4.0],
            "plan": ["basic", None, "pro", "pro"],
            "as_of": [1709251200000, 1709251200000, 1709251200000, 1709251200000],
            "churned": [True, False, True, False],
        },
        index=[10, 11, 12, 13],
    )


def test_a_frame_gives_the_same_records_as_its_rows() -> None:
    frame = churn_frame().drop(index=12)
    resolution = resolve_columns(CustomerChurn, frame.columns)
    from_frame = canonical_frame(resolution, frame)
    from_rows = [canonical_record(resolution, row) for row in frame.to_dict("records")]
    assert from_frame == from_rows
    assert (
        from_frame[1]["last_activity_date"] == datetime(2024, 2, 1, 12, 30, 0, 123456, tzinfo=UTC).timestamp()
    )


def test_frame_errors_name_the_row_index_label() -> None:
    frame = churn_frame()
    resolution = resolve_columns(CustomerChurn, frame.columns)
    with pytest.raises(InvalidValueError) as caught:
        canonical_frame(resolution, frame)
    assert (caught.value.column, caught.value.row, caught.value.reason) == (
        "last_login",
        12,
        ReasonCode.MISSING_FIELD,
    )
    frame.loc[13, "total_spend"] = math.inf
    kept = canonical_frame(resolution, frame, on_error="keep")
    assert [type(item).__name__ for item in kept] == [
        "dict",
        "dict",
        "InvalidValueError",
        "InvalidValueError",
    ]
    error = kept[3]
    assert isinstance(error, InvalidValueError)
    assert (error.row, error.reason) == (13, ReasonCode.NON_FINITE)


def test_a_frame_with_text_numbers_reports_the_bad_cell() -> None:
    frame = churn_frame().drop(index=12).astype({"total_spend": object})
    frame.loc[11, "total_spend"] = "twenty"
    with pytest.raises(
        InvalidValueError, match="column 'total_spend', row 11: 'twenty' is not a finite number"
    ):
        canonical_frame(resolve_columns(CustomerChurn, frame.columns), frame)


messy = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["", " ", "nan", "inf", "1e3", "2024-03-01", "yes", "0", "1709251200000"]),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(spend=messy, tickets=messy, last_login=messy, churned=messy, plan=messy)
def test_any_value_either_coerces_or_raises_an_input_error(
    spend: object, tickets: object, last_login: object, churned: object, plan: object
) -> None:
    row = {**BASE, "total_spend": spend, "support_tickets": tickets, "last_login": last_login,
           "churned": churned, "plan": plan}  # fmt: skip
    try:
        canonical = canonical_record(resolve_columns(CustomerChurn, row), row)
    except InputError as error:
        assert error.reason in {ReasonCode.MISSING_FIELD, ReasonCode.WRONG_TYPE, ReasonCode.NON_FINITE}
        return
    for key in ("total_value", "support_tickets", "last_activity_date"):
        assert canonical[key] is None or (type(canonical[key]) is float and math.isfinite(canonical[key]))
    assert canonical["churned"] in (None, True, False)
    assert canonical["plan_type"] is None or isinstance(canonical["plan_type"], str)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=False), st.integers(-10**15, 10**15)),
                min_size=1, max_size=20))  # fmt: skip
def test_vectorised_numbers_and_times_match_the_record_path(values: list[float | int | None]) -> None:
    frame = pd.DataFrame({**{k: [v] * len(values) for k, v in BASE.items()}, "support_tickets": values,
                          "as_of": values})  # fmt: skip
    resolution = resolve_columns(CustomerChurn, frame.columns)
    assert canonical_frame(resolution, frame) == [
        canonical_record(resolution, r) for r in frame.to_dict("records")
    ]


def test_a_required_number_takes_the_only_numeric_column_and_says_so() -> None:
    from tracer.blueprints.recipes.revenue_forecast import RevenueForecast

    resolution = resolve_columns(RevenueForecast, ["Month", "Visitors"], numeric_columns=["Visitors"])
    assert resolution.columns["revenue"] == "Visitors" and resolution.chosen == {"revenue": "Visitors"}
    with pytest.raises(MissingInputsError):
        resolve_columns(
            RevenueForecast, ["Month", "Visitors", "Rooms"], numeric_columns=["Visitors", "Rooms"]
        )
    named = resolve_columns(RevenueForecast, ["Month", "Sales", "Rooms"], numeric_columns=["Sales", "Rooms"])
    assert named.columns["revenue"] == "Sales" and named.chosen == {}
