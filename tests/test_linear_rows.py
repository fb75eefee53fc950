"""``predict_rows`` on the two-step linear route (one matrix product) gives what ``predict_one`` gives,
and its explanations (``explained_block``) what ``contributions`` and ``scaled_values`` give row by row."""

from __future__ import annotations

import copy
import math
import random
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import linear_model, optim

from tracer.blueprints.base import Features
from tracer.blueprints.engines.linear_rows import _numeric_matrix, _split_rows, row_matrix
from tracer.blueprints.engines.models import RiverBinaryClassifier, RiverRegressor, ScaleAndEncode

NUMERIC = ("usage", "spend", "tickets", "constant")
PLANS = ("basic", "pro", "team")


def _row(rng: random.Random) -> Features:
    row: dict[str, Any] = {
        "usage": rng.gauss(5, 3),
        "spend": rng.lognormvariate(3, 1),
        "tickets": rng.choice([None, math.nan, float(rng.randint(0, 4))]),
        "constant": 2.0,  # zero variance: scales to 0
        "plan": rng.choice(PLANS),
    }
    if rng.random() < 0.1:
        del row["usage"]  # a feature that vanishes for some records
    return row


def _trained(kind: str, seed: int) -> Any:
    rng = random.Random(seed)
    if kind == "classifier":
        model: Any = RiverBinaryClassifier(
            ScaleAndEncode(log1p=("spend",)) | linear_model.LogisticRegression(optim.SGD(0.1))
        )
    else:
        model = RiverRegressor(
            ScaleAndEncode(log1p=("spend",)) | linear_model.LinearRegression(optim.SGD(0.01))
        )
    for _ in range(300):
        row = _row(rng)
        model.learn_one(row, float(row.get("usage", 0.0) > 5) if kind == "classifier" else row["spend"])
    return model


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), unseen=st.booleans())
def test_predict_rows_matches_predict_one(kind: str, seed: int, unseen: bool) -> None:
    model = _trained(kind, seed)
    rng = random.Random(seed + 1)
    rows = [_row(rng) for _ in range(64)]
    if unseen:  # a category and a numeric feature the model has never seen
        rows[3] = {**rows[3], "plan": "enterprise", "region_code": 7.0}
    expected = [model.predict_one(row) for row in rows]
    assert model.predict_rows(rows) == pytest.approx(expected, rel=1e-9, abs=1e-12)  # sums in another order


def test_predict_rows_leaves_the_model_as_it_was() -> None:
    model = _trained("classifier", 1)
    before = (dict(model.estimator[0].scaler.means), model.estimator[-1].weights)
    model.predict_rows([{"never_seen": 1.0, "plan": "basic"}])
    assert (dict(model.estimator[0].scaler.means), model.estimator[-1].weights) == before


def test_other_pipelines_fall_back_to_predict_many() -> None:
    from river import preprocessing

    model = RiverBinaryClassifier(preprocessing.StandardScaler() | linear_model.LogisticRegression())
    rows: list[Features] = [{"x": float(i), "y": float(i % 3)} for i in range(40)]
    for row in rows:
        model.learn_one(row, float(row["x"] > 20))
    assert model.predict_rows(rows) == pytest.approx([model.predict_one(row) for row in rows], rel=1e-9)


def _batch(kind: str, rng: random.Random) -> tuple[list[Features], list[float]]:
    """48 rows and their targets; one row brings columns the model has not seen (new mid-stream)."""
    rows = [_row(rng) for _ in range(48)]
    rows[5] = {**rows[5], "plan": "enterprise", "region_code": 3.0}
    ys = [float(row.get("usage", 0.0) > 5) if kind == "classifier" else row["spend"] for row in rows]
    return rows, ys


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_learn_rows_learns_what_learn_many_of_a_frame_learns(kind: str, seed: int) -> None:
    rows_model = _trained(kind, seed)
    frame_model = copy.deepcopy(rows_model)
    rng = random.Random(seed + 2)
    for _ in range(4):
        rows, ys = _batch(kind, rng)
        rows_model.learn_rows(rows, ys)
        frame_model.learn_many(pd.DataFrame.from_records(rows), ys)
    scaler, other = rows_model.estimator[0].scaler, frame_model.estimator[0].scaler
    assert dict(scaler.counts) == dict(other.counts)
    assert dict(scaler.means) == pytest.approx(dict(other.means), rel=1e-12)
    assert dict(scaler.vars) == pytest.approx(dict(other.vars), rel=1e-12)
    glm, other_glm = rows_model.estimator[-1], frame_model.estimator[-1]
    assert glm.weights == pytest.approx(other_glm.weights, rel=1e-10, abs=1e-14)
    assert glm.intercept == pytest.approx(other_glm.intercept, rel=1e-10)
    assert rows_model.n_learned == frame_model.n_learned


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_learn_rows_is_rivers_own_learn_many_of_the_same_matrix_to_the_bit(kind: str, seed: int) -> None:
    """The scaler's and the linear model's mini-batch arithmetic runs on the matrices themselves; River's
    own ``learn_many``, given those matrices as DataFrames, must end with every float the same."""
    model = _trained(kind, seed)
    reference = copy.deepcopy(model)
    route, glm = reference.estimator[0], reference.estimator[-1]
    rng = random.Random(seed + 3)
    for _ in range(3):
        rows, ys = _batch(kind, rng)
        model.learn_rows(rows, ys)

        matrix = row_matrix(route, rows)
        gaps = np.isnan(matrix.values)
        complete = [i for i in range(len(matrix.numeric)) if not gaps[:, i].any()]
        route.scaler.learn_many(
            pd.DataFrame(matrix.values[:, complete], columns=[matrix.numeric[i] for i in complete])
        )
        for i, column in enumerate(matrix.numeric):  # a column with gaps: its present values alone
            if i not in complete:
                route.scaler.learn_many(pd.DataFrame({column: matrix.values[~gaps[:, i], i]}))
        scaled = route.scale_matrix(matrix.numeric, matrix.values)
        one_hot = list(dict.fromkeys(column for _, _, column in matrix.one_hot))
        encoded = np.zeros((len(rows), len(one_hot)))
        for r, _, column in matrix.one_hot:
            encoded[r, one_hot.index(column)] = 1.0
        frame = pd.DataFrame(np.hstack([scaled, encoded]), columns=matrix.numeric + one_hot)
        glm.learn_many(frame, reference._targets(ys, frame.index))

    scaler, other = model.estimator[0].scaler, route.scaler
    assert (dict(scaler.counts), dict(scaler.means), dict(scaler.vars)) == (
        dict(other.counts), dict(other.means), dict(other.vars))  # fmt: skip
    mine = model.estimator[-1]
    assert (mine.weights, mine.intercept, mine.optimizer.n_iterations) == (
        glm.weights, glm.intercept, glm.optimizer.n_iterations)  # fmt: skip


