"""From a user's columns to a blueprint's canonical records, with errors a person can act on.

Two steps, so the per-record path stays a tight loop:

1. :func:`resolve_columns` runs once per distinct set of column names. It maps each input of the
   blueprint to one of the user's columns: an explicit ``column_mapping`` first, then the input's
   own name or a synonym, then the same names compared case-, space-, dash- and
   underscore-insensitively (``"Last Login"`` finds ``last_login``). A required input with no
   column may be derived from a :class:`~tracer.blueprints.base.StandIn` (``tenure`` days for
   ``account_created_date``). Anything still missing raises :class:`MissingInputsError`, naming
   each input and every column name that was looked for.
2. :func:`canonical_record` (one row) and :func:`canonical_frame` (a dataset) rename the columns and
   coerce each value to its input's dtype, as the table in :mod:`tracer.blueprints.base` says.
   Timestamps accept epoch seconds, milliseconds, microseconds or nanoseconds (told apart by
   magnitude: below 1e11 is seconds, below 1e14 milliseconds, below 1e17 microseconds), ISO 8601
   strings and datetimes; naive times are UTC. Empty values (``None``, NaN, ``""``, a missing key)
   become ``None`` for an optional input and an :class:`InvalidValueError` with reason
   ``missing_field`` for a required one. Infinity is ``non_finite``; a value of the wrong kind is
   ``wrong_type``, and the error names the column, the row and the value.

>>> from tracer.blueprints.recipes.customer_churn import CustomerChurn
>>> resolution = resolve_columns(CustomerChurn, ["Cust ID", "last_login", "signup_date", "total_spend"])
>>> resolution.columns["customer_id"], resolution.columns["last_activity_date"]
('Cust ID', 'last_login')
>>> record = canonical_record(resolution, {"Cust ID": 7, "last_login": 1700000000000,
...                                        "signup_date": "2023-01-01", "total_spend": "12.5"})
>>> record["customer_id"], record["last_activity_date"], record["total_value"], record["plan_type"]
('7', 1700000000.0, 12.5, None)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from tracer.blueprints.base import Blueprint, Dtype, InputSpec, StandIn
from tracer.blueprints.coercion import (
    COERCERS,
    EXPECTED,
    Coercer,
    Rejected,
    coerce_column,
    coerce_value,
    timestamp_coercer,
    timestamp_expected,
)
from tracer.blueprints.dates import TimeFormat
from tracer.blueprints.errors import InputError, InvalidValueError, MissingInputsError
from tracer.schemas import ReasonCode

__all__ = [
    "ColumnResolution",
    "blueprint_inputs",
    "canonical_frame",
    "canonical_record",
    "check_mapping",
    "coerce_value",
    "normalize_name",
    "resolve_columns",
]

AnyBlueprint = type[Blueprint[Any, Any]] | Blueprint[Any, Any]


def normalize_name(name: object) -> str:
    """A column name compared loosely: lower case, without spaces, dashes, dots or underscores."""
    return "".join(ch for ch in str(name).lower() if ch not in " _-.\t")


# -- resolution ----------------------------------------------------------------------------------------


class ColumnResolution:
    """How one set of user columns maps onto a blueprint's inputs. Build it with :func:`resolve_columns`.

    ``columns`` maps every input to the user's column that feeds it (``None`` if there is none);
    ``stand_ins`` maps an input derived from a stand-in to ``(stand-in name, user column)``.
    """

    __slots__ = (
        "_absent",
        "_derived",
        "_steps",
        "blueprint_id",
        "chosen",
        "columns",
        "stand_ins",
        "time_formats",
        "unused_columns",
    )

    def __init__(
        self,
        blueprint_id: str,
        columns: dict[str, str | None],
        stand_ins: dict[str, tuple[StandIn, str]],
        unused_columns: tuple[str, ...],
        specs: Sequence[InputSpec],
        required: frozenset[str],
        chosen: dict[str, str] | None = None,
        time_formats: Mapping[str, TimeFormat] | None = None,
    ) -> None:
        self.blueprint_id = blueprint_id
        self.columns = columns
        self.time_formats = dict(time_formats or {})
        """Column -> how its dates are written (``day_first``, ``decimal_year``...), decided once per
        column by whoever resolves (a deployment: from its dataset or first row); ``auto`` if absent."""
        self.chosen = chosen or {}
        """Inputs no name matched, each given the only numeric column left (input -> column)."""
        self.stand_ins = {name: (stand_in.name, column) for name, (stand_in, column) in stand_ins.items()}
        self.unused_columns = unused_columns
        # Precomputed plan: canonical_record is one loop over these tuples.
        self._steps = tuple(
            (spec.name, column, *self._coercion(spec.dtype, column), spec.name in required)
            for spec in specs
            if (column := columns[spec.name]) is not None
        )
        self._derived = tuple(
            (name, stand_in, column, *self._coercion(stand_in.dtype, column), name in required)
            for name, (stand_in, column) in stand_ins.items()
        )
        self._absent = tuple(s.name for s in specs if columns[s.name] is None and s.name not in stand_ins)

    def _coercion(self, dtype: Dtype, column: str) -> tuple[Coercer, str, Dtype]:
        """The coercer of a column, what it expects (for errors) and its dtype."""
        if dtype != "timestamp":
            return COERCERS[dtype], EXPECTED[dtype], dtype
        time_format = self.time_formats.get(column, "auto")
        return timestamp_coercer(time_format), timestamp_expected(time_format), dtype

    @property
    def missing_optional(self) -> tuple[str, ...]:
        """Optional inputs with no column: always ``None`` in the canonical records."""
        return self._absent

    def __repr__(self) -> str:
        found = ", ".join(
            f"{name}<-{column!r}" for name, column in self.columns.items() if column is not None
        )
        derived = ", ".join(f"{name}<-{s}({c!r})" for name, (s, c) in self.stand_ins.items())
        return f"ColumnResolution({self.blueprint_id}: {found}{'; ' + derived if derived else ''})"


def _blueprint_class(blueprint: AnyBlueprint) -> type[Blueprint[Any, Any]]:
    return blueprint if isinstance(blueprint, type) else type(blueprint)


def blueprint_inputs(blueprint: AnyBlueprint) -> tuple[InputSpec, ...]:
    """Every input a blueprint reads: required, optional, and its label column if it isn't one of them."""
    cls = _blueprint_class(blueprint)
    specs = cls.inputs()
    label = cls.label.column
    if label is not None and all(spec.name != label.name for spec in specs):
        specs = (*specs, label)
    return specs


