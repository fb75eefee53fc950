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
   checkpoint and verify the signature. A deployment with no checkpoint (a first start) starts fresh
   from the beginning of its routed log, quietly. A checkpoint whose signature fails (a wrong or
   rotated-out key, altered bytes) is refused loudly and never unpickled: the deployment starts
   fresh too, but its outputs up to the refused checkpoint are already on the broker, so it
   rebuilds *silently* up to there (step 3). Where that is, is the routed offset in the refused
   checkpoint's header (:func:`published_through`, read by ``peek_header`` without verifying
   or unpickling), capped at the partition's end offset at the time of the assignment;
2. seek the partition to the smallest stored offset among its deployments. A batch polled while
   this ran may hold records the consumer fetched from the committed offset before the seek (a
   commit can run ahead of a checkpoint still waiting for its acks): unless it starts at the
   sought offset, it is dropped and the partition sought again, so the consumer reads from the
   sought offset next (or, if retention has deleted that offset, from the log's start);
3. replay: events below a deployment's own stored offset are skipped, the rest are processed as
   usual; copies the router wrote twice are dropped by their source offset. Records below the
   deployment's ``rebuild_until`` (:func:`rebuild_split`) are learned as usual and their outputs
   (predictions, dead letters, alerts, reports, versions) are dropped instead of published; from
   there on it publishes again.

The model is a deterministic function of its routed log, so it ends exactly where an
uninterrupted run ends, and a silent rebuild changes nothing in it: only what is published.
Outputs between the last checkpoint and a crash are published again on replay: predictions are
at least once, the model state is exactly as if nothing happened. A refused checkpoint gives the
same window: what the old owner published after its last checkpoint is published again.

Why the refused header, and not the last prediction on ``tracer.predictions``: the header holds
the scorer's own coordinate (the routed offset it had processed through), and step 3 of the
protocol wrote the checkpoint only once every output before that offset was acknowledged, so
it is a lower bound of what is out, for every kind of output. The predictions topic is keyed by
entity over many partitions with no order across them, carries source coordinates (mapping them
back to routed offsets means reading the routed log too), and says nothing of events that became
dead letters or ticks. The header is not trusted for state, only as a mark: a forged one could
claim more than was published, so it is capped at the routed partition's end when the partition
is assigned, and events that arrive after that are always published. A checkpoint too malformed
to show its header takes the largest mark of the deployment's earlier checkpoints that the log
cleaner has not compacted away yet (``read_compacted(..., earlier=...)``: each was written after its
own outputs were acknowledged too); with none, its deployment publishes its history again (at least
once), loudly.
While it rebuilds, and until it seals a checkpoint past ``rebuild_until``, the deployment is
degraded in ``/ml/health``; ``tracer_checkpoints_refused_total`` counts the refusal and
``tracer_silent_rebuild_remaining_messages`` gauges what is left to rebuild. A checkpoint sealed
halfway carries ``rebuild_until``, so a crash during a rebuild goes on rebuilding silently.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from tracer.agents.routing import SourceMark, routed_partition
from tracer.agents.settings import Settings
from tracer.online_models.checkpoint import CheckpointRefused, peek_header
from tracer.online_models.live import LiveDeployment
from tracer.schemas import DeploymentSpec

__all__ = [
    "Owned",
    "RebalanceListener",
    "Recovering",
    "Refusal",
    "published_through",
    "rebuild_split",
    "refusal",
]

Item = TypeVar("Item")


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
    rebuild_until: int = 0
    """Routed offset below which a refused checkpoint's owner published the outputs already: the
    records below it are learned silently (recovery, step 3). 0 when nothing is to be rebuilt."""
    silent: bool = False
    """Set while the records in hand are below ``rebuild_until``: their outputs are not published."""

    @property
    def rebuilding(self) -> int:
        """Routed records left to learn silently before this deployment publishes again."""
        return max(0, self.rebuild_until - self.next_offset)


@dataclass(frozen=True)
class Refusal:
    """A checkpoint refused at restore: which one, why, and where its outputs stopped."""

    deployment: str
    reason: str
    """``signature`` (a wrong key, altered bytes) or ``malformed`` (not even a header to read)."""
    error: str
    published_through: int
    """The routed offset its header names (for an unreadable one, the largest an earlier checkpoint
    still in the topic names, else 0): outputs before it are out already."""
    created_at_ms: int | None = None

    def describe(self, owned: Owned | None) -> str:
        """The refusal as ``/ml/health`` lists it, with how far the silent rebuild is."""
        sealed = (
            f"created_at {self.created_at_ms} ms" if self.created_at_ms is not None else "unreadable header"
        )
        where = (
            f"rebuilding silently, {owned.rebuilding} routed records left before publishing again"
            if owned is not None and owned.rebuilding
            else "rebuilt; no checkpoint sealed since"
        )
        return (
            f"the checkpoint of {self.deployment} ({sealed}, routed offset {self.published_through}) "
            f"was refused ({self.reason}: {self.error}); {where}"
        )


def refusal(
    deployment: str, blob: bytes, error: CheckpointRefused, routed: str, earlier_mark: int = 0
) -> Refusal:
    """What a refused ``blob`` tells without being trusted: its header, if it has one; if not,
    ``earlier_mark``, the largest mark of the deployment's earlier checkpoints still in the topic
    (their outputs were acknowledged before they were written too), else 0."""
    try:
        header = peek_header(blob)
    except CheckpointRefused:
        return Refusal(deployment, "malformed", str(error), earlier_mark)
    created_at = header.get("created_at")
    return Refusal(
        deployment, "signature", str(error), published_through(header, routed),
        created_at if isinstance(created_at, int) else None,
    )  # fmt: skip


def published_through(header: dict[str, object], routed: str) -> int:
    """The routed offset (``routed`` is ``"topic:partition"``) a checkpoint header names; 0 if none.

    The checkpoint was written only once the outputs before that offset were acknowledged, so they
    are on the broker. Not trusted for state, only as this mark (capped by the caller: see step 1)."""
    offsets = header.get("offsets")
    offset = offsets.get(routed) if isinstance(offsets, dict) else None
    return offset if isinstance(offset, int) and offset > 0 else 0


def rebuild_split(
    rebuild_until: int, items: list[tuple[int, Item]]
) -> list[tuple[bool, list[tuple[int, Item]]]]:
    """``items`` (routed offset first, in log order) as (silent, part): the part below ``rebuild_until``
    is learned silently, the rest published (recovery, step 3). Empty parts are left out."""
    cut = next((i for i, (offset, _) in enumerate(items) if offset >= rebuild_until), len(items))
    return [(silent, part) for silent, part in ((True, items[:cut]), (False, items[cut:])) if part]


class Recovering(Protocol):
    """What the listener needs of the scorer (:class:`~tracer.agents.scoring.ScoringService`)."""

    settings: Settings
    specs: dict[str, DeploymentSpec]
    owned: dict[str, Owned]
    refused: dict[str, Refusal]
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
                        self.service.refused.pop(deployment, None)  # the next owner tells its own
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
                    await self._cap_rebuilds(tp, deployments)
                    self.service.sought[tp] = min(offsets.values())
                    self.consumer.seek(tp, self.service.sought[tp])
            finally:  # counted once the seek is done: a batch polled across it is checked
                self.service.rebalances += 1

    async def _cap_rebuilds(self, tp: TopicPartition, deployments: list[str]) -> None:
        """Step 1: a refused header's mark goes no further than the partition's end now, so events
        routed after this assignment are always published, whatever a forged header says."""
        rebuilding = [self.service.owned[d] for d in deployments if self.service.owned[d].rebuilding]
        if rebuilding:
            end = (await self.consumer.end_offsets([tp]))[tp]
            for owned in rebuilding:
                owned.rebuild_until = min(owned.rebuild_until, end)
