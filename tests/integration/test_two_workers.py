"""Two workers in one group share the deployments; stop one, and the other takes its deployments
over with their state: no input is lost, none is scored twice, and the counters carry on."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from tests.integration import workers
from tests.kafka_helpers import produce
from tracer.agents.routing import routed_partition
from tracer.agents.topics import ensure_topics
from tracer.blueprints.recipes.customer_churn import CustomerChurn

pytestmark = pytest.mark.kafka

DEPLOYMENTS = ["churn-a", "churn-b", "churn-d", "churn-e"]  # one on each of the 4 routed partitions
FIRST, SECOND = 800, 700


def _rows(n: int, seed: int) -> list[bytes]:
    frame = CustomerChurn().sample(n, seed=seed)
    return [
        json.dumps(row).encode() for row in json.loads(frame.to_json(orient="records", date_format="iso"))
    ]


def test_the_survivor_takes_over_deployments_with_their_state(
    kafka_bootstrap: str, topic_prefix: str, worker_env: dict[str, str], tmp_path: Path
) -> None:
    assert sorted(routed_partition(d, 4) for d in DEPLOYMENTS) == [0, 1, 2, 3]
    source = topic_prefix + "customers"
    asyncio.run(ensure_topics(kafka_bootstrap, {source: 1}))
    deployments = workers.write_deployments(
        tmp_path / "deployments.yaml",
        [{"id": d, "blueprint": "customer_churn", "input_topics": [source], "key_field": "cust_id",
          "labels": {"mode": "inline", "field": "churned"}} for d in DEPLOYMENTS],
    )  # fmt: skip
    env = workers.worker_environment(worker_env, topic_prefix)
    app_id, predictions = topic_prefix + "group", topic_prefix + "tracer.predictions"
    first = workers.start(deployments, env, app_id, tmp_path / "first.log")
    second = workers.start(deployments, env, app_id, tmp_path / "second.log")
    try:
        produce(kafka_bootstrap, source, _rows(FIRST, seed=1))
        workers.records(kafka_bootstrap, predictions, expect=FIRST * len(DEPLOYMENTS))
        assert workers.stop(first) == 0, (tmp_path / "first.log").read_text()[-3000:]
        produce(kafka_bootstrap, source, _rows(SECOND, seed=2))
        seen = workers.records(kafka_bootstrap, predictions, expect=(FIRST + SECOND) * len(DEPLOYMENTS))
        assert workers.alive(second)
    finally:
        workers.stop(first)
        assert workers.stop(second) == 0, (tmp_path / "second.log").read_text()[-3000:]

    scored = Counter((p["deployment"], p["source"]["offset"]) for p in seen)
    assert set(scored) == {(d, offset) for d in DEPLOYMENTS for offset in range(FIRST + SECOND)}
    assert max(scored.values()) == 1, "a clean hand-over scores nothing twice"
    for deployment in DEPLOYMENTS:
        counters = workers.final_checkpoint(kafka_bootstrap, topic_prefix, deployment).live.live.counters()
        assert counters["predictions"] == counters["labels_learned"] == FIRST + SECOND