def check_mapping(blueprint: AnyBlueprint, column_mapping: Mapping[str, str]) -> None:
    """Raise InputError if ``column_mapping`` names something that is neither an input nor a stand-in."""
    cls = _blueprint_class(blueprint)
    specs = blueprint_inputs(cls)
    known = {spec.name for spec in specs} | {s.name for spec in specs for s in spec.stand_ins}
    unknown = sorted(set(column_mapping) - known)
    if unknown:
        error = InputError(
            f"{cls.id}: column_mapping names unknown input(s) {', '.join(unknown)}; "
            f"the inputs are: {', '.join(sorted(known))}"
        )
        error.reason = ReasonCode.INVALID_VALUE
        raise error


def _find(
    names: Sequence[str], exact: dict[str, str], loose: dict[str, str], claimed: set[str]
) -> str | None:
    for name in names:
        column = exact.get(name)
        if column is not None and column not in claimed:
            return column
    for name in names:
        column = loose.get(normalize_name(name))
        if column is not None and column not in claimed:
            return column
    return None


def resolve_columns(
    blueprint: AnyBlueprint,
    columns: Iterable[Any],
    column_mapping: Mapping[str, str] | None = None,
    *,
    numeric_columns: Iterable[Any] = (),
    time_formats: Mapping[str, TimeFormat] | None = None,
) -> ColumnResolution:
    """Map each input of ``blueprint`` to one of ``columns``; raise MissingInputsError naming what's missing.

    ``column_mapping`` maps input (or stand-in) names to the user's column names and wins over any
    name matching. A column feeds at most one input. When exactly one required input is left that no
    name finds, and it is a number, it takes the only one of ``numeric_columns`` (the columns known
    to hold numbers) still unclaimed, if there is exactly one: the choice is in ``chosen``.
    ``time_formats`` says how the dates of a column are written (see :mod:`~tracer.blueprints.dates`).
    """
    cls = _blueprint_class(blueprint)
    specs = blueprint_inputs(cls)
    required = frozenset(spec.name for spec in cls.required_inputs)
    mapping = dict(column_mapping or {})
    check_mapping(cls, mapping)
    present = list(dict.fromkeys(columns))
    exact = {str(column): column for column in present}
    loose: dict[str, str] = {}
    for column in present:
        loose.setdefault(normalize_name(column), column)
    claimed = {mapping[name] for name in mapping if mapping[name] in exact}
    found: dict[str, str | None] = {spec.name: None for spec in specs}
    for spec in specs:  # explicit mapping, then exact names, then loose names
        if spec.name in mapping:
            found[spec.name] = mapping[spec.name] if mapping[spec.name] in exact else None
    for pass_exact in (True, False):
        for spec in specs:
            if found[spec.name] is None and spec.name not in mapping:
                looser = loose if not pass_exact else {}
                column = _find(spec.accepted_names, exact, looser, claimed)
                if column is not None:
                    found[spec.name] = column
                    claimed.add(column)
    stand_ins: dict[str, tuple[StandIn, str]] = {}
    missing: dict[str, Sequence[str]] = {}
    chosen: dict[str, str] = {}
    for spec in specs:
        if found[spec.name] is not None:
            continue
        for stand_in in spec.stand_ins:
            mapped = mapping.get(stand_in.name)
            column = (mapped if mapped in exact else None) if mapped else None
            column = column or _find((stand_in.name, *stand_in.synonyms), exact, loose, claimed)
            if column is not None:
                stand_ins[spec.name] = (stand_in, column)
                claimed.add(column)
                break
        else:
            if spec.name in required:
                looked = [f"{mapping[spec.name]} (from column_mapping)"] if spec.name in mapping else []
                looked += list(spec.accepted_names)
                looked += [name for s in spec.stand_ins for name in (s.name, *s.synonyms)]
                missing[spec.name] = looked
    numbers = [
        column for column in dict.fromkeys(numeric_columns) if column in exact and column not in claimed
    ]
    if len(missing) == 1 and len(numbers) == 1:  # the one required input no name found: the one number left
        spec = next(spec for spec in specs if spec.name in missing)
        if spec.dtype == "numeric" and spec.name not in mapping and not spec.stand_ins:
            found[spec.name] = chosen[spec.name] = numbers[0]
            claimed.add(numbers[0])
            del missing[spec.name]
    if missing:
        raise MissingInputsError(cls.id, missing)
    unused = tuple(str(column) for column in present if column not in claimed)
    return ColumnResolution(cls.id, found, stand_ins, unused, specs, required, chosen, time_formats)


