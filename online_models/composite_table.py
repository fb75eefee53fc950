"""The composites' stream stage, without Kafka: predictions in, the decisions they change out (issue 21).

:class:`CompositeTable` keeps, per composite and entity, the latest output of each component and the
recommendation last published (:class:`EntityState`). :meth:`CompositeTable.apply` takes one message
of ``tracer.predictions`` with its partition and offset and returns a :class:`Change` per composite
that reads its deployment: the entity's new state (for the changelog) and, when the recommendation
(the recommended protocols, in order, and the risk) differs from the last one published, the
:class:`~tracer.schemas.composites.CompositeDecision` to publish. No decision is made for an entity
before every component its objective requires has predicted for it.

Why this is crash-equivalent. Predictions are keyed by entity, so all of one entity's are in one
partition, in the order the scorer published them. A state records the offset of the last prediction
it applied; the changelog holds each state as it was written; after a crash the table is restored
from the changelog and the predictions are read again from the last committed offset: those at or
below a state's offset are skipped (their effect is in the state already), the others are applied
in the same order as before. So the restored run reaches the same states and publishes the same
decisions, none twice, as the run that crashed (one exception: a decision acknowledged while its
state's changelog record was lost, or the reverse, in the same crash: the first case publishes it
again, the second not at all; the stage writes both in one flush and commits only after both are
acknowledged).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tracer.online_models.composite import (
    Composite,
    Reading,
    decide,
    read_component,
    reading_fields,
    recommendation,
)
from tracer.schemas.base import SourceOffset
from tracer.schemas.composites import CompositeDecision

__all__ = ["Change", "CompositeTable", "EntityState", "entity_of", "state_key"]


def entity_of(prediction_key: str) -> str:
    """The entity a prediction is about: its key without the time (``C-1@1700000000000`` -> ``C-1``),
    as the scorer keys ``tracer.predictions``."""
    return prediction_key.split("@", 1)[0]


def state_key(composite: str, entity: str) -> bytes:
    """The changelog key of one entity's state in one composite."""
    return json.dumps([composite, entity]).encode()


@dataclass
class EntityState:
    """What a composite knows of one entity: its components' latest outputs (by blueprint), the offset
    of the last prediction applied and the recommendation last published."""

    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    offset: int = -1
    recommendation: list[str] | None = None

    def to_json(self) -> bytes:
        return json.dumps(
            {"outputs": self.outputs, "offset": self.offset, "recommendation": self.recommendation}
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> EntityState:
        found = json.loads(raw)
        return cls(dict(found["outputs"]), int(found["offset"]), found.get("recommendation"))


@dataclass(frozen=True)
class Change:
    """One composite's entity after a prediction: its state, and a decision if the recommendation changed."""

    composite: str
    entity: str
    partition: int
    state: EntityState
    decision: CompositeDecision | None


class CompositeTable:
    """Per composite and entity, the latest prediction of each component (see the module docstring)."""

    def __init__(self, composites: Iterable[Composite] = ()) -> None:
        self.composites: dict[str, Composite] = {}
        self._readers: dict[str, list[tuple[str, str]]] = {}
        """deployment id -> (composite id, the blueprint it serves there), for every composite reading it."""
        self.states: dict[tuple[str, str], EntityState] = {}
        self._partition: dict[tuple[str, str], int] = {}
        self._fields: dict[tuple[str, str], dict[str, Any]] = {}
        """Each state's :class:`Reading` fields, updated one prediction at a time (rebuilt when missing)."""
        for composite in composites:
            self.add(composite)

    def add(self, composite: Composite) -> None:
        """Read ``composite``'s component deployments from now on (replacing one of the same id)."""
        self.remove(composite.id)
        self.composites[composite.id] = composite
        for blueprint, deployment in composite.deployments.items():
            self._readers.setdefault(deployment, []).append((composite.id, blueprint))

    def remove(self, composite_id: str) -> None:
        """Forget a composite and its states."""
        if self.composites.pop(composite_id, None) is None:
            return
        for readers in self._readers.values():
            readers[:] = [r for r in readers if r[0] != composite_id]
        for key in [k for k in self.states if k[0] == composite_id]:
            del self.states[key]
            self._partition.pop(key, None)
            self._fields.pop(key, None)

    @property
    def deployments(self) -> set[str]:
        """Every deployment some composite reads."""
        return {d for d, readers in self._readers.items() if readers}

    def apply(
        self, prediction: Mapping[str, Any], partition: int, offset: int, topic: str = "tracer.predictions"
    ) -> list[Change]:
        """One prediction (a message of ``topic``, decoded) at ``partition``/``offset``."""
        readers = self._readers.get(str(prediction.get("deployment")))
        if not readers:
            return []
        entity = entity_of(str(prediction["key"]))
        output = prediction["output"]
        changes = []
        for composite_id, blueprint in readers:
            key = (composite_id, entity)
            state = self.states.get(key)
            if state is None:
                state = self.states[key] = EntityState()
            if offset <= state.offset:
                continue  # applied before a crash or a rebalance: its effect is in the restored state
            self._partition[key] = partition
            state.offset = offset
            if state.outputs.get(blueprint) == output:  # the component said the same again: nothing changes
                changes.append(Change(composite_id, entity, partition, state, None))
                continue
            state.outputs[blueprint] = dict(output)
            fields = self._fields.get(key)
            if fields is None:
                fields = self._fields[key] = reading_fields(self.composites[composite_id].objective, {})
                for seen, seen_output in state.outputs.items():
                    read_component(fields, seen, seen_output)
            else:
                read_component(fields, blueprint, output)
            decision = self._decision(composite_id, entity, Reading(**fields))
            if decision is not None:
                source = SourceOffset(topic=topic, partition=partition, offset=offset)
                decision = decision.model_copy(update={"source": source})
            changes.append(Change(composite_id, entity, partition, state, decision))
        return changes

    def _decision(self, composite_id: str, entity: str, reading: Reading) -> CompositeDecision | None:
        """The entity's decision if its recommendation changed (and is recorded as published)."""
        composite = self.composites[composite_id]
        state = self.states[(composite_id, entity)]
        if any(b not in state.outputs for b in composite.objective.requires):
            return None
        recommended = recommendation(composite, reading)
        if recommended == state.recommendation:
            return None
        state.recommendation = recommended
        return decide(composite, entity, state.outputs, reading=reading)

    def outputs(self, composite_id: str, entity: str) -> dict[str, dict[str, Any]]:
        """The latest output of each component for ``entity`` (empty if none predicted for it yet)."""
        state = self.states.get((composite_id, entity))
        return dict(state.outputs) if state is not None else {}

    def restore(self, key: bytes, value: bytes | None, partition: int) -> None:
        """Apply one changelog record (a tombstone forgets the state); unknown composites are skipped."""
        composite_id, entity = json.loads(key)
        if composite_id not in self.composites:
            return
        self._fields.pop((composite_id, entity), None)
        if value is None:
            self.states.pop((composite_id, entity), None)
            return
        self.states[(composite_id, entity)] = EntityState.from_json(value)
        self._partition[(composite_id, entity)] = partition

    def drop(self, partitions: Iterable[int]) -> None:
        """Forget the states of entities in ``partitions`` (revoked: another worker owns them now)."""
        gone = set(partitions)
        for key in [k for k, p in self._partition.items() if p in gone]:
            self.states.pop(key, None)
            self._fields.pop(key, None)
            del self._partition[key]
