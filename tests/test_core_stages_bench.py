"""``bench/core_stages.py`` runs, and its stages are the core's: they add up to about the whole core."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from core_stages import STAGES, stage_costs
from throughput import prepare_data


@pytest.mark.parametrize("workload", ["customer_churn", "price_movement"])
def test_every_stage_is_timed_and_together_they_are_the_core(tmp_path: Path, workload: str) -> None:
    load = next(load for load in prepare_data(tmp_path, 1_500, paced_rows=0) if load.name == workload)
    costs = stage_costs(load, load.backlog.read_bytes().splitlines(), runs=1)
    assert set(costs) == {*STAGES, "core"}
    assert all(costs[stage] > 0 for stage in STAGES)
    inside = sum(costs[stage] for stage in STAGES[:-1])
    assert 0.5 * costs["core"] < inside < 2.0 * costs["core"], costs
