"""Big messages on the real broker, fed by kcat (issue 24): no input can wedge a worker.

The input topic accepts messages of up to 4 MB, as a user's topic may. Among a few hundred good
rows come a ~800 KB non-JSON message, a ~900 KB JSON row with no field to score from, and a 1.5 MB
message, larger than anything Tracer copies to ``tracer.routed``. Each big one must end as a
bounded dead letter on ``tracer.dlq`` (a dead letter carrying it whole would be over the broker's
1 MB limit), with its reason and its key; every good row is predicted; the worker stays alive.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
import subprocess
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

GOOD_ROWS = 300
BIG: list[tuple[bytes, bytes, ReasonCode]] = [
    (b"big-text", b"z" * 800_000, ReasonCode.NOT_JSON),
    (
        b"big-json",
        json.dumps(
            {
                "cust_id": "big",
                "last_login": "2023-02-01",
                "signup_date": "2023-01-01",
                "total_spend": "y" * 900_000,
            }
        ).encode(),
        ReasonCode.WRONG_TYPE,
    ),  # its error quotes it
    (b"huge", b"h" * 1_500_000, ReasonCode.OVERSIZED),
]


def test_big_messages_become_bounded_dead_letters_and_the_rest_flows(
    kafka_bootstrap: str, topic_prefix: str, worker_env: dict[str, str], tmp_path: Path
) -> None:
    source = topic_prefix + "big-customers"
    asyncio.run(
        ensure_topics(kafka_bootstrap, {source: 1}, configs={source: {"max.message.bytes": "4194304"}})
    )
    rows = CustomerChurn().sample(GOOD_ROWS, seed=5)
    lines = [
        f"{row['cust_id']}\t{json.dumps(row)}".encode()
        for row in json.loads(rows.to_json(orient="records", date_format="iso"))
    ]
    for position, (key, value, _) in zip((40, 120, 200), BIG, strict=True):
        lines.insert(position, key + b"\t" + value)
    payload = tmp_path / "stream.txt"
    payload.write_bytes(b"\n".join(lines) + b"\n")
    subprocess.run(
        ["kcat", "-P", "-b", kafka_bootstrap, "-t", source, "-K", "\t", "-X", "message.max.bytes=4000000",
         "-l", str(payload)],
        check=True, timeout=60,
    )  # fmt: skip

    deployments = workers.inline_churn(tmp_path / "deployments.yaml", source, checkpoint_every_events=100)
    env = workers.worker_environment(worker_env, topic_prefix)
    log = tmp_path / "worker.log"
    worker = workers.start(deployments, env, topic_prefix + "w", log)
    try:
        predictions = workers.records(kafka_bootstrap, topic_prefix + "tracer.predictions", expect=GOOD_ROWS)
        letters = workers.records(kafka_bootstrap, topic_prefix + "tracer.dlq", expect=len(BIG))
        assert workers.alive(worker), log.read_text(errors="replace")[-3000:]
    finally:
        workers.stop(worker)

    assert len(predictions) == GOOD_ROWS, log.read_text(errors="replace")[-3000:]
    assert len(letters) == len(BIG), log.read_text(errors="replace")[-3000:]
    fates = sorted([p["source"]["offset"] for p in predictions] + [d["source"]["offset"] for d in letters])
    assert fates == list(range(len(lines))), "every input ends as exactly one prediction or dead letter"
    by_key = {base64.urlsafe_b64decode(letter["key"]): letter for letter in letters}
    assert set(by_key) == {key for key, _, _ in BIG}, "a dead letter keeps its input's key"
    for key, value, reason in BIG:
        letter = by_key[key]
        assert ReasonCode(letter["reason"]) == reason
        assert letter["truncated"] is True
        assert letter["raw_bytes"] == len(value)
        assert letter["raw_sha256"] == hashlib.sha256(value).hexdigest()
        assert value.startswith(base64.urlsafe_b64decode(letter["raw"]))
        assert len(json.dumps(letter)) < 200_000, "a dead letter stays far below the broker's limit"
    assert "Traceback" not in log.read_text(errors="replace"), "no loop crashed and restarted"
