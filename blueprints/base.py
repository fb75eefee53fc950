"""The blueprint contract: a declarative recipe for one business question.

A blueprint says what it needs (inputs with their synonyms and stand-ins, parameters), how it
turns one canonical record into features (keeping per-entity state where it must), which online
model learns from them, where its label comes from, and how a raw score becomes the typed output
the product documents promise. It holds no run-time state itself: that lives in
:class:`tracer.online_models.Deployment`, which drives every blueprint through the same verbs.

Canonical records
    Before a blueprint sees a record, :mod:`tracer.blueprints.inputs` has renamed its columns to
    the blueprint's input names and coerced each value to the input's dtype:

    ======================  =====================================================
    dtype                   canonical value
    ======================  =====================================================
    ``id``, ``categorical`` ``str``
    ``numeric``             finite ``float``
    ``boolean``             ``bool``
    ``timestamp``           ``float`` seconds since the Unix epoch, UTC
    ======================  =====================================================

    Every declared input is a key of the record; a missing optional input is ``None``. A record of
    a blueprint that ``learns_context`` may also carry its context features under
    :data:`~tracer.blueprints.context.CONTEXT_KEY`; the deployment adds them to the recipe's own.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar, runtime_checkable

import pandas as pd
from pydantic import BaseModel

from tracer.blueprints.errors import ParameterError
from tracer.blueprints.outputs_explained import explaining_batch
from tracer.blueprints.protocols import (
    BlockExplaining,
    Experienced,
    Explaining,
    FrameLearning,
    FrameScoring,
    MiniBatchChoice,
    RowLearning,
    RowScoring,
    SequenceLearning,
)
from tracer.schemas import ParamValue

__all__ = [
    "BlockExplaining",
    "Blueprint",
    "Dtype",
    "Experienced",
    "Explaining",
    "Features",
    "FrameLearning",
    "FrameScoring",
    "InputSpec",
    "LabelSpec",
    "MiniBatchChoice",
    "OnlineModel",
    "OutputKind",
    "OutputSpec",
    "ParamSpec",
    "Params",
    "Record",
    "RowLearning",
    "RowScoring",
    "SequenceLearning",
    "StandIn",
    "Task",
]

Dtype = Literal["id", "timestamp", "numeric", "categorical", "boolean"]
Task = Literal["binary", "regression", "forecast", "multiclass"]
OutputKind = Literal["probability", "value", "category", "ranking"]
Record = Mapping[str, Any]
"""A canonical record: input name -> coerced value (see the module docstring)."""
Features = dict[str, float | str]
"""Model features: numeric ones as float, categorical ones as str (one-hot encoded by the pipeline)."""
Params = Mapping[str, ParamValue]

OutputT = TypeVar("OutputT", bound=BaseModel)
StateT = TypeVar("StateT")


@dataclass(frozen=True)
class StandIn:
    """Another input that can stand in for a missing one, e.g. ``tenure`` days for ``account_created_date``.

    ``derive(stand_in_value, record)`` returns the canonical value of the input it stands in for;
    ``record`` is the canonical record built so far (the other inputs are already coerced).
    """

    name: str
    dtype: Dtype
    synonyms: tuple[str, ...]
    derive: Callable[[Any, Record], Any]
    description: str


@dataclass(frozen=True)
class InputSpec:
    """One input a blueprint reads, with the column names it accepts for it."""

    name: str
    dtype: Dtype
    description: str
    synonyms: tuple[str, ...] = ()
    stand_ins: tuple[StandIn, ...] = ()

    @property
    def accepted_names(self) -> tuple[str, ...]:
        """The input's own name first, then its synonyms."""
        return (self.name, *self.synonyms)


@dataclass(frozen=True)
class ParamSpec:
    """A business parameter: allowed values and a default. No ML knobs here."""

    name: str
    default: ParamValue
    description: str
    allowed: tuple[ParamValue, ...] | None = None


@dataclass(frozen=True)
class LabelSpec:
    """Where the outcome comes from: a column of the row, or a rule over the data."""

    description: str
    column: InputSpec | None = None
    rule: str | None = None
    rule_needs: tuple[str, ...] = ()
    """The inputs the rule reads: without them, only the column can label a row."""


@dataclass(frozen=True)
class OutputSpec:
    """The typed output: its pydantic model, its kind and the range of its headline value."""

    model: type[BaseModel]
    kind: OutputKind
    description: str
    headline: str
    """The output field that carries the score (``churn_probability``, ``forecast_30d``...)."""
    range: tuple[float, float] | None = None


