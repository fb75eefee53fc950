"""Kafka helpers of the throughput bench: offsets, reads and waits on the broker, the bytes it wrote
(:func:`log_bytes`), and the child processes (``tracer produce``, a ``tracer worker``) that load it and
drain it.

:mod:`throughput`, :mod:`peers` and :mod:`worker_profile` import it as ``kafka_io``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from tracer.agents.kafka_local import free_port_pair
from tracer.agents.topics import ensure_topics

__all__ = [
    "PARTITIONS",
    "PHASE_TIMEOUT_S",
    "STALL_S",
    "Worker",
    "bytes_written",
    "end_offsets",
    "log_bytes",
    "log_tail",
    "produce",
    "produce_command",
    "read_range",
    "start_worker",
    "stop_process",
    "tracer_cli",
    "wait_for_total",
]

PARTITIONS = 4
PHASE_TIMEOUT_S = 240.0
STALL_S = 20.0
"""A phase whose output stops growing for this long, short of its target, is reported and ended."""


# == Kafka helpers =======================================================================================


async def end_offsets(broker: str, topic: str) -> dict[int, int]:
    """Each partition's end offset (empty while the topic doesn't exist)."""
    # Subscribed without a group, a consumer is assigned every partition on start: the reliable way to
    # learn them (aiokafka's partitions_for_topic is None for a topic it wasn't asked about).
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker, group_id=None, enable_auto_commit=False,
                                metadata_max_age_ms=1000)  # fmt: skip
    try:
        await consumer.start()
        partitions = sorted(consumer.assignment())
        ends = await consumer.end_offsets(partitions) if partitions else {}
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def read_range(broker: str, topic: str, starts: dict[int, int], ends: dict[int, int]) -> list[Any]:
    """Every record of ``topic`` from ``starts`` (per partition; 0 if absent) up to ``ends``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker, enable_auto_commit=False, max_partition_fetch_bytes=4 << 20
    )
    await consumer.start()
    records: list[Any] = []
    try:
        wanted = {TopicPartition(topic, p): end for p, end in ends.items() if end > starts.get(p, 0)}
        if not wanted:
            return records
        consumer.assign(list(wanted))
        for tp in wanted:
            consumer.seek(tp, starts.get(tp.partition, 0))
        remaining = dict(wanted)
        while remaining:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, messages in batch.items():
                end = wanted[tp]
                records.extend(m for m in messages if m.offset < end)
                if messages and messages[-1].offset >= end - 1:
                    remaining.pop(tp, None)
        return records
    finally:
        await consumer.stop()


async def wait_for_total(
    broker: str, topics: Sequence[str], target: int, process: subprocess.Popen[bytes] | None, what: str
) -> bool:
    """Poll until the end offsets of ``topics`` add up to ``target``.

    False (with a line saying why) when the process dies, when the total stops growing for
    ``STALL_S`` after it started, or after ``PHASE_TIMEOUT_S``: a benchmark reports a shortfall, it
    doesn't hang on one.
    """
    started = time.monotonic()
    last_total, last_change = -1, started
    while time.monotonic() - started < PHASE_TIMEOUT_S:
        total = 0
        for topic in topics:
            total += sum((await end_offsets(broker, topic)).values())
        if total >= target:
            return True
        if process is not None and process.poll() is not None:
            print(f"  ! {what}: the process exited with code {process.returncode} at {total:,}/{target:,}")
            return False
        if total != last_total:
            last_total, last_change = total, time.monotonic()
        elif total and time.monotonic() - last_change >= STALL_S:
            print(f"  ! {what}: stuck at {total:,}/{target:,} for {STALL_S:.0f} s")
            return False
        await asyncio.sleep(0.5)
    print(f"  ! {what}: timed out after {PHASE_TIMEOUT_S:.0f} s at {last_total:,}/{target:,}")
    return False


