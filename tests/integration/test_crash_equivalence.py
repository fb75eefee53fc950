"""`kill -9` in the middle of a stream, then a restart: every input is accounted for, and the final
model predicts exactly what an uninterrupted run's final model predicts on a fixed probe set."""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.integration import workers
from tests.kafka_helpers import consume, produce
from tracer.agents.topics import ensure_topics
from tracer.blueprints.recipes.customer_churn import CustomerChurn

pytestmark = pytest.mark.kafka

ROWS = 30_000
HELD_BACK = 5_000  # sent only once the first worker is dead, so it dies in the middle of the stream


@functools.cache
def _rows() -> list[bytes]:
    frame = CustomerChurn().sample(ROWS, seed=21)
    return [
        json.dumps(row).encode() for row in json.loads(frame.to_json(orient="records", date_format="iso"))
    ]


def _probe_outputs(state: Any) -> list[dict[str, Any]]:
    """The final model's outputs on rows it never saw (scored on a copy, so nothing is mutated)."""
    live = copy.deepcopy(state.live.live)
    probe = CustomerChurn().sample(60, seed=99)
    return [live.predict_one(row).model_dump() for row in probe.to_dict(orient="records")]


def _count(bootstrap: str, topic: str) -> int:
    return len(consume(bootstrap, topic, expect=10**9, timeout_s=1.5, settle_s=0.5))


def _run(
    bootstrap: str, prefix: str, source: str, env: dict[str, str], tmp: Path, *, crash: bool = False
) -> Any:
    deployments = workers.write_deployments(
        tmp / f"{prefix}deployments.yaml",
        [{"id": "churn", "blueprint": "customer_churn", "input_topics": [source], "key_field": "cust_id",
          "labels": {"mode": "inline", "field": "churned"}, "checkpoint_every_events": 2500}],
    )  # fmt: skip
    env = workers.worker_environment(env, prefix)
    log = tmp / f"{prefix}worker.log"
    predictions = prefix + "tracer.predictions"
    worker = workers.start(deployments, env, prefix + "w", log)
    if crash:
        # Killed as soon as 1,200 predictions are out, while it scores its backlog. The rows held back
        # keep the kill mid-stream on a machine of any speed: a CI machine once scored all 30,000 rows
        # of a topic filled up front before a slower watch saw 1,200.
        consume(bootstrap, predictions, expect=1200, timeout_s=120, settle_s=0)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        at_crash = _count(bootstrap, predictions)
        print(f"killed at {at_crash} predictions")
        assert 1200 <= at_crash <= ROWS - HELD_BACK, at_crash
        produce(bootstrap, source, _rows()[ROWS - HELD_BACK :])
        worker = workers.start(deployments, env, prefix + "w", log)
    try:
        seen = workers.records(bootstrap, predictions, expect=ROWS, timeout_s=180)
        offsets = {p["source"]["offset"] for p in seen}
        assert offsets == set(range(ROWS)), f"missing inputs: {sorted(set(range(ROWS)) - offsets)[:10]}"
    finally:
        assert workers.stop(worker) == 0, log.read_text()[-3000:]
    return workers.final_checkpoint(bootstrap, prefix, "churn"), len(seen)


def test_kill_9_and_restart_ends_where_an_uninterrupted_run_ends(
    kafka_bootstrap: str, topic_prefix: str, worker_env: dict[str, str], tmp_path: Path
) -> None:
    source = topic_prefix + "customers"
    asyncio.run(ensure_topics(kafka_bootstrap, {source: 1}))
    produce(kafka_bootstrap, source, _rows()[: ROWS - HELD_BACK])

    crashed, crashed_count = _run(kafka_bootstrap, topic_prefix + "crash.", source, worker_env, tmp_path,
                                  crash=True)  # fmt: skip
    calm, calm_count = _run(kafka_bootstrap, topic_prefix + "calm.", source, worker_env, tmp_path)

    assert calm_count == ROWS
    assert crashed_count >= ROWS, "predictions since the last checkpoint are published again after a crash"
    assert (
        crashed.live.live.counters()["labels_learned"] == calm.live.live.counters()["labels_learned"] == ROWS
    )
    assert crashed.accepted == calm.accepted == ROWS
    assert _probe_outputs(crashed) == _probe_outputs(calm)


def test_a_worker_restarted_after_kill_9_stops_at_once(
    kafka_bootstrap: str, topic_prefix: str, worker_env: dict[str, str], tmp_path: Path
) -> None:
    """The killed process stays a member of the worker's consumer groups until its session times out,
    and a restarted worker stopped meanwhile waits for that rebalance. With Faust's 60 s session it
    waited past its stop deadline (45 s) and exited 1; CI caught it twice."""
    source = topic_prefix + "customers"
    asyncio.run(ensure_topics(kafka_bootstrap, {source: 1}))
    produce(kafka_bootstrap, source, _rows()[:500])
    deployments = workers.write_deployments(
        tmp_path / "deployments.yaml",
        [{"id": "churn", "blueprint": "customer_churn", "input_topics": [source], "key_field": "cust_id",
          "labels": {"mode": "inline", "field": "churned"}}],
    )  # fmt: skip
    env = workers.worker_environment(worker_env, topic_prefix)
    log = tmp_path / "worker.log"
    port = workers.free_port()
    worker = workers.start(deployments, env, topic_prefix + "w", log, web_port=port)
    workers.wait_owned(worker, f"http://127.0.0.1:{port}", 1, log)
    faust_group = topic_prefix + "w"  # the Faust app's own group (its agents and tables)
    workers.wait_for(lambda: workers.group_state(kafka_bootstrap, faust_group) == ("Stable", 1), 60,
                     "the Faust app to join its group", log)  # fmt: skip
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    worker = workers.start(deployments, env, topic_prefix + "w", log, web_port=port)
    workers.wait_owned(worker, f"http://127.0.0.1:{port}", 1, log)
    assert workers.stop(worker) == 0, log.read_text(errors="replace")[-6000:]
