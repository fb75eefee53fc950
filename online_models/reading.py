"""How a deployment reads a user's rows: columns to inputs, dates, and the context profile.

:class:`ColumnReading` is the part of :class:`~tracer.online_models.deployment.Deployment` that turns
a raw row (or a whole dataset) into canonical records, deciding once what it must decide once:

- the column resolution of each distinct set of column names (cached), where a required number no
  name finds takes the only numeric column left;
- how each date column is written (:attr:`time_formats`), from a dataset's whole column or a
  stream's first value;
- the context profile (:attr:`context`, :mod:`~tracer.blueprints.context`), from a dataset or the
  stream's first ``PROFILE_ROWS`` rows; each record then carries its context features under
  ``CONTEXT_KEY``.

A row with no value to score from (nothing but its id and label) is refused here, with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from tracer.blueprints.base import Blueprint, Features
from tracer.blueprints.columns import canonical_columns
from tracer.blueprints.context import (
    CONTEXT_KEY,
    PROFILE_ROWS,
    ContextProfile,
    context_features,
    context_features_many,
    profile_context,
)
from tracer.blueprints.dates import TimeFormat, infer_time_format
from tracer.blueprints.errors import InputError
from tracer.blueprints.inputs import ColumnResolution, canonical_frame, canonical_record, resolve_columns
from tracer.online_models.scored import RowId
from tracer.schemas import ReasonCode

__all__ = ["ColumnReading", "scoring_error"]

_MAX_RESOLUTIONS = 256
_MIN_BLOCK = 8
"""Blocks of fewer rows are read row by row (reading by columns costs a little per column)."""


class ColumnReading:
    """Reading rows into canonical records (the attributes ``Deployment`` sets)."""

    blueprint: Blueprint[Any, Any]
    column_mapping: dict[str, str]
    context: ContextProfile | None
    time_formats: dict[str, TimeFormat]
    _profile_rows: list[Mapping[str, Any]]
    _resolutions: dict[tuple[Any, ...], ColumnResolution]

    # -- context: the user's other columns -------------------------------------------------------------

    def profile(self, frame: pd.DataFrame) -> ContextProfile | None:
        """Profile ``frame``'s columns for context features, once: a deployment that has a profile keeps
        it, so replays and the stream see the same one. None if the blueprint learns no context."""
        if self.context is not None or not self.blueprint.learns_context or frame.empty:
            return self.context
        resolution = self.resolve_frame(frame)
        label = self.blueprint.label.column
        label_column = resolution.columns.get(label.name) if label is not None else None
        claimed = {column for column in resolution.columns.values() if column is not None}
        claimed |= {column for _, column in resolution.stand_ins.values()}
        self.context = profile_context(
            frame,
            claimed=claimed,
            label_column=label_column,
            label_words=(label.name, label_column or "") if label is not None else (),
        )
        self._profile_rows = []
        return self.context

    def _context_of(self, raw: Mapping[str, Any], observe: bool) -> Features | None:
        """The raw row's context features; until the stream's profile is taken, None (and the row is kept
        for it when ``observe``: a row of the stream, not a request from outside it)."""
        if self.context is None:
            if not observe:
                return None
            self._profile_rows.append(dict(raw))
            if len(self._profile_rows) < PROFILE_ROWS:
                return None
            self.profile(pd.DataFrame.from_records(self._profile_rows))
            if self.context is None:
                return None
        return context_features(self.context, raw)

    def resolve_frame(self, frame: pd.DataFrame) -> ColumnResolution:
        """How ``frame``'s columns feed the blueprint's inputs: by name, else (for a required number no
        name finds) the only numeric column left, as a stream's row does it."""
        numeric = [
            column
            for column in frame.columns
            if is_numeric_dtype(frame[column].dtype) and not is_bool_dtype(frame[column].dtype)
        ]
        return self._resolve(frame.columns, numeric, lambda column: frame[column])

    def _nothing_to_score(self, record: Mapping[str, Any]) -> bool:
        """Whether a record has no value but its entity and its label: no feature to score from."""
        skip = self._not_scored_from()
        return all(value is None for name, value in record.items() if name not in skip)

    def _resolve(
        self, columns: Iterable[Any], numeric: list[Any], values_of: Callable[[str], Iterable[object]]
    ) -> ColumnResolution:
        """Resolve ``columns``; a date column seen for the first time has its format decided from
        ``values_of(column)`` and kept, so every later row is read the same way."""
        columns = list(columns)
        blueprint, mapping, formats = self.blueprint, self.column_mapping, self.time_formats
        resolution = resolve_columns(
            blueprint, columns, mapping, numeric_columns=numeric, time_formats=formats
        )
        dates = [
            column
            for spec in blueprint.inputs()
            if spec.dtype == "timestamp" and (column := resolution.columns.get(spec.name)) is not None
        ]
        new = [column for column in dates if column not in formats]
        if not new:
            return resolution
        for column in new:
            formats[column] = infer_time_format(values_of(column), column)
        self._resolutions.clear()
        return resolve_columns(blueprint, columns, mapping, numeric_columns=numeric, time_formats=formats)

    def canonical_frame(self, frame: pd.DataFrame) -> list[dict[str, Any] | InputError]:
        """A dataset's rows as canonical records (an InputError in a bad row's place), with their context
        features; the deployment takes its profile from ``frame`` if it has none yet."""
        records = canonical_frame(self.resolve_frame(frame), frame, on_error="keep")
        if self.profile(frame) is None:
            return records
        profile = self.context
        assert profile is not None
        for record, raw in zip(records, frame.to_dict("records"), strict=True):
            if not isinstance(record, InputError):
                record[CONTEXT_KEY] = context_features(profile, raw)
        return records

    def _resolution_of(self, raw: Mapping[str, Any], columns: tuple[Any, ...]) -> ColumnResolution:
        """The resolution of a row's ``columns`` (its keys), cached per distinct set of names."""
        resolution = self._resolutions.get(columns)
        if resolution is None:
            numeric = [column for column, value in raw.items() if type(value) is float or type(value) is int]
            resolution = self._resolve(columns, numeric, lambda column: _numbers_only(raw.get(column)))
            if len(self._resolutions) >= _MAX_RESOLUTIONS:
                self._resolutions.clear()
            self._resolutions[columns] = resolution
        return resolution

    def canonical_rows(
        self, rows: Sequence[Any], row_ids: Sequence[RowId]
    ) -> list[dict[str, Any] | InputError]:
        """Each row of a stream's block as :meth:`_canonical` reads it (an error in a bad row's place),
        rows with the same column names column by column (:func:`canonical_columns`); a bad row, and
        every row of a block read before the stream's context profile is taken, on its own."""
        if len(rows) < _MIN_BLOCK or (self.blueprint.learns_context and self.context is None):
            return [self._canonical_or_error(raw, row) for raw, row in zip(rows, row_ids, strict=False)]
        groups: dict[tuple[Any, ...], list[int]] = {}
        for position, raw in enumerate(rows):
            if type(raw) is not dict:
                return [self._canonical_or_error(raw, row) for raw, row in zip(rows, row_ids, strict=False)]
            groups.setdefault(tuple(raw), []).append(position)
        out: list[dict[str, Any] | InputError | None] = [None] * len(rows)
        for columns, positions in groups.items():  # in the order of their first row, as row by row
            group = [rows[position] for position in positions]
            try:
                resolution = self._resolution_of(group[0], columns)
            except Exception:
                for position in positions:
                    out[position] = self._canonical_or_error(rows[position], row_ids[position])
                continue
            records = canonical_columns(resolution, group)
            contexts = (
                context_features_many(self.context, group)
                if self.context is not None and self.blueprint.learns_context
                else None
            )
            skip = self._not_scored_from()
            values = [name for name in _record_names(resolution) if name not in skip]
            for index, (position, record) in enumerate(zip(positions, records, strict=True)):
                if record is None:
                    out[position] = self._canonical_or_error(rows[position], row_ids[position])
                elif contexts is None:
                    out[position] = record
                elif context := contexts[index]:
                    record[CONTEXT_KEY] = context
                    out[position] = record
                elif all(record[name] is None for name in values):
                    out[position] = _nothing_to_score_from(self.blueprint, row_ids[position])
                else:
                    out[position] = record
        return cast(list[dict[str, Any] | InputError], out)

    def _canonical_or_error(self, raw: Any, row: RowId) -> dict[str, Any] | InputError:
        try:
            return self._canonical(raw, row)
        except Exception as error:
            return error if isinstance(error, InputError) else scoring_error(error, row)

    def _not_scored_from(self) -> set[str]:
        """The inputs a record can have alone and still have nothing to score from: its entity, its label."""
        label = self.blueprint.label.column
        return {self.blueprint.entity_input, label.name if label is not None else ""}

    def _canonical(self, raw: Mapping[str, Any], row: RowId, *, observe: bool = True) -> dict[str, Any]:
        if type(raw) is not dict and not isinstance(raw, Mapping):
            error = InputError(f"row {row}: expected an object of column -> value, got {type(raw).__name__}")
            error.reason = ReasonCode.NOT_AN_OBJECT
            raise error
        resolution = self._resolution_of(raw, tuple(raw))
        record = canonical_record(resolution, raw, row=row)
        if self.blueprint.learns_context:
            context = self._context_of(raw, observe)
            if context:
                record[CONTEXT_KEY] = context
            elif self._nothing_to_score(record) and (
                self.context is not None or not resolution.unused_columns or not observe
            ):  # before the stream's profile, a stream row's other columns count: they will feed it
                raise _nothing_to_score_from(self.blueprint, row)
        return record


