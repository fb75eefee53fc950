"""Shared fixtures. Integration tests talk to a real Kafka broker, never a mock.

``kafka_bootstrap`` finds one, in this order:
1. ``TRACER_KAFKA_BOOTSTRAP``, if set (a broker you run yourself);
2. testcontainers' Kafka (``apache/kafka``, the tested version), if a Docker engine answers;
3. otherwise a local KRaft broker from Maven Central (``tracer kafka start``), on a free port with
   its own data folder, stopped at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kafka_helpers import free_port_pair
from tracer import KAFKA_VERSION
from tracer.agents.kafka_local import LocalKafka


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Kafka broker's bootstrap address for the whole test session."""
    given = os.environ.get("TRACER_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer(f"apache/kafka:{KAFKA_VERSION}").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    broker = LocalKafka(free_port_pair(), data_dir=tmp_path_factory.mktemp("kafka"))
    broker.start(timeout_s=120)
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def topic_prefix() -> str:
    """A prefix that gives each test its own topic names, so tests never see each other's data."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def worker_env(kafka_bootstrap: str, tmp_path: Path) -> dict[str, str]:
    """Environment for a worker subprocess: the test broker, a data folder of its own, and a state
    folder of its own (``XDG_STATE_HOME``), so development mode's generated keys stay in the test."""
    env = dict(os.environ)
    env.update(
        TRACER_KAFKA_BOOTSTRAP=kafka_bootstrap,
        TRACER_DATA_DIR=str(tmp_path / "worker"),
        XDG_STATE_HOME=str(tmp_path / "state"),
    )
    return env
