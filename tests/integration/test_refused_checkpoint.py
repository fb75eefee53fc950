"""A refused checkpoint is a loud, safe event (issue 24, part 2).

A worker scores a backlog and checkpoints; it stops; its checkpoint is then made untrustworthy (the
next worker runs with another checkpoint key, or the bytes under the deployment's key are altered).
The next worker must not publish any prediction of the history again: it rebuilds the model
silently up to where the refused checkpoint's outputs stopped, then publishes the new events. Its
``/ml/health`` says it is degraded and why, ``tracer_checkpoints_refused_total`` counts the refusal,
and its model ends exactly where a worker that restored a trusted checkpoint ends.

Before the fix, the refusing worker published all of the history again (every source offset of the
first phase twice) and its health said ``ok`` with no problem listed.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration import workers
from tests.kafka_helpers import consume, produce
from tracer.agents.topics import ensure_topics, read_compacted
from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.online_models.checkpoint import open_checkpoint

pytestmark = pytest.mark.kafka

FIRST, SECOND = 600, 200
OTHER_SECRET = "another-checkpoint-secret-9876543210"


def _rows() -> list[bytes]:
    frame = CustomerChurn().sample(FIRST + SECOND, seed=24)
    return [
        json.dumps(row).encode() for row in json.loads(frame.to_json(orient="records", date_format="iso"))
    ]


def _probe_outputs(state: Any) -> list[dict[str, Any]]:
    live = copy.deepcopy(state.live.live)
    probe = CustomerChurn().sample(40, seed=98)
    return [live.predict_one(row).model_dump() for row in probe.to_dict(orient="records")]


def _routed(bootstrap: str, prefix: str) -> int:
    return len(consume(bootstrap, prefix + "tracer.routed", expect=10**9, timeout_s=1.0, settle_s=0.3))


def _tamper(bootstrap: str, prefix: str) -> None:
    """Alter one byte of the deployment's checkpoint payload and write it back under its key."""
    latest = asyncio.run(read_compacted(bootstrap, prefix + "tracer.checkpoints", {"churn"}))
    blob = bytearray(latest["churn"])
    blob[len(blob) // 2] ^= 0xFF
    produce(bootstrap, prefix + "tracer.checkpoints", [bytes(blob)], keys=[b"churn"])


def _run(bootstrap: str, prefix: str, env: dict[str, str], tmp: Path, how: str) -> dict[str, Any]:
    """Phase one (``FIRST`` rows, then a clean stop), the checkpoint made untrustworthy as ``how``
    says, ``SECOND`` rows, phase two with a new worker. Returns what phase two showed."""
    source = prefix + "customers"
    asyncio.run(ensure_topics(bootstrap, {source: 1}))
    rows = _rows()
    deployments = workers.write_deployments(tmp / f"{prefix}deployments.yaml", [
        {"id": "churn", "blueprint": "customer_churn", "input_topics": [source], "key_field": "cust_id",
         "labels": {"mode": "inline", "field": "churned"},
         "checkpoint_every_events": 100_000, "checkpoint_every_seconds": 3600},
    ])  # fmt: skip
    env = workers.worker_environment(env, prefix)
    app_id, predictions = prefix + "app", prefix + "tracer.predictions"
    produce(bootstrap, source, rows[:FIRST])
    first_log = tmp / f"{prefix}first.log"
    first = workers.start(deployments, env, app_id, first_log)
    try:
        workers.records(bootstrap, predictions, expect=FIRST)
        # the idle scorer closes its open block with a tick: wait for it, so every run's log is the same
        workers.wait_for(lambda: _routed(bootstrap, prefix) == FIRST + 1, 60, "the tick", first_log)
    finally:
        assert workers.stop(first) == 0, first_log.read_text()[-3000:]
    if how == "wrong key":
        env = {**env, "TRACER_CHECKPOINT_SECRET": OTHER_SECRET}
    elif how == "tampered":
        _tamper(bootstrap, prefix)
    produce(bootstrap, source, rows[FIRST:])
    second_log, port = tmp / f"{prefix}second.log", workers.free_port()
    second = workers.start(deployments, env, app_id, second_log, web_port=port)
    try:
        workers.wait_owned(second, f"http://127.0.0.1:{port}", 1, second_log)
        seen = workers.records(bootstrap, predictions, expect=FIRST + SECOND)
        workers.wait_for(lambda: _routed(bootstrap, prefix) == FIRST + SECOND + 2, 60, "the tick", second_log)
        health = httpx.get(f"http://127.0.0.1:{port}/ml/health", timeout=10)
        metrics = httpx.get(f"http://127.0.0.1:{port}/ml/metrics", timeout=10).text
    finally:
        assert workers.stop(second) == 0, second_log.read_text()[-3000:]
    latest = asyncio.run(read_compacted(bootstrap, prefix + "tracer.checkpoints", {"churn"}))
    secret = OTHER_SECRET if how == "wrong key" else workers.SECRET
    return {
        "scored": Counter(p["source"]["offset"] for p in seen),
        "health": (health.status_code, health.json()),
        "metrics": metrics,
        "log": second_log.read_text(errors="replace"),
        "state": open_checkpoint(latest["churn"], secret=secret).state,
    }


def test_a_refused_checkpoint_republishes_no_history_and_is_reported(
    kafka_bootstrap: str, topic_prefix: str, worker_env: dict[str, str], tmp_path: Path
) -> None:
    trusted = _run(kafka_bootstrap, topic_prefix + "trusted.", worker_env, tmp_path, "trusted")
    assert trusted["health"][1]["status"] == "ok", trusted["health"]
    assert "REFUSED" not in trusted["log"]

    for how in ("wrong key", "tampered"):
        refused = _run(kafka_bootstrap, f"{topic_prefix}{how.replace(' ', '-')}.", worker_env, tmp_path, how)
        scored = refused["scored"]
        assert set(scored) == set(range(FIRST + SECOND)), f"{how}: an event has no prediction"
        again = sorted(offset for offset, count in scored.items() if count > 1)
        assert not again, f"{how}: {len(again)} predictions published again, from offset {again[0]}"

        status_code, health = refused["health"]
        assert status_code == 200 and health["status"] == "degraded", (how, health)
        assert any("churn" in problem and "refused" in problem for problem in health["problems"]), health
        reason = "signature"
        assert (
            f'tracer_checkpoints_refused_total{{deployment="churn",reason="{reason}"}} 1.0'
            in refused["metrics"]
        )
        assert refused["log"].count("REFUSED checkpoint of churn") == 1, how

        state = refused["state"]
        assert state.accepted == trusted["state"].accepted == FIRST + SECOND, how
        assert state.live.live.counters() == trusted["state"].live.live.counters(), how
        assert _probe_outputs(state) == _probe_outputs(trusted["state"]), how
