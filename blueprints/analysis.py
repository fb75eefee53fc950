"""Which blueprints fit a user's datasets: seed 000's ``analyzeData``, for ``tracer analyze FILE...``.

For every registered blueprint and every dataset, each blueprint input (and each of its stand-ins)
is matched to at most one column, each column to at most one input. A match scores its name times
its kind:

- name: 1.0 when the column's words equal the input's name or one of its synonyms, after
  normalising case, spaces, underscores and camelCase (``customerID`` = ``customer_id``); 0.35..0.65
  when they share a meaningful word (``order_date`` for ``date``); 0.35 for the only timestamp
  left when a blueprint's only unmatched timestamp input has no name match;
- kind: 1.0 when the column's profiled kind is the input's dtype, less when it only could be
  (an id input on a categorical column: 0.9; a numeric input on a categorical column: 0.2);
- stand-ins count 0.85 of a direct match.

Compatibility weighs required inputs (0.6), the label (0.2), optional inputs (0.1) and, for forecast
blueprints, how regular the time series is (0.1). Weights of parts a blueprint doesn't have are
shared out. With a required input missing, the score is scaled into 0..0.49 and the reason says
what is missing. The best dataset wins for each blueprint.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from tracer.blueprints.base import Dtype, InputSpec
from tracer.blueprints.profiling import (
    ColumnKind,
    ColumnProfile,
    DatasetFormatError,
    DatasetProfile,
    TimeSeriesProfile,
    is_time_series,
    load_dataset,
    name_tokens,
    profile_columns,
    profile_dataset,
    time_series_profile,
)

if TYPE_CHECKING:
    from tracer.blueprints.base import Blueprint

__all__ = [
    "ColumnProfile",
    "DatasetFormatError",
    "DatasetProfile",
    "Suggestion",
    "analyze",
    "is_time_series",
    "load_dataset",
    "profile_columns",
    "profile_dataset",
    "render_table",
]


_KIND_FIT: dict[Dtype, dict[ColumnKind, float]] = {
    "id": {"id": 1.0, "categorical": 0.9, "numeric": 0.5, "text": 0.4, "boolean": 0.1, "timestamp": 0.1},
    "timestamp": {"timestamp": 1.0, "numeric": 0.3, "id": 0.2, "categorical": 0.2, "text": 0.1},
    "numeric": {"numeric": 1.0, "boolean": 0.5, "id": 0.4, "categorical": 0.2, "timestamp": 0.1, "text": 0.1},
    "categorical": {"categorical": 1.0, "boolean": 0.8, "id": 0.6, "numeric": 0.5, "text": 0.4, "timestamp": 0.1},
    "boolean": {"boolean": 1.0, "categorical": 0.5, "numeric": 0.4, "id": 0.1},
}  # fmt: skip
_GENERIC_WORDS = frozenset(
    {"id", "date", "time", "at", "of", "the", "a", "by", "per", "in", "on", "to", "is", "has", "no", "number",
     "name", "type", "key", "code", "value", "count", "flag", "amount", "timestamp", "datetime", "total",
     "sum", "avg", "average", "mean", "max", "min"}
)  # fmt: skip
_TIME_WORDS = frozenset({"date", "time", "timestamp", "datetime"})
_TARGET_NAMES = frozenset({"label", "target", "outcome", "class", "y"})
_STAND_IN_WEIGHT = 0.85
_KIND_ONLY_SCORE = 0.35
_ONLY_NUMBER_SCORE = 0.75  # a required number no name found, from the only numeric column left
_MIN_MATCH = 0.15
_WEIGHTS = {"required": 0.6, "label": 0.2, "optional": 0.1, "series": 0.1}
_CONTEXT_WEIGHTS = {"required": 0.3, "label": 0.5, "optional": 0.2, "series": 0.1}
"""For a blueprint that needs no input but learns from any column (``learns_context``): the outcome
to learn from weighs most, then whether there are columns to learn from, then the seed's inputs."""
_USABLE_KINDS = frozenset({"numeric", "boolean", "categorical", "timestamp"})
_ENOUGH_COLUMNS = 3