@runtime_checkable
class OnlineModel(Protocol):
    """What a deployment drives: River's verbs, reduced to one float score.

    For ``binary`` tasks the score is the probability of the positive class; for ``regression``
    and ``forecast`` it is the predicted value; for ``multiclass`` it is a
    :class:`~tracer.schemas.scores.ClassProbabilities` (a float: the top class's probability, with
    every class's probability in the order of ``Blueprint.classes``), and a label is a class's index. A model may offer more (batch scoring and learning,
    explanations, a count of what it learned): each capability is a Protocol of
    :mod:`~tracer.blueprints.protocols`, used when the model has it.
    """

    def predict_one(self, x: Features) -> float: ...

    def learn_one(self, x: Features, y: float) -> None: ...


class Blueprint(ABC, Generic[OutputT, StateT]):
    """A declarative recipe. Subclasses set the class attributes and implement the five verbs."""

    id: ClassVar[str]
    name: ClassVar[str]
    category: ClassVar[str]
    use_case: ClassVar[str]
    task: ClassVar[Task]
    required_inputs: ClassVar[tuple[InputSpec, ...]]
    optional_inputs: ClassVar[tuple[InputSpec, ...]] = ()
    parameters: ClassVar[tuple[ParamSpec, ...]] = ()
    label: ClassVar[LabelSpec]
    output: ClassVar[OutputSpec]
    entity_input: ClassVar[str]
    """The input that names the entity a prediction is about; it keys predictions and labels."""
    time_input: ClassVar[str | None] = None
    """The input that orders records in time, if any; ``replay`` sorts by it."""
    data_requirements: ClassVar[str]
    label_ttl_s: ClassVar[float] = 7 * 24 * 3600.0
    """How long, in event time, a prediction waits for its outcome unless the deployment says otherwise
    (``labels.ttl_seconds``): a week by default; a recipe whose outcomes come months later (a default, a
    claim) or after many periods (a 20-day volatility) waits longer."""
    sequential: ClassVar[bool] = False
    """Learn each row before scoring the next. Forecasters need it: in a micro-batch scored by the
    model as of the batch start, their one-step forecasts go stale. The stream then uses blocks of
    one event for this blueprint."""
    learns_context: ClassVar[bool] = False
    """Learn from the user's other columns too (:mod:`~tracer.blueprints.context`): every usable column
    the inputs don't read, profiled once per deployment. The task bases of row-wise questions set it;
    a recipe whose records have a fixed schema of their own (market snapshots) leaves it off."""
    drift_exempt_features: ClassVar[tuple[str, ...]] = ()
    """Features the data-drift detectors skip, such as a date that only ever grows."""
    challenger_models: ClassVar[tuple[str, ...]] = ()
    """Other pipelines a shadow can run on the same features (``ShadowSpec.model``), built by
    :meth:`make_challenger_model`."""
    self_labelling: ClassVar[bool] = False
    """Whether later records settle earlier predictions (:meth:`self_labels`), so a deployment can
    take its labels from its own stream (``labels: {mode: self}``)."""
    classes: ClassVar[tuple[str, ...]] = ()
    """A ``multiclass`` task's classes, in the order of its scores' probabilities: a label is an index
    into it (:meth:`class_of`)."""
    input_schema: ClassVar[type[BaseModel] | None] = None
    """The typed message a record of this blueprint is, if it has one of its own (``MarketSnapshot``):
    the HTTP API takes a request in that form for the deployment of this blueprint."""
    feature_params: ClassVar[frozenset[str] | None] = None
    """The parameters ``new_state`` and ``featurize`` read. None (the default) means any may. With a
    declared set, a challenger whose parameters differ only elsewhere (a label horizon, an output
    window) featurizes every record as live does, so it scores live's features instead of computing
    them again (``Deployment.shares_features``)."""

    # -- the five verbs -------------------------------------------------------------------------

    @abstractmethod
    def new_state(self, params: Params) -> StateT:
        """Fresh per-deployment feature state (running aggregates per entity). Must pickle."""

    def snapshot_state(self, state: StateT) -> dict[Any, Any] | None:
        """A copy of ``state`` that later events leave as it is, if ``state`` is a dict and such a copy
        is cheap: a shallow copy, when its values are replaced, never changed in place. A checkpoint
        then pickles the copy in parts between batches rather than all of ``state`` at once
        (:class:`~tracer.online_models.checkpoint.Sealing`). None, the default: pickled at once."""
        return None

    def scratch_state(self, state: StateT, record: Record) -> StateT:
        """A copy of ``state`` that ``featurize`` can update for ``record`` without touching ``state``:
        for a prediction from outside the stream. A deep copy unless a blueprint copies less (the
        record's entity only)."""
        return copy.deepcopy(state)

    @abstractmethod
    def featurize(self, record: Record, state: StateT, params: Params) -> Features:
        """Features for one canonical record; may read and update ``state``. Must not mutate ``record``."""

    @abstractmethod
    def make_model(self, params: Params, seed: int) -> OnlineModel:
        """A fresh online model. The same ``seed`` gives the same predictions on the same data."""

    def make_challenger_model(self, name: str, params: Params, seed: int) -> OnlineModel:
        """A fresh model of another pipeline, one of ``challenger_models``, for a shadow to run."""
        known = ", ".join(self.challenger_models) or "none"
        raise KeyError(f"{self.id} has no challenger model {name!r}; it has: {known}")

    @abstractmethod
    def label_of(self, record: Record, params: Params) -> float | None:
        """The outcome this row carries (by column or rule), as a float, or ``None`` if it has none."""

    @abstractmethod
    def postprocess(self, score: float, features: Features, model: OnlineModel, params: Params) -> OutputT:
        """Turn the model's score into the blueprint's typed output."""

    @abstractmethod
    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """A seeded synthetic dataset with a known answer, in users' column names, for checks and demos."""

    # -- optional hooks -------------------------------------------------------------------------

    def postprocess_many(
        self, scores: Sequence[float], features: Sequence[Features], model: OnlineModel, params: Params
    ) -> list[OutputT]:
        """:meth:`postprocess` of each row of a micro-batch the model has just scored with
        ``predict_rows(features)`` (the very sequence), for a blueprint whose output can be built
        for many rows at once. If it raises, each row is postprocessed on its own instead, so a bad
        row costs only itself. The default loops over :meth:`postprocess`."""
        with explaining_batch(features, model):  # drivers read from the batch's matrices (outputs_explained)
            return [
                self.postprocess(score, x, model, params) for score, x in zip(scores, features, strict=True)
            ]

    def self_labels(self, record: Record, state: StateT, params: Params) -> list[tuple[str, float]]:
        """Outcomes this record reveals for earlier predictions: ``(prediction_key, label)`` pairs.

        Used by self-labelling blueprints (``price_movement``), which say so (:attr:`self_labelling`):
        a later snapshot settles what an earlier one predicted. The runtime calls it just before
        ``featurize`` for the same record, so ``state`` does not hold this record yet. The default
        reveals nothing.
        """
        return []

    def class_of(self, value: Any) -> float | None:
        """A ``multiclass`` label as its class's index (a float): a class name of :attr:`classes`
        (any case) or an index; None for anything else. A recipe may accept more words."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value) if value == int(value) and 0 <= value < len(self.classes) else None
        text = str(value).strip().lower()
        names = [name.lower() for name in self.classes]
        return float(names.index(text)) if text in names else None

    def prediction_key(self, record: Record) -> str:
        """The key a prediction is stored and joined under: the entity, plus the time when there is one."""
        entity = str(record[self.entity_input])
        if self.time_input is None or record.get(self.time_input) is None:
            return entity
        return f"{entity}@{int(record[self.time_input] * 1000)}"

    # -- declarations, derived ------------------------------------------------------------------

    @classmethod
    def inputs(cls) -> tuple[InputSpec, ...]:
        """Required inputs, then optional ones."""
        return (*cls.required_inputs, *cls.optional_inputs)

    @classmethod
    def resolve_params(cls, given: Params | None = None) -> dict[str, ParamValue]:
        """Defaults overlaid with ``given``; unknown names and disallowed values raise ParameterError."""
        given = dict(given or {})
        specs = {p.name: p for p in cls.parameters}
        unknown = sorted(set(given) - set(specs))
        if unknown:
            known = ", ".join(specs) or "none"
            raise ParameterError(f"{cls.id}: unknown parameter(s) {', '.join(unknown)}; known: {known}")
        resolved: dict[str, ParamValue] = {}
        for name, spec in specs.items():
            value = given.get(name, spec.default)
            if spec.allowed is not None and value not in spec.allowed:
                allowed = " | ".join(map(str, spec.allowed))
                raise ParameterError(f"{cls.id}: parameter {name}={value!r} is not one of {allowed}")
            resolved[name] = value
        return resolved
