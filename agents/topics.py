"""Create topics before any worker subscribes to them.

A Faust worker that starts before its source topic exists logs "Ignoring missing topic" and
never reads it, even after a producer creates it; so every command that starts a worker first
creates the topics it reads and writes, with the partition count we mean.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from tracer.agents.settings import Settings

__all__ = [
    "FETCH_MAX_WAIT_MS",
    "GATHER_MAX_WAIT_MS",
    "GATHER_MIN_BYTES",
    "IDLE_FETCH_WAIT_MS",
    "FetchPace",
    "batch_consumer",
    "ensure_topics",
    "missing_topics",
    "read_compacted",
    "topic_configs",
    "tracer_topics",
]

log = logging.getLogger(__name__)

FETCH_MAX_WAIT_MS = 20
"""How long the broker may hold a fetch that finds nothing new (Kafka's default is 500 ms).

aiokafka keeps one fetch in flight per broker, and leaves out of it the partitions whose fetched
records are still being consumed. So while a busy partition's records are consumed, a fetch for
only the *idle* partitions goes out, the broker holds it for the full wait, and the busy
partition's next fetch waits behind it: measured, the scorer sat idle 300-400 ms at a time with
its routed log full. With 20 ms, a churn backlog went from 13-14k to 16.7-19.7k events/s and the paced
p50 latency at 6,000 events/s from 17-18 to 10-11 ms. Once a poll finds nothing at all, the wait
goes back to Kafka's default (:class:`FetchPace`)."""

GATHER_MIN_BYTES = 16_384
GATHER_MAX_WAIT_MS = 5
"""The router's fetches: the broker answers once 16 KB are there or after 5 ms, whichever is first.

Answering at the first byte (Kafka's default), a router reading a paced input answered fetches of a
few records each, and each fetch, routed batch and produce request has its fixed cost in the router
and in the broker. Measured with a paced churn load of 9,000-9,500 events/s on a 2-core machine
(dev harness, five pairs of runs): the router's CPU went from 27-31% to 18-24% of a core and the
broker's from 48-52% to 42-48%; p99 latency from 78, 349, 426, 484 and 593 ms to 58, 83, 100, 105
and 204 ms (the machine was saturated either way). An event after a quiet spell waits no more:
once a poll finds nothing, fetches answer at the first byte (:class:`FetchPace`). The scorer
keeps answering at the first byte: what the router writes arrives in its batches."""


def tracer_topics(settings: Settings, extra: Iterable[str] = ()) -> dict[str, int]:
    """Tracer's own topics and ``extra`` input topics, each with its partition count."""
    topics = {name: settings.partitions for name in (*settings.topics.__dict__.values(), *extra)}
    topics[settings.topics.registry] = 1
    return topics


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """Configs of Tracer's compacted topics: the registry, the (large) checkpoints, the composites' state."""
    names = settings.topics
    return {
        names.registry: {"cleanup.policy": "compact"},
        names.checkpoints: {"cleanup.policy": "compact", "max.message.bytes": "16777216"},
        names.composites_state: {"cleanup.policy": "compact"},
    }


async def ensure_topics(
    bootstrap: str,
    partitions: Mapping[str, int],
    *,
    compacted: Iterable[str] = (),
    configs: Mapping[str, Mapping[str, str]] | None = None,
) -> list[str]:
    """Create the topics that don't exist yet; returns the names created. Existing ones are left alone."""
    settings = {name: dict(config) for name, config in (configs or {}).items()}
    for name in compacted:
        settings.setdefault(name, {})["cleanup.policy"] = "compact"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name,
                num_partitions=count,
                replication_factor=1,
                topic_configs=settings.get(name, {}),
            )
            for name, count in partitions.items()
            if name not in existing
        ]
        if not wanted:
            return []
        response = await admin.create_topics(wanted)
        created = []
        for name, code, *_ in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:
                raise RuntimeError(f"could not create topic {name!r}: Kafka error code {code}")
        # Metadata for new topics reaches the broker's cache asynchronously.
        for _ in range(50):
            if set(created) <= set(await admin.list_topics()):
                break
            await asyncio.sleep(0.1)
        log.info("created topics %s", ", ".join(created))
        return created
    finally:
        await admin.close()


