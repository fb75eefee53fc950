"""Blueprints: declarative recipes for one business question each, and their registry.

``tracer.blueprints.registry`` lists and finds them; :mod:`~tracer.blueprints.inputs` maps a
user's columns onto a blueprint's inputs; :mod:`~tracer.blueprints.engines.models` adapts River
estimators to the :class:`~tracer.blueprints.base.OnlineModel` verbs, and
:mod:`~tracer.blueprints.protocols` declares what a model may offer beyond them.
"""

from tracer.blueprints.base import (
    BlockExplaining,
    Blueprint,
    Dtype,
    Experienced,
    Explaining,
    Features,
    FrameLearning,
    FrameScoring,
    InputSpec,
    LabelSpec,
    MiniBatchChoice,
    OnlineModel,
    OutputKind,
    OutputSpec,
    Params,
    ParamSpec,
    Record,
    RowLearning,
    RowScoring,
    SequenceLearning,
    StandIn,
    Task,
)
from tracer.blueprints.engines.models import RiverBinaryClassifier, RiverRegressor, ScaleAndEncode
from tracer.blueprints.errors import (
    BlueprintNotFound,
    InputError,
    InvalidValueError,
    MissingInputsError,
    ParameterError,
    TracerError,
)
from tracer.blueprints.inputs import ColumnResolution, canonical_frame, canonical_record, resolve_columns
from tracer.blueprints.registry import categories, get, ids

__all__ = [
    "BlockExplaining",
    "Blueprint",
    "BlueprintNotFound",
    "ColumnResolution",
    "Dtype",
    "Experienced",
    "Explaining",
    "Features",
    "FrameLearning",
    "FrameScoring",
    "InputError",
    "InputSpec",
    "InvalidValueError",
    "LabelSpec",
    "MiniBatchChoice",
    "MissingInputsError",
    "OnlineModel",
    "OutputKind",
    "OutputSpec",
    "ParamSpec",
    "ParameterError",
    "Params",
    "Record",
    "RiverBinaryClassifier",
    "RiverRegressor",
    "RowLearning",
    "RowScoring",
    "ScaleAndEncode",
    "SequenceLearning",
    "StandIn",
    "Task",
    "TracerError",
    "canonical_frame",
    "canonical_record",
    "categories",
    "get",
    "ids",
    "registry",
    "resolve_columns",
]
