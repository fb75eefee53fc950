"""Shared configuration for every wire model."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EpochMillis", "InboundModel", "NonEmptyStr", "OutboundModel", "SourceOffset"]

EpochMillis = Annotated[int, Field(ge=0, description="Unix time in milliseconds.")]
NonEmptyStr = Annotated[str, Field(min_length=1)]


class OutboundModel(BaseModel):
    """A message Tracer writes: closed (unknown fields are refused), immutable, finite numbers only."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        ser_json_bytes="base64",
        val_json_bytes="base64",
    )

    def __setstate__(self, state: dict[Any, Any]) -> None:
        """Unpickle (checkpoints hold version records); a field added since takes its default."""
        values = state.get("__dict__", {})
        for name, field in type(self).model_fields.items():
            if name not in values and not field.is_required():
                values[name] = field.get_default(call_default_factory=True)
        super().__setstate__(state)


class InboundModel(BaseModel):
    """A message Tracer reads from other producers: extra fields are ignored, numbers must be finite."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class SourceOffset(OutboundModel):
    """Where a message came from: its Kafka coordinates."""

    topic: NonEmptyStr
    partition: Annotated[int, Field(ge=0)]
    offset: Annotated[int, Field(ge=0)]
