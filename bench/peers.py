"""(b) the aiokafka relay, (d) the Quix Streams peer and (e) the Bytewax peer: roles the bench runs in
their own process.

:func:`subprocess_contender` starts this file as a script (``python bench/peers.py
relay|quix|bytewax ...``) and measures the role on its output topic; the role prints its own peak RSS
after ``RSS_MARK`` as it ends. Both peers run the same blueprint code per event (``Deployment.score``
then ``learn_from``) and publish the same prediction JSON (``deployment``, ``key``, ``output``,
``latency_ms``, ``ts`` = the time it was made, in ms), so only the framework around them differs.

A role runs alone too, on any topic of JSON rows: ``python bench/peers.py bytewax BROKER SOURCE SINK
customer_churn 1000`` scores the first 1,000 events of SOURCE into SINK and ends at the end of SOURCE."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from common import Figures, process_memory_mb
from kafka_io import PARTITIONS, end_offsets, log_tail, read_range, stop_process, wait_for_total

from tracer.agents.topics import ensure_topics
from tracer.online_models import Deployment, Scored

__all__ = ["RSS_MARK", "bytewax_role", "main", "quix_role", "relay_role", "subprocess_contender"]

RSS_MARK = "peak-rss-mb="
"""A role process prints its own VmHWM after this mark when it ends."""


# == (b) the relay, (d) Quix, (e) Bytewax: roles run in their own process ===============================


async def relay_role(broker: str, source: str, sink: str, count: int) -> None:
    """(b): getmany -> send_batch per partition, bytes as they are, until ``count`` messages are relayed."""
    consumer = AIOKafkaConsumer(source, bootstrap_servers=broker, group_id=f"relay-{source}", enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=4 << 20)  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=broker, linger_ms=5, max_batch_size=262_144)
    await consumer.start()
    await producer.start()
    relayed = 0
    try:
        while relayed < count:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            sends = []
            for tp, messages in batch.items():
                builder = producer.create_batch()
                for message in messages:
                    if builder.append(key=message.key, value=message.value, timestamp=None) is None:
                        sends.append(await producer.send_batch(builder, sink, partition=tp.partition))
                        builder = producer.create_batch()
                        builder.append(key=message.key, value=message.value, timestamp=None)
                sends.append(await producer.send_batch(builder, sink, partition=tp.partition))
                relayed += len(messages)
            await asyncio.gather(*sends)
            if batch:
                await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
        print(f"{RSS_MARK}{process_memory_mb(os.getpid()):.1f}", flush=True)


def quix_role(broker: str, source: str, sink: str, blueprint_id: str, count: int, state_dir: str) -> None:
    """(d): a Quix Streams app: per event, ``Deployment.score`` + ``learn_from`` and a prediction out."""
    from quixstreams import Application

    from tracer.blueprints import registry

    logging.getLogger("quixstreams").setLevel(logging.WARNING)
    blueprint = registry.get(blueprint_id)
    deployment: Deployment[Any] = Deployment(blueprint)
    app = Application(broker_address=broker, consumer_group=f"quix-{source}", auto_offset_reset="earliest",
                      state_dir=state_dir, loglevel="WARNING", use_changelog_topics=False)  # fmt: skip
    inputs = app.topic(source, value_deserializer="json")
    outputs = app.topic(sink, value_serializer="json")
    seen = 0

    def score(row: dict[str, Any], key: Any, timestamp: int, headers: Any) -> dict[str, Any]:
        nonlocal seen
        scored: Scored[Any] = deployment.score(row)
        deployment.learn_from([scored])
        now = int(time.time() * 1000)
        seen += 1
        if seen >= count:
            app.stop()
        return {"deployment": blueprint_id, "key": scored.key, "output": scored.output.model_dump(mode="json"),
                "latency_ms": now - timestamp, "ts": now}  # fmt: skip

    app.dataframe(inputs).apply(score, metadata=True).to_topic(outputs)
    app.run()
    print(f"{RSS_MARK}{process_memory_mb(os.getpid()):.1f}", flush=True)


def bytewax_role(broker: str, source: str, sink: str, blueprint_id: str, count: int) -> None:
    """(e): a Bytewax dataflow, one worker (``run_main``): ``KafkaSource`` (librdkafka, up to 1,000
    messages a poll) -> ``filter_map``: ``Deployment.score`` + ``learn_from`` per event -> ``KafkaSink``
    (one flush per batch). ``tail=False``: the dataflow ends at the end of every partition of ``source``;
    like the Quix peer it scores ``count`` events, and drops any after them (a paced load the Tracer
    worker appended to the same topic earlier in the round) unread by the model."""
    from bytewax import operators as op
    from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource, KafkaSourceMessage
    from bytewax.dataflow import Dataflow
    from bytewax.testing import run_main

    from tracer.blueprints import registry

    blueprint = registry.get(blueprint_id)
    deployment: Deployment[Any] = Deployment(blueprint)

    seen = 0

    def score(message: Any) -> KafkaSinkMessage[bytes | None, bytes] | None:
        nonlocal seen
        if not isinstance(message, KafkaSourceMessage):  # raise_on_errors: a KafkaError never arrives
            raise RuntimeError(f"Kafka error in the source: {message}")
        if seen >= count:
            return None
        seen += 1
        scored: Scored[Any] = deployment.score(json.loads(message.value))
        deployment.learn_from([scored])
        now = int(time.time() * 1000)
        source_ms = message.timestamp[1] if message.timestamp else now
        value = {"deployment": blueprint_id, "key": scored.key, "output": scored.output.model_dump(mode="json"),
                 "latency_ms": now - source_ms, "ts": now}  # fmt: skip
        return KafkaSinkMessage(message.key, json.dumps(value).encode())

    flow = Dataflow(f"bench-bytewax-{blueprint_id}")
    events = op.input("kafka-in", flow, KafkaSource([broker], [source], tail=False, batch_size=1000))
    op.output("kafka-out", op.filter_map("score", events, score), KafkaSink([broker], sink))
    run_main(flow)  # type: ignore[no-untyped-call,unused-ignore]  # untyped only where bytewax is installed
    print(f"{RSS_MARK}{process_memory_mb(os.getpid()):.1f}", flush=True)


async def subprocess_contender(
    broker: str, work: Path, label: str, role: list[str], sink: str, count: int, ts_of: Callable[[Any], float]
) -> Figures:
    """Run a role in its own process; rate from the first to the last output (``ts_of`` each record)."""
    figures = Figures(label)
    await ensure_topics(broker, {sink: PARTITIONS})
    log = work / f"{sink}.log"
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *role], stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    try:
        if await wait_for_total(broker, [sink], count, process, label):
            records = await read_range(broker, sink, {}, await end_offsets(broker, sink))
            stamps = [ts_of(r) for r in records]
            figures.events = len(stamps)
            figures.events_per_s = (len(stamps) - 1) / max((max(stamps) - min(stamps)) / 1000.0, 1e-3)
        else:
            print(log_tail(log))
        process.wait(timeout=60)
        marks = [line for line in log.read_text(errors="replace").splitlines() if line.startswith(RSS_MARK)]
        figures.rss_mb = float(marks[-1][len(RSS_MARK) :]) if marks else math.nan
        return figures
    finally:
        stop_process(process)


def main(argv: Sequence[str] | None = None) -> None:
    """One of the roles the bench starts in its own process: ``relay``, ``quix`` or ``bytewax``, then its
    arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "relay":
        broker, source, sink, count = args[1:5]
        asyncio.run(relay_role(broker, source, sink, int(count)))
        return
    if args and args[0] == "quix":
        broker, source, sink, blueprint_id, count, state_dir = args[1:7]
        quix_role(broker, source, sink, blueprint_id, int(count), state_dir)
        return
    if args and args[0] == "bytewax":
        broker, source, sink, blueprint_id, count = args[1:6]
        bytewax_role(broker, source, sink, blueprint_id, int(count))
        return
    raise SystemExit(
        "usage: peers.py relay BROKER SOURCE SINK COUNT | quix BROKER SOURCE SINK BLUEPRINT COUNT STATE_DIR"
        " | bytewax BROKER SOURCE SINK BLUEPRINT COUNT"
    )


if __name__ == "__main__":
    main()
