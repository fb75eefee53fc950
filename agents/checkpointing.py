"""Checkpoints of the deployments a scorer owns: when they are due, how they are sealed and sent,
and how they are restored (steps 1-4 of the protocol in :mod:`tracer.agents.recovery`).

:class:`Checkpointing` holds the methods only; the state they act on is the scorer's
(:class:`~tracer.agents.scoring.ScoringService`: its owned deployments, publisher, metrics and
secret, declared below for type checking only).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from tracer.agents.metrics import TracerMetrics
from tracer.agents.outputs import now_ms, publish_versions
from tracer.agents.publisher import Publisher
from tracer.agents.recovery import Owned
from tracer.agents.routing import routed_partition
from tracer.agents.settings import Settings
from tracer.agents.topics import read_compacted
from tracer.online_models.checkpoint import Checkpoint, CheckpointRefused, Sealing, open_checkpoint
from tracer.online_models.live import LiveDeployment
from tracer.schemas import DeploymentSpec

__all__ = ["Checkpointing", "open_with_any"]

log = logging.getLogger(__name__)


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

    async def restore(self, deployments: Iterable[str]) -> dict[str, int]:
        """Restore ``deployments`` from their latest checkpoints (or fresh); returns their next offsets."""
        wanted = set(deployments)
        latest = await read_compacted(self.settings.broker, self.checkpoint_topic, wanted)
        offsets = {}
        for deployment in sorted(wanted):
            blob = latest.get(deployment)
            owned: Owned | None = None
            if blob is not None:
                try:
                    keys = (self.secret, *self.settings.checkpoint_secrets_previous)
                    owned = open_with_any(blob, keys).state
                except CheckpointRefused as error:
                    log.error(
                        "REFUSED checkpoint of %s: %s; rebuilding from its routed log", deployment, error
                    )
                    self.metrics.record_model_error(deployment, "checkpoint_refused")
            if owned is None:
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
