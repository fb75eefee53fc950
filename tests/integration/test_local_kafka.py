"""`tracer kafka start|stop|status` against a real broker process of its own."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from tests.integration import workers
from tests.kafka_helpers import free_port_pair

pytestmark = pytest.mark.kafka


def our_java_processes(data_home: Path) -> list[int]:
    """Pids of java processes whose command line mentions our data folder."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"java" in cmdline and str(data_home).encode() in cmdline:
                pids.append(int(entry.name))
    return pids


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}


def test_start_twice_is_harmless_and_stop_leaves_nothing(env: dict[str, str], tmp_path: Path) -> None:
    port = str(free_port_pair())
    first = workers.tracer("kafka", "start", "--port", port, env=env)
    assert first.returncode == 0, first.stderr
    assert "answers metadata requests" in first.stdout
    pids = our_java_processes(tmp_path / "data")
    try:
        assert len(pids) == 1
        second = workers.tracer("kafka", "start", "--port", port, env=env)
        assert second.returncode == 0, second.stderr
        assert our_java_processes(tmp_path / "data") == pids
        assert workers.tracer("kafka", "status", "--port", port, env=env).returncode == 0
    finally:
        stopped = workers.tracer("kafka", "stop", "--port", port, env=env)
    assert stopped.stdout.strip() == "stopped"
    assert our_java_processes(tmp_path / "data") == []
    status = workers.tracer("kafka", "status", "--port", port, env=env)
    assert status.returncode == 1
    assert "not running" in status.stdout
    assert workers.tracer("kafka", "stop", "--port", port, env=env).stdout.strip() == "not running"


def test_a_taken_port_is_refused_clearly(env: dict[str, str]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = workers.tracer("kafka", "start", "--port", str(port), env=env)
    assert result.returncode != 0
    assert f"port {port} on 127.0.0.1 is taken by another process" in result.stderr


def test_missing_java_is_refused_clearly(env: dict[str, str], tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"  # a PATH with python but no java
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    result = workers.tracer(
        "kafka", "start", "--port", str(free_port_pair()), env={**env, "PATH": str(bin_dir)}
    )
    assert result.returncode != 0
    assert "Java 17+ is needed" in result.stderr
