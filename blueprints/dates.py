"""Dates as people write them, read as float seconds since the Unix epoch (UTC).

:func:`parse_time` reads one value; :func:`infer_time_format` decides, once per column, the
:data:`TimeFormat` that settles what a single value can't (is ``01/02/2024`` the 1st of February or
the 2nd of January? is ``1991.5`` a year or a second?). Accepted, in every format:

- ``datetime``, ``date``, ``pandas.Timestamp``, ``numpy.datetime64``; naive times are UTC;
- ISO 8601 dates and datetimes, ``T`` or a space between them, with or without a zone (``Z``,
  ``+02:00``), and ISO weeks (``2020-W05``, ``2020W05``, ``2020-W05-3``: the Monday, or the weekday);
- epoch seconds, milli-, micro- or nanoseconds, numbers or digit strings, told apart by magnitude
  (below 1e11 is seconds, below 1e14 milliseconds, below 1e17 microseconds). Six-digit strings like
  ``202001`` are not read as months: they are epoch-ambiguous;
- months: ``1987 Jan``, ``Jan 1987``, ``January 1987``, ``1987-Jan``, ``2020-01``, ``2020/01``
  (any case; 3-letter abbreviations or full names); quarters: ``1998 Q1``, ``1998Q1``, ``Q1-1998``...
  (the first day of the quarter);
- ``dd/mm/yyyy`` or ``mm/dd/yyyy`` (``/``, ``-`` or ``.``, optionally with a time): ``day_first`` and
  ``month_first`` read them one way and reject values the other way round; ``auto`` keeps the
  reading pandas gave before this module (month first unless the first field is above 12);
- under ``decimal_year`` numbers are years, as R's ``ts`` writes them: ``1991.5`` is mid-1991. A
  fraction within 1e-3 (about 9 hours) of k/12 is the first day of month k + 1, so monthly and
  quarterly series land on their month (``1991.583333`` is 1991-08-01); any other fraction is the
  year's start plus that fraction of the year's length;
- anything else with a digit in it goes to pandas' parser as a last resort (``1 March 2024``).

Empty values (``None``, NaN, ``""``, ``"null"``...) give ``None``; anything else that isn't a time
raises :class:`Rejected` with ``wrong_type``. Parsed strings are cached per format, since dates
repeat a lot in real rows.

>>> parse_time("1987 Jan"), parse_time("1998 Q2"), parse_time("2020-W05")
(536457600.0, 891388800.0, 1580083200.0)
>>> parse_time("01/02/2024", "day_first") == parse_time("2024-02-01")
True
>>> parse_time(1991.583333, "decimal_year") == parse_time("1991-08-01")
True
>>> infer_time_format(["01/02/2024", "25/02/2024"]), infer_time_format([1991.5, 1991.75])
('day_first', 'decimal_year')
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from tracer.schemas import ReasonCode

__all__ = [
    "DECIMAL_YEAR_SPAN",
    "EMPTY_STRINGS",
    "TIME_FORMATS",
    "TIME_NAME_WORDS",
    "Rejected",
    "TimeFormat",
    "decimal_years_to_seconds",
    "finite",
    "float_of_int",
    "infer_time_format",
    "is_empty",
    "is_time_name",
    "parse_time",
    "period_form",
    "time_parser",
]

TimeFormat = Literal["auto", "day_first", "month_first", "decimal_year"]
TIME_FORMATS: tuple[TimeFormat, ...] = get_args(TimeFormat)
TIME_NAME_WORDS = frozenset({"time", "timestamp", "datetime", "date", "year", "period", "month", "quarter"})
"""Words in a column name that make whole numbers in 1800..2200 years rather than quantities."""
EMPTY_STRINGS = frozenset({"", "nan", "null", "none", "na", "n/a", "nat", "<na>"})
DECIMAL_YEAR_SPAN = (1800, 2200)
"""The years a column of decimal years is looked for in."""
_SNAP_YEARS = 1e-3  # a decimal year this close to k/12 is the start of a month
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH = datetime(1970, 1, 1)  # naive: naive times are UTC (and replace(tzinfo=UTC) costs a microsecond)
_MONTHS = {
    name: number
    for number, full in enumerate(
        ("january", "february", "march", "april", "may", "june", "july", "august", "september",
         "october", "november", "december"), start=1)
    for name in (full, full[:3], "sept" if number == 9 else full)
}  # fmt: skip
_TIME = (
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*([ap]m)?\s*(z|utc|[+-]\d{2}(?::?\d{2})?)?)?"
)
_YMD = re.compile(r"(\d{4})([/.-])(\d{1,2})(?:\2(\d{1,2})" + _TIME + ")?", re.IGNORECASE)
_DMY = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})" + _TIME, re.IGNORECASE)
_YEAR_MONTH_NAME = re.compile(r"(\d{4})[\s/-]*([a-z]{3,9})\.?", re.IGNORECASE)
_MONTH_NAME_YEAR = re.compile(r"([a-z]{3,9})\.?[\s/,-]*(\d{4})", re.IGNORECASE)
_QUARTER = re.compile(r"(\d{4})[\s/-]*q([1-4])|q([1-4])[\s/-]*(\d{4})", re.IGNORECASE)
_WEEK = re.compile(r"(\d{4})-?w(\d{2})(?:-?([1-7]))?", re.IGNORECASE)
_DMY_PREFIX = re.compile(r"\s*(\d{1,2})([/.-])(\d{1,2})\2\d{4}")
_NUMBER = re.compile(r"[+-]?(\d+)(?:\.\d*)?")
_NAME_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_CACHE_MAX = 4096


class Rejected(Exception):
    """Raised by a coercer or :func:`parse_time`; callers name the column and row in the error they raise.

    It lives here, not in :mod:`~tracer.blueprints.coercion` (which re-exports it), because coercion
    builds its timestamp coercer from this module.
    """

    def __init__(self, reason: ReasonCode) -> None:
        self.reason = reason


def is_empty(value: object) -> bool:
    """``None``, ``pd.NA``, ``pd.NaT`` or a float NaN (strings are checked against EMPTY_STRINGS)."""
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def finite(number: float) -> float | None:
    """The number if finite, ``None`` for NaN (an empty value); infinity is rejected as non_finite."""
    if math.isfinite(number):
        return number
    if number != number:
        return None
    raise Rejected(ReasonCode.NON_FINITE)


def float_of_int(value: int) -> float:
    """An int as a float; one too large for a float is rejected as non_finite."""
    try:
        return float(value)
    except OverflowError:
        raise Rejected(ReasonCode.NON_FINITE) from None


def is_time_name(name: object) -> bool:
    """Whether a column name has a word of :data:`TIME_NAME_WORDS` in it (``time``, ``TradeYear``...)."""
    words = {word.lower() for word in _NAME_WORDS.findall(str(name))} if name is not None else set()
    return bool(words & TIME_NAME_WORDS)


# -- numbers ---------------------------------------------------------------------------------------------


def _epoch_seconds(number: float) -> float | None:
    """Epoch seconds from a number in s, ms, µs or ns, told apart by magnitude."""
    checked = finite(number)
    if checked is None:
        return None
    size = abs(checked)
    if size < 1e11:
        return checked
    if size < 1e14:
        return checked / 1e3
    if size < 1e17:
        return checked / 1e6
    return checked / 1e9


def _day_seconds(year: int, month: int = 1) -> float:
    """Epoch seconds of the first day of a month; ``month`` may run past 12 into the next years."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return (date(year, month, 1).toordinal() - _EPOCH_ORDINAL) * 86400.0


