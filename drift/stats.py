"""Small statistics the drift detectors share.

The two-sample KS statistic and its critical value, lag-1 autocorrelation, and the conversion of a batch
of raw feature values to floats that skips exactly what a single update skips.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import chain
from operator import itemgetter

import numpy as np
import numpy.typing as npt

__all__ = [
    "FloatArray",
    "as_float_array",
    "as_float_columns",
    "ks_critical_value",
    "ks_statistic",
    "lag1_autocorrelation",
    "max_autocorrelation",
]

FloatArray = npt.NDArray[np.float64]
_NAN = float("nan")

_PLAIN_NUMBER_TYPES = frozenset({float, int, bool, type(None), np.float64, np.float32, np.int64, np.int32})
"""Types numpy converts to float64 exactly as :func:`_as_float` would (``None`` becoming NaN)."""


def _as_float(value: object) -> float:
    try:
        math.isfinite(value)  # type: ignore[arg-type]  # raises TypeError for what is not a number
        return float(value)  # type: ignore[arg-type]
    except (TypeError, OverflowError):
        return _NAN


def as_float_array(values: Sequence[object]) -> FloatArray:
    """Values as a float64 array, with ``None``, strings (even numeric ones) and other non-numbers as NaN.

    :meth:`~tracer.drift.data.WindowedKS.update_many` then skips every non-finite entry, exactly where single updates skip.

    >>> as_float_array([1, 2.5, None, "3", True, float("inf")]).tolist()
    [1.0, 2.5, nan, nan, 1.0, inf]
    """
    if _PLAIN_NUMBER_TYPES.issuperset(map(type, values)):
        try:
            return np.array(values, dtype=np.float64)
        except OverflowError:
            pass
    return np.fromiter((_as_float(v) for v in values), dtype=np.float64, count=len(values))


def as_float_columns(rows: Sequence[Mapping[str, object]], names: Sequence[str]) -> FloatArray | None:
    """Column ``j`` of the result is ``as_float_array([row.get(names[j]) for row in rows])``, all in one
    conversion; None unless every row has every name and every value is a plain number or ``None``
    (then convert column by column).

    >>> as_float_columns([{"a": 1, "b": None}, {"b": 2.5, "a": True}], ["a", "b"]).tolist()
    [[1.0, 1.0], [nan, 2.5]]
    """
    if not rows or not names:
        return None
    getter = itemgetter(*names)
    try:
        cells = [getter(row) for row in rows]
    except KeyError:
        return None
    if len(names) == 1:
        cells = [(cell,) for cell in cells]
    if not _PLAIN_NUMBER_TYPES.issuperset(map(type, chain.from_iterable(cells))):
        return None
    try:
        matrix = np.array(cells, dtype=np.float64)
    except OverflowError:
        return None
    return np.ascontiguousarray(matrix.T)


def ks_critical_value(n_reference: int, n_current: int, alpha: float) -> float:
    """The asymptotic two-sample KS critical value: ``sqrt(-ln(alpha / 2) / 2) * sqrt((n + m) / (n * m))``.

    >>> round(ks_critical_value(500, 500, 0.05), 4)
    0.0859
    """
    coefficient = math.sqrt(-math.log(alpha / 2.0) / 2.0)
    return coefficient * math.sqrt((n_reference + n_current) / (n_reference * n_current))


def lag1_autocorrelation(values: FloatArray) -> float:
    """The lag-1 autocorrelation of a series (0.0 when it is constant).

    >>> lag1_autocorrelation(np.array([1.0, 2.0, 1.0, 2.0, 1.0, 2.0]))
    -0.833...
    """
    centred = values - values.mean()
    denominator = float(np.dot(centred, centred))
    if denominator == 0.0:
        return 0.0
    return float(np.dot(centred[:-1], centred[1:])) / denominator


def max_autocorrelation(values: FloatArray, max_lag: int = 8) -> float:
    """The largest autocorrelation of a series at lags 1 to ``max_lag`` (0.0 when it is constant).

    A stream that interleaves several entities (three symbols' snapshots, one after the other) shows
    each entity's dependence at the lag of the entity count, not at lag 1: this finds it there.

    >>> walk = np.cumsum(np.random.default_rng(0).normal(size=(3, 500)), axis=1)
    >>> interleaved = walk.T.ravel()  # three random walks, one value of each in turn
    >>> round(lag1_autocorrelation(interleaved), 2) < round(max_autocorrelation(interleaved), 2)
    True
    """
    centred = values - values.mean()
    denominator = float(np.dot(centred, centred))
    if denominator == 0.0:
        return 0.0
    lags = range(1, min(max_lag, values.size - 1) + 1)
    return max((float(np.dot(centred[:-k], centred[k:])) / denominator for k in lags), default=0.0)


def ks_statistic(reference_sorted: FloatArray, current_sorted: FloatArray) -> float:
    """The two-sample KS statistic of two *sorted* samples (ties handled exactly).

    >>> import numpy as np
    >>> ks_statistic(np.array([0.0, 1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0, 5.0]))
    0.5
    """
    pooled = np.concatenate((reference_sorted, current_sorted))
    cdf_reference = np.searchsorted(reference_sorted, pooled, side="right") / reference_sorted.size
    cdf_current = np.searchsorted(current_sorted, pooled, side="right") / current_sorted.size
    return float(np.max(np.abs(cdf_reference - cdf_current)))
