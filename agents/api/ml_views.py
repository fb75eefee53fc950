"""Seed 002's ML engine endpoints, served by the worker that owns the models.

- ``POST /ml/predict``: ``{"deployment": id, "row": {...}}``, or seed 002's ``{"snapshot": {...}}``
  for the one deployment whose blueprint reads ``MarketSnapshot``s (``Blueprint.input_schema``:
  ``price_movement``); scored by the same ``LiveDeployment`` the stream uses;
- ``GET /ml/health``: broker, scoring service, owned deployments, lag (200 or 503);
- ``GET /ml/metrics``: every Prometheus metric of the worker;
- ``GET /ml/model/info``: versions, learned-through offsets, counters and metrics per deployment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from faust.web import Request
from pydantic import TypeAdapter

from tracer.agents.api.base import ApiView, parse_json
from tracer.agents.api.context import ApiContext, json_response, record_prediction
from tracer.agents.api.deploy import validation_report
from tracer.agents.api.errors import ApiError
from tracer.agents.api.health import health_report
from tracer.agents.api.models import (
    DeploymentInfo,
    ModelInfoResponse,
    PredictResponse,
    PredictRowRequest,
    PredictSnapshotRequest,
)
from tracer.agents.metrics import METRICS_CONTENT_TYPE, STATUS_ERROR, STATUS_OK, STATUS_REJECTED
from tracer.agents.routing import routed_partition
from tracer.agents.scoring import Owned
from tracer.blueprints import registry
from tracer.blueprints.errors import InputError
from tracer.schemas import DeploymentSpec, MarketSnapshot, ReasonCode

__all__ = [
    "ML_VIEWS",
    "PREDICT_REQUEST",
    "Health",
    "Metrics",
    "ModelInfo",
    "Predict",
    "predict_row",
    "snapshot_deployments",
]

log = logging.getLogger(__name__)

PREDICT_REQUEST: TypeAdapter[PredictRowRequest | PredictSnapshotRequest] = TypeAdapter(
    PredictRowRequest | PredictSnapshotRequest
)


def predict_row(
    ctx: ApiContext, deployment_id: str, row: Mapping[str, Any], started: float
) -> PredictResponse:
    """Score ``row`` with the deployment's live model and count it; ApiError 404/422/500/503."""
    live = ctx.owned(deployment_id).live
    version = live.model_version
    try:
        scored = live.predict(row)
    except InputError as error:
        if error.reason is ReasonCode.SCORING_ERROR:
            cause = error.__cause__
            error_type = type(cause).__name__ if cause is not None else "scoring_error"
            record_prediction(ctx.metrics, deployment_id, version, STATUS_ERROR, error_type=error_type)
            log.error("deployment %s failed to score an HTTP row: %s", deployment_id, error)
            raise ApiError(
                500,
                "model_error",
                f"deployment {deployment_id!r} failed to score this row ({error_type}); the row passed "
                "validation, so this is a fault of the model: the worker log has the details",
            ) from None
        record_prediction(ctx.metrics, deployment_id, version, STATUS_REJECTED)
        raise ApiError(422, "invalid_row", str(error)) from None
    latency_ms = (time.perf_counter() - started) * 1000
    probability = live.live.blueprint.output.kind == "probability"
    record_prediction(
        ctx.metrics, deployment_id, version, STATUS_OK, latency_ms=latency_ms,
        score=scored.score if probability else None,
    )  # fmt: skip
    return PredictResponse(
        deployment=deployment_id,
        blueprint=live.spec.blueprint,
        model_version=version,
        key=scored.key,
        output=scored.output.model_dump(mode="json"),
        score=scored.score,
        latency_ms=round(latency_ms, 3),
    )


def snapshot_deployments(specs: Mapping[str, DeploymentSpec]) -> list[str]:
    """The deployments, sorted, whose blueprint reads market snapshots (``input_schema``)."""
    return sorted(d for d, spec in specs.items() if _reads_snapshots(spec.blueprint))


