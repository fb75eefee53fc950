"""A block of rows with one set of column names as canonical records, column by column.

:func:`canonical_columns` gives, for a block of raw rows that share a
:class:`~tracer.blueprints.inputs.ColumnResolution`, the records :func:`~tracer.blueprints.inputs.canonical_record`
gives each row (the same values, the same keys in the same order), reading each input's column
once: a column of floats is checked finite at once, a column of strings is coerced once per distinct
value, any other column value by value. A row that fails anywhere is left as ``None``, for the
caller to read on its own with ``canonical_record``: its error (reason code, column, row, message)
is then exactly the one-row path's, and bad rows are rare.

>>> from tracer.blueprints.inputs import resolve_columns
>>> from tracer.blueprints.recipes.customer_churn import CustomerChurn
>>> rows = [{"cust_id": "a", "last_login": "2024-01-02", "signup_date": "2023-01-01", "total_spend": 5.0},
...         {"cust_id": "b", "last_login": "2024-01-02", "signup_date": "never", "total_spend": 7.0}]
>>> records = canonical_columns(resolve_columns(CustomerChurn, rows[0]), rows)
>>> records[0]["last_activity_date"], records[0]["total_value"], records[1]
(1704153600.0, 5.0, None)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

import numpy as np

from tracer.blueprints.base import Dtype
from tracer.blueprints.coercion import Coercer
from tracer.blueprints.inputs import ColumnResolution, _derive

__all__ = ["canonical_columns", "column_values"]

_NONE = type(None)


def canonical_columns(
    resolution: ColumnResolution, rows: Sequence[Mapping[Any, Any]]
) -> list[dict[str, Any] | None]:
    """Each row's canonical record, or ``None`` where the row has an error (read it alone for which)."""
    count = len(rows)
    failed = bytearray(count)  # 1 where a row failed somewhere
    names: list[str] = list(resolution._absent)
    columns: list[list[Any]] = [[None] * count for _ in names]
    for name, column, coerce, _, dtype, is_required in resolution._steps:
        values = _coerced(column_values(rows, column), coerce, dtype, failed)
        if is_required:
            for position, value in enumerate(values):
                if value is None:
                    failed[position] = 1
        names.append(name)
        columns.append(values)
    derived = resolution._derived
    records: list[dict[str, Any] | None] = []
    for position, values_of_row in enumerate(zip(*columns, strict=True) if columns else [()] * count):
        if failed[position]:
            records.append(None)
            continue
        record = dict(zip(names, values_of_row, strict=True))
        if derived:
            try:
                _derive(record, derived, rows[position], None)
            except Exception:
                records.append(None)
                continue
        records.append(record)
    return records


def column_values(rows: Sequence[Mapping[Any, Any]], column: Any) -> list[Any]:
    """``row.get(column)`` of each row (at once where every row has the column)."""
    try:
        return list(map(itemgetter(column), rows))
    except KeyError:
        return [row.get(column) for row in rows]


def _coerced(values: list[Any], coerce: Coercer, dtype: Dtype, failed: bytearray) -> list[Any]:
    """``coerce`` of each value (``None`` where it raises, and the row marked in ``failed``).

    Every coercer gives ``None`` for ``None``, and is a function of a string's text or a float's value."""
    kinds = set(map(type, values))
    kinds.discard(_NONE)
    if kinds == {float} and dtype == "numeric":
        numbers = np.array(values, dtype=float)  # None -> NaN
        if not np.isinf(numbers).any():  # a finite float is its own canonical number, NaN is None
            if not np.isnan(numbers).any():
                return values
            return [None if value is None or value != value else value for value in values]
    elif kinds == {str}:  # strings repeat (plans, dates, days): each distinct one once
        try:
            canon = {value: coerce(value) for value in set(values) if value is not None}
        except Exception:
            return _one_by_one(values, coerce, failed)
        canon[None] = None
        return [canon[value] for value in values]
    try:
        return list(map(coerce, values))
    except Exception:
        return _one_by_one(values, coerce, failed)


def _one_by_one(values: list[Any], coerce: Coercer, failed: bytearray) -> list[Any]:
    out: list[Any] = []
    for position, value in enumerate(values):
        try:
            out.append(coerce(value))
        except Exception:
            out.append(None)
            failed[position] = 1
    return out
