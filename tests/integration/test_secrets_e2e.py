"""A worker started from another directory, with the same configured key file, restores the
checkpoint of the worker before it and goes on from there (issue 24, part 3): nothing is refused,
nothing is scored twice. Before, each worker generated its key into ``./.tracer/`` of the directory it
started in, refused the other's checkpoints and re-emitted the whole log."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from tests.integration import workers
from tests.kafka_helpers import produce
from tracer.agents.topics import ensure_topics
from tracer.blueprints.recipes.customer_churn import CustomerChurn

pytestmark = pytest.mark.kafka

FIRST, SECOND = 60, 40


def rows(n: int, seed: int) -> list[bytes]:
    frame = CustomerChurn().sample(n, seed=seed)
    return [
        json.dumps(row).encode() for row in json.loads(frame.to_json(orient="records", date_format="iso"))
    ]


def test_a_worker_started_elsewhere_restores_the_checkpoint_signed_with_the_same_key_file(
    kafka_bootstrap: str, topic_prefix: str, worker_env: dict[str, str], tmp_path: Path
) -> None:
    source = topic_prefix + "customers"
    asyncio.run(ensure_topics(kafka_bootstrap, {source: 1}))
    deployments = workers.write_deployments(tmp_path / "deployments.yaml", [
        {"id": "churn", "blueprint": "customer_churn", "input_topics": [source], "key_field": "cust_id",
         "labels": {"mode": "inline", "field": "churned"}},
    ])  # fmt: skip
    key_file = tmp_path / "checkpoint.key"
    key_file.write_text(workers.SECRET + "\n")
    env = workers.worker_environment(worker_env, topic_prefix)
    del env["TRACER_CHECKPOINT_SECRET"], env["TRACER_DATA_DIR"]  # each worker's data folder: ./.tracer
    env["TRACER_CHECKPOINT_SECRET_FILE"] = str(key_file)
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    app_id, predictions = topic_prefix + "app", topic_prefix + "tracer.predictions"

    first = workers.start(deployments, env, app_id, tmp_path / "first.log", cwd=here)
    try:
        produce(kafka_bootstrap, source, rows(FIRST, seed=1))
        workers.records(kafka_bootstrap, predictions, expect=FIRST)
    finally:
        assert workers.stop(first) == 0, (tmp_path / "first.log").read_text()[-3000:]
    second = workers.start(deployments, env, app_id, tmp_path / "second.log", cwd=there)
    try:
        produce(kafka_bootstrap, source, rows(SECOND, seed=2))
        seen = workers.records(kafka_bootstrap, predictions, expect=FIRST + SECOND)
    finally:
        assert workers.stop(second) == 0, (tmp_path / "second.log").read_text()[-3000:]

    second_log = (tmp_path / "second.log").read_text(errors="replace")
    assert "REFUSED" not in second_log, second_log[-3000:]
    scored = Counter(p["source"]["offset"] for p in seen)
    assert set(scored) == set(range(FIRST + SECOND)) and max(scored.values()) == 1, "nothing re-emitted"
    counters = workers.final_checkpoint(kafka_bootstrap, topic_prefix, "churn").live.live.counters()
    assert counters["predictions"] == FIRST + SECOND