class Suggestion(BaseModel):
    """One blueprint's fit to the best of the given datasets, as ``analyze`` and the HTTP API return it."""

    model_config = ConfigDict(frozen=True)

    blueprint: str = Field(description="Blueprint id, e.g. 'customer_churn'.")
    name: str
    compatibility: float = Field(ge=0, le=1)
    reason: str
    dataset: str = Field(description="The dataset the column mapping refers to.")
    column_mapping: dict[str, str] = Field(
        description="Blueprint input (or stand-in) name -> column of `dataset`; usable as a deployment's mapping."
    )
    label_column: str | None = Field(default=None, description="The column that carries the outcome, if any.")
    missing: list[str] = Field(description="Required inputs no column was found for.")


@dataclass(frozen=True)
class _Wanted:
    key: str  # the input's name, or the stand-in's
    fills: str  # the input it fills
    accepted: tuple[tuple[str, ...], ...]  # token tuples of the accepted names
    dtype: Dtype
    weight: float


@dataclass(frozen=True)
class _Match:
    wanted: _Wanted
    column: ColumnProfile
    score: float
    kind_fit: float
    note: str = ""


@dataclass(frozen=True)
class _Fit:
    dataset: str
    compatibility: float
    matches: dict[str, _Match]  # input name -> match
    label: _Match | None
    missing: list[str]
    series: TimeSeriesProfile | None


def analyze(
    dataframes: Mapping[str, pd.DataFrame] | Sequence[pd.DataFrame] | pd.DataFrame,
    blueprints: Iterable[type[Blueprint[Any, Any]]] | None = None,
) -> list[Suggestion]:
    """Every blueprint (the registry's, unless given), scored against the datasets, best first.

    ``dataframes`` may be named (``{"customers.csv": frame}``); unnamed ones are ``dataset_0``,
    ``dataset_1``... Each suggestion names the one dataset its mapping refers to.
    """
    if isinstance(dataframes, pd.DataFrame):
        named: Mapping[str, pd.DataFrame] = {"dataset": dataframes}
    elif isinstance(dataframes, Mapping):
        named = dataframes
    else:
        named = {f"dataset_{i}": frame for i, frame in enumerate(dataframes)}
    profiles = {name: profile_dataset(frame, name) for name, frame in named.items()}
    series_cache: dict[tuple[str, str], TimeSeriesProfile | None] = {}

    def series_of(dataset: str, column: str) -> TimeSeriesProfile | None:
        if (dataset, column) not in series_cache:
            columns = profiles[dataset].columns
            series_cache[dataset, column] = time_series_profile(named[dataset], columns, column)
        return series_cache[dataset, column]

    suggestions = []
    for blueprint in _registered() if blueprints is None else blueprints:
        fits = [_fit(blueprint, profile, series_of) for profile in profiles.values()]
        best = max(fits, key=lambda fit: fit.compatibility) if fits else None
        if best is not None:
            suggestions.append(_suggest(blueprint, best))
    return sorted(suggestions, key=lambda s: (-s.compatibility, s.blueprint))


def _registered() -> list[type[Blueprint[Any, Any]]]:
    from tracer.blueprints import registry  # lazily: the registry imports every blueprint

    return cast("list[type[Blueprint[Any, Any]]]", list(registry.list()))


# -- matching -------------------------------------------------------------------------------------


def _wanted(spec: InputSpec) -> list[_Wanted]:
    direct = _Wanted(
        spec.name, spec.name, tuple(name_tokens(n) for n in spec.accepted_names), spec.dtype, 1.0
    )
    stand_ins = [
        _Wanted(
            s.name, spec.name, tuple(name_tokens(n) for n in (s.name, *s.synonyms)), s.dtype, _STAND_IN_WEIGHT
        )
        for s in spec.stand_ins
    ]
    return [direct, *stand_ins]


