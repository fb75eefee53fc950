"""``learn_sequence`` on the scale-and-logistic route learns a run of rows in one pass, and ends bit for
bit where River's own pipeline ends after ``learn_one`` of each row."""

from __future__ import annotations

import math
import pickle
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import compose, linear_model, optim

from tracer.blueprints.base import Features
from tracer.blueprints.engines.logistic_sequence import learns_exactly
from tracer.blueprints.engines.models import RiverBinaryClassifier, ScaleAndEncode
from tracer.online_models.learning import Learning
from tracer.online_models.scored import Captured


def _rows(seed: int, n: int) -> tuple[list[Features], list[float]]:
    rng = random.Random(seed)
    rows: list[Features] = []
    ys: list[float] = []
    for i in range(n):
        row: dict[str, Any] = {
            "usage": rng.gauss(5, 3),
            "spend": rng.lognormvariate(3, 1),
            "tickets": rng.choice([None, math.nan, float(rng.randint(0, 4))]),
            "constant": 2.0,  # zero variance: scales to 0
        }
        if rng.random() < 0.8:
            row["plan"] = rng.choice(("basic", "pro", "team", f"new-{i}"))  # unseen labels too
        if rng.random() < 0.1:
            del row["usage"]  # a feature that vanishes for some records
        if rng.random() < 0.05:
            row["plan_pro"] = rng.random()  # a numeric feature named like the one-hot column of "pro"
        if rng.random() < 0.02:
            row["usage"] = rng.choice((1e6, -1e6))  # logits past River's +-18 cut-offs
        rows.append(row)
        ys.append(rng.choice((0.0, 1.0, 0.2, 0.7, float(row.get("usage", 0.0) > 5))))
    return rows, ys


def _pipeline(**glm: Any) -> compose.Pipeline:
    """A fresh pipeline; an optimizer or loss is given as its class and arguments (no shared state)."""
    made = {k: v[0](*v[1:]) if isinstance(v, tuple) else v for k, v in glm.items()}
    made.setdefault("optimizer", optim.SGD(0.05))
    return ScaleAndEncode(log1p=("spend",)) | linear_model.LogisticRegression(**made)


def _state(pipeline: Any) -> tuple[Any, ...]:
    route, glm = pipeline[0], pipeline[-1]
    scaler = route.scaler
    return (
        list(glm._weights.to_dict().items()), glm.intercept, glm.optimizer.n_iterations,
        dict(scaler.counts), dict(scaler.means), dict(scaler.vars),
    )  # fmt: skip


def _river_learns(pipeline: compose.Pipeline, rows: list[Features], ys: list[float]) -> None:
    for x, y in zip(rows, ys, strict=True):
        clean = {k: v for k, v in x.items() if v is not None and v == v}
        pipeline.learn_one(clean, y >= 0.5)


CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "default": {},
    "the churn blueprint's": {"optimizer": (optim.SGD, 0.03), "l2": 1e-4, "intercept_lr": 0.03},
    "weighted classes, tight clipping": {
        "loss": (optim.losses.Log, 3.0, 0.5),
        "clip_gradient": 0.2,
        "l2": 0.01,
    },
    "logits across River's +-18 cut-offs": {"intercept_init": 18.5, "intercept_lr": 0.01},
}


@pytest.mark.parametrize("configuration", sorted(CONFIGURATIONS))
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), runs=st.lists(st.integers(1, 60), min_size=1, max_size=6))
def test_a_run_learned_in_one_pass_ends_where_rivers_learn_one_ends(
    configuration: str, seed: int, runs: list[int]
) -> None:
    rows, ys = _rows(seed, sum(runs))
    river = _pipeline(**CONFIGURATIONS[configuration])
    model = RiverBinaryClassifier(_pipeline(**CONFIGURATIONS[configuration]), mini_batch_learning=False)
    assert model._in_order
    start = 0
    for run in runs:
        model.learn_sequence(rows[start : start + run], ys[start : start + run])
        start += run
    _river_learns(river, rows, ys)
    assert _state(model.estimator) == _state(river)
    assert model.n_learned == len(rows)
    probe, _ = _rows(seed + 1, 20)
    clean = [{k: v for k, v in x.items() if v is not None and v == v} for x in probe]
    assert [model.predict_one(x) for x in probe] == [river.predict_proba_one(x)[True] for x in clean]


def test_rows_predicted_one_by_one_then_learned_in_one_pass_end_where_river_ends() -> None:
    """``predict_one`` keeps each row's split, and the pass learns from it."""
    rows, ys = _rows(7, 200)
    model = RiverBinaryClassifier(_pipeline(), mini_batch_learning=False)
    river = _pipeline()
    model.learn_sequence(rows[:100], ys[:100])
    _river_learns(river, rows[:100], ys[:100])
    for x in rows[100:]:
        model.predict_one(x)
    assert len(model._splits) == 100
    model.learn_sequence(rows[100:], ys[100:])
    _river_learns(river, rows[100:], ys[100:])
    assert _state(model.estimator) == _state(river)
    assert not model._splits


@pytest.mark.parametrize(
    "glm",
    [
        {"optimizer": (optim.AdaGrad, 0.1)},
        {"optimizer": (optim.SGD, optim.schedulers.InverseScaling(0.1))},
        {"l1": 0.01},
        {"initializer": (optim.initializers.Constant, 0.1)},
    ],
    ids=["adagrad", "a decaying rate", "l1", "non-zero initial weights"],
)
def test_other_configurations_learn_through_river_row_by_row(glm: dict[str, Any]) -> None:
    rows, ys = _rows(3, 300)
    model = RiverBinaryClassifier(_pipeline(**glm), mini_batch_learning=False)
    assert not model._in_order
    river = _pipeline(**glm)
    model.learn_sequence(rows, ys)
    _river_learns(river, rows, ys)
    assert _state(model.estimator) == _state(river)


def test_learns_exactly_only_a_plain_logistic_regression() -> None:
    route = ScaleAndEncode()
    assert learns_exactly(route, linear_model.LogisticRegression())
    assert not learns_exactly(route, linear_model.LinearRegression())
    assert not learns_exactly(route, linear_model.LogisticRegression(loss=optim.losses.Hinge()))


def test_an_adapter_pickled_before_runs_were_learned_in_one_pass_still_does() -> None:
    model = RiverBinaryClassifier(_pipeline(), mini_batch_learning=False)
    state = model.__getstate__()
    del state["_in_order"]
    old = RiverBinaryClassifier.__new__(RiverBinaryClassifier)
    old.__setstate__(state)
    assert old._in_order
    restored = pickle.loads(pickle.dumps(old))
    rows, ys = _rows(5, 50)
    restored.learn_sequence(rows, ys)
    river = _pipeline()
    _river_learns(river, rows, ys)
    assert _state(restored.estimator) == _state(river)


def test_learning_hands_a_row_by_row_model_its_whole_run() -> None:
    runs: list[int] = []

    class Recording(RiverBinaryClassifier):
        def learn_sequence(self, rows: Any, ys: Any) -> None:
            runs.append(len(rows))
            super().learn_sequence(rows, ys)

    learning = Learning()
    learning.model, learning.labels_learned = Recording(_pipeline(), mini_batch_learning=False), 0
    rows, ys = _rows(11, 300)
    learning.learn_captured(
        [(Captured(str(i), x, 0.5, None, 1), y) for i, (x, y) in enumerate(zip(rows, ys, strict=True))]
    )
    assert runs == [300]
    assert learning.labels_learned == 300
