"""Start and stop real `tracer worker` processes, and read what they wrote, for integration tests."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.kafka_helpers import consume
from tracer.agents.kafka_local import free_port
from tracer.agents.topics import read_compacted
from tracer.online_models.checkpoint import open_checkpoint

SECRET = "integration-test-secret-0123456789"
API_KEY = "integration-test-api-key"


def worker_environment(base: dict[str, str], prefix: str) -> dict[str, str]:
    """The worker's environment: its own Tracer topics under ``prefix``, a known checkpoint secret and
    API key (a worker refuses to start without them)."""
    return {
        **base, "TRACER_TOPIC_PREFIX": prefix, "TRACER_CHECKPOINT_SECRET": SECRET, "TRACER_API_KEYS": API_KEY,
    }  # fmt: skip


def write_deployments(path: Path, deployments: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"deployments": deployments}))
    return path


def start(
    deployments: Path, env: dict[str, str], app_id: str, log: Path, web_port: int = 0, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """A worker subprocess, started in ``cwd`` (this process's directory by default); its output goes to ``log``."""
    port = web_port or free_port()
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tracer.agents.cli", "worker", "--deployments", str(deployments),
             "--app-id", app_id, "--web-port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
        )  # fmt: skip


def stop(worker: subprocess.Popen[bytes], timeout_s: float = 60) -> int:
    """SIGTERM (a clean stop: the worker checkpoints) and wait for the exit status.

    The worker's own stop deadline (45 s) ends a stuck stop with status 1 and its stacks in its log;
    one still running after ``timeout_s`` is killed, so no process outlives the test.
    """
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    try:
        return worker.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        raise AssertionError(f"the worker was still running {timeout_s:.0f} s after SIGTERM") from None


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}\n{tail}")


def records(
    bootstrap: str, topic: str, *, expect: int, deployment: str | None = None, timeout_s: float = 90
) -> list[dict[str, Any]]:
    """Decoded JSON values of ``topic`` (optionally of one deployment)."""
    values = [json.loads(value) for _, value in consume(bootstrap, topic, expect=expect, timeout_s=timeout_s)]
    return [v for v in values if deployment is None or v.get("deployment") == deployment]


def final_checkpoint(bootstrap: str, prefix: str, deployment: str) -> Any:
    """The deployment's latest checkpoint state (an ``Owned``), verified with the test secret."""
    latest = asyncio.run(read_compacted(bootstrap, prefix + "tracer.checkpoints", {deployment}))
    return open_checkpoint(latest[deployment], secret=SECRET).state


def wait_owned(
    worker: subprocess.Popen[bytes], base_url: str, owned: int, log: Path, timeout_s: float = 120
) -> None:
    """Wait until the worker's ``/ml/health`` says it owns ``owned`` deployments."""
    import httpx

    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise AssertionError(f"the worker exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            answer = httpx.get(base_url + "/ml/health", timeout=5)
            if answer.status_code == 200 and len(answer.json()["agents"]["owned"]) == owned:
                return
            last = answer.text
        except httpx.TransportError as error:
            last = repr(error)
        time.sleep(0.3)
    raise AssertionError(f"the worker did not own {owned} deployments within {timeout_s} s: {last}")


def group_state(bootstrap: str, group: str) -> tuple[str, int]:
    """A consumer group's state (``Stable``, ``PreparingRebalance``...) and its number of members."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def describe() -> tuple[str, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            (response,) = await admin.describe_consumer_groups([group])
            (_, _, state, _, _, members) = response.groups[0]
            return str(state), len(members)
        finally:
            await admin.close()

    return asyncio.run(describe())


def alive(worker: subprocess.Popen[bytes]) -> bool:
    return worker.poll() is None


def tracer(*args: str, env: dict[str, str], timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    """Run the ``tracer`` CLI in a child process, as a user would, and capture what it prints."""
    return subprocess.run(
        [sys.executable, "-m", "tracer.agents.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def inline_churn(path: Path, source: str, checkpoint_every_events: int) -> Path:
    """A deployments file with one ``churn`` deployment on ``source``, labels inline in ``churned``."""
    return write_deployments(
        path,
        [{"id": "churn", "blueprint": "customer_churn", "input_topics": [source], "key_field": "cust_id",
          "labels": {"mode": "inline", "field": "churned"}, "checkpoint_every_events": checkpoint_every_events}],
    )  # fmt: skip