async def missing_topics(bootstrap: str, names: Iterable[str]) -> list[str]:
    """Those of ``names`` the broker does not have, sorted."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return sorted(set(names) - set(await admin.list_topics()))
    finally:
        await admin.close()


IDLE_FETCH_WAIT_MS = 500
"""How long the broker may hold a hot-path consumer's fetch once a poll of it found nothing (Kafka's
default wait); such a fetch is answered at the first byte, so an event after a quiet spell waits no
longer for it. Measured with an idle worker (a churn deployment, its backlog done): the router's
gathered fetches expired every 5 ms and the scorer's every 20 ms, 250 empty fetches a second that
cost the broker 18.9% of a core, the router 10.6% and the worker 3.9%."""


class FetchPace:
    """Switches a started batch consumer between the fetch settings it was made with (while its
    polls find records) and idle ones (once a poll finds none): fetches answered at the first byte
    and held up to ``IDLE_FETCH_WAIT_MS``. The first poll that finds records switches it back.

    aiokafka takes no new fetch settings after it starts, so this sets its fetcher's two fields; a
    fetch already in flight keeps the settings it was sent with (the next one takes the new ones).
    """

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._fetcher = consumer._fetcher
        self._busy = (self._fetcher._fetch_min_bytes, self._fetcher._fetch_max_wait_ms)
        self.idle = False

    def polled(self, found_records: bool) -> None:
        """Call after each poll with whether it found records."""
        if found_records == self.idle:  # a change: idle and found records, or busy and found none
            self.idle = not found_records
            min_bytes, max_wait_ms = (1, IDLE_FETCH_WAIT_MS) if self.idle else self._busy
            self._fetcher._fetch_min_bytes = min_bytes
            self._fetcher._fetch_max_wait_ms = max_wait_ms


def batch_consumer(settings: Settings, group: str, *topics: str, gather: bool = False) -> AIOKafkaConsumer:
    """A consumer for the hot path's batch loops (router and scorer): group ``<app id>-<group>``,
    offsets committed by the loop, from the earliest offset, short fetch waits, and at most 1 MB
    buffered per partition (4 MB raised a 25-deployment worker's peak memory and no rate).
    ``gather`` lets the broker gather up to ``GATHER_MIN_BYTES`` for ``GATHER_MAX_WAIT_MS`` (the router)."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.broker,
        group_id=f"{settings.app_id}-{group}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=1_048_576,
        fetch_max_wait_ms=GATHER_MAX_WAIT_MS if gather else FETCH_MAX_WAIT_MS,
        fetch_min_bytes=GATHER_MIN_BYTES if gather else 1,
    )


async def read_compacted(
    bootstrap: str,
    topic: str,
    keys: set[str] | None = None,
    *,
    earlier: Callable[[str, bytes], None] | None = None,
) -> dict[str, bytes]:
    """The latest value of each key (all keys, or the wanted ones) of a compacted topic, read to its end.

    ``earlier(key, value)`` is called with each value a later one replaced (those the log cleaner
    has not compacted away yet), in log order: for a reader that can use an older value when the
    latest is unusable, without holding them all."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", max_partition_fetch_bytes=16_777_216,
    )  # fmt: skip
    await consumer.start()  # without a group, a subscribed consumer is assigned every partition
    try:
        partitions = sorted(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        latest: dict[str, bytes] = {}

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in partitions])

        while await behind():
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    key = message.key.decode() if message.key else ""
                    if keys is None or key in keys:
                        if message.value is None:
                            latest.pop(key, None)
                        else:
                            if earlier is not None and key in latest:
                                earlier(key, latest[key])
                            latest[key] = message.value
        return latest
    finally:
        await consumer.stop()