def _decimal_year(number: float) -> float | None:
    checked = finite(number)
    if checked is None:
        return None
    year = math.floor(checked)
    if not 1 <= year <= 9998:
        raise Rejected(ReasonCode.WRONG_TYPE)
    fraction = checked - year
    twelfths = round(fraction * 12)
    if abs(fraction - twelfths / 12) < _SNAP_YEARS:
        return _day_seconds(year, twelfths + 1)
    start = _day_seconds(year)
    return start + fraction * (_day_seconds(year + 1) - start)


def decimal_years_to_seconds(years: np.ndarray) -> np.ndarray | None:
    """:func:`parse_time` of each decimal year, with numpy: the same floats; None if any is out of range.

    NaN stays NaN and ±inf stays ±inf (the caller reports those rows).
    """
    finite_rows = np.isfinite(years)
    whole = np.floor(np.where(finite_rows, years, 2000.0))
    if whole.size and not (whole.min() >= 1 and whole.max() <= 9998):
        return None
    fraction = np.where(finite_rows, years, 2000.0) - whole
    twelfths = np.rint(fraction * 12)
    months = (whole.astype(np.int64) - 1970) * 12
    days = (months + twelfths.astype(np.int64)).astype("datetime64[M]").astype("datetime64[D]")
    start = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) * 86400.0
    end = (months + 12).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) * 86400.0
    snapped = np.abs(fraction - twelfths / 12) < _SNAP_YEARS
    seconds = np.where(snapped, days.astype(np.int64) * 86400.0, start + fraction * (end - start))
    return np.where(finite_rows, seconds, years)


