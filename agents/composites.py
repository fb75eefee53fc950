"""Composites in the worker (issue 21): their declarations in the registry, and the stream stage.

Declarations: ``composite/<id>`` in ``tracer.registry`` holds a :class:`CompositeSpec` (from the
deployments file's ``composites:`` list or ``POST /composites``); every worker reads them at start.

The stage (:class:`CompositeStage`) reads ``tracer.predictions`` in its own consumer group, feeds
:class:`~tracer.online_models.composite_table.CompositeTable` and writes two topics:
``tracer.composites`` (a :class:`CompositeDecision` keyed by entity, when a prediction changes an
entity's recommendation) and ``tracer.composites.state``, the table's compacted changelog (the
state of each composite and entity, in the partition of the entity's predictions). In order:

1. on assignment of predictions partitions, restore their states from the changelog's same
   partitions, read to their end; a batch fetched across a rebalance, or from a partition whose states
   are not restored yet (aiokafka may hand records out while the callback still runs), is not applied:
   its partitions are sought back to where it started and read again;
2. per batch: apply each prediction (the table skips those at or below an entity's applied offset),
   append the decisions and the batch's latest state per key, send them;
3. about every ``COMMIT_EVERY_S``, on revoke and on stop: wait until the broker acknowledged all of
   it, then commit the predictions' offsets; on revoke, forget the revoked partitions' states.

So a crash or a rebalance replays at most the uncommitted predictions, over a state that already
has them or not, and reaches the same states and decisions (the table's docstring says why).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from mode import Service
from prometheus_client import CollectorRegistry, Counter

from tracer.agents.publisher import Publisher
from tracer.agents.registry_topic import write_keyed
from tracer.agents.settings import Settings
from tracer.agents.topics import batch_consumer, read_compacted
from tracer.blueprints import registry
from tracer.online_models.composite import Composite, CompositeError, resolve
from tracer.online_models.composite_table import Change, CompositeTable, state_key
from tracer.schemas import DeploymentSpec
from tracer.schemas.composites import CompositeSpec

__all__ = ["COMMIT_EVERY_S", "CompositeStage", "load_composites", "publish_composites", "read_composites"]

log = logging.getLogger(__name__)

PREFIX = "composite/"
COMMIT_EVERY_S = 0.5
POLL_RECORDS = 500


async def publish_composites(bootstrap: str, topic: str, specs: Iterable[CompositeSpec]) -> None:
    """Write composite declarations under ``composite/<id>`` and wait for the acknowledgements."""
    await write_keyed(
        bootstrap, topic, ((f"{PREFIX}{s.designation}", s.model_dump_json().encode()) for s in specs)
    )


async def read_composites(bootstrap: str, topic: str) -> list[CompositeSpec]:
    """Every composite declared in the registry."""
    latest = await read_compacted(bootstrap, topic)
    return [CompositeSpec.model_validate_json(v) for k, v in sorted(latest.items()) if k.startswith(PREFIX)]


def load_composites(
    specs: Iterable[CompositeSpec], deployments: Mapping[str, DeploymentSpec]
) -> list[Composite]:
    """The declarations that resolve against the running ``deployments``; the others are logged, skipped."""
    found = []
    for spec in specs:
        try:
            found.append(resolve(spec, deployments, registry.ids()))
        except CompositeError as error:
            log.error("skipping composite %s: %s", spec.designation, error)
    return found


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commit before partitions go; restore their states when they come (steps 1 and 3). Both wait for
    the batch in hand (``stage.batch_lock``), and both count as a rebalance (``stage.rebalances``)."""

    def __init__(self, stage: CompositeStage, consumer: AIOKafkaConsumer) -> None:
        self.stage, self.consumer = stage, consumer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.stage.batch_lock:
            self.stage.rebalances += 1
            await self.stage.commit(self.consumer)
            gone = [tp.partition for tp in revoked]
            self.stage.table.drop(gone)
            self.stage.restored.difference_update(gone)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        async with self.stage.batch_lock:
            self.stage.rebalances += 1
            await self.stage.restore([tp.partition for tp in assigned])


