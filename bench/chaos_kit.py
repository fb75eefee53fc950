"""The parts every chaos scenario shares: a worker it can kill, inputs it can produce, the fate of each
input offset, and a worker's footprint from /proc.

A scenario reads the worker's outputs back and counts, per input offset, how many predictions and
dead letters it got: ``missing`` is an input with neither, ``duplicates`` the outputs past the first
for one input (published again after a crash, by design, or re-emitted history). The bench prints
these figures; the tests under ``tests/integration/test_chaos_*.py`` assert on them.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiokafka import AIOKafkaProducer
from kafka_io import PARTITIONS, end_offsets, read_range, stop_process, tracer_cli

from tracer.agents.kafka_local import free_port
from tracer.agents.topics import ensure_topics

__all__ = [
    "API_KEY",
    "SECRET",
    "ChaosWorker",
    "Fates",
    "Footprint",
    "Outcome",
    "churn_spec",
    "create_input",
    "fates",
    "footprint",
    "kcat_produce",
    "kill_leftovers",
    "produce_paced",
]

SECRET = "chaos-bench-secret-0123456789abcdef"
API_KEY = "chaos-bench-api-key"


@dataclass
class Outcome:
    """One scenario's figures: a row of the bench's table, and what the tests assert on."""

    scenario: str
    inputs: int = 0
    predictions: int = 0
    dead_letters: int = 0
    missing: int = 0
    duplicates: int = 0
    recovery_s: float = math.nan
    rss_mb: float = math.nan
    crashes: int = 0
    note: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    """Scenario-specific findings (wrong reasons, probe equality, fd counts...) the tests check."""

    def row(self) -> list[object]:
        return [self.scenario, self.inputs, self.predictions, self.dead_letters, self.missing,
                self.duplicates, self.recovery_s, self.rss_mb, self.crashes, self.note]  # fmt: skip


HEADER = ["scenario", "inputs", "predictions", "dead letters", "missing", "duplicates", "recovery s",
          "RSS MB", "crashes", "note"]  # fmt: skip


@dataclass
class Fates:
    """What became of each input offset of one source topic (partition 0)."""

    predicted: Counter[int]
    dead: Counter[int]
    reasons: dict[int, str]

    def missing(self, inputs: int) -> list[int]:
        return [offset for offset in range(inputs) if not self.predicted[offset] and not self.dead[offset]]

    def duplicates(self) -> int:
        """Outputs past the first for the same input (a prediction and a dead letter count as two)."""
        total = self.predicted + self.dead
        return sum(count - 1 for count in total.values() if count > 1)


async def _all(broker: str, topic: str) -> list[Any]:
    ends = await end_offsets(broker, topic)
    # read_range's consumer, stopped at once when there is nothing to read, raises CancelledError.
    return await read_range(broker, topic, {}, ends) if any(ends.values()) else []


async def fates(broker: str, prefix: str, source: str, deployment: str | None = None) -> Fates:
    """Every prediction and dead letter of ``source`` the worker under ``prefix`` published (its output
    topics are created first if the worker hasn't yet, as the worker would: 4 partitions)."""
    await ensure_topics(
        broker, {prefix + "tracer.predictions": PARTITIONS, prefix + "tracer.dlq": PARTITIONS}
    )
    predicted: Counter[int] = Counter()
    dead: Counter[int] = Counter()
    reasons: dict[int, str] = {}
    for record in await _all(broker, prefix + "tracer.predictions"):
        value = json.loads(record.value)
        if value["source"]["topic"] == source and deployment in (None, value.get("deployment")):
            predicted[value["source"]["offset"]] += 1
    for record in await _all(broker, prefix + "tracer.dlq"):
        value = json.loads(record.value)
        if value["source"]["topic"] == source:
            dead[value["source"]["offset"]] += 1
            reasons[value["source"]["offset"]] = value["reason"]
    return Fates(predicted, dead, reasons)


async def wait_for_fates(broker: str, prefix: str, source: str, inputs: int, timeout_s: float) -> Fates:
    """Poll until every input offset has a fate (or ``timeout_s``); the last reading either way."""
    deadline = time.monotonic() + timeout_s
    while True:
        seen = await fates(broker, prefix, source)
        if not seen.missing(inputs) or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(2.0)


@dataclass(frozen=True)
class Footprint:
    """A worker's footprint, with its router process: resident memory, open files, threads."""

    rss_mb: float
    fds: int
    threads: int


def footprint(pid: int) -> Footprint:
    """Read from /proc: the worker ``pid`` and its child processes, summed."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids += [int(child) for child in (task / "children").read_text().split()]
    rss_kb, fds, threads = 0, 0, 0
    for one in pids:
        status = dict(line.split(":", 1) for line in Path(f"/proc/{one}/status").read_text().splitlines())
        rss_kb += int(status["VmRSS"].split()[0])
        threads += int(status["Threads"])
        fds += len(os.listdir(f"/proc/{one}/fd"))
    return Footprint(rss_kb / 1024.0, fds, threads)


def churn_spec(deployment: str, source: str, **extra: Any) -> dict[str, Any]:
    """A churn deployment on ``source`` that learns inline."""
    return {"id": deployment, "blueprint": "customer_churn", "input_topics": [source], "key_field": "cust_id",
            "labels": {"mode": "inline", "field": "churned"}, **extra}  # fmt: skip


async def create_input(broker: str, topic: str, max_message_bytes: int | None = None) -> None:
    """A one-partition input topic (offsets are then the input's positions), its limit raised if asked."""
    configs = {topic: {"max.message.bytes": str(max_message_bytes)}} if max_message_bytes else None
    await ensure_topics(broker, {topic: 1}, configs=configs)


def kcat_produce(
    broker: str, topic: str, lines: bytes, work: Path, max_message_bytes: int = 1_000_000
) -> None:
    """Send ``key<TAB>value`` lines to ``topic`` with kcat, in order, and wait for the acks."""
    payload = work / f"{topic}.kcat"
    payload.write_bytes(lines)
    subprocess.run(["kcat", "-P", "-b", broker, "-t", topic, "-K", "\t", "-X", f"message.max.bytes={max_message_bytes}",
                    "-X", "queue.buffering.max.kbytes=1048576", "-l", str(payload)], check=True, timeout=600)  # fmt: skip
    payload.unlink()


async def produce_paced(broker: str, topic: str, rows: Sequence[bytes], rate: float, seconds: float) -> int:
    """Send ``rows`` over and over at ``rate`` a second for ``seconds``; returns how many were sent."""
    producer = AIOKafkaProducer(bootstrap_servers=broker, linger_ms=20)
    await producer.start()
    sent, started = 0, time.monotonic()
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed * rate)
            for _ in range(due - sent):
                await producer.send(topic, rows[sent % len(rows)])
                sent += 1
            await asyncio.sleep(0.05)
        await producer.flush()
        return sent
    finally:
        await producer.stop()


STARTED: list[subprocess.Popen[bytes]] = []
"""Every worker process a scenario started: :func:`kill_leftovers` ends those a failed scenario left."""


def kill_leftovers() -> None:
    """SIGKILL every worker a scenario started that still runs (after a scenario raised)."""
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait()


@dataclass
class ChaosWorker:
    """A ``tracer worker`` subprocess that can be killed and started again with the same identity."""

    broker: str
    work: Path
    prefix: str
    specs: list[dict[str, Any]]
    app_id: str = ""
    name: str = "worker"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.work / f"{self.prefix}{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> subprocess.Popen[bytes]:
        """Start it (again): same topics, data folder, app id and port."""
        deployments = self.work / f"{self.prefix}deployments.yaml"
        deployments.write_text(yaml.safe_dump({"deployments": self.specs}))
        env = {**os.environ, "TRACER_TOPIC_PREFIX": self.prefix, "TRACER_CHECKPOINT_SECRET": SECRET,
               "TRACER_API_KEYS": API_KEY, "TRACER_DATA_DIR": str(self.work / f"{self.prefix}{self.name}.data")}  # fmt: skip
        command = [*tracer_cli(), "worker", "--deployments", str(deployments), "--app-id",
                   self.app_id or self.prefix + "w", "--web-port", str(self.port), "--broker", self.broker]  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        STARTED.append(self.process)
        return self.process

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> int | None:
        """A clean stop (SIGTERM, so it checkpoints); its exit status."""
        if self.process is None:
            return None
        stop_process(self.process, timeout_s=60)
        return self.process.returncode

    def health(self) -> dict[str, Any]:
        """``GET /ml/health`` (empty while the worker doesn't answer)."""
        try:
            answer = httpx.get(self.url + "/ml/health", headers={"X-API-Key": API_KEY}, timeout=5)
            return dict(answer.json())
        except (httpx.HTTPError, ValueError):
            return {}

    def owned(self) -> list[str]:
        return list(self.health().get("agents", {}).get("owned", []))

    async def wait_owned(self, deployments: Iterable[str], timeout_s: float = 120) -> float:
        """Seconds until this worker owns every one of ``deployments`` (NaN if it never does)."""
        wanted, started = set(deployments), time.monotonic()
        while time.monotonic() - started < timeout_s and self.alive():
            if wanted <= set(await asyncio.to_thread(self.owned)):
                return time.monotonic() - started
            await asyncio.sleep(0.25)
        return math.nan

    def crashes(self) -> int:
        """Tracebacks in its log: a loop that crashed (and perhaps restarted) on some input."""
        return self.log.read_text(errors="replace").count("Traceback") if self.log.exists() else 0
