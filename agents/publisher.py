"""Batched, pipelined sends: one producer batch per topic partition, acknowledgements awaited later.

aiokafka's ``send`` costs a future, a partitioner call and a lock per message, and awaiting its
acknowledgement per block stalls the loop for a broker round trip each time. The hot path instead
appends records to one ``BatchBuilder`` per partition, hands the built batches to the producer
once per poll (:meth:`Publisher.flush`), and awaits their acknowledgements only when a guarantee
needs them (:meth:`Publisher.drain`: before a checkpoint, a commit or a stop). Records for one
partition keep their order: aiokafka delivers a partition's batches in the order they were sent.

A keyed record goes to the partition Kafka's default partitioner gives its key (murmur2), exactly
as ``producer.send(topic, value, key=key)`` would place it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

__all__ = ["Publisher"]

Header = tuple[str, bytes]

MAX_IN_FLIGHT = 64
"""Sent batches whose acknowledgement is not yet awaited; above this, ``flush`` waits for the oldest."""


class Publisher:
    """Builds producer batches per (topic, partition); sends them on ``flush``; awaits acks on ``drain``."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self._builders: dict[tuple[str, int], Any] = {}
        self._partitions: dict[str, int] = {}
        self._in_flight: list[asyncio.Future[Any]] = []
        self.records = 0
        """Records appended so far (all topics)."""

    async def partitions(self, topic: str) -> int:
        """The partition count of ``topic`` (from the producer's metadata, fetched once)."""
        count = self._partitions.get(topic)
        if count is None:
            count = self._partitions[topic] = len(await self.producer.partitions_for(topic))
        return count

    async def prepare(self, topics: Sequence[str]) -> None:
        """Fetch the partition counts of ``topics`` now, so ``add`` never has to wait for metadata."""
        for topic in topics:
            await self.partitions(topic)

    def partition_of(self, topic: str, key: bytes) -> int:
        """The default partitioner's choice for ``key`` (``topic`` must be prepared)."""
        hashed: int = murmur2(key)
        return (hashed & 0x7FFFFFFF) % self._partitions[topic]

    async def add(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[Header] | None = None,
    ) -> None:
        """Append one record; ``partition`` defaults to the key's, or round robin for a record without a key."""
        if partition is None:
            if topic not in self._partitions:
                await self.partitions(topic)
            if key is None:
                partition = self.records % self._partitions[topic]
            else:
                partition = self.partition_of(topic, key)
        slot = (topic, partition)
        builder = self._builders.get(slot)
        if builder is None:
            builder = self._builders[slot] = self.producer.create_batch()
        if builder.append(key=key, value=value, timestamp=timestamp_ms, headers=headers or []) is None:
            await self._send(slot, builder)  # full: send it and start another
            builder = self._builders[slot] = self.producer.create_batch()
            if builder.append(key=key, value=value, timestamp=timestamp_ms, headers=headers or []) is None:
                raise ValueError(f"a record of {len(value)} bytes does not fit in a producer batch")
        self.records += 1

    async def _send(self, slot: tuple[str, int], builder: Any) -> None:
        topic, partition = slot
        self._in_flight.append(await self.producer.send_batch(builder, topic, partition=partition))

    async def flush(self) -> None:
        """Send every batch built so far; keep at most ``MAX_IN_FLIGHT`` unacknowledged."""
        builders, self._builders = self._builders, {}
        for slot, builder in builders.items():
            if builder.record_count():
                await self._send(slot, builder)
        if len(self._in_flight) > MAX_IN_FLIGHT:
            oldest = self._in_flight[: len(self._in_flight) - MAX_IN_FLIGHT]
            del self._in_flight[: len(oldest)]
            await asyncio.gather(*oldest)

    async def drain(self) -> None:
        """Send what is built and wait until the broker has acknowledged everything (errors raise)."""
        await self.flush()
        in_flight, self._in_flight = self._in_flight, []
        await asyncio.gather(*in_flight)

    def track(self, future: asyncio.Future[Any]) -> None:
        """Await ``future`` (a ``producer.send`` result) with the next ``drain``."""
        self._in_flight.append(future)
