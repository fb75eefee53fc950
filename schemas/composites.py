"""Composites (issue 21): a composite's declaration and the decision it publishes for one entity."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from tracer.schemas.base import InboundModel, NonEmptyStr, OutboundModel, SourceOffset

__all__ = ["CompositeComponent", "CompositeDecision", "CompositeSpec", "RecommendedProtocol"]

RiskAssessment = Literal["low", "medium", "high", "critical"]


class CompositeComponent(InboundModel):
    """One component: a blueprint, optionally the deployment serving it and the entity key it uses."""

    blueprint: NonEmptyStr
    deployment: str | None = Field(
        default=None, description="The deployment's id; the blueprint's id if none."
    )
    entity: str | None = Field(default=None, description="The entity key column, e.g. customer_id.")


class CompositeSpec(InboundModel):
    """``POST /composites`` and the deployments YAML: deployments sharing an entity, under an objective.

    ``components`` are blueprint ids, or objects naming the deployment and entity key. ``overrides``
    change the objective's documented assumptions: scalars by name (``monthly_value``, ``horizon_months``,
    ``margin_rate``...) and ``protocols``: {protocol: {cost, churn, expansion, default, price_change}}.
    """

    designation: NonEmptyStr
    components: Annotated[list[CompositeComponent], Field(min_length=1)]
    objective: NonEmptyStr
    entity: str | None = Field(default=None, description="The shared entity key; the components' if none.")
    overrides: dict[str, Any] = Field(default_factory=dict)

    @field_validator("components", mode="before")
    @classmethod
    def _names_are_components(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"blueprint": v} if isinstance(v, str) else v for v in value]
        return value


class RecommendedProtocol(OutboundModel):
    """One action with its expected value after cost over the horizon, in the seed's words."""

    protocol: NonEmptyStr
    impact: str = Field(description='The expected value after cost, e.g. "+$2,400".')
    expected_value: float = Field(description="The same, as a number (money over the horizon).")
    confidence: float = Field(ge=0, le=1, description="P(the protocol's value after cost is positive).")


class CompositeDecision(OutboundModel):
    """What a composite answers for one entity (published on ``tracer.composites``)."""

    composite: NonEmptyStr
    entity: str
    objective: NonEmptyStr
    recommended_protocols: list[RecommendedProtocol]
    risk_assessment: RiskAssessment
    optimal_price_point: float | None = None
    baseline_value: float = Field(description="Expected value over the horizon with no action.")
    horizon_months: int = Field(ge=1)
    components: list[str] = Field(description="The components whose latest prediction was used.")
    source: SourceOffset | None = Field(
        default=None,
        description="In the stream: the prediction (on tracer.predictions) that changed the recommendation.",
    )
