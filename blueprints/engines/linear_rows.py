"""Score and learn many feature dicts through ``ScaleAndEncode() | <River linear model>`` as matrices.

River's mini-batch verbs take a DataFrame; building one from a micro-batch of feature dicts cost
more than the work itself. Here the dicts go straight into a matrix of the numeric features and a
list of the one-hot columns each row switches on (:func:`row_matrix`), and then:

- :func:`linear_block` scales the matrix with the scaler's running means and variances and takes
  its product with the weights: what the adapter's ``predict_one`` computes row by row. It keeps
  what explains each output, too: the scaled values and each feature's share of the raw output
  (weight × scaled value, a string feature's share the weight of its one-hot column), what the
  adapter's ``contributions`` and ``scaled_values`` give one row at a time. A numeric
  feature is ``log1p``-ed if the step says so, then ``(x - mean) / std`` (0 when the variance is 0,
  as River's scaler); a missing (None or NaN) one contributes nothing; a string feature ``k = v``
  adds the weight of the one-hot column ``k_v`` (0 if unseen); the raw output goes through the
  model's own ``loss.mean_func`` one float at a time, as ``predict_one`` does. Only the order of
  the additions differs from River's, so results agree to the last bits or so.
- :func:`learn_linear` is what River's ``Pipeline.learn_many`` does with a frame of those rows:
  the scaler learns the batch (``ScaleAndEncode.learn_matrix``), then the linear model takes one
  mini-batch step on the scaled and one-hot columns: River's own ``learn_many`` arithmetic, run on
  the matrix for plain SGD (the same to the bit, tested), else its ``learn_many`` of a DataFrame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
from river import optim

from tracer.blueprints.base import Features

if TYPE_CHECKING:
    from tracer.blueprints.engines.scale_encode import ScaleAndEncode

__all__ = ["LinearBlock", "RowMatrix", "learn_linear", "linear_block", "row_matrix"]


class RowMatrix(NamedTuple):
    """Feature dicts as matrices: numeric columns (log1p applied, NaN where missing) and one-hot cells."""

    numeric: list[str]
    values: np.ndarray
    one_hot: list[tuple[int, str, str]]
    """(row, string feature, its one-hot column name) for every string feature of every row."""


class LinearBlock(NamedTuple):
    """A micro-batch through the linear route: each row's output, and what explains it."""

    outputs: list[float]
    numeric: list[str]
    """The numeric features, one column of ``scaled`` and ``shares`` each."""
    scaled: np.ndarray
    """Rows × numeric features as the linear step sees them (z-scores; 0 where missing)."""
    shares: np.ndarray
    """Each numeric feature's share of the raw output: its weight × its scaled value."""
    one_hot: list[tuple[int, str, float]]
    """(row, string feature, its share: the weight of its one-hot column, 0 if unseen)."""


def row_matrix(route: ScaleAndEncode, rows: Sequence[Features]) -> RowMatrix:
    """``rows`` split as ``ScaleAndEncode.split_one`` splits each, gathered into one matrix."""
    return _numeric_matrix(route, rows) or _split_rows(route, rows)


def _numeric_matrix(route: ScaleAndEncode, rows: Sequence[Features]) -> RowMatrix | None:
    """What :func:`_split_rows` gives, the same to the bit, for the common case: every row has the
    first row's keys in its order, every value is a number (bool, int or float) and the first row
    has no NaN (so the columns come in its key order). numpy converts the values in one call;
    ``log1p`` columns go through ``math.log1p`` cell by cell, as the slow path does. None otherwise."""
    keys = tuple(rows[0]) if rows else ()
    if not keys or any(tuple(x) != keys for x in rows):
        return None
    cells = np.array([tuple(x.values()) for x in rows])
    if cells.dtype.kind not in "biuf":  # a string, a None or an int too large for int64
        return None
    values = cells.astype(np.float64)
    if np.isnan(values[0]).any():
        return None
    logged = route.log1p_features
    for column, key in enumerate(keys):
        if key in logged:
            values[:, column] = [
                math.log1p(v) if v > 0.0 else (0.0 if v == v else v) for v in values[:, column].tolist()
            ]
    return RowMatrix(list(keys), values, [])