def _name_score(accepted: tuple[tuple[str, ...], ...], column: tuple[str, ...]) -> float:
    """1.0 for the same words; 0.35..0.65 for a shared meaningful word; else 0."""
    best = 0.0
    compact = "".join(column)
    for words in accepted:
        if "".join(words) == compact:
            return 1.0
        shared = set(words) & set(column)
        if shared - _GENERIC_WORDS or (len(words) == 1 and shared & _TIME_WORDS):
            best = max(best, 0.35 + 0.3 * len(shared) / max(len(words), len(column)))
    return best


def _assign(wanted: list[_Wanted], columns: list[ColumnProfile]) -> dict[str, _Match]:
    """Greedy best-first: each input filled once, each column used once; ties keep declaration order."""
    candidates = []
    for order, want in enumerate(wanted):
        for position, column in enumerate(columns):
            name_score = _name_score(want.accepted, name_tokens(column.name))
            kind_fit = _KIND_FIT[want.dtype].get(column.kind, 0.0)
            score = name_score * kind_fit * want.weight
            if score >= _MIN_MATCH and (name_score == 1.0 or kind_fit >= 0.8):
                candidates.append((-score, order, position, _Match(want, column, score, kind_fit)))
    matches: dict[str, _Match] = {}
    used: set[str] = set()
    for _, _, _, match in sorted(candidates, key=lambda c: c[:3]):
        if match.wanted.fills not in matches and match.column.name not in used:
            matches[match.wanted.fills] = match
            used.add(match.column.name)
    open_times = [w for w in wanted if w.dtype == "timestamp" and w.fills not in matches and w.weight == 1.0]
    free_times = [c for c in columns if c.kind == "timestamp" and c.name not in used]
    if len(open_times) == 1 and len(free_times) == 1:
        matches[open_times[0].fills] = _Match(open_times[0], free_times[0], _KIND_ONLY_SCORE, 1.0)
    return matches


def _fit(
    blueprint: type[Blueprint[Any, Any]],
    dataset: DatasetProfile,
    series_of: Callable[[str, str], TimeSeriesProfile | None],
) -> _Fit:
    inputs = [*blueprint.required_inputs, *blueprint.optional_inputs]
    matches = _assign([w for spec in inputs for w in _wanted(spec)], dataset.columns)
    _only_numeric(blueprint, matches, dataset.columns)
    required = [spec.name for spec in blueprint.required_inputs]
    missing = [name for name in required if name not in matches]
    required_score = sum(matches[n].score for n in required if n in matches) / max(len(required), 1)
    on_context = blueprint.learns_context and not required
    if on_context:  # what it truly needs: columns to learn from (and, below, its outcome)
        usable = sum(
            column.kind in _USABLE_KINDS and column.distinct_values > 1 for column in dataset.columns
        )
        required_score = min(max(usable - 1, 0) / _ENOUGH_COLUMNS, 1.0)  # less the label's own column
    parts: dict[str, float] = {"required": required_score}
    if blueprint.optional_inputs:
        optional = [spec.name for spec in blueprint.optional_inputs]
        parts["optional"] = sum(matches[n].score for n in optional if n in matches) / len(optional)

    label = _label_match(blueprint, matches, dataset.columns)
    rule = blueprint.label.rule is not None and all(name in matches for name in blueprint.label.rule_needs)
    if label is not None:
        parts["label"] = label.score
    elif rule:  # a rule over the inputs: available as far as they are
        parts["label"] = required_score if blueprint.label.column is None else 0.5 * required_score
    else:
        parts["label"] = 0.0
        if on_context and blueprint.label.column is not None:  # nothing to learn from: its outcome is missing
            missing.append(blueprint.label.column.name)
    series = dataset.time_series
    time_match = matches.get(blueprint.time_input or "")
    if time_match is not None and series is not None and time_match.column.name != series.time_column:
        series = series_of(dataset.name, time_match.column.name)
    if blueprint.task == "forecast":
        parts["series"] = 0.0 if series is None else 1.0 if series.regular else 0.5
        if series is None and blueprint.time_input is not None and blueprint.time_input not in missing:
            missing.append(blueprint.time_input)  # a table, not a series: nothing to forecast along

    weights = _CONTEXT_WEIGHTS if on_context else _WEIGHTS
    raw = sum(weights[part] * value for part, value in parts.items()) / sum(weights[part] for part in parts)
    compatibility = raw if not missing else 0.49 * raw
    return _Fit(dataset.name, round(min(max(compatibility, 0.0), 1.0), 2), matches, label, missing, series)