# -- text ------------------------------------------------------------------------------------------------


def _datetime_seconds(value: datetime) -> float:
    """Epoch seconds, exact to the microsecond (coercion's frame path computes the very same float)."""
    if isinstance(value, pd.Timestamp):
        nanos: int = value.tz_convert("UTC").value if value.tzinfo else value.value
        return nanos // 1000 / 1e6
    return value.timestamp() if value.tzinfo is not None else (value - _EPOCH).total_seconds()  # naive is UTC


def _clock(groups: tuple[str | None, ...], year: int, month: int, day: int) -> float:
    """Epoch seconds of a day at the time of a :data:`_TIME` match's groups (h, m, s, fraction, am/pm, zone)."""
    hour, minute, second, fraction, half, zone = groups
    if hour is None:
        return (date(year, month, day).toordinal() - _EPOCH_ORDINAL) * 86400.0
    hours = int(hour)
    if half is not None:
        if not 1 <= hours <= 12:
            raise ValueError("a 12-hour clock runs from 1 to 12")
        hours = hours % 12 + (12 if half.lower() == "pm" else 0)
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    since_epoch = datetime(year, month, day, hours, int(minute or 0), int(second or 0), micros) - _EPOCH
    if zone is not None and zone.lower() not in ("z", "utc"):
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        since_epoch += offset if zone[0] == "-" else -offset
    return since_epoch.total_seconds()


def _named_month(text: str) -> tuple[int, int | None] | None:
    """(year, month) of ``1987 Jan`` or ``Jan 1987``; the month is None when the word names none."""
    if (match := _YEAR_MONTH_NAME.fullmatch(text)) is not None:
        return int(match[1]), _MONTHS.get(match[2].lower())
    if (match := _MONTH_NAME_YEAR.fullmatch(text)) is not None:
        return int(match[2]), _MONTHS.get(match[1].lower())
    return None


def _form_seconds(text: str, time_format: TimeFormat) -> float | None:
    """The forms fromisoformat doesn't read; None when no form matches the text."""
    if (match := _YMD.fullmatch(text)) is not None:
        groups = match.groups()
        return _clock(groups[4:], int(groups[0]), int(groups[2]), int(groups[3] or 1))
    if (match := _DMY.fullmatch(text)) is not None:
        groups = match.groups()
        first, second = int(groups[0]), int(groups[2])
        day_first = time_format == "day_first" or (time_format != "month_first" and first > 12)
        day_of_month, month_of_year = (first, second) if day_first else (second, first)
        return _clock(groups[4:], int(groups[3]), month_of_year, day_of_month)
    if (match := _QUARTER.fullmatch(text)) is not None:
        year, quarter = (match[1], match[2]) if match[1] is not None else (match[4], match[3])
        return _day_seconds(int(year), 3 * int(quarter) - 2)
    if (named := _named_month(text)) is not None:
        return None if named[1] is None else _day_seconds(named[0], named[1])
    if (match := _WEEK.fullmatch(text)) is not None:
        week_day = date.fromisocalendar(int(match[1]), int(match[2]), int(match[3] or 1))
        return (week_day.toordinal() - _EPOCH_ORDINAL) * 86400.0
    return None


def _other_text_seconds(value: str, time_format: TimeFormat) -> float | None:
    """The slow path for strings that aren't plain ISO 8601."""
    text = value.strip()
    if text.lower() in EMPTY_STRINGS:
        return None
    if text != value:
        try:
            return _datetime_seconds(datetime.fromisoformat(text))
        except ValueError:
            pass
    number = _NUMBER.fullmatch(text)
    if number is not None and time_format == "decimal_year":
        return _decimal_year(float(text))
    if number is not None and len(number[1]) >= 9:
        return _epoch_seconds(float(text))  # epoch digits (ISO dates like 20240105 are shorter)
    try:
        seconds = _form_seconds(text, time_format)
    except ValueError:  # a form with an impossible field: month 13, 31/02, week 53 of a 52-week year
        raise Rejected(ReasonCode.WRONG_TYPE) from None
    if seconds is not None:
        return seconds
    if not any(character.isdigit() for character in text):
        raise Rejected(ReasonCode.WRONG_TYPE)  # pandas would read "now" and "today" as the clock's time
    try:
        with warnings.catch_warnings():  # pandas warns when it has to guess a format
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(text, dayfirst=time_format == "day_first")
    except (ValueError, TypeError, OverflowError):
        raise Rejected(ReasonCode.WRONG_TYPE) from None
    return None if parsed is pd.NaT else _datetime_seconds(parsed)