# -- records ---------------------------------------------------------------------------------------------


def _missing_required(
    column: str, value: object, expected: str, name: str, row: int | str | None
) -> InputError:
    return InvalidValueError(
        column, value, f"{expected}; {name} is required", row=row, reason=ReasonCode.MISSING_FIELD
    )


def _derive(
    record: dict[str, Any],
    derived: tuple[tuple[str, StandIn, str, Coercer, str, Dtype, bool], ...],
    raw_row: Mapping[Any, Any],
    row: int | str | None,
) -> None:
    for name, stand_in, column, coerce, expected, _, is_required in derived:
        value = raw_row.get(column)
        try:
            canon = coerce(value)
        except Rejected as rejected:
            raise InvalidValueError(column, value, expected, row=row, reason=rejected.reason) from None
        if canon is None:
            if is_required:
                raise _missing_required(column, value, expected, name, row)
            record[name] = None
            continue
        try:
            record[name] = stand_in.derive(canon, record)
        except (ArithmeticError, TypeError, ValueError) as error:
            raise InvalidValueError(
                column, value, f"usable as {stand_in.name} to derive {name} ({error})", row=row
            ) from None


def canonical_record(
    resolution: ColumnResolution, raw_row: Mapping[Any, Any], *, row: int | str | None = None
) -> dict[str, Any]:
    """One user row as a canonical record: every input a key, each value coerced. ``raw_row`` is not mutated.

    ``row`` (a position, offset or key) is only used to say where an error is.
    """
    record: dict[str, Any] = dict.fromkeys(resolution._absent)
    get = raw_row.get
    for name, column, coerce, expected, _, is_required in resolution._steps:
        value = get(column)
        try:
            canon = coerce(value)
        except Rejected as rejected:
            raise InvalidValueError(column, value, expected, row=row, reason=rejected.reason) from None
        if canon is None and is_required:
            raise _missing_required(column, value, expected, name, row)
        record[name] = canon
    if resolution._derived:
        _derive(record, resolution._derived, raw_row, row)
    return record


