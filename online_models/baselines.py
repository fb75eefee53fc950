"""Baselines for ``tracer eval``: what simple models score on the very rows a replay scored.

A blueprint's figures alone don't say whether 0.84 AUC or 12% MAPE is good. These functions put
the obvious alternatives next to them, computed on the same rows, in the order the replay used:

* classification: the base rate (AUC 0.5, and the accuracy of always answering the majority class
  of the first 70% of the rows) and a batch scikit-learn ``HistGradientBoostingClassifier`` fitted
  on the first 70% of the labelled rows in time order and scored on the last 30%, on the dataset's
  own usable columns. The blueprint's progressive scores on that last 30% (it kept learning through
  it, as in production) are the comparable figures; see :func:`compare_binary`;
* forecasts and regression: the naive forecast (the last value of the same series) and the seasonal
  naive one (the value one season earlier in the same series), one step ahead, on the rows where
  both exist; see :func:`compare_forecast`.

Pure functions over plain sequences and a DataFrame: no Kafka, no click. scikit-learn is optional
(the ``baselines`` extra); without it the batch row carries :data:`INSTALL_HINT` instead of figures.

>>> result = compare_forecast(
...     scores=[0.0, 8.0, 11.0, 12.0], labels=[10.0, 10.0, 12.0, 12.0], series=[None] * 4,
...     season_length=1, season_source="given")
>>> result.n_rows, result.naive.mae, result.blueprint.mae
(3, 0.6666666666666666, 1.0)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tracer.blueprints.engines.series_statistics import granularity_of
from tracer.blueprints.inputs import resolve_columns
from tracer.blueprints.profiling import epoch_seconds, parse_numbers, profile_columns
from tracer.online_models.metrics import exact_auc

if TYPE_CHECKING:
    from tracer.online_models.deployment import Deployment
    from tracer.online_models.replay import ReplayReport

__all__ = [
    "INSTALL_HINT",
    "TRAIN_FRACTION",
    "BinaryComparison",
    "BinaryFigures",
    "ErrorFigures",
    "ForecastComparison",
    "batch_features",
    "compare_binary",
    "compare_forecast",
    "compare_replay",
    "model_season_length",
    "season_length_of",
]

INSTALL_HINT = "pip install 'tracer-stream[baselines]'"
"""What the batch baseline row says when scikit-learn is not installed."""
TRAIN_FRACTION = 0.7
"""The batch model learns from this first fraction of the labelled rows, in replay order."""
RANDOM_STATE = 0
_MAX_CATEGORIES = 255  # HistGradientBoosting's max_bins: a categorical column may have at most this many
_DAY_S = 86_400.0


@dataclass(frozen=True)
class BinaryFigures:
    """A classifier's AUC and accuracy (threshold 0.5) on some rows; None where undefined or not run."""

    name: str
    auc: float | None
    accuracy: float | None
    note: str = ""


@dataclass(frozen=True)
class BinaryComparison:
    """The blueprint, the base rate and the batch model on the same last rows of a replay."""

    n_train: int
    n_test: int
    blueprint: BinaryFigures
    base_rate: BinaryFigures
    batch: BinaryFigures
    columns: tuple[str, ...]
    """The dataset columns the batch model used."""

    @property
    def auc_ratio(self) -> float | None:
        """Blueprint AUC / batch AUC on the last rows, when both are defined."""
        return _ratio(self.blueprint.auc, self.batch.auc)


@dataclass(frozen=True)
class ErrorFigures:
    """One-step forecast errors on some rows: MAE, and MAPE over the rows whose value is not zero."""

    name: str
    mae: float | None
    mape: float | None
    note: str = ""


@dataclass(frozen=True)
class ForecastComparison:
    """The blueprint, naive and seasonal naive forecasts on the same rows of a replay."""

    season_length: int
    season_source: str
    """Where ``season_length`` came from: the model, the rows' spacing, or none known."""
    n_rows: int
    min_history: int
    """The rows compared are those whose series already had this many values (the season length,
    or 1 when no series is that long)."""
    blueprint: ErrorFigures
    naive: ErrorFigures
    seasonal_naive: ErrorFigures

    @property
    def best_baseline(self) -> ErrorFigures | None:
        """The baseline with the lower MAPE (None when neither has one)."""
        defined = [b for b in (self.naive, self.seasonal_naive) if b.mape is not None]
        return min(defined, key=lambda b: b.mape or 0.0) if defined else None

    @property
    def mape_ratio(self) -> float | None:
        """Blueprint MAPE / the better baseline's MAPE on the same rows, when both are defined."""
        best = self.best_baseline
        return _ratio(self.blueprint.mape, best.mape if best else None)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0.0 or not math.isfinite(denominator):
        return None
    return numerator / denominator


