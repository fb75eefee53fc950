"""The blueprint archive as the SDK sees it (seed 000's ``listBlueprints`` and ``getBlueprint``).

Built from the blueprint declarations alone: inputs with their dtypes, synonyms and stand-ins,
parameters with their defaults and allowed values, the output's JSON Schema, the label source,
the use case, the data requirements and the measured performance.

>>> details = blueprint_details("customer_churn")
>>> details.output.headline, [p.name for p in details.parameters]
('churn_probability', ['churnDefinition', 'predictionWindow'])
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from pydantic import Field

from tracer.agents.api.errors import ApiError
from tracer.agents.api.models import ApiModel
from tracer.blueprints import registry
from tracer.blueprints.base import Blueprint, InputSpec
from tracer.blueprints.errors import BlueprintNotFound
from tracer.blueprints.performance import Measured, measured, measured_on
from tracer.schemas import ParamValue

__all__ = [
    "BlueprintDetails",
    "BlueprintList",
    "BlueprintSummary",
    "InputDoc",
    "LabelDoc",
    "OutputDoc",
    "ParameterDoc",
    "PerformanceDoc",
    "StandInDoc",
    "blueprint_details",
    "blueprint_list",
    "summary",
]

AnyBlueprint = type[Blueprint[Any, Any]]


class BlueprintSummary(ApiModel):
    """A blueprint in the archive."""

    id: str
    name: str
    category: str
    use_case: str
    task: str
    output_kind: str


class StandInDoc(ApiModel):
    """Another column that can stand in for a missing input."""

    name: str
    dtype: str
    synonyms: list[str]
    description: str


class InputDoc(ApiModel):
    """An input the blueprint reads, and the column names it recognises for it."""

    name: str
    dtype: str
    required: bool
    description: str
    synonyms: list[str]
    stand_ins: list[StandInDoc]


class ParameterDoc(ApiModel):
    """A business parameter: its default and allowed values."""

    name: str
    default: ParamValue
    allowed: list[ParamValue] | None
    description: str


class OutputDoc(ApiModel):
    """What a prediction looks like."""

    kind: str
    description: str
    headline: str
    range: tuple[float, float] | None
    json_schema: dict[str, Any]


class LabelDoc(ApiModel):
    """Where the outcome the model learns from comes from."""

    description: str
    column: str | None
    rule: str | None


class PerformanceDoc(ApiModel):
    """A figure ``bench/quality.py`` measured, on real data or on the blueprint's generator, against a
    baseline computed in the same run; shipped with the package."""

    dataset: str
    data: Literal["real", "generated"]
    metric: str
    value: float
    baseline: str
    baseline_value: float
    ratio: float
    target: str
    met: bool | None
    extra: dict[str, float]


class BlueprintDetails(BlueprintSummary):
    """Everything a blueprint needs and promises."""

    inputs: list[InputDoc]
    parameters: list[ParameterDoc]
    output: OutputDoc
    label: LabelDoc
    entity_input: str
    time_input: str | None
    data_requirements: str
    performance: list[PerformanceDoc]
    performance_measured_on: str = Field(
        description="When bench/quality.py measured `performance` (ISO date)."
    )


class BlueprintList(ApiModel):
    """The blueprints that match the query, and every category there is."""

    blueprints: list[BlueprintSummary]
    categories: list[str]


def summary(blueprint: AnyBlueprint) -> BlueprintSummary:
    """The short form, for lists."""
    return BlueprintSummary(
        id=blueprint.id,
        name=blueprint.name,
        category=blueprint.category,
        use_case=blueprint.use_case,
        task=blueprint.task,
        output_kind=blueprint.output.kind,
    )


def blueprint_list(category: str | None = None, search: str | None = None) -> BlueprintList:
    """Blueprints in ``category`` whose id, name or use case contains ``search``, and all categories."""
    return BlueprintList(
        blueprints=[summary(bp) for bp in registry.list(category or None, search or None)],
        categories=registry.categories(),
    )


def _performance(figure: Measured) -> PerformanceDoc:
    fields = asdict(figure)
    del fields["blueprint"]  # the document is the blueprint's already
    return PerformanceDoc.model_validate({**fields, "extra": dict(figure.extra)})


def _input(spec: InputSpec, required: bool) -> InputDoc:
    return InputDoc(
        name=spec.name,
        dtype=spec.dtype,
        required=required,
        description=spec.description,
        synonyms=list(spec.synonyms),
        stand_ins=[
            StandInDoc(name=s.name, dtype=s.dtype, synonyms=list(s.synonyms), description=s.description)
            for s in spec.stand_ins
        ],
    )


def blueprint_details(blueprint_id: str) -> BlueprintDetails:
    """Everything ``blueprint_id`` needs and promises; ApiError 404 if no blueprint has that id."""
    try:
        blueprint = registry.get(blueprint_id)
    except BlueprintNotFound as error:
        raise ApiError(404, "blueprint_not_found", str(error)) from None
    output = blueprint.output
    label = blueprint.label
    return BlueprintDetails(
        **summary(blueprint).model_dump(),
        inputs=[_input(s, True) for s in blueprint.required_inputs]
        + [_input(s, False) for s in blueprint.optional_inputs],
        parameters=[
            ParameterDoc(
                name=p.name,
                default=p.default,
                allowed=list(p.allowed) if p.allowed is not None else None,
                description=p.description,
            )
            for p in blueprint.parameters
        ],
        output=OutputDoc(
            kind=output.kind,
            description=output.description,
            headline=output.headline,
            range=output.range,
            json_schema=output.model.model_json_schema(mode="serialization"),
        ),
        label=LabelDoc(
            description=label.description,
            column=label.column.name if label.column is not None else None,
            rule=label.rule,
        ),
        entity_input=blueprint.entity_input,
        time_input=blueprint.time_input,
        data_requirements=blueprint.data_requirements,
        performance=[_performance(figure) for figure in measured(blueprint.id)],
        performance_measured_on=measured_on(),
    )
