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

A checkpoint must not reach the broker before the outputs its state implies, yet waiting for
their acknowledgements in the loop would stall it for a round trip. :meth:`Publisher.send_after`
queues a marker behind the batches built so far; when the hand-over reaches it, a task waits for
the acknowledgements of everything handed over before it, then sends the record. Such deferred
records keep their order among themselves, and ``drain`` waits for them too.

A keyed record goes to the partition Kafka's default partitioner gives its key (murmur2), exactly
as ``producer.send(topic, value, key=key)`` would place it. The hash of a recent key is remembered:
aiokafka's murmur2 is pure Python (about 2 µs a key), and entities recur.

A batch the broker refuses for a reason of its own records (``PER_RECORD_ERRORS``: too large,
corrupt, a bad timestamp) never raises out of ``flush`` or ``drain``: one bad record must not crash
the loop, which would then republish the same record on every restart (issue 24). A record big
enough to be refused is alone in its batch (``append`` starts a new batch for a record that does not
fit), so the batch's error is that record's. Each record may carry an :class:`Origin`, the input it
stands for; the publisher hands a refused batch's origins to ``on_failed``, and awaits it before the
batch counts as settled, so what ``on_failed`` sends in its place is acknowledged before any later
``send_after`` record (a checkpoint) goes out. ``on_acked`` gets the origins of acknowledged batches.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidMessageError,
    InvalidTimestampError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from aiokafka.partitioner import murmur2

__all__ = ["PER_RECORD_ERRORS", "OnAcked", "OnFailed", "Origin", "Publisher", "is_size_error"]

log = logging.getLogger(__name__)

Header = tuple[str, bytes]

HASHES_KEPT = 16_384
"""Key hashes remembered (about 2 MB at most); past this the memory starts afresh."""
MAX_IN_FLIGHT = 16
"""Batches queued or sent whose acknowledgement is not yet awaited; above this, ``flush`` waits.
Each holds up to a producer batch (256 KB) in memory."""

PER_RECORD_ERRORS: tuple[type[Exception], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    CorruptRecordException,
    InvalidMessageError,
    InvalidTimestampError,
)
"""Errors of a send that come from the records themselves: sending them again fails again."""


def is_size_error(error: BaseException) -> bool:
    """True if ``error`` says a record (or its batch) was over a size limit."""
    return isinstance(error, MessageSizeTooLargeError | RecordTooLargeError | RecordListTooLargeError)


class Origin(NamedTuple):
    """The input a published record stands for: enough to log it, count it, and dead-letter it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    raw: bytes | None
    deployment: str | None = None
    reason: str | None = None
    """The dead letter's reason code, if the record is a dead letter."""


OnFailed = Callable[[str, BaseException, list[Origin], int], Awaitable[None]]
"""Called with the topic, the error, the origins of the refused batch's records and its record count."""
OnAcked = Callable[[str, list[Origin]], None]
"""Called with the topic and the origins of an acknowledged batch's records."""