def _only_numeric(
    blueprint: type[Blueprint[Any, Any]], matches: dict[str, _Match], columns: list[ColumnProfile]
) -> None:
    """The one required input no name found, if a number, takes the only numeric column left, as a deployment does
    (:func:`~tracer.blueprints.inputs.resolve_columns`), said in the reason."""
    used = {match.column.name for match in matches.values()}
    free = [column for column in columns if column.kind == "numeric" and column.name not in used]
    unmatched = [spec for spec in blueprint.required_inputs if spec.name not in matches]
    if len(unmatched) == 1 and len(free) == 1:
        spec = unmatched[0]
        if spec.dtype == "numeric" and not spec.stand_ins:
            matches[spec.name] = _Match(
                _wanted(spec)[0], free[0], _ONLY_NUMBER_SCORE, 1.0, "the only numeric column"
            )


def _label_match(
    blueprint: type[Blueprint[Any, Any]], matches: dict[str, _Match], columns: list[ColumnProfile]
) -> _Match | None:
    spec = blueprint.label.column
    if spec is None:
        return None
    if spec.name in matches:
        return matches[spec.name]
    used = {m.column.name for m in matches.values()}
    free = [c for c in columns if c.name not in used]
    found = None
    if spec.name not in {s.name for s in blueprint.inputs()}:  # an input was already looked for
        found = _assign(_wanted(spec), free).get(spec.name)
    if found is None and blueprint.task == "binary":
        generic = [c for c in free if set(name_tokens(c.name)) & _TARGET_NAMES and c.kind == "boolean"]
        if generic:
            found = _Match(_wanted(spec)[0], generic[0], 0.6, 1.0)
    return found


# -- wording ----------------------------------------------------------------------------------------


def _human(name: str) -> str:
    return " ".join(name_tokens(name))


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


_UNITS = (("year", 365.25 * 86_400), ("month", 30.44 * 86_400), ("week", 7 * 86_400), ("day", 86_400.0),
          ("hour", 3_600.0), ("min", 60.0))  # fmt: skip


def _spacing(seconds: float) -> str:
    """``2_592_000.0`` -> ``'~1 month'``: the largest unit the gap is at least 0.9 of."""
    for unit, size in _UNITS:
        if seconds >= 0.9 * size:
            return f"~{round(seconds / size)} {unit}"
    return f"~{seconds:.3g} s"


