"""Coercion of raw values to canonical ones: the dtype table of :mod:`tracer.blueprints.base`.

Each coercer takes one raw value and returns its canonical form, ``None`` for an empty value
(``None``, NaN, ``""``, ``"null"``...), or raises :class:`Rejected` with the reason code; callers
turn that into an :class:`~tracer.blueprints.errors.InvalidValueError` that names the column and
the row. Timestamps become float seconds since the Unix epoch (UTC), read by
:func:`~tracer.blueprints.dates.parse_time`: epoch numbers (s, ms, µs or ns, told apart by magnitude),
ISO 8601, months (``1987 Jan``), quarters (``1998 Q1``), ISO weeks, ``dd/mm/yyyy``... A column's
:data:`~tracer.blueprints.dates.TimeFormat` (from :func:`~tracer.blueprints.dates.infer_time_format`)
settles what one value can't: :func:`timestamp_coercer` gives the coercer for it.
:func:`coerce_column` does the same for a whole pandas column with numpy, when its dtype allows it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from tracer.blueprints.base import Dtype
from tracer.blueprints.dates import (
    EMPTY_STRINGS,
    Rejected,
    TimeFormat,
    decimal_years_to_seconds,
    finite,
    float_of_int,
    is_empty,
    time_parser,
)
from tracer.blueprints.errors import InvalidValueError
from tracer.schemas import ReasonCode

__all__ = [
    "COERCERS",
    "EXPECTED",
    "Coercer",
    "Rejected",
    "coerce_column",
    "coerce_value",
    "timestamp_coercer",
    "timestamp_expected",
]

Coercer = Callable[[Any], Any]
_TIMESTAMP_FORMS = "epoch seconds or milliseconds, ISO 8601, 1987 Jan, 2020-01, 1998 Q1 or 2020-W05"
_TIMESTAMP_EXPECTED: dict[TimeFormat, str] = {
    "auto": f"a timestamp ({_TIMESTAMP_FORMS})",
    "day_first": f"a timestamp (dd/mm/yyyy, {_TIMESTAMP_FORMS})",
    "month_first": f"a timestamp (mm/dd/yyyy, {_TIMESTAMP_FORMS})",
    "decimal_year": "a timestamp (a decimal year such as 1991.5, or ISO 8601)",
}
EXPECTED: dict[Dtype, str] = {
    "id": "an identifier",
    "categorical": "a category label",
    "numeric": "a finite number",
    "boolean": "a boolean (true/false, yes/no, 1/0)",
    "timestamp": _TIMESTAMP_EXPECTED["auto"],
}
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})


# -- coercers: raw value -> canonical value, None for an empty one -----------------------------------


def _to_numeric(value: Any) -> float | None:
    kind = type(value)
    if kind is float:
        return finite(value)
    if kind is int or kind is bool:
        return float_of_int(value)
    if kind is str:
        text = value.strip()
        if text.lower() in EMPTY_STRINGS:
            return None
        try:
            return finite(float(text))
        except ValueError:
            raise Rejected(ReasonCode.WRONG_TYPE) from None
    if is_empty(value):
        return None
    if isinstance(value, (int, float, np.number, np.bool_)):
        try:
            return finite(float(value))
        except OverflowError:
            raise Rejected(ReasonCode.NON_FINITE) from None
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
        if text in EMPTY_STRINGS:
            return None
        raise Rejected(ReasonCode.WRONG_TYPE)
    if is_empty(value):
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
    if is_empty(value):
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
    "timestamp": time_parser("auto"),
}


def timestamp_coercer(time_format: TimeFormat = "auto") -> Coercer:
    """The timestamp coercer for a column of this format (``COERCERS["timestamp"]`` is the ``auto`` one).

    >>> timestamp_coercer("day_first")("01/02/2024") == timestamp_coercer()("2024-02-01")
    True
    """
    return time_parser(time_format)


def timestamp_expected(time_format: TimeFormat = "auto") -> str:
    """What a timestamp column of this format accepts, for errors (``EXPECTED["timestamp"]`` is ``auto``'s)."""
    return _TIMESTAMP_EXPECTED[time_format]


def coerce_value(value: Any, dtype: Dtype, *, column: str = "value", row: int | str | None = None) -> Any:
    """Coerce one value to the canonical form of ``dtype`` (``None`` if empty), or raise InvalidValueError.

    >>> coerce_value(" yes ", "boolean"), coerce_value("2024-01-01T00:00:00Z", "timestamp")
    (True, 1704067200.0)
    """
    try:
        return COERCERS[dtype](value)
    except Rejected as rejected:
        raise InvalidValueError(column, value, EXPECTED[dtype], row=row, reason=rejected.reason) from None


def coerce_column(
    series: pd.Series, dtype: Dtype, *, time_format: TimeFormat = "auto"
) -> tuple[list[Any], np.ndarray] | None:
    """A whole column coerced with numpy when its dtype allows: (values, rows that are ±inf); else None.

    ``time_format`` is the timestamp column's format, as :func:`timestamp_coercer` takes it. The
    values are exactly those the per-value coercers give (the tests hold the two paths equal); on
    None, coerce value by value with ``COERCERS[dtype]`` (``timestamp_coercer(time_format)``).
    """
    if dtype in ("numeric", "timestamp") and pd.api.types.is_bool_dtype(series.dtype):
        return None
    if dtype in ("numeric", "timestamp") and pd.api.types.is_numeric_dtype(series.dtype):
        numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
        infinite = np.isinf(numbers)
        if dtype == "timestamp" and time_format == "decimal_year":
            years = decimal_years_to_seconds(numbers)
            if years is None:  # years out of range: the per-value coercer says which rows
                return None
            numbers = years
        elif dtype == "timestamp":
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