class Publisher:
    """Builds producer batches per (topic, partition); sends them on ``flush``; awaits acks on ``drain``."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        *,
        on_failed: OnFailed | None = None,
        on_acked: OnAcked | None = None,
    ) -> None:
        self.producer = producer
        self.on_failed = on_failed
        """What to do with a batch the broker refused (``PER_RECORD_ERRORS``); by default, log it."""
        self.on_acked = on_acked
        self._builders: dict[tuple[str, int], Any] = {}
        self._origins: dict[tuple[str, int], list[Origin]] = {}
        """The origins of the records in each open builder, for those appended with one."""
        self._partitions: dict[str, int] = {}
        self._in_flight: list[asyncio.Future[Any]] = []
        self._queued: deque[tuple[tuple[str, int] | None, Any, list[Origin]]] = deque()
        """Built batches not yet handed to the producer, oldest first, and ``send_after`` markers (no slot)."""
        self._sender: asyncio.Task[None] | None = None
        """Hands ``_queued`` to the producer; runs while there is something queued."""
        self._deferred: list[asyncio.Task[None]] = []
        """``send_after`` records not yet acknowledged, oldest first."""
        self.records = 0
        """Records appended so far (all topics)."""
        self._hashes: dict[bytes, int] = {}

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
        hashes = self._hashes
        hashed = hashes.get(key)
        if hashed is None:
            if len(hashes) >= HASHES_KEPT:
                hashes.clear()
            hashed = hashes[key] = murmur2(key) & 0x7FFFFFFF
        return hashed % self._partitions[topic]

    def append(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[Header] | None = None,
        origin: Origin | None = None,
    ) -> None:
        """Append one record; ``partition`` defaults to the key's, or round robin for a record without
        a key, and then ``topic`` must be prepared (:meth:`prepare`). ``origin`` is the input the
        record stands for, handed to ``on_acked`` or ``on_failed`` with its batch."""
        if partition is None:
            count = self._partitions.get(topic)
            if count is None:
                raise KeyError(f"topic {topic!r} is not prepared: its partition count is unknown")
            partition = self.records % count if key is None else self.partition_of(topic, key)
        slot = (topic, partition)
        builder = self._builders.get(slot)
        if builder is None:
            builder = self._builders[slot] = self.producer.create_batch()
        if builder.append(key=key, value=value, timestamp=timestamp_ms, headers=headers or []) is None:
            self._queued.append((slot, builder, self._origins.pop(slot, [])))  # full: queue it, start another
            builder = self._builders[slot] = self.producer.create_batch()
            if builder.append(key=key, value=value, timestamp=timestamp_ms, headers=headers or []) is None:
                raise ValueError(f"a record of {len(value)} bytes does not fit in a producer batch")
        if origin is not None:
            origins = self._origins.get(slot)
            if origins is None:
                origins = self._origins[slot] = []
            origins.append(origin)
        self.records += 1

    async def flush(self) -> None:
        """Queue every batch built so far for sending; wait only when ``MAX_IN_FLIGHT`` are unacknowledged."""
        builders, self._builders = self._builders, {}
        origins, self._origins = self._origins, {}
        self._queued.extend(
            (slot, builder, origins.get(slot, []))
            for slot, builder in builders.items()
            if builder.record_count()
        )
        sender = self._hand_over_queued()
        if sender is not None and len(self._queued) > MAX_IN_FLIGHT:
            await asyncio.shield(sender)
        excess = len(self._in_flight) - MAX_IN_FLIGHT
        if excess > 0:
            oldest = self._in_flight[:excess]
            await asyncio.gather(*oldest)  # still listed meanwhile, so a marker's snapshot holds them
            del self._in_flight[: len(oldest)]
        while self._deferred and self._deferred[0].done():
            self._deferred.pop(0).result()  # a failed deferred send raises here too

    async def drain(self) -> None:
        """Send what is built and wait until the broker has acknowledged everything (errors raise)."""
        await self.flush()
        if self._sender is not None:
            await asyncio.shield(self._sender)  # everything queued is handed over (or its error raises)
        in_flight, self._in_flight = self._in_flight, []
        await asyncio.gather(*in_flight)
        deferred, self._deferred = self._deferred, []
        await asyncio.gather(*deferred)

    async def send_after(self, topic: str, value: bytes, *, key: bytes) -> None:
        """Send one record once every record added before it is acknowledged, without waiting for that.

        The record goes out after the acknowledgements of everything added so far and after the
        previous ``send_after`` record; ``flush`` and ``drain`` raise its error if it fails."""
        await self.flush()
        barrier: asyncio.Future[list[asyncio.Future[Any]]] = asyncio.get_running_loop().create_future()
        self._queued.append((None, barrier, []))
        self._hand_over_queued()
        previous = self._deferred[-1] if self._deferred else None
        self._deferred.append(
            asyncio.ensure_future(self._send_when_acked(barrier, previous, topic, value, key))
        )

    async def _send_when_acked(
        self,
        barrier: asyncio.Future[list[asyncio.Future[Any]]],
        previous: asyncio.Task[None] | None,
        topic: str,
        value: bytes,
        key: bytes,
    ) -> None:
        await asyncio.gather(*await barrier)
        if previous is not None:
            await previous
        await (await self.producer.send(topic, value, key=key))

    def _hand_over_queued(self) -> asyncio.Task[None] | None:
        """Start the hand-over task if something is queued and none runs; returns the running one."""
        sender = self._sender
        if sender is not None and sender.done():
            sender.result()  # a failed hand-over raises here, in the loop that published
            self._sender = sender = None
        if self._queued and sender is None:
            self._sender = sender = asyncio.ensure_future(self._hand_over())
        return sender

    async def _hand_over(self) -> None:
        """Hand the queued batches to the producer, oldest first, until none is left; a marker
        (``send_after``) gets the acknowledgements of everything handed over before it."""
        queued, send_batch = self._queued, self.producer.send_batch
        while queued:
            slot, builder, origins = queued.popleft()
            if slot is None:
                builder.set_result(list(self._in_flight))
                continue
            topic, partition = slot
            count = builder.record_count()
            try:
                sent = await send_batch(builder, topic, partition=partition)
            except PER_RECORD_ERRORS as error:  # refused before it left: settled like a refusal by the broker
                sent = asyncio.get_running_loop().create_future()
                sent.set_exception(error)
            self._in_flight.append(asyncio.ensure_future(self._settle(sent, topic, origins, count)))

    async def _settle(self, sent: asyncio.Future[Any], topic: str, origins: list[Origin], count: int) -> Any:
        """The batch's acknowledgement; a per-record refusal goes to ``on_failed`` instead of raising."""
        try:
            acknowledged = await sent
        except PER_RECORD_ERRORS as error:
            await self._failed(topic, error, origins, count)
            return None
        if origins and self.on_acked is not None:
            self.on_acked(topic, origins)
        return acknowledged

    async def _failed(self, topic: str, error: BaseException, origins: list[Origin], count: int) -> None:
        if self.on_failed is None:
            first = origins[0] if origins else None
            log.error("the broker refused %d record(s) for %s (%r); first from %s", count, topic, error,
                      f"{first.topic}:{first.partition}:{first.offset}" if first else "an unknown source")  # fmt: skip
            return
        try:
            await self.on_failed(topic, error, origins, count)
        except Exception:  # its own failure must not wedge the loop either
            log.exception("handling %d refused record(s) for %s failed", count, topic)
