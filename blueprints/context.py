"""Context features: what a blueprint learns from the user's columns it did not declare.

Real tables carry most of their signal in columns no recipe can name in advance: a telecom churn
table's contract type and monthly charges, a credit table's job and assets. A blueprint learns from
its declared semantic features *and* from every other usable column, profiled once:

1. :func:`profile_context` reads a dataset (an upload, a replay, or a stream's first
   :data:`PROFILE_ROWS` events) and decides, column by column, what each one becomes. The result, a
   :class:`ContextProfile`, is stored in the deployment and pickled with it, so a replay after a
   crash, an HTTP prediction and the stream featurize a row the same way.
2. :func:`context_features` turns one raw row into features with that profile. It never raises: a
   value that does not fit its column (a word in a numeric column, a category never seen) becomes a
   missing feature or the category ``"other"``, never a dead letter.

What a column becomes:

==============  ==========================================================================
numeric         the number (strings like ``"1,234"`` too), and with more than
                :data:`MIN_DISTINCT_FOR_BINS` distinct values also its decile as a category
                (``"tenure#bin"`` = ``"b3"``), so a linear model can bend with it
boolean         1.0 / 0.0 for yes/no-like values, the value itself as a category otherwise
categorical     the value, one-hot encoded by the model; past the :data:`MAX_CATEGORIES` most
                frequent of the profile, ``"other"``
timestamp       its month and weekday as categories (``"signup#month"`` = ``"m3"``)
==============  ==========================================================================

Left out, each with its reason in :attr:`ContextProfile.left_out`: the label's column, the columns
the blueprint's inputs read (its semantic features use them), a column named like the label (``churn_reason``) or
equal to it under another name (two values that match the label's one to one), ids, free text,
empty and constant columns.

>>> frame = pd.DataFrame({
...     "plan": ["basic", "pro", "basic", "team", "pro", "basic"], "fee": [10, 20, 10, 25, 20, 12],
...     "user_id": ["u1", "u2", "u3", "u4", "u5", "u6"], "Exited": ["No", "Yes", "No", "No", "Yes", "No"],
...     "left_flag": [0, 1, 0, 0, 1, 0]})
>>> profile = profile_context(frame, label_column="Exited", label_words=("churned", "Exited"))
>>> [(c.column, c.kind) for c in profile.columns]
[('fee', 'numeric'), ('plan', 'categorical')]
>>> dict(profile.left_out)
{'user_id': 'an id (6 distinct values in 6 rows)', 'Exited': 'the label', 'left_flag': 'the label under another name (its two values match the label one to one)'}
>>> context_features(profile, {"plan": "enterprise", "fee": "15", "user_id": "u9"})
{'fee': 15.0, 'plan': 'other'}
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from tracer.blueprints.base import Features
from tracer.blueprints.coercion import COERCERS
from tracer.blueprints.columns import column_values
from tracer.blueprints.inputs import normalize_name
from tracer.blueprints.profiling import ColumnProfile, name_tokens, profile_columns

__all__ = [
    "CONTEXT_KEY",
    "MAX_CATEGORIES",
    "MIN_DISTINCT_FOR_BINS",
    "PROFILE_ROWS",
    "ContextColumn",
    "ContextKind",
    "ContextProfile",
    "context_features",
    "context_features_many",
    "profile_context",
]

ContextKind = Literal["numeric", "boolean", "categorical", "timestamp"]
CONTEXT_KEY = "__context__"
"""The key under which a canonical record carries its context features (they are not an input)."""
PROFILE_ROWS = 256
"""A stream with no profile yet is profiled from its first this many rows (one learning block)."""
MAX_CATEGORIES = 50
"""The most frequent categories of a column kept as themselves; the rest are ``"other"``."""
MIN_DISTINCT_FOR_BINS = 10
"""A numeric column with more distinct values than this also gets its decile as a category."""
_BIN_QUANTILES = np.linspace(0.1, 0.9, 9)
_INFINITE = (float("inf"), float("-inf"))
_BIN_NAMES = tuple(f"b{index}" for index in range(len(_BIN_QUANTILES) + 1))
_BIN_ARRAY = np.array(_BIN_NAMES, dtype=object)
_MIN_ROWS_FOR_BINS = 20
_LABEL_TWIN_AGREEMENT = 0.99
_TRUE = frozenset({"yes", "y", "true", "t", "1", "1.0", "on"})
_FALSE = frozenset({"no", "n", "false", "f", "0", "0.0", "off"})


_PlanEntry = tuple[str, str, str, str, tuple[float, ...], frozenset[str]]


@dataclass(frozen=True)
class ContextColumn:
    """One column used as context: its name in the data, the feature it feeds, and how."""

    column: str
    feature: str
    kind: ContextKind
    bin_edges: tuple[float, ...] = ()
    categories: frozenset[str] = frozenset()

    @property
    def bin_feature(self) -> str:
        """The feature that carries the column's decile (``"tenure#bin"``)."""
        return f"{self.feature}#bin"


