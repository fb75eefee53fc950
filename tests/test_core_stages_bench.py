"""``bench/core_stages.py`` times every stage, and its stages do the core's work: taken one by one,
they leave the model exactly where ``LiveDeployment.process`` leaves it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from core_stages import STAGES, core_pass, stages_pass
from throughput import prepare_data


@pytest.mark.parametrize("workload", ["customer_churn", "price_movement"])
def test_the_stages_taken_one_by_one_learn_what_the_core_learns(tmp_path: Path, workload: str) -> None:
    load = next(load for load in prepare_data(tmp_path, 1_500, paced_rows=0) if load.name == workload)
    values = load.backlog.read_bytes().splitlines()
    spent, staged = stages_pass(load, values)
    _, core = core_pass(load, values)
    assert set(spent) == set(STAGES) and all(seconds > 0 for seconds in spent.values())
    model, reference = staged.live.model, core.live.model
    assert model.n_learned == reference.n_learned > 0
    glm, reference_glm = model.estimator[-1], reference.estimator[-1]
    assert (glm.weights, glm.intercept) == (reference_glm.weights, reference_glm.intercept)