def _split_rows(route: ScaleAndEncode, rows: Sequence[Features]) -> RowMatrix:
    """:func:`row_matrix` cell by cell, for any rows."""
    logged = route.log1p_features
    columns: dict[str, int] = {}
    at_row: list[int] = []
    at_column: list[int] = []
    numbers: list[float] = []
    one_hot: list[tuple[int, str, str]] = []
    for r, x in enumerate(rows):
        for key, value in x.items():
            if type(value) is str:
                one_hot.append((r, key, f"{key}_{value}"))
            elif value is not None and value == value:
                number = float(value)
                if key in logged:
                    number = math.log1p(number) if number > 0.0 else 0.0
                at_row.append(r)
                at_column.append(columns.setdefault(key, len(columns)))
                numbers.append(number)
    values = np.full((len(rows), len(columns)), np.nan)
    values[np.array(at_row, dtype=np.intp), np.array(at_column, dtype=np.intp)] = numbers
    return RowMatrix(list(columns), values, one_hot)


def linear_block(route: ScaleAndEncode, glm: Any, rows: Sequence[Features]) -> LinearBlock:
    """The linear model's output (``mean_func`` of the raw output) for each row, as ``predict_one``
    gives it, with each row's scaled values and shares."""
    matrix = row_matrix(route, rows)
    scaled = route.scale_matrix(matrix.numeric, matrix.values)
    weights = glm._weights  # River's VectorDict: .get() reads without inserting
    coefficients = np.array([weights.get(name, 0.0) for name in matrix.numeric], dtype=np.float64)
    shares = scaled * coefficients
    raw = shares.sum(axis=1) + glm.intercept
    one_hot = [(r, key, weights.get(column, 0.0)) for r, key, column in matrix.one_hot]
    for r, _, weight in one_hot:
        raw[r] += weight
    mean_func = glm.loss.mean_func
    outputs = [float(mean_func(value)) for value in raw.tolist()]
    return LinearBlock(outputs, matrix.numeric, scaled, shares, one_hot)


def learn_linear(route: ScaleAndEncode, glm: Any, rows: Sequence[Features], y: pd.Series) -> None:
    """One mini-batch of ``rows`` with targets ``y``, learned as River's ``Pipeline.learn_many`` would."""
    matrix = row_matrix(route, rows)
    route.learn_matrix(matrix.numeric, matrix.values)
    scaled = route.scale_matrix(matrix.numeric, matrix.values)
    one_hot_columns: dict[str, int] = {}
    for _, _, column in matrix.one_hot:
        one_hot_columns.setdefault(column, len(one_hot_columns))
    encoded = np.zeros((len(rows), len(one_hot_columns)))
    for r, _, column in matrix.one_hot:
        encoded[r, one_hot_columns[column]] = 1.0
    columns = matrix.numeric + list(one_hot_columns)
    cells = np.asfortranarray(np.hstack([scaled, encoded]))  # a DataFrame's layout: the same sums
    plain = type(glm.optimizer) is optim.SGD and type(glm.initializer) is optim.initializers.Zeros
    if plain and glm.l1 == 0 and len(set(columns)) == len(columns):
        _sgd_step(glm, cells, columns, y)
    else:
        frame = pd.DataFrame(cells, columns=columns)
        glm.learn_many(frame, y.set_axis(frame.index))


def _sgd_step(glm: Any, cells: np.ndarray, columns: list[str], y: pd.Series) -> None:
    """River's ``GLM.learn_many`` with plain SGD and no L1 (River 0.26), on the matrix itself: one step
    along the batch's mean gradient, an unseen column starting at 0. Its expressions and their order
    are kept, so every float comes out the same (tested); what goes is the DataFrame and its
    unwrapping: 0.27 ms a call for 256 rows of 10 columns, against 0.03 ms here."""
    glm._y_name = y.name
    weights, optimizer = glm._weights, glm.optimizer
    raw = cells @ weights.to_numpy(columns) + glm.intercept  # an unseen column weighs 0 (Zeros)
    loss_gradient = glm.loss.gradient(y_true=y.to_numpy(), y_pred=raw)
    loss_gradient = np.clip(loss_gradient, -glm.clip_gradient, glm.clip_gradient)
    gradient = np.einsum("ij,i->j", cells, loss_gradient) / len(cells)
    if glm.l2:
        gradient += glm.l2 * weights.to_numpy(columns)
    glm.intercept -= glm.intercept_lr.get(optimizer.n_iterations) * loss_gradient.mean()
    rate = optimizer.learning_rate
    for column, step in zip(columns, gradient.tolist(), strict=True):
        weights[column] = weights.get(column, 0.0) - rate * step
    optimizer.n_iterations += 1