def compare_replay(
    deployment: Deployment[Any], frame: pd.DataFrame, report: ReplayReport
) -> BinaryComparison | ForecastComparison | None:
    """The baselines for the deployment's task on the rows its replay of ``frame`` scored: the batch
    model and base rate for a classifier (None when too few rows carry a label), naive forecasts for
    the others (none for a multi-class task), with the model's season length when it states one, else
    the rows' calendar's."""
    blueprint, rows = deployment.blueprint, report.rows
    if blueprint.task == "multiclass":  # no naive forecast of a class: its baselines are in its bench
        return None
    if blueprint.task == "binary":
        label = blueprint.label.column
        label_column = None
        if label is not None:
            resolution = resolve_columns(blueprint, frame.columns, deployment.column_mapping)
            label_column = resolution.columns.get(label.name)
        return compare_binary(frame, rows.positions, rows.scores, rows.labels, label_column=label_column)
    season = model_season_length(deployment.model)
    length, source = (season, "the model") if season else season_length_of(rows.times_s, rows.series)
    return compare_forecast(rows.scores, rows.labels, rows.series, season_length=length, season_source=source)


# -- classification ------------------------------------------------------------------------------------


def batch_features(frame: pd.DataFrame, exclude: Collection[str] = ()) -> pd.DataFrame:
    """The columns of ``frame`` a batch model can use, typed for ``categorical_features="from_dtype"``.

    Every column except ``exclude`` (the label column) and those :func:`profile_columns` calls ``id``,
    ``text`` or ``empty`` (near-unique keys and free text, which a tree would only memorise);
    timestamps become epoch seconds, numbers (also ``"1,234"`` strings) floats, booleans 0/1 when the
    column holds bools or numbers, and the other strings pandas categories.
    """
    out: dict[str, Any] = {}
    for profile in profile_columns(frame):
        name = profile.name
        if name in exclude or profile.kind in ("id", "text", "empty"):
            continue
        column = frame[name]
        numeric = pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype)
        if profile.kind == "timestamp":
            out[name] = epoch_seconds(column, profile)
        elif profile.kind == "numeric":
            out[name] = column.to_numpy(dtype=float, na_value=np.nan) if numeric else parse_numbers(column)
        elif profile.kind == "boolean" and numeric:
            out[name] = column.astype("float64").to_numpy(na_value=np.nan)
        else:
            strings = column.astype("string").astype(object)  # str, with NaN (not pd.NA) where missing
            out[name] = strings.where(column.notna(), np.nan).astype("category")
    return pd.DataFrame(out, index=frame.index)


def compare_binary(
    frame: pd.DataFrame,
    positions: Sequence[int],
    scores: Sequence[float],
    labels: Sequence[float | None],
    *,
    label_column: str | None,
    train_fraction: float = TRAIN_FRACTION,
    random_state: int = RANDOM_STATE,
) -> BinaryComparison | None:
    """Base rate and batch model against the blueprint's progressive scores on the last rows.

    ``positions``, ``scores`` and ``labels`` describe the replay's scored rows in replay order
    (positions into ``frame``; labels None where none was learned). The labelled rows are split in
    that order: the first ``train_fraction`` fit the batch model and give the majority class, the rest
    are where all three are measured. None when either part would be empty.
    """
    labelled = [index for index, label in enumerate(labels) if label is not None]
    n_train = int(len(labelled) * train_fraction)
    if n_train == 0 or n_train == len(labelled):
        return None
    train, test = labelled[:n_train], labelled[n_train:]
    y_train = np.array([float(labels[i] or 0.0) >= 0.5 for i in train], dtype=np.float64)
    y_test = np.array([float(labels[i] or 0.0) >= 0.5 for i in test], dtype=np.float64)
    test_scores = np.array([scores[i] for i in test], dtype=np.float64)
    blueprint = BinaryFigures(
        "blueprint (progressive)", exact_auc(y_test, test_scores), _accuracy(y_test, test_scores)
    )
    majority = 1.0 if y_train.mean() >= 0.5 else 0.0
    base_rate = BinaryFigures(
        "base rate",
        0.5,
        float((y_test == majority).mean()),
        f"always {'positive' if majority else 'negative'}",
    )
    features = batch_features(frame, () if label_column is None else (label_column,))
    rows = features.iloc[[positions[i] for i in train + test]].reset_index(drop=True)
    batch = _batch_figures(rows, y_train, y_test, random_state)
    return BinaryComparison(len(train), len(test), blueprint, base_rate, batch, tuple(features.columns))


def _accuracy(y_true: np.ndarray, scores: np.ndarray) -> float:
    return float(((scores >= 0.5) == (y_true >= 0.5)).mean())


