"""Coercion of raw values to canonical ones: the dtype table of :mod:`tracer.blueprints.base`.

Each coercer takes one raw value and returns its canonical form, ``None`` for an empty value
(``None``, NaN, ``""``, ``"null"``...), or raises :class:`Rejected` with the reason code; callers
turn that into an :class:`~tracer.blueprints.errors.InvalidValueError` that names the column and
the row. Timestamps accept epoch seconds, milliseconds, microseconds or nanoseconds (told apart by
magnitude: below 1e11 is seconds, below 1e14 milliseconds, below 1e17 microseconds), ISO 8601
strings, datetimes and dates; naive times are UTC. :func:`coerce_column` does the same for a whole
pandas column with numpy, when the column's dtype allows it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, cast

import numpy as np
import pandas as pd

from tracer.blueprints.base import Dtype
from tracer.blueprints.errors import InvalidValueError
from tracer.schemas import ReasonCode

__all__ = ["COERCERS", "EXPECTED", "Coercer", "Rejected", "coerce_column", "coerce_value"]

Coercer = Callable[[Any], Any]
_MISS = object()

EXPECTED: dict[Dtype, str] = {
    "id": "an identifier",
    "categorical": "a category label",
    "numeric": "a finite number",
    "boolean": "a boolean (true/false, yes/no, 1/0)",
    "timestamp": "a timestamp (epoch seconds or milliseconds, or an ISO 8601 string)",
}
_EMPTY_STRINGS = frozenset({"", "nan", "null", "none", "na", "n/a", "nat", "<na>"})
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})


class Rejected(Exception):
    """Raised by a coercer; turned into an InvalidValueError that names the column and row."""

    def __init__(self, reason: ReasonCode) -> None:
        self.reason = reason


# -- coercers: raw value -> canonical value, None for an empty one -----------------------------------


def _is_empty(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def _finite(number: float) -> float | None:
    if math.isfinite(number):
        return number
    if number != number:  # NaN is an empty value
        return None
    raise Rejected(ReasonCode.NON_FINITE)


def _int_to_float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        raise Rejected(ReasonCode.NON_FINITE) from None


def _to_numeric(value: Any) -> float | None:
    kind = type(value)
    if kind is float:
        return _finite(value)
    if kind is int or kind is bool:
        return _int_to_float(value)
    if kind is str:
        text = value.strip()
        if text.lower() in _EMPTY_STRINGS:
            return None
        try:
            return _finite(float(text))
        except ValueError:
            raise Rejected(ReasonCode.WRONG_TYPE) from None
    if _is_empty(value):
        return None
    if isinstance(value, (int, float, np.number, np.bool_)):
        try:
            return _finite(float(value))
        except OverflowError:
            raise Rejected(ReasonCode.NON_FINITE) from None
    raise Rejected(ReasonCode.WRONG_TYPE)


def _epoch_seconds(number: float) -> float | None:
    """Epoch seconds from a number in s, ms, µs or ns, told apart by magnitude."""
    finite = _finite(number)
    if finite is None:
        return None
    size = abs(finite)
    if size < 1e11:
        return finite
    if size < 1e14:
        return finite / 1e3
    if size < 1e17:
        return finite / 1e6
    return finite / 1e9


def _datetime_seconds(value: datetime) -> float:
    """Epoch seconds, exact to the microsecond (the frame path computes the very same float)."""
    if isinstance(value, pd.Timestamp):
        nanos: int = value.tz_convert("UTC").value if value.tzinfo else value.value
        return nanos // 1000 / 1e6
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


def _timestamp_from_text(value: str) -> float | None:
    """The slow path for strings that aren't plain ISO 8601: blanks, epoch digits, other formats."""
    text = value.strip()
    if text.lower() in _EMPTY_STRINGS:
        return None
    if len(text.partition(".")[0]) >= 9 and text.replace(".", "", 1).isdigit():
        return _epoch_seconds(float(text))  # epoch digits (ISO dates like 20240105 are shorter)
    try:
        return _datetime_seconds(datetime.fromisoformat(text))
    except ValueError:
        pass
    try:
        with warnings.catch_warnings():  # pandas warns when it has to guess a format
            warnings.simplefilter("ignore")
            parsed = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        raise Rejected(ReasonCode.WRONG_TYPE) from None
    return None if parsed is pd.NaT else _datetime_seconds(parsed)


_PARSED_TEXT: dict[str, float | None] = {}
"""Recently parsed timestamp strings: dates repeat a lot in real rows (sign-up days, snapshot days)."""
_PARSED_TEXT_MAX = 4096


