"""Routing: give every deployment one totally ordered log.

Inputs of a deployment can arrive on several topics and partitions (rows, market snapshots, and
delayed labels on ``tracer.labels``). The router copies each message, byte for byte, to the
``tracer.routed`` topic, keyed and partitioned by deployment, with its source coordinates and key
in headers. So:

- exactly one worker owns a deployment's model: the one the consumer group assigns that
  deployment's routed partition to (one owner, and scale-out by partitions and deployments);
- the model is a deterministic function of its routed log, which is what makes a restore from a
  checkpoint plus a replay from the stored offset end exactly where an uninterrupted run ends;
- a label is ordered with the rows of its deployment, so a replay joins it the same way.

The router commits its input offsets only after the routed copies are acknowledged: at least once.
After a crash it may copy a message twice; the scorer drops copies whose source offset it has
already passed (``SourceMark``), so the model sees each source message once.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tracer.schemas import DeploymentSpec, ReasonCode

__all__ = [
    "HEADER_DEPLOYMENT",
    "HEADER_KEY",
    "HEADER_KIND",
    "HEADER_REPLAY_DEPLOYMENT",
    "HEADER_REPLAY_OF",
    "HEADER_SOURCE",
    "RouteTable",
    "Routed",
    "SourceMark",
    "replayed_source",
    "routed_partition",
]

HEADER_DEPLOYMENT = "tracer-deployment"
HEADER_KIND = "tracer-kind"
HEADER_KEY = "tracer-key"
"""The source message's key, when it has one: the routed copy's own key is the deployment, and a
dead letter keeps the input's key."""
HEADER_SOURCE = "tracer-source"
HEADER_REPLAY_OF = "tracer-replay-of"
"""On an input replayed from its dead letter (``tracer dlq replay``): the original ``topic:partition:offset``.
The router keeps it on the routed copy, and the scorer attributes the outcome to those coordinates."""
HEADER_REPLAY_DEPLOYMENT = "tracer-replay-deployment"
"""On a replayed input: the one deployment it is replayed for (the router routes it there only)."""


def replayed_source(raw: bytes) -> tuple[str, int, int] | None:
    """``(topic, partition, offset)`` of a :data:`HEADER_REPLAY_OF` value; None when it isn't one (any
    producer can set a header: a malformed one makes the message an ordinary input, never a crash)."""
    topic, _, rest = raw.decode("utf-8", errors="replace").rpartition(":")
    topic, _, partition = topic.rpartition(":")
    if not topic or not partition.isdigit() or not rest.isdigit():
        return None
    return topic, int(partition), int(rest)


KIND_ROW = b"row"
KIND_LABEL = b"label"
KIND_TICK = b"tick"
"""Written by the scorer itself: closes a deployment's open learning block at this point of its log."""


def routed_partition(deployment: str, partitions: int) -> int:
    """The routed partition of a deployment: stable across processes and restarts."""
    return zlib.crc32(deployment.encode()) % partitions


@dataclass(frozen=True)
class Routed:
    """Where one source message goes: a deployment, or a dead letter with its reason."""

    deployment: str | None
    kind: bytes
    reason: ReasonCode | None = None
    error: str = ""


class RouteTable:
    """Which deployments read which topic; where labels go."""

    def __init__(self, specs: Iterable[DeploymentSpec], labels_topic: str) -> None:
        self.labels_topic = labels_topic
        self.by_topic: dict[str, list[str]] = {}
        self._rows: dict[str, tuple[Routed, ...]] = {}
        """Where a row of each topic goes, built once per change (a router routes every message)."""
        self.deployments: set[str] = set()
        for spec in specs:
            self.add(spec)

    def add(self, spec: DeploymentSpec) -> None:
        """Route ``spec``'s rows and labels from now on. An input topic new to the table joins
        :attr:`topics`: the router subscribes to it before its next poll and reads it from its
        earliest offset, as a restart would."""
        self.deployments.add(spec.id)
        for topic in spec.input_topics:  # a new list: routing may be iterating the old one
            self.by_topic[topic] = [*self.by_topic.get(topic, ()), spec.id]
            self._rows[topic] = tuple(Routed(deployment, KIND_ROW) for deployment in self.by_topic[topic])

    def remove(self, deployment: str) -> None:
        """Route nothing to ``deployment`` from now on; a topic nobody else reads leaves :attr:`topics`."""
        self.deployments.discard(deployment)
        for topic, readers in list(self.by_topic.items()):
            if deployment not in readers:
                continue
            rest = [reader for reader in readers if reader != deployment]
            if rest:
                self.by_topic[topic] = rest
                self._rows[topic] = tuple(Routed(reader, KIND_ROW) for reader in rest)
            else:
                del self.by_topic[topic]
                del self._rows[topic]

    @property
    def topics(self) -> list[str]:
        """Every topic the router reads."""
        return sorted({*self.by_topic, self.labels_topic})

    def route(self, topic: str, value: bytes | None) -> Sequence[Routed]:
        """The destinations of one message. Rows fan out to every deployment reading their topic;
        a label goes to the deployment it names, or becomes a dead letter."""
        if topic != self.labels_topic:
            return self._rows.get(topic, ())
        try:
            deployment = json.loads(value or b"").get("deployment")
        except (ValueError, AttributeError):
            return [Routed(None, KIND_LABEL, ReasonCode.NOT_JSON, "label is not a JSON object")]
        if deployment not in self.deployments:
            known = ", ".join(sorted(self.deployments))
            return [
                Routed(
                    None,
                    KIND_LABEL,
                    ReasonCode.UNKNOWN_DEPLOYMENT,
                    f"label names deployment {deployment!r}; known: {known}",
                )
            ]
        return [Routed(str(deployment), KIND_LABEL)]


class SourceMark:
    """Per source partition, the next offset a deployment has not seen: drops re-routed copies."""

    def __init__(self, marks: Mapping[str, int] | None = None) -> None:
        self.marks: dict[str, int] = dict(marks or {})

    def fresh(self, topic_partition: str, offset: int) -> bool:
        """True the first time ``offset`` of ``topic_partition`` ("topic:partition") is seen; advances the mark."""
        if offset < self.marks.get(topic_partition, 0):
            return False
        self.marks[topic_partition] = offset + 1
        return True