def scoring_error(error: Exception, row: RowId) -> InputError:
    """An unexpected error while reading or scoring a row, as its ``scoring_error`` dead letter."""
    where = f" (row {row})" if row is not None else ""
    failure = InputError(f"scoring failed{where}: {type(error).__name__}: {error}")
    failure.reason = ReasonCode.SCORING_ERROR
    failure.__cause__ = error
    return failure


def _record_names(resolution: ColumnResolution) -> tuple[str, ...]:
    """The keys of the canonical records of ``resolution``."""
    return (
        *resolution._absent,
        *(step[0] for step in resolution._steps),
        *(derived[0] for derived in resolution._derived),
    )


def _numbers_only(value: object) -> list[object]:
    """A stream's first value of a date column, if a number (a decimal year, an epoch): one string
    can't tell day-first from month-first, so strings stay ``auto``."""
    return [value] if type(value) is float or type(value) is int else []


def _nothing_to_score_from(blueprint: Blueprint[Any, Any], row: RowId) -> InputError:
    looked = ", ".join(spec.name for spec in blueprint.inputs() if spec.name != blueprint.entity_input)
    where = f"row {row}" if row is not None else "the row"
    error = InputError(
        f"{blueprint.id}: {where} has nothing to score from: no value for any of {looked}, and no other "
        "column besides its id and label"
    )
    error.reason = ReasonCode.MISSING_FIELD
    return error
