"""The README's "Adding a blueprint" example is a real file, shown whole, that passes the common checks."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import test_blueprint_checks as checks
from tracer.blueprints.tasks import BinaryClassification
from tracer.online_models import Deployment

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "late_delivery.py"


def _example() -> Any:
    spec = importlib.util.spec_from_file_location("late_delivery", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["late_delivery"] = module  # pickling finds the class by its module
    spec.loader.exec_module(module)
    return module.LateDelivery


def test_the_readme_shows_the_example_file_whole() -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs/blueprints-howto.md").read_text(), flags=re.S)
    assert EXAMPLE.read_text() in blocks


def test_the_example_is_a_short_recipe_on_a_task_base() -> None:
    assert issubclass(_example(), BinaryClassification)
    assert len(EXAMPLE.read_text().splitlines()) <= 80


@pytest.mark.parametrize(
    "check",
    [checks.check_input_not_mutated, checks.check_column_order, checks.check_missing_optional,
     checks.check_pickle, checks.check_deterministic, checks.check_output_schema, checks.check_sample,
     checks.check_batch_matches_rows, checks.check_scratch_state, checks.check_context_profile],
    ids=lambda check: check.__name__,
)  # fmt: skip
def test_the_example_passes_the_common_checks(check: Callable[[Any], None]) -> None:
    check(_example())


def test_the_example_learns_its_planted_answer() -> None:
    blueprint = _example()
    report = Deployment(blueprint).replay(blueprint().sample(3000, seed=1))
    assert report.n_errors == 0 and report.metrics["auc"] > 0.7