def _timestamp_of_text(value: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        seconds = _timestamp_from_text(value)
    else:
        seconds = (parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)).timestamp()
    if len(_PARSED_TEXT) >= _PARSED_TEXT_MAX:
        _PARSED_TEXT.clear()
    _PARSED_TEXT[value] = seconds
    return seconds


def _to_timestamp(value: Any) -> float | None:
    kind = type(value)
    if kind is str:
        seconds = _PARSED_TEXT.get(value, _MISS)
        return _timestamp_of_text(value) if seconds is _MISS else cast(float | None, seconds)
    if kind is float or kind is int:
        return _epoch_seconds(_int_to_float(value) if kind is int else value)
    if _is_empty(value):
        return None
    if isinstance(value, datetime):
        return _datetime_seconds(value)
    if isinstance(value, date):
        return _datetime_seconds(datetime(value.year, value.month, value.day, tzinfo=UTC))
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else _datetime_seconds(pd.Timestamp(value))
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return _epoch_seconds(float(value))
    raise Rejected(ReasonCode.WRONG_TYPE)


def _to_boolean(value: Any) -> bool | None:
    kind = type(value)
    if kind is bool:
        return bool(value)
    if kind is str:
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if text in _EMPTY_STRINGS:
            return None
        raise Rejected(ReasonCode.WRONG_TYPE)
    if _is_empty(value):
        return None
    if isinstance(value, (int, float, np.number, np.bool_)):
        if value == 1:
            return True
        if value == 0:
            return False
    raise Rejected(ReasonCode.WRONG_TYPE)


def _to_label(value: Any) -> str | None:
    kind = type(value)
    if kind is str:
        text = value.strip()
        return text or None
    if kind is int:
        return str(value)
    if _is_empty(value):
        return None
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise Rejected(ReasonCode.NON_FINITE)
        return str(int(value)) if float(value).is_integer() else str(float(value))
    if isinstance(value, np.integer):
        return str(int(value))
    if isinstance(value, (str, int, bool, np.bool_)):
        return str(value)
    raise Rejected(ReasonCode.WRONG_TYPE)


COERCERS: dict[Dtype, Coercer] = {
    "id": _to_label,
    "categorical": _to_label,
    "numeric": _to_numeric,
    "boolean": _to_boolean,
    "timestamp": _to_timestamp,
}


def coerce_value(value: Any, dtype: Dtype, *, column: str = "value", row: int | str | None = None) -> Any:
    """Coerce one value to the canonical form of ``dtype`` (``None`` if empty), or raise InvalidValueError.

    >>> coerce_value(" yes ", "boolean"), coerce_value("2024-01-01T00:00:00Z", "timestamp")
    (True, 1704067200.0)
    """
    try:
        return COERCERS[dtype](value)
    except Rejected as rejected:
        raise InvalidValueError(column, value, EXPECTED[dtype], row=row, reason=rejected.reason) from None


def coerce_column(series: pd.Series, dtype: Dtype) -> tuple[list[Any], np.ndarray] | None:
    """A whole column coerced with numpy when its dtype allows: (values, rows that are ±inf); else None.

    The values are exactly those the per-value coercers give (the tests hold the two paths equal).
    """
    if dtype in ("numeric", "timestamp") and pd.api.types.is_bool_dtype(series.dtype):
        return None
    if dtype in ("numeric", "timestamp") and pd.api.types.is_numeric_dtype(series.dtype):
        numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
        infinite = np.isinf(numbers)
        if dtype == "timestamp":
            size = np.abs(numbers)
            numbers = np.where(
                size < 1e11,
                numbers,
                np.where(size < 1e14, numbers / 1e3, np.where(size < 1e17, numbers / 1e6, numbers / 1e9)),
            )
        values: list[Any] = numbers.tolist()
        for position in np.flatnonzero(np.isnan(numbers)).tolist():
            values[position] = None
        return values, infinite
    if dtype == "timestamp" and pd.api.types.is_datetime64_any_dtype(series.dtype):
        stamps = series.dt.tz_convert("UTC").dt.tz_localize(None) if series.dt.tz is not None else series
        try:
            nanos = stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)
        except (OverflowError, ValueError):
            return None
        seconds: list[Any] = ((nanos // 1000) / 1e6).tolist()
        for position in np.flatnonzero(stamps.isna().to_numpy()).tolist():
            seconds[position] = None
        return seconds, np.zeros(len(series), dtype=bool)
    if dtype == "boolean" and pd.api.types.is_bool_dtype(series.dtype) and not series.hasnans:
        return [bool(flag) for flag in series.tolist()], np.zeros(len(series), dtype=bool)
    return None