def _batch_figures(
    rows: pd.DataFrame, y_train: np.ndarray, y_test: np.ndarray, random_state: int
) -> BinaryFigures:
    """A HistGradientBoostingClassifier fitted on the first ``len(y_train)`` rows, scored on the rest."""
    name = "batch HistGradientBoosting"
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError:
        return BinaryFigures(name, None, None, INSTALL_HINT)
    if rows.shape[1] == 0:
        return BinaryFigures(name, None, None, "no usable column besides the label and ids")
    if len(np.unique(y_train)) < 2:
        return BinaryFigures(name, None, None, "the first 70% of the rows hold one class only")
    train, test = rows.iloc[: len(y_train)].copy(), rows.iloc[len(y_train) :].copy()
    for name_ in rows.columns:
        if isinstance(rows[name_].dtype, pd.CategoricalDtype):  # categories seen in training, at most 255
            kept = train[name_].value_counts().index[:_MAX_CATEGORIES]
            train[name_] = pd.Categorical(train[name_], categories=kept)
            test[name_] = pd.Categorical(test[name_], categories=kept)
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=random_state)
    try:  # a baseline that can't be fitted must not cost the user the evaluation itself
        model.fit(train, y_train)
        probabilities = np.asarray(model.predict_proba(test), dtype=np.float64)[:, 1]
    except (TypeError, ValueError) as error:
        return BinaryFigures(name, None, None, f"could not be fitted: {type(error).__name__}: {error}")
    return BinaryFigures(
        name, exact_auc(y_test, probabilities), _accuracy(y_test, probabilities), "fit on the first 70%"
    )


# -- forecasts and regression ------------------------------------------------------------------------


def model_season_length(model: object) -> int | None:
    """The season length (in rows) a model states through a ``season_length`` int attribute, if any."""
    value = getattr(model, "season_length", None)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


def season_length_of(times_s: Sequence[float | None], series: Sequence[str | None]) -> tuple[int, str]:
    """The calendar's season from the median spacing of consecutive rows within each series.

    Monthly rows give 12, daily rows 7, quarterly 4 (see :func:`granularity_of`); 1 when the spacing is
    unknown or fits no calendar. Returns the length and a few words saying where it came from.

    >>> season_length_of([i * 90 * 86_400.0 for i in range(8)], [None] * 8)
    (4, 'quarterly spacing')
    """
    last: dict[str | None, float] = {}
    deltas: list[float] = []
    for time_s, key in zip(times_s, series, strict=True):
        if time_s is None:
            continue
        previous = last.get(key)
        if previous is not None and time_s > previous:
            deltas.append(time_s - previous)
        last[key] = time_s
    if not deltas:
        return 1, "no time spacing"
    grain = granularity_of(statistics.median(deltas) / _DAY_S)
    if grain.auto_cycle < 1:
        return 1, f"irregular spacing ({grain.period_days:.3g} days)"
    return grain.auto_cycle, f"{grain.name} spacing"


def compare_forecast(
    scores: Sequence[float],
    labels: Sequence[float | None],
    series: Sequence[str | None],
    *,
    season_length: int,
    season_source: str,
) -> ForecastComparison:
    """Naive and seasonal naive one-step forecasts against the blueprint's, on the same rows.

    The rows are the replay's scored rows in replay order; a row's history is the labels of the
    earlier rows of its series. The three are measured on the rows whose series already has
    ``season_length`` values (both baselines exist there); when no row has that many, the seasonal
    naive is left undefined and the rows with one earlier value are used.
    """
    m = max(1, season_length)
    history: dict[str | None, list[float]] = {}
    rows: list[tuple[float, float, float, float | None]] = []  # actual, blueprint, naive, seasonal naive
    for score, label, key in zip(scores, labels, series, strict=True):
        if label is None:
            continue
        past = history.setdefault(key, [])
        if past:
            rows.append((label, score, past[-1], past[-m] if len(past) >= m else None))
        past.append(label)
    seasonal_rows = [row for row in rows if row[3] is not None]
    note = ""
    if seasonal_rows:
        rows = seasonal_rows
    else:
        note = f"undefined: no series has {m} earlier values"
    actual = np.array([row[0] for row in rows], dtype=np.float64)

    def errors(name: str, column: int, note: str = "") -> ErrorFigures:
        if not rows or note:
            return ErrorFigures(name, None, None, note)
        predicted = np.array([row[column] for row in rows], dtype=np.float64)
        return ErrorFigures(name, *_mae_mape(actual, predicted))

    return ForecastComparison(
        season_length=m,
        season_source=season_source,
        n_rows=len(rows),
        min_history=m if seasonal_rows else 1,
        blueprint=errors("blueprint (progressive)", 1),
        naive=errors("naive (last value)", 2),
        seasonal_naive=errors(f"seasonal naive (m={m})", 3, note),
    )


def _mae_mape(actual: np.ndarray, predicted: np.ndarray) -> tuple[float, float | None]:
    """MAE over every row, MAPE over the rows whose actual value is not zero (as the replay's metrics)."""
    error = np.abs(actual - predicted)
    nonzero = actual != 0.0
    mape = float((error[nonzero] / np.abs(actual[nonzero])).mean()) if nonzero.any() else None
    return float(error.mean()), mape
