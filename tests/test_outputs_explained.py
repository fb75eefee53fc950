"""A scored batch's drivers read from the model's matrices (``outputs_explained``) are those each row
gives alone, for every recipe that names them; and the drift monitor's block methods (columns at once,
errors at once) give what it gives one by one."""

from __future__ import annotations

import copy
import random
from typing import Any

import numpy as np
import pytest

from tracer.blueprints import registry
from tracer.blueprints.outputs_explained import explained_row, explaining_batch
from tracer.blueprints.tasks import DRIVER_MIN_LOGIT, pushing_features
from tracer.drift import DriftMonitor
from tracer.drift.stats import as_float_array, as_float_columns
from tracer.online_models import Deployment
from tracer.schemas import DriftPolicy

NAMING_DRIVERS = ["lead_scoring", "employee_retention", "fraud_detection", "cart_abandonment", "player_churn"]


def _scored_batch(blueprint_id: str) -> tuple[Deployment[Any], list[dict[str, Any]], list[float]]:
    frame = registry.get(blueprint_id)().sample(1300, seed=3)
    deployment: Deployment[Any] = Deployment(registry.get(blueprint_id), {}, seed=42)
    deployment.replay(frame.iloc[:1000], batch_size=64)
    records = [
        r for _, r in deployment.canonical_many(frame.iloc[1000:].to_dict("records")) if isinstance(r, dict)
    ]
    features = [deployment._prepare(record)[2] for record in records]
    return deployment, features, deployment.model.predict_rows(features)  # type: ignore[attr-defined]


@pytest.mark.parametrize("blueprint_id", NAMING_DRIVERS)
def test_a_batch_names_the_drivers_each_row_names_alone(blueprint_id: str) -> None:
    deployment, features, scores = _scored_batch(blueprint_id)
    blueprint, model, params = deployment.blueprint, deployment.model, deployment.params
    with explaining_batch(features, model):
        from_block = [explained_row(x, model, DRIVER_MIN_LOGIT) for x in features]
        assert explained_row(dict(features[0]), model, DRIVER_MIN_LOGIT) is None, (
            "an equal row is not the row"
        )
    assert all(ranked is not None for ranked in from_block), "every row of the batch read from its matrices"
    alone = [pushing_features(x, model) for x in features]  # outside the batch: each row explains itself
    assert [[(feature, rising) for _, feature, rising in r] for r in from_block if r is not None] == [
        [(feature, rising) for _, feature, rising in r] for r in alone
    ]
    assert sum(bool(r) for r in alone) > len(alone) // 4, (
        "drivers were named, so the comparison says something"
    )
    together = blueprint.postprocess_many(scores, features, model, params)
    assert together == [
        blueprint.postprocess(s, x, model, params) for s, x in zip(scores, features, strict=True)
    ]


def test_a_model_that_learned_since_explains_each_row_itself() -> None:
    deployment, features, _ = _scored_batch("lead_scoring")
    model = deployment.model
    with explaining_batch(features, model):
        model.learn_one(features[0], 1.0)
        assert explained_row(features[1], model, DRIVER_MIN_LOGIT) is None
    with explaining_batch(features, copy.deepcopy(model)):
        assert explained_row(features[1], model, DRIVER_MIN_LOGIT) is None, "another model's batch"


def test_the_monitor_columns_at_once_are_the_columns_one_by_one() -> None:
    rng = random.Random(5)
    cells: list[object] = [1, 2.5, None, True, np.float32(1.5), np.int64(3), float("inf"), float("nan"), -0.0]
    names = ["a", "b", "c"]
    rows = [{name: rng.choice(cells) for name in names} for _ in range(200)]
    columns = as_float_columns(rows, names)
    assert columns is not None
    for j, name in enumerate(names):
        one = as_float_array([row.get(name) for row in rows])
        assert (
            np.array_equal(columns[j], one, equal_nan=True)
            and (np.signbit(columns[j]) == np.signbit(one)).all()
        )
    assert as_float_columns([*rows, {"a": 1}], names) is None, "a row without a column: one by one"
    assert as_float_columns([*rows, {"a": "3", "b": 1, "c": 1}], names) is None, "a string: one by one"


def test_the_monitor_takes_a_block_of_errors_as_it_takes_each() -> None:
    rng = random.Random(8)
    errors: list[float | bool | None] = [rng.random() < (0.1 if i < 3000 else 0.35) for i in range(6000)]
    errors[10] = None
    policy = DriftPolicy(cooldown_events=0)
    one, block = DriftMonitor("d", policy=policy), DriftMonitor("d", policy=policy)
    alerts = [a for i, e in enumerate(errors) for a in one.observe_error(e, position=i // 256, ts_ms=0)]
    in_blocks = [
        a
        for s in range(0, 6000, 256)
        for a in block.observe_errors(errors[s : s + 256], position=s // 256, ts_ms=0)
    ]
    assert alerts and in_blocks == alerts
    with pytest.raises(ValueError, match="alert_only"):
        DriftMonitor("d", policy=DriftPolicy(reaction="retrain")).observe_errors([True], position=0, ts_ms=0)
