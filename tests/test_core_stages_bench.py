"""``bench/core_stages.py`` times every stage, and its stages do the core's work: taken one by one,
they leave the model exactly where ``LiveDeployment.process`` leaves it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from core_stages import STAGES, core_pass, stages_pass, with_context_columns
from throughput import prepare_data


@pytest.mark.parametrize("workload", ["customer_churn", "price_movement", "customer_churn +20 context"])
def test_the_stages_taken_one_by_one_learn_what_the_core_learns(tmp_path: Path, workload: str) -> None:
    loads = prepare_data(tmp_path, 1_500, paced_rows=0)
    loads.append(with_context_columns(loads[0], tmp_path))
    load = next(load for load in loads if load.name == workload)
    values = load.backlog.read_bytes().splitlines()
    spent, staged = stages_pass(load, values)
    _, core = core_pass(load, values)
    assert set(spent) == set(STAGES) and all(seconds > 0 for seconds in spent.values())
    model, reference = staged.live.model, core.live.model
    assert model.n_learned == reference.n_learned > 0
    glm, reference_glm = model.estimator[-1], reference.estimator[-1]
    assert (glm.weights, glm.intercept) == (reference_glm.weights, reference_glm.intercept)


def test_the_context_workload_learns_its_twenty_columns(tmp_path: Path) -> None:
    load = with_context_columns(prepare_data(tmp_path, 600, paced_rows=0)[0], tmp_path)
    _, core = core_pass(load, load.backlog.read_bytes().splitlines())
    context = core.live.context
    assert (
        context is not None and len([c for c in context.columns if c.column[-2:].strip("_").isdigit()]) == 20
    )