def period_form(text: str) -> Literal["year_month", "year_quarter", "iso_week"] | None:
    """Which period form a string is written in (``1987 Jan``, ``2020-01``, ``1998 Q1``, ``2020-W05``), if any.

    >>> period_form("Jan-1987"), period_form("q1 1998"), period_form("2020W05"), period_form("2020-01-05")
    ('year_month', 'year_quarter', 'iso_week', None)
    """
    text = text.strip()
    if (named := _named_month(text)) is not None:
        return None if named[1] is None else "year_month"
    if (match := _YMD.fullmatch(text)) is not None and match[4] is None and 1 <= int(match[3]) <= 12:
        return "year_month"
    if _QUARTER.fullmatch(text) is not None:
        return "year_quarter"
    return "iso_week" if _WEEK.fullmatch(text) is not None else None


# -- the parsers -----------------------------------------------------------------------------------------

TimeParser = Callable[[Any], float | None]


_CACHES: dict[TimeFormat, dict[str, float | None]] = {time_format: {} for time_format in TIME_FORMATS}
"""Strings already parsed, per format: dates repeat a lot in real rows (sign-up days, months)."""


def _build_parser(time_format: TimeFormat) -> TimeParser:
    cache = _CACHES[time_format]
    number_seconds = _decimal_year if time_format == "decimal_year" else _epoch_seconds

    def parse(value: Any) -> float | None:
        kind = type(value)
        if kind is str:
            if value in cache:
                return cache[value]
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                seconds = _other_text_seconds(value, time_format)
            else:
                seconds = (
                    parsed.timestamp() if parsed.tzinfo is not None else (parsed - _EPOCH).total_seconds()
                )
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache[value] = seconds
            return seconds
        if kind is float:
            return number_seconds(value)
        if kind is int:
            return number_seconds(float_of_int(value))
        if is_empty(value):
            return None
        if isinstance(value, datetime):
            return _datetime_seconds(value)
        if isinstance(value, date):
            return (value.toordinal() - _EPOCH_ORDINAL) * 86400.0
        if isinstance(value, np.datetime64):
            return None if np.isnat(value) else _datetime_seconds(pd.Timestamp(value))
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            return number_seconds(float(value))
        raise Rejected(ReasonCode.WRONG_TYPE)

    parse.__name__ = parse.__qualname__ = f"parse_time_{time_format}"
    return parse


_PARSERS: dict[TimeFormat, TimeParser] = {
    time_format: _build_parser(time_format) for time_format in TIME_FORMATS
}


def time_parser(time_format: TimeFormat = "auto") -> TimeParser:
    """The parser :func:`parse_time` uses for ``time_format``: one value in, epoch seconds or None out."""
    return _PARSERS[time_format]


def parse_time(value: object, time_format: TimeFormat = "auto") -> float | None:
    """Epoch seconds (UTC) of a time as people write it; None if empty; else raises :class:`Rejected`."""
    return _PARSERS[time_format](value)


def infer_time_format(
    values: Iterable[object], name: str | None = None, *, limit: int = 100_000
) -> TimeFormat:
    """The :data:`TimeFormat` of a column, decided once from (the first ``limit`` of) its values.

    - ``dd/mm/yyyy`` or ``mm/dd/yyyy`` strings: ``day_first`` if a first field is above 12,
      ``month_first`` if a second one is (the more frequent wins if both are). When no value
      decides, ``day_first``: most of the world writes the day first.
    - numbers (or numeric strings) all within 1800..2200: ``decimal_year`` if some have a fraction,
      or if ``name`` is time-like (:func:`is_time_name`: ``year``, ``time``, ``date``...).
    - anything else: ``auto``.
    """
    slashed = day_votes = month_votes = numbers = fractional = others = 0
    in_range = True
    for value in islice(values, limit):
        if isinstance(value, str):
            text = value.strip()
            if text.lower() in EMPTY_STRINGS:
                continue
            if (match := _DMY_PREFIX.match(text)) is not None:
                slashed += 1
                day_votes += int(match[1]) > 12
                month_votes += int(match[3]) > 12
                continue
            if _NUMBER.fullmatch(text) is None:
                others += 1
                continue
            number = float(text)
        elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)
        ):
            number = float(value)
            if number != number:
                continue
        else:
            others += not is_empty(value)
            continue
        numbers += 1
        in_range = in_range and DECIMAL_YEAR_SPAN[0] <= number <= DECIMAL_YEAR_SPAN[1]
        fractional += not number.is_integer()
    if slashed:
        return "month_first" if month_votes > day_votes else "day_first"
    if numbers and not others and in_range and (fractional or is_time_name(name)):
        return "decimal_year"
    return "auto"
