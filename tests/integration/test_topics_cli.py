"""``tracer topics create --deployments FILE`` on the real broker: it creates Tracer's topics and every
input topic the file names (so a producer can write before any worker starts), with the partition
count asked for, and a second run reports them all as existing. ``tracer produce`` to a missing
topic fails at once and says how to create it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.integration import workers
from tracer.agents.settings import Topics

pytestmark = pytest.mark.kafka


def partition_counts(bootstrap: str, names: list[str]) -> dict[str, int]:
    async def read() -> dict[str, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            described = await admin.describe_topics(names)
            return {str(topic["topic"]): len(topic["partitions"]) for topic in described}
        finally:
            await admin.close()

    return asyncio.run(read())


def test_topics_create_makes_every_topic_a_deployments_file_needs_and_is_idempotent(
    kafka_bootstrap: str, topic_prefix: str, worker_env: dict[str, str], tmp_path: Path
) -> None:
    customers = topic_prefix + "crm.customers"
    deployments = workers.write_deployments(tmp_path / "deployments.yaml", [
        {"id": "churn", "blueprint": "customer_churn", "input_topics": [customers], "key_field": "cust_id",
         "labels": {"mode": "inline", "field": "churned"}},
        {"id": "market", "blueprint": "price_movement", "input_topics": ["tracer.market.snapshots"],
         "key_field": "symbol", "labels": {"mode": "self"}},
    ])  # fmt: skip
    env = {**worker_env, "TRACER_TOPIC_PREFIX": topic_prefix}
    tracer_topics = [topic_prefix + name for name in Topics().__dict__.values()]
    wanted = sorted([customers, *tracer_topics])

    first = workers.tracer(
        "topics", "create", "--deployments", str(deployments), "--partitions", "3", env=env
    )
    assert first.returncode == 0, first.stderr
    created = sorted(line.split()[1] for line in first.stdout.splitlines() if line.startswith("created "))
    assert created == wanted, "inputs included; the market deployment's input is this Tracer's prefixed topic"
    counts = partition_counts(kafka_bootstrap, wanted)
    assert counts.pop(topic_prefix + "tracer.registry") == 1
    assert set(counts.values()) == {3}

    again = workers.tracer("topics", "create", "--deployments", str(deployments), env=env)
    assert again.returncode == 0, again.stderr
    assert sorted(line.split()[1] for line in again.stdout.splitlines()) == wanted
    assert all(line.startswith("exists ") for line in again.stdout.splitlines())


def test_producing_to_a_missing_topic_fails_at_once_and_says_how_to_create_it(
    topic_prefix: str, worker_env: dict[str, str], tmp_path: Path
) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"cust_id": "c1"}\n')
    missing = workers.tracer("produce", str(rows), "--topic", topic_prefix + "nowhere", env=worker_env)
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr and "tracer topics create --deployments" in missing.stderr
