"""pydantic v2 models for every message Tracer reads or writes, with JSON Schema export."""

from tracer.schemas.base import SourceOffset
from tracer.schemas.deployment import (
    DeploymentSpec,
    DriftPolicy,
    LabelSource,
    ModelVersion,
    ParamValue,
    ShadowSpec,
    VersionReason,
)
from tracer.schemas.export import WIRE_MODELS, export_json_schemas
from tracer.schemas.market import MarketSnapshot
from tracer.schemas.messages import (
    DeadLetter,
    DriftAlert,
    DriftKind,
    Label,
    Prediction,
    ReasonCode,
    ShadowReport,
)
from tracer.schemas.scores import ClassProbabilities

__all__ = [
    "WIRE_MODELS",
    "ClassProbabilities",
    "DeadLetter",
    "DeploymentSpec",
    "DriftAlert",
    "DriftKind",
    "DriftPolicy",
    "Label",
    "LabelSource",
    "MarketSnapshot",
    "ModelVersion",
    "ParamValue",
    "Prediction",
    "ReasonCode",
    "ShadowReport",
    "ShadowSpec",
    "SourceOffset",
    "VersionReason",
    "export_json_schemas",
]
