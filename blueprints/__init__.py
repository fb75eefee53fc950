"""Blueprints: declarative recipes for one business question each, and their registry.

``tracer.blueprints.registry`` lists and finds them; :mod:`~tracer.blueprints.inputs` maps a
user's columns onto a blueprint's inputs; :mod:`~tracer.blueprints.engines.models` adapts River
estimators to the :class:`~tracer.blueprints.base.OnlineModel` verbs.
"""

from tracer.blueprints.base import (
    Blueprint,
    Dtype,
    Features,
    InputSpec,
    LabelSpec,
    OnlineModel,
    OutputKind,
    OutputSpec,
    Params,
    ParamSpec,
    Record,
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
    "Blueprint",
    "BlueprintNotFound",
    "ColumnResolution",
    "Dtype",
    "Features",
    "InputError",
    "InputSpec",
    "InvalidValueError",
    "LabelSpec",
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
    "ScaleAndEncode",
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
