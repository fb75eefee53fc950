"""The scoring service: route, score, learn, publish and checkpoint, a batch at a time.

It runs inside the Faust worker as a mode ``Service`` and drives aiokafka's batch API directly
(see the README, "Why the hot path is built this way"). Two loops:

- the **router** copies each input message to ``tracer.routed``, partitioned by deployment
  (:mod:`tracer.agents.routing`); it runs in a process of its own (:mod:`tracer.agents.router_process`);
- the **scorer** owns the routed partitions the consumer group assigns it, and with them those
  deployments' models. For each batch it hands each deployment its events, in log order, to
  :class:`~tracer.online_models.live.LiveDeployment` and publishes what comes back.

Checkpoints and recovery across restarts and rebalances follow the protocol written down in
:mod:`tracer.agents.recovery`; the service takes them, and restores from them, with the methods of
:class:`~tracer.agents.checkpointing.Checkpointing`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from mode import Service
from mode.utils.logging import cry

from tracer.agents.checkpointing import Checkpointing
from tracer.agents.deadletters import Refusals, dead_letter
from tracer.agents.metrics import UNROUTED_DEPLOYMENT, TracerMetrics
from tracer.agents.outputs import now_ms, publish_result
from tracer.agents.publisher import Origin, Publisher
from tracer.agents.recovery import Owned, RebalanceListener, Refusal
from tracer.agents.router_process import RouterProcess
from tracer.agents.routing import (
    HEADER_KEY,
    HEADER_KIND,
    HEADER_REPLAY_OF,
    HEADER_SOURCE,
    KIND_LABEL,
    KIND_TICK,
    RouteTable,
    replayed_source,
    routed_partition,
)
from tracer.agents.settings import Settings
from tracer.agents.topics import FetchPace, batch_consumer
from tracer.online_models.batch import Source
from tracer.online_models.checkpoint import Sealing
from tracer.online_models.live import BatchResult, RoutedEvent
from tracer.schemas import DeploymentSpec, ReasonCode

# Owned lives in tracer.agents.recovery. It is exported here too: checkpoints sealed before it
# moved name it by this module, and unpickling looks it up here.
__all__ = ["Owned", "ScoringService"]

log = logging.getLogger(__name__)

BLOCK_EVENTS = 256
"""Learning block size in accepted events: predictions in a block use the model as of its start, and
its outcomes are learned together (River's ``learn_many``) when the next block starts."""
POLL_RECORDS = 2_000
SLICE_RECORDS = 500
"""The scorer polls up to ``POLL_RECORDS`` records and scores them ``SLICE_RECORDS`` at a time,
letting the event loop run between slices.

aiokafka fetches a partition again only once its fetched records (1 MB, about 4,000 routed
records) are all taken, and its fetcher runs only when the loop does. Taking 500 records a poll, the
next fetch went out only when the poll that took the last ones was scored, and the scorer then sat
idle for the round trip. Now the fetch goes out at the first slice boundary after the last records
are taken, and its answer arrives while the other slices of that poll are scored. Measured on a
churn backlog of 50,000 events (py-spy, idle samples included), the worker's loop waited in
``select`` 14.6% of the time with polls of 500, 4.0% with polls of 2,000, and 1.4% taking every
fetched record at once; that last raised the peak RSS of 25 deployments from 268 to 284 MB. Between
two slices every deployment is as it is between two polls."""
LOOPS_STOP_S = 30.0
"""How long a stop waits for the router and scorer to finish their batch (a few ms when healthy)."""
BLOCK_IDLE_S = 0.5
"""An open block that gets no event for this long, once caught up, is closed by a tick in the log."""


class ScoringService(Checkpointing, Service):
    """Router + scorer loops for a set of deployments (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        specs: Sequence[DeploymentSpec],
        *,
        secret: str,
        metrics: TracerMetrics,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.specs = {spec.id: spec for spec in specs}
        self.secret = secret
        self.metrics = metrics
        self.routes = RouteTable(specs, settings.topics.labels)
        """What the router process routes (it keeps its own copy, told of every ``add_route``)."""
        self.router = RouterProcess(
            settings, lambda: self.specs.values(), self._count_unrouted, on_refused=metrics.record_publish_failure,
            on_lost=lambda topic, reason: metrics.record_lost(UNROUTED_DEPLOYMENT, topic, reason),
        )  # fmt: skip
        self.owned: dict[str, Owned] = {}
        self.stopped: set[str] = set()
        """Deployments stopped through the API: what is still routed to them is skipped, not dead-lettered."""
        self.refused: dict[str, Refusal] = {}
        self.producer: AIOKafkaProducer | None = None
        self.publisher: Publisher | None = None
        """The scorer's outputs: batched per partition, sent once per poll, acknowledged before a checkpoint."""
        self.batches = 0
        self.lag: dict[tuple[str, int], int] = {}
        """Unscored messages per owned routed partition, measured about once a second."""
        self._router_done = asyncio.Event()
        self.batch_lock = asyncio.Lock()
        """Held while a batch is scored and published; rebalance callbacks take it, so a revoke
        never checkpoints or drops a deployment halfway through a batch."""
        self.rebalances = 0
        """Revokes and assignments so far: a batch polled across one is checked (recovery, step 2)."""
        self.sought: dict[TopicPartition, int] = {}
        """Where the last assignment sought each partition it restored."""
        self.sealing: dict[str, Sealing] = {}
        """Checkpoints being sealed in parts between slices (:meth:`checkpoint`), by deployment."""
        self._scorer_done = asyncio.Event()

    # -- lifecycle --------------------------------------------------------------------------------

    async def on_start(self) -> None:
        """Start the shared producer; register deployments in the metrics."""
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.broker,
            linger_ms=0,  # the hot path builds its own batches (Publisher): nothing to wait for
            max_batch_size=262_144,
            max_request_size=16_777_216,
        )
        await self.producer.start()
        topics = self.settings.topics
        refusals = Refusals(
            self.producer, topics.dlq, on_refused=self.metrics.record_publish_failure,
            on_dead_lettered=self._dead_letter_acked, on_lost=self._lost,
            max_raw_bytes=self.settings.dead_letter_raw_bytes,
        )  # fmt: skip
        self.publisher = Publisher(self.producer, on_failed=refusals, on_acked=self._acked)
        await self.publisher.prepare(
            [topics.predictions, topics.dlq, topics.drift_alerts, topics.shadow_reports, topics.registry]
        )
        for spec in self.specs.values():
            self.metrics.register_deployment(spec.id, model_version=1)

    async def on_stop(self) -> None:
        """Let both loops finish their batch and leave (the scorer checkpoints what it owns first).

        mode sets ``should_stop`` before calling this and cancels tasks only after it returns, so
        no batch is cut between scoring and publishing on a clean stop. Loops that are not done after
        ``LOOPS_STOP_S`` are named in an error with every task's stack, and then cancelled.
        """
        try:
            await asyncio.wait_for(
                asyncio.gather(self._router_done.wait(), self._scorer_done.wait()), LOOPS_STOP_S
            )
        except TimeoutError:
            stuck = [name for name, done in (("router", self._router_done), ("scorer", self._scorer_done))
                     if not done.is_set()]  # fmt: skip
            log.error(
                "the %s loop did not stop within %.0f s; cancelling it. Stacks:",
                " and ".join(stuck),
                LOOPS_STOP_S,
            )
            cry(file=sys.stderr)

    async def on_shutdown(self) -> None:
        """Stop the shared producer, after the loops are done."""
        if self.producer is not None:
            await self.producer.stop()

    # -- router ----------------------------------------------------------------------------------

    @Service.task
    async def _router(self) -> None:
        try:
            await self.router.run(lambda: self.should_stop)
        finally:
            self._router_done.set()

    def _count_unrouted(self, topic: str, reason: str) -> None:
        """A dead letter the router wrote and the broker acknowledged."""
        self.metrics.record_batch(
            UNROUTED_DEPLOYMENT, topic, consumed=1, predicted=0, dead_lettered_by_reason={reason: 1}
        )
        self.metrics.record_dead_letters_acknowledged(UNROUTED_DEPLOYMENT, reason)

    # -- fates the broker acknowledged or refused ------------------------------------------------

    def _acked(self, topic: str, origins: list[Origin]) -> None:
        if topic == self.settings.topics.dlq:
            for origin in origins:
                self._dead_letter_acked(origin)

    def _dead_letter_acked(self, origin: Origin) -> None:
        self.metrics.record_dead_letters_acknowledged(
            origin.deployment or UNROUTED_DEPLOYMENT, origin.reason or ReasonCode.PUBLISH_FAILED.value
        )

    def _lost(self, origin: Origin, reason: str) -> None:
        self.metrics.record_lost(origin.deployment or UNROUTED_DEPLOYMENT, origin.topic, reason)

    async def add_route(self, spec: DeploymentSpec) -> None:
        """Route ``spec`` from now on, new input topics included; returns once the router does."""
        self.routes.add(spec)
        await self.router.add(spec)

    async def remove_route(self, deployment: str) -> None:
        """Route nothing more to ``deployment`` (stopped); returns once the router does."""
        self.routes.remove(deployment)
        await self.router.remove(deployment)

    # -- scorer ----------------------------------------------------------------------------------

    @Service.task
    async def _scorer(self) -> None:
        consumer = batch_consumer(self.settings, "scorer")
        await consumer.start()
        consumer.subscribe([self.routed_topic], listener=RebalanceListener(self, consumer))
        pace = FetchPace(consumer)
        lag_measured_at = 0.0
        committing: asyncio.Future[None] | None = None
        try:
            while not self.should_stop:
                rebalances = self.rebalances
                batch = await consumer.getmany(timeout_ms=100, max_records=POLL_RECORDS)
                pace.polled(bool(batch))
                async with self.batch_lock:  # a rebalance waits for the batch in hand (see RebalanceListener)
                    if self.rebalances != rebalances:
                        batch = self._fetched_since_seek(batch, consumer)
                    for tp, messages in batch.items():
                        for start in range(0, len(messages), SLICE_RECORDS):
                            await self._score_partition(tp, messages[start : start + SLICE_RECORDS])
                            await self._seal_some()
                            await self._publisher().flush()
                            await asyncio.sleep(0)  # the fetcher asks for more, the producer sends
                    if not batch:
                        await self._finish_sealing()  # nothing to score: no reason to spread it
                    await self._tick_idle_blocks(consumer)
                    commit = await self._checkpoint_due(consumer)
                if commit and (committing is None or committing.done()):
                    committing = asyncio.ensure_future(self._commit(consumer, commit))
                if time.monotonic() - lag_measured_at >= 1.0:
                    lag_measured_at = time.monotonic()
                    await self._measure_lag(consumer)
            async with self.batch_lock:
                for deployment in list(self.owned):  # a clean stop: the next owner starts exactly here
                    await self.checkpoint(deployment)
                await self.drain()
        finally:
            if committing is not None:
                await asyncio.wait([committing])
            await consumer.stop()
            self._scorer_done.set()

    def _fetched_since_seek(
        self, batch: dict[TopicPartition, list[Any]], consumer: AIOKafkaConsumer
    ) -> dict[TopicPartition, list[Any]]:
        """A batch polled while a rebalance ran, without what the consumer fetched before the rebalance
        sought its partition to the restored checkpoint: fetched from the committed offset meanwhile,
        it would skip what lies between. A partition dropped here is sought again, so the consumer
        reads from the sought offset next, or, if retention has deleted it, from the log's start
        (``auto_offset_reset``): its next batch is never dropped, since only the first batch after a
        rebalance is checked."""
        kept = {}
        assigned = consumer.assignment()
        for tp, messages in batch.items():
            sought = self.sought.get(tp, messages[0].offset)
            if sought == messages[0].offset:
                kept[tp] = messages
            elif tp in assigned:  # a partition revoked since is no longer ours to seek
                consumer.seek(tp, sought)
        return kept

    async def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Consumer lag of each owned routed partition: the messages not yet scored."""
        lags = {}
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                lags[(tp.topic, tp.partition)] = max(0, highwater - await consumer.position(tp))
        self.lag = lags
        self.metrics.set_consumer_lags(lags)

    async def _score_partition(self, tp: TopicPartition, messages: list[Any]) -> None:
        by_deployment: dict[str, list[tuple[int, RoutedEvent | None]]] = defaultdict(list)
        last_offset: dict[str, int] = {}
        for message in messages:
            deployment = message.key.decode()
            owned = self.owned.get(deployment)
            if owned is None:
                if deployment not in self.specs and deployment not in self.stopped:  # known elsewhere only
                    await self._dead_letter_unknown(deployment, message)
                continue
            if message.offset < owned.next_offset:
                continue
            last_offset[deployment] = message.offset
            headers = dict(message.headers)
            if headers[HEADER_KIND] == KIND_TICK:
                by_deployment[deployment].append((message.offset, None))
                continue
            topic_partition, _, offset_text = headers[HEADER_SOURCE].decode().rpartition(":")
            offset = int(offset_text)
            if not owned.marks.fresh(topic_partition, offset):
                continue
            topic, _, partition = topic_partition.rpartition(":")
            source = Source(topic, int(partition), offset)
            replay_of = headers.get(HEADER_REPLAY_OF)  # a replayed dead letter: its fate is the original's
            if replay_of is not None and (original := replayed_source(replay_of)) is not None:
                source = Source(*original)
            event = RoutedEvent(
                message.value,
                headers.get(HEADER_KEY),
                source,
                message.timestamp,
                headers[HEADER_KIND] == KIND_LABEL,
            )
            by_deployment[deployment].append((message.offset, event))
        for deployment, items in by_deployment.items():
            for silent, part in self._rebuild_split(deployment, items):  # history first, silently
                self.owned[deployment].silent = silent
                await self._score_blocks(self.owned[deployment], part)
            self.owned[deployment].silent = False
        for deployment, offset in last_offset.items():  # only now is everything up to here processed
            self.owned[deployment].next_offset = offset + 1
        self.batches += 1

    async def _dead_letter_unknown(self, deployment: str, message: Any) -> None:
        """A routed message of a deployment this worker has no spec for: a dead letter, never nothing."""
        headers = dict(message.headers)
        if headers.get(HEADER_KIND) == KIND_TICK:
            return  # a tick carries no input
        topic, partition, offset = headers[HEADER_SOURCE].decode().rsplit(":", 2)
        key = headers.get(HEADER_KEY)
        reason = ReasonCode.UNKNOWN_DEPLOYMENT
        letter = dead_letter(
            reason,
            f"routed to deployment {deployment!r}, which this worker does not run; restart it to load the registry",
            raw=message.value, key=key, topic=topic, partition=int(partition), offset=int(offset),
            deployment=deployment, max_raw_bytes=self.settings.dead_letter_raw_bytes,
        )  # fmt: skip
        origin = Origin(topic, int(partition), int(offset), key, None, deployment, reason.value)
        self._publisher().append(self.settings.topics.dlq, letter, key=deployment.encode(), origin=origin)

    async def _score_blocks(self, owned: Owned, items: list[tuple[int, RoutedEvent | None]]) -> None:
        """Score events block by block; a block's outcomes are learned when the next block starts or
        when a tick (``None`` here) closes it.

        Blocks count the deployment's accepted events (copies the router wrote twice are not
        counted) and ticks are records of the log, so blocks fall at the same events in every run,
        crashed or not.
        """
        chunk: list[RoutedEvent] = []
        block_events = 1 if owned.live.sequential else BLOCK_EVENTS
        for _, event in items:
            if event is None:  # a tick: close the open block here
                owned.tick_pending = False
                if chunk:
                    await self._publish(owned, owned.live.score(chunk, now_ms=now_ms()))
                    chunk = []
                if owned.block is not None:
                    await self._close_block(owned)
                continue
            block = owned.accepted // block_events
            owned.accepted += 1
            if owned.block is not None and block != owned.block:
                await self._publish(owned, owned.live.score(chunk, now_ms=now_ms()))
                chunk = []
                await self._close_block(owned)
            owned.block = block
            chunk.append(event)
        if chunk:
            await self._publish(owned, owned.live.score(chunk, now_ms=now_ms()))
        owned.events_since_checkpoint += len(items)
        owned.touched_at = time.monotonic()

    async def _close_block(self, owned: Owned) -> None:
        await self._publish(owned, owned.live.learn_block(now_ms=now_ms()))
        owned.block = None

    async def _tick_idle_blocks(self, consumer: AIOKafkaConsumer) -> None:
        """Quiet streams must still learn: when a deployment's block got no event for ``BLOCK_IDLE_S``
        and its partition is caught up, write a tick to its routed log. The block closes when the
        tick is *read*, so a replay closes it at the same place."""
        assert self.producer is not None
        now = time.monotonic()
        for deployment, owned in list(self.owned.items()):  # the API may add deployments meanwhile
            if owned.block is None or owned.tick_pending or now - owned.touched_at < BLOCK_IDLE_S:
                continue
            partition = routed_partition(deployment, self.settings.partitions)
            tp = TopicPartition(self.routed_topic, partition)
            highwater = consumer.highwater(tp)
            if highwater is not None and await consumer.position(tp) >= highwater:
                owned.tick_pending = True
                await self.producer.send(
                    self.routed_topic, b"", key=deployment.encode(), partition=partition,
                    headers=[(HEADER_KIND, KIND_TICK), (HEADER_SOURCE, b"")],
                )  # fmt: skip

    async def _publish(self, owned: Owned, result: BatchResult) -> None:
        """Append a batch's outputs to the publisher (sent at the end of the poll, see ``Publisher``);
        nothing in a silent rebuild, whose outputs are out already (recovery, step 3)."""
        if owned.silent:
            self.metrics.set_model_version(owned.live.spec.id, owned.live.model_version)
            return
        publish_result(self._publisher(), self.settings.topics, self.metrics, owned.live, result,
                       max_raw_bytes=self.settings.dead_letter_raw_bytes)  # fmt: skip
