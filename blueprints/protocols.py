"""What a model may offer beyond :class:`~tracer.blueprints.base.OnlineModel`'s two verbs.

A model is anything with ``predict_one`` and ``learn_one``. The runtime and the recipes use more
when a model has it, and each such capability is declared here as a Protocol, named by what it
does:

- :class:`FrameScoring` (``predict_many(frame)``) and :class:`RowScoring` (``predict_rows(rows)``):
  ``Deployment`` scores a micro-batch at once, not row by row;
- :class:`FrameLearning` (``learn_many(frame, ys)``) and :class:`RowLearning`
  (``learn_rows(rows, ys)``): ``Learning`` learns a micro-batch in one step, unless the model's
  :class:`MiniBatchChoice` (``mini_batch_learning``) says not to;
- :class:`SequenceLearning` (``learn_sequence(rows, ys)``): ``Learning`` teaches it row by row in
  one call;
- :class:`Explaining` (``contributions(x)``, ``scaled_values(x)``) and :class:`BlockExplaining`
  (``explained_block(rows)``): churn names the features that push a score up (its risk vectors),
  row by row or for a whole batch;
- :class:`Experienced` (``n_learned``): churn's confidence grows with the labels learned.

The River adapters (:mod:`~tracer.blueprints.engines.models`) offer all of them (``learn_sequence``
the classifier only); the other engines only the two verbs, and the runtime then scores and learns
them row by row.

Checking: ``isinstance(model, RowScoring)`` works (the Protocols are runtime-checkable), but it
looks up every member on every call (4-8 µs a call on Python 3.11), too slow for a check made per
row or per batch of one. The ``offers_*`` functions below give the same answer from a cache keyed
by the model's type (0.06 µs, as fast as the ``getattr`` probes they replace), and narrow the type
for mypy. A capability is thus a property of the model's class: an instance that lacks an attribute
its class's instances have (``n_learned``, ``mini_batch_learning``) is not supported.

>>> from river import linear_model
>>> from tracer.blueprints.engines.models import RiverRegressor
>>> model = RiverRegressor(linear_model.LinearRegression())
>>> offers_row_scoring(model), offers_explaining(model), isinstance(model, Experienced)
(True, True, True)
>>> class Mean:
...     def __init__(self) -> None:
...         self.total, self.count = 0.0, 0
...     def predict_one(self, x: dict[str, float]) -> float:
...         return self.total / self.count if self.count else 0.0
...     def learn_one(self, x: dict[str, float], y: float) -> None:
...         self.total, self.count = self.total + y, self.count + 1
>>> offers_row_scoring(Mean()), offers_frame_learning(Mean())
(False, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, TypeGuard, runtime_checkable

import pandas as pd

if TYPE_CHECKING:
    from tracer.blueprints.base import Features
    from tracer.blueprints.engines.linear_rows import LinearBlock

__all__ = [
    "BlockExplaining",
    "Experienced",
    "Explaining",
    "FrameLearning",
    "FrameScoring",
    "MiniBatchChoice",
    "RowLearning",
    "RowScoring",
    "SequenceLearning",
    "offers_block_explaining",
    "offers_experience",
    "offers_explaining",
    "offers_frame_learning",
    "offers_frame_scoring",
    "offers_mini_batch_choice",
    "offers_row_learning",
    "offers_row_scoring",
    "offers_sequence_learning",
]


@runtime_checkable
class FrameScoring(Protocol):
    """Scores a micro-batch at once: ``predict_one`` of each row of ``frame`` (one column per
    feature, NaN where missing), all from the model as it is now."""

    def predict_many(self, frame: pd.DataFrame) -> list[float]: ...


@runtime_checkable
class RowScoring(Protocol):
    """Scores a micro-batch of feature dicts at once, with no DataFrame to build: ``predict_one`` of
    each row, all from the model as it is now. Preferred to ``predict_many`` when a model has both."""

    def predict_rows(self, rows: Sequence[Features]) -> list[float]: ...


@runtime_checkable
class FrameLearning(Protocol):
    """Learns a micro-batch at once (River's ``learn_many``: one averaged step, not one per row)."""

    def learn_many(self, frame: pd.DataFrame, ys: Sequence[float]) -> None: ...


@runtime_checkable
class RowLearning(Protocol):
    """``learn_many`` of feature dicts, with no DataFrame to build. Preferred to ``learn_many``."""

    def learn_rows(self, rows: Sequence[Features], ys: Sequence[float]) -> None: ...


@runtime_checkable
class SequenceLearning(Protocol):
    """``learn_one`` of each row in order, in one call (and so faster), with the same result."""

    def learn_sequence(self, rows: Sequence[Features], ys: Sequence[float]) -> None: ...


@runtime_checkable
class MiniBatchChoice(Protocol):
    """Says whether the runtime should use its ``learn_many``: False when one averaged step per batch
    learns worse than a step per row (churn's logistic regression). A model without it batches."""

    mini_batch_learning: bool


@runtime_checkable
class Explaining(Protocol):
    """Explains one score: each feature's additive share of the raw output, and the numeric features
    as the model sees them (z-scores behind a scaler). ``{}`` from a model that can't tell."""

    def contributions(self, x: Features) -> dict[str, float]: ...

    def scaled_values(self, x: Features) -> dict[str, float]: ...


@runtime_checkable
class BlockExplaining(Protocol):
    """Explains the scores ``predict_rows`` just gave for ``rows`` (that very sequence) as matrices,
    the batch form of :class:`Explaining`; None when it can't (other rows, or learned since)."""

    def explained_block(self, rows: Sequence[Features]) -> LinearBlock | None: ...


@runtime_checkable
class Experienced(Protocol):
    """Counts the labelled examples it has learned from."""

    n_learned: int


_OFFERED: dict[type, dict[type, bool]] = {}
"""Protocol -> model type -> whether the type's instances satisfy it, decided on the first one seen."""


def _decide(model: object, protocol: type) -> bool:
    """The slow check, once per model type and Protocol: ``isinstance`` looks up every member."""
    offered = isinstance(model, protocol)
    _OFFERED[protocol][type(model)] = offered
    return offered


_FRAME_SCORING = _OFFERED.setdefault(FrameScoring, {})


def offers_frame_scoring(model: object) -> TypeGuard[FrameScoring]:
    """``isinstance(model, FrameScoring)``, decided once per model type."""
    try:
        return _FRAME_SCORING[type(model)]
    except KeyError:
        return _decide(model, FrameScoring)


_ROW_SCORING = _OFFERED.setdefault(RowScoring, {})


def offers_row_scoring(model: object) -> TypeGuard[RowScoring]:
    """``isinstance(model, RowScoring)``, decided once per model type."""
    try:
        return _ROW_SCORING[type(model)]
    except KeyError:
        return _decide(model, RowScoring)


_FRAME_LEARNING = _OFFERED.setdefault(FrameLearning, {})


def offers_frame_learning(model: object) -> TypeGuard[FrameLearning]:
    """``isinstance(model, FrameLearning)``, decided once per model type."""
    try:
        return _FRAME_LEARNING[type(model)]
    except KeyError:
        return _decide(model, FrameLearning)


_ROW_LEARNING = _OFFERED.setdefault(RowLearning, {})


def offers_row_learning(model: object) -> TypeGuard[RowLearning]:
    """``isinstance(model, RowLearning)``, decided once per model type."""
    try:
        return _ROW_LEARNING[type(model)]
    except KeyError:
        return _decide(model, RowLearning)


_SEQUENCE_LEARNING = _OFFERED.setdefault(SequenceLearning, {})


def offers_sequence_learning(model: object) -> TypeGuard[SequenceLearning]:
    """``isinstance(model, SequenceLearning)``, decided once per model type."""
    try:
        return _SEQUENCE_LEARNING[type(model)]
    except KeyError:
        return _decide(model, SequenceLearning)


_MINI_BATCH_CHOICE = _OFFERED.setdefault(MiniBatchChoice, {})


def offers_mini_batch_choice(model: object) -> TypeGuard[MiniBatchChoice]:
    """``isinstance(model, MiniBatchChoice)``, decided once per model type."""
    try:
        return _MINI_BATCH_CHOICE[type(model)]
    except KeyError:
        return _decide(model, MiniBatchChoice)


_EXPLAINING = _OFFERED.setdefault(Explaining, {})


def offers_explaining(model: object) -> TypeGuard[Explaining]:
    """``isinstance(model, Explaining)``, decided once per model type."""
    try:
        return _EXPLAINING[type(model)]
    except KeyError:
        return _decide(model, Explaining)


_BLOCK_EXPLAINING = _OFFERED.setdefault(BlockExplaining, {})


def offers_block_explaining(model: object) -> TypeGuard[BlockExplaining]:
    """``isinstance(model, BlockExplaining)``, decided once per model type."""
    try:
        return _BLOCK_EXPLAINING[type(model)]
    except KeyError:
        return _decide(model, BlockExplaining)


_EXPERIENCE = _OFFERED.setdefault(Experienced, {})


def offers_experience(model: object) -> TypeGuard[Experienced]:
    """``isinstance(model, Experienced)``, decided once per model type."""
    try:
        return _EXPERIENCE[type(model)]
    except KeyError:
        return _decide(model, Experienced)
