"""The learning half of :class:`~tracer.online_models.deployment.Deployment`: outcomes joined to the
features captured when their prediction was made, and learned.

A stream joins outcomes to captures as they arrive (``take``, ``outcomes``) and learns them at the
end of its block (``learn_captured``); ``learn_one``, ``learn_many`` and ``learn_from`` do both.
Captures nobody labels expire ``pending_ttl_s`` of event time after their record (``expire``),
counted, never dropped silently.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from tracer.blueprints.base import Blueprint, Dtype, OnlineModel
from tracer.blueprints.errors import InvalidValueError
from tracer.blueprints.inputs import coerce_value
from tracer.blueprints.protocols import (
    offers_frame_learning,
    offers_mini_batch_choice,
    offers_row_learning,
    offers_sequence_learning,
)
from tracer.online_models.scored import Captured, RowId, Scored
from tracer.schemas import ReasonCode

__all__ = ["MIN_FRAME_ROWS", "Learning"]

MIN_FRAME_ROWS = 32
"""Below this many rows a batch is scored or learned row by row: a batch costs more than it saves."""


def _wants_batches(model: object) -> bool:
    """Whether a model that can learn a mini-batch at once should: unless it says not to."""
    return not offers_mini_batch_choice(model) or model.mini_batch_learning


class Learning:
    """Learning verbs over a deployment's model and captures (the attributes ``Deployment`` sets)."""

    blueprint: Blueprint[Any, Any]
    model: OnlineModel
    model_version: int
    labels_learned: int
    labels_unmatched: int
    pending_ttl_s: float
    pending_expired: int
    _pending: dict[str, Captured]

    def _canonical(self, raw: Mapping[str, Any], row: RowId, *, observe: bool = True) -> dict[str, Any]:
        raise NotImplementedError

    def label_value(self, label: float | bool | int | str) -> float:
        """A label as the float the model learns ("yes"/"no", "1", True... coerced by the task's dtype; a
        multi-class task's class name, as its index)."""
        if type(label) is float and math.isfinite(label) and self.blueprint.task != "multiclass":
            return label  # the usual case, a finite float: what the checks below return
        if self.blueprint.task == "multiclass":  # a class name or index (``Blueprint.class_of``)
            value: Any = self.blueprint.class_of(label)
            if value is None:
                known = ", ".join(self.blueprint.classes)
                raise InvalidValueError("label", label, f"a class ({known}) or its index")
        elif type(label) is float or type(label) is int or type(label) is bool:
            value = label
        else:
            dtype: Dtype = "boolean" if self.blueprint.task == "binary" else "numeric"
            value = coerce_value(label, dtype, column="label")
        if value is None:
            raise InvalidValueError("label", label, "a label value", reason=ReasonCode.MISSING_FIELD)
        if not math.isfinite(value):
            raise InvalidValueError("label", label, "a finite label", reason=ReasonCode.NON_FINITE)
        return float(value)

    def take(self, key: str) -> Captured | None:
        """Remove and return the features captured under prediction ``key``; None (counted) if none wait."""
        captured = self._pending.pop(key, None)
        if captured is None:
            self.labels_unmatched += 1
        return captured

    def _captured_for(self, target: Scored[Any] | Captured | str | Mapping[str, Any]) -> Captured | None:
        if isinstance(target, Scored):
            found = self._pending.pop(target.key, None)
            return found or Captured(
                target.key, target.features, target.score, target.time_s, self.model_version
            )
        if isinstance(target, Captured):
            self._pending.pop(target.key, None)
            return target
        if isinstance(target, str):
            return self.take(target)
        return self.take(self.blueprint.prediction_key(self._canonical(target, None)))

    def outcomes(self, scored: Iterable[Scored[Any]]) -> list[tuple[Captured, float]]:
        """Join the outcomes these rows reveal for earlier predictions, then their own, to captures (no learning)."""
        joined: list[tuple[Captured, float]] = []
        pending, value = self._pending, self.label_value
        for item in scored:
            for key, label in item.revealed:
                captured = self.take(key)
                if captured is not None:
                    joined.append((captured, value(label)))
            if item.label is not None:  # its own capture (``_captured_for`` a Scored), inline
                own = pending.pop(item.key, None) or Captured(
                    item.key, item.features, item.score, item.time_s, self.model_version
                )
                joined.append((own, value(item.label)))
        return joined

    def learn_captured(self, pairs: Sequence[tuple[Captured, float]]) -> None:
        """Learn joined outcomes in order: the model's ``learn_many`` for big enough batches, else one by one.

        A model whose ``mini_batch_learning`` attribute is False is taught one by one at any size,
        through its ``learn_sequence`` (one by one, in one call) if it has one. What a model offers
        (:mod:`~tracer.blueprints.protocols`) is decided once per model type.
        """
        model = self.model
        if len(pairs) >= MIN_FRAME_ROWS and offers_frame_learning(model) and _wants_batches(model):
            rows, ys = [captured.features for captured, _ in pairs], [y for _, y in pairs]
            if offers_row_learning(model):  # the River adapters: no DataFrame
                model.learn_rows(rows, ys)
            else:
                model.learn_many(pd.DataFrame.from_records(rows), ys)
        elif offers_sequence_learning(model):
            model.learn_sequence([captured.features for captured, _ in pairs], [y for _, y in pairs])
        else:
            learn = model.learn_one
            for captured, y in pairs:
                learn(captured.features, y)
        self.labels_learned += len(pairs)

    def learn_one(
        self, target: Scored[Any] | Captured | str | Mapping[str, Any], label: float | bool | int | str
    ) -> Captured | None:
        """Learn ``label`` from the features captured when ``target`` was predicted.

        ``target`` is a Scored, a Captured, a prediction key, or the raw row that was scored (its key
        finds the capture; nothing is recomputed). Returns the capture learned from, or None (counted
        in ``labels_unmatched``) when no features were captured under that key.
        """
        y = self.label_value(label)
        captured = self._captured_for(target)
        if captured is None:
            return None
        self.model.learn_one(captured.features, y)
        self.labels_learned += 1
        return captured

    def learn_many(
        self,
        pairs: Iterable[tuple[Scored[Any] | Captured | str | Mapping[str, Any], float | bool | int | str]],
    ) -> list[tuple[Captured, float]]:
        """``learn_one`` for many labels at once (see ``learn_captured``); returns the pairs learned."""
        joined: list[tuple[Captured, float]] = []
        for target, label in pairs:
            y = self.label_value(label)
            captured = self._captured_for(target)
            if captured is not None:
                joined.append((captured, y))
        self.learn_captured(joined)
        return joined

    def learn_from(self, scored: Iterable[Scored[Any]]) -> list[tuple[Captured, float]]:
        """Learn every outcome these scored rows carry: labels they reveal for earlier predictions, then their own."""
        joined = self.outcomes(scored)
        self.learn_captured(joined)
        return joined

    def expire(self, now_s: float) -> int:
        """Drop captures older than ``pending_ttl_s`` at event time ``now_s``; returns (and counts) how many.

        Scans from the oldest insertion and stops at the first capture still alive (or without a time).
        """
        cutoff = now_s - self.pending_ttl_s
        pending = self._pending
        expired = 0
        while pending:
            key = next(iter(pending))
            time_s = pending[key].time_s
            if time_s is None or time_s >= cutoff:
                break
            del pending[key]
            expired += 1
        self.pending_expired += expired
        return expired