def test_an_adapter_pickled_before_final_was_kept_still_predicts() -> None:
    from river import preprocessing

    model = RiverBinaryClassifier(preprocessing.StandardScaler() | linear_model.LogisticRegression())
    rows: list[Features] = [{"x": float(i), "y": float(i % 3)} for i in range(40)]
    for row in rows:
        model.learn_one(row, float(row["x"] > 20))
    state = model.__getstate__()
    del state["_final"]  # as checkpoints written by the previous release hold it
    old = RiverBinaryClassifier.__new__(RiverBinaryClassifier)
    old.__setstate__(state)
    assert old.predict_rows(rows) == model.predict_rows(rows)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_explained_block_is_contributions_and_scaled_values_row_by_row(seed: int) -> None:
    model = _trained("classifier", seed)
    rng = random.Random(seed + 3)
    rows = [_row(rng) for _ in range(48)]
    rows[7] = {**rows[7], "plan": "enterprise", "region_code": 2.0}  # unseen: no weight, no share
    model.predict_rows(rows)
    block = model.explained_block(rows)
    assert block is not None
    for r, row in enumerate(rows):
        shares = {
            name: float(block.shares[r, c]) for c, name in enumerate(block.numeric) if block.shares[r, c]
        }
        shares.update({feature: share for at, feature, share in block.one_hot if at == r and share})
        assert shares == pytest.approx(model.contributions(row), rel=1e-12)
        scaled = {name: float(block.scaled[r, c]) for c, name in enumerate(block.numeric) if name in row
                  and row[name] is not None and row[name] == row[name]}  # fmt: skip
        assert scaled == pytest.approx(model.scaled_values(row), rel=1e-12, abs=1e-15)


def test_an_explained_block_is_only_for_those_rows_and_until_the_model_learns() -> None:
    model = _trained("classifier", 5)
    rng = random.Random(6)
    rows = [_row(rng) for _ in range(40)]
    model.predict_rows(rows)
    assert model.explained_block(list(rows)) is None  # equal rows, but not the sequence scored
    assert model.explained_block(rows) is not None
    model.learn_one(rows[0], 1.0)
    assert model.explained_block(rows) is None
    model.predict_rows(rows)
    assert copy.deepcopy(model).explained_block(rows) is None  # never pickled or copied


_CELL = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(-(2**70), 2**70),  # beyond int64 too
    st.booleans(),
    st.none(),
    st.sampled_from(["basic", "1.5"]),  # a string that looks like a number is still a string
)


@settings(max_examples=300, deadline=None)
@given(
    keys=st.lists(st.sampled_from(["usage", "spend", "plan", "rate"]), min_size=1, max_size=4, unique=True),
    cells=st.lists(st.lists(_CELL, min_size=4, max_size=4), min_size=1, max_size=6),
    numbers_only=st.booleans(),
    shuffled=st.booleans(),
)
def test_row_matrix_is_the_cell_by_cell_split_however_the_rows_look(
    keys: list[str], cells: list[list[Any]], numbers_only: bool, shuffled: bool
) -> None:
    route = ScaleAndEncode(log1p=("spend",))
    rows: list[Features] = []
    for r, row_cells in enumerate(cells):
        if numbers_only:  # the fast path's case (but for NaN in the first row)
            row_cells = [c if isinstance(c, float) else float(r + i) for i, c in enumerate(row_cells)]
        names = list(reversed(keys)) if shuffled and r % 2 else keys
        rows.append(dict(zip(names, row_cells, strict=False)))
    fast, slow = row_matrix(route, rows), _split_rows(route, rows)
    assert fast.numeric == slow.numeric
    assert fast.one_hot == slow.one_hot
    assert fast.values.shape == slow.values.shape
    assert np.array_equal(fast.values, slow.values, equal_nan=True)
    assert [v.hex() for v in fast.values.ravel().tolist()] == [v.hex() for v in slow.values.ravel().tolist()]


def test_uniform_numeric_rows_take_the_one_call_path() -> None:
    route = ScaleAndEncode(log1p=("spend",))
    rows: list[Features] = [{"usage": float(i), "spend": 10.0 * i, "flag": i % 2 == 0} for i in range(50)]
    rows[7]["usage"] = rows[8]["spend"] = math.nan
    fast = _numeric_matrix(route, rows)
    assert fast is not None
    assert np.array_equal(fast.values, _split_rows(route, rows).values, equal_nan=True)
    rows[3]["flag"] = "yes"
    assert _numeric_matrix(route, rows) is None
