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
    PUBLISH_FAILED = "publish_failed"
    """A valid input whose prediction the broker refused (too large, or another per-record error):
    its dead letter is its fate instead."""


class DeadLetter(OutboundModel):
    """A message that could not be scored, on ``tracer.dlq`` with the reason.

    It keeps the message whole up to a size (64 KiB by default, ``TRACER_DEAD_LETTER_RAW_BYTES``);
    past it, ``raw`` holds the first bytes, ``truncated`` is true and ``raw_bytes`` and
    ``raw_sha256`` identify the whole message, which ``source`` still points at. So a dead letter is
    never over the broker's message limit.
    """

    reason: ReasonCode
    error: NonEmptyStr
    raw: bytes = Field(
        description="The original message value (its first bytes if truncated), base64 in JSON."
    )
    truncated: bool = Field(default=False, description="True if raw holds only the first bytes of the value.")
    raw_bytes: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="The original value's length in bytes, when truncated."
    )
    raw_sha256: Annotated[str, Field(pattern="^[0-9a-f]{64}$")] | None = Field(
        default=None, description="The sha256 of the whole original value (hex), when truncated."
    )
    key: bytes | None = Field(
        default=None, description="The original message key (its first 1,024 bytes), base64."
    )
    key_bytes: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="The original key's length in bytes, when key holds only its first bytes."
    )
    source: SourceOffset
    deployment: str | None = None
    ts: EpochMillis


DriftKind = Literal["data", "concept", "prediction", "agreement"]


class DriftAlert(OutboundModel):
    """One detection by a drift detector, on ``tracer.drift.alerts``."""

    deployment: NonEmptyStr
    model_version: Annotated[int, Field(ge=1)]
    kind: DriftKind
    feature: str | None = Field(default=None, description="What drifted: a feature, the score or its errors.")
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
