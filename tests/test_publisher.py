"""The publisher places keyed records where Kafka's default partitioner would (pure part; the
sends themselves are exercised on the real broker by the integration tests)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

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
    assert publisher.partition_of("t", key) == expected
