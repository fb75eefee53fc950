"""Reading a compacted topic to its end: the latest value per key, and the values they replaced."""

from __future__ import annotations

import asyncio

import pytest

from tests.kafka_helpers import produce
from tracer.agents.topics import ensure_topics, read_compacted

pytestmark = pytest.mark.kafka


def test_the_replaced_values_are_handed_over_in_log_order(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = topic_prefix + "compacted"
    asyncio.run(ensure_topics(kafka_bootstrap, {topic: 1}, compacted=[topic]))
    produce(kafka_bootstrap, topic, [b"a1", b"b1", b"a2", b"a3", b"c1"], keys=[b"a", b"b", b"a", b"a", b"c"])
    replaced: list[tuple[str, bytes]] = []
    latest = asyncio.run(
        read_compacted(
            kafka_bootstrap, topic, {"a", "b"}, earlier=lambda key, value: replaced.append((key, value))
        )
    )
    assert latest == {"a": b"a3", "b": b"b1"}
    assert replaced == [("a", b"a1"), ("a", b"a2")]
