"""A broker outage fills no disk (issue 24, part 4): with the broker stopped for 15 s under a running
worker, the worker and its router process write a few dozen lines, not thousands.

It stops a broker, so it runs one of its own (a local KRaft broker, never the session's), and is
skipped without Java. Measured before the log filter: 2,237 lines from the worker alone in 15 s
(its router process, filtered, wrote a dozen); the user's busier worker wrote 10,000 a second.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration import workers
from tests.kafka_helpers import free_port_pair
from tracer.agents.kafka_local import LocalKafka, free_port

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.skipif(shutil.which("java") is None, reason="a broker of its own needs Java"),
]

OUTAGE_S = 15.0
MOST_LINES = 60
"""What an outage may write: measured 10-14 lines from both processes (each kind of error once)."""


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    broker = LocalKafka(free_port_pair(), data_dir=tmp_path / "kafka")
    broker.start(timeout_s=120)
    try:
        yield broker
    finally:
        broker.stop()


def test_a_broker_outage_writes_a_few_lines_not_thousands(own_broker: LocalKafka, tmp_path: Path) -> None:
    deployments = workers.write_deployments(tmp_path / "deployments.yaml", [
        {"id": "churn", "blueprint": "customer_churn", "input_topics": ["o.customers"], "key_field": "cust_id",
         "labels": {"mode": "inline", "field": "churned"}},
    ])  # fmt: skip
    base = {
        **os.environ,
        "TRACER_KAFKA_BOOTSTRAP": own_broker.bootstrap,
        "TRACER_DATA_DIR": str(tmp_path / "w"),
    }
    env = workers.worker_environment(base, "o.")
    log, port = tmp_path / "worker.log", free_port()
    worker = workers.start(deployments, env, "o", log, web_port=port)
    try:
        workers.wait_owned(worker, f"http://127.0.0.1:{port}", 1, log)
        before = len(log.read_bytes().splitlines())
        own_broker.stop()
        time.sleep(OUTAGE_S)
        during = log.read_bytes().splitlines()[before:]
        own_broker.start(timeout_s=120)
        workers.wait_owned(worker, f"http://127.0.0.1:{port}", 1, log)
    finally:
        assert workers.stop(worker) == 0, log.read_text(errors="replace")[-3000:]
    text = b"\n".join(during).decode(errors="replace")
    assert "Unable connect to node" in text, "the outage is reported"
    assert len(during) <= MOST_LINES, text[-4000:]
    assert "Logging error" not in log.read_text(errors="replace")
