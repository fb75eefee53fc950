"""What :class:`~tracer.online_models.live.LiveDeployment` takes and gives, one batch at a time: the
routed events in, and the predictions, dead letters, alerts, reports and versions out, for the
agents to publish and count."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import BaseModel
from pydantic_core import from_json

from tracer.schemas import DriftAlert, ModelVersion, ReasonCode, ShadowReport
from tracer.schemas.decode import Rejection, readable_bytes

__all__ = ["BatchResult", "DeadLetterOut", "PredictionOut", "RoutedEvent", "Source", "decode_row"]


class Source(NamedTuple):
    """A message's Kafka coordinates, those a ``SourceOffset`` carries; a tuple, since one is built per
    message and a pydantic model (even unvalidated) costs 2 µs to build."""

    topic: str
    partition: int
    offset: int


class RoutedEvent(NamedTuple):
    """One message of a deployment's routed log (a tuple: one is built per message)."""

    value: bytes | None
    key: bytes | None
    source: Source
    """The original message's coordinates (before routing)."""
    timestamp_ms: int
    """The original producer timestamp: end-to-end latency is measured from it."""
    is_label: bool = False


class PredictionOut(NamedTuple):
    """A prediction ready to publish (the value is a ``Prediction`` as JSON, latency filled at send)."""

    key: str
    output: BaseModel
    """The blueprint's typed output; the publisher encodes it straight to JSON (no dict in between)."""
    score: float
    source: Source
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class DeadLetterOut:
    """A message that gets a dead letter instead of a prediction (or a join, for labels)."""

    reason: ReasonCode
    error: str
    event: RoutedEvent


@dataclass
class BatchResult:
    """What one batch produced, for the agents to publish and count."""

    predictions: list[PredictionOut] = field(default_factory=list)
    dead_letters: list[DeadLetterOut] = field(default_factory=list)
    alerts: list[DriftAlert] = field(default_factory=list)
    reports: list[ShadowReport] = field(default_factory=list)
    versions: list[ModelVersion] = field(default_factory=list)
    rows: int = 0
    labels: int = 0
    labels_joined: int = 0
    labels_expired: int = 0


def decode_row(value: bytes | None) -> dict[str, Any] | Rejection:
    """A message value as a row (a JSON object), or why it is not one (a reason code and a message)."""
    readable = readable_bytes(value)
    if isinstance(readable, Rejection):
        return readable
    try:  # with no NaN nor Infinity literal (nearly every row), no cell needs the NaN scan below
        row = from_json(readable, allow_inf_nan=False)
    except ValueError:
        return _decode_lenient(readable)
    if not isinstance(row, dict):
        return Rejection(ReasonCode.NOT_AN_OBJECT, f"expected a JSON object, got {type(row).__name__}")
    return row


def _decode_lenient(readable: bytes) -> dict[str, Any] | Rejection:
    """:func:`decode_row` of a value that is not strict JSON: NaN and Infinity literals allowed, then a
    top-level NaN refused; or why it is no JSON at all."""
    try:
        row = from_json(readable)  # pydantic's Rust parser: what json.loads gives, in a third of the time
    except ValueError as error:
        return Rejection(ReasonCode.NOT_JSON, f"not JSON: {error}")
    if not isinstance(row, dict):
        return Rejection(ReasonCode.NOT_AN_OBJECT, f"expected a JSON object, got {type(row).__name__}")
    for column, cell in row.items():  # a NaN literal is no missing value (JSON's is null): a bad number
        if type(cell) is float and cell != cell:
            return Rejection(
                ReasonCode.NON_FINITE,
                f"column {column!r}: NaN is not a finite number (send null for a missing value)",
            )
    return row
