"""Checkpoints of the deployments a scorer owns: when they are due, how they are sealed and sent,
and how they are restored (steps 1-4 of the protocol in :mod:`tracer.agents.recovery`), refused
ones included: the silent rebuild of recovery's step 3 is split off here (:meth:`_rebuild_split`).

:class:`Checkpointing` holds the methods only; the state they act on is the scorer's
(:class:`~tracer.agents.scoring.ScoringService`: its owned deployments, publisher, metrics and
secret, declared below for type checking only).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from tracer.agents.metrics import TracerMetrics
from tracer.agents.outputs import now_ms, publish_versions
from tracer.agents.publisher import Publisher
from tracer.agents.recovery import Owned, Refusal, published_through, rebuild_split, refusal
from tracer.agents.routing import routed_partition
from tracer.agents.settings import Settings
from tracer.agents.topics import read_compacted
from tracer.online_models.checkpoint import (
    Checkpoint,
    CheckpointRefused,
    Sealing,
    open_checkpoint,
    peek_header,
)
from tracer.online_models.live import LiveDeployment
from tracer.schemas import DeploymentSpec

__all__ = ["Checkpointing", "open_with_any"]

log = logging.getLogger(__name__)

Item = TypeVar("Item")


def open_with_any(blob: bytes, secrets: Sequence[str]) -> Checkpoint:
    """Open ``blob`` with the first of ``secrets`` its signature matches: the signing key, then the
    previous keys of a rotation (``TRACER_CHECKPOINT_SECRET_PREVIOUS``). Raises the signing key's
    :class:`CheckpointRefused` if none matches."""
    refused: CheckpointRefused | None = None
    for secret in secrets:
        try:
            return open_checkpoint(blob, secret=secret)
        except CheckpointRefused as error:
            refused = refused or error
    raise refused or CheckpointRefused("no checkpoint key to open the checkpoint with")


class Checkpointing:
    """Checkpoint and restore. A mixin of :class:`~tracer.agents.scoring.ScoringService`."""

    settings: Settings
    specs: dict[str, DeploymentSpec]
    secret: str
    metrics: TracerMetrics
    owned: dict[str, Owned]
    refused: dict[str, Refusal]
    """Deployments whose checkpoint was refused, until they seal one past their rebuild."""
    publisher: Publisher | None
    sealing: dict[str, Sealing]
    """Checkpoints being sealed in parts between slices (:meth:`checkpoint`), by deployment."""

    @property
    def routed_topic(self) -> str:
        """The topic that holds every deployment's ordered log."""
        return self.settings.topics.routed

    @property
    def checkpoint_topic(self) -> str:
        """The compacted topic of signed checkpoints."""
        return self.settings.topics.checkpoints

    def _publisher(self) -> Publisher:
        if self.publisher is None:
            raise RuntimeError("the scoring service is not started")
        return self.publisher

    async def drain(self) -> None:
        """Finish sealing every checkpoint; wait until every output and checkpoint is acknowledged."""
        await self._finish_sealing()
        await self._publisher().drain()

    async def _checkpoint_due(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
        """Checkpoint the deployments that are due; returns the routed offsets to commit (for lag)."""
        due = []
        now = time.monotonic()
        for deployment, owned in self.owned.items():
            spec = owned.live.spec
            if owned.events_since_checkpoint >= spec.checkpoint_every_events or (
                owned.events_since_checkpoint and now - owned.checkpointed_at >= spec.checkpoint_every_seconds
            ):
                due.append(deployment)
        for deployment in due:
            await self.checkpoint(deployment)
        if due:
            offsets = {}
            for tp in consumer.assignment():
                owned_here = [
                    o.next_offset
                    for d, o in self.owned.items()
                    if routed_partition(d, self.settings.partitions) == tp.partition
                ]
                if owned_here:
                    offsets[tp] = min(owned_here)
            return offsets
        return {}

    async def checkpoint(self, deployment: str) -> None:
        """Steps 1-3 of the protocol. The deployment is sealed as it stands now; a feature state that
        ``Blueprint.snapshot_state`` can take as it stands is pickled in parts between the next
        slices (:meth:`_seal_some`; 35,000 churn customers sealed at once held the loop 12-27 ms).
        The sealed bytes go to the publisher when the last part is done, and the publisher
        sends them once the outputs before them are acknowledged (step 1); the loop waits for no
        acknowledgement. A revoke and the stop finish the sealing and drain the publisher."""
        owned = self.owned.get(deployment)
        if owned is None or self.publisher is None:
            return
        await self._finish_sealing(deployment)  # a deployment's checkpoints reach the broker in order
        live = owned.live.live
        snapshot = live.blueprint.snapshot_state(live.state)
        partition = routed_partition(deployment, self.settings.partitions)
        self.sealing[deployment] = Sealing(
            owned,
            bulk=None if snapshot is None else (live.state, snapshot),
            deployment=deployment,
            model_version=owned.live.model_version,
            offsets={f"{self.routed_topic}:{partition}": owned.next_offset},
            created_at=now_ms(),
            secret=self.secret,
        )
        owned.events_since_checkpoint = 0
        owned.checkpointed_at = time.monotonic()
        if not owned.rebuilding:  # trusted again: /ml/health no longer lists the refusal
            self.refused.pop(deployment, None)
        if self.sealing[deployment].done:
            await self._send_sealed(deployment)

    async def _seal_some(self) -> None:
        """One more part of every checkpoint being sealed; a finished one goes to the publisher."""
        for deployment, sealing in list(self.sealing.items()):
            if sealing.step():
                await self._send_sealed(deployment)

    async def _finish_sealing(self, deployment: str | None = None) -> None:
        """Finish sealing ``deployment``'s checkpoint (every deployment's, by default) and send it."""
        for name in list(self.sealing) if deployment is None else [deployment]:
            if name in self.sealing:
                await self._send_sealed(name)

    async def _send_sealed(self, deployment: str) -> None:
        sealing = self.sealing.pop(deployment)
        await self._publisher().send_after(self.checkpoint_topic, sealing.blob(), key=deployment.encode())
        self.metrics.record_checkpoint(deployment)

    @staticmethod
    async def _commit(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        """Step 4 of the protocol, off the loop's path: a commit took 6-8 ms, which the loop had waited
        for at every checkpoint. Recovery does not read these offsets (the lag does), so a commit
        that fails (a rebalance came first) is logged, and the next checkpoint's commit goes on."""
        try:
            await consumer.commit(offsets)
        except KafkaError as error:
            log.warning("committing the routed offsets failed (%r); the next checkpoint commits again", error)

    def _rebuild_split(
        self, deployment: str, items: list[tuple[int, Item]]
    ) -> list[tuple[bool, list[tuple[int, Item]]]]:
        """Recovery, step 3: ``items`` as (silent, part) for ``deployment`` (see :func:`rebuild_split`),
        counting what is rebuilt silently and logging when the rebuild ends."""
        owned = self.owned[deployment]
        if not owned.rebuilding:
            return [(False, items)] if items else []
        parts = rebuild_split(owned.rebuild_until, items)
        silent = parts[0][1] if parts and parts[0][0] else []
        left = max(0, owned.rebuild_until - silent[-1][0] - 1) if silent and len(parts) == 1 else 0
        self.metrics.record_silent_rebuild(deployment, rebuilt=len(silent), remaining=left)
        if not left:
            log.info("%s: rebuilt silently up to routed offset %d; publishing from there on",
                     deployment, owned.rebuild_until)  # fmt: skip
        return parts

    async def restore(self, deployments: Iterable[str]) -> dict[str, int]:
        """Restore ``deployments`` from their latest checkpoints (or fresh); returns their next offsets."""
        wanted = set(deployments)
        marks: dict[str, int] = {}  # the largest mark of each deployment's earlier, replaced checkpoints

        def remember(deployment: str, blob: bytes) -> None:
            try:
                mark = published_through(peek_header(blob), self._routed_of(deployment))
            except CheckpointRefused:
                return
            marks[deployment] = max(marks.get(deployment, 0), mark)

        latest = await read_compacted(self.settings.broker, self.checkpoint_topic, wanted, earlier=remember)
        offsets = {}
        for deployment in sorted(wanted):
            blob = latest.get(deployment)
            owned: Owned | None = None
            if blob is not None:
                try:
                    keys = (self.secret, *self.settings.checkpoint_secrets_previous)
                    owned = open_with_any(blob, keys).state
                    if owned.live.adopt_column_mapping(self.specs[deployment]):
                        log.info("%s: reading rows with the column mapping of its current spec, %s",
                                 deployment, self.specs[deployment].column_mapping)  # fmt: skip
                except CheckpointRefused as error:
                    owned = self._refused(deployment, blob, error, marks.get(deployment, 0))
            if owned is None:  # a first start: quiet, and not degraded
                owned = Owned(LiveDeployment(self.specs[deployment]))
                publish_versions(
                    self._publisher(), self.settings.topics, self.metrics, owned.live.history.records
                )
            owned.checkpointed_at = time.monotonic()
            owned.tick_pending = False  # a tick written before a crash is read again on replay, or lost
            self.owned[deployment] = owned
            offsets[deployment] = owned.next_offset
            self.metrics.set_model_version(deployment, owned.live.model_version)
        return offsets

    def _routed_of(self, deployment: str) -> str:
        """``"topic:partition"`` of the deployment's routed log."""
        return f"{self.routed_topic}:{routed_partition(deployment, self.settings.partitions)}"

    def _refused(
        self, deployment: str, blob: bytes, error: CheckpointRefused, earlier_mark: int = 0
    ) -> Owned:
        """Recovery, step 1, for a refused checkpoint: a fresh deployment that rebuilds silently up to
        where the refused one's outputs stopped. One WARNING, a metric, and ``/ml/health`` degraded.
        Its versions are not published again: the refused checkpoint's owner published them."""
        why = refusal(deployment, blob, error, self._routed_of(deployment), earlier_mark)
        self.refused[deployment] = why
        self.metrics.record_checkpoint_refused(deployment, why.reason)
        log.warning(
            "REFUSED checkpoint of %s (%s: %s); rebuilding its model from its routed log, silently up to "
            "routed offset %d (its outputs are out already), then publishing",
            deployment, why.reason, error, why.published_through,
        )  # fmt: skip
        return Owned(LiveDeployment(self.specs[deployment]), rebuild_until=why.published_through)