def _reads_snapshots(blueprint_id: str) -> bool:
    return blueprint_id in registry.ids() and registry.get(blueprint_id).input_schema is MarketSnapshot


def _snapshot_deployment(ctx: ApiContext) -> str:
    candidates = snapshot_deployments(ctx.service.specs)
    if len(candidates) == 1:
        return candidates[0]
    readers = " or ".join(b for b in registry.ids() if _reads_snapshots(b)) or "snapshot-reading"
    if not candidates:
        raise ApiError(404, "deployment_not_found", f"a snapshot needs a {readers} deployment and none runs")
    raise ApiError(
        422,
        "ambiguous_deployment",
        f"several {readers} deployments run ({', '.join(candidates)}); name one in 'deployment'",
    )


class Predict(ApiView):
    """``POST /ml/predict``."""

    path = "/ml/predict"

    async def post(self, request: Request, **kwargs: Any) -> web.Response:
        """Score one row, or seed 002's snapshot, with the live model."""
        started = time.perf_counter()
        aio, ctx = self.aio(request)
        body = await parse_json(aio, PREDICT_REQUEST)
        if isinstance(body, PredictSnapshotRequest):
            deployment_id = body.deployment or _snapshot_deployment(ctx)
            row: Mapping[str, Any] = body.snapshot.model_dump(exclude_none=True)
        else:
            deployment_id, row = body.deployment, body.row
        return json_response(predict_row(ctx, deployment_id, row, started))


class Health(ApiView):
    """``GET /ml/health``."""

    path = "/ml/health"

    async def get(self, request: Request, **kwargs: Any) -> web.Response:
        """200 when the worker can serve predictions (``ok`` or ``degraded``), else 503 with the problems."""
        _, ctx = self.aio(request)
        report = await health_report(ctx.probe, ctx.service, ctx.metrics)
        return json_response(report, status=503 if report.status == "unavailable" else 200)


class Metrics(ApiView):
    """``GET /ml/metrics``."""

    path = "/ml/metrics"

    async def get(self, request: Request, **kwargs: Any) -> web.Response:
        """Prometheus text format 0.0.4."""
        _, ctx = self.aio(request)
        return web.Response(body=ctx.metrics.render(), headers={"Content-Type": METRICS_CONTENT_TYPE})


def deployment_info(ctx: ApiContext, deployment_id: str, owned: Owned) -> DeploymentInfo:
    """One owned deployment as ``/ml/model/info`` shows it."""
    live = owned.live
    info = live.info()
    partition = routed_partition(deployment_id, ctx.settings.partitions)
    replay = ctx.replays.get(deployment_id)
    return DeploymentInfo(
        deployment=deployment_id,
        blueprint=live.spec.blueprint,
        model_version=live.model_version,
        versions=list(live.history.records),
        learned_through={f"{ctx.settings.topics.routed}:{partition}": owned.next_offset},
        source_offsets=dict(owned.marks.marks),
        rows_seen=int(info.get("rows_seen", 0)),
        counters={name: int(value) for name, value in info.get("counters", {}).items()},
        drift_detections={name: int(value) for name, value in info.get("drift_detections", {}).items()},
        shadows=dict(info.get("shadows", {})),
        validation=validation_report(replay).metrics if replay is not None else None,
        context=info.get("context"),
    )


class ModelInfo(ApiView):
    """``GET /ml/model/info``."""

    path = "/ml/model/info"

    async def get(self, request: Request, **kwargs: Any) -> web.Response:
        """Every owned deployment's versions, offsets, counters and metrics."""
        _, ctx = self.aio(request)
        owned = dict(ctx.service.owned)
        return json_response(
            ModelInfoResponse(
                deployments=[deployment_info(ctx, d, owned[d]) for d in sorted(owned)],
                not_owned=sorted(set(ctx.service.specs) - set(owned)),
            )
        )


ML_VIEWS: tuple[type[ApiView], ...] = (Predict, Health, Metrics, ModelInfo)
