"""``tracer demo``: the README's main job, on a real local broker.

It starts the local broker if none answers, creates the topics, starts a worker as a child
process, replays the bundled sample stream at a realistic rate while showing what comes out,
then stops the worker cleanly and prints a short summary that checks conservation: every input
ended as an output or as a dead letter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from tracer.agents.kafka_local import LocalKafka, broker_answers
from tracer.agents.replay import produce_file, read_records
from tracer.agents.settings import Settings
from tracer.agents.topics import ensure_topics, tracer_topics

__all__ = ["DemoSummary", "run_demo", "sample_path"]


def sample_path(name: str) -> Path:
    """Path of a bundled sample stream."""
    return Path(str(resources.files("tracer.agents") / "samples" / name))


@dataclass
class DemoSummary:
    """What the demo saw."""

    produced: int = 0
    forwarded: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def conserved(self) -> bool:
        """Every input ended as an output or a dead letter."""
        return self.produced == self.forwarded + sum(self.dead_letters.values())

    def render(self) -> str:
        """A few lines for a person."""
        letters = (
            ", ".join(f"{reason} {count}" for reason, count in sorted(self.dead_letters.items())) or "none"
        )
        verdict = "every message has a fate" if self.conserved else "MISSING MESSAGES"
        return (
            f"\nsummary: {self.produced} snapshots in, {self.forwarded} validated out, "
            f"{sum(self.dead_letters.values())} dead letters ({letters}) in {self.seconds:.1f} s: {verdict}"
        )


async def _end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()  # without a group, a subscribed consumer is assigned every partition
    try:
        return dict(await consumer.end_offsets(list(consumer.assignment())))
    finally:
        await consumer.stop()


async def _watch(
    bootstrap: str,
    starts: dict[TopicPartition, int],
    summary: DemoSummary,
    sink: str,
    emit: Callable[[str], None],
) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    consumer.assign(list(starts))
    for partition, offset in starts.items():
        consumer.seek(partition, offset)
    shown = 0
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=300)
            for partition, messages in batch.items():
                for message in messages:
                    body = json.loads(message.value)
                    if partition.topic == sink:
                        summary.forwarded += 1
                        if summary.forwarded % 500 == 0:
                            emit(
                                f"  ✓ {summary.forwarded:>5} validated   last: {body['symbol']} mid={body['mid']}"
                            )
                    else:
                        summary.dead_letters[body["reason"]] += 1
                        if shown < 12:
                            shown += 1
                            emit(f"  ✗ dead letter [{body['reason']}] {body['error'][:70]}")
    finally:
        await consumer.stop()


def run_demo(
    *, port: int = 9092, rate_per_s: float = 600.0, emit: Callable[[str], None] = print
) -> DemoSummary:
    """Run the demo end to end; returns the summary (also printed through ``emit``)."""
    started_broker = None
    bootstrap = os.environ.get("TRACER_KAFKA_BOOTSTRAP", f"127.0.0.1:{port}")
    if not broker_answers(bootstrap):
        emit(f"starting a local Kafka on {bootstrap} ...")
        started_broker = LocalKafka(port)
        started_broker.start()
    settings = Settings.from_env(broker=bootstrap)
    topics = settings.topics
    asyncio.run(ensure_topics(bootstrap, tracer_topics(settings), compacted=[topics.registry]))
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    emit(f"starting a worker (log: {data_dir / 'demo-worker.log'}) ...")
    with (data_dir / "demo-worker.log").open("ab") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tracer.agents.cli",
                "pipe",
                "--broker",
                bootstrap,
                "--app-id",
                "tracer-demo",
            ],
            env={**os.environ, "TRACER_DATA_DIR": str(data_dir)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    summary = DemoSummary()
    clock = time.monotonic()
    try:
        summary = asyncio.run(
            _replay_and_watch(
                bootstrap, topics.snapshots, topics.snapshots_valid, topics.dlq, rate_per_s, emit
            )
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        if started_broker is not None:
            emit("stopping the local Kafka the demo started ...")
            started_broker.stop()
    summary.seconds = time.monotonic() - clock
    emit(summary.render())
    return summary


async def _replay_and_watch(
    bootstrap: str, source: str, sink: str, dlq: str, rate_per_s: float, emit: Callable[[str], None]
) -> DemoSummary:
    summary = DemoSummary()
    starts = await _end_offsets(bootstrap, [sink, dlq])
    watcher = asyncio.create_task(_watch(bootstrap, starts, summary, sink, emit))
    records = read_records(sample_path("market_snapshots.jsonl"), key_column="symbol")
    emit(f"replaying {len(records)} market snapshots into {source} at {rate_per_s:.0f}/s ...")
    summary.produced = await produce_file(bootstrap, source, records, rate_per_s=rate_per_s)
    deadline = time.monotonic() + 60
    while not summary.conserved and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    return summary
