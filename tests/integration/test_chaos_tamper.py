"""A tampered checkpoint on the real broker (``bench/chaos.py`` scenario 5, short): the worker refuses
it and keeps every input's fate, ``/ml/health`` says ``degraded`` while it rebuilds, and no history is
published again (counted per source offset). The last two need the silent rebuild of agents/recovery.py."""

from __future__ import annotations

import asyncio
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import chaos_scenarios as scenarios
from chaos_kit import Outcome, kill_leftovers

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat missing: apt-get install kcat"),
]


@pytest.fixture(autouse=True, scope="module")
def _no_worker_outlives_the_tests() -> Iterator[None]:
    yield
    kill_leftovers()


@pytest.fixture(scope="module")
def tampered(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    work, prefix = tmp_path_factory.mktemp("tamper"), f"t{uuid.uuid4().hex[:10]}."  # a broker of many runs
    return asyncio.run(scenarios.tampered_checkpoint(kafka_bootstrap, work, prefix, before=3_000, after=300))


def test_a_tampered_checkpoint_is_refused_and_nothing_is_missing(tampered: Outcome) -> None:
    assert tampered.facts["refused"], tampered.note
    assert tampered.missing == 0, tampered.note


def test_a_tampered_checkpoint_degrades_health_and_re_emits_no_history(tampered: Outcome) -> None:
    assert tampered.facts["reemitted"] == 0, tampered.note
    assert "degraded" in tampered.facts["health_statuses"], tampered.note
