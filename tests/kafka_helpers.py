"""Small synchronous helpers for integration tests: real aiokafka clients against the real broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tracer.agents.kafka_local import free_port_pair

__all__ = ["consume", "free_port_pair", "produce"]


def produce(
    bootstrap: str, topic: str, values: Iterable[bytes], keys: Sequence[bytes | None] | None = None
) -> int:
    """Send every value to ``topic`` and wait for the acks. Returns how many were sent."""

    async def run() -> int:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        await producer.start()
        try:
            sent = [
                await producer.send(topic, value, key=keys[i] if keys else None)
                for i, value in enumerate(values)
            ]
            await asyncio.gather(*sent)
            return len(sent)
        finally:
            await producer.stop()

    return asyncio.run(run())


def consume(
    bootstrap: str, topic: str, *, expect: int, timeout_s: float = 60.0, settle_s: float = 2.0
) -> list[tuple[bytes | None, bytes]]:
    """Read ``topic`` from the beginning until ``expect`` records arrived and nothing more comes for
    ``settle_s`` (so a test sees extras too), or until ``timeout_s``. Returns (key, value) pairs.
    With ``settle_s=0`` it returns as soon as ``expect`` records arrived."""

    async def run() -> list[tuple[bytes | None, bytes]]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        records: list[tuple[bytes | None, bytes]] = []
        deadline = time.monotonic() + timeout_s
        settled_at: float | None = None
        try:
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200)
                for messages in batch.values():
                    records.extend((m.key, m.value) for m in messages if m.value is not None)
                if len(records) >= expect and settle_s <= 0:
                    break
                if len(records) >= expect:
                    settled_at = settled_at or time.monotonic()
                    if batch:
                        settled_at = time.monotonic()
                    elif time.monotonic() - settled_at >= settle_s:
                        break
            return records
        finally:
            await consumer.stop()

    return asyncio.run(run())