@dataclass(frozen=True)
class ContextProfile:
    """Which of a dataset's columns a deployment learns from as context, and which it left out, why."""

    columns: tuple[ContextColumn, ...]
    left_out: tuple[tuple[str, str], ...]
    rows_profiled: int

    @cached_property
    def plan(self) -> tuple[_PlanEntry, ...]:
        """Each column's (column, kind, feature, decile feature, edges, categories), as
        :func:`context_features` reads them: plain tuples, built once per profile."""
        return tuple(
            (c.column, c.kind, c.feature, c.bin_feature, c.bin_edges, c.categories) for c in self.columns
        )

    def describe(self) -> dict[str, Any]:
        """For a deployment's info: the columns used (with their kind) and those left out with why."""
        return {
            "rows_profiled": self.rows_profiled,
            "used": {column.column: column.kind for column in self.columns},
            "left_out": dict(self.left_out),
        }


def profile_context(
    frame: pd.DataFrame,
    *,
    claimed: Collection[str] = (),
    label_column: str | None = None,
    label_words: Iterable[str] = (),
) -> ContextProfile:
    """Decide once what each column of ``frame`` becomes as context (see the module docstring).

    ``claimed`` are the columns the blueprint's inputs read: its semantic features already use them.
    ``label_column`` is the one carrying the outcome (its twins under other names are left out too);
    ``label_words`` name the label (its input's name and its column's): a column whose name holds
    one of them of five letters or more (``churn_reason``) is left out.
    """
    words = {token for word in label_words for token in name_tokens(word) if len(token) >= 5}
    label = _label_values(frame, label_column)
    used: list[ContextColumn] = []
    left_out: list[tuple[str, str]] = []
    for profile in profile_columns(frame):
        column = profile.name
        reason = _reason_to_leave_out(profile, frame, label_column, words, label)
        if reason is None and column in claimed:
            reason = "read by the blueprint's inputs"
        if reason is not None:
            left_out.append((column, reason))
            continue
        used.append(_context_column(profile, frame[column], column))
    # by name: the features come out in one order whatever the order of the data's columns, so the
    # model's sums (and so its scores, to the last bit) don't depend on it
    return ContextProfile(tuple(sorted(used, key=lambda c: c.column)), tuple(left_out), len(frame))


def _reason_to_leave_out(
    profile: ColumnProfile,
    frame: pd.DataFrame,
    label_column: str | None,
    label_words: set[str],
    label: pd.Series | None,
) -> str | None:
    column = profile.name
    if column == label_column:
        return "the label"
    if any(word in normalize_name(token) for token in name_tokens(column) for word in label_words):
        return "named like the label (a leak)"
    if profile.kind in ("id", "text", "empty"):
        what = {"id": "an id", "text": "free text", "empty": "empty"}[profile.kind]
        if profile.kind == "id":
            return f"{what} ({profile.distinct_values} distinct values in {len(frame)} rows)"
        return what
    if profile.distinct_values <= 1:
        return "constant"
    if label is not None and profile.distinct_values == 2 and _twin_of(frame[column], label):
        return "the label under another name (its two values match the label one to one)"
    return None


def _label_values(frame: pd.DataFrame, label_column: str | None) -> pd.Series | None:
    if label_column is None or label_column not in frame.columns:
        return None
    values = frame[label_column]
    return values if values.notna().any() else None


def _twin_of(values: pd.Series, label: pd.Series) -> bool:
    present = (values.notna() & label.notna()).to_numpy()
    texts, labels = values.astype(str).to_numpy()[present], label.astype(str).to_numpy()[present]
    if len(texts) < 2:
        return False
    counts = Counter(zip(texts.tolist(), labels.tolist(), strict=True)).most_common()
    if len(counts) < 3 or counts[1][1] != counts[2][1]:  # the two most frequent pairs, with no tie
        top = counts[:2]
        values_used, labels_used = {value for (value, _), _ in top}, {lab for (_, lab), _ in top}
        return len(values_used) == len(labels_used) == 2 and (
            sum(count for _, count in top) >= _LABEL_TWIN_AGREEMENT * len(texts)
        )
    both = pd.DataFrame({"value": values.astype(str), "label": label.astype(str)})[  # a tie: as ever
        values.notna() & label.notna()
    ]
    pairs = both.value_counts()
    top_two = pairs.nlargest(2)
    values_used = {value for value, _ in top_two.index}
    labels_used = {lab for _, lab in top_two.index}
    return len(values_used) == len(labels_used) == 2 and top_two.sum() >= _LABEL_TWIN_AGREEMENT * len(both)


