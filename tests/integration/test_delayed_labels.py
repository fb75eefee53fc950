"""Delayed labels on `tracer.labels`: joined to the features captured at prediction time within the
TTL; expired captures are counted; labels that find no prediction become dead letters, never nothing."""

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

ROWS = 600
TTL_DAYS = 30


def test_delayed_labels_join_within_the_ttl_and_expired_ones_are_counted(
    kafka_bootstrap: str, topic_prefix: str, worker_env: dict[str, str], tmp_path: Path
) -> None:
    source = topic_prefix + "customers"
    asyncio.run(ensure_topics(kafka_bootstrap, {source: 1}))
    frame = CustomerChurn().sample(ROWS, seed=5)  # as-of dates over six months
    truth = frame["churned"].tolist()
    rows = json.loads(frame.drop(columns=["churned"]).to_json(orient="records", date_format="iso"))
    produce(kafka_bootstrap, source, [json.dumps(row).encode() for row in rows])

    deployments = workers.write_deployments(
        tmp_path / "deployments.yaml",
        [{"id": "churn-delayed", "blueprint": "customer_churn", "input_topics": [source], "key_field": "cust_id",
          "labels": {"mode": "delayed", "ttl_seconds": TTL_DAYS * 86_400}}],
    )  # fmt: skip
    env = workers.worker_environment(worker_env, topic_prefix)
    log = tmp_path / "worker.log"
    worker = workers.start(deployments, env, topic_prefix + "w", log)
    try:
        predictions = workers.records(kafka_bootstrap, topic_prefix + "tracer.predictions", expect=ROWS)
        assert len(predictions) == ROWS
        labels = [
            json.dumps({"deployment": "churn-delayed", "key": p["key"], "label": bool(truth[p["source"]["offset"]]),
                        "ts": 1}).encode()
            for p in predictions
        ]  # fmt: skip
        strays = [
            b'{"deployment": "churn-delayed", "key": "nobody@0", "label": true, "ts": 1}',
            b'{"deployment": "no-such-deployment", "key": "k", "label": true, "ts": 1}',
            b"a label that is not JSON",
        ]
        produce(kafka_bootstrap, topic_prefix + "tracer.labels", labels + strays)
        letters = workers.records(kafka_bootstrap, topic_prefix + "tracer.dlq", expect=3, timeout_s=60)
        assert workers.alive(worker)
    finally:
        assert workers.stop(worker) == 0, log.read_text()[-3000:]

    counters = workers.final_checkpoint(kafka_bootstrap, topic_prefix, "churn-delayed").live.live.counters()
    reasons = Counter(letter["reason"] for letter in letters)
    expired = counters["pending_expired"]
    assert 0 < expired < ROWS, "predictions older than the TTL (in event time) expired and were counted"
    assert counters["labels_learned"] == ROWS - expired, "every label whose features still wait is learned"
    assert reasons["unmatched_label"] == expired + 1, "each label that finds no capture is a dead letter"
    assert reasons["unknown_deployment"] == 1
    assert reasons["not_json"] == 1
    assert sum(reasons.values()) == len(letters) == expired + 3
