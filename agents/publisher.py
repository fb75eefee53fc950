"""Batched, pipelined sends: one producer batch per topic partition, acknowledgements awaited later.

aiokafka's ``send`` costs a future, a partitioner call and a lock per message, and awaiting its
acknowledgement per block stalls the loop for a broker round trip each time. The hot path instead
appends records to one ``BatchBuilder`` per partition, hands the built batches over once per poll
(:meth:`Publisher.flush`), and awaits their acknowledgements only when a guarantee needs them
(:meth:`Publisher.drain`: before a checkpoint, a commit or a stop).

Handing a batch to aiokafka can itself wait: ``send_batch`` returns only once the partition's
previous batch has left for the broker, and that waits for the ack of the one before it (a
partition has one request in flight at a time). So ``flush`` only queues the built batches, and a
background task hands them to the producer in order; the scoring loop goes on scoring meanwhile.
Records for one partition keep their order: batches are handed over in the order they were built,
and aiokafka delivers a partition's batches in the order it got them.

A keyed record goes to the partition Kafka's default partitioner gives its key (murmur2), exactly
as ``producer.send(topic, value, key=key)`` would place it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

__all__ = ["Publisher"]

Header = tuple[str, bytes]

MAX_IN_FLIGHT = 16
"""Batches queued or sent whose acknowledgement is not yet awaited; above this, ``flush`` waits.
Each holds up to a producer batch (256 KB) in memory."""


class Publisher:
    """Builds producer batches per (topic, partition); sends them on ``flush``; awaits acks on ``drain``."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self._builders: dict[tuple[str, int], Any] = {}
        self._partitions: dict[str, int] = {}
        self._in_flight: list[asyncio.Future[Any]] = []
        self._queued: deque[tuple[tuple[str, int], Any]] = deque()
        """Built batches not yet handed to the producer, oldest first."""
        self._sender: asyncio.Task[None] | None = None
        """Hands ``_queued`` to the producer; runs while there is something queued."""
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
            self._queued.append((slot, builder))  # full: queue it and start another
            builder = self._builders[slot] = self.producer.create_batch()
            if builder.append(key=key, value=value, timestamp=timestamp_ms, headers=headers or []) is None:
                raise ValueError(f"a record of {len(value)} bytes does not fit in a producer batch")
        self.records += 1

    async def flush(self) -> None:
        """Queue every batch built so far for sending; wait only when ``MAX_IN_FLIGHT`` are unacknowledged."""
        builders, self._builders = self._builders, {}
        self._queued.extend((slot, builder) for slot, builder in builders.items() if builder.record_count())
        sender = self._sender
        if sender is not None and sender.done():
            sender.result()  # a failed hand-over raises here, in the loop that published
            self._sender = sender = None
        if self._queued and sender is None:
            self._sender = sender = asyncio.ensure_future(self._hand_over())
        if sender is not None and len(self._queued) > MAX_IN_FLIGHT:
            await asyncio.shield(sender)
        excess = len(self._in_flight) - MAX_IN_FLIGHT
        if excess > 0:
            oldest = self._in_flight[:excess]
            del self._in_flight[:excess]
            await asyncio.gather(*oldest)

    async def drain(self) -> None:
        """Send what is built and wait until the broker has acknowledged everything (errors raise)."""
        await self.flush()
        if self._sender is not None:
            await asyncio.shield(self._sender)  # everything queued is handed over (or its error raises)
        in_flight, self._in_flight = self._in_flight, []
        await asyncio.gather(*in_flight)

    async def _hand_over(self) -> None:
        """Hand the queued batches to the producer, oldest first, until none is left."""
        queued, send_batch = self._queued, self.producer.send_batch
        while queued:
            (topic, partition), builder = queued.popleft()
            self._in_flight.append(await send_batch(builder, topic, partition=partition))

    def track(self, future: asyncio.Future[Any]) -> None:
        """Await ``future`` (a ``producer.send`` result) with the next ``drain``."""
        self._in_flight.append(future)