def _row_label(index: pd.Index, position: int) -> int | str:
    label = index[position]
    return int(label) if isinstance(label, (int, np.integer)) else str(label)


@overload
def canonical_frame(
    resolution: ColumnResolution, frame: pd.DataFrame, *, on_error: Literal["raise"] = "raise"
) -> list[dict[str, Any]]: ...


@overload
def canonical_frame(
    resolution: ColumnResolution, frame: pd.DataFrame, *, on_error: Literal["keep"]
) -> list[dict[str, Any] | InputError]: ...


def canonical_frame(
    resolution: ColumnResolution, frame: pd.DataFrame, *, on_error: Literal["raise", "keep"] = "raise"
) -> list[dict[str, Any]] | list[dict[str, Any] | InputError]:
    """A dataset as canonical records, in row order, with the same values :func:`canonical_record` gives.

    Numeric, boolean and datetime columns are coerced with numpy; other columns value by value.
    Errors name the row by the frame's index label. ``on_error="raise"`` raises the first bad
    row's error; ``"keep"`` puts each bad row's error in its place in the list.
    """
    n_rows = len(frame)
    errors: dict[int, InputError] = {}
    names: list[str] = []
    columns: list[list[Any]] = []
    for name, column, coerce, expected, dtype, is_required in resolution._steps:
        series = frame[column]
        vector = coerce_column(series, dtype, time_format=resolution.time_formats.get(column, "auto"))
        if vector is not None:
            values, infinite = vector
            for position in np.flatnonzero(infinite).tolist():
                errors.setdefault(
                    position,
                    InvalidValueError(
                        column,
                        float(series.iloc[position]),
                        expected,
                        row=_row_label(frame.index, position),
                        reason=ReasonCode.NON_FINITE,
                    ),
                )
        else:
            values = series.tolist()
            for position, value in enumerate(values):
                try:
                    values[position] = coerce(value)
                except Rejected as rejected:
                    values[position] = None
                    where = _row_label(frame.index, position)
                    errors.setdefault(
                        position,
                        InvalidValueError(column, value, expected, row=where, reason=rejected.reason),
                    )
        if is_required:
            for position, value in enumerate(values):
                if value is None and position not in errors:
                    raw = series.iloc[position]
                    where = _row_label(frame.index, position)
                    errors[position] = _missing_required(column, raw, expected, name, where)
        names.append(name)
        columns.append(values)
    absent = dict.fromkeys(resolution._absent)
    records: list[dict[str, Any] | InputError] = []
    rows = zip(*columns, strict=True) if columns else iter([()] * n_rows)
    derived_rows = frame[[c for _, _, c, *_ in resolution._derived]] if resolution._derived else None
    for position, values_of_row in enumerate(rows):
        if position in errors:
            records.append(errors[position])
            continue
        record = {**absent, **dict(zip(names, values_of_row, strict=True))}
        if derived_rows is not None:
            raw_row = dict(zip(derived_rows.columns, derived_rows.iloc[position].tolist(), strict=True))
            try:
                _derive(record, resolution._derived, raw_row, _row_label(frame.index, position))
            except InputError as error:
                records.append(error)
                continue
        records.append(record)
    if on_error == "raise":
        for item in records:
            if isinstance(item, InputError):
                raise item
        return [item for item in records if not isinstance(item, InputError)]
    return records
