"""Issue 26 end to end on the real broker: rows dead-lettered under a wrong column mapping, the
mapping fixed (a restart with the fixed deployments file), ``tracer dlq replay`` sends them back,
they are scored, a second replay sends nothing, and every input keeps exactly one final fate:
``in = predicted + dead-lettered`` holds across the whole story."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration import workers
from tracer.agents.kafka_local import free_port
from tracer.agents.replay import Record, produce_file
from tracer.agents.topics import ensure_topics
from tracer.blueprints.recipes.customer_churn import CustomerChurn

pytestmark = pytest.mark.kafka

FIRST_ROWS = 200
LATER_ROWS = 60
BAD = [b"{oops", b"not json at all", b"{", b"[1,", b"}{"]


def deployments(path: Path, source: str, mapping: dict[str, str]) -> Path:
    return workers.write_deployments(
        path,
        [{"id": "churn", "blueprint": "customer_churn", "input_topics": [source], "key_field": "cust_id",
          "column_mapping": mapping, "labels": {"mode": "inline", "field": "churned"},
          "checkpoint_every_events": 100}],
    )  # fmt: skip


def rows(count: int, seed: int) -> list[dict[str, Any]]:
    frame = CustomerChurn().sample(count, seed=seed)
    parsed: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso"))
    return parsed


def produce(bootstrap: str, topic: str, values: list[tuple[bytes | None, bytes]]) -> None:
    asyncio.run(produce_file(bootstrap, topic, [Record(key, value) for key, value in values]))


def test_dead_letters_replayed_after_the_mapping_is_fixed_are_scored_once(
    kafka_bootstrap: str, topic_prefix: str, worker_env: dict[str, str], tmp_path: Path
) -> None:
    source = topic_prefix + "customers"
    asyncio.run(ensure_topics(kafka_bootstrap, {source: 1}))
    first = rows(FIRST_ROWS, seed=3)
    values: list[tuple[bytes | None, bytes]] = [
        (str(r["cust_id"]).encode(), json.dumps(r).encode()) for r in first
    ]
    for position, bad in zip(range(20, FIRST_ROWS, 40), BAD, strict=True):
        values.insert(position, (b"broken", bad))
    produce(kafka_bootstrap, source, values)
    # The wrong mapping reads the plan (text) as the lifetime spend: a row with a plan is a wrong_type
    # dead letter naming the column; a row without one is scored.
    wrong = sum(1 for r in first if r["plan"] is not None)
    env = workers.worker_environment(worker_env, topic_prefix)
    predictions_topic, dlq_topic = topic_prefix + "tracer.predictions", topic_prefix + "tracer.dlq"
    log = tmp_path / "worker.log"

    worker = workers.start(deployments(tmp_path / "wrong.yaml", source, {"total_value": "plan"}), env,
                           topic_prefix + "w", log)  # fmt: skip
    try:
        letters = workers.records(kafka_bootstrap, dlq_topic, expect=wrong + len(BAD))
        assert workers.alive(worker), log.read_text()[-3000:]
    finally:
        assert workers.stop(worker) == 0, log.read_text()[-3000:]
    assert Counter(letter["reason"] for letter in letters) == {"wrong_type": wrong, "not_json": len(BAD)}

    # The mapping fixed: the worker restarts with the fixed file and restores its checkpoint.
    port = free_port()
    worker = workers.start(
        deployments(tmp_path / "fixed.yaml", source, {}), env, topic_prefix + "w", log, port
    )
    try:
        summary = workers.tracer("dlq", "summary", "--deployment", "churn", "--since", "1h", env=env)
        assert summary.returncode == 0, summary.stderr
        table = summary.stdout.splitlines()
        assert any(line.split()[:4] == ["churn", "wrong_type", "plan", str(wrong)] for line in table), (
            summary.stdout
        )
        assert any(line.split()[:4] == ["churn", "not_json", "-", str(len(BAD))] for line in table), (
            summary.stdout
        )
        shown = workers.tracer("dlq", "show", "--reason", "wrong_type", "--limit", "2", env=env)
        assert shown.returncode == 0 and shown.stdout.count("reason: wrong_type") == 2, (
            shown.stdout + shown.stderr
        )

        later = rows(LATER_ROWS, seed=4)
        produce(
            kafka_bootstrap, source, [(str(r["cust_id"]).encode(), json.dumps(r).encode()) for r in later]
        )
        scored_first = FIRST_ROWS - wrong
        workers.records(kafka_bootstrap, predictions_topic, expect=scored_first + LATER_ROWS)

        replay = workers.tracer("dlq", "replay", "--deployment", "churn", "--json", env=env)
        assert replay.returncode == 0, replay.stderr
        report = json.loads(replay.stdout)
        assert (report["sent"], report["already_replayed"]) == (wrong, 0), report
        assert report["still_failing"] == {"not_json": len(BAD)}, "counted, not sent"
        predictions = workers.records(kafka_bootstrap, predictions_topic, expect=FIRST_ROWS + LATER_ROWS)

        # The second replay, through the worker's HTTP API (the SDKs' way; the same code as the CLI's).
        api, key = f"http://127.0.0.1:{port}", {"X-API-Key": workers.API_KEY}
        assert httpx.post(api + "/deployments/churn/deadletters/replay", timeout=30).status_code == 401
        answer = httpx.post(api + "/deployments/churn/deadletters/replay", json={}, headers=key, timeout=60)
        assert answer.status_code == 200, answer.text
        second = answer.json()
        assert (second["sent"], second["already_replayed"]) == (0, wrong), second
        assert second["still_failing"] == {"not_json": len(BAD)}
        rows_by = httpx.get(
            api + "/deadletters/summary", params={"deployment": "churn"}, headers=key, timeout=60
        )
        assert rows_by.status_code == 200, rows_by.text
        assert {(r["reason"], r["field"], r["count"]) for r in rows_by.json()["rows"]} == {
            ("wrong_type", "plan", wrong),
            ("not_json", None, len(BAD)),
        }
        letters = workers.records(kafka_bootstrap, dlq_topic, expect=wrong + len(BAD))
        assert workers.alive(worker), log.read_text()[-3000:]
    finally:
        assert workers.stop(worker) == 0, log.read_text()[-3000:]
    predictions = workers.records(
        kafka_bootstrap, predictions_topic, expect=FIRST_ROWS + LATER_ROWS, timeout_s=10
    )

    inputs = len(values) + LATER_ROWS  # the producers' messages; the replayed copies come after them
    predicted = Counter(p["source"]["offset"] for p in predictions)
    assert all(n == 1 for n in predicted.values()), "each input is scored at most once"
    assert max(predicted) < inputs, "a replayed copy's prediction counts for its original offset"
    dead = {letter["source"]["offset"] for letter in letters} - set(predicted)
    assert len(predicted) == FIRST_ROWS + LATER_ROWS and len(dead) == len(BAD)
    assert sorted([*predicted, *dead]) == list(range(inputs)), "every input has exactly one final fate"
    assert inputs == len(predicted) + len(dead)  # in = predicted + dead-lettered
