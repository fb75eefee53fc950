"""The registry topic records each deployment's first version, and `tracer models` reads it back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.integration import workers
from tests.kafka_helpers import produce
from tracer.agents.topics import ensure_topics
from tracer.blueprints.recipes.customer_churn import CustomerChurn

pytestmark = pytest.mark.kafka


def test_models_list_and_show_read_the_registry(
    kafka_bootstrap: str, topic_prefix: str, worker_env: dict[str, str], tmp_path: Path
) -> None:
    source = topic_prefix + "customers"
    asyncio.run(ensure_topics(kafka_bootstrap, {source: 1}))
    deployments = workers.write_deployments(
        tmp_path / "deployments.yaml",
        [{"id": "churn", "blueprint": "customer_churn", "input_topics": [source], "key_field": "cust_id",
          "params": {"predictionWindow": "60_days"}}],
    )  # fmt: skip
    env = workers.worker_environment(worker_env, topic_prefix)
    worker = workers.start(deployments, env, topic_prefix + "w", tmp_path / "worker.log")
    try:
        rows = json.loads(CustomerChurn().sample(50, seed=1).to_json(orient="records", date_format="iso"))
        produce(kafka_bootstrap, source, [json.dumps(row).encode() for row in rows])
        workers.records(kafka_bootstrap, topic_prefix + "tracer.predictions", expect=50)
    finally:
        assert workers.stop(worker) == 0

    listing = workers.tracer("models", "list", env=env)
    assert listing.returncode == 0, listing.stderr
    assert [line.split()[:4] for line in listing.stdout.splitlines()[1:]] == [["churn", "1", "-", "deploy"]]
    shown = workers.tracer("models", "show", "churn", env=env)
    assert shown.returncode == 0, shown.stderr
    version = json.loads(shown.stdout)
    assert (version["blueprint"], version["params"], version["reason"]) == (
        "customer_churn", {"predictionWindow": "60_days"}, "deploy",
    )  # fmt: skip
    missing = workers.tracer("models", "show", "nope", env=env)
    assert missing.returncode != 0 and "no version" in missing.stderr
