"""The streaming scorer end to end on the real broker, fed by kcat: every input ends as a prediction
or a dead letter (conservation), bad messages never stop the worker, and inline labels are learned."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.integration import workers
from tracer.agents.topics import ensure_topics
from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.schemas import ReasonCode

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat missing: apt-get install kcat"),
]

GOOD_ROWS = 1200
POISON: list[tuple[str, ReasonCode]] = (
    [("{{ not json", ReasonCode.NOT_JSON)] * 8
    + [('["a", "list"]', ReasonCode.NOT_AN_OBJECT)] * 4
    + [('{"cust_id": "x1", "churned": false}', ReasonCode.MISSING_FIELD)] * 6  # nothing to score from
    + [('{"cust_id": "x2", "last_login": "2023-02-01", "signup_date": "2023-01-01", "total_spend": "lots"}',
        ReasonCode.WRONG_TYPE)] * 6
    + [('{"cust_id": "x3", "last_login": "2023-02-01", "signup_date": "2023-01-01", "total_spend": Infinity}',
        ReasonCode.NON_FINITE)] * 6
)  # fmt: skip


def test_poison_mix_is_conserved_and_inline_labels_are_learned(
    kafka_bootstrap: str, topic_prefix: str, worker_env: dict[str, str], tmp_path: Path
) -> None:
    source = topic_prefix + "customers"
    asyncio.run(ensure_topics(kafka_bootstrap, {source: 1}))
    rows = CustomerChurn().sample(GOOD_ROWS, seed=11)
    lines = [json.dumps(row) for row in json.loads(rows.to_json(orient="records", date_format="iso"))]
    for position, (bad, _) in zip(range(37, GOOD_ROWS, 40), POISON, strict=False):
        lines.insert(position, bad)
    payload = tmp_path / "stream.jsonl"
    payload.write_text("\n".join(lines) + "\n")
    subprocess.run(
        ["kcat", "-P", "-b", kafka_bootstrap, "-t", source, "-l", str(payload)], check=True, timeout=60
    )

    deployments = workers.inline_churn(tmp_path / "deployments.yaml", source, checkpoint_every_events=400)
    env = workers.worker_environment(worker_env, topic_prefix)
    log = tmp_path / "worker.log"
    worker = workers.start(deployments, env, topic_prefix + "w", log)
    try:
        predictions = workers.records(kafka_bootstrap, topic_prefix + "tracer.predictions", expect=GOOD_ROWS)
        letters = workers.records(kafka_bootstrap, topic_prefix + "tracer.dlq", expect=len(POISON))
        assert workers.alive(worker), log.read_text()[-3000:]
    finally:
        workers.stop(worker)

    assert len(predictions) == GOOD_ROWS
    assert Counter(ReasonCode(letter["reason"]) for letter in letters) == Counter(
        reason for _, reason in POISON
    )
    fates = sorted([p["source"]["offset"] for p in predictions] + [d["source"]["offset"] for d in letters])
    assert fates == list(range(len(lines))), "every input ends as exactly one prediction or dead letter"
    assert all(letter["deployment"] == "churn" for letter in letters)

    in_order = sorted(predictions, key=lambda p: p["source"]["offset"])  # partitions interleave on read
    early = [p["output"]["churn_probability"] for p in in_order[:200]]
    late = [p["output"]["churn_probability"] for p in in_order[-200:]]
    assert len(set(early[:100])) == 1, "the first block is scored by the untrained model"
    assert max(late) - min(late) > 0.3, "later predictions come from a model that learned the inline labels"

    state = workers.final_checkpoint(kafka_bootstrap, topic_prefix, "churn")
    counters = state.live.live.counters()
    assert counters["predictions"] == GOOD_ROWS
    assert counters["labels_learned"] == GOOD_ROWS