class CompositeStage(Service):
    """The composites' stream stage (module docstring). Runs only while some composite is declared."""

    def __init__(
        self,
        settings: Settings,
        table: CompositeTable,
        registry: CollectorRegistry | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.table = table
        self.decisions_total = Counter(
            "tracer_composite_decisions", "Decisions published on tracer.composites (a recommendation changed).",
            ["composite"], registry=registry,
        ) if registry is not None else None  # fmt: skip
        self.producer: AIOKafkaProducer | None = None
        self.publisher: Publisher | None = None
        self.decisions = 0
        """Decisions published (acknowledged or not) since start."""
        self._uncommitted = False
        self.restored: set[int] = set()
        """Partitions whose states are restored: a batch of another is read again once it is."""
        self.batch_lock = asyncio.Lock()
        """Held from a batch's fetch to its publication; rebalance callbacks take it."""
        self.rebalances = 0

    async def on_start(self) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=self.settings.broker, linger_ms=0)
        await self.producer.start()
        self.publisher = Publisher(self.producer)
        topics = self.settings.topics
        await self.publisher.prepare([topics.composites, topics.composites_state])

    async def on_shutdown(self) -> None:
        if self.producer is not None:
            await self.producer.stop()

    async def restore(self, partitions: list[int]) -> None:
        """Read the changelog's ``partitions`` to their end into the table (step 1)."""
        topic = self.settings.topics.composites_state
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.broker, group_id=None, enable_auto_commit=False
        )
        await consumer.start()
        try:
            wanted = [TopicPartition(topic, p) for p in partitions]
            consumer.assign(wanted)
            await consumer.seek_to_beginning(*wanted)
            ends = await consumer.end_offsets(wanted)
            while any([await consumer.position(tp) < ends[tp] for tp in wanted]):
                for tp, messages in (await consumer.getmany(timeout_ms=500, max_records=5_000)).items():
                    for message in messages:
                        if message.key is not None and message.offset < ends[tp]:
                            self.table.restore(message.key, message.value, tp.partition)
        finally:
            await consumer.stop()
        self.restored.update(partitions)

    async def commit(self, consumer: AIOKafkaConsumer) -> None:
        """Everything sent is acknowledged; then the predictions' offsets are committed (step 3)."""
        if self.publisher is None or not self._uncommitted:
            return
        await self.publisher.drain()
        await consumer.commit()
        self._uncommitted = False

    def publish(self, changes: list[Change]) -> None:
        """Append the decisions and each key's latest state (step 2)."""
        assert self.publisher is not None
        topics = self.settings.topics
        latest: dict[bytes, Change] = {}
        for change in changes:
            latest[state_key(change.composite, change.entity)] = change
            if change.decision is not None:
                self.publisher.append(
                    topics.composites, change.decision.model_dump_json().encode(), key=change.entity.encode()
                )
                self.decisions += 1
                if self.decisions_total is not None:
                    self.decisions_total.labels(change.composite).inc()
        for key, change in latest.items():
            self.publisher.append(
                topics.composites_state, change.state.to_json(), key=key, partition=change.partition
            )

    def apply(self, batch: Mapping[TopicPartition, list[Any]]) -> list[Change]:
        """The changes a batch of ``tracer.predictions`` makes; an unreadable message is logged and skipped
        (the stage reads only what the scorer wrote, which is never unreadable)."""
        changes: list[Change] = []
        for tp, messages in batch.items():
            for message in messages:
                try:
                    prediction = json.loads(message.value)
                    changes.extend(self.table.apply(prediction, tp.partition, message.offset, tp.topic))
                except (ValueError, TypeError, KeyError) as error:
                    log.warning(
                        "composites: skipping %s:%d:%d: %s", tp.topic, tp.partition, message.offset, error
                    )
        return changes

    @Service.task
    async def _run(self) -> None:
        while not self.should_stop and not self.table.composites:
            await asyncio.sleep(0.2)  # nothing to do until a composite is declared
        if self.should_stop:
            return
        consumer = batch_consumer(self.settings, "composites")
        await consumer.start()
        consumer.subscribe([self.settings.topics.predictions], listener=_Listener(self, consumer))
        committed_at = time.monotonic()
        try:
            while not self.should_stop:
                rebalances = self.rebalances
                batch = await consumer.getmany(timeout_ms=200, max_records=POLL_RECORDS)
                async with self.batch_lock:
                    stale = self.rebalances != rebalances or any(
                        tp.partition not in self.restored for tp in batch
                    )
                    if batch and stale:  # fetched across a rebalance, or before its states came back
                        _read_again(consumer, batch)
                    elif batch:
                        self.publish(self.apply(batch))
                        assert self.publisher is not None
                        await self.publisher.flush()
                        self._uncommitted = True
                if time.monotonic() - committed_at >= COMMIT_EVERY_S:
                    async with self.batch_lock:
                        await self.commit(consumer)
                    committed_at = time.monotonic()
            await self.commit(consumer)
        finally:
            await consumer.stop()


def _read_again(consumer: AIOKafkaConsumer, batch: Mapping[TopicPartition, list[Any]]) -> None:
    """Seek each partition of ``batch`` this consumer still owns back to the batch's first offset there,
    so its records are fetched again (and applied on restored states); the others are another's now."""
    owned = consumer.assignment()
    for tp, messages in batch.items():
        if tp in owned and messages:
            consumer.seek(tp, messages[0].offset)
