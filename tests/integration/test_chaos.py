"""Short versions of ``bench/chaos.py``'s scenarios on the real broker (issue 24), asserting what the
bench only prints: no crash, every input's fate exactly once where the design promises it, nothing
missing, a killed worker's model equal to an uninterrupted one's, a hand-over within 30 s, a
tampered checkpoint refused with health degraded and no history published again, and a soak with
no leak. They share the session's broker; the outage scenario runs a broker of its own.
"""

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

from tests.kafka_helpers import free_port_pair
from tracer.agents.kafka_local import LocalKafka

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat missing: apt-get install kcat"),
]


@pytest.fixture(autouse=True, scope="module")
def _no_worker_outlives_the_tests() -> Iterator[None]:
    yield
    kill_leftovers()


def test_fuzzed_bad_messages_each_get_their_reason_and_good_ones_flow(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    outcome = asyncio.run(scenarios.fuzzed(kafka_bootstrap, tmp_path, topic_prefix, good=2_000, bad=200))
    assert outcome.crashes == 0, outcome.note
    assert outcome.facts["n_wrong"] == 0, outcome.facts["wrong_reasons"]
    assert outcome.facts["good_dead_lettered"] == 0
    assert outcome.facts["exactly_one_fate"], outcome.note
    assert outcome.inputs == outcome.predictions + outcome.dead_letters == 2_200
    assert outcome.dead_letters == 200


def test_kill_9s_lose_nothing_and_end_with_the_uninterrupted_model(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    outcome = asyncio.run(
        scenarios.kill_nines(kafka_bootstrap, tmp_path, topic_prefix, events=6_000, kills=3)
    )
    assert outcome.missing == 0, outcome.note
    assert outcome.crashes == 0
    assert outcome.facts["learned"] == outcome.facts["calm_learned"] == 6_000, outcome.facts
    assert outcome.facts["probe_identical"], "the final model predicts what an uninterrupted run's does"


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    if shutil.which("java") is None:
        pytest.skip("a broker of its own needs Java")
    broker = LocalKafka(free_port_pair(), data_dir=tmp_path / "kafka")
    broker.start(timeout_s=120)
    try:
        yield broker
    finally:
        broker.stop()


def test_a_broker_stopped_twice_loses_nothing(
    own_broker: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    outcome = asyncio.run(
        scenarios.broker_outages(own_broker, tmp_path, topic_prefix, events=3_000, outage_s=5)
    )
    assert outcome.missing == 0, outcome.note
    assert outcome.crashes == 0, outcome.note


def test_a_stopped_workers_deployments_resume_on_the_other_within_30_s(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    outcome = asyncio.run(
        scenarios.two_workers(kafka_bootstrap, tmp_path, topic_prefix, first=600, second=500)
    )
    assert outcome.facts["resumed_s"] <= 30.0, outcome.note
    assert outcome.missing == 0
    assert outcome.facts["state_carried"], outcome.note


def test_a_soak_leaks_no_memory_files_or_threads(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    outcome = asyncio.run(scenarios.soak(kafka_bootstrap, tmp_path, topic_prefix, rate=1_000, seconds=25))
    warm, end = outcome.facts["warm"], outcome.facts["end"]
    assert outcome.missing == 0 and outcome.crashes == 0, outcome.note
    assert outcome.facts["rss_growth_pct"] < 50.0, outcome.note
    assert end.fds <= warm.fds + 2 and end.threads <= warm.threads + 2, outcome.note


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