def log_bytes(log_dir: Path) -> dict[str, int]:
    """The bytes in each topic's log segments under ``log_dir`` (the broker's ``log.dirs``), summed over
    its partitions: what the broker appended to it, record batches with their headers, as stored.

    Read from the disk: Kafka appends to a partition's active ``.log`` segment and the bench's topics
    never roll one (1 GB segments), so neither retention nor compaction removes bytes during a run.
    """
    sizes: Counter[str] = Counter()
    for segment in log_dir.glob("*-*/*.log"):
        folder = segment.parent.name
        if folder.endswith(("-delete", "-future", "-stray")):
            continue
        try:
            sizes[folder.rsplit("-", 1)[0]] += segment.stat().st_size
        except FileNotFoundError:  # a segment removed between the listing and the stat
            continue
    return dict(sizes)


def bytes_written(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """Per topic, the bytes ``after`` holds beyond ``before`` (two :func:`log_bytes`), topics that grew only."""
    grown = {topic: size - before.get(topic, 0) for topic, size in after.items()}
    return {topic: size for topic, size in grown.items() if size > 0}


def tracer_cli() -> list[str]:
    """The ``tracer`` command of this virtualenv."""
    script = Path(sys.executable).with_name("tracer")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tracer.agents.cli"]


def produce_command(broker: str, file: Path, topic: str, key: str, rate: float | None = None) -> list[str]:
    """The ``tracer produce`` command line that sends ``file`` to ``topic`` (paced at ``rate`` if given)."""
    command = [*tracer_cli(), "produce", str(file), "--topic", topic, "--key", key, "--broker", broker]
    return [*command, "--rate", f"{rate:.0f}"] if rate else command


def produce(broker: str, file: Path, topic: str, key: str, log: Path) -> subprocess.Popen[bytes]:
    """``tracer produce`` in its own process: the load never shares a process with a contender."""
    with log.open("ab") as out:
        return subprocess.Popen(
            produce_command(broker, file, topic, key), stdout=out, stderr=subprocess.STDOUT
        )


def stop_process(
    process: subprocess.Popen[bytes], timeout_s: float = 60.0, stop_signal: int = signal.SIGTERM
) -> None:
    """``stop_signal`` (a clean stop), then SIGKILL if it hangs; only ever our own child."""
    if process.poll() is None:
        process.send_signal(stop_signal)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# == a Tracer worker in its own process ================================================================


@dataclass
class Worker:
    """A running ``tracer worker`` and where its topics live."""

    process: subprocess.Popen[bytes]
    prefix: str
    log: Path

    @property
    def predictions(self) -> str:
        """Its predictions topic."""
        return f"{self.prefix}tracer.predictions"

    @property
    def dlq(self) -> str:
        """Its dead-letter topic."""
        return f"{self.prefix}tracer.dlq"


async def start_worker(broker: str, work: Path, name: str, specs: list[dict[str, Any]]) -> Worker:
    """A ``tracer worker`` subprocess with its own topic prefix, data folder and app id.

    Its predictions topic is created first with ``message.timestamp.type=LogAppendTime``, so each
    prediction carries the broker's append time (the worker leaves existing topics alone); its
    dead-letter topic too, so it can be watched from the start.
    """
    prefix = f"{name}."
    predictions = f"{prefix}tracer.predictions"
    await ensure_topics(broker, {predictions: PARTITIONS, f"{prefix}tracer.dlq": PARTITIONS},
                        configs={predictions: {"message.timestamp.type": "LogAppendTime"}})  # fmt: skip
    deployments = work / f"{name}.deployments.yaml"
    deployments.write_text(yaml.safe_dump({"deployments": specs}))
    env = {**os.environ, "TRACER_TOPIC_PREFIX": prefix, "TRACER_DATA_DIR": str(work / f"{name}.data"),
           "TRACER_CHECKPOINT_SECRET": "bench-secret-0123456789abcdef", "TRACER_API_KEYS": "bench-api-key"}  # fmt: skip
    log = work / f"{name}.worker.log"
    command = [*tracer_cli(), "worker", "--deployments", str(deployments), "--app-id", f"bench-{name}",
               "--web-port", str(free_port_pair()), "--broker", broker]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Worker(process, prefix, log)


def log_tail(path: Path) -> str:
    """The end of a child process's log (empty if it has none): what a shortfall prints."""
    return path.read_text(errors="replace")[-1500:] if path.exists() else ""
