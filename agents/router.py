"""The router loop: copy every input message and label to its deployment's routed partition.

See :mod:`tracer.agents.routing` for why. Per batch from Kafka: route each message (rows fan out
to every deployment reading their topic; a label goes to the deployment it names), append the
copies to one producer batch per routed partition and hand those batches to the producer without
waiting for them. About every ``COMMIT_EVERY_S``, and when the loop stops, wait until the broker
has acknowledged every copy, and only then commit the input offsets (at least once; the scorer
drops copies it has seen). A message that can't be routed becomes a dead letter: it is never dropped.

A message (value and key) over ``MAX_MESSAGE_BYTES`` is not copied: the scorer would dead-letter it
as ``oversized`` unread, and a copy over ``tracer.routed``'s limit (Kafka's default, 1 MB) would be
refused. It becomes an ``oversized`` dead letter here, bounded like every dead letter. A copy the
broker refuses anyway (a broker with a lower limit) becomes one too (:class:`Refusals`). A dead
letter is reported (``on_unrouted``) once the broker has acknowledged it.

Not waiting for the acks batch by batch keeps two broker round trips (the acks, then the commit)
out of every batch's way: the next batch is routed while the last one is on its way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tracer.agents.deadletters import Refusals, dead_letter, letter_key
from tracer.agents.publisher import Origin, Publisher
from tracer.agents.routing import (
    HEADER_KEY,
    HEADER_KIND,
    HEADER_REPLAY_DEPLOYMENT,
    HEADER_REPLAY_OF,
    HEADER_SOURCE,
    RouteTable,
    replayed_source,
    routed_partition,
)
from tracer.agents.settings import Settings
from tracer.agents.topics import FetchPace, batch_consumer
from tracer.schemas import ReasonCode
from tracer.schemas.decode import MAX_MESSAGE_BYTES

__all__ = ["COMMIT_EVERY_S", "POLL_RECORDS", "Router"]

POLL_RECORDS = 250
"""Input messages per batch. A row fans out to every deployment reading its topic, so a batch holds
up to this many copies per deployment in memory."""
COMMIT_EVERY_S = 0.5
"""How often the router waits for its copies' acks and commits the input offsets. A crash replays
at most this much input into the routed log again; the scorer drops those copies."""


class Router:
    """Reads the input topics and labels; writes ``tracer.routed`` and dead letters."""

    def __init__(
        self,
        settings: Settings,
        routes: RouteTable,
        producer: AIOKafkaProducer,
        on_unrouted: Callable[[str, ReasonCode], None],
        on_refused: Callable[[str, str, int], None] = lambda topic, reason, count: None,
        on_lost: Callable[[str, str], None] = lambda topic, reason: None,
    ):
        self.settings = settings
        self.routes = routes
        self.on_unrouted = on_unrouted
        """Called with the input topic and the reason of each dead letter written here, once acknowledged."""
        refusals = Refusals(
            producer, settings.topics.dlq, on_refused=on_refused, on_lost=lambda o, reason: on_lost(o.topic, reason),
            on_dead_lettered=self._unrouted, size_reason=ReasonCode.OVERSIZED,
            max_raw_bytes=settings.dead_letter_raw_bytes,
        )  # fmt: skip
        self.publisher = Publisher(producer, on_failed=refusals, on_acked=self._acked)

    def _acked(self, topic: str, origins: list[Origin]) -> None:
        if topic == self.settings.topics.dlq:
            for origin in origins:
                self._unrouted(origin)

    def _unrouted(self, origin: Origin) -> None:
        self.on_unrouted(origin.topic, ReasonCode(origin.reason or ReasonCode.UNKNOWN_DEPLOYMENT))

    async def run(self, should_stop: Callable[[], bool]) -> None:
        """Route batches until ``should_stop()``; a batch in hand is always finished first.

        A deployment added on a topic not read yet changes the route table's topics: the consumer
        then commits, leaves the group and joins again with every topic. (Changing a running
        aiokafka consumer's subscription stopped its fetcher: aio-libs/aiokafka#796.)
        """
        await self.publisher.prepare(
            [self.settings.topics.dlq]
        )  # a keyed dead letter goes where its key does
        while not should_stop():
            await self._consume(self.routes.topics, should_stop)

    async def _consume(self, topics: list[str], should_stop: Callable[[], bool]) -> None:
        """Route what a consumer of ``topics`` reads until ``should_stop()`` or the topics change."""
        consumer = batch_consumer(self.settings, "router", *topics, gather=True)
        await consumer.start()
        pace = FetchPace(consumer)
        committed_at, uncommitted = time.monotonic(), False
        try:
            while not should_stop() and self.routes.topics == topics:
                batch = await consumer.getmany(timeout_ms=200, max_records=POLL_RECORDS)
                pace.polled(bool(batch))
                if batch:
                    await self.route(batch)
                    uncommitted = True
                if uncommitted and time.monotonic() - committed_at >= COMMIT_EVERY_S:
                    await self._commit(consumer)
                    committed_at, uncommitted = time.monotonic(), False
            if uncommitted:
                await self._commit(consumer)
        finally:
            await consumer.stop()

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        """Every copy of what was consumed is acknowledged; then its input offsets are committed."""
        await self.publisher.drain()
        await consumer.commit()

    async def route(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Copy one batch to the routed topic (one producer batch per partition) and send it; the acks
        are awaited before the next commit."""
        routed_topic, partitions, publisher = (
            self.settings.topics.routed,
            self.settings.partitions,
            self.publisher,
        )
        for tp, messages in batch.items():
            origin = f"{tp.topic}:{tp.partition}:"
            for message in messages:
                value, key = message.value, message.key
                size = len(value or b"") + len(key or b"")
                if size > MAX_MESSAGE_BYTES:
                    error = f"message is {size} bytes with its key, over the {MAX_MESSAGE_BYTES}-byte limit"
                    await self._dead_letter(tp, message, ReasonCode.OVERSIZED, error)
                    continue
                source = (HEADER_SOURCE, f"{origin}{message.offset}".encode())
                headers_in = getattr(message, "headers", None)  # () on most messages
                replay = _replay_of(headers_in) if headers_in else None
                replay_routed = False
                for route in self.routes.route(tp.topic, value):
                    if route.deployment is None:
                        await self._dead_letter(tp, message, route.reason, route.error)
                        replay_routed = True  # it has its fate: a dead letter with the route's reason
                        continue
                    if replay is not None and route.deployment != replay[0]:
                        continue  # a replayed input is for the deployment that dead-lettered it only
                    replay_routed = True
                    headers = [(HEADER_KIND, route.kind), source]
                    if key is not None:
                        headers.append((HEADER_KEY, key))
                    if replay is not None:
                        headers.append((HEADER_REPLAY_OF, replay[1]))
                    publisher.append(
                        routed_topic, value, key=route.deployment.encode(),
                        partition=routed_partition(route.deployment, partitions), timestamp_ms=message.timestamp,
                        headers=headers, origin=Origin(tp.topic, tp.partition, message.offset, key, value),
                    )  # fmt: skip
                if replay is not None and not replay_routed:
                    error = f"replayed for deployment {replay[0]!r}, which does not read topic {tp.topic!r}"
                    await self._dead_letter(tp, message, ReasonCode.UNKNOWN_DEPLOYMENT, error)
        await publisher.flush()

    async def _dead_letter(
        self, tp: TopicPartition, message: Any, reason: ReasonCode | None, error: str
    ) -> None:
        """A bounded dead letter keyed by the input's key (if short enough), counted once acknowledged."""
        reason = reason or ReasonCode.UNKNOWN_DEPLOYMENT
        dlq = self.settings.topics.dlq
        letter = dead_letter(reason, error, raw=message.value, key=message.key, topic=tp.topic,
                             partition=tp.partition, offset=message.offset,
                             max_raw_bytes=self.settings.dead_letter_raw_bytes)  # fmt: skip
        key = letter_key(message.key)
        self.publisher.append(
            dlq, letter, key=key, partition=None if key else tp.partition % await self.publisher.partitions(dlq),
            origin=Origin(tp.topic, tp.partition, message.offset, message.key, None, reason=reason.value),
        )  # fmt: skip


def _replay_of(headers: Any) -> tuple[str, bytes] | None:
    """The deployment and original coordinates of an input replayed by ``tracer dlq replay``, if it is one."""
    found = dict(headers)
    deployment, original = found.get(HEADER_REPLAY_DEPLOYMENT), found.get(HEADER_REPLAY_OF)
    if deployment is None or original is None or replayed_source(original) is None:
        return None
    return deployment.decode(errors="replace"), original