def _reason(blueprint: type[Blueprint[Any, Any]], fit: _Fit) -> str:
    def shown(match: _Match) -> str:
        doubt = f", but it looks {match.column.kind}" if match.kind_fit < 0.8 else ""
        note = f", {match.note}" if match.note else ""
        return f"{_human(match.wanted.fills)} ({match.column.name}{doubt}{note})"

    required = [spec.name for spec in blueprint.required_inputs]
    direct = [
        shown(fit.matches[n]) for n in required if n in fit.matches and fit.matches[n].wanted.weight == 1.0
    ]
    stand_ins = [
        f"{m.column.name} stands in for {_human(m.wanted.fills)}"
        for n in required
        if (m := fit.matches.get(n)) is not None and m.wanted.weight < 1.0
    ]
    label_spec = blueprint.label.column
    label_name = label_spec.name if label_spec is not None else None
    optional = [
        shown(fit.matches[s.name])
        for s in blueprint.optional_inputs
        if s.name in fit.matches and s.name != label_name
    ]
    if fit.label is not None and label_name not in required:
        direct.append(f"a {_human(fit.label.wanted.fills)} label ({fit.label.column.name})")
    clauses = [f"Found {_join(direct)}"] if direct else []
    clauses += stand_ins
    if optional:
        clauses.append(f"optional {_join(optional)}")
    if label_spec is None and not fit.missing:
        clauses.append("the label comes from the data itself")
    elif label_spec is not None and fit.label is None and not fit.missing:
        clauses.append(
            f"no {_human(label_spec.name)} column: labels need the rule {blueprint.label.rule}"
            if blueprint.label.rule
            else f"no {_human(label_spec.name)} column, so it can score but not learn"
        )
    if blueprint.task == "forecast" and fit.series is not None:
        per = f" per {fit.series.entity_column}" if fit.series.entity_column else ""
        clauses.append(
            f"a regular time series, one row every {_spacing(fit.series.median_spacing_seconds)}{per}"
            if fit.series.regular
            else "irregular timestamps: aggregate them to periods first"
        )
    sentence = "; ".join(clauses) if clauses else "No column matches its inputs"
    sentence = sentence[0].upper() + sentence[1:] + "."
    if fit.missing:
        sentence += f" Missing: {_join([_human(n) for n in fit.missing])}."
    return sentence


def _suggest(blueprint: type[Blueprint[Any, Any]], fit: _Fit) -> Suggestion:
    label = [fit.label] if fit.label is not None else []
    return Suggestion(
        blueprint=blueprint.id,
        name=blueprint.name,
        compatibility=fit.compatibility,
        reason=_reason(blueprint, fit),
        dataset=fit.dataset,
        column_mapping={m.wanted.key: m.column.name for m in (*fit.matches.values(), *label)},
        label_column=fit.label.column.name if fit.label is not None else None,
        missing=fit.missing,
    )


# -- the CLI's side -------------------------------------------------------------------------------


def render_table(suggestions: Sequence[Suggestion], reason_width: int = 72) -> str:
    """A fixed-width table: rank, blueprint, compatibility, dataset (when several) and the wrapped reason.

    >>> found = Suggestion(blueprint="revenue_forecast", name="Revenue Forecast", compatibility=0.9,
    ...     reason="Found date (Date) and revenue (Sales).", dataset="sales.csv", column_mapping={}, missing=[])
    >>> print(render_table([found], reason_width=24))
     #  blueprint         compatibility  reason
    -------------------------------------------------------------
     1  revenue_forecast           0.90  Found date (Date) and
                                         revenue (Sales).
    """
    if not suggestions:
        return "No blueprints are registered."
    several = len({s.dataset for s in suggestions}) > 1
    id_width = max(len("blueprint"), *(len(s.blueprint) for s in suggestions))
    data_width = max(len("dataset"), *(len(s.dataset) for s in suggestions)) if several else 0
    header = ["#".rjust(2), "blueprint".ljust(id_width), "compatibility"]
    if several:
        header.append("dataset".ljust(data_width))
    lines = ["  ".join([*header, "reason"])]
    lines.append("-" * (len(lines[0]) + reason_width - len("reason")))
    indent = " " * (len(lines[0]) - len("reason"))
    for rank, suggestion in enumerate(suggestions, start=1):
        row = [
            str(rank).rjust(2),
            suggestion.blueprint.ljust(id_width),
            f"{suggestion.compatibility:.2f}".rjust(13),
        ]
        if several:
            row.append(suggestion.dataset.ljust(data_width))
        wrapped = textwrap.wrap(suggestion.reason, reason_width) or [""]
        lines.append("  ".join([*row, wrapped[0]]))
        lines.extend(indent + line for line in wrapped[1:])
    return "\n".join(lines)
