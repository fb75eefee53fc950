"""Messages Tracer writes to Kafka: predictions, labels, drift alerts, shadow reports, dead letters."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from tracer.schemas.base import EpochMillis, InboundModel, NonEmptyStr, OutboundModel, SourceOffset

__all__ = ["DeadLetter", "DriftAlert", "DriftKind", "Label", "Prediction", "ReasonCode", "ShadowReport"]

LabelValue = bool | int | float | str
Fraction = Annotated[float, Field(ge=0, le=1)]


class Label(InboundModel):
    """A delayed outcome on ``tracer.labels``, joined to the prediction with the same key."""

    deployment: NonEmptyStr
    key: NonEmptyStr
    label: LabelValue
    ts: EpochMillis


class Prediction(OutboundModel):
    """One scored event on ``tracer.predictions``, keyed by entity."""

    deployment: NonEmptyStr
    blueprint: NonEmptyStr
    model_version: Annotated[int, Field(ge=1)]
    key: NonEmptyStr
    output: dict[str, Any]
    latency_ms: Annotated[float, Field(ge=0, description="Source timestamp to publication, in ms.")]
    source: SourceOffset
    ts: EpochMillis


class ReasonCode(StrEnum):
    """Why a message became a dead letter. Every code is a metric label too."""

    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    INVALID_VALUE = "invalid_value"
    NON_FINITE = "non_finite"
    OVERSIZED = "oversized"
    UNKNOWN_DEPLOYMENT = "unknown_deployment"
    UNMATCHED_LABEL = "unmatched_label"
    """A label whose prediction is not waiting for one (never made, already labelled, or expired)."""
    SCORING_ERROR = "scoring_error"


class DeadLetter(OutboundModel):
    """A message that could not be scored, kept whole on ``tracer.dlq`` with the reason."""

    reason: ReasonCode
    error: NonEmptyStr
    raw: bytes = Field(description="The original message value, base64 in JSON.")
    key: bytes | None = None
    source: SourceOffset
    deployment: str | None = None
    ts: EpochMillis


DriftKind = Literal["data", "concept", "prediction", "agreement"]


class DriftAlert(OutboundModel):
    """One detection by a drift detector, on ``tracer.drift.alerts``."""

    deployment: NonEmptyStr
    model_version: Annotated[int, Field(ge=1)]
    kind: DriftKind
    feature: str | None = Field(default=None, description="The input feature, for data drift.")
    detector: NonEmptyStr
    statistic: float
    threshold: float
    reference_window_events: Annotated[int, Field(ge=0)]
    current_window_events: Annotated[int, Field(ge=0)]
    position: Annotated[int, Field(ge=0, description="Events the deployment had seen at detection.")]
    source: SourceOffset | None = None
    detected_at: EpochMillis


class ShadowReport(OutboundModel):
    """Agreement between the live model and one shadow over one window, on ``tracer.shadow.reports``."""

    deployment: NonEmptyStr
    live_version: Annotated[int, Field(ge=1)]
    shadow: NonEmptyStr
    window_events: Annotated[int, Field(ge=1)]
    agreement: Fraction
    agreement_slo: Fraction = 0.95
    below_slo: bool
    labelled_events: Annotated[int, Field(ge=0)] = 0
    live_metrics: dict[str, float] = Field(default_factory=dict)
    shadow_metrics: dict[str, float] = Field(default_factory=dict)
    position: Annotated[int, Field(ge=0)]
    ts: EpochMillis
