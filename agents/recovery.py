"""What a worker owns of a deployment, and how that state survives a crash, a restart or a rebalance.

The scorer (:mod:`tracer.agents.scoring`) keeps an :class:`Owned` per deployment of its routed
partitions, checkpoints it as below, and hands its consumer a :class:`RebalanceListener`, which
checkpoints and releases deployments on revoke, and restores and seeks them on assign.

Checkpoint protocol (every ``checkpoint_every_events`` events or ``checkpoint_every_seconds``,
whichever comes first, and on a clean revoke or stop), for one deployment:

1. finish the batch: its predictions, dead letters, alerts and reports are queued for sending
   (an open learning block is kept as it is: its unlearned outcomes are part of the state);
2. seal the deployment (models, feature state, captured features, drift state, versions, the
   routed offset it has learned through and its source marks) with HMAC under the configured secret,
   as it stands at this point. A feature state whose entries are replaced, never changed in place
   (churn's customers), is taken as its entries now and pickled in parts between the next slices
   (:class:`~tracer.online_models.checkpoint.Sealing`), so a large one doesn't stall the loop;
3. write the sealed bytes to the compacted ``tracer.checkpoints`` topic, keyed by deployment, only
   once every output queued before them is acknowledged (:meth:`Publisher.send_after`: the loop
   goes on scoring meanwhile, and the checkpoints of a deployment reach the broker in order);
   a revoke and the stop finish the sealing and wait for these acknowledgements too;
4. commit the routed offset to the consumer group (for lag; recovery does not depend on it), without
   the loop waiting for it; a commit that fails is logged and the next one goes on.

A crash between steps 2 and 3 loses only the new checkpoint: recovery starts from the previous
one, whose outputs are all on the broker.

Recovery, when a routed partition is assigned (start, restart after ``kill -9``, or rebalance):

1. read ``tracer.checkpoints`` to its end; for each deployment of the partition take its latest
   checkpoint, verify the signature (a failed one is refused loudly and the deployment starts fresh
   from the beginning of its routed log: untrusted bytes are never unpickled);
2. seek the partition to the smallest stored offset among its deployments. A batch polled while
   this ran may hold records the consumer fetched from the committed offset before the seek (a
   commit can run ahead of a checkpoint still waiting for its acks): unless it starts at the
   sought offset, it is dropped and the partition sought again, so the consumer reads from the
   sought offset next (or, if retention has deleted that offset, from the log's start);
3. replay: events below a deployment's own stored offset are skipped, the rest are processed as
   usual; copies the router wrote twice are dropped by their source offset.

The model is a deterministic function of its routed log, so it ends exactly where an
uninterrupted run ends. Outputs between the last checkpoint and a crash are published again on
replay: predictions are at least once, the model state is exactly as if nothing happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from tracer.agents.routing import SourceMark, routed_partition
from tracer.agents.settings import Settings
from tracer.online_models.live import LiveDeployment
from tracer.schemas import DeploymentSpec

__all__ = ["Owned", "RebalanceListener", "Recovering"]


@dataclass
class Owned:
    """A deployment this worker owns: its live state and where it stands in its routed log."""

    live: LiveDeployment
    next_offset: int = 0
    marks: SourceMark = field(default_factory=SourceMark)
    accepted: int = 0
    """Events accepted from the routed log (re-routed copies excluded): what blocks count."""
    block: int | None = None
    """The open learning block (accepted // BLOCK_EVENTS), or None when all is learned."""
    tick_pending: bool = False
    """A tick was written to close the open block and has not been read back yet."""
    touched_at: float = field(default_factory=time.monotonic)
    events_since_checkpoint: int = 0
    checkpointed_at: float = field(default_factory=time.monotonic)


class Recovering(Protocol):
    """What the listener needs of the scorer (:class:`~tracer.agents.scoring.ScoringService`)."""

    settings: Settings
    specs: dict[str, DeploymentSpec]
    owned: dict[str, Owned]
    batch_lock: asyncio.Lock
    rebalances: int
    sought: dict[TopicPartition, int]

    async def checkpoint(self, deployment: str) -> None:
        """Steps 1-3 of the protocol for ``deployment``, if it is owned here."""

    async def drain(self) -> None:
        """Wait until every output and checkpoint handed to the publisher is acknowledged."""

    async def restore(self, deployments: Iterable[str]) -> dict[str, int]:
        """Restore ``deployments`` from their latest checkpoints (or fresh); returns their next offsets."""


class RebalanceListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Checkpoint and release deployments on revoke; restore and seek on assign."""

    def __init__(self, service: Recovering, consumer: AIOKafkaConsumer) -> None:
        self.service = service
        self.consumer = consumer

    def _deployments(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, list[str]]:
        count = self.service.settings.partitions
        return {
            tp: [d for d in self.service.specs if routed_partition(d, count) == tp.partition]
            for tp in partitions
        }

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self.service.batch_lock:
            try:
                for deployments in self._deployments(revoked).values():
                    for deployment in deployments:
                        await self.service.checkpoint(deployment)
                        self.service.owned.pop(deployment, None)
                await self.service.drain()  # the next owner reads these checkpoints
            finally:
                self.service.rebalances += 1

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        async with self.service.batch_lock:
            try:
                self.service.sought = {}
                for tp, deployments in self._deployments(assigned).items():
                    if not deployments:
                        continue
                    offsets = await self.service.restore(deployments)
                    self.service.sought[tp] = min(offsets.values())
                    self.consumer.seek(tp, self.service.sought[tp])
            finally:  # counted once the seek is done: a batch polled across it is checked
                self.service.rebalances += 1
