"""An idle hot-path consumer stops asking the broker for nothing every few milliseconds, and wakes up
at the first record (real broker)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tracer.agents.settings import Settings
from tracer.agents.topics import (
    GATHER_MAX_WAIT_MS,
    GATHER_MIN_BYTES,
    IDLE_FETCH_WAIT_MS,
    FetchPace,
    batch_consumer,
    ensure_topics,
)

pytestmark = pytest.mark.kafka

QUIET_S = 2.0


def _count_fetches(consumer: AIOKafkaConsumer) -> list[int]:
    """Count the fetch requests the consumer's client sends from now on."""
    sent = [0]
    client: Any = consumer._client
    send = client.send

    async def counting(node_id: int, request: Any, *args: Any, **kwargs: Any) -> Any:
        if type(request).__name__.startswith("FetchRequest"):
            sent[0] += 1
        return await send(node_id, request, *args, **kwargs)

    client.send = counting
    return sent


async def _quiet_polls(consumer: AIOKafkaConsumer, pace: FetchPace | None) -> int:
    """Poll an empty topic once (a paced consumer goes idle), then for ``QUIET_S``; returns the
    fetches sent meanwhile."""
    batch = await consumer.getmany(timeout_ms=200)
    assert not batch
    if pace is not None:
        pace.polled(bool(batch))
    sent = _count_fetches(consumer)
    started = time.monotonic()
    while time.monotonic() - started < QUIET_S:
        batch = await consumer.getmany(timeout_ms=200)
        assert not batch
        if pace is not None:
            pace.polled(bool(batch))
    return sent[0]


def test_an_idle_router_consumer_fetches_rarely_and_wakes_at_the_first_record(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = topic_prefix + "paced-fetches"
    settings = Settings(broker=kafka_bootstrap, app_id=f"{topic_prefix}pace")

    async def scenario() -> tuple[int, int, bool, tuple[int, int]]:
        await ensure_topics(kafka_bootstrap, {topic: 1})
        unpaced = batch_consumer(settings, "unpaced", topic, gather=True)
        paced = batch_consumer(settings, "paced", topic, gather=True)
        await unpaced.start()
        await paced.start()
        try:
            pace = FetchPace(paced)
            without, with_pace = await asyncio.gather(_quiet_polls(unpaced, None), _quiet_polls(paced, pace))
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
            await producer.start()
            try:
                await producer.send_and_wait(topic, b"{}")
            finally:
                await producer.stop()
            found: dict[Any, list[Any]] = {}
            while not found:
                found = await paced.getmany(timeout_ms=200)
                pace.polled(bool(found))
            fetcher: Any = paced._fetcher
            return without, with_pace, pace.idle, (fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms)
        finally:
            await unpaced.stop()
            await paced.stop()

    without, with_pace, idle_after_record, settings_after = asyncio.run(scenario())
    assert without > 50, f"the gathered fetches expire every {GATHER_MAX_WAIT_MS} ms when nothing comes"
    assert with_pace <= QUIET_S * 1000 / IDLE_FETCH_WAIT_MS + 4, (without, with_pace)
    assert not idle_after_record
    assert settings_after == (GATHER_MIN_BYTES, GATHER_MAX_WAIT_MS), "busy again: the gathered fetches"