def _context_column(profile: ColumnProfile, values: pd.Series, feature: str) -> ContextColumn:
    kind = profile.kind
    if kind == "numeric":
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        numbers = numbers[np.isfinite(numbers)]
        edges: tuple[float, ...] = ()
        if profile.distinct_values > MIN_DISTINCT_FOR_BINS and len(numbers) >= _MIN_ROWS_FOR_BINS:
            edges = tuple(float(edge) for edge in np.unique(np.quantile(numbers, _BIN_QUANTILES)))
        return ContextColumn(profile.name, feature, "numeric", bin_edges=edges)
    if kind == "timestamp":
        return ContextColumn(profile.name, feature, "timestamp")
    counts = values.dropna().astype(str).str.strip().value_counts()
    categories = frozenset(counts.index[:MAX_CATEGORIES].tolist())
    return ContextColumn(profile.name, feature, "boolean" if kind == "boolean" else "categorical",
                         categories=categories)  # fmt: skip


def context_features(profile: ContextProfile, raw_row: Mapping[Any, Any]) -> Features:
    """One raw row's context features under ``profile``. Never raises: a value that doesn't fit is
    left out (missing) or becomes ``"other"``."""
    features: Features = {}
    get = raw_row.get
    for entry in profile.plan:
        value = get(entry[0])
        if value is not None:
            _put(features, entry, value)
    return features


def context_features_many(profile: ContextProfile, rows: Sequence[Mapping[Any, Any]]) -> list[Features]:
    """:func:`context_features` of each row (the same features, in the same order), column by column:
    a column of one JSON type at once, any other value by value."""
    out: list[Features] = [{} for _ in rows]
    for entry in profile.plan:
        column, kind, feature, bin_feature, edges, categories = entry
        values = column_values(rows, column)
        kinds = set(map(type, values))
        kinds.discard(type(None))
        if kind == "numeric" and kinds == {float}:
            numbers = np.array(values, dtype=float)  # None -> NaN, left out as a NaN is
            usable = np.isfinite(numbers).tolist()
            if edges:
                bins = _BIN_ARRAY[np.searchsorted(np.array(edges), numbers, side="right")].tolist()
                for features, value, use, name in zip(out, values, usable, bins, strict=True):
                    if use:
                        features[feature] = value
                        features[bin_feature] = name
            else:
                for features, value, use in zip(out, values, usable, strict=True):
                    if use:
                        features[feature] = value
        elif kind == "categorical" and kinds == {str}:
            labels = {value: _category(value, categories) for value in set(values) if value is not None}
            for features, value in zip(out, values, strict=True):
                if value is not None and (label := labels[value]) is not None:
                    features[feature] = label
        elif kind == "boolean" and kinds == {bool}:
            for features, value in zip(out, values, strict=True):
                if value is not None:
                    features[feature] = 1.0 if value else 0.0
        else:
            for features, value in zip(out, values, strict=True):
                if value is not None:
                    _put(features, entry, value)
    return out


def _put(features: Features, entry: _PlanEntry, value: Any) -> None:
    """Set one present value's features (none for a value that doesn't fit)."""
    _, kind, feature, bin_feature, edges, categories = entry
    value_type = type(value)
    if kind == "numeric":
        if value_type is not float and value_type is not int:
            value = _number(value)
            if value is None:
                return
        elif value != value or value in _INFINITE:
            return
        features[feature] = float(value)
        if edges:
            features[bin_feature] = _BIN_NAMES[bisect_right(edges, value)]
    elif value_type is float and value != value:
        return
    elif kind == "categorical":
        label = _category(value if value_type is str else str(value), categories)
        if label is not None:
            features[feature] = label
    elif kind == "boolean":
        _boolean(feature, categories, value, features)
    else:
        _timestamp(feature, value, features)


def _category(text: str, categories: frozenset[str]) -> str | None:
    """A categorical value as its feature: itself if kept, ``"other"`` if not, None if blank."""
    if text in categories:
        return text
    text = text.strip()
    if not text:
        return None
    return text if text in categories else "other"


def _number(value: Any) -> float | None:
    """A finite number from a value of another type (``"1,234"``, a bool), else None."""
    try:
        number = COERCERS["numeric"](value)
    except Exception:  # a context value never costs its row, whatever it is
        return None
    return None if number is None or number in _INFINITE else float(number)


def _boolean(feature: str, categories: frozenset[str], value: Any, features: Features) -> None:
    if isinstance(value, (bool, int, float)):
        features[feature] = float(bool(value))
        return
    text = str(value).strip()
    lowered = text.lower()
    if lowered in _TRUE:
        features[feature] = 1.0
    elif lowered in _FALSE:
        features[feature] = 0.0
    elif text:
        features[feature] = text if text in categories else "other"


def _timestamp(feature: str, value: Any, features: Features) -> None:
    try:
        seconds = COERCERS["timestamp"](value)
    except Exception:  # a context value never costs its row, whatever it is
        return
    if seconds is None:
        return
    try:
        moment = datetime.fromtimestamp(float(seconds), UTC)
    except (OverflowError, OSError, ValueError):
        return
    features[f"{feature}#month"] = f"m{moment.month}"
    features[f"{feature}#weekday"] = f"w{moment.weekday()}"
