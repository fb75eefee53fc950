"""Deployments and model versions: what the compacted ``tracer.registry`` topic holds."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from tracer.schemas.base import EpochMillis, NonEmptyStr, OutboundModel

__all__ = [
    "DeploymentSpec",
    "DriftPolicy",
    "LabelSource",
    "ModelVersion",
    "ParamValue",
    "ShadowSpec",
    "VersionReason",
]

ParamValue = str | int | float | bool
DeploymentId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
TopicName = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")]


class LabelSource(OutboundModel):
    """Where a deployment's outcomes come from.

    - ``inline``: each row carries its outcome in ``field``; the row is scored, then learned.
    - ``delayed``: outcomes arrive on ``tracer.labels`` and join the captured features within ``ttl_seconds``.
    - ``self``: the blueprint labels itself from later events (``price_movement``).
    - ``none``: score only.
    """

    mode: Literal["inline", "delayed", "self", "none"] = "none"
    field: str | None = None
    ttl_seconds: Annotated[float, Field(gt=0)] | None = Field(
        None,
        description="How long a prediction waits for its outcome (event time); default: the blueprint's own.",
    )

    @model_validator(mode="after")
    def _inline_needs_field(self) -> Self:
        if self.mode == "inline" and not self.field:
            raise ValueError("labels.field is required when labels.mode is 'inline'")
        return self


class ShadowSpec(OutboundModel):
    """A challenger scored next to the live model: another pipeline (``model``, one the blueprint
    offers), other parameters, or a registered version."""

    name: DeploymentId
    params: dict[str, ParamValue] = Field(default_factory=dict)
    version: Annotated[int, Field(ge=1)] | None = None
    model: NonEmptyStr | None = Field(
        None, description="Another pipeline on the same features: one of the blueprint's challenger_models."
    )

    @model_validator(mode="after")
    def _one_model(self) -> Self:
        if self.model is not None and self.version is not None:
            raise ValueError("a shadow runs either a registered version or another model, not both")
        return self


class DriftPolicy(OutboundModel):
    """How a deployment reacts to drift."""

    reaction: Literal["alert_only", "retrain"] = "alert_only"
    cooldown_events: Annotated[int, Field(ge=0)] = 1000
    agreement_slo: Annotated[float, Field(ge=0, le=1)] = 0.95
    agreement_window_events: Annotated[int, Field(ge=10)] = 500
    auto_promote_margin: Annotated[float, Field(ge=0)] | None = None
    auto_promote_min_labels: Annotated[int, Field(ge=1)] = 1000


class DeploymentSpec(OutboundModel):
    """A blueprint with its parameters, attached to input topics with a column mapping and a key field."""

    id: DeploymentId
    blueprint: NonEmptyStr
    params: dict[str, ParamValue] = Field(default_factory=dict)
    input_topics: Annotated[list[TopicName], Field(min_length=1)]
    column_mapping: dict[str, str] = Field(
        default_factory=dict, description="Blueprint input name -> column name in the user's rows."
    )
    key_field: NonEmptyStr
    labels: LabelSource = Field(default_factory=LabelSource)
    shadows: list[ShadowSpec] = Field(default_factory=list)
    drift: DriftPolicy = Field(default_factory=DriftPolicy)
    checkpoint_every_events: Annotated[int, Field(ge=1)] = Field(
        10_000,
        description="Checkpoint after this many events (or checkpoint_every_seconds, whichever comes first). "
        "A restart replays at most this many; each checkpoint pickles the whole state, so fewer is faster.",
    )
    checkpoint_every_seconds: Annotated[float, Field(gt=0)] = 30.0
    seed: int = 42

    @model_validator(mode="after")
    def _shadow_names_unique(self) -> Self:
        names = [shadow.name for shadow in self.shadows]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"shadows: each name must be unique; repeated: {', '.join(repeated)}")
        return self


VersionReason = Literal["deploy", "drift_swap", "promotion", "rollback"]


class ModelVersion(OutboundModel):
    """One version of a deployment's live model, as recorded in the registry."""

    deployment: DeploymentId
    version: Annotated[int, Field(ge=1)]
    parent_version: Annotated[int, Field(ge=1)] | None = None
    blueprint: NonEmptyStr
    params: dict[str, ParamValue] = Field(default_factory=dict)
    pipeline: NonEmptyStr | None = Field(
        None,
        description="The challenger pipeline this version runs (ShadowSpec.model); none: the blueprint's own.",
    )
    reason: VersionReason
    created_at: EpochMillis
    learned_through: dict[str, int] = Field(
        default_factory=dict,
        description="'source topic:partition' -> the next offset the stream had not reached when this "
        "version was made (empty for the first version).",
    )
    metrics: dict[str, float] = Field(
        default_factory=dict,
        description="A drift_swap's detection: error_rise, threshold and the two windows' sizes.",
    )
    evidence: dict[str, Any] = Field(default_factory=dict)
