"""Composites over HTTP (issue 21): declare one, read it, and analyze an entity with it.

- ``POST /composites``: a :class:`CompositeSpec`; components name deployments (or blueprints each run by
  one deployment). Refused with 422 naming the field when a component is unknown, entities don't
  match, the objective needs a component the composite lacks, or an override is unknown. A valid one
  is recorded in the registry (``composite/<id>``) and the stream stage reads it from now on; 201.
  Declaring the same designation again replaces it.
- ``GET /composites`` and ``GET /composites/{composite_id}``.
- ``POST /composites/{composite_id}/analyze``: a row about one entity (its key under the composite's
  entity field, or ``entity``). Each component owned here scores the row with its live model, as
  ``POST /deployments/{id}/predict`` does (changing nothing in the stream); a component that can't
  (the row lacks its inputs, or another worker owns it) answers with its latest prediction for the
  entity in the stream, if any. The answer is the seed's decision, with where each component's
  output came from. 422 if a component the objective requires has neither.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from faust.web import Request
from pydantic import Field, TypeAdapter

from tracer.agents.api.base import ApiView, parse_json
from tracer.agents.api.context import ApiContext, json_response
from tracer.agents.api.errors import ApiError
from tracer.agents.api.models import RowBody
from tracer.agents.composites import publish_composites
from tracer.blueprints import registry
from tracer.blueprints.errors import InputError
from tracer.online_models.composite import Composite, CompositeError, decide, resolve
from tracer.schemas.base import OutboundModel
from tracer.schemas.composites import CompositeDecision, CompositeSpec

__all__ = ["COMPOSITE_VIEWS", "CompositeAnalysis", "CompositeList", "CompositeResponse", "analyze_entity"]

_SPEC = TypeAdapter(CompositeSpec)
_ROW = TypeAdapter(RowBody)


class CompositeResponse(OutboundModel):
    """A composite as declared and resolved: which deployment serves each component."""

    id: str
    designation: str
    objective: str
    entity: str | None = Field(
        description="The entity key the components share (their deployments' key field)."
    )
    components: list[str] = Field(description="The component deployments' ids.")
    deployments: dict[str, str] = Field(description="Blueprint id -> the deployment serving it.")
    protocols: list[str] = Field(description="What the objective may recommend (besides its baseline).")
    horizon_months: int


class CompositeList(OutboundModel):
    composites: list[CompositeResponse]


class CompositeAnalysis(CompositeDecision):
    """``POST /composites/{id}/analyze``: the decision, and where each component's output came from."""

    scored_from: dict[str, Literal["row", "stream"]] = Field(
        description="Per component blueprint: scored on the row given, or its latest prediction in the stream."
    )


def describe(composite: Composite) -> CompositeResponse:
    objective = composite.objective
    return CompositeResponse(
        id=composite.id, designation=composite.spec.designation, objective=objective.id, entity=composite.entity,
        components=list(composite.deployments.values()), deployments=dict(composite.deployments),
        protocols=list(objective.protocols), horizon_months=objective.horizon_months,
    )  # fmt: skip


def _composite(ctx: ApiContext, composite_id: str) -> Composite:
    found = ctx.composites.table.composites.get(composite_id) if ctx.composites is not None else None
    if found is None:
        known = sorted(ctx.composites.table.composites) if ctx.composites is not None else []
        raise ApiError(404, "composite_not_found", f"no composite {composite_id!r}; known: {known}")
    return found


async def create_composite(ctx: ApiContext, spec: CompositeSpec) -> Composite:
    """Resolve ``spec`` against the known deployments, record it in the registry, and start reading it."""
    if ctx.composites is None:
        raise ApiError(503, "composites_unavailable", "this worker runs no composite stage")
    try:
        composite = resolve(spec, ctx.service.specs, registry.ids())
    except CompositeError as error:
        raise ApiError(422, "invalid_composite", str(error)) from None
    await publish_composites(ctx.settings.broker, ctx.settings.topics.registry, [composite.spec])
    ctx.composites.table.add(composite)
    return composite


def analyze_entity(ctx: ApiContext, composite: Composite, row: dict[str, Any]) -> CompositeAnalysis:
    """The decision for the entity ``row`` is about (module docstring)."""
    key = composite.entity if composite.entity is not None and composite.entity in row else "entity"
    if row.get(key) is None:
        raise ApiError(
            422,
            "invalid_row",
            f"the row names no entity: give {composite.entity or 'entity'!r} (or 'entity')",
        )
    entity = str(row[key])
    assert ctx.composites is not None
    outputs: dict[str, dict[str, Any]] = ctx.composites.table.outputs(composite.id, entity)
    scored_from: dict[str, Literal["row", "stream"]] = dict.fromkeys(outputs, "stream")
    for blueprint, deployment in composite.deployments.items():
        owned = ctx.service.owned.get(deployment)
        if owned is None:
            continue
        try:
            outputs[blueprint] = owned.live.predict(row).output.model_dump(mode="json")
            scored_from[blueprint] = "row"
        except InputError:
            continue  # the row lacks this component's inputs: its latest stream prediction stands, if any
    missing = [b for b in composite.objective.requires if b not in outputs]
    if missing:
        raise ApiError(
            422, "missing_components",
            f"no output of {missing} for {entity!r}: the row lacks their inputs and the stream has no "
            "prediction for this entity yet",
        )  # fmt: skip
    decision = decide(composite, entity, outputs, row)
    return CompositeAnalysis(**decision.model_dump(), scored_from=scored_from)


class Composites(ApiView):
    """``GET`` and ``POST /composites``."""

    path = "/composites"

    async def get(self, request: Request, **kwargs: Any) -> web.Response:
        """Every composite this worker reads."""
        _, ctx = self.aio(request)
        found = ctx.composites.table.composites.values() if ctx.composites is not None else []
        return json_response(CompositeList(composites=[describe(c) for c in found]))

    async def post(self, request: Request, **kwargs: Any) -> web.Response:
        """Declare a composite; 201 with how its components resolved."""
        aio, ctx = self.aio(request)
        composite = await create_composite(ctx, await parse_json(aio, _SPEC))
        return json_response(
            describe(composite), status=201, headers={"Location": f"/composites/{composite.id}"}
        )


class CompositeDetail(ApiView):
    """``GET /composites/{composite_id}``."""

    path = "/composites/{composite_id}"

    async def get(self, request: Request, **kwargs: Any) -> web.Response:
        """One composite."""
        aio, ctx = self.aio(request)
        return json_response(describe(_composite(ctx, aio.match_info["composite_id"])))


class CompositeAnalyze(ApiView):
    """``POST /composites/{composite_id}/analyze``."""

    path = "/composites/{composite_id}/analyze"

    async def post(self, request: Request, **kwargs: Any) -> web.Response:
        """The composite's decision for the entity of the row in the body."""
        aio, ctx = self.aio(request)
        composite = _composite(ctx, aio.match_info["composite_id"])
        row = await parse_json(aio, _ROW)
        return json_response(analyze_entity(ctx, composite, dict(row.root)))


COMPOSITE_VIEWS: tuple[type[ApiView], ...] = (Composites, CompositeDetail, CompositeAnalyze)
