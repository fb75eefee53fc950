"""The publisher places keyed records where Kafka's default partitioner would (pure part; the
sends themselves are exercised on the real broker by the integration tests)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

import tracer.agents.publisher as publisher_module
from tracer.agents.publisher import Publisher


class _Metadata:
    """Stands in for the producer's metadata lookup only."""

    def __init__(self, partitions: int) -> None:
        self.count = partitions

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.count))


@given(key=st.binary(min_size=1, max_size=40), partitions=st.integers(min_value=1, max_value=64))
def test_a_keyed_record_goes_where_the_default_partitioner_puts_it(key: bytes, partitions: int) -> None:
    publisher = Publisher(_Metadata(partitions))  # type: ignore[arg-type]
    asyncio.run(publisher.prepare(["t"]))
    expected: Any = DefaultPartitioner()(key, list(range(partitions)), list(range(partitions)))
    assert [publisher.partition_of("t", key) for _ in range(2)] == [
        expected,
        expected,
    ]  # hashed, then remembered


def test_remembered_key_hashes_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publisher_module, "HASHES_KEPT", 8)
    publisher = Publisher(_Metadata(6))  # type: ignore[arg-type]
    asyncio.run(publisher.prepare(["t"]))
    keys = [f"customer-{i}".encode() for i in range(20)]
    placed = [publisher.partition_of("t", key) for key in keys]
    assert len(publisher._hashes) <= 8
    assert [publisher.partition_of("t", key) for key in keys] == placed


class _Builder:
    """A producer batch that holds ``capacity`` records."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.values: list[bytes] = []

    def append(
        self, *, key: bytes | None, value: bytes, timestamp: int | None, headers: Any
    ) -> object | None:
        if len(self.values) >= self.capacity:
            return None
        self.values.append(value)
        return object()

    def record_count(self) -> int:
        return len(self.values)


class _SlowProducer(_Metadata):
    """Behaves as aiokafka's producer does for batches: ``send_batch`` returns only once the
    partition's previous batch has been acknowledged (``ack`` releases the oldest)."""

    def __init__(self, partitions: int, capacity: int = 1_000, fail_on: bytes | None = None) -> None:
        super().__init__(partitions)
        self.capacity = capacity
        self.fail_on = fail_on
        self.handed: list[tuple[int, list[bytes]]] = []
        self.unacked: list[asyncio.Future[None]] = []
        self.sent: list[tuple[bytes, int]] = []

    def create_batch(self) -> _Builder:
        return _Builder(self.capacity)

    async def send_batch(self, builder: _Builder, topic: str, *, partition: int) -> asyncio.Future[None]:
        if self.fail_on in builder.values:
            raise RuntimeError("broker said no")
        while self.unacked and not self.unacked[-1].done():  # one batch in flight at a time
            await asyncio.sleep(0)
        self.handed.append((partition, builder.values))
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.unacked.append(ack)
        return ack

    def ack(self) -> None:
        next(f for f in self.unacked if not f.done()).set_result(None)

    async def send(self, topic: str, value: bytes, *, key: bytes) -> asyncio.Future[None]:
        """A single record (a checkpoint): noted with how many batches were acknowledged then."""
        self.sent.append((value, sum(f.done() for f in self.unacked)))
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack


def test_append_needs_a_prepared_topic_to_place_a_record_itself() -> None:
    publisher = Publisher(_SlowProducer(3))  # type: ignore[arg-type]
    publisher.append("t", b"placed", partition=1)  # a given partition needs no metadata
    with pytest.raises(KeyError, match="'u' is not prepared"):
        publisher.append("u", b"keyed", key=b"k")
    asyncio.run(publisher.prepare(["u"]))
    publisher.append("u", b"keyed", key=b"k")
    publisher.append("u", b"keyed again", key=b"k")
    slot = ("u", publisher.partition_of("u", b"k"))
    assert publisher._builders[slot].values == [b"keyed", b"keyed again"]  # type: ignore[attr-defined]
    assert publisher.records == 3


async def _drain_acking(publisher: Publisher, producer: _SlowProducer) -> bool:
    """Drain, acknowledging batches one at a time meanwhile; True if drain waited for them."""
    draining = asyncio.ensure_future(publisher.drain())
    await asyncio.sleep(0.01)
    waited = not draining.done()
    while not draining.done():
        if any(not f.done() for f in producer.unacked):
            producer.ack()
        await asyncio.sleep(0)
    await draining
    return waited


def test_flush_hands_batches_over_in_build_order_without_waiting_for_acks() -> None:
    async def run() -> tuple[list[tuple[int, list[bytes]]], bool]:
        producer = _SlowProducer(partitions=1, capacity=3)
        publisher = Publisher(producer)  # type: ignore[arg-type]
        for poll in range(4):  # nothing is ever acknowledged, and yet every flush returns
            for i in range(5):  # 5 records, 3 per batch: a full batch is queued as it fills
                publisher.append("t", f"{poll}.{i}".encode(), partition=0)
            await asyncio.wait_for(publisher.flush(), 1.0)
        waited = await _drain_acking(publisher, producer)
        return producer.handed, waited

    handed, waited = asyncio.run(run())
    assert waited, "drain returned before the broker acknowledged"
    values = [value for _, batch in handed for value in batch]
    assert values == [f"{poll}.{i}".encode() for poll in range(4) for i in range(5)]
    assert [len(batch) for _, batch in handed] == [3, 2] * 4


def test_a_failed_hand_over_raises_in_the_publishing_loop() -> None:
    async def run() -> None:
        publisher = Publisher(_SlowProducer(partitions=2, fail_on=b"bad"))  # type: ignore[arg-type]
        publisher.append("t", b"bad", partition=1)
        await publisher.flush()
        await publisher.drain()

    with pytest.raises(RuntimeError, match="broker said no"):
        asyncio.run(run())


def test_send_after_waits_for_earlier_acks_off_the_loop_and_keeps_its_order() -> None:
    async def run() -> tuple[list[tuple[bytes, int]], list[bytes], bool]:
        producer = _SlowProducer(partitions=2, capacity=2)
        publisher = Publisher(producer)  # type: ignore[arg-type]
        for i in range(3):
            publisher.append("t", f"a{i}".encode(), partition=i % 2)
        await asyncio.wait_for(publisher.send_after("ckpt", b"first", key=b"d"), 1.0)  # returns at once
        publisher.append("t", b"b0", partition=0)
        await asyncio.wait_for(publisher.send_after("ckpt", b"second", key=b"d"), 1.0)
        await asyncio.sleep(0.01)
        early = list(producer.sent)
        waited = await _drain_acking(publisher, producer)
        return producer.sent, [v for v, _ in early], waited

    sent, early, waited = asyncio.run(run())
    assert early == [], "a deferred record left before the records added ahead of it were acknowledged"
    assert waited, "drain returned before the deferred records were sent"
    assert [value for value, _ in sent] == [b"first", b"second"]
    first, second = (acked for _, acked in sent)
    assert first >= 2 and second == 3, (
        "a deferred record left before the batches ahead of it were acknowledged"
    )
